"""Runs the question set through each retrieval configuration, side by side, and scores it.

One embedding model and one Chroma store are loaded per run; each configuration gets its own
`Assistant` over them. `run` does it all and writes the report; `run_configs` only measures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import AssistantError
from assistant.search.found import Retrieval
from evals import EvalError
from evals.metrics import (
    Outcome,
    citation_markers,
    citations_valid,
    contains_any,
    echoed_markup,
    gate_failures,
    has_key_facts,
    markup_in,
    passage_text,
    summarize,
    unsupported_figures,
)
from evals.questions import QUESTIONS_FILE, SPLITS, Question, load_questions, select

EVALS_DIR = Path(__file__).resolve().parent
# The first set, written with the code and tuned on for months: still run and reported, never gated.
OLD_QUESTIONS_FILE = EVALS_DIR / "questions.jsonl"
THRESHOLDS_FILE = EVALS_DIR / "thresholds.json"
# The gate with documents nobody tuned on added to corpus/ (`--check --add-corpus evals/added-corpus`):
# adding documents must not change how often the assistant declines.
ADDED_THRESHOLDS_FILE = EVALS_DIR / "thresholds-added.json"
REPORT_DIR = EVALS_DIR / "report"

# Each configuration is a set of setting overrides; `hybrid` is what the product ships. All share one
# model and one index (the reader's): `hybrid-fused` is the decision used before the reader (fused
# ranks and a chain of checks) on the same retrieval. BM25 alone has no similarity for the reader
# to score, so it decides the former way.
CONFIGS: dict[str, dict[str, Any]] = {
    "bm25": {"retrieval_mode": "bm25", "followups": True, "decision": "fused", "offtopic_dense_score": 0.80},
    "dense": {"retrieval_mode": "dense", "followups": True},
    "hybrid-no-followup": {"retrieval_mode": "hybrid", "followups": False},
    # Its thresholds recalibrated on dev for the reader's index (the old calibration, on dev).
    "hybrid-fused": {
        "retrieval_mode": "hybrid",
        "followups": True,
        "decision": "fused",
        "max_sentences": 3,
        "min_dense_score": 0.70,
        "min_dense_score_en": 0.0,
        "min_coverage": 0.0,
        "coverage_weight": 0.05,
        "min_support": 0.74,
        "min_unit_score": 0.25,
        "min_unit_score_en": 0.0,
        "offtopic_dense_score": 0.80,  # on cosine similarities, as before the reader
    },
    "hybrid": {"retrieval_mode": "hybrid", "followups": True},
    # The product with a language model writing the answers (ASSISTANT_LLM_*; the packaged SmolLM2
    # when none is configured). Not run unless asked: `--configs hybrid llm`.
    "llm": {"retrieval_mode": "hybrid", "followups": True, "answer_mode": "llm"},
}
DEFAULT_CONFIGS = ("bm25", "dense", "hybrid-no-followup", "hybrid-fused", "hybrid")
PRODUCT_CONFIG = "hybrid"
GATE_SPLIT = "test"
SPLIT_CHOICES = (*SPLITS, "all")
# Asked once per configuration before timing, so the first timed question pays no warm-up.
WARM_UP_QUESTION = "Quel est le niveau du titre ?"

_GATE_NEEDS = (
    f"The quality gate reads the « {PRODUCT_CONFIG} » configuration on the « {GATE_SPLIT} » split: "
    f"run with --split {GATE_SPLIT} or all, and keep {PRODUCT_CONFIG} in --configs."
)

Progress = Callable[[int, int], None]  # (questions done, questions to do), across configurations


def _score_retrieval(retrieval: Retrieval | None, question: Question, passages: list[str], outcome: Outcome) -> None:
    """Ranks of the retrieved passages that hold the evidence."""
    pieces = question.pieces
    outcome.relevant_total = sum(contains_any(p, pieces) for p in passages)
    texts = [passage_text(h.section, h.chunk.text) for h in retrieval.hits] if retrieval else []
    outcome.relevance = [contains_any(t, pieces) for t in texts]
    outcome.all_pieces = all(any(contains_any(t, [piece]) for t in texts) for piece in pieces)


def evaluate(assistant: Assistant, question: Question, passages: list[str]) -> Outcome:
    """Asks one question and scores the answer, the citations and the retrieval.

    Args:
        assistant: the configuration under test.
        question: the question, its history and what is expected.
        passages: every indexed passage (heading path and text), to count the relevant ones.
    """
    outcome = Outcome(
        id=question.id,
        kind=question.kind,
        subset=question.subset,
        split=question.split,
        question=question.question,
        answerable=question.answerable,
        evidence=question.pieces,
        must_contain=list(question.must_contain),
        answer="",
        abstained=False,
        reason="error",
        latency_ms=0.0,
        has_markup=bool(markup_in(question.question)),
    )
    try:
        answer = assistant.ask(question.question, question.history)
        if question.answerable and question.pieces:
            _score_retrieval(answer.retrieval, question, passages, outcome)
    except AssistantError as err:  # one failing question is a failure, not the end of the run
        outcome.error = f"{type(err).__name__}: {err}"
        return outcome

    outcome.answer = answer.text
    outcome.abstained = answer.abstained
    outcome.reason = answer.reason
    outcome.latency_ms = answer.latency_ms
    outcome.timings_ms = dict(answer.timings_ms)
    outcome.cited_sections = [c.section for c in answer.citations]
    outcome.mode, outcome.fallback, outcome.dropped = answer.mode, answer.fallback, len(answer.dropped)
    if not answer.abstained:
        outcome.unsupported_figures = unsupported_figures(
            answer.text, [c.to_dict() for c in answer.citations], question.question
        )
    outcome.echoed = echoed_markup(question.question, answer.text)
    if not answer.abstained or answer.citations or citation_markers(answer.text):
        outcome.citations_valid = citations_valid(answer.text, [c.n for c in answer.citations], answer.abstained)
    if question.answerable:
        outcome.key_facts = not answer.abstained and has_key_facts(answer.text, question.must_contain)
        if not answer.abstained:
            needles = question.pieces + question.must_contain
            outcome.cited = len(answer.citations)
            passages_cited = [passage_text(c.section, c.text) for c in answer.citations]
            outcome.cited_relevant = sum(contains_any(p, needles) for p in passages_cited)
    return outcome


@dataclass
class EvalRun:
    """Every outcome of a run, and its figures per configuration, split and kind."""

    configs: list[str]
    outcomes: dict[str, list[Outcome]]
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # config -> split -> figures
    by_kind: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)  # … -> kind -> figures
    by_subset: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)  # … -> subset -> …

    @property
    def splits(self) -> list[str]:
        """The splits with questions in this run, then "all" when there are two."""
        present = [s for s in SPLITS if any(o.split == s for o in next(iter(self.outcomes.values()), []))]
        return present + ["all"] if len(present) > 1 else present

    def compute(self) -> None:
        """Fills `summary` and `by_kind` from the outcomes."""
        for config, outcomes in self.outcomes.items():
            self.summary[config] = {}
            self.by_kind[config] = {}
            for split in self.splits:
                chosen = [o for o in outcomes if split == "all" or o.split == split]
                self.summary[config][split] = summarize(chosen)
                kinds = sorted({o.kind for o in chosen})
                self.by_kind[config][split] = {k: summarize([o for o in chosen if o.kind == k]) for k in kinds}
                subsets = sorted({o.subset for o in chosen if o.subset})
                self.by_subset.setdefault(config, {})[split] = {
                    s: summarize([o for o in chosen if o.subset == s]) for s in subsets
                }

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "configs": {name: CONFIGS[name] for name in self.configs},
            "splits": self.splits,
            "summary": self.summary,
            "by_kind": self.by_kind,
            "by_subset": self.by_subset,
            "outcomes": {name: [o.to_dict() for o in outcomes] for name, outcomes in self.outcomes.items()},
        }


def open_index(settings: Settings, embeddings: Embeddings) -> tuple[Any, dict[str, Any]]:
    """The Chroma store, brought in line with the corpus first (an incremental ingest: only what
    changed is embedded; nothing when the index is up to date), so that what is measured is the
    corpus as it is, cut into sentences as the code cuts them.

    Returns the store and what was done (for the report).
    """
    from assistant.ingest.indexing import ingest, model_name
    from assistant.search.store import ChunkStore

    store = ChunkStore.open(settings)
    info: dict[str, Any] = {"index": store.where, "built": False}
    started = time.perf_counter()
    summary = ingest(settings, embeddings, store)
    if summary.added or summary.removed or summary.units:
        info.update(built=True, ingest_s=round(time.perf_counter() - started, 2), chunks=summary.chunks)
    info["index_model"] = (store.live_collection().metadata or {}).get("embedding_model", "")
    info["query_model"] = model_name(embeddings)
    return store, info


def _overrides(name: str, settings: Settings) -> dict[str, Any]:
    """The settings a configuration changes; llm falls back on the packaged SmolLM2 model."""
    values = dict(CONFIGS[name])
    if values.get("answer_mode") == "llm" and not (settings.llm_base_url or settings.llm_gguf):
        values["llm_gguf"] = "smollm2"
    return values


def run_configs(
    settings: Settings,
    questions: Sequence[Question],
    configs: Sequence[str] = DEFAULT_CONFIGS,
    embeddings: Embeddings | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Runs every question through every configuration over one model and one index.

    Raises:
        EvalError: an unknown configuration name.
        AssistantError: the model or the index cannot be loaded.
    """
    from assistant.models.embeddings import load_embeddings

    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise EvalError(f"Unknown configuration(s) {', '.join(unknown)}; choose among {', '.join(CONFIGS)}.")
    started = time.perf_counter()
    embeddings = embeddings or load_embeddings(settings)
    loaded = time.perf_counter()
    store, index_info = open_index(settings, embeddings)
    chunks, _ = store.read_all(store.live_collection())
    passages = [passage_text(str(c.metadata.get("section", "")), c.text) for c in chunks]

    outcomes: dict[str, list[Outcome]] = {}
    seconds: dict[str, float] = {}
    done, total = 0, len(questions) * len(configs)
    for name in configs:
        config_started = time.perf_counter()
        if hasattr(embeddings, "forget_questions"):  # each configuration's latency without the others' vectors
            embeddings.forget_questions()
        assistant = Assistant(settings.model_copy(update=_overrides(name, settings)), embeddings, store)
        assistant.ask(WARM_UP_QUESTION)
        outcomes[name] = []
        for question in questions:
            outcomes[name].append(evaluate(assistant, question, passages))
            done += 1
            if progress:
                progress(done, total)
        seconds[name] = round(time.perf_counter() - config_started, 2)

    evaluation = EvalRun(list(configs), outcomes)
    evaluation.meta = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "questions": len(questions),
        "passages": len(chunks),
        "embeddings": settings.embeddings,
        "top_k": settings.top_k,
        "model_load_s": round(loaded - started, 2),
        "config_s": seconds,
        "total_s": round(time.perf_counter() - started, 2),
        **index_info,
    }
    evaluation.compute()
    return evaluation


def run(
    settings: Settings,
    out_dir: Path = REPORT_DIR,
    split: str = "all",
    configs: Sequence[str] = DEFAULT_CONFIGS,
    limit: int | None = None,
    embeddings: Embeddings | None = None,
    progress: Progress | None = None,
    questions_file: Path = QUESTIONS_FILE,
    thresholds: dict[str, float] | None = None,
) -> tuple[EvalRun, list[str]]:
    """Loads the questions, runs the configurations, writes the report to `out_dir`.

    Args:
        thresholds: when given, the quality gate is checked and its verdict goes in the report.

    Returns:
        The run, and the gate failures (empty when the gate passed or was not asked for).

    Raises:
        EvalError: bad question file, split, configuration, or a gate that cannot be checked.
        AssistantError: the model or the index cannot be loaded.
    """
    from evals.report import write_report

    if split not in SPLIT_CHOICES:
        raise EvalError(f"Unknown split « {split} »; choose among {', '.join(SPLIT_CHOICES)}.")
    if thresholds is not None and (split not in (GATE_SPLIT, "all") or PRODUCT_CONFIG not in configs):
        raise EvalError(_GATE_NEEDS)
    questions = select(load_questions(questions_file), split, limit)
    if not questions:
        raise EvalError(f"No question in split « {split} ».")
    evaluation = run_configs(settings, questions, configs, embeddings, progress)
    failures = check_gate(evaluation, thresholds) if thresholds is not None else []
    if thresholds is not None:
        evaluation.meta["gate"] = {"thresholds": thresholds, "passed": not failures, "failures": failures}
    write_report(evaluation, out_dir)
    return evaluation, failures


def load_thresholds(path: Path = THRESHOLDS_FILE) -> dict[str, float]:
    """The quality gate: metric name -> minimum (or maximum, for names ending in `_max`).

    Raises:
        EvalError: the file is missing, not JSON, or names a metric that does not exist.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise EvalError(f"Cannot read the thresholds file {path}: {err.strerror}.") from err
    except json.JSONDecodeError as err:
        raise EvalError(f"{path} is not valid JSON ({err.msg}, line {err.lineno}).") from err
    if not isinstance(data, dict) or not all(isinstance(v, int | float) for v in data.values()):
        raise EvalError(f"{path} must map metric names to numbers.")
    known = set(summarize([]))
    unknown = [name for name in data if name.removesuffix("_max") not in known]
    if unknown:
        raise EvalError(f"{path}: unknown metric(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    return {name: float(value) for name, value in data.items()}


def check_gate(evaluation: EvalRun, thresholds: dict[str, float]) -> list[str]:
    """One message per metric of the product configuration, on the test split, that misses its
    threshold; [] when all pass.

    Raises:
        EvalError: the run has no test split or no product configuration to check.
    """
    figures = evaluation.summary.get(PRODUCT_CONFIG, {}).get(GATE_SPLIT)
    if figures is None:
        raise EvalError(_GATE_NEEDS)
    return gate_failures(figures, thresholds, f"{GATE_SPLIT}/{PRODUCT_CONFIG}")
