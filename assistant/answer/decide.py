"""The decision: the reader scores the candidate sentences, the answer quotes the best, or the
assistant declines and says why.

Candidates are the sentences and list items of the best retrieved passages; the reader's score of
each is its cosine similarity to the question under the reader model (the model the index was
built with: `models/reader.py`), blended with its passage's (a sentence is read in its context),
plus a share of the question's words it holds (the similarity alone misses a word the question
turns on), plus, for a question about the title (its subject words occur in the title's own documents, which
the profile names, or it names the title), a prior for those documents, which the reader overrides
when another document answers better. Naming the title chooses the document with a larger prior;
the threshold sees only the smaller one (on dev: 17 wrong answers instead of 30). A pair's score
does not depend on how many documents the corpus holds, so adding documents does not move the
threshold. It rises (`reader_unsure_penalty`) when a sentence of another document scores within
`reader_unsure_gap` of the best one: where two sources answer about as well, the reader errs most
(dev: 10 fewer wrong answers for 2 fewer right).

The answer quotes the best sentence; the sentence that follows it in its passage when it scores
within `reader_follow_margin` of it (wider than for the others: read alone, « Cette notification
peut en outre… » does not say what it is about) or when the best announces it with « : »; any
other candidate that scores within `reader_margin` of it (they often complete it); a whole list
when its items score together, and what finishes it when its passage leaves it unfinished
(`lists.py`: on dev, « Quelles formations sont éligibles au CPF ? » quoted two of six items). A
question in two parts gets the best sentence of each part the reader accepts, and is told which
part no quote answers clearly. Declining reasons: `offtopic`,
`unknown_name` (a name or place no document uses), `reader` (the best score is under the
threshold), `unknown_year` (a year no document holds), `no_passage`.
"""

from __future__ import annotations

import re

from assistant.answer.compose import quote_lines, said
from assistant.answer.lists import Continuations
from assistant.answer.messages import say
from assistant.answer.types import CorpusFacts, Decision, decline
from assistant.config import Settings
from assistant.profile import Profile
from assistant.reading.analysis import fold_accents
from assistant.reading.question import Question
from assistant.search.found import Hit, Retrieval, ScoredUnit

_YEAR = re.compile(r"(?:19|20)\d\d")


def reader_scores(
    similarities: dict[str, float],
    retrieval: Retrieval,
    settings: Settings,
    profile: Profile,
    named: bool = True,
    shares: dict[str, float] | None = None,
) -> dict[str, float]:
    """Each candidate sentence's reader score, by unit id: its similarity to the question (or to a
    part of it) blended with its passage's (`reader_passage_weight`), plus `reader_share_weight` ×
    the share of the question's words it or its heading holds, plus `reader_figure_weight` when the
    question asks for a figure and the sentence states one, plus, for a question about the title,
    the prior of the title's own documents (`named`: the larger one when the question names the
    title). `shares`: for a part of the question, the share of the part's own words."""
    own = set(profile.documents) if retrieval.about_title else set()
    prior = settings.reader_named_prior if named and retrieval.names_title else settings.reader_title_prior
    passage: dict[str, float] = {}
    for u in retrieval.units:  # a passage the dense side did not rank: its best sentence stands for it
        key = u.hit.chunk.id
        passage[key] = max(passage.get(key, -1.0), u.hit.dense_score if u.hit.dense_score is not None else u.dense)
    weight = settings.reader_passage_weight
    extra = {
        u.unit.id: (
            weight * passage[u.hit.chunk.id]
            + settings.reader_share_weight * (u.lexical if shares is None else shares.get(u.unit.id, u.lexical))
            + (settings.reader_figure_weight if u.figure_gain > 0 else 0.0)
            + (prior if u.hit.source in own else 0.0)
        )
        for u in retrieval.units
    }
    return {unit_id: (1 - weight) * value + extra.get(unit_id, 0.0) for unit_id, value in similarities.items()}


def similarities(retrieval: Retrieval, settings: Settings, part: int | None = None) -> dict[str, float]:
    """Each candidate sentence's similarity to the question (or to its part number `part`): its
    cosine blended with its late-interaction score (`reader_late_weight`) when retrieval gave one."""
    cosine = {u.unit.id: u.dense for u in retrieval.units} if part is None else retrieval.part_scores[part]
    late = retrieval.late if part is None else (retrieval.part_late[part] if retrieval.part_late else {})
    weight = settings.reader_late_weight if late else 0.0
    if not weight:
        return cosine
    return {unit_id: (1 - weight) * value + weight * late.get(unit_id, value) for unit_id, value in cosine.items()}


def _best(units: list[ScoredUnit], scores: dict[str, float]) -> ScoredUnit:
    return max(units, key=lambda u: (scores[u.unit.id], -u.hit.rank, -u.unit.position))


def source_gap(units: list[ScoredUnit], sure: dict[str, float], best: ScoredUnit) -> float | None:
    """How far the best sentence scores above the best one of another document (scores without the
    named prior); None when no other document has a candidate."""
    others = [sure[u.unit.id] for u in units if u.hit.source != best.hit.source]
    return sure[best.unit.id] - max(others) if others else None


def unsure_shift(units: list[ScoredUnit], sure: dict[str, float], best: ScoredUnit, settings: Settings) -> float:
    """What the threshold rises by when a sentence of another document scores within
    `reader_unsure_gap` of the best one: the reader is not sure which source answers. Passages of
    one document that repeat an answer are no such doubt."""
    if settings.reader_unsure_penalty <= 0:
        return 0.0
    gap = source_gap(units, sure, best)
    return settings.reader_unsure_penalty if gap is not None and gap <= settings.reader_unsure_gap else 0.0


def choose(units: list[ScoredUnit], scores: dict[str, float], best: ScoredUnit, settings: Settings) -> list[ScoredUnit]:
    """The sentences quoted around the best one: the one that follows it within its own margin,
    those scoring within the margin, and the whole list it belongs to or announces when its items
    score together."""
    floor = scores[best.unit.id] - settings.reader_margin
    by_score = sorted(units, key=lambda u: -scores[u.unit.id])
    chosen = [best]
    following = [u for u in units if u.hit is best.hit and u.unit.position == best.unit.position + 1]
    near = scores[best.unit.id] - settings.reader_follow_margin
    if following and (scores[following[0].unit.id] >= near or best.unit.text.rstrip().endswith(":")):
        chosen.append(following[0])
    for unit in by_score:
        if len(chosen) >= settings.max_sentences or scores[unit.unit.id] < floor:
            break
        if unit not in chosen and said(unit) not in {said(u) for u in chosen}:  # a sentence passages repeat
            chosen.append(unit)
    for unit in list(chosen):
        block = unit.unit.block
        announced = unit.unit.text.rstrip().endswith(":")
        if announced:  # « Sont éligibles : » and the list that follows it
            nxt = [u for u in units if u.hit is unit.hit and u.unit.position == unit.unit.position + 1]
            block = nxt[0].unit.block if nxt and nxt[0].unit.block >= 0 else -1
        if block < 0:
            continue
        items = [u for u in units if u.hit is unit.hit and u.unit.block == block]
        together = sum(1 for u in by_score[: settings.list_window] if u in items) >= 2
        if announced or together:
            chosen += [u for u in items if u not in chosen]
    # A list's items are quoted with the sentence that announces them (« … n'a pas à : »): without
    # it an item can read as the opposite of the document.
    for unit in list(chosen):
        if unit.unit.block < 0:
            continue
        intro = [
            u
            for u in units
            if u.hit is unit.hit and u.unit.position == unit.unit.block - 1 and u.unit.text.rstrip().endswith(":")
        ]
        if intro and intro[0] not in chosen:
            chosen.append(intro[0])
    return chosen


def finish_lists(
    chosen: list[ScoredUnit], units: list[ScoredUnit], continued: Continuations
) -> tuple[list[ScoredUnit], list[frozenset[str]]]:
    """What finishes each list quoted to the last item of its passage when that item ends with
    « ; » (`lists.py`): the items and remarks that follow, each with its passage (a passage not
    retrieved takes the list's rank). They are not scored anew: the list was chosen whole.

    Returns:
        The quotes, those added last, and the passages of each list finished, by chunk id."""
    have = {u.unit.id for u in chosen}
    scored = {u.unit.id: u for u in units}
    hits = {u.hit.chunk.id: u.hit for u in units}
    added: list[ScoredUnit] = []
    together: list[frozenset[str]] = []
    for unit in chosen:
        if unit.unit.block < 0:
            continue
        part = [u for u in units if u.hit is unit.hit and u.unit.block == unit.unit.block]
        if max(part, key=lambda u: u.unit.position) is not unit:
            continue
        rest = continued.get(unit.unit.id, [])
        if rest:
            together.append(frozenset([unit.hit.chunk.id] + [chunk.id for chunk, _ in rest]))
        for chunk, item in rest:
            if item.id not in have:
                hit = hits.get(chunk.id) or Hit(chunk, unit.hit.rank, 0.0, None, None)
                added.append(scored.get(item.id) or ScoredUnit(item, hit, 0.0, 0.0, 0.0, frozenset()))
                have.add(item.id)
    return chosen + added, together


def decide(
    question: Question, retrieval: Retrieval, corpus: CorpusFacts, settings: Settings, profile: Profile
) -> Decision:
    """Answers with the reader's best sentences, or declines; `reason` names why."""
    language = question.language
    if not retrieval.hits or not retrieval.units:
        return decline("no_passage", question, profile)
    keys = retrieval.key_terms
    similar = similarities(retrieval, settings)
    scores = reader_scores(similar, retrieval, settings, profile)
    best = _best(retrieval.units, scores)
    if language == "fr" and not retrieval.followup and keys and not any(t.known for t in keys):
        # Off topic is judged on the cosine, as calibrated before late interaction.
        plain = scores if not (retrieval.late and settings.reader_late_weight) else None
        cosine = plain or reader_scores({u.unit.id: u.dense for u in retrieval.units}, retrieval, settings, profile)
        if max(cosine.values()) < settings.offtopic_dense_score:  # not one word the documents use, and far from them
            return decline("offtopic", question, profile, "offtopic")
    unknown = {t.word for t in keys if not t.known}
    if any(fold_accents(name) in unknown for name in question.names):  # « …à Lyon ? », « Julie Martin »
        return decline("unknown_name", question, profile)
    threshold = settings.reader_threshold_en if language == "en" else settings.reader_threshold
    # Naming the title says which document to read, not that it answers: the threshold sees only
    # the prior of any question about the title.
    sure = reader_scores(similar, retrieval, settings, profile, named=False)
    threshold += unsure_shift(retrieval.units, sure, best, settings)
    # A question in two parts: the best sentence of each part that the reader accepts, each part
    # scored with its own words (with the whole question's, the passage that answers one part won
    # both); else the question as a whole.
    shares: list[dict[str, float] | None] = list(retrieval.part_shares) or [None] * len(retrieval.part_scores)
    parts = [
        (
            reader_scores(p, retrieval, settings, profile, shares=share),
            reader_scores(p, retrieval, settings, profile, named=False, shares=share),
        )
        for p, share in zip(
            [similarities(retrieval, settings, i) for i in range(len(retrieval.part_scores))], shares, strict=True
        )
    ]
    kept, unanswered = [], []  # unanswered: the parts (by position) the reader does not accept
    confidences = [sure[best.unit.id]]
    for number, (p, c) in enumerate(parts, 1):
        part_best = _best(retrieval.units, p)
        confidences.append(c[part_best.unit.id])
        if c[part_best.unit.id] >= threshold:
            kept.append((part_best, p, c[part_best.unit.id]))
        else:
            unanswered.append(number)
    if not kept and sure[best.unit.id] >= threshold:
        kept, unanswered = [(best, scores, sure[best.unit.id])], []
    if not kept:
        return decline("reader", question, profile)
    chosen: list[ScoredUnit] = []
    for part_best, part, _ in kept:
        chosen += [u for u in choose(retrieval.units, part, part_best, settings) if u not in chosen]
    quoted = {u.unit.id for u in chosen}
    chosen, together = finish_lists(chosen, retrieval.units, corpus.continued)
    top = max(confidence for _, _, confidence in kept)
    missing = corpus.missing_figures(question)
    # « …en 2023 ? » answered with other years is no answer, unless the question checks a claim.
    if not (question.claim or question.confirmation) and any(_YEAR.fullmatch(m) for m in missing):
        return decline("unknown_year", question, profile)
    intro = "claim_intro" if question.claim else "intro"
    finishing = frozenset(u.unit.id for u in chosen) - quoted
    text, citations = quote_lines(chosen, scores, intro, language, settings, finishing, together)
    # The user must not take the answer to one part for an answer to both: the quotes may hold the
    # other part's answer, but the reader did not find one it is sure of.
    if unanswered:
        text += "\n\n" + part_unanswered(unanswered, language, profile)
    if missing:
        text += "\n\n" + say("unknown_figure", language, figures=", ".join(f"« {m} »" for m in missing))
    return Decision(
        text, abstained=False, citations=citations, score=top, confidences=tuple(confidences) if parts else ()
    )


_ORDINALS = {
    "fr": ("première", "deuxième", "troisième", "quatrième", "cinquième"),
    "en": ("first", "second", "third", "fourth", "fifth"),
}


def part_unanswered(numbers: list[int], language: str, profile: Profile) -> str:
    """Says which parts of a question in several parts no quote answers clearly, by their
    position (the user's words are not repeated: they may carry markup; no figure either)."""
    names = _ORDINALS["en" if language == "en" else "fr"]
    if max(numbers) > len(names):
        return say("some_parts_unanswered", language, profile)
    ordinals = [names[n - 1] for n in numbers]
    joined = (
        ordinals[0]
        if len(ordinals) == 1
        else ", ".join(ordinals[:-1]) + (" and " if language == "en" else " et ") + ordinals[-1]
    )
    return say("part_unanswered" if len(numbers) == 1 else "parts_unanswered", language, profile, which=joined)
