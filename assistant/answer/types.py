"""What an answer is made of, and what the answer stream yields: typed, never a bare string."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.answer.lists import Continuations
from assistant.answer.messages import say
from assistant.profile import Profile
from assistant.reading.question import Question
from assistant.search.found import Hit
from assistant.search.lexical import QueryTerm

# A question's key words with their idf weights (`Retriever.term_weights`).
Weights = Callable[[list[QueryTerm]], list[tuple[frozenset[str], float]]]
_SPACES = re.compile(r"[  ]")


@dataclass(frozen=True)
class Citation:
    """A retrieved passage an answer quotes; `n` is its `[n]` marker in the text."""

    n: int
    source: str  # the file, as the corpus names it
    title: str  # what people call the document
    section: str
    text: str
    score: float
    rank: int
    chunk_id: str
    quotes: list[str]
    dense_score: float | None = None
    bm25_score: float | None = None
    page: int | None = None
    # The reader's score of each quote, in order; None for a quote that finishes a list (`lists.py`).
    reader_scores: list[float | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.page is None:
            del data["page"]
        return data


def citation_for(n: int, hit: Hit) -> Citation:
    """Citation number n of a retrieved passage, its quotes still to add."""
    meta = hit.chunk.metadata
    page = meta.get("page")
    return Citation(
        n=n,
        source=hit.source,
        title=hit.title,
        section=hit.section,
        text=hit.chunk.text,
        score=round(hit.score, 5),
        rank=hit.rank,
        chunk_id=hit.chunk.id,
        quotes=[],
        dense_score=None if hit.dense_score is None else round(hit.dense_score, 4),
        bm25_score=None if hit.bm25_score is None else round(hit.bm25_score, 4),
        page=int(page) if isinstance(page, int) else None,
    )


@dataclass(frozen=True)
class Decision:
    """What to say for one question: quotes with citations, or a declining message and its reason."""

    text: str
    abstained: bool
    reason: str = "answered"
    citations: list[Citation] = field(default_factory=list)
    coverage: float = 0.0
    score: float = 0.0
    # The reader scores the threshold was compared with, when they are several (a question in
    # parts: each part's, and the whole question's): the calibration replays each.
    confidences: tuple[float, ...] = ()


@dataclass(frozen=True)
class CorpusFacts:
    """What a decision knows of the whole corpus, computed once per loaded index."""

    weights: Weights
    figures_text: str  # every passage, digit groups joined (« 24 000 » -> 24000)
    continued: Continuations = field(default_factory=dict)  # what finishes an unfinished list (`lists.py`)

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


@dataclass(frozen=True)
class Answer:
    """The reply to one question, built once when everything about it is known."""

    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    latency_ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    reason: str = "answered"  # answered, or the check that declined, or the refusal (injection, medical…)
    language: str = "fr"
    followup: bool = False
    query: str = ""
    coverage: float = 0.0
    score: float = 0.0  # the best sentence's score the decision read
    mode: str = "extractive"  # who wrote the text: "extractive" (quotes) or "llm" (a checked model answer)
    fallback: str = ""  # in llm mode, why the extractive answer was shown: unreachable, timeout, error, no_citation
    dropped: list[str] = field(default_factory=list)  # model sentences removed for an unsupported figure
    retrieval: Any = field(default=None, repr=False, compare=False)  # what it was answered from (evals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "latency_ms": round(self.latency_ms, 2),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "reason": self.reason,
            "language": self.language,
            "followup": self.followup,
            "mode": self.mode,
            "fallback": self.fallback,
            "dropped": list(self.dropped),
        }


@dataclass(frozen=True)
class Draft:
    """A piece of a language model's text as it comes (llm mode), before it is checked."""

    text: str


@dataclass(frozen=True)
class Final:
    """The answer to show in the end: always the last event of a stream."""

    answer: Answer


Event = Draft | Final
