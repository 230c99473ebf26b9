"""The decision before the reader: fused sentence scores and a chain of threshold checks.

Kept so that `python -m evals` can show it beside the reader's (`ASSISTANT_DECISION=fused`, same
retrieval); the product decides with `decide.py`. Each check names itself in `reason`.
"""

from __future__ import annotations

import re

from assistant.answer.compose import compose
from assistant.answer.messages import say
from assistant.answer.types import CorpusFacts, Decision, decline
from assistant.config import Settings
from assistant.profile import Profile
from assistant.reading.analysis import fold_accents
from assistant.reading.question import Question
from assistant.search.found import Retrieval

_YEAR = re.compile(r"(?:19|20)\d\d")


def decide_fused(
    question: Question, retrieval: Retrieval, corpus: CorpusFacts, settings: Settings, profile: Profile
) -> Decision:
    """Answers from the passages, or declines; `reason` names the one check that fired."""
    language = question.language
    keys = retrieval.key_terms
    if not retrieval.hits or not retrieval.units:
        return decline("no_passage", question, profile)
    floor = settings.min_dense_score_en if language == "en" else settings.min_dense_score
    if language == "fr" and not retrieval.followup and keys and not any(t.known for t in keys):
        # Not one word the documents use: off topic when the meaning is far from them too.
        if retrieval.best_dense < settings.offtopic_dense_score:
            return decline("offtopic", question, profile, "offtopic")
        return decline("unknown_words", question, profile)
    unknown = {t.word for t in keys if not t.known}
    if any(fold_accents(name) in unknown for name in question.names):  # « …à Lyon ? »
        return decline("unknown_name", question, profile)
    if settings.retrieval_mode != "bm25" and retrieval.best_dense < floor:
        return decline("low_relevance", question, profile)
    text, citations, coverage, score = compose(question, retrieval, corpus.weights, settings)
    if not citations:
        return decline("no_passage", question, profile)
    if coverage < settings.min_coverage:
        return decline("low_coverage", question, profile)
    dense_used = settings.retrieval_mode != "bm25"  # without embeddings, no similarity to judge by
    if dense_used and retrieval.best_dense + settings.coverage_weight * coverage < settings.min_support:
        return decline("low_support", question, profile)
    least = settings.min_unit_score_en if language == "en" else settings.min_unit_score
    if score < least:
        return decline("low_score", question, profile)
    missing = corpus.missing_figures(question)
    # « …en 2023 ? » answered with other years is no answer, unless the question checks a claim.
    checks_a_claim = question.claim or question.confirmation
    if not checks_a_claim and any(_YEAR.fullmatch(m) for m in missing):
        return decline("unknown_year", question, profile)
    if missing:
        text += "\n\n" + say("unknown_figure", language, figures=", ".join(f"« {m} »" for m in missing))
    return Decision(text, abstained=False, citations=citations, coverage=coverage, score=score)
