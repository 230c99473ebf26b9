"""The decision: answer from the retrieved sentences, or decline and say which check fired.

`decide` reads the question (already read once, `Question`), what retrieval found for it and
two facts about the corpus (how its words weigh, which figures it holds), and returns a
`Decision`: the quoted answer with its citations, or the reason it declines (`reason`, shown to
advisers and in the JSON).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answer.compose import Weights, compose
from assistant.answer.messages import say
from assistant.answer.types import Citation
from assistant.config import Settings
from assistant.profile import Profile
from assistant.reading.analysis import fold_accents
from assistant.reading.question import Question
from assistant.search.retrieval import Retrieval

_YEAR = re.compile(r"(?:19|20)\d\d")
_SPACES = re.compile(r"[  ]")


@dataclass(frozen=True)
class Decision:
    """What to say for one question: quotes with citations, or a declining message and its reason."""

    text: str
    abstained: bool
    reason: str = "answered"
    citations: list[Citation] = field(default_factory=list)
    coverage: float = 0.0
    score: float = 0.0


@dataclass(frozen=True)
class CorpusFacts:
    """What the decision knows of the whole corpus, computed once per loaded index."""

    weights: Weights  # a question's key words with their idf (`Retriever.term_weights`)
    figures_text: str  # every passage, digit groups joined (« 24 000 » -> 24000)

    def missing_figures(self, question: Question) -> list[str]:
        """Figures of the question that no passage contains (a premise the documents do not back)."""
        return [
            f
            for f in question.figures
            if not re.search(rf"(?<!\d){re.escape(_SPACES.sub('', f))}(?!\d)", self.figures_text)
        ]


def joined_figures(texts: list[str]) -> str:
    """The corpus's text with digit groups joined, as `CorpusFacts.figures_text` holds it."""
    return _SPACES.sub("", "\n".join(texts))


def decline(reason: str, question: Question, profile: Profile, message: str = "not_in_documents") -> Decision:
    """A declining decision: the message in the user's language, and the check that fired."""
    return Decision(say(message, question.language, profile), abstained=True, reason=reason)


def decide(
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
