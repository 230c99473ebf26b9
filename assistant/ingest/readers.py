"""One reader per file format: each turns a corpus file into text with Markdown `#` headings.

The chunker sees every format the same way: blocks separated by blank lines, headings as `#`
lines, list items as `- ` lines, table rows as `a | b` lines. A PDF reader returns one text per
page, so that each passage can cite the page it comes from.
"""

from __future__ import annotations

import logging
import re
import statistics
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from assistant.text import LIST_ITEM as _LIST_ITEM

Pages = list[str]  # a PDF's text, page by page (page n is Pages[n - 1]); an empty page is ""
Reader = Callable[[Path], str | list[str]]

_HEADING_SIZE_RATIO = 1.15  # a PDF line this much larger than the body text is a heading
_PARAGRAPH_GAP_RATIO = 1.3  # a vertical gap this much larger than the usual line spacing ends a paragraph
_RUNNING_LINE_SHARE = 0.6  # a first or last line repeated on this share of the pages is a running header/footer
_HEADING_MAX_CHARS = 150


class UnreadableFileError(Exception):
    """A reader could not make text of a file; the message is the reason shown to the user."""


def normalize(text: str) -> str:
    """Unix line ends, NFC (a PDF or a Mac file may hold decomposed accents), no NUL."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return unicodedata.normalize("NFC", text)


def decode_text(data: bytes) -> str:
    """Decodes bytes as UTF-8 (with or without BOM), falling back to Windows-1252.

    Raises:
        UnreadableFileError: the bytes look binary.
    """
    if b"\x00" in data[:8192]:
        raise UnreadableFileError("fichier binaire (octets nuls), pas du texte")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Latin-1 family files are common in French offices; cp1252 is its superset for text.
        text = data.decode("cp1252", errors="replace")
    return normalize(text)


def read_plain_text(path: Path) -> str:
    """Reads a .txt or .md file."""
    return decode_text(path.read_bytes())


# --- PDF -------------------------------------------------------------------------------------


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


# --- DOCX ------------------------------------------------------------------------------------


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


# --- HTML ------------------------------------------------------------------------------------

_SKIPPED_TAGS = {"script", "style", "noscript", "template", "svg", "nav", "aside", "form", "iframe", "button",
                 "select", "dialog", "head", "canvas", "object"}  # fmt: skip
_PAGE_CHROME = {"header", "footer"}  # dropped, unless inside the main content (an article's own header)
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "dialog"}
_CHROME_HINT = re.compile(r"(^|[\s_-])(cookie|menu|navbar|breadcrumb|sidebar|share|social|skip)", re.IGNORECASE)
_MAIN_TAGS = {"main", "article"}
_BLOCK_TAGS = {"p", "div", "section", "blockquote", "pre", "dd", "dt", "figcaption", "address", "br", "hr",
               "table", "ul", "ol", "dl", "caption"}  # fmt: skip
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class _MainTextParser(HTMLParser):
    """Collects the blocks of a page; blocks inside <main>/<article> are marked as main content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, bool]] = []  # (markdown block, inside main content)
        self._stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self._skip_depth = 0
        self._main_depth = 0
        self._text: list[str] = []
        self._heading = 0
        self._items: list[str] = []
        self._in_item = False
        self._rows: list[str] = []
        self._cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            if tag == "br" and any(t == "p" for t, _ in self._stack):
                self._text.append(" ")  # a line break inside a paragraph: the sentence goes on
            elif tag in ("br", "hr") and not self._skip_depth:
                self._end_line(tag)
            return
        attributes = {k: v or "" for k, v in attrs}
        skip = (
            tag in _SKIPPED_TAGS
            or (tag in _PAGE_CHROME and not self._main_depth)
            or attributes.get("role", "") in _CHROME_ROLES
            or "hidden" in attributes
            or attributes.get("aria-hidden") == "true"
            or bool(_CHROME_HINT.search(f"{attributes.get('class', '')} {attributes.get('id', '')}"))
        )
        self._stack.append((tag, skip))
        if skip:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag in _MAIN_TAGS:
            self._flush()
            self._main_depth += 1
        if re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = int(tag[1])
        elif tag == "li":
            self._end_item()
            self._flush_text()
            self._in_item = True
        elif tag == "tr":
            self._end_row()
            self._cells = []
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag in _BLOCK_TAGS:
            self._end_line(tag)

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self._stack):
            return  # a stray end tag
        while self._stack:
            open_tag, skipped = self._stack.pop()
            if skipped:
                self._skip_depth -= 1
            elif not self._skip_depth:
                self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self._flush()
        elif tag == "li":
            self._end_item()
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table":
            self._flush()
        elif tag in ("ul", "ol"):
            self._end_item()
            self._flush_items()
        elif tag in _BLOCK_TAGS:
            self._end_line(tag)
        if tag in _MAIN_TAGS:
            self._flush()
            self._main_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _take_text(self) -> str:
        text = " ".join("".join(self._text).split())
        self._text.clear()
        return text

    def _end_line(self, tag: str) -> None:
        if self._cells is not None:
            self._text.append(" ")
        elif self._in_item:
            self._text.append(" ")
        else:
            self._flush_text()

    def _end_cell(self) -> None:
        if self._cells is not None:
            text = self._take_text()
            if text:
                self._cells.append(text)

    def _end_row(self) -> None:
        self._end_cell()
        if self._cells:
            self._rows.append(" | ".join(self._cells))
        self._cells = None

    def _end_item(self) -> None:
        if self._in_item:
            text = self._take_text()
            if text:
                self._items.append(text if _LIST_ITEM.match(text) else f"- {text}")
            self._in_item = False

    def _flush_items(self) -> None:
        if self._items:
            self._add("\n".join(self._items))
            self._items.clear()

    def _flush_text(self) -> None:
        text = self._take_text()
        if text:
            self._flush_items()
            self._add(f"{'#' * self._heading} {text}" if self._heading else text)
        self._heading = 0

    def _flush(self) -> None:
        self._end_item()
        self._end_row()
        if self._rows:
            self._flush_items()
            self._add("\n".join(self._rows))
            self._rows.clear()
        self._flush_items()
        self._flush_text()

    def _add(self, block: str) -> None:
        self.blocks.append((block, self._main_depth > 0))


def read_html(path: Path) -> str:
    """Reads the main content of a saved web page: <main>/<article> when there is one, without
    navigation, header, footer, scripts or styles; `<h1>`…`<h6>` become `#` headings."""
    parser = _MainTextParser()
    parser.feed(decode_text(path.read_bytes()))
    parser.close()
    main = [block for block, in_main in parser.blocks if in_main]
    return normalize("\n\n".join(main or [block for block, _ in parser.blocks]))


READERS: dict[str, Reader] = {
    ".txt": read_plain_text,
    ".md": read_plain_text,
    ".markdown": read_plain_text,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
}
