"""Generative answers: a language model writes from the retrieved passages, then every answer is
checked before anyone sees it.

The checks (`validate`):
- a marker `[n]` that points to no passage given to the model is removed, and a sentence whose
  markers all did so is dropped;
- a sentence holding a figure or a date that none of its cited passages contains is dropped
  (a sentence without a marker is judged by the markers that follow it in its paragraph);
- an answer left with no valid marker is not used: the extractive answer replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.answer.types import Citation, citation_for
from assistant.models.llm import ModelFailure
from assistant.profile import Profile
from assistant.reading.analysis import analyze
from assistant.reading.text import split_sentences
from assistant.search.found import Hit

NOT_SAID = {
    "fr": "Les documents dont je dispose ne le précisent pas.",
    "en": "The documents I have do not say.",
}
SYSTEM_PROMPT = (
    "Tu es l'assistant du titre professionnel {title}. Tu réponds à la question uniquement à partir "
    "des extraits numérotés fournis, jamais de mémoire.\n"
    "Règles :\n"
    "- Après chaque phrase, indique entre crochets le numéro de l'extrait qui la justifie, par exemple [1].\n"
    "- N'écris aucun chiffre, aucune date, aucune règle qui ne figure pas dans les extraits.\n"
    "- Si les extraits ne permettent pas de répondre, écris exactement : « {not_said} »\n"
    "- Réponds en {language}, en trois phrases au plus."
)
_LANGUAGE_NAMES = {"fr": "français", "en": "anglais (English)"}
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_FIGURE = re.compile(r"(?<![\w.])\d+(?:[  .,]\d+)*(?:\s?%)?")
_DIGIT_SPACE = re.compile(r"(?<=\d)[  ](?=\d)")


@dataclass
class Checked:
    """A model answer after the checks."""

    text: str
    cited: list[int]  # the passages (1-based, as given to the model) the text cites, in marker order
    dropped: list[str] = field(default_factory=list)  # sentences removed: unsupported figure or sources
    removed_markers: list[int] = field(default_factory=list)  # markers that pointed to no passage
    unsupported_figures: list[str] = field(default_factory=list)


def build_messages(question: str, hits: list[Hit], language: str, profile: Profile) -> list[BaseMessage]:
    """The system prompt (naming the profile's title) and one user message: the numbered passages,
    then the question."""
    system = SYSTEM_PROMPT.format(
        title=profile.title,
        not_said=NOT_SAID.get(language, NOT_SAID["fr"]),
        language=_LANGUAGE_NAMES.get(language, "français"),
    )
    passages = "\n\n".join(
        f"[{n}] ({hit.section or hit.source})\n{hit.chunk.text.strip()}" for n, hit in enumerate(hits, 1)
    )
    label = "Question" if language != "en" else "Question (answer in English)"
    return [SystemMessage(system), HumanMessage(f"Extraits :\n\n{passages}\n\n{label} : {question}")]


def stream_answer(model: BaseChatModel, messages: list[BaseMessage]) -> Iterator[str]:
    """The model's text as it comes.

    Raises:
        ModelFailure: the model could not be reached, was too slow, or failed.
    """
    try:
        for chunk in model.stream(messages):
            text = chunk.text if isinstance(chunk.text, str) else ""
            if text:
                yield text
    except ModelFailure:
        raise
    except Exception as err:  # openai, httpx and engine errors come in many kinds
        name = type(err).__name__
        kind = "timeout" if "timeout" in name.lower() else "unreachable" if "connect" in name.lower() else "error"
        raise ModelFailure(kind, name) from err


def _normalise_figures(text: str) -> str:
    return _DIGIT_SPACE.sub("", text.replace(" ", " "))


def figures_in(text: str) -> list[str]:
    """Figures and dates of a text (markers excluded), as written."""
    return [m.group(0).strip() for m in _FIGURE.finditer(_MARKER.sub(" ", text))]


def _supported(figure: str, passages: list[str]) -> bool:
    digits = _normalise_figures(figure).rstrip("%").strip().rstrip(".,")
    pattern = re.compile(rf"(?<![\d]){re.escape(digits)}(?![\d])")
    return any(pattern.search(_normalise_figures(p)) for p in passages)


def validate(raw: str, passages: list[str]) -> Checked:
    """Applies the checks to a model answer; `passages[i]` is passage `[i + 1]` given to the model."""
    removed: list[int] = []
    order: list[int] = []

    def markers_of(text: str) -> list[int]:
        found = []
        for match in _MARKER.finditer(text):
            for number in re.split(r"\s*[,;]\s*", match.group(1)):
                n = int(number)
                if 1 <= n <= len(passages):
                    found.append(n)
                else:
                    removed.append(n)
        return found

    kept_paragraphs: list[str] = []
    dropped: list[str] = []
    unsupported: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*[-*•])", raw.strip()):
        sentences = [s.strip() for s in split_sentences(paragraph) if s.strip()]
        own = [markers_of(s) for s in sentences]
        kept: list[str] = []
        for i, sentence in enumerate(sentences):
            if _MARKER.search(sentence) and not own[i]:  # it names sources, none of which was given
                dropped.append(sentence)
                continue
            # A sentence without a marker is backed by the next marker of its paragraph.
            cited = own[i] or next((m for m in own[i + 1 :] if m), [])
            missing = [f for f in figures_in(sentence) if not _supported(f, [passages[n - 1] for n in cited])]
            if missing:
                dropped.append(sentence)
                unsupported += missing
                continue
            kept.append(_clean_markers(sentence, len(passages)))
            order += own[i]
        if kept:
            kept_paragraphs.append(" ".join(kept))
    text = "\n\n".join(p for p in kept_paragraphs if _MARKER.sub("", p).strip())
    cited = list(dict.fromkeys(n for n in order if f"[{n}]" in text))
    return Checked(text, cited, dropped, sorted(set(removed)), unsupported)


def _clean_markers(sentence: str, count: int) -> str:
    """Keeps the valid numbers of each marker, one marker per number; drops the others."""

    def keep(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers) if 1 <= n <= count)

    cleaned = _MARKER.sub(keep, sentence)
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()


def renumber(checked: Checked, hits: list[Hit]) -> tuple[str, list[Citation]]:
    """The checked text with its markers numbered 1, 2… in order of first use, and its citations.

    Each citation's quotes are the passage sentences closest to the answer's sentences that cite it,
    so an adviser sees where in the passage the claim comes from.
    """
    new_number = {old: new for new, old in enumerate(checked.cited, 1)}

    def number(match: re.Match[str]) -> str:
        olds = [int(n) for n in re.findall(r"\d+", match.group(1))]
        return "".join(f"[{new_number[n]}]" for n in olds if n in new_number)

    text = _MARKER.sub(number, checked.text)
    citations = []
    for old, new in new_number.items():
        citation = citation_for(new, hits[old - 1])
        claims = [s for s in split_sentences(text) if f"[{new}]" in s]
        citation.quotes.extend(_closest_sentences(citation.text, claims))
        citations.append(citation)
    return text, citations


def _closest_sentences(passage: str, claims: list[str]) -> list[str]:
    """For each claim, the passage sentence that shares the most words with it (two at least)."""
    sentences = [s.strip() for s in split_sentences(passage) if s.strip()]
    stems = [set(analyze(s)) for s in sentences]
    quotes: list[str] = []
    for claim in claims:
        words = set(analyze(_MARKER.sub(" ", claim)))
        scored = sorted(((len(words & st), i) for i, st in enumerate(stems)), reverse=True)
        if scored and scored[0][0] >= 2 and sentences[scored[0][1]] not in quotes:
            quotes.append(sentences[scored[0][1]])
    return quotes
