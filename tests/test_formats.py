"""PDF, DOCX and HTML files, built inside the tests: their text, sections, pages, and bad files."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

from assistant.config import Settings
from assistant.core import Assistant
from assistant.ingest import documents
from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import load_corpus
from assistant.ingest.indexing import ingest
from assistant.search.store import ChunkStore

Line = tuple[str, int]  # (text, font size): 16 and 13 are headings, 11 the body


def write_pdf(path: Path, pages: list[list[Line]], header: str = "") -> None:
    """A real PDF with a text layer, one list of lines per page; each line is its own paragraph."""
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        if header:
            pdf.set_font("Helvetica", size=9)
            pdf.cell(0, 5, header, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        for text, size in lines:
            pdf.set_font("Helvetica", "B" if size > 11 else "", size)
            pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
            if not text.startswith("- "):
                pdf.ln(4)
        if header:
            pdf.set_y(-20)
            pdf.set_font("Helvetica", size=9)
            pdf.cell(0, 5, f"Page {number} / {len(pages)}")
    pdf.output(str(path))


def _chunks(folder: Path, max_chars: int = 900) -> list[tuple[str, str, int | None]]:
    docs, skipped = load_corpus(folder, 10_000_000)
    assert skipped == []
    return [(c.section, c.text, c.page) for d in docs for c in chunk_document(d, max_chars)]


def test_pdf_chunks_carry_their_page_and_the_heading_path(tmp_path: Path) -> None:
    long_sentence = "Le moniteur organise la production de l'atelier avec les travailleurs. "
    write_pdf(
        tmp_path / "livret.pdf",
        [
            [("Livret du candidat", 16), ("Les stages", 13), ("Le stage long dure 980 heures.", 11),
             ("Le stage court dure 105 heures.", 11)],
            [("Le stage d'observation dure 35 heures.", 11), ("Les lieux possibles :", 11),
             ("- en ESAT", 11), ("- en entreprise adaptée", 11), ("L'évaluation", 13), (long_sentence * 3, 11)],
        ],
    )  # fmt: skip
    assert _chunks(tmp_path) == [
        ("Livret du candidat > Les stages", "Le stage long dure 980 heures.\n\nLe stage court dure 105 heures.", 1),
        (
            "Livret du candidat > Les stages",
            "Le stage d'observation dure 35 heures.\n\nLes lieux possibles :\n\n- en ESAT\n- en entreprise adaptée",
            2,
        ),
        ("Livret du candidat > L'évaluation", (long_sentence * 3).strip(), 2),
    ]


def test_pdf_running_headers_and_footers_are_dropped(tmp_path: Path) -> None:
    pages = [[("Bloc de compétences", 13), (f"Contenu propre à la page {n}.", 11)] for n in (1, 2, 3)]
    write_pdf(tmp_path / "ref.pdf", pages, header="Référentiel RNCP39099 - version 2024")
    docs, _ = load_corpus(tmp_path, 10_000_000)
    assert "RNCP39099" not in docs[0].text and "Page 1 / 3" not in docs[0].text
    assert [(c.text, c.page) for c in chunk_document(docs[0], 900)] == [
        ("Contenu propre à la page 1.", 1), ("Contenu propre à la page 2.", 2), ("Contenu propre à la page 3.", 3),
    ]  # fmt: skip


def test_pdf_protected_only_against_editing_is_read(tmp_path: Path) -> None:
    write_pdf(tmp_path / "plain.pdf", [[("Le titre est de niveau 4.", 11)]])
    writer = PdfWriter(clone_from=PdfReader(tmp_path / "plain.pdf"))
    writer.encrypt(user_password="", owner_password="proprietaire", algorithm="RC4-128")
    writer.write(tmp_path / "protected.pdf")
    (tmp_path / "plain.pdf").unlink()
    assert _chunks(tmp_path) == [("", "Le titre est de niveau 4.", 1)]


def test_docx_headings_lists_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Brochure de formation", level=0)
    document.add_heading("Les modules", level=1)
    document.add_paragraph("La formation compte trois modules.")
    document.add_paragraph("Accompagner les personnes", style="List Bullet")
    document.add_paragraph("Organiser la production", style="List Bullet")
    document.add_paragraph("Animer une équipe", style="List Bullet")
    document.add_heading("Le calendrier", level=1)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Session", "Début"), ("Printemps", "mars 2025")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.save(str(tmp_path / "brochure.docx"))
    assert _chunks(tmp_path) == [
        (
            "Brochure de formation > Les modules",
            "La formation compte trois modules.\n\n- Accompagner les personnes\n- Organiser la production\n"
            "- Animer une équipe",
            None,
        ),
        ("Brochure de formation > Le calendrier", "Session | Début\nPrintemps | mars 2025", None),
    ]


PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Moniteur d'atelier</title>
<style>body { color: red }</style><script>var menu = "Accueil";</script></head>
<body>
<header><a href="/">Logo</a><nav><ul><li><a href="/">Accueil</a></li><li>Contact</li></ul></nav></header>
<div class="cookie-banner">Nous utilisons des cookies.</div>
<main>
  <h1>Devenir moniteur d&#39;atelier</h1>
  <p>Le titre est de <b>niveau 4</b>,<br>
     reconnu par l'État.</p>
  <h2>Les conditions d'accès</h2>
  <ul><li>Avoir 70 heures d'expérience</li><li>Avoir un projet <em>professionnel</em></li></ul>
  <table><tr><th>Voie</th><th>Durée</th></tr><tr><td>Formation</td><td>441 heures</td></tr></table>
  <script>track();</script>
</main>
<aside>Articles similaires</aside>
<footer>Mentions légales - 2025</footer>
</body></html>"""


def test_html_keeps_main_content_and_headings(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    docs, _ = load_corpus(tmp_path, 10_000_000)
    assert docs[0].text == (
        "# Devenir moniteur d'atelier\n\nLe titre est de niveau 4, reconnu par l'État.\n\n"
        "## Les conditions d'accès\n\n- Avoir 70 heures d'expérience\n- Avoir un projet professionnel\n\n"
        "Voie | Durée\nFormation | 441 heures"
    )
    assert [(c.section, c.text) for c in chunk_document(docs[0], 900)] == [
        ("Devenir moniteur d'atelier", "Le titre est de niveau 4, reconnu par l'État."),
        (
            "Devenir moniteur d'atelier > Les conditions d'accès",
            "- Avoir 70 heures d'expérience\n- Avoir un projet professionnel\n\nVoie | Durée\nFormation | 441 heures",
        ),
    ]


def test_html_without_main_drops_the_page_chrome(tmp_path: Path) -> None:
    page = PAGE.replace("<main>", "<div>").replace("</main>", "</div>")
    (tmp_path / "page.htm").write_bytes(page.replace('charset="utf-8"', 'charset="windows-1252"').encode("cp1252"))
    docs, _ = load_corpus(tmp_path, 10_000_000)
    text = docs[0].text
    assert text.startswith("# Devenir moniteur d'atelier\n\nLe titre est de niveau 4, reconnu par l'État.")
    for chrome in ("Accueil", "Logo", "cookies", "Mentions légales", "Articles similaires", "track", "color"):
        assert chrome not in text


def test_same_pdf_under_two_names_is_read_once(tmp_path: Path) -> None:
    write_pdf(tmp_path / "a.pdf", [[("Le titre est de niveau 4.", 11)]])
    (tmp_path / "copie").mkdir()
    (tmp_path / "copie" / "b.pdf").write_bytes((tmp_path / "a.pdf").read_bytes())
    docs, skipped = load_corpus(tmp_path, 10_000_000)
    assert [d.source for d in docs] == ["a.pdf"]
    assert [(s.file, s.reason) for s in skipped] == [("copie/b.pdf", "doublon de a.pdf")]


def test_bad_files_of_every_format_are_skipped_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.md").write_text("# Titre\n\nTexte.", encoding="utf-8")
    write_pdf(corpus / "source.pdf", [[("Un document confidentiel sur le titre.", 11)]])
    writer = PdfWriter(clone_from=PdfReader(corpus / "source.pdf"))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    writer.write(corpus / "encrypted.pdf")
    (corpus / "truncated.pdf").write_bytes((corpus / "source.pdf").read_bytes()[:700])
    (corpus / "source.pdf").unlink()
    scan = FPDF()
    scan.add_page()
    scan.image(Image.new("RGB", (60, 80), "white"), x=10, y=10, w=60)
    scan.output(str(corpus / "scan.pdf"))
    (corpus / "empty.pdf").write_bytes(b"")
    (corpus / "binary.pdf").write_bytes(os.urandom(2048).replace(b"%PDF", b"----"))
    (corpus / "binary.docx").write_bytes(b"\x00\x01\x02" * 500)
    with zipfile.ZipFile(corpus / "not-word.docx", "w") as archive:
        archive.writestr("hello.txt", "pas un document Word")
    (corpus / "binary.html").write_bytes(b"<html>\x00\x00\x00</html>")
    (corpus / "chrome-only.html").write_text("<nav>Accueil</nav><footer>Contact</footer>", encoding="utf-8")
    with open(corpus / "huge.pdf", "wb") as huge:
        huge.truncate(200_000_000)  # sparse: 200 MB on paper, nothing on disk
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF-1.4")
    os.symlink(outside, corpus / "link.pdf")
    (corpus / "vanishing.docx").write_bytes(b"PK")
    read_docx = documents.READERS[".docx"]

    def vanishing_then_docx(path: Path) -> str | list[str]:
        if path.name == "vanishing.docx":
            path.unlink()  # another program removes the file while the ingest reads it
            raise FileNotFoundError(path)
        return read_docx(path)

    read_pdf = documents.READERS[".pdf"]

    def pdf_never_reading_huge(path: Path) -> str | list[str]:
        assert path.name != "huge.pdf", "a file over the limit must be rejected before it is read"
        return read_pdf(path)

    monkeypatch.setitem(documents.READERS, ".docx", vanishing_then_docx)
    monkeypatch.setitem(documents.READERS, ".pdf", pdf_never_reading_huge)
    docs, skipped = load_corpus(corpus, max_file_bytes=20_000_000)
    assert [d.source for d in docs] == ["ok.md"]
    assert {s.file: s.reason for s in skipped} == {
        "binary.docx": "document Word illisible (fichier corrompu ou pas au format .docx)",
        "binary.html": "fichier binaire (octets nuls), pas du texte",
        "binary.pdf": "PDF illisible (fichier corrompu ou tronqué)",
        "chrome-only.html": "page sans contenu",
        "empty.pdf": "fichier vide",
        "encrypted.pdf": "PDF protégé par un mot de passe : enregistrez-en une copie non protégée",
        "huge.pdf": "fichier trop gros (200 Mo ; limite 20 Mo)",
        "link.pdf": "lien symbolique vers l'extérieur du corpus",
        "not-word.docx": "document Word illisible (fichier corrompu ou pas au format .docx)",
        "scan.pdf": "PDF sans texte (document scanné ?) : il faudrait une version avec texte (OCR)",
        "truncated.pdf": "PDF illisible (fichier corrompu ou tronqué)",
        "vanishing.docx": "fichier disparu pendant la lecture",
    }


def test_answer_from_page_2_of_a_pdf_cites_page_2(
    tmp_path: Path,
    base_settings: Settings,
    embeddings,  # type: ignore[no-untyped-def]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf(
        corpus / "livret-accueil.pdf",
        [
            [("Livret d'accueil", 16), ("L'atelier accueille les travailleurs du lundi au vendredi.", 11),
             ("Les repas sont pris au restaurant de l'établissement.", 11)],
            [("Le stage", 13), ("Le stage d'observation dure 35 heures.", 11),
             ("Il se déroule dans un autre établissement.", 11)],
        ],
    )  # fmt: skip
    settings = base_settings.model_copy(update={"corpus_dir": corpus, "index_dir": tmp_path / "index"})
    summary = ingest(settings, embeddings)
    assert (summary.files, summary.chunks, summary.skipped) == (1, 2, [])
    answer = Assistant(settings, embeddings, ChunkStore.open(settings)).ask(
        "Combien d'heures dure le stage d'observation ?"
    )
    assert not answer.abstained
    assert "Le stage d'observation dure 35 heures." in answer.text
    citation = answer.citations[0]
    assert (citation.source, citation.page) == ("livret-accueil.pdf", 2)
    assert citation.section == "Livret d'accueil > Le stage"
    assert citation.to_dict()["page"] == 2
