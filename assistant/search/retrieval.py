"""Hybrid retrieval of passages, then scoring of their sentences.

Passages are ranked by reciprocal rank fusion of three rankings: dense (the question's embedding
against each passage's), BM25 over passages, and the best dense score of each passage's sentences.
The sentences and list items of the best passages are then scored one by one: their own cosine
similarity to the question (embedded once at ingest) plus the idf-weighted share of the
question's words they (or their heading) contain.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from assistant.errors import StoreUnavailableError
from assistant.reading.analysis import analyze, fold_accents, has_figure
from assistant.reading.question import Question
from assistant.reading.text import indexed_text
from assistant.reading.units import Unit, units_of
from assistant.search.found import Hit, Retrieval, ScoredUnit
from assistant.search.late import LateInteraction
from assistant.search.lexical import LexicalIndex, QueryTerm
from assistant.search.scoring import base_score, sentence_score
from assistant.search.store import StoredChunk, is_connection_error


def searches_in_memory(settings: Settings) -> bool:
    """Whether the dense side searches the passage vectors read at start rather than querying Chroma."""
    return settings.dense_search == "memory" or (settings.dense_search == "auto" and not settings.chroma_url)


def _normalized(rows: list[Any]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class Retriever:
    """Passages and their sentences over the live collection.

    The sentence vectors are always read at start (a few thousand rows of 384 floats). The passage
    side either queries Chroma for each question, or ranks the passage vectors read at start: under
    50 concurrent users a Chroma query of the embedded index cost about 4 ms of CPU per question.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: Embeddings,
        vectorstore: Any,
        chunks: list[StoredChunk],
        vectors: dict[str, Any] | None = None,
        title_sources: frozenset[str] = frozenset(),
        title_names: tuple[str, ...] = (),
    ) -> None:
        """
        Args:
            title_sources: the title's own documents (the profile's `documents`): their best
                passages are among the candidates of a question about the title.
            title_names: how a question names the title (the profile's `names`, folded); a
                question is about the title when it names it or when the title's documents hold
                its subject words (`title_share`).
        """
        self._title_names = re.compile(
            r"\b(" + "|".join(re.escape(n) for n in title_names) + r")\b" if title_names else r"(?!x)x"
        )
        vectors = vectors or {}
        self.settings = settings
        self.embeddings = embeddings
        self.vectorstore = vectorstore
        self.chunks = chunks
        self._by_id = {c.id: c for c in chunks}
        self.lexical = LexicalIndex([_indexed_text(c) for c in chunks])
        self._headings = {c.id: frozenset(analyze(str(c.metadata.get("section", "")))) for c in chunks}
        self.units: dict[str, list[Unit]] = {
            c.id: units_of(
                c.id,
                c.text,
                str(c.metadata.get("section", "")),
                str(c.metadata.get("kind", "passage")),
                str(c.metadata.get("source", "")),
            )
            for c in chunks
        }
        self._unit_stems = {u.id: frozenset(analyze(u.text)) for us in self.units.values() for u in us}
        self._title_chunks = [c.id for c in chunks if str(c.metadata.get("source", "")) in title_sources]
        self._title_stems = frozenset(
            s for c in chunks if str(c.metadata.get("source", "")) in title_sources for s in analyze(_indexed_text(c))
        )
        self._with_figure = {u.id for us in self.units.values() for u in us if has_figure(u.text)}
        self._all_units = [u for us in self.units.values() for u in us]
        # BM25 over the sentences, each with its document label and heading (what was embedded).
        self.unit_lexical = LexicalIndex([u.embedded_text for u in self._all_units])
        # The sentences with a vector, one matrix row each, and each passage's rows: computed once
        # here, not for every question.
        self._row_ids = [u.id for u in self._all_units if u.id in vectors]
        self._unit_row = {unit_id: row for row, unit_id in enumerate(self._row_ids)}
        self._parent_rows = {
            parent: np.asarray([self._unit_row[u.id] for u in own if u.id in self._unit_row])
            for parent, own in self.units.items()
        }
        self._parent_rows = {parent: rows for parent, rows in self._parent_rows.items() if rows.size}
        self._unit_matrix = _normalized([vectors[i] for i in self._row_ids]) if self._row_ids else None
        self._passage_ids: list[str] = []
        self._passage_matrix: np.ndarray | None = None
        if searches_in_memory(settings) and any(c.id in vectors for c in chunks):
            self._passage_ids = [c.id for c in chunks if c.id in vectors]
            self._passage_matrix = _normalized([vectors[i] for i in self._passage_ids])
        self._passage_row = {c: i for i, c in enumerate(self._passage_ids)}
        on = settings.reader_late_weight > 0 and LateInteraction.available(embeddings)
        self.late = LateInteraction(embeddings, settings.late_cache) if on else None

    @property
    def in_memory(self) -> bool:
        return self._passage_matrix is not None

    def _dense(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k passages closest to `vector`, with their cosine similarity, best first."""
        if self._passage_matrix is not None:
            similarities = self._passage_matrix @ vector
            best = np.argsort(-similarities, kind="stable")[:k]
            return [(self._passage_ids[i], float(similarities[i])) for i in best]
        try:
            found = self.vectorstore.similarity_search_by_vector_with_relevance_scores(
                vector.tolist(), k=k, filter={"unit": "passage"}
            )
        except Exception as err:
            if is_connection_error(err):  # the Chroma server went away: say so; retry next time
                raise StoreUnavailableError(self.settings.chroma_url or str(self.settings.index_dir)) from err
            raise
        # Chroma's cosine distance is 1 - similarity.
        return [(doc.id, 1.0 - float(distance)) for doc, distance in found if doc.id in self._by_id]

    def _unit_dense(self, vector: np.ndarray) -> np.ndarray | None:
        return None if self._unit_matrix is None else self._unit_matrix @ vector

    def retrieve(self, question: Question, context: str = "") -> Retrieval:
        """Finds the passages and scores the sentences for a question.

        Args:
            question: the question, read (`read_question`): its searched text and its words.
            context: the previous turn, searched with the question when it is a follow-up; its
                words count for less than the question's own.
        """
        settings = self.settings
        terms = self.lexical.terms(question.words)
        part_terms = [self.lexical.read_question(part) for part in question.parts] if len(question.parts) > 1 else []
        query = f"{context} {question.searched}".strip()
        context_terms = self.lexical.read_question(context) if context else []
        timings: dict[str, float] = {}
        started = time.perf_counter()
        vector: np.ndarray | None = None
        if settings.retrieval_mode != "bm25":
            raw = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
            vector = raw / max(float(np.linalg.norm(raw)), 1e-12)
        timings["embed"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()

        k = min(settings.candidates, len(self.chunks))
        rankings: list[tuple[float, list[tuple[str, float]]]] = []
        dense: dict[str, float] = {}
        unit_dense = self._unit_dense(vector) if vector is not None else None
        if vector is not None:
            ranked = self._dense(vector, k)
            dense = dict(ranked)
            rankings.append((settings.dense_weight, ranked))
            if unit_dense is not None:
                best_unit = {parent: float(unit_dense[rows].max()) for parent, rows in self._parent_rows.items()}
                by_unit = sorted(best_unit.items(), key=lambda pair: -pair[1])[:k]
                rankings.append((settings.sentence_weight, by_unit))
        sparse: dict[str, float] = {}
        if settings.retrieval_mode != "dense":
            stems = [s for t in terms for s in t.stems] + [s for t in context_terms for s in t.stems]
            scores = self.lexical.scores(stems, [t.word for t in terms + context_terms if t.key])
            order = [i for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
            ranked_sparse = [(self.chunks[i].id, float(scores[i])) for i in order]
            sparse = dict(ranked_sparse)
            rankings.append((settings.bm25_weight, ranked_sparse))
        fused = self._fuse(rankings, dense, sparse, max(settings.top_k, settings.unit_passages))
        hits = fused[: settings.top_k]
        names_title = bool(self._title_chunks) and bool(
            self._title_names.search(fold_accents(question.text).replace("’", "'"))
        )
        about_title = names_title or (bool(self._title_chunks) and self._title_share(terms) >= settings.title_share)
        candidates = fused[: settings.unit_passages]
        if about_title and unit_dense is not None:
            candidates = candidates + self._title_passages(candidates, unit_dense, vector, dense, sparse)
        words = [t.word for t in terms if t.key] + [t.word for t in context_terms if t.key]
        unit_bm25 = self.unit_lexical.scores([s for t in terms + context_terms for s in t.stems], words)
        units = self._score_units(candidates, terms, context_terms, unit_dense, unit_bm25, question.asks_figure)
        part_scores = self._part_scores(question, units, context) if settings.decision == "reader" else []
        timings["retrieve"] = (time.perf_counter() - started) * 1000
        best = max((u.dense for u in units), default=max(dense.values(), default=0.0))
        found = Retrieval(
            query, hits, terms, units, part_terms, part_scores, bool(context), best, timings, about_title, names_title
        )
        found.part_shares = [self._shares(units, t) for t in part_terms] if part_scores else []
        if self.late is not None and units and settings.decision == "reader":
            started = time.perf_counter()
            parts = [f"{context} {part}".strip() for part in question.parts] if part_scores else []
            found.late, *found.part_late = self.late.scores([query, *parts], [u.unit for u in units])
            timings["late"] = (time.perf_counter() - started) * 1000
        return found

    def _shares(self, units: list[ScoredUnit], terms: list[QueryTerm]) -> dict[str, float]:
        """The idf-weighted share of `terms` (a part of the question) each sentence or its heading holds."""
        weighted = self.term_weights(terms)
        total = sum(w for _, w in weighted) or 1.0
        return {u.unit.id: sum(w for stems, w in weighted if stems & u.stems) / total for u in units}

    def _title_share(self, terms: list[QueryTerm]) -> float:
        """The share (idf-weighted) of the question's known key words that the title's own documents
        hold: a question about another subject names a word they lack (« RQTH »), one about the title
        does not (« le niveau du titre »); 1 for a question with no such word."""
        weighted = [(stems, w) for stems, w in self.term_weights(terms) if stems]
        total = sum(w for _, w in weighted)
        return sum(w for stems, w in weighted if stems & self._title_stems) / total if total else 1.0

    def _title_passages(
        self,
        candidates: list[Hit],
        unit_dense: np.ndarray,
        vector: np.ndarray | None,
        dense: dict[str, float],
        sparse: dict[str, float],
    ) -> list[Hit]:
        """The title documents' passages closest to the question (by their best sentence), that the
        fusion left out of the candidates: a question about the title is read against its own
        documents too."""
        present = {h.chunk.id for h in candidates}
        closest = sorted(
            (c for c in self._title_chunks if c not in present and c in self._parent_rows),
            key=lambda c: -float(unit_dense[self._parent_rows[c]].max()),
        )[: self.settings.title_passages]
        rank = len(candidates)
        row = self._passage_row
        similarity = {  # the passage's own similarity, when its vector is in memory
            c: float(self._passage_matrix[row[c]] @ vector)
            for c in closest
            if self._passage_matrix is not None and vector is not None and c in row
        }
        return [
            Hit(self._by_id[c], rank + i, 0.0, dense.get(c, similarity.get(c)), sparse.get(c))
            for i, c in enumerate(closest, 1)
        ]

    def _part_scores(self, question: Question, units: list[ScoredUnit], context: str) -> list[dict[str, float]]:
        """For a question in two parts, each part's similarity to the candidate sentences (one more
        question embedding per part)."""
        if len(question.parts) < 2 or self._unit_matrix is None:
            return []
        rows = [(u.unit.id, self._unit_row[u.unit.id]) for u in units if u.unit.id in self._unit_row]
        scores = []
        for part in question.parts:
            raw = np.asarray(self.embeddings.embed_query(f"{context} {part}".strip()), dtype=np.float32)
            similarity = self._unit_matrix[[r for _, r in rows]] @ (raw / max(float(np.linalg.norm(raw)), 1e-12))
            scores.append({unit_id: float(v) for (unit_id, _), v in zip(rows, similarity, strict=True)})
        return scores

    def _score_units(
        self,
        hits: list[Hit],
        terms: list[QueryTerm],
        context_terms: list[QueryTerm],
        unit_dense: np.ndarray | None,
        unit_bm25: np.ndarray,
        wants_figure: bool = False,
    ) -> list[ScoredUnit]:
        """The sentences of the best passages, ranked by reciprocal rank fusion of their rank among
        all sentences by similarity, their rank by BM25, and their passage's rank. When the question
        asks for a figure (« combien… », « dans quel délai… »), a sentence that states one gains
        `unit_figure_weight` of a first rank."""
        settings = self.settings
        k = settings.unit_rrf_k
        dense_rank: dict[str, int] = {}
        if unit_dense is not None:
            for rank, row in enumerate(np.argsort(-unit_dense, kind="stable"), 1):
                dense_rank[self._row_ids[row]] = rank
        lexical_rank = {
            self._all_units[i].id: rank
            for rank, i in enumerate(np.argsort(-unit_bm25, kind="stable"), 1)
            if unit_bm25[i] > 0
        }
        weighted = self.term_weights(terms) + [
            (stems, settings.context_weight * w) for stems, w in self.term_weights(context_terms)
        ]
        total = sum(w for _, w in weighted) or 1.0
        scored = []
        for hit in hits:
            heading = self._headings[hit.chunk.id]
            for unit in self.units[hit.chunk.id]:
                stems = self._unit_stems[unit.id] | heading
                share = sum(w for term_stems, w in weighted if term_stems & stems) / total
                if unit_dense is not None and unit.id in self._unit_row:
                    cosine = float(unit_dense[self._unit_row[unit.id]])
                else:
                    cosine = hit.dense_score or 0.0
                gain = settings.unit_figure_weight / (k + 1) if wants_figure and unit.id in self._with_figure else 0.0
                base = base_score(settings, hit.rank, dense_rank.get(unit.id), gain)
                bm25 = (k + 1) / (k + lexical_rank[unit.id]) if unit.id in lexical_rank else 0.0
                score = sentence_score(settings, base, bm25, share)
                scored.append(ScoredUnit(unit, hit, cosine, share, score, stems, base, gain))
        scored.sort(key=lambda s: (-s.score, s.hit.rank, s.unit.position))
        return scored

    def term_weights(self, terms: list[QueryTerm]) -> list[tuple[frozenset[str], float]]:
        """The key words of a question with their weight: their idf, or, for a word the corpus never
        uses, `LexicalIndex.unknown_idf`."""
        unknown = self.lexical.unknown_idf
        return [
            (t.stems, max((self.lexical.idf(s) for s in t.stems), default=unknown))
            for t in terms
            if t.key and not t.word.isdigit()
        ]

    def _fuse(
        self,
        rankings: list[tuple[float, list[tuple[str, float]]]],
        dense_scores: dict[str, float],
        sparse_scores: dict[str, float],
        k: int,
    ) -> list[Hit]:
        """Reciprocal rank fusion: each ranking adds weight / (rrf_k + rank) to a passage."""
        fused: dict[str, float] = {}
        for weight, ranking in rankings:
            for rank, (chunk_id, _) in enumerate(ranking, 1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (self.settings.rrf_k + rank)
        order = sorted(fused, key=lambda cid: (-fused[cid], -dense_scores.get(cid, 0.0), cid))
        return [
            Hit(self._by_id[cid], rank, fused[cid], dense_scores.get(cid), sparse_scores.get(cid))
            for rank, cid in enumerate(order[:k], 1)
        ]


def _indexed_text(chunk: StoredChunk) -> str:
    return indexed_text(str(chunk.metadata.get("source", "")), str(chunk.metadata.get("section", "")), chunk.text)
