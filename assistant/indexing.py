"""Ingest: corpus files -> chunks -> embeddings -> a new Chroma collection, switched in atomically.

Re-running with nothing changed embeds nothing; a changed file gets new chunks and its old ones
go; chunks whose text did not change keep their stored embeddings.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.chunking import Chunk, chunk_document
from assistant.config import Settings
from assistant.documents import Skipped, load_corpus
from assistant.errors import DiskFullError, EmptyCorpusError
from assistant.store import ChunkStore

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass
class IngestSummary:
    """What an ingest did; `to_dict()` is the `--json` line."""

    added: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    collection: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [asdict(s) for s in self.skipped]
        return data


def build_chunks(settings: Settings) -> tuple[list[Chunk], list[Skipped], int]:
    """Reads the corpus and chunks it. Returns the chunks, the skipped files and the file count."""
    documents, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for document in documents:
        for chunk in chunk_document(document, settings.chunk_max_chars):
            if chunk.id not in seen:  # the same passage twice in one file is indexed once
                seen.add(chunk.id)
                chunks.append(chunk)
    return chunks, skipped, len(documents)


def model_name(embeddings: Embeddings) -> str:
    return str(getattr(embeddings, "name", type(embeddings).__name__))


def ingest(
    settings: Settings,
    embeddings: Embeddings,
    store: ChunkStore | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    """Brings the index in line with the corpus.

    Args:
        settings: where the corpus and the index are.
        embeddings: the model that embeds passages (the same one must answer questions).
        store: the Chroma store; opened from settings when None.
        rebuild: embed every chunk again, even unchanged ones.
        progress: called with (0, total) before the first batch, then after each embedded batch.

    Raises:
        EmptyCorpusError: no usable document; the index is left as it was.
    """
    store = store or ChunkStore.open(settings)
    chunks, skipped, files = build_chunks(settings)
    if not chunks:
        raise EmptyCorpusError(str(settings.corpus_dir))
    summary = IngestSummary(chunks=len(chunks), files=files, skipped=skipped)

    live_name = store.live_name()
    old_vectors: dict[str, Any] = {}
    if live_name is not None:
        live = store.live_collection()
        _, stored = store.read_all(live, with_embeddings=True)
        new_ids = {c.id for c in chunks}
        summary.removed = len(set(stored) - new_ids)
        same_model = (live.metadata or {}).get("embedding_model") == model_name(embeddings)
        if same_model and not rebuild:
            if new_ids == set(stored):
                summary.unchanged = len(chunks)
                summary.collection = live_name
                store.drop_stale(keep=live_name)  # leftovers of a killed ingest
                return summary
            old_vectors = stored

    # Batches of passages of similar length waste no padding: 58 % -> 80 %+ of the raw
    # embedding throughput at 1,200 passages (bench/scale.py).
    to_embed = sorted((c for c in chunks if c.id not in old_vectors), key=lambda c: len(c.indexed_text))
    summary.added = len(to_embed)
    summary.unchanged = len(chunks) - len(to_embed)
    vectors = dict(old_vectors)
    batch = settings.embed_batch_size
    if progress:  # before the first batch: a bar started here shows the embedding rate
        progress(0, len(to_embed))
    for i in range(0, len(to_embed), batch):
        part = to_embed[i : i + batch]
        for chunk, vector in zip(part, embeddings.embed_documents([c.indexed_text for c in part]), strict=True):
            vectors[chunk.id] = vector
        if progress:
            progress(min(i + batch, len(to_embed)), len(to_embed))

    collection = None
    try:
        collection = store.new_collection(model_name(embeddings))
        for i in range(0, len(chunks), 500):
            part = chunks[i : i + 500]
            collection.add(
                ids=[c.id for c in part],
                embeddings=[list(vectors[c.id]) for c in part],
                documents=[c.text for c in part],
                metadatas=[c.metadata() for c in part],
            )
        store.publish(collection.name)
    except Exception as err:
        if not _is_disk_full(err):
            raise
        if collection is not None:  # the half-written build goes; the live index never changed
            store.drop_stale(keep=live_name)
        raise DiskFullError(store.where) from err
    summary.collection = collection.name
    return summary


def _is_disk_full(err: BaseException) -> bool:
    for e in (err, err.__cause__, err.__context__):
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True
        if e is not None and ("disk is full" in str(e).lower() or "no space left" in str(e).lower()):
            return True
    return False
