"""The keyword side: BM25 over the analysed chunks, and the corpus vocabulary questions are read against.

Built from the chunks stored in Chroma when the assistant loads, so nothing index-related lives
outside Chroma.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from assistant.analysis import (
    analyze,
    content_words,
    edit_distance,
    expand_word,
    fold_accents,
    is_function_word,
    phonetic_key,
    stem,
)
from assistant.lexicon import INTENTS
from assistant.store import StoredChunk

_HOW_LONG = re.compile(r"\bhow long\b", re.IGNORECASE)
_INTENT_WEIGHT = 2.0
_INTENTS = [(re.compile(pattern), words) for pattern, words in INTENTS]


@dataclass(frozen=True)
class QueryTerm:
    """One content word of a question and the corpus stems it stands for (empty when unknown)."""

    word: str
    stems: frozenset[str]
    key: bool  # says what the question is about (not « combien », « quel »…)
    weight: float = 1.0  # an intent read from a whole phrase counts more than one word

    @property
    def known(self) -> bool:
        return bool(self.stems)

    def weighted_stems(self, factor: float = 1.0) -> list[tuple[str, float]]:
        """Stems for BM25: the word's own stem counts fully; synonyms share half a weight, so
        that a word with many synonyms does not outweigh a precise one."""
        weight = factor * self.weight
        own = stem(self.word)
        others = sorted(self.stems - {own})
        weighted = [(own, weight)] if own in self.stems else []
        share = (0.5 if weighted else 1.0) * weight / max(len(others), 1)
        return weighted + [(s, share) for s in others]


class KeywordIndex:
    """BM25 (Okapi, k1 1.5, b 0.75) over chunk stems, plus the vocabulary for reading questions."""

    def __init__(self, chunks: list[StoredChunk], k1: float = 1.5, b: float = 0.75) -> None:
        self.chunks = chunks
        self.k1, self.b = k1, b
        self.docs = [Counter(analyze(_indexed_text(c))) for c in chunks]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        self.df: Counter[str] = Counter()
        for doc in self.docs:
            self.df.update(doc.keys())
        self.vocabulary = frozenset(self.df)
        self._by_phonetic: dict[str, set[str]] = {}
        self._surface: dict[str, set[str]] = {}
        for chunk in chunks:
            for word in content_words(_indexed_text(chunk)):
                self._surface.setdefault(word, set()).add(stem(word))
                self._by_phonetic.setdefault(phonetic_key(word), set()).add(stem(word))

    def idf(self, term: str) -> float:
        n = len(self.docs)
        df = self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, terms: list[tuple[str, float]]) -> list[float]:
        """BM25 score of every chunk for weighted stems."""
        result = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            score = 0.0
            for term, weight in terms:
                tf = doc.get(term, 0)
                if tf:
                    norm = tf + self.k1 * (1 - self.b + self.b * length / (self.avg_length or 1))
                    score += weight * self.idf(term) * tf * (self.k1 + 1) / norm
            result.append(score)
        return result

    def search(self, terms: list[tuple[str, float]], k: int) -> list[tuple[int, float]]:
        """Indexes and scores of the k best chunks with a positive score, for weighted stems."""
        scored = [(i, s) for i, s in enumerate(self.scores(terms)) if s > 0]
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:k]

    def read_question(self, text: str) -> list[QueryTerm]:
        """Maps each content word of a question to corpus stems: directly, through synonyms and
        English, then through SMS spelling (« nivo ») or one or two typos."""
        terms = []
        # « How long » asks for a duration; the French passages say « long » only of the stage.
        text = _HOW_LONG.sub("how many hours", text)
        for word in content_words(text):
            stems = frozenset(s for s in expand_word(word) if s in self.vocabulary)
            function_word = is_function_word(word)
            if not stems and not word.isdigit() and not function_word:
                stems = self._near(word)
            terms.append(QueryTerm(word, stems, not function_word))
        folded = fold_accents(text)
        for pattern, words in _INTENTS:
            if pattern.search(folded):
                stems = frozenset(s for s in analyze(words) if s in self.vocabulary)
                terms += [QueryTerm(s, frozenset({s}), True, _INTENT_WEIGHT) for s in sorted(stems)]
        return terms

    def _near(self, word: str) -> frozenset[str]:
        if len(word) < 3:
            return frozenset()
        if word[0] in "dlj" and len(word) > 4:  # an elision typed without its apostrophe: « dinsertion »
            glued = frozenset(s for s in expand_word(word[1:]) if s in self.vocabulary)
            if glued:
                return glued
        by_sound = self._by_phonetic.get(phonetic_key(word))
        if by_sound and len(word) >= 3:
            return frozenset(by_sound)
        limit = 1 if len(word) < 8 else 2
        if len(word) < 6:  # « porte » is one letter from « poste »: too short to guess a typo
            return frozenset()
        found: set[str] = set()
        for surface, stems in self._surface.items():
            if surface[0] == word[0] and edit_distance(word, surface, limit) <= limit:
                found.update(stems)
        return frozenset(found)


def _indexed_text(chunk: StoredChunk) -> str:
    section = str(chunk.metadata.get("section", ""))
    return f"{section}\n{chunk.text}" if section else chunk.text
