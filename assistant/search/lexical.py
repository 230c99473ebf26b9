"""The lexical side: BM25 over passages (bm25s) and how a question's words map to the corpus.

A question word is matched by its Snowball stem; a word the corpus never uses is matched to the
closest corpus word when it looks like a typo of it (rapidfuzz), or stays unknown. Unknown key
words are what the coverage check counts against an answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from assistant.reading.analysis import analyze, content_words, is_question_word, stem

_TYPO_MIN_CHARS = 6  # « porte » is one letter from « poste »: shorter words are not guessed
# rapidfuzz ratio: a missing letter in 7 scores 92, a wrong one 86; « salaire » vs « salariés » 80.
_TYPO_MIN_RATIO = 85.0
_ELIDED = "dljnsctm"  # « dinsertion », « lemploi »: an elision typed without its apostrophe
UNKNOWN_DF_SHARE = 0.05
_EXACT = "="  # prefix of the tokens of words as written


@dataclass(frozen=True)
class QueryTerm:
    """A content word of a question and the corpus stems it matches."""

    word: str
    stems: frozenset[str]
    key: bool  # says what the question is about (not « combien », « peux »…)

    @property
    def known(self) -> bool:
        return bool(self.stems)


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over the analysed texts, and the corpus vocabulary."""

    def __init__(self, texts: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        import bm25s

        stems = [analyze(t) for t in texts]
        self.size = len(texts)
        self.df: Counter[str] = Counter()
        for doc in stems:
            self.df.update(set(doc))
        # BM25 also indexes each word as written (folded): stemming joins « certificateur » and
        # « certification », and the exact word, rarer, then counts for more.
        tokens = [doc + [_EXACT + w for w in content_words(t)] for doc, t in zip(stems, texts, strict=True)]
        self._exact = {tok for doc in tokens for tok in doc if tok.startswith(_EXACT)}
        self._surface: dict[str, str] = {}
        for text in texts:
            for word in content_words(text):
                self._surface.setdefault(word, stem(word))
        self._surfaces = list(self._surface)
        # Acronyms the documents define (« validation des acquis de l'expérience (VAE) »): a
        # question's « VAE » also matches the words it stands for, and its spelt-out form the letters.
        self.acronyms = defined_acronyms(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if texts:
            self._bm25.index([doc or [""] for doc in tokens], show_progress=False)

    @property
    def unknown_idf(self) -> float:
        """The weight of a word the corpus never uses: the idf of a word found in one passage out of
        `UNKNOWN_DF_SHARE`, i.e. as specific as a fairly rare corpus word, not as the rarest."""
        return math.log(1 + (self.size * (1 - UNKNOWN_DF_SHARE) + 0.5) / (self.size * UNKNOWN_DF_SHARE + 0.5))

    def idf(self, term: str) -> float:
        """BM25 idf of a stem; a stem the corpus lacks gets the idf of the rarest one."""
        df = self.df.get(term, 0)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, stems: list[str], words: list[str] = ()) -> np.ndarray:  # type: ignore[assignment]
        """BM25 score of every text for the given stems and words as written (unknown ones ignored)."""
        known = [s for s in stems if s in self.df] + [_EXACT + w for w in words if _EXACT + w in self._exact]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def read_question(self, text: str) -> list[QueryTerm]:
        """Each content word of a text (a previous turn, a part of a question), with the corpus
        stems it matches (none: unknown)."""
        return self.terms(tuple(dict.fromkeys(content_words(text))))

    def terms(self, words: tuple[str, ...]) -> list[QueryTerm]:
        """Each of a question's content words (`Question.words`), with the corpus stems it matches."""
        terms = []
        for word in words:
            own = stem(word)
            stems = frozenset({own}) if own in self.df else self._near(word)
            stems |= self.acronyms.get(word, frozenset())
            terms.append(QueryTerm(word, stems, key=not is_question_word(word)))
        return terms

    def _near(self, word: str) -> frozenset[str]:
        """The stem of the corpus word a typo stands for, if one is close enough."""
        if word.isdigit():
            return frozenset()
        if len(word) > 4 and word[0] in _ELIDED and stem(word[1:]) in self.df:
            return frozenset({stem(word[1:])})
        if len(word) < _TYPO_MIN_CHARS or not self._surfaces:
            return frozenset()
        from rapidfuzz import fuzz, process

        found = process.extractOne(word, self._surfaces, scorer=fuzz.ratio, score_cutoff=_TYPO_MIN_RATIO)
        return frozenset({self._surface[found[0]]}) if found else frozenset()


_DEFINITION = re.compile(r"([^()\n]{3,120})\(\s*([A-Z][A-Za-z]{1,7})\s*\)")


def defined_acronyms(texts: list[str]) -> dict[str, frozenset[str]]:
    """Acronyms defined in the texts, by their folded form, with the stems of the words they stand
    for: the content words just before « (ACRONYM) » whose initials spell it."""
    found: dict[str, frozenset[str]] = {}
    for text in texts:
        for before, acronym in _DEFINITION.findall(text):
            letters = acronym.lower()
            words = [w for w in content_words(before) if not w.isdigit()]
            for start in range(max(0, len(words) - len(letters) - 2), len(words)):
                span = words[start:]
                if "".join(w[0] for w in span) == letters:
                    found.setdefault(letters, frozenset(stem(w) for w in span))
                    break
    return found
