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
from assistant.indexing import ingest
from assistant.store import ChunkStore

from .test_answers import ANSWERABLE

CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server, started for this module and stopped after it."""
    port = free_port()
    log = (tmp_path_factory.mktemp("chroma-log") / "chroma.log").open("w")
    process = subprocess.Popen(
        [CHROMA, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path_factory.mktemp("chroma"))],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.25)
    else:
        process.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def server_assistant(chroma_url: str, base_settings: Settings, embeddings) -> Assistant:  # type: ignore[no-untyped-def]
    settings = base_settings.model_copy(update={"chroma_url": chroma_url})
    summary = ingest(settings, embeddings)
    assert summary.added == 12
    return Assistant(settings, embeddings, ChunkStore.open(settings))


@pytest.mark.server
@pytest.mark.parametrize(("question", "fact", "heading"), ANSWERABLE)
def test_server_answers_the_same(
    server_assistant: Assistant, assistant: Assistant, question: str, fact: str, heading: str
) -> None:
    served = server_assistant.ask(question)
    embedded = assistant.ask(question)
    assert served.text == embedded.text
    assert [c.chunk_id for c in served.citations] == [c.chunk_id for c in embedded.citations]
    assert fact in served.text


@pytest.mark.server
def test_server_reingest_is_idempotent(server_assistant: Assistant, embeddings) -> None:  # type: ignore[no-untyped-def]
    summary = ingest(server_assistant.settings, embeddings)
    assert (summary.added, summary.unchanged, summary.removed) == (0, 12, 0)


def test_unreachable_server_gives_a_clear_message(base_settings: Settings) -> None:
    settings = base_settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(StoreUnavailableError, match="ne répond pas"):
        ChunkStore.open(settings).live_name()
