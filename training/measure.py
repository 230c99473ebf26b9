"""Figures of a reader on questions it was not trained on: does its best sentence answer, and
does its best score tell answerable questions from the others?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from training.data import Example, TrainingSet


@dataclass(frozen=True)
class Figures:
    questions: int
    top1: float  # answerable questions whose best sentence answers them
    top3: float
    auc: float  # best score, answerable above unanswerable
    declined_unanswerable: float  # at the threshold given
    answered_right: float  # answerable, best score over the threshold and best sentence answers

    def line(self) -> str:
        return (
            f"{self.questions} questions: top-1 {self.top1:.3f}, top-3 {self.top3:.3f}, AUC {self.auc:.3f}, "
            f"answered right {self.answered_right:.3f}, unanswerable declined {self.declined_unanswerable:.3f}"
        )


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return float("nan")
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def measure(
    data: TrainingSet,
    examples: list[Example],
    embed_queries: Callable[[list[Example]], np.ndarray],
    embed_units: Callable[[list[str]], np.ndarray],
    threshold: float,
) -> Figures:
    """Ranks the sentences of each question's own document by the reader's similarity."""
    by_source: dict[str, list[str]] = {}
    for example in examples:
        by_source.setdefault(example.source, [u.id for u in data.units_of_source(example.source)])
    unit_vectors = {}
    for units in by_source.values():
        unit_vectors.update(zip(units, embed_units(units), strict=True))
    queries = embed_queries(examples)
    top1 = top3 = right = 0
    best_answerable, best_other = [], []
    for example, vector in zip(examples, queries, strict=True):
        units = by_source[example.source]
        scores = np.asarray([unit_vectors[u] for u in units]) @ vector
        order = np.argsort(-scores)
        best = float(scores[order[0]])
        if example.answerable:
            best_answerable.append(best)
            hit1 = units[order[0]] in example.positives
            top1 += hit1
            top3 += any(units[i] in example.positives for i in order[:3])
            right += hit1 and best >= threshold
        else:
            best_other.append(best)
    answerable = max(1, len(best_answerable))
    return Figures(
        questions=len(examples),
        top1=top1 / answerable,
        top3=top3 / answerable,
        auc=auc(best_answerable, best_other),
        declined_unanswerable=float(np.mean([b < threshold for b in best_other])) if best_other else float("nan"),
        answered_right=right / answerable,
    )
