"""The eval report: Markdown tables, a JSON dump of every figure, and matplotlib charts.

`write_report` writes `report.md`, `report.json` and the PNGs into one folder;
`summary_table` is also what the command prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.metrics import Outcome
from evals.runner import PRODUCT_CONFIG

if TYPE_CHECKING:
    from evals.runner import EvalRun

# (key in the figures, column title); rates are shown as fractions, latencies in ms.
SUMMARY_COLUMNS = (
    ("questions", "n"),
    ("recall@1", "R@1"),
    ("recall@3", "R@3"),
    ("recall@5", "R@5"),
    ("mrr", "MRR"),
    ("ndcg@5", "nDCG@5"),
    ("accuracy", "Acc"),
    ("over_abstention", "Over-abst"),
    ("wrong_answers", "Wrong"),
    ("evidence_cited", "Evid-cited"),
    ("citation_validity", "Cit-valid"),
    ("citation_precision", "Cit-prec"),
    ("abstention_precision", "Abst-P"),
    ("abstention_recall", "Abst-R"),
    ("ontopic_declined", "On-topic declined"),
    ("refusal_rate", "Refusal"),
    ("markup_echo_free", "No-echo"),
    ("hallucinated_figures", "Invented figures"),
    ("model_answers", "Model answers"),
    ("fallbacks", "Fallbacks"),
    ("dropped_sentences", "Dropped"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("embed_p50_ms", "embed p50 ms"),
)
KIND_COLUMNS = (
    ("questions", "n"),
    ("correct", "Correct"),
    ("recall@1", "R@1"),
    ("recall@5", "R@5"),
    ("all_pieces@5", "All@5"),
    ("mrr", "MRR"),
    ("accuracy", "Acc"),
    ("over_abstention", "Over-abst"),
    ("citation_validity", "Cit-valid"),
    ("citation_precision", "Cit-prec"),
    ("abstention_recall", "Abst-R"),
    ("latency_p50_ms", "p50 ms"),
)
METRIC_NOTES = (
    ("R@k", "share of answerable questions with a passage holding the evidence in the top k retrieved"),
    ("MRR / nDCG@5", "mean 1/rank of the first such passage / binary nDCG over the top 5"),
    ("All@5", "every piece of a multi-part evidence within the top 5"),
    ("Acc", "answerable questions answered (no abstention) with every expected fact in the text"),
    ("Over-abst", "answerable questions the assistant abstained on (lower is better)"),
    ("Wrong", "answers shown that are wrong: an answerable question without its facts, an unanswerable one answered"),
    ("Evid-cited", "answered answerable questions whose citations hold the evidence or an expected fact"),
    ("Cit-valid", "answers whose [n] markers and listed citations match exactly"),
    ("Cit-prec", "cited passages that hold the evidence or an expected fact"),
    ("Abst-P / Abst-R", "precision / recall of abstaining, positives = unanswerable questions"),
    ("On-topic declined", "on-topic questions the documents do not answer (unanswerable, false_premise) declined"),
    ("Refusal", "injection, medical, personal and off-topic questions refused"),
    ("No-echo", "questions carrying markup whose answer hands none of it back"),
    ("Correct", "expected facts for answerable questions, abstention for the others"),
    ("p50 / p95 ms", "latency of `Assistant.ask` per question (question-vector cache emptied first)"),
    ("embed p50 ms", "of which embedding the question (target: p50 ≤ 1.5 × this + 5 ms)"),
)
FAILURE_ANSWER_CHARS = 220


def fmt(value: Any, key: str = "") -> str:
    """A figure for a table: rates with 3 decimals, latencies and counts as integers, — for None."""
    if value is None:
        return "—"
    if key.endswith("_ms"):
        return f"{value:.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.3f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(run: EvalRun) -> str:
    """Configuration × split rows with every headline metric."""
    rows = [
        [config, split, *(fmt(run.summary[config][split].get(key), key) for key, _ in SUMMARY_COLUMNS)]
        for split in run.splits
        for config in run.configs
    ]
    return markdown_table(["Config", "Split", *(title for _, title in SUMMARY_COLUMNS)], rows)


def kind_table(run: EvalRun, config: str, split: str) -> str:
    """One row per kind of question for one configuration and split."""
    figures = run.by_kind[config][split]
    rows = [[kind, *(fmt(figures[kind].get(key), key) for key, _ in KIND_COLUMNS)] for kind in figures]
    return markdown_table(["Kind", *(title for _, title in KIND_COLUMNS)], rows)


def is_failure(outcome: Outcome) -> bool:
    """Wrong answer or abstention, bad citations, echoed markup, or an error."""
    return bool(not outcome.correct or outcome.citations_valid is False or outcome.echoed or outcome.error)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    """Question / expected / got / cited sections, for each failure."""
    rows = []
    for o in outcomes:
        if not is_failure(o):
            continue
        expected = " + ".join(f"« {m} »" for m in o.must_contain) if o.answerable else "abstain"
        got = o.error or ("[abstained: " + o.reason + "] " if o.abstained else "") + o.answer
        problems = [p for p, bad in (("citations", o.citations_valid is False), ("echo", bool(o.echoed))) if bad]
        sections = "; ".join(s.split(" > ")[-1][:60] for s in o.cited_sections) or "—"
        rows.append(
            [
                f"{o.id} ({o.split})",
                o.kind,
                _one_line(o.question, 120),
                expected,
                _one_line(got, FAILURE_ANSWER_CHARS) + (f" **[{', '.join(problems)}]**" if problems else ""),
                sections,
            ]
        )
    return rows


def render_markdown(run: EvalRun, product: str, charts: Sequence[str]) -> str:
    meta = run.meta
    mixed_models = meta.get("index_model") and meta.get("index_model") != meta.get("query_model")
    note = f"**Note**: passages embedded with `{meta.get('index_model')}`, questions with `{meta.get('query_model')}`."
    parts = [
        "# Evaluation report",
        "",
        f"{meta.get('questions', '?')} questions × {len(run.configs)} configurations, "
        f"{meta.get('passages', '?')} indexed passages, embeddings `{meta.get('embeddings', '?')}`, "
        f"top_k {meta.get('top_k', '?')}; run of {meta.get('total_s', '?')} s "
        f"(model load {meta.get('model_load_s', '?')} s), {meta.get('created', '')}.",
        "",
        *([note, ""] if mixed_models else []),
        "## Summary",
        "",
        summary_table(run),
        "",
        "\n".join(f"- **{name}**: {note}" for name, note in METRIC_NOTES),
    ]
    gate = meta.get("gate")
    if gate:
        verdict = "passed" if gate["passed"] else "FAILED"
        parts += ["", f"## Quality gate ({verdict})", ""]
        parts += [f"- {failure}" for failure in gate["failures"]] or ["All thresholds met."]
    if product in run.configs and any(run.by_subset.get(product, {}).values()):
        for split in run.splits:
            figures = run.by_subset[product][split]
            rows = [[name, *(fmt(figures[name].get(key), key) for key, _ in KIND_COLUMNS)] for name in figures]
            parts += ["", f"## Per question set: `{product}`, split {split}", ""]
            parts += [markdown_table(["Set", *(title for _, title in KIND_COLUMNS)], rows)]
    if product in run.configs:
        for split in run.splits:
            parts += ["", f"## Per kind: `{product}`, split {split}", "", kind_table(run, product, split)]
        rows = failure_rows(run.outcomes[product])
        parts += ["", f"## Failures of `{product}` ({len(rows)})", ""]
        parts += (
            [markdown_table(["Id", "Kind", "Question", "Expected", "Got", "Cited sections"], rows)]
            if rows
            else ["None."]
        )
    if charts:
        parts += ["", "## Charts", ""] + [f"![{Path(c).stem}]({c})" for c in charts]
    return "\n".join(parts) + "\n"


def write_charts(run: EvalRun, out_dir: Path, product: str) -> list[str]:
    """recall@k per configuration, correct answers per kind, latency per configuration (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = run.splits[-1]  # "all" when both splits ran
    names = []

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = (1, 3, 5)
    for config in run.configs:
        values = [run.summary[config][split].get(f"recall@{k}") or 0.0 for k in ks]
        ax.plot(ks, values, marker="o", label=config)
    ax.set(xticks=ks, xlabel="k", ylabel="recall@k", title=f"Retrieval recall@k ({split})", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    names.append(_save(fig, out_dir / "recall_at_k.png"))

    kinds = sorted({o.kind for outcomes in run.outcomes.values() for o in outcomes})
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(len(run.configs), 1)
    for i, config in enumerate(run.configs):
        figures = run.by_kind[config][split]
        values = [figures[k]["correct"] if k in figures else 0.0 for k in kinds]
        ax.bar([x + i * width for x in range(len(kinds))], values, width, label=config)
    ax.set_xticks([x + width * (len(run.configs) - 1) / 2 for x in range(len(kinds))], kinds, rotation=30, ha="right")
    ax.set(ylabel="correct", ylim=(0, 1.05), title=f"Correct per kind: expected facts, or abstention ({split})")
    ax.legend(fontsize="small", ncols=len(run.configs))
    names.append(_save(fig, out_dir / "accuracy_by_kind.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    latencies = [[o.latency_ms for o in run.outcomes[c] if not o.error] or [0.0] for c in run.configs]
    ax.boxplot(latencies, tick_labels=run.configs, showfliers=True)
    ax.set(ylabel="ms per question", title=f"Latency of ask() ({split})")
    ax.grid(axis="y", alpha=0.3)
    names.append(_save(fig, out_dir / "latency.png"))
    return names


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def write_report(run: EvalRun, out_dir: Path, product: str = PRODUCT_CONFIG) -> list[Path]:
    """Writes report.md, report.json and the charts; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = write_charts(run, out_dir, product)
    (out_dir / "report.json").write_text(json.dumps(run.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(render_markdown(run, product, charts), encoding="utf-8")
    return [out_dir / "report.md", out_dir / "report.json", *(out_dir / c for c in charts)]


RESULTS_FILE = Path(__file__).resolve().parent / "RESULTS.md"
RESULTS_COLUMNS = (
    ("questions", "n"),
    ("accuracy", "Acc"),
    ("wrong_answers", "Wrong"),
    ("ontopic_declined", "On-topic declined"),
    ("over_abstention", "Over-abst"),
    ("evidence_cited", "Evid-cited"),
    ("refusal_rate", "Refusal"),
    ("citation_validity", "Cit-valid"),
    ("hallucinated_figures", "Invented figures"),
    ("recall@5", "R@5"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)
RESULTS_CONFIGS = (PRODUCT_CONFIG, "hybrid-fused")
_RESULTS_HEAD = """# Results of the blind evaluation

Written by `python -m evals` (the whole blind set, each corpus in its own section); the full report,
question by question, is `evals/report/report.md` (not committed). `hybrid` is the product (the
reader decides); `hybrid-fused` is the decision used before the reader, on the same retrieval.
Tuning reads dev only; test is the blind measure, gated by `evals/thresholds.json`.
"""


def revision(folder: Path, own: Path | None = None) -> str:
    """The commit a run measured, « with uncommitted changes » when tracked files other than `own`
    (the results file itself) differ from it: a figure must not be credited to a tree that did not
    give it. « ? » outside a git checkout."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=folder, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "?"
    top = Path(git("rev-parse", "--show-toplevel") or folder)
    changed = [
        name
        for name in git("diff", "--name-only", "HEAD").splitlines()  # tracked files, staged or not
        if own is None or (top / name).resolve() != own.resolve()
    ]
    return f"{commit} with uncommitted changes" if changed else commit


def write_results(run: EvalRun, corpus: str, path: Path = RESULTS_FILE) -> None:
    """Replaces this corpus's section of RESULTS.md with the run's product rows (dev, test), the
    date and the commit (`revision`)."""
    commit = revision(path.parent, own=path)
    rows = [
        [config, split, *(fmt(run.summary[config][split].get(key), key) for key, _ in RESULTS_COLUMNS)]
        for config in RESULTS_CONFIGS
        if config in run.summary
        for split in ("dev", "test")
        if split in run.summary[config]
    ]
    heading = f"## {corpus}"
    section = (
        f"{heading}\n\n{run.meta.get('passages')} passages, embeddings "
        f"`{Path(str(run.meta.get('index_model', ''))).name}`; "
        f"{str(run.meta.get('created', ''))[:10]}, commit {commit}.\n\n"
        + markdown_table(["Config", "Split", *(title for _, title in RESULTS_COLUMNS)], rows)
        + "\n"
    )
    text = path.read_text(encoding="utf-8") if path.exists() else _RESULTS_HEAD
    parts = text.split("\n## ")
    kept = [parts[0].rstrip() + "\n"] + [
        f"## {p.rstrip()}\n" for p in parts[1:] if not f"## {p}".startswith(heading + "\n")
    ]
    path.write_text("\n".join([*kept, section]), encoding="utf-8")
