"""What users said about the answers (👍/👎 and a comment), and the questions answered, in SQLite.

No IP address, session id or any other personal data is stored: only the question, the answer,
its citations, the vote and the comment a user chose to write.

Every call opens its own connection (WAL, `busy_timeout`, writes in `BEGIN IMMEDIATE`), so votes
from many Gradio workers, threads or processes wait for each other instead of being lost.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (1, -1)),
    comment TEXT NOT NULL DEFAULT '',
    interaction_id INTEGER
);
CREATE INDEX IF NOT EXISTS feedback_interaction ON feedback (interaction_id);
CREATE TABLE IF NOT EXISTS interactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    reason TEXT NOT NULL,
    language TEXT NOT NULL,
    latency_ms REAL NOT NULL
);
"""

CSV_COLUMNS = ("id", "created_at", "rating", "comment", "question", "answer", "citations", "interaction_id")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Feedback:
    """One vote on one answer; `rating` is 1 (👍) or -1 (👎)."""

    id: int
    created_at: str
    question: str
    answer: str
    citations: list[dict[str, Any]]
    rating: int
    comment: str
    interaction_id: int | None


@dataclass(frozen=True)
class Interaction:
    """One answered question, as the adviser view lists it, with the votes it received."""

    id: int
    created_at: str
    channel: str
    question: str
    answer: str
    citations: list[dict[str, Any]]
    abstained: bool
    reason: str
    language: str
    latency_ms: float
    feedback: list[Feedback]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: str) -> str:
    """`value` storable as UTF-8: a lone surrogate (JSON can carry one) becomes « ? » instead of
    making SQLite refuse the whole vote."""
    return value.encode("utf-8", errors="replace").decode("utf-8")


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):  # text only: -1 stays a number
        return "'" + value
    return str(value)


class FeedbackStore:
    """Votes and answered questions in one SQLite file (created with its folder if missing)."""

    def __init__(self, path: Path | str, busy_timeout_ms: int = 10_000, max_interactions: int = 1000) -> None:
        """
        Args:
            path: the database file, e.g. `.data/feedback.sqlite3`.
            busy_timeout_ms: how long a call waits for another writer before failing.
            max_interactions: answered questions kept; older ones are deleted (votes are kept).
        """
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.max_interactions = max_interactions
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Writers of this process wait their turn here rather than in SQLite's busy handler, which
        # sleeps in growing steps (up to 100 ms) while another connection holds the write lock.
        self._write_lock = threading.Lock()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: readers never block the writer
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One connection per thread, kept: opening one for every logged question was a tenth of
        # the server's time at 50 users. A connection that failed is dropped and reopened.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: transactions are opened explicitly, so that writes take the
            # write lock up front (BEGIN IMMEDIATE) and wait on busy_timeout, not fail on upgrade.
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        try:
            yield conn
        except sqlite3.Error:
            self._local.conn = None
            conn.close()
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def add(
        self,
        question: str,
        answer: str,
        citations: Sequence[dict[str, Any]],
        rating: int,
        comment: str = "",
        interaction_id: int | None = None,
    ) -> int:
        """Stores one vote and returns its id.

        Raises:
            ValueError: the rating is not 1 or -1.
        """
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO feedback (created_at, question, answer, citations, rating, comment, interaction_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    _text(question),
                    _text(answer),
                    _text(json.dumps(list(citations), ensure_ascii=False)),
                    rating,
                    _text(comment),
                    interaction_id,
                ),
            )
            return int(cursor.lastrowid or 0)

    def update(self, feedback_id: int, rating: int | None = None, comment: str | None = None) -> bool:
        """Changes the vote or the comment of a stored vote; False if there is no such vote."""
        if rating is not None and rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE feedback SET rating = COALESCE(?, rating), comment = COALESCE(?, comment) WHERE id = ?",
                (rating, None if comment is None else _text(comment), feedback_id),
            )
            return cursor.rowcount == 1

    def remove(self, feedback_id: int) -> bool:
        """Deletes a vote (the user took it back); False if there is no such vote."""
        with self._write() as conn:
            return conn.execute("DELETE FROM feedback WHERE id = ?", (feedback_id,)).rowcount == 1

    def get(self, feedback_id: int) -> Feedback | None:
        """One vote, or None."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM feedback WHERE id = ?", (feedback_id,)).fetchone()
        return None if row is None else self._feedback(row)

    def recent(self, limit: int = 50) -> list[Feedback]:
        """The latest votes, newest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [self._feedback(r) for r in rows]

    def count(self) -> int:
        """Number of stored votes."""
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def export_csv(self) -> str:
        """All votes as CSV (oldest first); cells that a spreadsheet would run as formulas are
        prefixed with an apostrophe."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with self._connect() as conn:
            for row in conn.execute(f"SELECT {', '.join(CSV_COLUMNS)} FROM feedback ORDER BY id"):
                writer.writerow([_csv_cell(row[c]) for c in CSV_COLUMNS])
        return buffer.getvalue()

    def log_interaction(self, channel: str, question: str, answer: dict[str, Any]) -> int:
        """Records an answered question (`answer` is `Answer.to_dict()`) and returns its id.

        Only the latest `max_interactions` are kept, so the log cannot grow without bound.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO interactions (created_at, channel, question, answer, citations, abstained, reason,"
                " language, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    channel,
                    _text(question),
                    _text(str(answer.get("answer", ""))),
                    _text(json.dumps(answer.get("citations", []), ensure_ascii=False)),
                    int(bool(answer.get("abstained"))),
                    str(answer.get("reason", "")),
                    str(answer.get("language", "")),
                    float(answer.get("latency_ms", 0.0)),
                ),
            )
            new_id = int(cursor.lastrowid or 0)
            conn.execute("DELETE FROM interactions WHERE id <= ?", (new_id - self.max_interactions,))
            return new_id

    def recent_interactions(self, limit: int = 50) -> list[Interaction]:
        """The latest answered questions, newest first, each with its votes."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM interactions ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            ids = [r["id"] for r in rows]
            votes: dict[int, list[Feedback]] = {i: [] for i in ids}
            if ids:
                marks = ", ".join("?" for _ in ids)
                query = f"SELECT * FROM feedback WHERE interaction_id IN ({marks}) ORDER BY id"  # only "?" marks
                for vote in conn.execute(query, ids):
                    votes[vote["interaction_id"]].append(self._feedback(vote))
        return [
            Interaction(
                id=r["id"],
                created_at=r["created_at"],
                channel=r["channel"],
                question=r["question"],
                answer=r["answer"],
                citations=json.loads(r["citations"]),
                abstained=bool(r["abstained"]),
                reason=r["reason"],
                language=r["language"],
                latency_ms=r["latency_ms"],
                feedback=votes[r["id"]],
            )
            for r in rows
        ]

    @staticmethod
    def _feedback(row: sqlite3.Row) -> Feedback:
        return Feedback(
            id=row["id"],
            created_at=row["created_at"],
            question=row["question"],
            answer=row["answer"],
            citations=json.loads(row["citations"]),
            rating=row["rating"],
            comment=row["comment"],
            interaction_id=row["interaction_id"],
        )
