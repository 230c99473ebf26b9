"""The load test's baseline: the app's `/ask` API and queue settings around a handler that looks
nothing up, so that `python bench/loadtest.py --baseline` measures Gradio and gradio_client alone.

Not a product: it answers every question with the words the load script checks for.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402

from assistant.app.ui import configure_queue, launch_options  # noqa: E402
from assistant.config import Settings  # noqa: E402

CANNED = "D'après les documents : 441 heures, 105 heures, 980 heures, niveau 4, Bloc 1 à Bloc 4."


def ask(question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Answers at once, with about the size of a real answer."""
    return {"answer": CANNED, "citations": [{"n": 1, "text": CANNED * 8}], "question": question[:100]}


def main() -> int:
    settings = Settings()
    with gr.Blocks(analytics_enabled=False) as app:
        gr.Markdown("Baseline of the load test")
        gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=settings.concurrency_limit)
    configure_queue(app, settings)
    app.launch(**launch_options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
