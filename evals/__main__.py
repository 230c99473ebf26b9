"""Command line: `python -m evals [--split dev|test|all] [--configs …] [--limit N] [--check]`.

Exit codes: 0 done (and the gate passed, with --check), 1 the quality gate failed, 2 the eval
could not run (the message says why).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.runner import (
    ADDED_THRESHOLDS_FILE,
    CONFIGS,
    DEFAULT_CONFIGS,
    REPORT_DIR,
    SPLIT_CHOICES,
    THRESHOLDS_FILE,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evals",
        description="Runs the question set through each retrieval configuration and writes a report.",
    )
    parser.add_argument("--split", choices=SPLIT_CHOICES, default="all", help="questions to run (default: all)")
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=list(CONFIGS),
        default=list(DEFAULT_CONFIGS),
        metavar="CONFIG",
        help=f"configurations to compare, among {', '.join(CONFIGS)} (default: {' '.join(DEFAULT_CONFIGS)}; "
        "add llm to compare the generative answers, with ASSISTANT_LLM_* or the packaged SmolLM2)",
    )
    parser.add_argument(
        "--questions",
        default="blind",
        help="question file: blind (evals/blind.jsonl, the default and the gated one), old (evals/questions.jsonl, "
        "written with the code: reported, not gated) or a path",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="answer from this folder instead of corpus/ (its index is kept in .cache/evals-index-<name>)",
    )
    parser.add_argument(
        "--add-corpus",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="answer from corpus/ (or --corpus) plus the documents of DIR (repeatable): what happens when an "
        "adviser adds documents nobody tuned on (evals/added-corpus)",
    )
    parser.add_argument("--out", type=Path, default=REPORT_DIR, help="report folder (default: evals/report)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions, for a quick run")
    parser.add_argument("--embeddings", default=None, help="embedding backend (the ASSISTANT_EMBEDDINGS setting)")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 when a test-split metric of hybrid misses its threshold in {THRESHOLDS_FILE.name} "
        f"(with --add-corpus: in {ADDED_THRESHOLDS_FILE.name})",
    )
    return parser


def _progress_bar() -> Any:
    from tqdm import tqdm

    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="Questions", unit="q", file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the eval; errors become one line on stderr and exit code 2."""
    from assistant.config import PROJECT_DIR, load_settings
    from assistant.errors import AssistantError
    from assistant.ingest.indexing import seed_index
    from evals import EvalError
    from evals.report import summary_table, write_results
    from evals.runner import OLD_QUESTIONS_FILE, QUESTIONS_FILE, load_thresholds, run

    args = _parser().parse_args(argv)
    if args.limit is not None and args.limit < 1:
        print("Error: --limit must be at least 1.", file=sys.stderr)
        return 2
    try:
        overrides: dict[str, Any] = {"embeddings": args.embeddings} if args.embeddings else {}
        corpus, label = args.corpus, "corpus/"
        if args.add_corpus:
            corpus = combined_corpus([args.corpus or PROJECT_DIR / "corpus", *args.add_corpus])
            label = " + ".join(f"{d.name}/" for d in [args.corpus or PROJECT_DIR / "corpus", *args.add_corpus])
        elif args.corpus is not None:
            label = f"{args.corpus.name}/"
        if corpus is not None:
            overrides["corpus_dir"] = corpus
            overrides["index_dir"] = PROJECT_DIR / ".cache" / f"evals-index-{corpus.resolve().name}"
        settings = load_settings(**overrides)
        if args.add_corpus:
            product = load_settings(**{k: v for k, v in overrides.items() if k not in ("corpus_dir", "index_dir")})
            seed_index(settings.index_dir, product)
        questions_file = {"blind": QUESTIONS_FILE, "old": OLD_QUESTIONS_FILE}.get(args.questions)
        questions_file = questions_file or Path(args.questions)
        if thresholds_needed := args.check:
            if questions_file != QUESTIONS_FILE or args.corpus is not None:
                raise EvalError(
                    "--check gates the blind questions on corpus/ (with --add-corpus: plus those documents): "
                    "drop --questions and --corpus."
                )
        gate_file = ADDED_THRESHOLDS_FILE if args.add_corpus else THRESHOLDS_FILE
        thresholds = load_thresholds(gate_file) if thresholds_needed else None
        evaluation, failures = run(
            settings,
            out_dir=args.out,
            split=args.split,
            configs=args.configs,
            limit=args.limit,
            progress=_progress_bar(),
            thresholds=thresholds,
            questions_file=questions_file,
        )
    except (EvalError, AssistantError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: no report written.", file=sys.stderr)
        return 130

    if questions_file == QUESTIONS_FILE and args.limit is None and args.split == "all":
        write_results(evaluation, label)  # evals/RESULTS.md: the figures the README points to
    print(summary_table(evaluation))
    meta = evaluation.meta
    print(
        f"\n{meta['questions']} questions × {len(evaluation.configs)} configurations in {meta['total_s']} s "
        f"(model load {meta['model_load_s']} s). Report: {args.out / 'report.md'}"
    )
    if thresholds is None:
        return 0
    for failure in failures:
        print(f"Quality gate: {failure}", file=sys.stderr)
    if failures:
        print(f"quality gate FAILED ({len(failures)} metric(s) under threshold)", file=sys.stderr)
        return 1
    print("quality gate passed")
    return 0


def combined_corpus(folders: list[Path], under: Path | None = None) -> Path:
    """One folder holding the documents of every folder given (copied, so that none is a link out
    of the corpus), in `under` (.cache/ by default), named after them."""
    import hashlib
    import shutil

    from assistant.config import PROJECT_DIR

    digest = hashlib.sha256()
    files = []
    sources = []  # each folder's SOURCES.md, one after the other: the documents keep the titles it gives
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.name == "SOURCES.md":
                sources.append(path.read_text(encoding="utf-8", errors="replace"))
                continue
            files.append((folder, path))
            digest.update(path.name.encode() + path.read_bytes())
    digest.update("\n".join(sources).encode())
    name = f"evals-corpus-{'-'.join(f.name for f in folders)}-{digest.hexdigest()[:8]}"
    target = (under or PROJECT_DIR / ".cache") / name
    if not target.is_dir():
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        for folder, path in files:
            destination = staging / path.relative_to(folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "SOURCES.md").write_text("\n\n".join(sources), encoding="utf-8")
        staging.rename(target)
    return target


if __name__ == "__main__":
    sys.exit(main())
