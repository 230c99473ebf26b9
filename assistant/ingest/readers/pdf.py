"""PDF: the text layer page by page, headings recognised by their font size, running headers dropped."""

from __future__ import annotations

import logging
import re
import statistics
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.ingest.readers.base import Pages, UnreadableFileError, normalize
from assistant.reading.text import LIST_ITEM as _LIST_ITEM

_HEADING_SIZE_RATIO = 1.15  # a PDF line this much larger than the body text is a heading
_PARAGRAPH_GAP_RATIO = 1.3  # a vertical gap this much larger than the usual line spacing ends a paragraph
_RUNNING_LINE_SHARE = 0.6  # a first or last line repeated on this share of the pages is a running header/footer
_HEADING_MAX_CHARS = 150


@dataclass
class _PdfLine:
    text: str = ""
    y: float | None = None
    sizes: Counter[float] = field(default_factory=Counter)

    @property
    def size(self) -> float:
        return self.sizes.most_common(1)[0][0] if self.sizes else 0.0


def _matrix_product(a: list[float], b: list[float]) -> list[float]:
    return [
        a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5],
    ]  # fmt: skip


def _page_lines(page: Any) -> list[_PdfLine]:
    """The lines of a PDF page, each with its font size and height on the page."""
    lines = [_PdfLine()]

    def visit(text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        matrix = _matrix_product(list(tm), list(cm))
        size = round(abs(font_size) * abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]) ** 0.5, 1)
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append(_PdfLine())
            if part.strip():
                line = lines[-1]
                line.text += part
                line.sizes[size] += len(part.strip())
                if line.y is None:
                    line.y = matrix[5]
            elif part:
                lines[-1].text += part

    page.extract_text(visitor_text=visit)
    return [line for line in lines if line.text.strip()]


def _running_lines(pages: list[list[_PdfLine]]) -> set[str]:
    """First and last lines repeated on most pages (« Page 3 / 12 », a title in the header)."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        ends = {_digitless(lines[0].text), _digitless(lines[-1].text)} if lines else set()
        counts.update(ends)
    return {text for text, n in counts.items() if n >= _RUNNING_LINE_SHARE * len(pages)}


def _digitless(text: str) -> str:
    return re.sub(r"\d+", "#", text.strip())


def _render_page(lines: list[_PdfLine], levels: dict[float, int], line_gap: float) -> str:
    """A page's lines as paragraphs (wrapped lines joined), `#` headings and `- ` list items."""
    blocks: list[list[str]] = []
    previous: _PdfLine | None = None
    for line in lines:
        text = " ".join(line.text.split())
        level = levels.get(line.size) if len(text) <= _HEADING_MAX_CHARS else None
        if level is not None and any(c.isalpha() for c in text):
            if blocks and blocks[-1] and blocks[-1][0].startswith("#") and previous and previous.size == line.size:
                blocks[-1][0] += " " + text  # a heading wrapped over two lines
            else:
                blocks.append([f"{'#' * level} {text}"])
            blocks.append([])
            previous = line
            continue
        gap = (previous.y - line.y) if previous and previous.y is not None and line.y is not None else 0.0
        new_paragraph = not blocks or (line_gap > 0 and (gap > _PARAGRAPH_GAP_RATIO * line_gap or gap < 0))
        is_item = bool(_LIST_ITEM.match(text))
        in_list = bool(blocks and blocks[-1] and _LIST_ITEM.match(blocks[-1][0]))
        if new_paragraph or (is_item and not in_list and blocks[-1]):
            blocks.append([])
        if is_item or not blocks[-1]:
            blocks[-1].append(text)
        else:  # a wrapped line of the paragraph or of the last list item
            blocks[-1][-1] = _join_wrapped(blocks[-1][-1], text)
        previous = line
    return "\n\n".join("\n".join(block) for block in blocks if block)


def _join_wrapped(first: str, second: str) -> str:
    # « sous-\ntraitance » keeps its hyphen; a plain wrap gets a space.
    return first + second if re.search(r"\w-$", first) else f"{first} {second}"


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def read_pdf(path: Path) -> Pages:
    """Reads the text layer of a PDF, page by page, headings recognised by their font size.

    Raises:
        UnreadableFileError: corrupt, password-protected, or without any text (a scan).
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        with _quiet("pypdf"):  # pypdf logs each repair it makes; the summary gives the one reason
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableFileError("PDF protégé par un mot de passe : enregistrez-en une copie non protégée")
            pages = [_page_lines(page) for page in reader.pages]
    except UnreadableFileError:
        raise
    except (FileNotDecryptedError, DependencyError) as err:
        raise UnreadableFileError(
            "PDF chiffré, illisible sans mot de passe : enregistrez-en une copie non protégée"
        ) from err
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as err:
        raise UnreadableFileError("PDF illisible (fichier corrompu ou tronqué)") from err
    if not pages:
        raise UnreadableFileError("PDF illisible (aucune page)")
    if not any(pages):
        raise UnreadableFileError("PDF sans texte (document scanné ?) : il faudrait une version avec texte (OCR)")
    running = _running_lines(pages)
    pages = [[line for line in lines if _digitless(line.text) not in running] for lines in pages]
    weights: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            weights.update(line.sizes)
    body_size = weights.most_common(1)[0][0] if weights else 0.0
    sizes = {line.size for lines in pages for line in lines}
    heading_sizes = sorted((s for s in sizes if s >= body_size * _HEADING_SIZE_RATIO), reverse=True)
    levels = {size: min(i + 1, 6) for i, size in enumerate(heading_sizes)}
    gaps = [
        a.y - b.y
        for lines in pages
        for a, b in zip(lines, lines[1:], strict=False)
        if a.y is not None and b.y is not None and a.y > b.y and a.size == b.size == body_size
    ]
    # Most gaps are line spacing, a few are paragraph breaks: the lower quartile is the spacing.
    line_gap = statistics.quantiles(gaps, n=4)[0] if len(gaps) >= 2 else (gaps[0] if gaps else 0.0)
    return [normalize(_render_page(lines, levels, line_gap)) for lines in pages]
