"""Structure-aware chunking: headings travel with the passages they introduce.

A plain-text heading is a short title-like line (« Les chiffres clés »), a numbered heading
(« Bloc 2 : organiser… ») or a Markdown `#` line. A list stays in one chunk. A heading whose
children are numbered headings also gets an outline chunk listing them, so that « quels sont les
trois blocs ? » finds the three together.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from assistant.ingest.documents import SourceDocument
from assistant.reading.text import LIST_ITEM as _LIST_ITEM
from assistant.reading.text import SENTENCE_END as _SENTENCE_END
from assistant.reading.text import indexed_text

_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NUMBERED_HEADING = re.compile(
    r"^(bloc|partie|chapitre|module|section|étape|etape|annexe|article)\s+\d+\s*[:.\-–]", re.IGNORECASE
)
_TITLE_MAX_CHARS = 100
_NUMBERED_MAX_CHARS = 400


@dataclass(frozen=True)
class Chunk:
    """A passage of a source document, the unit that is embedded, retrieved and cited."""

    id: str
    source: str
    section: str
    text: str
    start: int
    end: int
    kind: str = "passage"  # "passage", or "outline" for a heading with its numbered sub-headings
    page: int | None = None
    title: str = ""  # the document's title (`SourceDocument.title`)

    @property
    def indexed_text(self) -> str:
        """What embeddings and BM25 see: the document's label, the heading path, then the passage."""
        return indexed_text(self.source, self.section, self.text)

    def metadata(self) -> dict[str, str | int]:
        meta: dict[str, str | int] = {
            "source": self.source, "section": self.section, "start": self.start,
            "end": self.end, "kind": self.kind, "title": self.title or self.source,
        }  # fmt: skip
        if self.page is not None:
            meta["page"] = self.page
        return meta


@dataclass(frozen=True)
class _Block:
    text: str
    start: int
    end: int

    @property
    def is_list(self) -> bool:
        lines = [line for line in self.text.splitlines() if line.strip()]
        return bool(lines) and all(_LIST_ITEM.match(line) for line in lines)

    @property
    def single_line(self) -> bool:
        return "\n" not in self.text.strip()


def chunk_id(source: str, text: str) -> str:
    """Stable id: the same text from the same file always gets the same id."""
    return hashlib.sha256(f"{source}\x00{text}".encode()).hexdigest()[:32]


def split_blocks(text: str) -> list[_Block]:
    """Blocks separated by blank lines, with their offsets in text."""
    blocks = []
    for match in re.finditer(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\s*\Z)", text, flags=re.DOTALL):
        blocks.append(_Block(match.group(0), match.start(), match.end()))
    return blocks


def _heading_kind(block: _Block, following: _Block | None) -> str | None:
    """'markdown', 'numbered', 'title' or None for a body block."""
    if not block.single_line:
        return None
    line = block.text.strip()
    if _MARKDOWN_HEADING.match(line):
        return "markdown"
    if _NUMBERED_HEADING.match(line) and len(line) <= _NUMBERED_MAX_CHARS:
        return "numbered"
    if len(line) > _TITLE_MAX_CHARS or _LIST_ITEM.match(line) or line[-1] in ".;,:!":
        return None
    if not (line[0].isupper() or line[0].isdigit()):
        return None
    if any(c.isdigit() for c in line):
        # « 120 heures de stage » is a key figure, « 3 étapes » a heading: a heading
        # with a number announces a list or numbered sub-headings.
        if following is None:
            return None
        if not (following.is_list or _heading_kind(following, None) == "numbered"):
            return None
    return "title"


def _pack(blocks: list[_Block], max_chars: int) -> list[list[_Block]]:
    """Groups consecutive blocks into chunks of at most max_chars; lists are never cut, nor parted
    from the sentence that announces them (« … sont éligibles : »)."""
    groups: list[list[_Block]] = []
    current: list[_Block] = []
    size = 0
    announced = False  # the block before announces this list: they stay together
    for i, block in enumerate(blocks):
        pieces = [block]
        if len(block.text) > max_chars and not block.is_list:
            pieces = _split_long(block, max_chars)
        next_list = blocks[i + 1] if i + 1 < len(blocks) and blocks[i + 1].is_list else None
        for j, piece in enumerate(pieces):
            needed = len(piece.text)
            announces = next_list is not None and j == len(pieces) - 1 and piece.text.rstrip().endswith(":")
            if announces and next_list is not None:
                needed += len(next_list.text) + 2
            if current and size + needed > max_chars and not (announced and block.is_list):
                groups.append(current)
                current, size = [], 0
            current.append(piece)
            size += len(piece.text) + 2
            announced = announces
    if current:
        groups.append(current)
    return groups


def _split_long(block: _Block, max_chars: int) -> list[_Block]:
    """Cuts an over-long paragraph between sentences."""
    pieces: list[_Block] = []
    start = block.start
    cursor = 0
    for match in _SENTENCE_END.finditer(block.text):
        if match.start() - cursor > max_chars * 0.6:
            pieces.append(_Block(block.text[cursor : match.start()], start + cursor, start + match.start()))
            cursor = match.end()
    pieces.append(_Block(block.text[cursor:], start + cursor, block.end))
    return pieces


def chunk_document(document: SourceDocument, max_chars: int) -> list[Chunk]:
    """Cuts a document into chunks that follow its headings.

    Args:
        document: the source text and its name.
        max_chars: the longest passage, headings excluded.

    Returns:
        Chunks in document order; outline chunks follow the passages of their children.
    """
    text = document.text
    blocks = split_blocks(text)
    chunks: list[Chunk] = []
    titles: list[str] = []  # the current run of plain titles, or Markdown path
    markdown_levels: list[tuple[int, str]] = []
    numbered: str = ""
    previous_was_heading = False
    body: list[_Block] = []
    outline: list[_Block] = []

    def section() -> str:
        return " > ".join([*titles, numbered] if numbered else titles)

    def flush_body() -> None:
        for group in _pack(body, max_chars):
            passage = text[group[0].start : group[-1].end]
            page = document.page_at(group[0].start)
            chunks.append(_make_chunk(document.source, section(), passage, group[0].start, group[-1].end, page=page))
        body.clear()

    def flush_outline() -> None:
        if len(outline) >= 2:
            listing = "\n".join(b.text.strip() for b in outline)
            parent = " > ".join(titles)
            page = document.page_at(outline[0].start)
            chunks.append(
                _make_chunk(document.source, parent, listing, outline[0].start, outline[-1].end, "outline", page)
            )
        outline.clear()

    for i, block in enumerate(blocks):
        kind = _heading_kind(block, blocks[i + 1] if i + 1 < len(blocks) else None)
        if kind is None:
            if body and document.page_at(block.start) != document.page_at(body[0].start):
                flush_body()  # a passage cites one page; the heading path carries over to the next
            body.append(block)
            previous_was_heading = False
            continue
        flush_body()
        line = block.text.strip()
        if kind == "numbered":
            numbered = line
            outline.append(block)
        else:
            flush_outline()
            numbered = ""
            if kind == "markdown":
                match = _MARKDOWN_HEADING.match(line)
                assert match is not None
                level = len(match.group(1))
                markdown_levels = [(lv, t) for lv, t in markdown_levels if lv < level]
                markdown_levels.append((level, match.group(2)))
                titles = [t for _, t in markdown_levels]
            elif previous_was_heading:
                titles.append(line)
            else:
                titles = [line]
        previous_was_heading = True
    flush_body()
    flush_outline()
    return [replace(c, title=document.title) for c in chunks] if document.title else chunks


def _make_chunk(
    source: str, section: str, passage: str, start: int, end: int, kind: str = "passage", page: int | None = None
) -> Chunk:
    return Chunk(
        id=chunk_id(source, f"{section}\n{passage}"),
        source=source,
        section=section,
        text=passage,
        start=start,
        end=end,
        kind=kind,
        page=page,
    )
