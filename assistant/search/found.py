"""What retrieval hands to the decision: the passages found (`Hit`), their sentences scored
(`ScoredUnit`), and how the question was read (`Retrieval`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.reading.units import Unit
from assistant.search.lexical import QueryTerm
from assistant.search.store import StoredChunk


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its rank and scores in each ranking."""

    chunk: StoredChunk
    rank: int
    score: float  # fused (RRF) score
    dense_score: float | None  # cosine similarity, when the dense side ranked it
    bm25_score: float | None

    @property
    def section(self) -> str:
        return str(self.chunk.metadata.get("section", ""))

    @property
    def source(self) -> str:
        return str(self.chunk.metadata.get("source", ""))

    @property
    def title(self) -> str:
        """The document's title (an index built before titles were stored: its file name)."""
        return str(self.chunk.metadata.get("title") or self.source)


@dataclass(frozen=True)
class ScoredUnit:
    """A sentence or list item of a retrieved passage, scored against the question."""

    unit: Unit
    hit: Hit
    dense: float  # cosine similarity to the question (the passage's when the unit has no vector)
    lexical: float  # idf-weighted share of the question's words in the unit or its heading
    score: float
    stems: frozenset[str]  # of the unit and its heading: what the coverage check reads
    base: float = 0.0  # the score without the lexical rank (a part of a question is re-ranked on it)
    figure_gain: float = 0.0  # what it gained for stating a figure a question asks for (in score and base)


@dataclass
class Retrieval:
    """What retrieval found for one question, and how it read the question."""

    query: str  # the text searched (the question, or the previous turn and the question)
    hits: list[Hit]
    terms: list[QueryTerm]  # of the question itself
    units: list[ScoredUnit] = field(default_factory=list)  # of the hits, best first
    part_terms: list[list[QueryTerm]] = field(default_factory=list)  # of each part of a two-part question
    # Each part's similarity to each candidate sentence (by unit id), for the reader.
    part_scores: list[dict[str, float]] = field(default_factory=list)
    followup: bool = False
    best_dense: float = 0.0  # best cosine similarity of a sentence (or passage) to the question
    timings_ms: dict[str, float] = field(default_factory=dict)
    about_title: bool = False  # the title's own documents hold the question's subject words (`title_share`)…
    names_title: bool = False  # …or the question names the title (the profile's `names`)
    # Each part's idf-weighted share of its own words that each candidate sentence (or its heading) holds.
    part_shares: list[dict[str, float]] = field(default_factory=list)
    # The late-interaction score (`late.py`) of each candidate sentence, for the question and for each part.
    late: dict[str, float] = field(default_factory=dict)
    part_late: list[dict[str, float]] = field(default_factory=list)

    @property
    def best_score(self) -> float:
        """The best sentence's fused score, without what stating a figure gained it: how well the
        documents answer, which a figure alone does not show."""
        return max((u.score - u.figure_gain for u in self.units), default=0.0)

    @property
    def key_terms(self) -> list[QueryTerm]:
        return [t for t in self.terms if t.key and not t.word.isdigit()]
