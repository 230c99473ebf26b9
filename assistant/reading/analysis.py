"""French text analysis shared by BM25, sentence scoring and the coverage check.

Accents and case are folded, elisions (« l' », « d' », « qu' ») dropped, digit groups joined
(« 24 000 » -> 24000), stop words removed, and words stemmed by the Snowball French stemmer
(PyStemmer). Words of three letters or fewer are kept whole: acronyms (« VAE », « EA ») must not
meet a stop word once stemmed.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from assistant.reading.stopwords import QUESTION_WORDS, STOP_WORDS

_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_DIGIT_GROUP = re.compile(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)")
_WORD = re.compile(r"[a-z0-9]+")
# « je » elided before a consonant, as people text it (« jpeux », « jbosse »): no French word
# starts with j and a consonant.
_SMS_ELISION = re.compile(r"\bj(?=[bcdfghklmnpqrstvwxz][a-z]{2})")
_SHORTEST_STEMMED = 4
# Number words read as the digits documents print (« trois blocs » finds « 3 blocs »); « un » and
# « une » stay articles.
_NUMBERS = dict(
    deux="2",
    trois="3",
    quatre="4",
    cinq="5",
    six="6",
    sept="7",
    huit="8",
    neuf="9",
    dix="10",
    onze="11",
    douze="12",
    quinze="15",
    vingt="20",
    trente="30",
    cent="100",
    two="2",
    three="3",
    four="4",
    five="5",
)
_local = threading.local()  # a PyStemmer object is not safe to share between threads


@lru_cache(maxsize=16384)
def fold_accents(text: str) -> str:
    """Lower-cases and strips accents: « Protégé Œuvre » -> « protege oeuvre »."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stemmer() -> object:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("french")
    return stemmer


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball French stem of a folded word; short words and numbers stay whole."""
    if word.isdigit() or len(word) < _SHORTEST_STEMMED:
        return word
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def words(text: str) -> list[str]:
    """Folded words of a text, elisions removed, stop words kept."""
    text = _DIGIT_GROUP.sub("", _ELISION.sub(" ", text))
    text = _SMS_ELISION.sub("", fold_accents(text))
    return [_NUMBERS.get(w, w) for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Folded words that carry meaning: no stop words, no single letters."""
    return [w for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def analyze(text: str) -> list[str]:
    """Stems of the content words: what BM25 indexes for a passage or a sentence."""
    return [stem(w) for w in content_words(text)]


# A question that asks for a quantity, a duration, a date or a rate: generic interrogatives and
# the nouns of measure that follow « quel », in French and English; folded text.
_ASKS_FIGURE = re.compile(
    r"\b(combien|cb|cmb|quand|tous les combien|dans quel delai"
    r"|(a partir|jusqu) ?a? quand"
    r"|quel(le)?s?( (est|sont|etait|sera))?( (le|la|les|l))? (age|duree|delai|taux|pourcentage|proportion"
    r"|montant|prix|cout|nombre|date|annee|frequence|niveau|periode|part)"
    r"|how (many|much|long|often|old|soon)|when|what (percentage|proportion|rate|age|date|level|share))\b"
)
# Ordinals written out (« sixième mois », « premier trimestre »).
_ORDINAL = re.compile(r"\b(premier|premiere|second|seconde|[a-z]+iemes?)\b")


def asks_figure(question: str) -> bool:
    """Whether the question asks for a figure: « combien… », « dans quel délai… », « when… »."""
    return bool(_ASKS_FIGURE.search(fold_accents(question).replace("'", " ").replace("’", " ")))


def has_figure(text: str) -> bool:
    """Whether a text states a figure: digits, a number word or a written ordinal."""
    return any(w.isdigit() for w in words(text)) or bool(_ORDINAL.search(fold_accents(text)))


def is_question_word(word: str) -> bool:
    """A word that shapes a question without saying what it is about (« combien », « peux »)."""
    return word in QUESTION_WORDS or word in STOP_WORDS
