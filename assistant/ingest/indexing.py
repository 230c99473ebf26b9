"""Ingest: corpus files -> chunks -> embeddings -> a new Chroma collection, switched in atomically.

Re-running with nothing changed embeds nothing; a changed file gets new chunks and its old ones
go; chunks whose text did not change keep their stored embeddings.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from assistant.errors import DiskFullError, EmptyCorpusError
from assistant.ingest.chunking import Chunk, chunk_document
from assistant.ingest.documents import Skipped, load_corpus
from assistant.reading.text import TEXT_FORMAT
from assistant.reading.units import Unit, units_of
from assistant.search.store import ChunkStore

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass
class IngestSummary:
    """What an ingest did; `to_dict()` is the `--json` line."""

    added: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    units: int = 0  # sentences and list items, each embedded too
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    collection: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [asdict(s) for s in self.skipped]
        return data


def build_chunks(settings: Settings) -> tuple[list[Chunk], list[Skipped], int]:
    """Reads the corpus and chunks it. Returns the chunks, the skipped files and the file count."""
    from assistant.profile import read_profile

    titles = read_profile(settings.profile_file).titles if settings.profile_file.is_file() else {}
    documents, skipped = load_corpus(settings.corpus_dir, settings.max_file_bytes, titles)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for document in documents:
        for chunk in chunk_document(document, settings.chunk_max_chars):
            if chunk.id not in seen:  # the same passage twice in one file is indexed once
                seen.add(chunk.id)
                chunks.append(chunk)
    return chunks, skipped, len(documents)


def embedding_records(chunks: list[Chunk], units: dict[str, list[Unit]] | None = None) -> dict[str, str]:
    """What gets a vector, by id: every passage (document label, heading path, text) and every
    sentence or list item (label and heading, then itself), scored on its own when an answer is
    composed."""
    units = units or {c.id: units_of(c.id, c.text, c.section, c.kind, c.source) for c in chunks}
    records: dict[str, str] = {}
    for chunk in chunks:
        records[chunk.id] = chunk.indexed_text
        records.update((u.id, u.embedded_text) for u in units[chunk.id])
    return records


def model_name(embeddings: Embeddings) -> str:
    return str(getattr(embeddings, "name", type(embeddings).__name__))


def seed_index(index_dir: Path, source: Settings) -> None:
    """Starts a new index folder as a copy of `source`'s embedded index, when there is one and `index_dir`
    does not exist yet: the ingest that follows embeds only what the copy lacks. A vector is keyed by the
    text it embeds (file name, headings, passage), so the answers are those of an index built afresh; a copy
    made with another model is embedded again whole, as `ingest` always does. The source is only read."""
    origin = Path(source.index_dir)
    if index_dir.exists() or source.chroma_url or not (origin / "chroma.sqlite3").is_file():
        return
    staging = index_dir.with_name(index_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(origin, staging)
    except OSError:  # a full disk, a file vanishing under a running ingest: build afresh instead
        shutil.rmtree(staging, ignore_errors=True)
        return
    staging.rename(index_dir)


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

    units = {c.id: units_of(c.id, c.text, c.section, c.kind, c.source) for c in chunks}
    records = embedding_records(chunks, units)

    live_name = store.live_name()
    old_vectors: dict[str, Any] = {}
    if live_name is not None:
        live = store.live_collection()
        stored_chunks, stored = store.read_all(live, with_embeddings=True)
        summary.removed = len({c.id for c in stored_chunks} - {c.id for c in chunks})
        meta = live.metadata or {}
        same_model = meta.get("embedding_model") == model_name(embeddings) and meta.get("text_format") == TEXT_FORMAT
        # A document whose title changed (SOURCES.md, the profile) keeps its vectors; only its
        # passages' metadata is written again.
        titles = {c.id: c.metadata.get("title") for c in stored_chunks} == {c.id: c.title or c.source for c in chunks}
        if same_model and not rebuild:
            if set(records) == set(stored) and titles:
                summary.unchanged = len(chunks)
                summary.collection = live_name
                store.drop_stale(keep=live_name)  # leftovers of a killed ingest
                return summary
            old_vectors = stored

    # Batches of texts of similar length waste no padding: 58 % -> 80 %+ of the raw
    # embedding throughput at 1,200 passages (bench/scale.py).
    to_embed = sorted((i for i in records if i not in old_vectors), key=lambda i: len(records[i]))
    summary.added = sum(1 for c in chunks if c.id not in old_vectors)
    summary.unchanged = len(chunks) - summary.added
    summary.units = sum(len(u) for u in units.values())
    vectors = dict(old_vectors)
    batch = settings.embed_batch_size
    if progress:  # before the first batch: a bar started here shows the embedding rate
        progress(0, len(to_embed))
    for i in range(0, len(to_embed), batch):
        part = to_embed[i : i + batch]
        for record_id, vector in zip(part, embeddings.embed_documents([records[r] for r in part]), strict=True):
            vectors[record_id] = vector
        if progress:
            progress(min(i + batch, len(to_embed)), len(to_embed))

    ids: list[str] = []
    texts: list[str] = []
    metadatas: list[dict[str, str | int]] = []
    for chunk in chunks:
        ids.append(chunk.id)
        texts.append(chunk.text)
        metadatas.append(chunk.metadata() | {"unit": "passage"})
        for unit in units[chunk.id]:
            ids.append(unit.id)
            texts.append(unit.text)
            metadatas.append(unit.metadata(chunk.source, chunk.section))
    collection = None
    try:
        collection = store.new_collection(model_name(embeddings), TEXT_FORMAT)
        for i in range(0, len(ids), 500):
            collection.add(
                ids=ids[i : i + 500],
                embeddings=[list(vectors[r]) for r in ids[i : i + 500]],
                documents=texts[i : i + 500],
                metadatas=metadatas[i : i + 500],
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
