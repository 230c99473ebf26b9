"""The feedback store: a real SQLite file in tmp_path, written from real threads."""

from __future__ import annotations

import csv
import io
import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.app.feedback import CSV_COLUMNS, FeedbackStore

CITATIONS = [{"n": 1, "source": "titre.txt", "section": "La formation", "rank": 1, "score": 0.03}]


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "data" / "feedback.sqlite3")


def test_creates_the_folder_and_a_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "feedback.sqlite3"
    FeedbackStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = [r[1] for r in conn.execute("PRAGMA table_info(feedback)")]
    assert {"feedback", "interactions"} <= tables
    assert columns == ["id", "created_at", "question", "answer", "citations", "rating", "comment", "interaction_id"]


def test_add_then_recent_newest_first(store: FeedbackStore) -> None:
    first = store.add("Combien d'heures ?", "« 441 heures » [1]", CITATIONS, rating=1)
    second = store.add("Et le stage court ?", "« 105 heures » [1]", [], rating=-1, comment="trop court")

    recent = store.recent(10)

    assert [f.id for f in recent] == [second, first]
    assert (recent[0].rating, recent[0].comment, recent[0].citations) == (-1, "trop court", [])
    assert (recent[1].question, recent[1].citations) == ("Combien d'heures ?", CITATIONS)
    assert recent[1].created_at.endswith("+00:00")
    assert store.recent(1)[0].id == second


def test_update_and_remove(store: FeedbackStore) -> None:
    vote = store.add("q", "a", [], rating=1)

    assert store.update(vote, rating=-1)
    assert store.update(vote, comment="la source ne répond pas")
    stored = store.get(vote)
    assert stored is not None and (stored.rating, stored.comment) == (-1, "la source ne répond pas")
    assert store.remove(vote)
    assert store.get(vote) is None
    assert not store.update(vote, rating=1)
    assert not store.remove(vote)


def test_rejects_a_rating_other_than_plus_or_minus_one(store: FeedbackStore) -> None:
    with pytest.raises(ValueError, match="rating must be 1 or -1"):
        store.add("q", "a", [], rating=5)
    assert store.count() == 0


def test_sql_stays_data(store: FeedbackStore) -> None:
    nasty = "'); DROP TABLE feedback; --"
    vote = store.add(nasty, nasty, [], rating=-1, comment=nasty)
    stored = store.get(vote)
    assert stored is not None and stored.question == stored.comment == nasty
    assert store.count() == 1


def test_export_csv(store: FeedbackStore) -> None:
    store.add("Combien d'heures ?", "D'après les documents :\n- « 441 heures » [1]", CITATIONS, rating=1)
    store.add('=HYPERLINK("http://x")', "a, b; « c »", [], rating=-1, comment="-- moins bien")

    rows = list(csv.reader(io.StringIO(store.export_csv())))

    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["rating"] == "1"
    assert first["answer"] == "D'après les documents :\n- « 441 heures » [1]"
    assert (
        first["citations"] == '[{"n": 1, "source": "titre.txt", "section": "La formation", "rank": 1, "score": 0.03}]'
    )
    second = dict(zip(rows[0], rows[2], strict=True))
    # A spreadsheet would run these cells as formulas: they are exported as text.
    assert second["question"] == '\'=HYPERLINK("http://x")'
    assert second["rating"] == "-1"
    assert second["comment"] == "'-- moins bien"


def test_interactions_keep_the_latest_with_their_votes(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3", max_interactions=3)
    answer = {
        "answer": "« 441 heures » [1]",
        "citations": CITATIONS,
        "abstained": False,
        "reason": "answered",
        "language": "fr",
        "latency_ms": 12.5,
    }
    ids = [store.log_interaction("chat", f"question {i}", answer) for i in range(5)]
    vote = store.add("question 4", answer["answer"], CITATIONS, rating=-1, comment="bof", interaction_id=ids[-1])

    recent = store.recent_interactions(10)

    assert [i.question for i in recent] == ["question 4", "question 3", "question 2"]
    assert recent[0].citations == CITATIONS and recent[0].latency_ms == 12.5 and not recent[0].abstained
    assert [(f.id, f.rating, f.comment) for f in recent[0].feedback] == [(vote, -1, "bof")]
    assert recent[1].feedback == []


def test_concurrent_votes_are_all_stored_once(tmp_path: Path) -> None:
    """200 votes from 8 threads, each through its own connection: none lost, none doubled."""
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    threads_count, per_thread = 8, 25
    start = threading.Barrier(threads_count)
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def vote(thread: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                new_id = store.add(f"t{thread}-q{i}", "a", CITATIONS, rating=1 if i % 2 else -1, comment=f"t{thread}")
                with lock:
                    ids.append(new_id)
        except BaseException as err:  # reported below, with the others
            errors.append(err)

    threads = [threading.Thread(target=vote, args=(t,)) for t in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(ids) == len(set(ids)) == 200
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as conn:
        questions = [r[0] for r in conn.execute("SELECT question FROM feedback")]
    assert sorted(questions) == sorted(f"t{t}-q{i}" for t in range(threads_count) for i in range(per_thread))
