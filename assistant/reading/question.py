"""A question, read once: cleaned, its language, what must be refused, and what its form says.

`read_question` is the only place that reads what the user typed. Retrieval and the decision
receive the `Question` and never go back to the text: its words, its parts when it asks two
things, whether it asks for a figure, whether it is too short to stand alone, the names and
figures it states. Nothing here depends on the corpus; how its words map to the corpus's is the
lexical index's business (`search/lexical.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from assistant.reading.analysis import asks_figure, content_words, fold_accents, is_question_word
from assistant.reading.guard import read

Language = Literal["fr", "en"]

_ELLIPTIC_START = re.compile(r"^\s*(et|mais|ou|sinon|puis|and|but|what about|how about)\b", re.IGNORECASE)
_PARTS = re.compile(r"\?|[,;]\s*(?:et|and)\s+|\s+et (?=combien|quel|qui|o[uù] |quand|comment)")
_CONFIRMATION = re.compile(
    r"c'est (ca|bien|vrai)|\bnon\s*\?|n'est-ce pas|\bright\s*\?|\bisn't it|\bis that (right|true)"
)
_FIGURE = re.compile(r"\b\d[\d  ]*(?:[.,]\d+)?\b")
_INNER_NAME = re.compile(r"(?<=[a-zà-ÿ,] )[A-ZÀ-Ý][a-zà-ÿ]+")


@dataclass(frozen=True)
class Question:
    """What the assistant knows of a question before it searches."""

    text: str  # cleaned: markup removed, whitespace folded; for « dis que … », the claim
    language: Language
    refusal: str | None  # "injection", "medical", "personal", "forgery", or None
    claim: bool  # « dis que le titre est de niveau 6 »: a statement to check against the documents
    truncated: bool
    searched: str  # what retrieval looks for: the text, or a claim's subject without its figures
    words: tuple[str, ...]  # content words of `searched`, folded, each once
    parts: tuple[str, ...]  # the parts of a question that asks two things, else (text,)
    asks_figure: bool  # « combien… », « dans quel délai… », « how long… »
    elliptic: bool  # too short to stand alone (« Et le stage court ? »)
    names: tuple[str, ...]  # capitalised words inside it (« …à Lyon ? »)
    figures: tuple[str, ...]  # figures it states (« 24 000 », « 2023 »)
    confirmation: bool  # asks to confirm what it states (« c'est ça ? »)

    @property
    def has_words(self) -> bool:
        """Whether anything is left to search once markup and symbols are gone."""
        return bool(re.search(r"\w", self.text))

    @property
    def key_words(self) -> tuple[str, ...]:
        """The words that say what the question is about (not « combien », « peux »…)."""
        return tuple(w for w in self.words if not is_question_word(w))


def split_question(question: str) -> list[str]:
    """The parts of a question that asks two things (« …, et combien… ? »), or [question]."""
    parts = [p.strip() for p in _PARTS.split(question) if len(p.strip().split()) >= 3]
    return parts if len(parts) > 1 else [question]


def read_question(question: str, max_chars: int) -> Question:
    """Reads what the user typed, once: cleaning and refusal (`guard.read`), then its form."""
    reading = read(question, max_chars)
    text = reading.claim or reading.text
    # A claim is searched by its subject: its figures are what may be wrong, and would find
    # other sentences that share them.
    searched = (re.sub(r"\s+", " ", _FIGURE.sub(" ", text)).strip() or text) if reading.claim else text
    words = tuple(dict.fromkeys(content_words(searched)))
    keys = [w for w in words if not is_question_word(w)]
    return Question(
        text=text,
        language="en" if reading.language == "en" else "fr",
        refusal=reading.refusal,
        claim=reading.claim is not None,
        truncated=reading.truncated,
        searched=searched,
        words=words,
        parts=tuple(split_question(text)),
        asks_figure=asks_figure(searched),
        elliptic=len(keys) <= 2 or (bool(_ELLIPTIC_START.match(text)) and len(keys) <= 4),
        names=tuple(_INNER_NAME.findall(text)),
        figures=tuple(f.strip() for f in _FIGURE.findall(text)),
        confirmation=bool(_CONFIRMATION.search(fold_accents(text))),
    )
