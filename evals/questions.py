"""The question files: one JSON object per line, checked as they are read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals import EvalError
from evals.metrics import evidence_pieces

EVALS_DIR = Path(__file__).resolve().parent
# The blind set (gated): written from the documents by people who never read the answering code.
QUESTIONS_FILE = EVALS_DIR / "blind.jsonl"
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Question:
    """One line of the question file."""

    id: str
    question: str
    kind: str
    history: list[dict[str, str]]
    answerable: bool
    evidence: str
    must_contain: list[str]
    split: str
    source: str = ""  # the document that answers it, when one does
    subset: str = ""  # the writer's file it comes from (blind set: flyer, docs)

    @property
    def pieces(self) -> list[str]:
        return evidence_pieces(self.evidence)


_FIELD_TYPES: dict[str, type] = dict(
    id=str, question=str, kind=str, history=list, answerable=bool, evidence=str, must_contain=list, split=str
)


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    """Reads and checks the question file (one JSON object per line).

    Raises:
        EvalError: the file is missing, or a line is not a valid question (line number given).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise EvalError(f"Cannot read the question file {path}: {err.strerror}.") from err
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise EvalError(f"{where}: not JSON ({err.msg}).") from err
        if not isinstance(row, dict):
            raise EvalError(f"{where}: expected a JSON object.")
        for name, kind in _FIELD_TYPES.items():
            if not isinstance(row.get(name), kind):
                raise EvalError(f"{where}: field « {name} » must be a {kind.__name__}.")
        if row["split"] not in SPLITS:
            raise EvalError(f"{where}: split must be one of {', '.join(SPLITS)}, not « {row['split']} ».")
        if row["id"] in seen:
            raise EvalError(f"{where}: id « {row['id']} » is used twice.")
        if not all(isinstance(s, str) for s in row["must_contain"]):
            raise EvalError(f"{where}: must_contain must be a list of strings.")
        if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in row["history"]):
            raise EvalError(f"{where}: history must be a list of {{role, content}} messages.")
        seen.add(row["id"])
        source = row.get("source", "")
        if not isinstance(source, str):
            raise EvalError(f"{where}: field « source » must be a str.")
        subset = str(row.get("set", ""))
        questions.append(Question(**{name: row[name] for name in _FIELD_TYPES}, source=source, subset=subset))
    if not questions:
        raise EvalError(f"{path} holds no question.")
    return questions


def select(questions: Sequence[Question], split: str = "all", limit: int | None = None) -> list[Question]:
    """The questions of a split (or all), the first `limit` of them when given."""
    chosen = [q for q in questions if split == "all" or q.split == split]
    return chosen[:limit] if limit is not None else chosen
