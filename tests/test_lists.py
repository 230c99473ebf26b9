"""Lists a passage leaves unfinished: what finishes them, read from the documents' structure, and
the answer that quotes a list whole across its passages."""

from __future__ import annotations

import shutil

import pytest

from assistant.answer.compose import quote_lines
from assistant.answer.decide import choose
from assistant.answer.lists import continued_lists
from assistant.app.feedback import Interaction
from assistant.app.render import render_interactions
from assistant.config import Settings, settings_with
from assistant.core import Assistant
from assistant.ingest.indexing import ingest
from assistant.reading.units import Unit, units_of
from assistant.search.found import Hit, ScoredUnit
from assistant.search.store import ChunkStore, StoredChunk

from .conftest import CORPUS

SECTION = "Aides > Bénéficiaires"


def _index(*passages: tuple[str, str, int]) -> tuple[list[StoredChunk], dict[str, list[Unit]]]:
    """Passages (section, text, start) of one document, as the index stores them."""
    chunks = [
        StoredChunk(f"c{i}", text, {"source": "aides.md", "section": section, "start": start, "kind": "passage"})
        for i, (section, text, start) in enumerate(passages)
    ]
    return chunks, {c.id: units_of(c.id, c.text, str(c.metadata["section"])) for c in chunks}


def _texts(found: dict[str, list[tuple[StoredChunk, Unit]]]) -> dict[str, list[str]]:
    return {key: [u.text for _, u in rest] for key, rest in found.items()}


def test_a_list_cut_by_a_remark_and_by_its_passage_s_end_is_finished_after_both() -> None:
    chunks, units = _index(
        (SECTION, "Peuvent bénéficier de l'aide :\n\n- les salariés ;\n- les apprentis ;", 0),
        (SECTION, "Le montant est réduit de moitié pour eux.\n\n- les stagiaires ;\n- les intérimaires.", 90),
        (SECTION, "Les demandes se font en ligne.", 180),
    )
    found = continued_lists(list(reversed(chunks)), units)  # the order read does not matter
    apprentis = next(u.id for u in units["c0"] if "apprentis" in u.text)
    assert _texts(found) == {
        apprentis: ["Le montant est réduit de moitié pour eux.", "- les stagiaires ;", "- les intérimaires."]
    }
    assert {c.id for c, _ in found[apprentis]} == {"c1"}


def test_a_list_is_not_carried_into_another_list_nor_another_section_nor_past_a_long_paragraph() -> None:
    announced = _index(
        (SECTION, "- les salariés ;\n- les apprentis ;\n\nLa prise en charge est réservée aux publics suivants :", 0),
        (SECTION, "- les demandeurs d'emploi.", 120),
    )
    assert continued_lists(*announced) == {}
    other_section = _index(
        (SECTION, "- les salariés ;\n- les apprentis ;", 0),
        ("Aides > Montants", "- 500 euros par mois.", 60),
    )
    assert continued_lists(*other_section) == {}
    same_heading_later = _index(
        (SECTION, "- les salariés ;\n- les apprentis ;", 0),
        ("Aides > Montants", "Le montant est fixé chaque année.", 60),
        (SECTION, "- les stagiaires.", 120),
    )
    assert continued_lists(*same_heading_later) == {}
    far = _index(
        (SECTION, "- les salariés ;\n\nUne phrase. Une autre phrase. Une troisième phrase.\n\n- les apprentis.", 0)
    )
    assert continued_lists(*far) == {}
    finished = _index((SECTION, "- les salariés ;\n- les apprentis.\n\nLes demandes se font en ligne.", 0))
    assert continued_lists(*finished) == {}


def _scored(passages: list[tuple[str, str, int]], scores: dict[str, float]) -> list[ScoredUnit]:
    """The units of `passages` (one document), each retrieved passage ranked in the order given,
    with the reader scores of those whose text is in `scores` (0 for the others)."""
    chunks, units = _index(*passages)
    scored = []
    for rank, chunk in enumerate(chunks, 1):
        hit = Hit(chunk, rank, 0.0, None, None)
        scored += [ScoredUnit(u, hit, 0.0, 0.0, scores.get(u.text, 0.0), frozenset()) for u in units[chunk.id]]
    return scored


def test_a_quoted_list_item_comes_with_the_sentence_announcing_it_and_a_repeated_one_is_quoted_once() -> None:
    """« adapter le prix … ; » alone reads as the opposite of « L'organisme n'a pas à : ». The same
    item in two passages is quoted once, from the passage the reader scored higher."""
    item = "- adapter le prix de votre accompagnement à votre solde ;"
    units = _scored(
        [
            (
                "Accompagnement > Prix",
                f"Le prix est libre.\n\nL'organisme n'a pas à :\n\n{item}\n- demander un acompte.",
                0,
            ),
            ("Accompagnement > Rappel", f"Rappel :\n\n{item}", 200),
        ],
        {item: 0.9},
    )
    first, repeated = [u for u in units if u.unit.text == item]
    scores = {u.unit.id: u.score for u in units} | {repeated.unit.id: 0.8}
    chosen = choose(units, scores, first, Settings())
    assert "L'organisme n'a pas à :" in [u.unit.text for u in chosen]
    text, citations = quote_lines([*chosen, repeated], scores, "intro", "fr", Settings())
    assert text.index("n'a pas à") < text.index("adapter le prix") and text.count("adapter le prix") == 1, text
    assert [c.n for c in citations] == [1]  # the passage that only repeated it is not cited


@pytest.fixture(scope="module")
def cpf(base_settings: Settings, embeddings, tmp_path_factory: pytest.TempPathFactory) -> Assistant:  # type: ignore[no-untyped-def]
    """The real CPF page of the corpus, alone in its index."""
    corpus = tmp_path_factory.mktemp("cpf-corpus")
    shutil.copy(CORPUS / "cpf-compte-personnel-formation-travail-emploi.md", corpus)
    shutil.copy(CORPUS / "SOURCES.md", corpus)
    settings = settings_with(base_settings, corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("cpf-index"))
    store = ChunkStore.open(settings)
    ingest(settings, embeddings, store)
    return Assistant(settings, embeddings, store)


@pytest.mark.slow
def test_the_eligible_trainings_are_quoted_whole_across_their_passages(cpf: Assistant) -> None:
    """The CPF page's list runs over three passages, cut by two caps: every item is quoted, in the
    document's order, each with the passage it comes from."""
    answer = cpf.ask("Quelles formations sont éligibles au CPF ?")
    items = [
        "répertoire national des certifications professionnelles (RNCP) ;",
        "répertoire spécifique (RS), dont la certification relative",
        "valider les acquis de l'expérience (VAE) ;",
        "Le bilan de compétences ;",
        "véhicules du groupe lourd",
        "véhicules du groupe léger",
    ]
    where = [answer.text.find(item) for item in items]
    assert -1 not in where and where == sorted(where), answer.text
    quotes = {q for c in answer.citations for q in c.quotes}
    for item in items:
        cited = [c for c in answer.citations if any(item in q for q in c.quotes)]
        assert cited and all(item in c.text for c in cited), item
    assert len(quotes) == sum(len(c.quotes) for c in answer.citations)  # each quoted once
    assert "publics suivants" not in answer.text  # the next list is another one


def test_the_adviser_view_marks_a_quote_the_reader_did_not_score() -> None:
    citation = {"n": 1, "title": "CPF", "section": "Pour quelles formations ?", "quotes": ["a", "b"],
                "reader_scores": [0.9123, None], "rank": 1, "score": 0.5}  # fmt: skip
    interaction = Interaction(1, "2026-12-06", "chat", "?", "…", [citation], False, "answered", "fr", 50.0, [])
    assert "lecteur 0.912, —" in render_interactions([interaction])
