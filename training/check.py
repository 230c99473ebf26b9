"""Checks training question files: `python3 training/check.py training/questions/w1.jsonl …`.

Standard library only, so that a writer runs it with any Python 3.11. Every answer must be a
verbatim excerpt of the question's document (whitespace, non-breaking spaces and apostrophes
aside), every key a piece of an answer. Prints what is wrong, line by line, then the counts by
document and by kind; exits 1 when a line is wrong.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

DOCUMENTS = Path(__file__).resolve().parent / "documents"
ANSWERABLE_KINDS = (
    "fact",
    "paraphrase",
    "list",
    "colloquial",
    "typo",
    "english",
    "followup",
    "multi",
    "false_premise",
)
KINDS = (*ANSWERABLE_KINDS, "unanswerable")
MIN_ANSWER_CHARS = 20


def normalise(text: str) -> str:
    """Text as compared: NFC, typographic apostrophes straight, whitespace folded, case kept."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("ʼ", "'")
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def document_texts() -> dict[str, str]:
    return {p.name: normalise(p.read_text(encoding="utf-8")) for p in sorted(DOCUMENTS.glob("*.md"))}


def problems(row: object, documents: dict[str, str]) -> list[str]:
    """What is wrong with one question line (empty when it is right)."""
    if not isinstance(row, dict):
        return ["not a JSON object"]
    wrong = []
    for name, kind in (("id", str), ("doc", str), ("kind", str), ("question", str), ("history", list)):
        if not isinstance(row.get(name), kind):
            wrong.append(f"field « {name} » must be a {kind.__name__}")
    for name in ("answers", "key"):
        if not isinstance(row.get(name), list) or not all(isinstance(x, str) for x in row.get(name, [])):
            wrong.append(f"field « {name} » must be a list of strings")
    if not isinstance(row.get("answerable"), bool):
        wrong.append("field « answerable » must be true or false")
    if wrong:
        return wrong
    if row["doc"] not in documents:
        return [f"unknown document « {row['doc']} » (a file name of training/documents/)"]
    if row["kind"] not in KINDS:
        wrong.append(f"kind « {row['kind']} » is not one of {', '.join(KINDS)}")
    if len(row["question"].strip()) < 3:
        wrong.append("empty question")
    for message in row["history"]:
        if not (isinstance(message, dict) and message.get("role") in ("user", "assistant")):
            wrong.append('history messages are {"role": "user"|"assistant", "content": "…"}')
        elif not isinstance(message.get("content"), str) or not message["content"].strip():
            wrong.append("a history message has no content")
    if row["kind"] == "followup" and not any(m.get("role") == "user" for m in row["history"] if isinstance(m, dict)):
        wrong.append("a followup needs the earlier user question in history")
    text = documents[row["doc"]]
    if row["answerable"]:
        if row["kind"] == "unanswerable":
            wrong.append("kind unanswerable with answerable true")
        if not row["answers"]:
            wrong.append("an answerable question needs answers")
        if not row["key"]:
            wrong.append("an answerable question needs a key")
        for answer in row["answers"]:
            if len(normalise(answer)) < MIN_ANSWER_CHARS:
                wrong.append(f"answer too short (under {MIN_ANSWER_CHARS} characters): « {answer} »")
            elif normalise(answer) not in text:
                wrong.append(f"answer not found word for word in {row['doc']}: « {answer[:120]} »")
        joined = " || ".join(normalise(a) for a in row["answers"])
        for key in row["key"]:
            if not normalise(key) or normalise(key).casefold() not in joined.casefold():
                wrong.append(f"key « {key} » is in none of the answers")
    else:
        if row["kind"] not in ("unanswerable", "false_premise"):
            wrong.append("answerable false goes with kind unanswerable")
        if row["answers"] or row["key"]:
            wrong.append("an unanswerable question has no answers and no key")
    return wrong


def check(paths: list[Path]) -> int:
    documents = document_texts()
    seen: set[str] = set()
    errors = 0
    by_doc: Counter[tuple[str, bool]] = Counter()
    by_kind: Counter[str] = Counter()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                print(f"{path.name}:{number}: not JSON ({err.msg})")
                errors += 1
                continue
            wrong = problems(row, documents)
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                if row["id"] in seen:
                    wrong.append(f"id « {row['id']} » used twice")
                seen.add(row["id"])
            for message in wrong:
                print(f"{path.name}:{number}: {message}")
            errors += bool(wrong)
            if not wrong:
                by_doc[(row["doc"], row["answerable"])] += 1
                by_kind[row["kind"] if row["answerable"] else "unanswerable"] += 1
    print(f"\n{sum(by_doc.values())} valid questions, {errors} wrong lines")
    for doc in sorted({d for d, _ in by_doc}):
        print(f"  {doc}: {by_doc[(doc, True)]} answerable, {by_doc[(doc, False)]} unanswerable")
    print("  by kind: " + ", ".join(f"{k} {by_kind[k]}" for k in KINDS if by_kind[k]))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(check([Path(p) for p in sys.argv[1:]]))
