"""Extractive answers: quote, word for word, the retrieved sentences that answer the question.

Only connecting phrases are written by the assistant (`messages.py`); every fact is a quote,
followed by the marker of the citation it comes from.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.analysis import analyze, fold_accents
from assistant.chunking import split_sentences
from assistant.keywords import KeywordIndex, QueryTerm
from assistant.messages import say
from assistant.retrieval import Hit, Retrieval, split_question

_LIST_QUESTION = re.compile(
    r"\b(quels sont|quelles sont|lesquel|liste|enumere|cite[rz]?|les (deux|trois|2|3|different)"
    r"|differentes|differents|tous les|toutes les|which are|what are|list|name the|all the)\b"
)
_QUANTITY_QUESTION = re.compile(
    r"\b(combien|cb|cmb|quel(le)? (est|sont) (le|la|les) (taux|nombre|duree|pourcentage|niveau)"
    r"|how many|how much|how long|what percentage|rate|duree|taux|nombre|pourcentage|chiffres?)\b"
)
_DEFINITION_QUESTION = re.compile(
    r"\b(?:signifie|veut dire|sigle|acronyme|stand for|stands for|meaning of)\b.*?\b([a-z]{2,8})\b\s*\??\s*$"
    r"|\b([a-z]{2,8})\b\s*(?:signifie|veut dire|,? c'est quoi|stands? for)"
)
_ENTITY_QUESTION = re.compile(
    r"(^|[,;]|\bet\b|\bc'?est\b|\bc\b)\s*(qui|ki)\b(?!\s+(peu|peut|peuvent|doit|doivent|a le droit|est concerne))"
    r"|\b(qui|ki|who)\s+(en\s+)?(est|sont|a|ont|certifie|delivre|habilite|organise|decide|is|are|does|issues|awards|certifies)\b"
    r"|\b(quel|quelle|which|what) (organisme|organisation|body|institution)"
)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,}(?:-[A-Z0-9]+)*\b")
_LIST_BONUS = 0.15  # a list question prefers list items
_ENTITY_BONUS = 0.1  # « qui… ? » prefers a sentence that names a body (CPNE-FP, France compétences)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•–]|\d+[.)])\s+")
_CONTEXT_WEIGHT = 0.4  # weight of the previous turn's words in a follow-up
_SECTION_WEIGHT = 0.8
_COVER_RATIO = 0.5  # another sentence is quoted only if it scores this share of the best one…
_MIN_GAIN = 0.15  # …and answers this share of the question the quoted ones do not,
_TIE_RATIO = 0.97  # …or ties with the best one in the same passage
_MAX_SENTENCES = 4


@dataclass(frozen=True)
class Citation:
    """A retrieved passage an answer quotes; `n` is its `[n]` marker in the text."""

    n: int
    source: str
    section: str
    text: str
    score: float
    rank: int
    chunk_id: str
    quotes: list[str]
    dense_score: float | None = None
    bm25_score: float | None = None
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.page is None:
            del data["page"]
        return data


@dataclass
class Answer:
    """The reply to one question."""

    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    latency_ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    reason: str = "answered"  # answered, not_in_documents, offtopic, injection, medical, personal…
    language: str = "fr"
    followup: bool = False
    query: str = ""
    coverage: float = 0.0
    mode: str = "extractive"  # who wrote the text: "extractive" (quotes) or "llm" (a checked model answer)
    fallback: str = ""  # in llm mode, why the extractive answer was shown: unreachable, timeout, error, no_citation
    dropped: list[str] = field(default_factory=list)  # model sentences removed for an unsupported figure

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "latency_ms": round(self.latency_ms, 2),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "reason": self.reason,
            "language": self.language,
            "followup": self.followup,
            "mode": self.mode,
            "fallback": self.fallback,
            "dropped": list(self.dropped),
        }


@dataclass(frozen=True)
class _Unit:
    hit: Hit
    position: int
    text: str
    score: float
    block: int  # index of the list block the unit belongs to, or -1
    stems: frozenset[str]


def _units(hit: Hit) -> list[tuple[str, int]]:
    """The sentences and list items of a hit, each with the index of its list block (-1 if none)."""
    units: list[tuple[str, int]] = []
    block = -1
    in_list = False
    outline = hit.chunk.metadata.get("kind") == "outline"
    for paragraph_index, paragraph in enumerate(re.split(r"\n\s*\n", hit.chunk.text)):
        for unit in split_sentences(paragraph) if not outline else paragraph.splitlines():
            unit = unit.strip()
            if not unit:
                continue
            is_item = outline or bool(_LIST_ITEM.match(unit))
            if is_item and not in_list:
                block = paragraph_index
            in_list = is_item
            units.append((unit, block if is_item else -1))
        in_list = False
    return units


def _weights(terms: list[QueryTerm], index: KeywordIndex, factor: float) -> list[tuple[frozenset[str], float]]:
    return [(t.stems, factor * t.weight * max(index.idf(s) for s in t.stems)) for t in terms if t.stems]


def compose(
    question: str,
    retrieval: Retrieval,
    index: KeywordIndex,
    language: str,
    max_cited: int,
    intro_key: str = "intro",
) -> tuple[str, list[Citation], float]:
    """Writes the extractive answer and its citations from the retrieved hits.

    A question that asks two things (« …, et combien… ? ») gets the sentences of each part.

    Returns:
        The text, the citations, and the coverage: the share (idf-weighted) of the question's key
        words found in the quoted sentences or their headings.
    """
    context = [t for t in retrieval.context_terms if t.key] if retrieval.followup else []
    parts = split_question(question)
    chosen: list[_Unit] = []
    for part in parts:
        terms = retrieval.terms if len(parts) == 1 else index.read_question(part)
        budget = max_cited - len({u.hit.chunk.id for u in chosen})
        for unit in _select(part, terms, context, retrieval.hits, index, max(budget, 1)):
            if (unit.hit.chunk.id, unit.position) not in {(u.hit.chunk.id, u.position) for u in chosen}:
                chosen.append(unit)
    if not chosen:
        return "", [], 0.0
    ordered = sorted(chosen, key=lambda u: (u.hit.rank, u.position))
    coverage = _coverage(retrieval.terms, ordered, index)

    citations: dict[str, Citation] = {}
    lines = []
    for unit in ordered:
        chunk = unit.hit.chunk
        if chunk.id not in citations:
            citations[chunk.id] = citation_for(len(citations) + 1, unit.hit)
        citation = citations[chunk.id]
        citation.quotes.append(unit.text)
        quote = _LIST_ITEM.sub("", unit.text)
        if not (quote.startswith("«") and quote.endswith("»")):  # already a quotation in the source
            quote = f"« {quote} »"
        lines.append(f"- {quote} [{citation.n}]")
    intro = say(intro_key, language)
    if len(lines) == 1:
        return f"{intro} {lines[0][2:]}", list(citations.values()), coverage
    return intro + "\n" + "\n".join(lines), list(citations.values()), coverage


def _coverage(terms: list[QueryTerm], units: list[_Unit], index: KeywordIndex) -> float:
    """Share of the question's known key words (idf-weighted) that the quoted sentences or their
    headings contain."""
    seen: set[str] = set()
    for unit in units:
        seen |= unit.stems | set(analyze(unit.hit.section))
    weights = _weights([t for t in terms if t.key], index, 1.0)
    total = sum(w for _, w in weights)
    if not total:
        return 1.0
    return sum(w for stems, w in weights if stems & seen) / total


def _select(
    question: str,
    terms: list[QueryTerm],
    context: list[QueryTerm],
    hits: list[Hit],
    index: KeywordIndex,
    max_cited: int,
) -> list[_Unit]:
    """The sentences that answer a question: the best one, then those that answer what it leaves
    out, then the whole list it belongs to when a list is asked for."""
    folded = fold_accents(question)
    weighted = _weights(terms, index, 1.0) + _weights(context, index, _CONTEXT_WEIGHT)
    total = sum(w for _, w in weighted) or 1.0
    wants_list = bool(_LIST_QUESTION.search(folded))
    wants_figure = bool(_QUANTITY_QUESTION.search(folded))
    defined = _defined_term(folded)
    wants_entity = bool(_ENTITY_QUESTION.search(folded))
    own_terms = _weights([t for t in terms if t.key], index, 1.0)

    scored: list[_Unit] = []
    for hit in hits:
        # The heading right above a passage speaks for all of it (« Les prérequis d'accès… »).
        heading_stems = set(analyze(hit.section.split(" > ")[-1]))
        prior = 0.15 / hit.rank
        for position, (text, block) in enumerate(_units(hit)):
            stems = frozenset(analyze(text))
            heading_weight = 1.0 if block == 0 else _SECTION_WEIGHT  # a list right under its heading
            score = 0.0
            for term_stems, weight in weighted:
                if term_stems & stems:
                    score += weight
                elif term_stems & heading_stems:
                    score += heading_weight * weight
            score = score / total + prior
            if wants_figure and re.search(r"\d", text):
                score += 0.1
            if defined and re.search(rf"\b{re.escape(defined)}\s*\(", text, re.IGNORECASE):
                score += 0.3
            if wants_list and block >= 0:
                score += _LIST_BONUS
            if wants_entity and _names_an_entity(text, folded):
                score += _ENTITY_BONUS
            scored.append(_Unit(hit, position, text, score, block, stems))
    if not scored:
        return []

    ranked = sorted(scored, key=lambda u: -u.score)
    best = ranked[0]
    chosen = [best]
    covered = {i for i, (stems, _) in enumerate(own_terms) if stems & best.stems}
    own_total = sum(w for _, w in own_terms) or 1.0
    for unit in ranked[1:]:
        if len(chosen) >= _MAX_SENTENCES or unit.score < _COVER_RATIO * best.score:
            break
        new = {i for i, (stems, _) in enumerate(own_terms) if stems & unit.stems} - covered
        gain = sum(own_terms[i][1] for i in new) / own_total
        tied = unit.hit is best.hit and unit.score >= _TIE_RATIO * best.score
        cited = {u.hit.chunk.id for u in chosen}
        if unit.hit.chunk.id not in cited and len(cited) >= max_cited:
            continue
        if gain >= _MIN_GAIN or tied:
            chosen.append(unit)
            covered |= new
    if best.block >= 0 and (wants_list or best.hit.chunk.metadata.get("kind") == "outline"):
        chosen += [u for u in scored if u.hit is best.hit and u.block == best.block and u not in chosen]
    return chosen


def _names_an_entity(text: str, folded_question: str) -> bool:
    """Whether a sentence names an organisation (an acronym) that the question does not."""
    return any(fold_accents(a) not in folded_question for a in _ACRONYM.findall(text))


def _defined_term(folded_question: str) -> str:
    """The acronym a question asks the meaning of (« que signifie ESAT ? » -> esat), or ""."""
    match = _DEFINITION_QUESTION.search(folded_question)
    if not match:
        return ""
    term = match.group(1) or match.group(2) or ""
    return "" if term in ("le", "la", "les", "sigle", "the", "does", "what") else term


def citation_for(n: int, hit: Hit) -> Citation:
    meta = hit.chunk.metadata
    page = meta.get("page")
    return Citation(
        n=n,
        source=hit.source,
        section=hit.section,
        text=hit.chunk.text,
        score=round(hit.score, 5),
        rank=hit.rank,
        chunk_id=hit.chunk.id,
        quotes=[],
        dense_score=None if hit.dense_score is None else round(hit.dense_score, 4),
        bm25_score=None if hit.bm25_score is None else round(hit.bm25_score, 4),
        page=int(page) if isinstance(page, int) else None,
    )
