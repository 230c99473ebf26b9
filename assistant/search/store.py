"""Chroma: the one source of truth for chunks and their embeddings, embedded or on a server.

Each ingest that changes something writes a new collection, then switches a pointer (the
metadata of a small `<prefix>-live` collection) to it, then drops the old one: an ingest killed
half-way leaves the pointer, hence the served index, as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from assistant.config import Settings
from assistant.errors import ConfigError, IndexMissingError, StoreUnavailableError
from assistant.reading.units import UNIT

_POINTER_KEY = "live"


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from Chroma."""

    id: str
    text: str
    metadata: dict[str, Any]


def connect(settings: Settings) -> Any:
    """A Chroma client: a server when `chroma_url` is set, else the embedded index folder.

    Raises:
        StoreUnavailableError: the server does not answer.
        ConfigError: the URL cannot be read.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not settings.chroma_url:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)
    url = urlparse(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"ASSISTANT_CHROMA_URL doit ressembler à http://hôte:port (reçu : {settings.chroma_url!r}).")
    try:
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    except Exception as err:  # the client raises ValueError or connection errors alike
        raise StoreUnavailableError(settings.chroma_url) from err


class ChunkStore:
    """The collections of one assistant in one Chroma, and the pointer to the live one."""

    def __init__(self, client: Any, prefix: str, where: str) -> None:
        self.client = client
        self.prefix = prefix
        self.where = where

    @classmethod
    def open(cls, settings: Settings) -> ChunkStore:
        where = settings.chroma_url or str(settings.index_dir)
        return cls(connect(settings), settings.collection_prefix, where)

    @property
    def pointer_name(self) -> str:
        return f"{self.prefix}-live"

    def _guard(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if is_connection_error(err):
                raise StoreUnavailableError(self.where) from err
            raise

    def live_name(self) -> str | None:
        """Name of the collection that answers, or None before the first ingest."""
        names = self.collection_names()
        if self.pointer_name not in names:
            return None
        pointer = self._guard(self.client.get_collection, self.pointer_name, embedding_function=None)
        live = (pointer.metadata or {}).get(_POINTER_KEY)
        return live if live in names else None

    def collection_names(self) -> list[str]:
        return [c.name for c in self._guard(self.client.list_collections)]

    def live_collection(self) -> Any:
        """The live Chroma collection.

        Raises:
            IndexMissingError: nothing has been ingested yet.
        """
        name = self.live_name()
        if name is None:
            raise IndexMissingError(self.where)
        return self._guard(self.client.get_collection, name, embedding_function=None)

    def new_collection(self, embedding_model: str, text_format: str = "") -> Any:
        """An empty collection for a build, in cosine space, never pointed at yet."""
        name = f"{self.prefix}-{time.time_ns()}"
        return self._guard(
            self.client.create_collection,
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={
                "embedding_model": embedding_model,
                "text_format": text_format,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
        )

    def publish(self, name: str) -> None:
        """Makes `name` the live collection, then drops every other collection of this prefix."""
        pointer = self._guard(self.client.get_or_create_collection, self.pointer_name, embedding_function=None)
        self._guard(pointer.modify, metadata={_POINTER_KEY: name})
        self.drop_stale(keep=name)

    def drop_stale(self, keep: str | None) -> None:
        """Deletes builds that are not live: the old index, and leftovers of killed ingests."""
        for other in self.collection_names():
            if other.startswith(f"{self.prefix}-") and other not in (keep, self.pointer_name):
                try:
                    self.client.delete_collection(other)
                except Exception:  # noqa: S110 - another ingest may have removed it first
                    pass

    def read_all(self, collection: Any, with_embeddings: bool = False) -> tuple[list[StoredChunk], dict[str, Any]]:
        """Every passage of a collection (its sentence units left out), and (when asked) the
        embeddings of passages and units by id."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        got = self._guard(collection.get, include=include)
        chunks = [
            StoredChunk(id=i, text=doc or "", metadata=dict(meta or {}))
            for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if (meta or {}).get("unit", "passage") != UNIT
        ]
        vectors: dict[str, Any] = {}
        if with_embeddings and got.get("embeddings") is not None:
            vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
        return chunks, vectors


def is_connection_error(err: Exception) -> bool:
    names = {type(e).__name__ for e in (err, err.__cause__, err.__context__) if e is not None}
    text = str(err).lower()
    return bool(
        names & {"ConnectError", "ConnectionError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"}
    ) or ("could not connect" in text or "connection refused" in text)
