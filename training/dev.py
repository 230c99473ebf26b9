"""The blind set's dev split answered with a freshly trained adapter, as the product answers it.

The corpus is indexed with the adapter merged into e5 (in `.cache/`, one index per adapter), then
the dev questions go through the product configuration; the line printed is the one the README
quotes. The test split is never run here.
"""

from __future__ import annotations

from pathlib import Path

from assistant.config import PROJECT_DIR, Settings, settings_with
from assistant.models.reader import sha256


def dev_figures(settings: Settings, adapter: Path) -> str:
    from evals.questions import load_questions, select
    from evals.runner import PRODUCT_CONFIG, run_configs

    digest = sha256(adapter)[:12]
    reader = settings_with(
        settings,
        embeddings="e5",
        reader_adapter=adapter,
        index_dir=PROJECT_DIR / ".cache" / f"reader-dev-{digest}",
    )
    evaluation = run_configs(reader, select(load_questions(), "dev"), [PRODUCT_CONFIG])
    figures = evaluation.summary[PRODUCT_CONFIG]["dev"]
    names = ("accuracy", "wrong_answers", "ontopic_declined", "evidence_cited", "recall@5", "refusal_rate")
    return "dev: " + ", ".join(
        f"{name} {figures[name]:.3f}" if isinstance(figures[name], float) else f"{name} {figures[name]}"
        for name in names
    )
