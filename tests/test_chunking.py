"""Structure-aware chunking of the real document and of small made-up ones."""

from __future__ import annotations

from assistant.ingest.chunking import chunk_document, chunk_id
from assistant.ingest.documents import SourceDocument
from assistant.reading.text import split_sentences

from .conftest import DOCUMENT


def _real_chunks():  # type: ignore[no-untyped-def]
    text = DOCUMENT.read_text(encoding="utf-8")
    return text, chunk_document(SourceDocument(DOCUMENT.name, text, "txt"), max_chars=900)


def test_headings_travel_with_their_passages() -> None:
    _, chunks = _real_chunks()
    sections = [c.section.split(" > ")[-1] for c in chunks]
    assert sections[:2] == ["Le métier visé", "Les chiffres clés"]
    assert "Les prérequis d'accès à la formation" in sections
    assert "Les prérequis d'accès à la certification" in sections
    assert "2 voies d'accès" in sections
    prerequisites = next(c for c in chunks if c.section == "Les prérequis d'accès à la formation")
    assert prerequisites.text.startswith("Disposer d'une expérience minimale de 70 heures")
    assert prerequisites.indexed_text.startswith(
        "titre moniteur atelier rncp39099\nLes prérequis d'accès à la formation\nDisposer"
    )


def test_key_figures_are_passages_not_headings() -> None:
    _, chunks = _real_chunks()
    formation = next(c for c in chunks if "441 heures" in c.text)
    assert formation.section == "La formation"
    assert "980 heures de stage long\n105 heures de stage court" in formation.text
    assert all("441 heures" not in c.section for c in chunks)


def test_offsets_point_into_the_source() -> None:
    text, chunks = _real_chunks()
    for chunk in chunks:
        if chunk.kind == "passage":
            assert text[chunk.start : chunk.end] == chunk.text


def test_lists_stay_whole() -> None:
    _, chunks = _real_chunks()
    key_figures = next(c for c in chunks if c.section == "Les chiffres clés")
    assert key_figures.text.count("\n- ") == 3 and key_figures.text.startswith("- 24 000")
    blocs = [c for c in chunks if c.kind == "outline"]
    assert len(blocs) == 1
    assert blocs[0].section == "Une activité structurée en 3 blocs pour accéder à la certification"
    assert [line[:6] for line in blocs[0].text.splitlines()] == ["Bloc 1", "Bloc 2", "Bloc 3"]


def test_chunk_ids_are_stable_and_depend_on_content() -> None:
    _, first = _real_chunks()
    _, second = _real_chunks()
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    assert chunk_id("a.txt", "x") != chunk_id("b.txt", "x") != chunk_id("a.txt", "y")


def test_markdown_headings_build_a_path() -> None:
    text = (
        "# Guide\n\nIntro.\n\n## Accès\n\nIl faut 70 heures.\n\n### Détail\n\n- un\n- deux\n\n## Coût\n\nNon précisé."
    )
    chunks = chunk_document(SourceDocument("g.md", text, "md"), max_chars=900)
    assert [(c.section, c.text) for c in chunks] == [
        ("Guide", "Intro."),
        ("Guide > Accès", "Il faut 70 heures."),
        ("Guide > Accès > Détail", "- un\n- deux"),
        ("Guide > Coût", "Non précisé."),
    ]


def test_long_paragraph_is_cut_between_sentences() -> None:
    sentence = "Le moniteur accompagne les personnes au quotidien dans l'atelier. "
    text = "Titre\n\n" + sentence * 40
    chunks = chunk_document(SourceDocument("long.txt", text, "txt"), max_chars=400)
    assert len(chunks) > 3
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)


def test_split_sentences_keeps_list_items() -> None:
    assert split_sentences("Deux voies. Elles sont décrites.\n- Par la formation\n- Par la VAE") == [
        "Deux voies.",
        "Elles sont décrites.",
        "- Par la formation",
        "- Par la VAE",
    ]


def test_a_list_stays_with_the_sentence_that_announces_it() -> None:
    items = "\n".join(f"- Élément numéro {n} d'une liste assez longue pour remplir le passage ;" for n in range(6))
    text = f"# Titre\n\n{'Un paragraphe de contexte. ' * 12}\n\nSont concernés :\n\n{items}\n\nUne phrase finale."
    chunks = chunk_document(SourceDocument("doc.md", text, "md"), max_chars=500)
    announcing = next(c for c in chunks if "Sont concernés :" in c.text)
    assert "Élément numéro 0" in announcing.text and "Élément numéro 5" in announcing.text
    assert all("Sont concernés" not in c.text for c in chunks if c is not announcing)
