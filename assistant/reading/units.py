"""Sentences and list items of a passage: the units an answer quotes and scores one by one.

Each unit is embedded at ingest with the heading right above its passage, so « Disposer d'une
expérience minimale… » is found by a question on the prerequisites its heading names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from assistant.reading.text import document_label, is_list_item, split_sentences

UNIT = "sentence"  # metadata « unit » of a stored unit; a passage has « passage »


@dataclass(frozen=True)
class Unit:
    """A sentence or list item of a passage."""

    id: str
    parent: str  # the passage's chunk id
    position: int  # order in the passage
    text: str
    heading: str  # the document's label, then the last heading of the passage's section path
    block: int  # the list the item belongs to (its first item's position), -1 for a sentence

    @property
    def embedded_text(self) -> str:
        """What the embedding model reads: the heading, then the unit."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text

    def metadata(self, source: str, section: str) -> dict[str, str | int]:
        return {
            "unit": UNIT, "parent": self.parent, "position": self.position,
            "source": source, "section": section,
        }  # fmt: skip


def units_of(chunk_id: str, text: str, section: str, kind: str = "passage", source: str = "") -> list[Unit]:
    """The units of a passage in order; an outline passage's lines are the items of one list."""
    heading = " : ".join(p for p in (document_label(source) if source else "", section.split(" > ")[-1]) if p)
    units: list[Unit] = []
    for paragraph in re.split(r"\n\s*\n", text):
        block = -1
        lines = paragraph.splitlines() if kind == "outline" else split_sentences(paragraph)
        for line in (line.strip() for line in lines):
            if not line:
                continue
            position = len(units)
            item = kind == "outline" or is_list_item(line)
            if not item:
                block = -1
            elif block < 0:
                block = position
            digest = hashlib.sha256(f"{chunk_id}\x00{position}\x00{line}".encode()).hexdigest()[:32]
            units.append(Unit(digest, chunk_id, position, line, heading, block if item else -1))
    return units
