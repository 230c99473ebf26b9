"""Each document is cited by its title, as people name it: from SOURCES.md, the profile, the
document itself, or its file name last."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.documents import load_corpus
from assistant.ingest.titles import listed_titles

from .conftest import CORPUS


def write(folder: Path, name: str, text: str | bytes) -> None:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def titles(folder: Path, profile: dict[str, str] | None = None) -> dict[str, str]:
    documents, skipped = load_corpus(folder, 20_000_000, profile)
    assert not skipped
    return {d.source: d.title for d in documents}


def test_each_format_gives_its_own_title(tmp_path: Path) -> None:
    from docx import Document
    from fpdf import FPDF

    write(tmp_path, "vae.md", "# La VAE expliquée\n\nLa VAE permet d'obtenir un titre.\n")
    write(tmp_path, "page.html", "<html><head><title>Les ESAT — travail-emploi.gouv.fr</title></head>"
          "<body><main><h1>Les ESAT</h1><p>Un ESAT accueille des travailleurs.</p></main></body></html>")  # fmt: skip
    write(tmp_path, "notes.txt", "Quelques notes sans titre.\n")
    pdf = FPDF()
    pdf.set_title("Guide du candidat")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Le candidat dépose son dossier.")
    pdf.output(str(tmp_path / "guide.pdf"))
    doc = Document()
    doc.core_properties.title = "Référentiel de certification"
    doc.add_paragraph("Le référentiel décrit trois blocs.")
    doc.save(str(tmp_path / "referentiel.docx"))

    assert titles(tmp_path) == {
        "vae.md": "La VAE expliquée",
        "page.html": "Les ESAT — travail-emploi.gouv.fr",
        "notes.txt": "notes.txt",
        "guide.pdf": "Guide du candidat",
        "referentiel.docx": "Référentiel de certification",
    }


def test_sources_md_then_the_profile_override_what_a_document_says(tmp_path: Path) -> None:
    write(tmp_path, "vae.md", "# Titre du fichier\n\nTexte.\n")
    write(tmp_path, "cpf.md", "# Le CPF\n\nTexte sur le CPF.\n")
    write(tmp_path, "flyer.txt", "Texte de la plaquette.\n")
    write(tmp_path, "SOURCES.md", "# Sources\n\n## vae.md\n\n- Titre : La VAE — travail-emploi.gouv.fr\n- URL : x\n")
    found = titles(tmp_path, {"flyer.txt": "Fiche du titre", "vae.md": "ignoré : SOURCES.md passe avant"})
    assert found == {"vae.md": "La VAE — travail-emploi.gouv.fr", "cpf.md": "Le CPF", "flyer.txt": "Fiche du titre"}


def test_every_document_of_the_corpus_has_a_title_in_sources_md() -> None:
    listed = listed_titles(CORPUS)
    documents, _ = load_corpus(CORPUS, 20_000_000)
    assert {d.source for d in documents} <= set(listed)
    assert all(d.title == listed[d.source] for d in documents)


def test_the_title_reaches_the_citation_and_the_json(assistant) -> None:  # type: ignore[no-untyped-def]
    answer = assistant.ask("Combien d'heures de stage long ?")
    data = answer.to_dict()
    assert data["citations"], answer.text
    citation = data["citations"][0]
    assert citation["source"] == "titre-moniteur-atelier-rncp39099.txt"
    assert citation["title"].startswith("Moniteur d'atelier en milieu de travail protégé")
