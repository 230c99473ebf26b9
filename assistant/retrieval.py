"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused by reciprocal rank fusion.

Follow-up questions (« Et le stage court ? ») are completed from the previous user turn first.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.analysis import fold_accents
from assistant.config import Settings
from assistant.errors import ConfigError, StoreUnavailableError
from assistant.keywords import KeywordIndex, QueryTerm
from assistant.store import StoredChunk, is_connection_error

MODES = ("hybrid", "dense", "bm25")
DENSE_SEARCHES = ("auto", "memory", "chroma")
_CONTEXT_WEIGHT = 0.5  # weight of the previous turn's words when completing a follow-up
_FOLLOWUP_START = re.compile(
    r"^\s*(et|mais|ou|sinon|aussi|pareil|idem|alors|donc|puis|and|but|what about|how about|also)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(
    r"\b(ca|cela|ce dernier|celui-ci|celle-ci|celui-la|celle-la|il|elle|ils|elles|le meme|la meme|"
    r"y|en|it|this|that|they|them|those|these)\b"
)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its ranks and scores in each retriever."""

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


@dataclass
class Retrieval:
    """What retrieval found for one question, and how it read the question."""

    query: str  # the text actually searched (the question, completed for a follow-up)
    hits: list[Hit]
    terms: list[QueryTerm]  # of the question itself
    context_terms: list[QueryTerm] = field(default_factory=list)  # of the turn it follows up
    followup: bool = False
    best_dense: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)


def previous_user_turn(history: list[dict[str, str]]) -> str:
    for message in reversed(history):
        if message.get("role") == "user" and message.get("content", "").strip():
            return message["content"]
    return ""


def is_followup(question: str, terms: list[QueryTerm]) -> bool:
    """An elliptic question that only makes sense with the previous turn."""
    key_terms = [t for t in terms if t.key]
    if _FOLLOWUP_START.match(question) and len(key_terms) <= 4:
        return True
    if len(key_terms) <= 1:
        return True
    return len(key_terms) <= 3 and bool(_ANAPHORA.search(fold_accents(question)))


def split_question(question: str) -> list[str]:
    """The parts of a question that asks two things (« …, et combien… ? »), or [question]."""
    parts = [
        p.strip() for p in re.split(r"\?|[,;]\s*(?:et|and)\s+|\s+et (?=combien|quel|qui|o[uù]|quand|comment)", question)
    ]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else [question]


def searches_in_memory(settings: Settings) -> bool:
    """Whether the dense side searches the vectors read at start rather than querying Chroma.

    Raises:
        ConfigError: an unknown `dense_search`.
    """
    if settings.dense_search not in DENSE_SEARCHES:
        raise ConfigError(
            f"ASSISTANT_DENSE_SEARCH « {settings.dense_search} » inconnu ; valeurs possibles : "
            f"{', '.join(DENSE_SEARCHES)}."
        )
    return settings.dense_search == "memory" or (settings.dense_search == "auto" and not settings.chroma_url)


class Retriever:
    """Dense + BM25 retrieval over the live collection.

    The dense side either queries Chroma for each question, or, given the collection's `vectors`,
    ranks them itself by cosine similarity. Under 50 concurrent users, a Chroma query of the
    embedded index cost about 4 ms of CPU per question (its Rust core hands each query between
    threads); the exact search over the index's vectors costs a few microseconds per chunk, and
    reads the same snapshot as the BM25 side.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        vectorstore: Any,
        chunks: list[StoredChunk],
        vectors: dict[str, Any] | None = None,
    ) -> None:
        if settings.retrieval_mode not in MODES:
            raise ConfigError(
                f"ASSISTANT_RETRIEVAL_MODE « {settings.retrieval_mode} » inconnu ; valeurs possibles : "
                f"{', '.join(MODES)}."
            )
        self.settings = settings
        self.embeddings = embeddings
        self.vectorstore = vectorstore
        self.keywords = KeywordIndex(chunks)
        self._by_id = {c.id: c for c in chunks}
        self._ids: list[str] = []
        self._matrix: np.ndarray | None = None
        if vectors:
            self._ids = [c.id for c in chunks if c.id in vectors]
            matrix = np.asarray([vectors[i] for i in self._ids], dtype=np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._matrix = matrix / np.maximum(norms, 1e-12)

    @property
    def in_memory(self) -> bool:
        return self._matrix is not None

    def _dense(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """The k chunks closest to `vector`, with their cosine similarity, best first."""
        if self._matrix is not None:
            query = np.asarray(vector, dtype=np.float32)
            similarities = self._matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
            best = np.argsort(-similarities, kind="stable")[:k]
            return [(self._ids[i], float(similarities[i])) for i in best]
        try:
            found = self.vectorstore.similarity_search_by_vector_with_relevance_scores(vector, k=k)
        except Exception as err:
            if is_connection_error(err):  # the Chroma server went away: say so; retry next time
                raise StoreUnavailableError(self.settings.chroma_url or str(self.settings.index_dir)) from err
            raise
        # Chroma's cosine distance is 1 - similarity.
        return [(doc.id, 1.0 - float(distance)) for doc, distance in found if doc.id in self._by_id]

    def retrieve(self, question: str, history: list[dict[str, str]] | None = None) -> Retrieval:
        """Finds the passages for a question, completed from the history when it is elliptic."""
        settings = self.settings
        terms = self.keywords.read_question(question)
        query = question
        context_terms: list[QueryTerm] = []
        followup = False
        previous = previous_user_turn(history or [])
        if settings.followups and previous and is_followup(question, terms):
            followup = True
            context_terms = self.keywords.read_question(previous)
            query = f"{previous} {question}"

        timings: dict[str, float] = {}
        dense: list[tuple[str, float]] = []
        if settings.retrieval_mode in ("hybrid", "dense"):
            started = time.perf_counter()
            vector = self.embeddings.embed_query(query)
            timings["embed"] = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            dense = self._dense(vector, min(settings.candidates, len(self._by_id)))
        else:
            timings["embed"] = 0.0
            started = time.perf_counter()

        rankings: list[tuple[float, list[tuple[str, float]]]] = [(settings.dense_weight, dense)]
        sparse: list[tuple[str, float]] = []
        parts = split_question(question)
        if settings.retrieval_mode in ("hybrid", "bm25"):
            context = [ws for t in context_terms if t.key for ws in t.weighted_stems(_CONTEXT_WEIGHT)]
            sparse = self._bm25([ws for t in terms for ws in t.weighted_stems()] + context)
            rankings.append((settings.bm25_weight, sparse))
            for part in parts if len(parts) > 1 else []:
                part_terms = self.keywords.read_question(part)
                rankings.append(
                    (settings.bm25_weight, self._bm25([ws for t in part_terms for ws in t.weighted_stems()]))
                )

        # A question that asks two things keeps room for the passages of each.
        hits = self._fuse(rankings, dict(dense), dict(sparse), settings.top_k * min(len(parts), 2))
        timings["retrieve"] = (time.perf_counter() - started) * 1000
        best_dense = max((s for _, s in dense), default=0.0)
        return Retrieval(query, hits, terms, context_terms, followup, best_dense, timings)

    def _bm25(self, stems: list[tuple[str, float]]) -> list[tuple[str, float]]:
        ranked = self.keywords.search(stems, self.settings.candidates)
        return [(self.keywords.chunks[i].id, score) for i, score in ranked]

    def _fuse(
        self,
        rankings: list[tuple[float, list[tuple[str, float]]]],
        dense_scores: dict[str, float],
        sparse_scores: dict[str, float],
        k: int,
    ) -> list[Hit]:
        """Reciprocal rank fusion: each ranking adds weight / (rrf_k + rank) to a chunk."""
        settings = self.settings
        fused: dict[str, float] = {}
        for weight, ranking in rankings:
            for rank, (chunk_id, _) in enumerate(ranking, 1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (settings.rrf_k + rank)
        order = sorted(fused, key=lambda cid: (-fused[cid], -dense_scores.get(cid, 0.0), cid))
        return [
            Hit(self._by_id[cid], rank, fused[cid], dense_scores.get(cid), sparse_scores.get(cid))
            for rank, cid in enumerate(order[:k], 1)
        ]
