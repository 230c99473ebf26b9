"""Calibrates the reader's decision on the dev split: `python -m evals.calibrate`.

Every dev question is retrieved once, alone and (for an elliptic one with a history) with the
previous user turn, as the assistant does. For each combination of the decision's settings that
change what is quoted or how it scores (`reader_margin`, `reader_title_prior`,
`reader_share_weight`, `max_sentences`, `reader_passage_weight`, `reader_named_prior`,
`reader_figure_weight`), the decision runs with its threshold off and each
question's best reader score and outcome are kept (for a question in parts, also the outcome at
each part's score, where what the decision keeps changes); then each threshold of a grid is replayed
over them, the assistant's reading of follow-ups included. Settings that answer an example question of the
profile wrong (`[example_facts]`: the first thing a user clicks) are left out; declining one is
allowed, and printed (`CALIBRATE_EXAMPLES_RIGHT=N` also leaves out those that answer fewer than N
of them right). With CALIBRATE_UNSURE=1, the settings above stay as configured and the threshold's
rise for an unsure best sentence is swept instead (`reader_unsure_gap` × `reader_unsure_penalty`);
with CALIBRATE_LATE=1, the share of late interaction in each sentence's similarity
(`reader_late_weight`, `search/late.py`); with CALIBRATE_LATE=2, that share with the word share
and the passage's share. A sweep of a few settings prints each one's best.
Of the rest, the combination printed is the one that does best on:
answerable questions answered right + unanswerable ones declined − WRONG_COST × wrong answers
(1 by default, as before the reader: CALIBRATE_WRONG_COST; « 1,2 » prints both from one pass).
The test split is never read. The questions written for dev after the test split was frozen
(`evals/blind-dev/`) count with the others; the figures on the frozen set's dev questions alone
follow, to compare with calibrations made before them.

It also prints two steadier figures, for comparing readers rather than choosing settings: the
mean of the 10 best settings' scores and the mean over every setting (each at its best
thresholds, examples never wrong). The best setting alone is noisy on 162 questions: a reader
that is better at every setting can lose there by a few points.

Measured (December 2026, the committed adapter): requiring every example to be answered right
pins the threshold under the lowest example's score (0.75) and costs 13 dev points (69 against
82: 39 wrong answers against 19).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from evals.metrics import has_key_facts
from evals.questions import QUESTIONS_FILE, load_questions, select

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.reading.question import Question

COSTS = tuple(float(c) for c in os.environ.get("CALIBRATE_WRONG_COST", "1").split(","))
WRONG_COST = COSTS[0]
# Thresholds that answer fewer of the profile's example questions right are left out (0: none is).
EXAMPLES_RIGHT = int(os.environ.get("CALIBRATE_EXAMPLES_RIGHT", "0"))
MARGINS = (0.08, 0.12)
PRIORS = (0.0, 0.06, 0.09, 0.12)
NAMED_PRIORS = (0.1, 0.15, 0.2, 0.25, 0.3)
FIGURES = (0.0, 0.03)
SHARES = (0.05, 0.1, 0.15)
SENTENCES = (4,)
PASSAGES = (0.0, 0.2, 0.4, 0.6)
# The threshold's rise when the best sentence is unsure (`reader_unsure_gap`, `reader_unsure_penalty`):
# as configured, or swept with CALIBRATE_UNSURE=1, the other settings then fixed at the ones configured.
UNSURE = os.environ.get("CALIBRATE_UNSURE", "") not in ("", "0")
GAPS = (0.0, 0.01, 0.02, 0.03)
# The share of late interaction in a sentence's similarity (`reader_late_weight`): as configured, or
# swept with CALIBRATE_LATE=1, the other settings then fixed at the ones configured.
LATE = os.environ.get("CALIBRATE_LATE", "") not in ("", "0")
LATE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# CALIBRATE_LATE=2: the late share with the word share and the passage's share (SHARES × PASSAGES).
LATE_WIDE = os.environ.get("CALIBRATE_LATE", "") == "2"
LATE_WIDE_WEIGHTS = (0.0, 0.5, 0.75)
PENALTIES = (0.0, 0.04, 0.08, 0.12)
# What names a setting, in the order of its key (then the two thresholds).
NAMES = ("reader_margin", "reader_title_prior", "reader_share_weight", "max_sentences", "reader_passage_weight")
NAMES += ("reader_named_prior", "reader_figure_weight", "reader_late_weight")
NAMES += ("reader_unsure_gap", "reader_unsure_penalty")
# Filled by `collect`: for each combination, each example question's reader score and whether its
# quotes hold its key facts.
EXAMPLES: dict[tuple[float, ...], list[tuple[str, float, bool]]] = {}
THRESHOLDS = tuple(round(0.55 + 0.005 * i, 3) for i in range(90))


@dataclass(frozen=True)
class Pass:
    """One retrieval of a question and the decision on it, threshold off."""

    top: float  # the best reader score
    answered: bool  # the decision quoted something (not declined for another reason)
    right: bool  # the quotes hold every key string
    # A question in parts keeps each part the reader accepts, so what it shows changes at each
    # part's score: (score, answered, right) of the decision at a threshold equal to each of them,
    # lowest first. Empty: `top` alone is compared with the threshold.
    steps: tuple[tuple[float, bool, bool], ...] = ()
    shift: float = 0.0  # the threshold's rise for this question (an unsure best sentence)

    def shown(self, threshold: float) -> bool | None:
        """Whether what the decision shows at `threshold` is right; None when it declines."""
        threshold += self.shift
        if not self.steps:
            return self.right if self.answered and self.top >= threshold else None
        for score, answered, right in self.steps:
            if threshold <= score:
                return right if answered else None
        return None


@dataclass(frozen=True)
class Row:
    answerable: bool
    language: str
    alone: Pass
    with_context: Pass | None  # an elliptic question read with its history (shown first), when it has one
    reachable: bool = False  # the candidate sentences hold every key string (what the reader could find)
    subset: str = ""  # the writer's file the question comes from


def collect() -> dict[tuple[float, ...], list[Row]]:
    from dataclasses import replace

    from assistant.answer.decide import _best, decide, reader_scores, similarities, source_gap
    from assistant.config import load_settings, settings_with
    from assistant.core import Assistant, previous_user_turn
    from assistant.models.embeddings import load_embeddings
    from assistant.reading.question import read_question
    from evals.runner import open_index

    configured = load_settings()
    gaps = GAPS if UNSURE else (configured.reader_unsure_gap,)
    penalties = PENALTIES if UNSURE else (configured.reader_unsure_penalty,)
    # The threshold off, and its rise when unsure too: `shifts` replays that one for each question.
    # Late interaction computed when configured or swept (`reader_late_weight` > 0 at load).
    late = configured.reader_late_weight or (max(LATE_WEIGHTS) if LATE else 0.0)
    settings = load_settings(
        reader_threshold=-1.0, reader_threshold_en=-1.0, reader_unsure_penalty=0.0, reader_late_weight=late
    )
    embeddings = load_embeddings(settings)
    store, _ = open_index(settings, embeddings)  # built from corpus/ first when there is none
    assistant = Assistant(settings, embeddings, store)
    retrieved = []
    for q in select(load_questions(QUESTIONS_FILE), "dev"):
        question = read_question(q.question, settings.max_question_chars)
        if not calibrated(question, refused_by_head(assistant, question)):
            continue
        previous = previous_user_turn(assistant._clean_history(q.history))
        alone = assistant.retriever.retrieve(question)
        context = assistant.retriever.retrieve(question, previous) if previous and question.elliptic else None
        retrieved.append((q, question, alone, context))
    examples = [
        (read_question(q, settings.max_question_chars), facts) for q, facts in assistant.profile.example_facts.items()
    ]
    examples_retrieved = [(question, facts, assistant.retriever.retrieve(question)) for question, facts in examples]
    rows: dict[tuple[float, ...], list[Row]] = {}
    EXAMPLES.clear()
    lates = (configured.reader_late_weight,)
    grid = itertools.product(MARGINS, PRIORS, SHARES, SENTENCES, PASSAGES, NAMED_PRIORS, FIGURES, lates)
    if UNSURE or LATE:  # the settings as configured (the late share swept with CALIBRATE_LATE)
        fixed = [(getattr(configured, name),) for name in NAMES[:-3]]
        if LATE_WIDE:  # and the word share and the passage's share with it
            fixed[NAMES.index("reader_share_weight")], fixed[NAMES.index("reader_passage_weight")] = SHARES, PASSAGES
        grid = itertools.product(*fixed, LATE_WIDE_WEIGHTS if LATE_WIDE else LATE_WEIGHTS if LATE else lates)
    for setting in grid:
        variant = settings_with(settings, **dict(zip(NAMES, setting, strict=False)))

        def judge(q, question, retrieval, variant=variant) -> Pass:  # type: ignore[no-untyped-def]
            def run(threshold: float) -> tuple[bool, bool, float, tuple[float, ...]]:
                # Two floats of settings already validated: a plain copy (validating costs more than the decision).
                at = variant.model_copy(update={"reader_threshold": threshold, "reader_threshold_en": threshold})
                decision = decide(question, retrieval, assistant.corpus, at, assistant.profile)
                right = q.answerable and not decision.abstained and has_key_facts(decision.text, q.must_contain)
                return not decision.abstained, right, decision.score, decision.confidences

            answered, right, top, confidences = run(-1.0)
            steps = tuple((c, *run(c)[:2]) for c in sorted(set(confidences)))
            return Pass(top, answered, right, steps)

        def shifts(retrieval, variant=variant) -> dict[tuple[float, float], float]:  # type: ignore[no-untyped-def]
            """The threshold's rise for each (gap, penalty) swept (`unsure_shift`)."""
            if not retrieval.units:
                return dict.fromkeys(itertools.product(gaps, penalties), 0.0)
            dense = similarities(retrieval, variant)
            best = _best(retrieval.units, reader_scores(dense, retrieval, variant, assistant.profile))
            sure = reader_scores(dense, retrieval, variant, assistant.profile, named=False)
            seen = source_gap(retrieval.units, sure, best)
            return {(g, p): p if seen is not None and seen <= g else 0.0 for g, p in itertools.product(gaps, penalties)}

        examples_seen = [
            (question.text, d.score, has_key_facts(d.text, list(facts)), shifts(retrieval))
            for question, facts, retrieval in examples_retrieved
            for d in [decide(question, retrieval, assistant.corpus, variant, assistant.profile)]
        ]
        judged = [  # each question's passes, threshold off, and the threshold's rise for each (gap, penalty)
            (
                judge(q, question, alone),
                shifts(alone),
                context and judge(q, question, context),
                context and shifts(context),
            )
            for q, question, alone, context in retrieved
        ]
        for gap, penalty in itertools.product(gaps, penalties):
            if penalty == 0 and gap != gaps[0]:
                continue  # no rise: the gap does not matter
            key = (*setting, gap, penalty)
            EXAMPLES[key] = [(text, score - shift[(gap, penalty)], ok) for text, score, ok, shift in examples_seen]
            rows[key] = [
                Row(
                    q.answerable,
                    question.language,
                    replace(first, shift=first_shifts[(gap, penalty)]),
                    retry and replace(retry, shift=retry_shifts[(gap, penalty)]),
                    q.answerable and any(has_key_facts(_candidates(r), q.must_contain) for r in (alone, context) if r),
                    q.subset,
                )
                for (first, first_shifts, retry, retry_shifts), (q, question, alone, context) in zip(
                    judged, retrieved, strict=True
                )
            ]
    return rows


def calibrated(question: Question, head_refuses: bool = False) -> bool:
    """Whether the threshold decides a question's outcome: not when the guard (its patterns or the
    refusal head) refuses it or it holds no word at all. An injection, medical or personal question
    the guard lets through is answered or declined by the threshold like any unanswerable one (dev,
    December 2026: one asking which anti-inflammatory to take, declined at 0.81, answered at 0.77),
    so it counts."""
    return question.refusal is None and question.has_words and not head_refuses


def refused_by_head(assistant: Assistant, question: Question) -> bool:
    """Whether the assistant's refusal head, when it has one, refuses the question."""
    head = assistant.refusal_head
    if head is None or question.refusal is not None or not question.has_words:
        return False
    return head.kind(np.asarray(assistant.embeddings.embed_query(question.text), dtype=np.float32)) is not None


def _candidates(retrieval) -> str:  # type: ignore[no-untyped-def]
    """Every candidate sentence of a retrieval, joined: what the reader chooses from."""
    return " ".join(u.unit.text for u in retrieval.units)


def _shown(r: Row, threshold: float) -> bool | None:
    """As `Assistant._answer_with_followup`: read with the history first, alone when that declines."""
    shown = r.with_context.shown(threshold) if r.with_context else None
    return r.alone.shown(threshold) if shown is None else shown


def replay(
    rows: list[Row], threshold: float, threshold_en: float, cost: float | None = None
) -> tuple[float, int, int, int]:
    """The score of thresholds, then answerable questions answered right, answered wrong, and
    unanswerable ones declined."""
    right = wrong = declined_ok = 0
    for r in rows:
        shown = _shown(r, threshold_en if r.language == "en" else threshold)
        if shown is None:
            declined_ok += not r.answerable
        elif r.answerable:
            right += shown
            wrong += not shown
        else:
            wrong += 1
    return right + declined_ok - (WRONG_COST if cost is None else cost) * wrong, right, wrong, declined_ok


def tallies(rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    """Right, wrong and declined-unanswerable counts at each of THRESHOLDS (3 × 90), for the
    questions not in English, then for those in English."""
    counts = {False: np.zeros((3, len(THRESHOLDS))), True: np.zeros((3, len(THRESHOLDS)))}
    for r in rows:
        group = counts[r.language == "en"]
        for i, threshold in enumerate(THRESHOLDS):
            shown = _shown(r, threshold)
            if shown is None:
                group[2, i] += not r.answerable
            else:
                group[0 if r.answerable and shown else 1, i] += 1
    return counts[False], counts[True]


def best_thresholds(
    rows: list[Row], cost: float, allowed: np.ndarray, counts: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[tuple[float, int, int, int], float, float] | None:
    """The pair of thresholds (French, English) that scores best, the first such pair as `replay`
    over THRESHOLDS × THRESHOLDS would find it, with its replay; None when no French threshold is
    `allowed`. `counts`: the rows' `tallies`, when already computed (they do not depend on `cost`)."""
    if not allowed.any():
        return None
    other, english = counts or tallies(rows)
    scores = (other[0] + other[2] - cost * other[1])[:, None] + (english[0] + english[2] - cost * english[1])[None, :]
    scores[~allowed, :] = -np.inf
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    right, wrong, declined = (int(other[k, i] + english[k, j]) for k in range(3))
    return (float(scores[i, j]), right, wrong, declined), THRESHOLDS[i], THRESHOLDS[j]


def _examples_ok(key: tuple[float, ...], threshold: float) -> bool:
    """No example question of the profile is answered wrong at this threshold (declining is
    allowed), and at least EXAMPLES_RIGHT of them are answered right."""
    examples = EXAMPLES[key]
    return all(right or score < threshold for _, score, right in examples) and (
        sum(right and score >= threshold for _, score, right in examples) >= EXAMPLES_RIGHT
    )


def steadier(
    ranked: list[tuple[tuple[float, int, int, int], tuple[float, ...]]], settings: int = len(NAMES)
) -> tuple[float, float]:
    """The mean score of the 10 best settings and of every setting, each setting at its best
    thresholds; `ranked`: (replay, setting + thresholds) pairs, best first; `settings`: how many
    leading values name the setting."""
    best: dict[tuple[float, ...], float] = {}
    for (score, *_), params in ranked:
        best.setdefault(params[:settings], score)
    scores = sorted(best.values(), reverse=True)
    return sum(scores[:10]) / len(scores[:10]), sum(scores) / len(scores)


def report(
    rows: dict[tuple[float, ...], list[Row]],
    cost: float,
    keep: Callable[[Row], bool],
    scope: str,
    counts: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Prints the best settings for the rows `keep` retains, a wrong answer costing `cost`;
    `counts`: each setting's `tallies` of those rows, when already computed."""
    ranked = []
    for key, found in rows.items():
        allowed = np.array([_examples_ok(key, t) for t in THRESHOLDS])
        kept = [r for r in found if keep(r)]
        best = best_thresholds(kept, cost, allowed, counts[key] if counts else None)
        if best:
            ranked.append((best[0], (*key, best[1], best[2])))
    ranked.sort(key=lambda pair: -pair[0][0])
    print(f"\n== {scope}, a wrong answer costing {cost:g} ==")
    if not ranked:
        print(
            f"No setting answers {EXAMPLES_RIGHT} of the profile's example questions right (CALIBRATE_EXAMPLES_RIGHT)."
        )
        return
    (score, right, wrong, declined), params = ranked[0]
    key, (t, t_en) = params[: len(NAMES)], params[len(NAMES) :]
    sample = [r for r in rows[key] if keep(r)]
    answerable = sum(r.answerable for r in sample)
    reachable = sum(r.reachable for r in sample)
    _, chosen_right, _, _ = replay(sample, -1.0, -1.0, cost)
    print(
        f"Candidates hold the key strings for {reachable}/{answerable} answerable dev questions; the reader's "
        f"quotes, threshold off, for {chosen_right}."
    )
    print(
        f"{len(sample)} dev questions, a wrong answer costing {cost:g}: best score {score:.1f}; answered right "
        f"{right}/{answerable}, wrong {wrong}, unanswerable declined {declined}/{len(sample) - answerable}, with:"
    )
    for name, value in (*zip(NAMES, key, strict=True), ("reader_threshold", t), ("reader_threshold_en", t_en)):
        print(f"  ASSISTANT_{name.upper()}={value}")
    if len(ranked) <= 40:  # a sweep of a few settings (CALIBRATE_UNSURE, CALIBRATE_LATE): each one's best
        varied = [i for i, _ in enumerate(NAMES) if len({p[i] for _, p in ranked}) > 1]
        for (each, r, w, d), each_params in ranked:
            swept = ", ".join(f"{NAMES[i]}={each_params[i]}" for i in varied)
            limits = each_params[len(NAMES) :]
            print(f"  {each:.1f} ({r} right / {w} wrong / {d} declined) at {swept}, thresholds {limits}")
    top10, every = steadier(ranked)
    print(f"Steadier, to compare readers: mean of the 10 best settings {top10:.1f}, of all {len(ranked)} {every:.1f}.")
    print("\nThe profile's example questions at those settings:")
    for text, example_score, example_right in EXAMPLES[key]:  # the score less the threshold's rise
        outcome = "declined" if example_score < t else "right" if example_right else "WRONG"
        print(f"  {example_score:.3f} {outcome:8s} {text}")
    print("\nThe curve at those settings (threshold: right, wrong, unanswerable declined):")
    for threshold in THRESHOLDS[::4]:
        _, r, w, d = replay(sample, threshold, t_en, cost)
        print(f"  {threshold:.3f}: {r}, {w}, {d}")


def main() -> int:
    from evals.split import DEV_DIR

    rows = collect()
    later = {path.stem for path in DEV_DIR.glob("*.jsonl")}
    scopes: list[tuple[str, Callable[[Row], bool]]] = [("dev", lambda r: True)]
    if any(r.subset in later for r in next(iter(rows.values()))):
        scopes.append(("dev, the frozen set's questions only", lambda r: r.subset not in later))
    counts = {  # computed once for every cost
        scope: {key: tallies([r for r in found if keep(r)]) for key, found in rows.items()} for scope, keep in scopes
    }
    for cost in COSTS:
        for scope, keep in scopes:
            report(rows, cost, keep, scope, counts[scope])
    return 0


if __name__ == "__main__":
    sys.exit(main())
