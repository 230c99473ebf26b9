"""Server mode: the same index and answers through a real `chroma run` on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import StoreUnavailableError
from assistant.ingest.indexing import ingest
from assistant.search.store import ChunkStore

from .conftest import DOCUMENT, free_port
from .test_answers import ANSWERABLE

pytestmark = pytest.mark.server

CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def start_chroma(port: int, path: Path, log: Path) -> subprocess.Popen[bytes]:
    """Starts `chroma run` on loopback and waits until it accepts connections."""
    process = subprocess.Popen(
        [CHROMA, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
        stdout=log.open("a"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.25)
    process.kill()
    pytest.fail("chroma run did not start within 60 s")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server, started for this module and stopped after it."""
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma")
    process = start_chroma(port, folder / "db", folder / "chroma.log")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def server_assistant(chroma_url: str, base_settings: Settings, embeddings) -> Assistant:  # type: ignore[no-untyped-def]
    settings = base_settings.model_copy(update={"chroma_url": chroma_url})
    summary = ingest(settings, embeddings)
    assert summary.added == summary.chunks > 0
    return Assistant(settings, embeddings, ChunkStore.open(settings))


@pytest.mark.parametrize(("question", "fact", "heading"), ANSWERABLE)
def test_server_answers_the_same(
    server_assistant: Assistant, assistant: Assistant, question: str, fact: str, heading: str
) -> None:
    served = server_assistant.ask(question)
    embedded = assistant.ask(question)
    assert served.text == embedded.text
    assert [c.chunk_id for c in served.citations] == [c.chunk_id for c in embedded.citations]
    assert fact in served.text


def test_server_reingest_is_idempotent(server_assistant: Assistant, embeddings) -> None:  # type: ignore[no-untyped-def]
    summary = ingest(server_assistant.settings, embeddings)
    assert (summary.added, summary.unchanged, summary.removed) == (0, summary.chunks, 0)


def test_unreachable_server_gives_a_clear_message(base_settings: Settings) -> None:
    settings = base_settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(StoreUnavailableError, match="ne répond pas"):
        ChunkStore.open(settings).live_name()


def test_server_going_away_gives_a_clear_message_then_recovers(
    tmp_path: Path, base_settings: Settings, embeddings
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    process = start_chroma(port, tmp_path / "db", tmp_path / "chroma.log")
    try:
        settings = base_settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{port}"})
        ingest(settings, embeddings)
        assistant = Assistant(settings, embeddings, ChunkStore.open(settings))
        assert "980 heures" in assistant.ask("Combien d'heures de stage long ?").text
        process.terminate()
        process.wait(timeout=30)
        with pytest.raises(StoreUnavailableError, match="ne répond pas"):
            assistant.ask("Combien d'heures de stage long ?")
        process = start_chroma(port, tmp_path / "db", tmp_path / "chroma.log")
        assert "980 heures" in assistant.ask("Combien d'heures de stage long ?").text  # same object, no restart
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_server_ingest_from_elsewhere_reaches_a_running_assistant(
    tmp_path: Path, chroma_url: str, base_settings: Settings, embeddings
) -> None:  # type: ignore[no-untyped-def]
    """Another machine ingests a changed corpus into the shared server, which drops the collection
    this assistant was querying: its next question is answered from the new one, no restart."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    document = corpus / "titre.txt"
    document.write_text((base_settings.corpus_dir / DOCUMENT.name).read_text(encoding="utf-8"), encoding="utf-8")
    settings = base_settings.model_copy(
        update={"chroma_url": chroma_url, "corpus_dir": corpus, "collection_prefix": "elsewhere", "index_check_s": 3600}
    )
    ingest(settings, embeddings)
    assistant = Assistant(settings, embeddings, ChunkStore.open(settings))
    assert not assistant.retriever.in_memory
    question = "Combien d'heures de stage long ?"
    assert "980 heures" in assistant.ask(question).text
    document.write_text(document.read_text(encoding="utf-8").replace("980 heures", "452 heures"), encoding="utf-8")
    ingest(settings, embeddings)
    assert "452 heures" in assistant.ask(question).text
