"""Calibrates the abstention checks on the dev split: `python -m evals.calibrate`.

Every dev question is answered with the checks off; for each, the signals the checks read (best
sentence similarity, coverage, the best sentence's fused score) and whether the answer held the key
facts are kept. Then every combination of thresholds on a grid is replayed over them, and the one that answers the most
answerable questions correctly while declining the unanswerable ones is printed (score: correct
answers + declined unanswerables − WRONG_COST × wrong answers; 1 by default, CALIBRATE_WRONG_COST
to change it). The test split is never read.
"""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass

from evals.metrics import ADVERSARIAL_KINDS, has_key_facts
from evals.runner import QUESTIONS_FILE, load_questions, select

# What a wrong answer costs against a right one (a declined answerable question costs 0).
WRONG_COST = float(os.environ.get("CALIBRATE_WRONG_COST", "1"))
_OFF = {
    "min_dense_score": -1.0,
    "min_dense_score_en": -1.0,
    "min_coverage": -1.0,
    "min_support": -1.0,
    "min_unit_score": -1.0,
    "min_unit_score_en": -1.0,
}


@dataclass(frozen=True)
class Signals:
    answerable: bool
    language: str
    refused: bool  # by the guard or as off-topic: thresholds do not change it
    best: float
    coverage: float
    score: float  # the best sentence's fused score (Answer.score)
    right: bool  # the answer held every key string


def collect() -> list[Signals]:
    from assistant.config import Settings
    from assistant.core import Assistant
    from assistant.models.embeddings import load_embeddings
    from assistant.search.store import ChunkStore

    settings = Settings(**_OFF)
    embeddings = load_embeddings(settings)
    assistant = Assistant(settings, embeddings, ChunkStore.open(settings))
    rows = []
    for q in select(load_questions(QUESTIONS_FILE), "dev"):
        if q.kind in ADVERSARIAL_KINDS and not q.answerable:
            continue
        answer = assistant.ask(q.question, q.history)
        retrieval = answer.retrieval
        rows.append(
            Signals(
                answerable=q.answerable,
                language=answer.language,
                refused=answer.abstained,
                best=retrieval.best_dense if retrieval else 0.0,
                coverage=answer.coverage,
                score=answer.score,
                right=q.answerable and not answer.abstained and has_key_facts(answer.text, q.must_contain),
            )
        )
    return rows


def replay(
    rows: list[Signals],
    dense: float,
    dense_en: float,
    coverage: float,
    weight: float,
    support: float,
    score: float,
    score_en: float,
) -> tuple[float, int, int, int]:
    """The score of one combination, then answerable questions answered right, answered wrong,
    and unanswerable ones declined."""
    right = wrong = declined_ok = 0
    for r in rows:
        floor = dense_en if r.language == "en" else dense
        least = score_en if r.language == "en" else score
        declined = (
            r.refused
            or r.best < floor
            or r.coverage < coverage
            or r.best + weight * r.coverage < support
            or r.score < least
        )
        if r.answerable and not declined:
            right += r.right
            wrong += not r.right
        elif not r.answerable and not declined:
            wrong += 1
        elif not r.answerable:
            declined_ok += 1
    return right + declined_ok - WRONG_COST * wrong, right, wrong, declined_ok


def main() -> int:
    rows = collect()
    grid = itertools.product(
        [0.76, 0.78, 0.80, 0.82, 0.84],
        [0.74, 0.76, 0.78, 0.80, 0.82],
        [0.0, 0.2, 0.3, 0.4, 0.5, 0.6],
        [0.0, 0.05, 0.1, 0.2],
        [0.0, 0.84, 0.86, 0.88, 0.90, 0.92],
        [0.0, 0.18, 0.19, 0.20, 0.21, 0.22, 0.23, 0.24, 0.25],
        [0.0, 0.10, 0.12, 0.13, 0.14, 0.15],
    )
    ranked = sorted(((replay(rows, *values), values) for values in grid), key=lambda pair: -pair[0][0])
    (score, right, wrong, declined), best = ranked[0]
    answerable = sum(r.answerable for r in rows)
    names = (
        "min_dense_score",
        "min_dense_score_en",
        "min_coverage",
        "coverage_weight",
        "min_support",
        "min_unit_score",
        "min_unit_score_en",
    )
    print(
        f"{len(rows)} dev questions, a wrong answer costing {WRONG_COST}: best score {score:.1f}; answered right "
        f"{right}/{answerable}, wrong {wrong}, unanswerable declined {declined}/{len(rows) - answerable}, with:"
    )
    for name, value in zip(names, best, strict=True):
        print(f"  ASSISTANT_{name.upper()}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
