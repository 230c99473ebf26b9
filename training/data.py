"""The training set: the documents cut as the assistant cuts them, and each question's answer
found among their sentences.

Documents go through the assistant's own readers, chunker and sentence splitter, so that a
training sentence is exactly what the reader will be shown at question time (with the heading it
is embedded with). A question's answers are verbatim excerpts (`check.py`); the sentences they
cover are its positives.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import load_corpus
from assistant.reading.text import indexed_text, strip_marker
from assistant.reading.units import Unit, units_of
from training.check import normalise

TRAINING_DIR = Path(__file__).resolve().parent
DOCUMENTS = TRAINING_DIR / "documents"
QUESTIONS = TRAINING_DIR / "questions"
# Questions written for a measured experiment and left out of the committed adapter's data
# (`python -m training --also-questions DIR` adds them): « qu'est-ce que X ? » on the same documents.
DEFINITIONAL = TRAINING_DIR / "questions-definitional"
SUBJECTLESS = TRAINING_DIR / "questions-subjectless"  # questions naming no subject (`Example.subjectless`)
# In the user's own words, and near misses the documents do not answer (not yet in the committed adapter's data).
PARAPHRASE = TRAINING_DIR / "questions-paraphrase"
# A sentence answers when this share of its characters lies inside one of the question's excerpts
# (a writer's excerpt may be a whole sentence that our splitter cut in two, or part of a list).
COVERED_SHARE = 0.6


@dataclass(frozen=True)
class Passage:
    """A passage of a training document and its sentences, as the assistant would index them."""

    id: str
    source: str
    text: str  # what a passage is embedded by: label, heading path, text
    units: tuple[Unit, ...]


@dataclass(frozen=True)
class Example:
    """A training question with the sentences that answer it (none for an unanswerable one)."""

    id: str
    writer: str
    source: str
    kind: str
    query: str  # what is embedded: the previous user turn, then the question, for a follow-up
    positives: frozenset[str] = field(default_factory=frozenset)  # unit ids
    keys: tuple[str, ...] = ()
    # Asked as on a site about its document alone, naming no subject (« Ça dure combien de temps ? »):
    # another document's sentence may answer it as well, so none is its negative.
    subjectless: bool = False

    @property
    def answerable(self) -> bool:
        return bool(self.positives)


@dataclass
class TrainingSet:
    passages: list[Passage]
    examples: list[Example]
    units: dict[str, Unit]  # by id
    passage_of: dict[str, str]  # unit id -> passage id
    unmatched: list[str]  # ids of answerable questions none of whose sentences could be found
    digest: str  # of the documents and questions: what an adapter was trained on

    def units_of_source(self, source: str) -> list[Unit]:
        return [u for p in self.passages if p.source == source for u in p.units]


def load_passages(documents: Path = DOCUMENTS, max_chars: int = 500) -> list[Passage]:
    """Every training document read, chunked and split as the assistant does it (`ingest/`)."""
    read, _ = load_corpus(documents, max_file_bytes=20_000_000)
    passages = []
    for document in read:
        for chunk in chunk_document(document, max_chars):
            units = tuple(units_of(chunk.id, chunk.text, chunk.section, chunk.kind, chunk.source))
            passages.append(
                Passage(chunk.id, chunk.source, indexed_text(chunk.source, chunk.section, chunk.text), units)
            )
    return passages


def _query(row: dict[str, object]) -> str:
    """The question as production searches it: a follow-up with the previous user turn first
    (the assistant's second try for an elliptic question), any other question alone."""
    question = str(row["question"])
    if row["kind"] != "followup":
        return question
    users = [m["content"] for m in row["history"] if isinstance(m, dict) and m.get("role") == "user"]  # type: ignore[attr-defined]
    return f"{users[-1]} {question}" if users else question


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.casefold()))


def _covered(text: str, words: frozenset[str], answers: list[tuple[str, frozenset[str]]]) -> bool:
    """Whether a unit (its normalised text and its words) holds one of the answers (each with its words)."""
    if len(text) < 3:
        return False
    for answer, inside in answers:
        if text in answer:
            return True
        # A unit that holds the whole excerpt (the writer copied part of a long sentence).
        if len(answer) >= 20 and answer in text:
            return True
        if words and len(words & inside) / len(words) >= COVERED_SHARE and len(text) >= 0.5 * len(answer):
            return True
    return False


def load(
    documents: Path = DOCUMENTS, questions: Path = QUESTIONS, max_chars: int = 500, also: Sequence[Path] = ()
) -> TrainingSet:
    """The passages of the training documents and every question with its positive sentences;
    `also`: more folders of questions on the same documents."""
    passages = load_passages(documents, max_chars)
    by_source: dict[str, list[tuple[str, str, frozenset[str]]]] = {}  # each unit's id, normalised text, words
    units: dict[str, Unit] = {}
    passage_of: dict[str, str] = {}
    for passage in passages:
        for unit in passage.units:
            text = normalise(strip_marker(unit.text))
            by_source.setdefault(passage.source, []).append((unit.id, text, _words(text)))
            units[unit.id] = unit
            passage_of[unit.id] = passage.id
    digest = hashlib.sha256()
    for path in sorted(documents.glob("*.md")):
        digest.update(path.read_bytes())
    examples, unmatched = [], []
    # Files in the order of their names, whatever their folder: adding a folder trains as if its
    # files lay beside the others (the same order, the same draws).
    for path in sorted((p for folder in (questions, *also) for p in folder.glob("*.jsonl")), key=lambda p: p.name):
        digest.update(path.read_bytes())
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            answers = [(a, _words(a)) for a in map(normalise, row["answers"])]
            positives = frozenset(
                uid for uid, text, words in by_source.get(row["doc"], []) if answers and _covered(text, words, answers)
            )
            if row["answerable"] and not positives:
                unmatched.append(row["id"])
                continue
            examples.append(
                Example(
                    id=row["id"],
                    writer=row["id"].split("-")[0],
                    source=row["doc"],
                    kind=row["kind"],
                    query=_query(row),
                    positives=positives if row["answerable"] else frozenset(),
                    keys=tuple(row["key"]),
                    subjectless=bool(row.get("subjectless", False)),
                )
            )
    return TrainingSet(passages, examples, units, passage_of, unmatched, digest.hexdigest())
