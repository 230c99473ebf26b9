"""Ingest on a real embedded Chroma: idempotent, incremental, atomic."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.app.loading import load_or_build_assistant
from assistant.config import PROJECT_DIR, Settings
from assistant.core import Assistant
from assistant.errors import EmptyCorpusError, IndexFormatMismatchError, IndexMissingError
from assistant.ingest.indexing import ingest
from assistant.search.store import ChunkStore

from .conftest import DOCUMENT


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(DOCUMENT, folder / DOCUMENT.name)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path, base_settings: Settings) -> Settings:
    return base_settings.model_copy(update={"corpus_dir": corpus, "index_dir": tmp_path / "index"})


def _ids(settings: Settings) -> set[str]:
    store = ChunkStore.open(settings)
    chunks, _ = store.read_all(store.live_collection())
    return {c.id for c in chunks}


def test_second_ingest_embeds_nothing(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    first = ingest(settings, embeddings)
    assert (first.added, first.unchanged, first.removed, first.chunks) == (17, 0, 0, 17)
    second = ingest(settings, embeddings)
    assert (second.added, second.unchanged, second.removed) == (0, 17, 0)
    assert second.collection == first.collection


def test_changed_file_has_its_chunks_replaced(settings: Settings, corpus: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    ingest(settings, embeddings)
    before = _ids(settings)
    path = corpus / DOCUMENT.name
    path.write_text(path.read_text(encoding="utf-8").replace("16 personnes", "12 personnes"), encoding="utf-8")
    summary = ingest(settings, embeddings)
    assert (summary.added, summary.removed, summary.unchanged) == (1, 1, 16)
    after = _ids(settings)
    assert len(after - before) == 1 and len(before - after) == 1
    answer = Assistant(settings, embeddings, ChunkStore.open(settings)).ask("Combien de personnes dans un groupe ?")
    assert "12 personnes" in answer.text


def test_removed_file_has_its_chunks_deleted(settings: Settings, corpus: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    (corpus / "extra.md").write_text("# Extra\n\nLe titre se prépare en atelier.", encoding="utf-8")
    assert ingest(settings, embeddings).chunks == 18
    (corpus / "extra.md").unlink()
    summary = ingest(settings, embeddings)
    assert (summary.added, summary.removed, summary.chunks) == (0, 1, 17)
    assert len(_ids(settings)) == 17


def test_empty_corpus_keeps_the_index(settings: Settings, corpus: Path, embeddings) -> None:  # type: ignore[no-untyped-def]
    ingest(settings, embeddings)
    (corpus / DOCUMENT.name).unlink()
    with pytest.raises(EmptyCorpusError, match="Aucun document utilisable"):
        ingest(settings, embeddings)
    assert len(_ids(settings)) == 17


def test_interrupted_rebuild_leaves_the_old_index_answering(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    ingest(settings, embeddings)
    live = ChunkStore.open(settings).live_name()

    def interrupt(done: int, total: int) -> None:
        if done:  # after a batch is embedded, before the new collection is written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(settings, embeddings, rebuild=True, progress=interrupt)
    assert ChunkStore.open(settings).live_name() == live
    answer = Assistant(settings, embeddings, ChunkStore.open(settings)).ask("Combien d'heures de stage long ?")
    assert "980 heures" in answer.text


def test_missing_index_says_what_to_run(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IndexMissingError, match="lancez `python ingest.py`"):
        Assistant(settings, embeddings, ChunkStore.open(settings))


def test_an_index_cut_into_other_sentences_is_brought_up_to_date(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """An index built by a version that cut passages into other sentences (here: two sentence
    vectors gone) is refused with what to run, never answered from half-read; the chat's start
    brings it up to date, embedding only what is missing."""
    ingest(settings, embeddings)
    store = ChunkStore.open(settings)
    live = store.live_collection()
    units = live.get(where={"unit": "sentence"}, include=["documents"])
    gone = [i for i, text in zip(units["ids"], units["documents"], strict=True) if "heures" in text][:2]
    live.delete(ids=gone)
    with pytest.raises(IndexFormatMismatchError, match=r"2 phrase\(s\) sans vecteur.*python ingest.py"):
        Assistant(settings, embeddings, store)
    assistant = load_or_build_assistant(settings)
    assert "980 heures" in assistant.ask("Combien d'heures de stage long ?").text
    _, vectors = store.read_all(store.live_collection(), with_embeddings=True)
    assert set(gone) <= set(vectors)


def _cli(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, ASSISTANT_CORPUS_DIR=str(settings.corpus_dir), ASSISTANT_INDEX_DIR=str(settings.index_dir))
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args], cwd=PROJECT_DIR, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
def test_kill_9_during_rebuild_never_breaks_the_index(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """A real `kill -9` of `ingest --rebuild` at random moments: the index still answers after each."""
    ingest(settings, embeddings)
    rng = random.Random(7)
    for _ in range(3):
        process = _cli(settings, "ingest", "--rebuild")
        time.sleep(rng.uniform(2.0, 12.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        answer = Assistant(settings, embeddings, ChunkStore.open(settings)).ask("Combien d'heures de stage long ?")
        assert "980 heures" in answer.text
    summary = ingest(settings, embeddings)  # and the next ingest cleans what the killed ones left
    store = ChunkStore.open(settings)
    assert sorted(store.collection_names()) == sorted([store.pointer_name, summary.collection])


@pytest.mark.slow
def test_cli_ingest_json_and_ask_json(settings: Settings) -> None:
    process = _cli(settings, "ingest", "--json")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    # The progress bar starts as embedding starts: its rate is the embedding rate (a few to a few hundred
    # texts a second), not 54 texts over the microseconds between two calls (« 967916.31 passage/s »). The
    # flyer's 17 passages and their 37 sentences and list items are each embedded.
    assert "54/54" in err, err
    assert all(float(rate) < 5000 for rate in re.findall(r"([\d.]+)texte/s", err)), err
    summary = json.loads(out)
    assert {k: summary[k] for k in ("added", "unchanged", "removed", "chunks", "skipped")} == {
        "added": 17, "unchanged": 0, "removed": 0, "chunks": 17, "skipped": [],
    }  # fmt: skip
    process = _cli(settings, "ask", "Combien d'heures de stage long ?", "--json")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    reply = json.loads(out)
    assert "980 heures" in reply["answer"] and reply["abstained"] is False
    assert reply["citations"][0]["source"] == DOCUMENT.name


@pytest.mark.slow
def test_cli_jsonl_batch_goes_on_after_bad_lines(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    ingest(settings, embeddings)
    process = _cli(settings, "ask", "--jsonl")
    lines = [
        json.dumps({"question": "Combien d'heures de stage long ?"}),
        "pas du json",
        json.dumps({"question": ""}),
        json.dumps({"question": "Et le stage court ?", "history": [{"role": "user", "content": "Et le stage long ?"}]}),
        json.dumps([1, 2]),
    ]
    out, err = process.communicate("\n".join(lines) + "\n", timeout=300)
    assert process.returncode == 0, err
    replies = [json.loads(line) for line in out.splitlines()]
    assert len(replies) == 5
    assert "980 heures" in replies[0]["answer"]
    assert replies[1] == {"error": 'Ligne illisible : un objet JSON {"question": …} est attendu.'}
    assert replies[2] == {"error": "La question est vide : écrivez votre question sur le titre."}
    assert "105 heures de stage court" in replies[3]["answer"]
    assert "error" in replies[4]


@pytest.mark.slow
def test_cli_reports_errors_in_french_with_exit_1(settings: Settings, tmp_path: Path) -> None:
    empty = settings.model_copy(update={"corpus_dir": tmp_path / "nothing-here"})
    (tmp_path / "nothing-here").mkdir()
    process = _cli(empty, "ingest")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "Erreur : Aucun document utilisable" in err
    assert "Traceback" not in err
    assert err.startswith("Erreur : "), err[:300]  # nothing before it, not even a library's progress bar


def test_running_assistant_answers_from_a_new_ingest_without_restart(settings: Settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    """The chat keeps its Assistant for days: an ingest of a changed corpus must reach it."""
    ingest(settings, embeddings)
    question = "Combien d'heures de stage long ?"
    checking = Assistant(settings.model_copy(update={"index_check_s": 0}), embeddings, ChunkStore.open(settings))
    waiting = Assistant(settings.model_copy(update={"index_check_s": 3600}), embeddings, ChunkStore.open(settings))
    assert "980 heures" in checking.ask(question).text
    document = settings.corpus_dir / DOCUMENT.name
    document.write_text(document.read_text(encoding="utf-8").replace("980 heures", "452 heures"), encoding="utf-8")
    ingest(settings, embeddings)  # a new collection goes live, the one both were reading is dropped

    assert "452 heures" in checking.ask(question).text
    # Until its next check, the other one answers from what it read, though Chroma dropped it.
    assert waiting.retriever.in_memory
    assert "980 heures" in waiting.ask(question).text
    assert waiting.follow_live_index(force=True)
    assert "452 heures" in waiting.ask(question).text
