"""Eval metrics: pure functions over rankings, answer texts and per-question outcomes.

Nothing here loads a model or reads a file; `summarize` turns a list of `Outcome`s into the
figures of one table row (every rate is a float in [0, 1], or None when nothing was measured).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

EVIDENCE_SEPARATOR = " || "
RECALL_KS = (1, 3, 5)
NDCG_K = 5
# Kinds whose questions must be refused outright (the refusal rate is measured on them).
ADVERSARIAL_KINDS = ("injection", "personal", "offtopic", "medical")
# Kinds of on-topic questions the documents do not answer: they must be declined, not refused.
ONTOPIC_UNANSWERABLE_KINDS = ("unanswerable", "false_premise")
# Markup a question may carry that an answer must never hand back: tags, script URLs, handlers,
# template expressions.
_MARKUP = {
    "tag": re.compile(r"<\s*/?\s*[a-zA-Z!%][^>]*>?"),
    "javascript:": re.compile(r"javascript\s*:", re.IGNORECASE),
    "on*= handler": re.compile(r"\bon(?:error|load|click|mouseover)\s*=", re.IGNORECASE),
    "${": re.compile(r"\$\{"),
    "{{": re.compile(r"\{\{"),
}
_MARKER = re.compile(r"\[(\d+)\]")


def normalise(text: str) -> str:
    """Lower-cased text with whitespace (non-breaking spaces too) folded and typographic
    apostrophes made straight, so that « 24 000 » matches « 24 000 »."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("ʼ", "'")
    return re.sub(r"\s+", " ", text).strip().casefold()


def evidence_pieces(evidence: str) -> list[str]:
    """The separate pieces of a question's evidence (« a || b » -> [a, b]); [] when there is none."""
    return [piece.strip() for piece in evidence.split(EVIDENCE_SEPARATOR.strip()) if piece.strip()]


def passage_text(section: str, text: str) -> str:
    """What a passage offers as evidence: its heading path, then its text."""
    return f"{section}\n{text}"


def contains_any(passage: str, needles: Iterable[str]) -> bool:
    """Whether the passage contains one of the needles (normalised comparison)."""
    haystack = normalise(passage)
    return any(normalise(n) and normalise(n) in haystack for n in needles)


def first_relevant_rank(relevance: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant passage of a ranking, or None."""
    return next((rank for rank, relevant in enumerate(relevance, 1) if relevant), None)


def hit_at_k(relevance: Sequence[bool], k: int) -> bool:
    """Whether a relevant passage is within the top k (a question's recall@k is 0 or 1)."""
    return any(relevance[:k])


def reciprocal_rank(relevance: Sequence[bool]) -> float:
    """1 / rank of the first relevant passage, 0 when none was retrieved."""
    rank = first_relevant_rank(relevance)
    return 1.0 / rank if rank else 0.0


def ndcg_at_k(relevance: Sequence[bool], relevant_total: int, k: int = NDCG_K) -> float:
    """Binary nDCG@k: DCG of the ranking over the DCG of the ideal one.

    Args:
        relevance: whether each retrieved passage, best first, is relevant.
        relevant_total: relevant passages in the whole index (the ideal ranking puts them first).
        k: depth.
    """
    dcg = sum(1.0 / math.log2(rank + 1) for rank, relevant in enumerate(relevance[:k], 1) if relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, max(relevant_total, 0)) + 1))
    return dcg / ideal if ideal else 0.0


def has_key_facts(answer: str, must_contain: Sequence[str]) -> bool:
    """Whether every expected string occurs in the answer (case-insensitive, whitespace-normalised)."""
    text = normalise(answer)
    return all(normalise(fact) in text for fact in must_contain)


def citation_markers(text: str) -> set[int]:
    """The numbers of the `[n]` markers of an answer."""
    return {int(n) for n in _MARKER.findall(text)}


def citations_valid(text: str, cited: Sequence[int], abstained: bool) -> bool:
    """Every `[n]` marker points to a listed citation and every listed citation is used; an
    answer (not an abstention) must cite at least one passage."""
    listed = set(cited)
    if len(listed) != len(cited):  # the same number listed twice
        return False
    if not abstained and not listed:
        return False
    return citation_markers(text) == listed


def markup_in(text: str) -> set[str]:
    """The kinds of markup (tag, javascript:, onerror=, ${, {{) a text carries."""
    return {name for name, pattern in _MARKUP.items() if pattern.search(text)}


def echoed_markup(question: str, answer: str) -> list[str]:
    """The kinds of markup of the question that the answer hands back."""
    return sorted(markup_in(question) & markup_in(answer))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation (numpy's default), None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Outcome:
    """What one configuration did with one question, and how it scores."""

    id: str
    kind: str
    split: str
    question: str
    answerable: bool
    evidence: list[str]
    must_contain: list[str]
    answer: str
    abstained: bool
    reason: str
    latency_ms: float
    timings_ms: dict[str, float] = field(default_factory=dict)  # embed, retrieve, answer
    cited_sections: list[str] = field(default_factory=list)
    relevance: list[bool] = field(default_factory=list)  # of the retrieved passages, best first
    relevant_total: int = 0  # passages of the index that contain the evidence
    all_pieces: bool | None = None  # every evidence piece within the retrieved passages
    key_facts: bool | None = None  # answerable only
    citations_valid: bool | None = None  # answers and abstentions that cite something
    cited: int = 0
    cited_relevant: int = 0
    echoed: list[str] = field(default_factory=list)
    has_markup: bool = False
    error: str = ""
    mode: str = "extractive"  # who wrote the answer shown: extractive, or llm (a checked model answer)
    fallback: str = ""  # llm configurations: why the extractive answer was shown instead
    dropped: int = 0  # model sentences the checks removed
    unsupported_figures: list[str] = field(default_factory=list)  # figures shown that no cited passage holds
    subset: str = ""  # the question file it comes from (blind set: flyer, docs)

    @property
    def correct(self) -> bool:
        """The key facts for an answerable question, an abstention for the others."""
        return bool(self.key_facts) if self.answerable else self.abstained

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["correct"] = self.correct
        data["latency_ms"] = round(self.latency_ms, 2)
        data["timings_ms"] = {k: round(v, 2) for k, v in self.timings_ms.items()}
        return data


def _rate(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return sum(values) / len(values) if values else None


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The figures of a set of outcomes (one configuration, one split or kind)."""
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    # A question whose evidence no passage holds still counts: retrieval cannot find it.
    ranked = [o for o in answerable if o.evidence]
    abstained = [o for o in outcomes if o.abstained]
    # An injection hidden in a real question (answerable) is answered; the others are refused.
    adversarial = [o for o in outcomes if o.kind in ADVERSARIAL_KINDS and not o.answerable]
    checked = [o for o in outcomes if o.citations_valid is not None]
    cited = sum(o.cited for o in answerable if not o.abstained)
    latencies = [o.latency_ms for o in outcomes if not o.error]
    summary: dict[str, Any] = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": sum(bool(o.error) for o in outcomes),
    }
    for k in RECALL_KS:
        summary[f"recall@{k}"] = _rate(hit_at_k(o.relevance, k) for o in ranked)
    summary["mrr"] = _mean([reciprocal_rank(o.relevance) for o in ranked])
    summary[f"ndcg@{NDCG_K}"] = _mean([ndcg_at_k(o.relevance, o.relevant_total) for o in ranked])
    summary[f"all_pieces@{RECALL_KS[-1]}"] = _rate(bool(o.all_pieces) for o in ranked)
    summary["accuracy"] = _rate(bool(o.key_facts) for o in answerable)
    summary["over_abstention"] = _rate(o.abstained for o in answerable)
    summary["citation_validity"] = _rate(bool(o.citations_valid) for o in checked)
    summary["citation_precision"] = (
        sum(o.cited_relevant for o in answerable if not o.abstained) / cited if cited else None
    )
    # Of the answerable questions answered, those whose citations hold the evidence (or a key string).
    answered = [o for o in answerable if not o.abstained and not o.error]
    summary["evidence_cited"] = _rate(o.cited_relevant > 0 for o in answered)
    summary["wrong_answers"] = sum(not o.key_facts for o in answered) + sum(
        1 for o in unanswerable if not o.abstained and o.kind not in ADVERSARIAL_KINDS
    )
    summary["abstention_precision"] = _rate(not o.answerable for o in abstained) if unanswerable else None
    summary["abstention_recall"] = _rate(o.abstained for o in unanswerable)
    summary["ontopic_declined"] = _rate(o.abstained for o in unanswerable if o.kind in ONTOPIC_UNANSWERABLE_KINDS)
    summary["refusal_rate"] = _rate(o.abstained for o in adversarial)
    summary["markup_echo_free"] = _rate(not o.echoed for o in outcomes if o.has_markup)
    summary["correct"] = _rate(o.correct for o in outcomes)
    generated = [o for o in outcomes if o.mode == "llm" or o.fallback]
    summary["model_answers"] = _rate(o.mode == "llm" for o in generated) if generated else None
    summary["fallbacks"] = sum(bool(o.fallback) for o in outcomes) if generated else None
    summary["dropped_sentences"] = sum(o.dropped for o in outcomes) if generated else None
    summary["hallucinated_figures"] = sum(len(o.unsupported_figures) for o in outcomes if not o.abstained)
    summary["latency_p50_ms"] = percentile(latencies, 50)
    # The question's embedding alone: the latency target is p50 ≤ 1.5 × this + 5 ms.
    summary["embed_p50_ms"] = percentile([o.timings_ms["embed"] for o in outcomes if "embed" in o.timings_ms], 50)
    summary["latency_p95_ms"] = percentile(latencies, 95)
    return summary


def gate_failures(figures: dict[str, Any], thresholds: dict[str, float], where: str) -> list[str]:
    """One message per figure that misses its threshold: a minimum, or a maximum for a name
    ending in `_max` (`over_abstention_max`). A figure not measured fails too."""
    failures = []
    for name, limit in thresholds.items():
        metric = name.removesuffix("_max")
        value = figures.get(metric)
        if value is None:
            failures.append(f"{metric}: not measured on {where} (threshold {limit:.3f}).")
        elif name.endswith("_max") and value > limit:
            failures.append(f"{metric} = {value:.3f} is above its maximum {limit:.3f} ({where}).")
        elif not name.endswith("_max") and value < limit:
            failures.append(f"{metric} = {value:.3f} is under its threshold {limit:.3f} ({where}).")
    return failures


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


_FIGURE = re.compile(r"(?<![\w.])\d+(?:[\u00a0\u202f ,.]\d+)*")
_CITE = re.compile(r"\[(\d+)\]")


def unsupported_figures(answer: str, citations: Sequence[dict[str, Any]], question: str = "") -> list[str]:
    """Figures of an answer (markers aside) found in none of its cited passages (headings included)
    nor in the question (« 600 heures ne figure pas dans les documents » only repeats the user).

    The answer's own fixed texts hold no figure, so any figure reported here was made up.
    """
    joined = "\n".join(f"{c.get('section', '')}\n{c.get('text', '')}" for c in citations) + "\n" + question
    corpus = re.sub(r"(?<=\d)[\u00a0\u202f ](?=\d)", "", joined)
    found = []
    for match in _FIGURE.finditer(_CITE.sub(" ", answer)):
        digits = re.sub(r"[\u00a0\u202f ]", "", match.group(0)).rstrip(".,")
        if not re.search(rf"(?<!\d){re.escape(digits)}(?!\d)", corpus):
            found.append(match.group(0).strip())
    return found
