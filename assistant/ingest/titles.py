"""The title a document is cited by: what people call it, not its file name.

In order: the « - Titre : … » line of its entry in the corpus's `SOURCES.md`, the profile's
`[titles]` table, then what the document says of itself (a Markdown file's first `#` heading, an
HTML page's `<title>`, a PDF's or a Word document's title property), then its file name.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_ENTRY = re.compile(r"^##\s+(.+?)\s*$")
_TITLE_LINE = re.compile(r"^-\s*Titre\s*:\s*(.+?)\s*$")
MAX_CHARS = 200


def listed_titles(corpus_dir: Path) -> dict[str, str]:
    """The titles `SOURCES.md` gives, by file name (« ## file » then « - Titre : … »)."""
    path = corpus_dir / "SOURCES.md"
    if not path.is_file():
        return {}
    titles: dict[str, str] = {}
    entry = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if match := _ENTRY.match(line):
            entry = match.group(1).strip("` ")
        elif entry and (match := _TITLE_LINE.match(line)) and entry not in titles:
            titles[entry] = match.group(1)
    return titles


def own_title(path: Path, text: str) -> str | None:
    """What a document says its title is, when it says so."""
    suffix = path.suffix.lower()
    found: str | None = None
    if suffix in (".md", ".markdown"):
        match = _HEADING.search(text)
        found = match.group(1) if match else None
    elif suffix in (".html", ".htm"):
        match = _HTML_TITLE.search(path.read_text(encoding="utf-8", errors="replace"))
        found = html.unescape(match.group(1)) if match else None
    elif suffix == ".pdf":
        found = _pdf_title(path)
    elif suffix == ".docx":
        found = _docx_title(path)
    found = " ".join((found or "").split())
    return found[:MAX_CHARS] if found else None


def _pdf_title(path: Path) -> str | None:
    try:
        from pypdf import PdfReader

        metadata = PdfReader(path).metadata
        return str(metadata.title) if metadata and metadata.title else None
    except Exception:  # a PDF the reader could read but whose metadata is damaged: no title
        return None


def _docx_title(path: Path) -> str | None:
    try:
        import docx

        return docx.Document(str(path)).core_properties.title or None
    except Exception:  # likewise
        return None


def document_title(name: str, path: Path, text: str, listed: dict[str, str], profile: dict[str, str]) -> str:
    """The title of the corpus file `name` (its path relative to the corpus)."""
    return listed.get(name) or profile.get(name) or own_title(path, text) or Path(name).name
