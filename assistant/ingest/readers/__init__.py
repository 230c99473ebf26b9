"""One reader per file format: each turns a corpus file into text with Markdown `#` headings.

The chunker sees every format the same way: blocks separated by blank lines, headings as `#`
lines, list items as `- ` lines, table rows as `a | b` lines. A PDF reader returns one text per
page, so that each passage can cite the page it comes from. The HTML reader is ours: trafilatura
2.3.1's Markdown output kept none of the 8 headings of the corpus's ESAT page, which the chunker
needs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assistant.ingest.readers.base import Pages, UnreadableFileError, decode_text, normalize, read_plain_text
from assistant.ingest.readers.docx import read_docx
from assistant.ingest.readers.html import read_html
from assistant.ingest.readers.pdf import read_pdf

__all__ = ["READERS", "Pages", "Reader", "UnreadableFileError", "decode_text", "normalize", "read_plain_text"]

Reader = Callable[[Path], str | list[str]]

READERS: dict[str, Reader] = {
    ".txt": read_plain_text,
    ".md": read_plain_text,
    ".markdown": read_plain_text,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
}
