"""Text units shared by the readers, the chunker and the answer: list items and sentences.

One list-item pattern for everything: a reader writes list items with it, the chunker keeps the
lists it marks whole, and an answer quotes a whole list by it.
"""

from __future__ import annotations

import re

# What is embedded for a passage and a sentence; an index built with another layout is rebuilt.
TEXT_FORMAT = "label-section-text+units-1"
LIST_ITEM = re.compile(r"^\s*(?:[-*•–▪◦]|\d+[.)])\s+")
# A sentence ends at . ! ? … or a closing quote, before a capital, a digit or an opening quote;
# not after an initial or an abbreviation (« article L. 5213-1 », « M. Dupont », « n°. 3 »).
SENTENCE_END = re.compile(r"(?<=[.!?…»])(?<!\b[A-Za-z]\.)(?<!\bart\.)(?<!\bn°\.)\s+(?=[«\"A-ZÀ-ÖØ-Ý0-9])")


def is_list_item(line: str) -> bool:
    """Whether a line is a list item (« - … », « • … », « 1. … »)."""
    return bool(LIST_ITEM.match(line))


def strip_marker(line: str) -> str:
    """A list item without its bullet or number."""
    return LIST_ITEM.sub("", line, count=1).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a passage, in order, each stripped."""
    units: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if LIST_ITEM.match(line):
            units.append(line)
        else:
            units.extend(s.strip() for s in SENTENCE_END.split(line) if s.strip())
    return units


def document_label(source: str) -> str:
    """What a document is about, from its file name: « vae-etapes_2024.md » -> « vae etapes 2024 ».

    It travels with every passage and sentence into the index, like the headings: « quel est le
    niveau du titre ? » finds the document named after the title.
    """
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return re.sub(r"[-_.\s]+", " ", stem).strip()


def indexed_text(source: str, section: str, text: str) -> str:
    """The text a passage is embedded and searched by (`TEXT_FORMAT` names this layout): the
    document's label, the heading path, then the passage."""
    return "\n".join(part for part in (document_label(source), section, text) if part)
