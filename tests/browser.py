"""What the browser tests share besides their fixtures (`conftest.py`: `server`, `browser`, `page`,
`screenshots`): asking a question as a user does, taking a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import ANSWER_TIMEOUT_MS, PASSWORD

__all__ = ["ANSWER_TIMEOUT_MS", "FINISHED", "PASSWORD", "ask", "shoot"]

# A reply is finished when it is a full answer or a notice (a streaming one has the class "streaming").
FINISHED = "#chat .answer:not(.streaming), #chat .notice"


def ask(page: Any, question: str) -> Any:
    """Types a question, presses Enter, waits for the reply to finish; returns the reply's element."""
    done = page.locator(FINISHED).count()
    page.get_by_label("Votre question").fill(question)
    page.get_by_label("Votre question").press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINISHED!r}).length > {done}")
    return page.locator(FINISHED).last


def shoot(page: Any, folder: Path, name: str, full_page: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=full_page)
    print(f"screenshot: {folder / name}")
