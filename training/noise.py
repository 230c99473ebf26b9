"""How people type: a question rewritten as it is often typed in a chat, to train on.

Writers write most training questions carefully; users do not. A question rewritten here keeps
its words but loses what a hurried user drops (capitals, accents, the final question mark, the
« ne » of a negation), gets the contractions of texting French, and two or three slips of the
fingers on an AZERTY keyboard. Training on both spellings of a question teaches the reader to score
the hurried one as it scores the careful one. Deterministic for a given random generator.
"""

from __future__ import annotations

import random
import re

from assistant.reading.analysis import fold_accents
from assistant.reading.guard import detect_language

# Contractions of texting French, spelled as they are spoken (general usage, not any document's).
_TEXTING = (
    (r"\bqu'est-ce que\b", ("c quoi", "keske", "quest ce que")),
    (r"\bqu'est-ce qu'", ("c quoi", "keske", "quest ce qu")),
    (r"\best-ce que\b ?", ("", "esque ", "est ce que ")),
    (r"\best-ce qu'", ("", "est ce qu")),
    (r"(?<![\w-])je (?=[bcdfghjklmnpqrstvwxz])", ("j", "je ", "j'")),
    (r"\bc'est\b", ("c", "cest", "c'est")),
    (r"\bcombien\b", ("cb", "combien", "cmb")),
    (r"\bbeaucoup\b", ("bcp",)),
    (r"\bpourquoi\b", ("pk", "pq", "pourquoi")),
    (r"\bquoi\b", ("koi", "quoi")),
    (r"\bquand\b", ("qd", "quand", "kan")),
    (r"\bpour\b", ("pr", "pour", "pour")),
    (r"\bavec\b", ("avc", "avec")),
    (r"\btout\b", ("tt", "tout")),
    (r"\bvous\b", ("vs", "vous")),
    (r"\bs'il vous plaît\b", ("svp", "stp")),
    (r"\bil y a\b", ("ya", "y a", "il y a")),
    (r"\bquelqu'un\b", ("qqn", "quelqu'un")),
    (r"\bquelque chose\b", ("qqch", "qqc")),
    (r"\bque\b", ("ke", "que", "que")),
    (r"\bqui\b", ("ki", "qui", "qui")),
    (r"\bne (?=\w)", ("",)),
    (r"\bn'(?=\w)", ("",)),
    (r"\bd'accord\b", ("dac", "ok")),
    (r"\bmaintenant\b", ("mtn", "maintenant")),
    (r"\baujourd'hui\b", ("ajd", "auj")),
    (r"\bparce que\b", ("pcq", "psk", "parce que")),
)

_AZERTY_ROWS = ("azertyuiop", "qsdfghjklm", "wxcvbn")


def _neighbours() -> dict[str, str]:
    near: dict[str, str] = {}
    for r, row in enumerate(_AZERTY_ROWS):
        for c, key in enumerate(row):
            keys = [row[c - 1] if c else "", row[c + 1] if c + 1 < len(row) else ""]
            for other in (r - 1, r + 1):
                if 0 <= other < len(_AZERTY_ROWS) and c < len(_AZERTY_ROWS[other]):
                    keys.append(_AZERTY_ROWS[other][c])
            near[key] = "".join(keys)
    return near


_NEAR = _neighbours()


def slips(text: str, rng: random.Random, count: int) -> str:
    """`count` slips of the fingers, each in a different word of four letters or more: two letters
    swapped, one dropped, one doubled, or one replaced by a key beside it."""
    words = list(re.finditer(r"\w{4,}", text))
    if not words:
        return text
    chosen = sorted(rng.sample(words, min(count, len(words))), key=lambda m: m.start(), reverse=True)
    for match in chosen:
        word = match.group()
        i = rng.randrange(1, len(word) - 1)  # the first letter is rarely mistyped
        kind = rng.randrange(4)
        if kind == 0:
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif kind == 1:
            word = word[:i] + word[i + 1 :]
        elif kind == 2:
            word = word[:i] + word[i] + word[i:]
        else:
            near = _NEAR.get(word[i].lower(), "")
            word = word[:i] + (rng.choice(near) if near else word[i]) + word[i + 1 :]
        text = text[: match.start()] + word + text[match.end() :]
    return text


def texting(text: str, rng: random.Random) -> str:
    """The question as texted: contractions, no capitals, accents and final punctuation often gone."""
    text = text.lower()
    for pattern, spellings in _TEXTING:
        text = re.sub(pattern, lambda _m, options=spellings: rng.choice(options), text)
    if rng.random() < 0.7:
        text = fold_accents(text)  # the text is already in lower case
    if rng.random() < 0.6:
        text = re.sub(r"\s*[?!.]+\s*$", "", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def hurried(question: str, rng: random.Random) -> str:
    """A hurried spelling of `question`: texted, mistyped, or both. French questions only get the
    contractions of texting French; any question gets the slips."""
    french = detect_language(question) == "fr"
    style = rng.randrange(3)
    text = question
    if style in (0, 2) and french:
        text = texting(text, rng)
    elif style in (0, 2):
        text = text.lower()
    if style in (1, 2):
        text = slips(text, rng, rng.choice((1, 2, 3)))
    return text if text.strip() else question
