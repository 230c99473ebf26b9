"""Word documents: heading styles become `#` headings, lists and tables stay blocks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.ingest.readers.base import UnreadableFileError, normalize
from assistant.reading.text import LIST_ITEM as _LIST_ITEM


def _docx_heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name in ("title", "titre"):
        return 0
    match = re.match(r"(?:heading|titre)\s*(\d)", name)
    return int(match.group(1)) if match else None


def read_docx(path: Path) -> str:
    """Reads a Word document: heading styles become `#` headings, lists and tables stay blocks.

    Raises:
        UnreadableFileError: not a Word document, or a damaged one.
    """
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        items: list[tuple[str, Any]] = []  # ("heading", (level, text)), ("item", text), ("text", text), ("table", rows)
        for element in document.iter_inner_content():
            if isinstance(element, Table):
                rows = []
                for row in element.rows:
                    cells: list[str] = []
                    for cell in row.cells:
                        text = " ".join(cell.text.split())
                        if text and (not cells or cells[-1] != text):  # a merged cell repeats
                            cells.append(text)
                    if cells:
                        rows.append(" | ".join(cells))
                if rows:
                    items.append(("table", rows))
                continue
            text = " ".join(element.text.split())
            if not text:
                continue
            style = element.style.name if element.style is not None else ""
            level = _docx_heading_level(style or "")
            p_pr = element._p.pPr
            numbered = p_pr is not None and p_pr.numPr is not None
            if level is not None:
                items.append(("heading", (level, text)))
            elif numbered or (style or "").lower().startswith(("list", "liste")):
                items.append(("item", text if _LIST_ITEM.match(text) else f"- {text}"))
            else:
                items.append(("text", text))
    except Exception as err:  # python-docx raises many kinds (zip, XML, missing part) for a bad file
        raise UnreadableFileError("document Word illisible (fichier corrompu ou pas au format .docx)") from err
    has_title = any(kind == "heading" and value[0] == 0 for kind, value in items)
    blocks: list[str] = []
    previous_kind = ""
    for kind, value in items:
        if kind == "heading":
            level = min(value[0] + 1 if has_title else max(value[0], 1), 6)
            blocks.append(f"{'#' * level} {value[1]}")
        elif kind == "item" and previous_kind == "item":
            blocks[-1] += "\n" + value  # one list, one block
        elif kind == "table":
            blocks.append("\n".join(value))
        else:
            blocks.append(value)
        previous_kind = kind
    return normalize("\n\n".join(blocks))
