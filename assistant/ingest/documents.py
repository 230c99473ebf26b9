"""Loading corpus files into plain-text documents; the per-format readers are in `readers.py`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from assistant.ingest.readers import READERS, UnreadableFileError, decode_text, read_plain_text
from assistant.ingest.titles import document_title, listed_titles

__all__ = [
    "READERS", "SourceDocument", "Skipped", "UnreadableFileError", "decode_text", "load_corpus", "read_plain_text",
]  # fmt: skip

_PAGE_SEPARATOR = "\n\n"  # pages are joined like paragraphs, so that no block spans two pages


@dataclass(frozen=True)
class SourceDocument:
    """The text of one corpus file, with the name it is cited by.

    `pages` holds, for a paged format (PDF), the offset in `text` where each page starts and its
    1-based number: ((0, 1), (1840, 2), …). It is empty for formats without pages.
    """

    source: str
    text: str
    format: str
    pages: tuple[tuple[int, int], ...] = ()
    title: str = ""  # what it is cited by (`titles.py`); its file name when nothing better is known

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def page_at(self, offset: int) -> int | None:
        """The number of the page that holds the character at offset, or None without pages."""
        number = None
        for start, page in self.pages:
            if start > offset:
                break
            number = page
        return number


@dataclass(frozen=True)
class Skipped:
    """A corpus file left out of the index, and why (in French, for the summary)."""

    file: str
    reason: str


def join_pages(pages: list[str]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """One text for a paged document, with where each non-empty page starts in it."""
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    length = 0
    for number, page in enumerate(pages, start=1):
        page = page.strip()
        if not page:
            continue
        if parts:
            length += len(_PAGE_SEPARATOR)
        offsets.append((length, number))
        parts.append(page)
        length += len(page)
    return _PAGE_SEPARATOR.join(parts), tuple(offsets)


# Files of the corpus folder that describe it rather than inform candidates.
NOT_DOCUMENTS = frozenset({"SOURCES.md", "README.md"})


def load_corpus(
    corpus_dir: Path, max_file_bytes: int, titles: dict[str, str] | None = None
) -> tuple[list[SourceDocument], list[Skipped]]:
    """Reads every supported file under corpus_dir, sub-folders included, in a stable order.

    Args:
        titles: titles by file name that a document's own title gives way to (the profile's);
            the corpus's `SOURCES.md` comes first.

    Returns:
        The documents read, and the files skipped with their reason. A file whose content is
        identical to one already read is skipped, so a document under two names is cited once.
    """
    documents: list[SourceDocument] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    root = corpus_dir.resolve()
    listed = listed_titles(corpus_dir)
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file() or p.is_symlink()):
        name = path.relative_to(corpus_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.name in NOT_DOCUMENTS:  # the corpus's own notes (origin, licences), never quoted
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
            size = resolved.stat().st_size  # checked before any byte is read
            if size > max_file_bytes:
                limit = _human_size(max_file_bytes)
                skipped.append(Skipped(name, f"fichier trop gros ({_human_size(size)} ; limite {limit})"))
                continue
            if size == 0:
                skipped.append(Skipped(name, "fichier vide"))
                continue
            content = reader(resolved)
        except FileNotFoundError:
            skipped.append(Skipped(name, "fichier disparu pendant la lecture"))
            continue
        except UnreadableFileError as err:
            skipped.append(Skipped(name, str(err)))
            continue
        except OSError as err:
            skipped.append(Skipped(name, f"lecture impossible ({err.strerror or type(err).__name__})"))
            continue
        if isinstance(content, list):
            text, pages = join_pages(content)
        else:
            text, pages = content, ()
        if not text.strip():
            skipped.append(Skipped(name, "fichier vide" if path.suffix.lower() != ".html" else "page sans contenu"))
            continue
        title = document_title(name, resolved, text, listed, titles or {})
        doc = SourceDocument(source=name, text=text, format=path.suffix.lower().lstrip("."), pages=pages, title=title)
        if doc.content_hash in seen:
            skipped.append(Skipped(name, f"doublon de {seen[doc.content_hash]}"))
            continue
        seen[doc.content_hash] = name
        documents.append(doc)
    return documents, skipped


def _human_size(size: int) -> str:
    return f"{size / 1_000_000:.0f} Mo" if size >= 1_000_000 else f"{max(size // 1000, 1)} Ko"
