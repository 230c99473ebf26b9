"""French text analysis shared by BM25, coverage checks and sentence scoring.

The pipeline: fold accents and case, drop elisions (« l' », « d' », « qu' »), join digit
groups (« 24 000 » -> 24000), split into words, drop stop words, stem lightly.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from assistant.lexicon import ENGLISH_TO_FRENCH, OUT_OF_SCOPE, QUESTION_WORDS, STOP_WORDS, SYNONYMS

_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_DIGIT_GROUP = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)")
_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = (
    "ements", "ement", "ations", "ation", "euses", "euse", "ives", "ive", "ifs", "if",
    "ees", "ee", "es", "er", "ez", "e",
)  # fmt: skip


@lru_cache(maxsize=8192)
def fold_accents(text: str) -> str:
    """Lower-cases and strips accents: « Protégé Œuvre » -> « protege oeuvre ».

    Cached: the passages' sentences are folded again for every answer that reads them.
    """
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light French stemmer: plural then one common suffix, never below 3 letters."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith(("s", "x")) and not word.endswith(("ss", "us")):
        word = word[:-1]
    if word.endswith("aux"):
        word = word[:-3] + "al"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Folded words of a text, elisions removed, stop words kept."""
    text = _DIGIT_GROUP.sub("", _ELISION.sub(" ", text))
    return _WORD.findall(fold_accents(text))


def content_words(text: str) -> list[str]:
    """Folded words that carry meaning: no stop words, no single letters."""
    return [w for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def analyze(text: str) -> list[str]:
    """Stems of the content words: what BM25 indexes for a passage."""
    return [stem(w) for w in content_words(text)]


@lru_cache(maxsize=1)
def _aliases_by_stem() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for source in (SYNONYMS, ENGLISH_TO_FRENCH):
        for word, aliases in source.items():
            for key in {fold_accents(word), stem(fold_accents(word))}:
                table[key] = table.get(key, ()) + aliases
    return table


def expand_word(word: str) -> set[str]:
    """The stems a question word may match in French passages: itself, its synonyms, its French."""
    stems = {stem(word)}
    table = _aliases_by_stem()
    for alias in table.get(word, ()) or table.get(stem(word), ()):
        stems.update(analyze(alias))
    return stems


@lru_cache(maxsize=1)
def _function_word_keys() -> frozenset[str]:
    return frozenset(phonetic_key(w) for w in QUESTION_WORDS | STOP_WORDS if len(w) > 1)


def is_function_word(word: str) -> bool:
    """A question or stop word, also in SMS spelling (« ki », « kan », « pe », « koi »)."""
    if word in QUESTION_WORDS or word in STOP_WORDS:
        return True
    return len(word) <= 4 and phonetic_key(word) in _function_word_keys()


def phonetic_key(word: str) -> str:
    """A rough key under which SMS spellings meet their word: « nivo » and « niveau », « koi » and « quoi »."""
    key = fold_accents(word)
    for pattern, repl in (
        (r"eau|au", "o"), (r"qu|c(?=[aou])|ck", "k"), (r"ph", "f"), (r"c(?=[eiy])", "s"),
        (r"ai|ei|et$|er$|ez$", "e"), (r"(.)\1+", r"\1"), (r"[hs]$|(?<=.)e$|[tdx]$", ""),
    ):  # fmt: skip
        key = re.sub(pattern, repl, key)
    return key


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early once it exceeds limit (returns limit + 1 then)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def is_out_of_scope(word: str) -> bool:
    """A topic word the title's record does not settle (pay, cost, dates, places…)."""
    return word in OUT_OF_SCOPE or stem(word) in _out_of_scope_stems()


@lru_cache(maxsize=1)
def _out_of_scope_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in OUT_OF_SCOPE)
