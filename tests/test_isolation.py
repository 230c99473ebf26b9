"""The suite never touches what the shell's `ASSISTANT_*` variables point at.

A "sentinel" `chroma run` stands for an adviser's real Chroma server: the suite's server and ingest
tests run in a child pytest with ASSISTANT_CHROMA_URL (and ASSISTANT_INDEX_DIR) set to it, as they
would be on that machine, and the sentinel must hold exactly the collections it held before.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest

from assistant.config import PROJECT_DIR

from .conftest import free_port
from .test_server import start_chroma

pytestmark = pytest.mark.server


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    """A running Chroma server on a free loopback port, its data in tmp_path; yields the port."""
    port = free_port()
    process = start_chroma(port, tmp_path / "sentinel-db", tmp_path / "sentinel.log")
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_preset_chroma_url_is_never_written_to(sentinel: int, tmp_path: Path) -> None:
    client = chromadb.HttpClient(host="127.0.0.1", port=sentinel)
    before = [c.name for c in client.list_collections()]
    assert before == []
    real_index = tmp_path / "real-index"
    env = os.environ | {"ASSISTANT_CHROMA_URL": f"http://127.0.0.1:{sentinel}", "ASSISTANT_INDEX_DIR": str(real_index)}
    # Left out (about 80 s): three command-line tests that start the CLI through the same helper as the
    # ingest one kept, which writes; four ingest tests that reach the index only through `ingest()` and
    # the `settings` fixture, as the three kept (plain, `load_or_build_assistant`, a running
    # `Assistant`) do.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_server.py", "tests/test_ingest.py", "-q", "-p", "no:cacheprovider",
         "-k", "not jsonl_batch and not errors_in_french and not kill_9 and not changed_file and not removed_file"
         " and not empty_corpus and not interrupted_rebuild", f"--basetemp={tmp_path / 'inner'}"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-3000:]
    after = [c.name for c in client.list_collections()]
    assert after == before, f"the suite wrote into the pre-set ASSISTANT_CHROMA_URL: {after}\n{run.stdout[-3000:]}"
    assert not real_index.exists(), "the suite wrote into the pre-set ASSISTANT_INDEX_DIR"
    # The tests ran (whether each passed is their own business): 0 all passed, 1 some failed; 2+ never ran.
    assert run.returncode in (0, 1) and re.search(r"\b[1-9]\d* passed", summary), (
        run.stdout[-3000:] + run.stderr[-3000:]
    )
