"""Extractive answers: quote, word for word, the retrieved sentences that answer the question.

Only connecting phrases are written by the assistant (`messages.py`); every fact is a quote,
followed by the marker of the citation it comes from. Which sentences: the best-scored one
(`retrieval.ScoredUnit`), then those that answer a part of the question it leaves out, then the
whole list it belongs to when the question asks for a list or the list's items score together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.messages import say
from assistant.answer.types import Citation, Weights, citation_for
from assistant.config import Settings
from assistant.reading.analysis import fold_accents
from assistant.reading.question import Question
from assistant.reading.text import strip_marker
from assistant.search.found import Retrieval, ScoredUnit
from assistant.search.scoring import sentence_score

# The form of a question asking for several things; generic French and English, no topic words.
_LIST_QUESTION = re.compile(
    r"\b(quels sont|quelles sont|lesquel|liste[rz]|enumere[rz]?|cite[rz]?|tous les|toutes les"
    r"|which are|what are|list|name the|all the)\b"
)


def compose(
    question: Question, retrieval: Retrieval, weights: Weights, settings: Settings
) -> tuple[str, list[Citation], float, float]:
    """Writes the extractive answer and its citations from the scored sentences.

    Args:
        weights: the key words of a question with their idf weights (`Retriever.term_weights`).

    Returns:
        The text, the citations, the coverage: the idf-weighted share of the question's key words
        that the quoted sentences or their headings contain (for an English question, of the words
        the documents use at all), and the best sentence's score (`Retrieval.best_score`), or, for
        a question that asks two things, the best score of a sentence for one of its parts alone.
    """
    if not retrieval.units:
        return "", [], 0.0, 0.0
    language = question.language
    chosen: list[ScoredUnit] = []
    score = retrieval.best_score
    for part, terms in zip(question.parts, retrieval.part_terms or [retrieval.terms], strict=True):
        units = retrieval.units
        if retrieval.part_terms:
            units = _rescored(units, weights(terms), settings)
            score = max(score, max(u.score - u.figure_gain for u in units))
        for unit in select(part, units, weights(terms), settings):
            if unit.unit.id not in {u.unit.id for u in chosen}:
                chosen.append(unit)
    coverage = _coverage(weights(retrieval.terms), chosen, language)
    text, citations = quote_lines(chosen, None, "claim_intro" if question.claim else "intro", language, settings)
    return text, citations, coverage, score


def said(unit: ScoredUnit) -> str:
    """A quote's text as compared with another's: whitespace folded."""
    return " ".join(unit.unit.text.split())


def quote_lines(
    chosen: list[ScoredUnit],
    scores: dict[str, float] | None,
    intro_key: str,
    language: str,
    settings: Settings,
    finishing: frozenset[str] = frozenset(),
    together: Sequence[frozenset[str]] = (),
) -> tuple[str, list[Citation]]:
    """The answer's text, each chosen sentence quoted word for word and followed by the `[n]` of its
    passage (at most `max_cited` passages, those of the reader's best quotes, the best first), and the
    citations; `scores`, when given, are the reader's, recorded with each quote (None for a sentence it
    did not score).
    `finishing`: the units that finish a quoted list in the passages after it (`lists.py`), quoted
    beyond `max_cited`: half a list is a wrong answer; `together`: the passages of each such list,
    by chunk id."""

    def place(u: ScoredUnit) -> tuple[int, int]:
        return int(u.hit.chunk.metadata.get("start", 0)), u.unit.position

    # A passage stands by the reader's best score among its quoted sentences (the answer opens on
    # the sentence the reader found best), then by its retrieval rank (unscored sentences).
    standing: dict[str, tuple[float, int]] = {}
    for u in chosen:
        score = scores.get(u.unit.id) if scores else None
        mark = (-score if score is not None else float("inf"), u.hit.rank)
        standing[u.hit.chunk.id] = min(standing.get(u.hit.chunk.id, mark), mark)

    def rank(u: ScoredUnit) -> tuple[float, int]:
        return standing[u.hit.chunk.id]

    # A sentence several passages repeat is quoted once, from the best standing of them.
    seen: set[str] = set()
    unique: list[ScoredUnit] = []
    for u in sorted(chosen, key=lambda u: (rank(u), place(u))):
        if said(u) not in seen:
            seen.add(said(u))
            unique.append(u)
    chosen = [u for u in chosen if u in unique]

    # Which passages are cited: the best standing, and those that finish a quoted list.
    cited: set[str] = set()
    for scored in sorted((u for u in chosen if u.unit.id not in finishing), key=lambda u: (rank(u), place(u))):
        if len(cited) < settings.max_cited:
            cited.add(scored.hit.chunk.id)
    cited |= {u.hit.chunk.id for u in chosen if u.unit.id in finishing}
    kept = [u for u in chosen if u.hit.chunk.id in cited]
    # In their standing's order; a list and the passages that finish it as one, in reading order,
    # at the best standing among them.
    group = {chunk: i for i, chunks in enumerate(_merged(together)) for chunk in chunks}
    best: dict[object, tuple[float, int]] = {}
    for u in kept:
        key = group.get(u.hit.chunk.id, u.hit.chunk.id)
        best[key] = min(best.get(key, rank(u)), rank(u))
    citations: dict[str, Citation] = {}
    lines = []
    for scored in sorted(kept, key=lambda u: (best[group.get(u.hit.chunk.id, u.hit.chunk.id)], place(u))):
        chunk = scored.hit.chunk
        if chunk.id not in citations:
            citations[chunk.id] = citation_for(len(citations) + 1, scored.hit)
        citation = citations[chunk.id]
        citation.quotes.append(scored.unit.text)
        if scores is not None:
            score = scores.get(scored.unit.id)
            citation.reader_scores.append(None if score is None else round(score, 4))
        quote = strip_marker(scored.unit.text)
        if not (quote.startswith("«") and quote.endswith("»")):  # already a quotation in the source
            quote = f"« {quote} »"
        lines.append(f"- {quote} [{citation.n}]")
    intro = say(intro_key, language)
    if len(lines) == 1:
        return f"{intro} {lines[0][2:]}", list(citations.values())
    return intro + "\n" + "\n".join(lines), list(citations.values())


def _merged(groups: Sequence[frozenset[str]]) -> list[set[str]]:
    """Groups that share a member, merged."""
    merged: list[set[str]] = []
    for members in groups:
        joined = set(members)
        for other in [m for m in merged if m & joined]:
            joined |= other
            merged.remove(other)
        merged.append(joined)
    return merged


def _rescored(
    units: list[ScoredUnit], weighted: list[tuple[frozenset[str], float]], settings: Settings
) -> list[ScoredUnit]:
    """The units scored for one part of a question: the same similarity, the part's own words."""
    total = sum(w for _, w in weighted) or 1.0
    rescored = []
    for u in units:
        lexical = sum(w for stems, w in weighted if stems & u.stems) / total
        score = sentence_score(settings, u.base, lexical, lexical)
        rescored.append(ScoredUnit(u.unit, u.hit, u.dense, lexical, score, u.stems, u.base, u.figure_gain))
    return sorted(rescored, key=lambda s: (-s.score, s.hit.rank, s.unit.position))


def select(
    question: str, units: list[ScoredUnit], weighted: list[tuple[frozenset[str], float]], settings: Settings
) -> list[ScoredUnit]:
    """The sentences that answer a question: the best one, then those close behind it that bring
    key words it lacks, then the whole list of the best one when a list is asked for or when its
    items rank together."""
    wants_list = bool(_LIST_QUESTION.search(fold_accents(question)))
    best = units[0]
    if wants_list and best.unit.block < 0:  # a list is asked for: a list item close behind wins
        item = next((u for u in units[: settings.list_window] if u.unit.block >= 0), None)
        if item is not None and item.score >= best.score * settings.extra_ratio and item.lexical >= best.lexical:
            best = item
    chosen = [best]
    covered = {i for i, (stems, _) in enumerate(weighted) if stems & best.stems}
    total = sum(w for _, w in weighted) or 1.0
    for unit in units:
        if unit is best:
            continue
        if len(chosen) >= settings.max_sentences or unit.score < best.score * settings.extra_ratio:
            break
        new = {i for i, (stems, _) in enumerate(weighted) if stems & unit.stems} - covered
        # A close runner-up is quoted too (the scores cannot tell them apart: dev accuracy .54 with up to
        # three, .43 with one), when it brings `min_gain` of the question's words still missing.
        if sum(weighted[i][1] for i in new) / total >= settings.min_gain:
            chosen.append(unit)
            covered |= new
    # The sentence that follows the best one in its passage often completes it (« Cette autorisation
    # … au plus tard 30 jours avant… »): quoted too (dev, checks off: 88 right of 135 against 82 without).
    for step in range(1, settings.follow_sentences + 1):
        following = [u for u in units if u.hit is best.hit and u.unit.position == best.unit.position + step]
        if not following or following[0].unit.block >= 0:
            break
        if following[0] not in chosen:
            chosen.append(following[0])
    for unit in list(chosen):  # « … s'adresse à : » announces the list that follows it
        if unit.unit.text.rstrip().endswith(":"):
            following = [u for u in units if u.hit is unit.hit and u.unit.position == unit.unit.position + 1]
            if following and following[0].unit.block >= 0:
                block = following[0].unit.block
                chosen += [u for u in units if u.hit is unit.hit and u.unit.block == block and u not in chosen]
    if best.unit.block >= 0:
        same_list = [u for u in units if u.hit is best.hit and u.unit.block == best.unit.block]
        top = units[: settings.list_window]
        together = sum(1 for u in top if u.hit is best.hit and u.unit.block == best.unit.block) >= 2
        if wants_list:  # the whole list, instead of the sentences around it
            chosen = [u for u in chosen if u.hit is best.hit and u.unit.block == best.unit.block]
        if wants_list or together:
            chosen += [u for u in same_list if u not in chosen]
    return chosen


def _coverage(weighted: list[tuple[frozenset[str], float]], units: list[ScoredUnit], language: str) -> float:
    seen: set[str] = set()
    for unit in units:
        seen |= unit.stems
    if language == "en":  # English words are not in French documents: judge the ones they use
        weighted = [(stems, w) for stems, w in weighted if stems]
    total = sum(w for _, w in weighted)
    if not total:
        return 1.0
    return sum(w for stems, w in weighted if stems & seen) / total
