"""The house rules a reader relies on: nothing runs at import, only the settings read the
environment, the stages import one way, and every module stays a readable size."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from assistant.config import PROJECT_DIR

PACKAGE = PROJECT_DIR / "assistant"
MAX_LINES = 400


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_stages(path: Path) -> set[str]:
    """The stages (`assistant.<stage>`) a module imports, at any depth of the file."""
    stages = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("assistant."):
            stages.add(node.module.split(".")[1])
    return stages


def test_importing_the_chat_reads_no_file() -> None:
    """Importing the UI (and all it imports) opens no data file of the project: the profile, the
    CSS and the index are read when the app is built, not at import."""
    script = (
        "import sys\n"
        "opened = []\n"
        "def hook(event, args):\n"
        "    if event == 'open' and isinstance(args[0], str) and args[0].startswith(sys.argv[1]):\n"
        "        if not args[0].endswith(('.py', '.pyc')) and '/.venv/' not in args[0]:\n"
        "            opened.append(args[0])\n"
        "sys.addaudithook(hook)\n"
        "import assistant.app.ui\n"
        "print(opened)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(PROJECT_DIR)], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_only_the_settings_read_the_environment() -> None:
    readers = [
        path.relative_to(PROJECT_DIR).as_posix()
        for path in modules()
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv" in path.read_text(encoding="utf-8")
    ]
    assert set(readers) <= {"assistant/config.py"}, readers


def test_stages_import_one_way() -> None:
    """search/ never imports ingest/ (ingest builds what search reads), reading/ and models/ import
    no stage, answer/ never imports app/."""
    by_stage: dict[str, set[str]] = {}
    for path in modules():
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1:
            by_stage.setdefault(parts[0], set()).update(imported_stages(path) - {parts[0]})
    assert "ingest" not in by_stage["search"]
    assert by_stage["reading"] <= {"config", "errors"}
    assert by_stage["models"] <= {"config", "errors"}
    assert "app" not in by_stage["answer"] and "app" not in by_stage["search"]


def test_no_module_is_over_400_lines() -> None:
    long = {
        path.relative_to(PROJECT_DIR).as_posix(): n
        for folder in ("assistant", "evals", "bench", "training")
        for path in (PROJECT_DIR / folder).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
