"""The fused score of a candidate sentence, in one place: retrieval ranks the candidates with it and
the fused decision re-ranks the parts of a two-part question with it."""

from __future__ import annotations

from assistant.config import Settings


def base_score(settings: Settings, passage_rank: int, dense_rank: int | None, figure_gain: float) -> float:
    """The part of a sentence's score that does not read its words: its passage's rank, its rank by
    similarity among all sentences, and what stating a figure gains it when one is asked for."""
    k = settings.unit_rrf_k
    base = settings.unit_passage_weight / (k + passage_rank) + figure_gain
    return base + (settings.unit_dense_weight / (k + dense_rank) if dense_rank else 0.0)


def sentence_score(settings: Settings, base: float, bm25: float, share: float) -> float:
    """A sentence's fused score: `base_score`, plus its BM25 side as a share of a first rank (its
    BM25 rank r gives (k + 1) / (k + r); for a part of a two-part question, which has no BM25
    ranking of its own, the part's share of words stands in), plus the share (idf-weighted) of the
    question's words it holds, which counts as much as a first rank would (times
    `unit_share_weight`): among close candidates, the one that says what was asked."""
    k = settings.unit_rrf_k
    return base + (settings.unit_lexical_weight * bm25 + settings.unit_share_weight * share) / (k + 1)
