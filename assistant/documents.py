"""Loading corpus files into plain-text documents, one reader per file format."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceDocument:
    """The text of one corpus file, with the name it is cited by."""

    source: str
    text: str
    format: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A corpus file left out of the index, and why (in French, for the summary)."""

    file: str
    reason: str


class UnreadableFileError(Exception):
    """A reader could not make text of a file; the message is the reason shown to the user."""


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
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def read_plain_text(path: Path) -> str:
    """Reads a .txt or .md file."""
    return decode_text(path.read_bytes())


READERS: dict[str, Callable[[Path], str]] = {
    ".txt": read_plain_text,
    ".md": read_plain_text,
}


def load_corpus(corpus_dir: Path, max_file_bytes: int) -> tuple[list[SourceDocument], list[Skipped]]:
    """Reads every supported file under corpus_dir, sub-folders included, in a stable order.

    Returns:
        The documents read, and the files skipped with their reason. A file whose content is
        identical to one already read is skipped, so a document under two names is cited once.
    """
    documents: list[SourceDocument] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    root = corpus_dir.resolve()
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file() or p.is_symlink()):
        name = path.relative_to(corpus_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            skipped.append(Skipped(name, f"format non pris en charge ({path.suffix or 'sans extension'})"))
            continue
        try:
            resolved = path.resolve()
            if not resolved.is_relative_to(root):
                skipped.append(Skipped(name, "lien symbolique vers l'extérieur du corpus"))
                continue
            size = resolved.stat().st_size
            if size > max_file_bytes:
                limit = _human_size(max_file_bytes)
                skipped.append(Skipped(name, f"fichier trop gros ({_human_size(size)} ; limite {limit})"))
                continue
            text = reader(resolved)
        except FileNotFoundError:
            skipped.append(Skipped(name, "fichier disparu pendant la lecture"))
            continue
        except (UnreadableFileError, OSError) as err:
            skipped.append(Skipped(name, str(err)))
            continue
        if not text.strip():
            skipped.append(Skipped(name, "fichier vide"))
            continue
        doc = SourceDocument(source=name, text=text, format=path.suffix.lower().lstrip("."))
        if doc.content_hash in seen:
            skipped.append(Skipped(name, f"doublon de {seen[doc.content_hash]}"))
            continue
        seen[doc.content_hash] = name
        documents.append(doc)
    return documents, skipped


def _human_size(size: int) -> str:
    return f"{size / 1_000_000:.0f} Mo" if size >= 1_000_000 else f"{max(size // 1000, 1)} Ko"
