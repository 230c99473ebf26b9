"""Freezes the blind question set: `python -m evals.split` joins the writers' files in
`evals/blind/` into `evals/blind.jsonl`, each question's split drawn from a hash of its id, and
those of `evals/blind-dev/` into the dev split.

The split depends on nothing but the id, so it was fixed before anyone ran a question, and
adding questions never moves one from a split to the other. `evals/blind-dev/` holds questions
written after the test split was frozen (on the same documents, by writers who had not seen
`evals/`): they go to dev alone, so that choosing and calibrating rest on more questions while
the test split stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

BLIND_DIR = Path(__file__).resolve().parent / "blind"
DEV_DIR = Path(__file__).resolve().parent / "blind-dev"  # written later: dev only
OUT = Path(__file__).resolve().parent / "blind.jsonl"


def split_of(question_id: str) -> str:
    """« dev » or « test », half and half, from the id alone."""
    return "dev" if int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def main() -> int:
    rows = []
    for path in sorted(BLIND_DIR.glob("*.jsonl")) + sorted(DEV_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["split"] = "dev" if path.parent == DEV_DIR else split_of(row["id"])
                row["set"] = path.stem  # who wrote it, on which documents: flyer, docs, dva…
                rows.append(row)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(
        f"{len(rows)} questions -> {OUT.name}: "
        + ", ".join(f"{s} {sum(r['split'] == s for r in rows)}" for s in ("dev", "test"))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
