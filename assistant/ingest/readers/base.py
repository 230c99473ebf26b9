"""What every reader shares: decoding bytes to text, the error a reader raises, plain text files."""

from __future__ import annotations

import unicodedata
from pathlib import Path

Pages = list[str]  # a PDF's text, page by page (page n is Pages[n - 1]); an empty page is ""


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
