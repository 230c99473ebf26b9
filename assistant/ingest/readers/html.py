"""Saved web pages: the main content, without navigation, header, footer, scripts or styles."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from assistant.ingest.readers.base import decode_text, normalize
from assistant.reading.text import LIST_ITEM as _LIST_ITEM

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
