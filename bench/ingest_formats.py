"""Ingest throughput of a 200-page PDF, against the raw embedding throughput of the model.

    python bench/ingest_formats.py [--pages 200]

Generates a PDF with fpdf2 in a temporary folder, ingests it into a temporary index, and prints
pages/s and chunks/s of the whole ingest (read, chunk, embed, store) next to the chunks/s of the
embedding model alone on the same chunk texts. Target: ingest at 80 % or more of the raw rate, i.e.
reading and storing cost little next to embedding. Figures, not a gate on wall time; the model
uses `ASSISTANT_THREADS` threads like the app.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TARGET_SHARE = 0.8
_TOPICS = [
    ("Accompagner les travailleurs", "le moniteur accompagne chaque travailleur dans son projet professionnel"),
    ("Organiser la production", "le moniteur planifie les commandes et répartit les tâches de l'atelier"),
    ("Animer l'équipe", "le moniteur anime un groupe de huit à seize personnes en situation de handicap"),
    ("Assurer la sécurité", "le moniteur veille au respect des consignes d'hygiène et de sécurité"),
    ("Évaluer les compétences", "le moniteur observe les acquis et propose des objectifs adaptés"),
]


def write_pdf(path: Path, pages: int) -> None:
    """A report-like PDF: a heading, four paragraphs and a short list on each page."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    for number in range(1, pages + 1):
        title, fact = _TOPICS[number % len(_TOPICS)]
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, f"Section {number} - {title}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.set_font("Helvetica", size=11)
        for paragraph in range(4):
            text = (
                f"Au point {number}.{paragraph + 1}, {fact}. Cette activité représente {number * 3 + paragraph} "
                f"heures du parcours et s'appuie sur des situations réelles de l'atelier. Le candidat décrit "
                f"ce qu'il a fait, les difficultés rencontrées et les solutions trouvées avec l'équipe."
            )
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        for item in ("une fiche d'observation", "un entretien avec le tuteur", f"la grille n° {number}"):
            pdf.multi_cell(0, 6, f"- {item}", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="pages of the generated PDF")
    args = parser.parse_args(argv)

    from assistant.config import Settings
    from assistant.ingest.indexing import build_chunks, ingest
    from assistant.models.embeddings import load_embeddings

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        started = time.perf_counter()
        write_pdf(corpus / "rapport.pdf", args.pages)
        print(f"PDF de {args.pages} pages écrit en {time.perf_counter() - started:.1f} s "
              f"({(corpus / 'rapport.pdf').stat().st_size / 1e6:.1f} Mo)")  # fmt: skip
        settings = Settings(corpus_dir=corpus, index_dir=Path(folder) / "index")

        started = time.perf_counter()
        embeddings = load_embeddings(settings)
        load_s = time.perf_counter() - started
        print(f"modèle {settings.embeddings} chargé en {load_s:.1f} s, {settings.threads} threads")

        started = time.perf_counter()
        chunks, skipped, _ = build_chunks(settings)
        read_s = time.perf_counter() - started
        assert not skipped, skipped
        pages = {c.page for c in chunks}
        print(f"lecture + découpage : {read_s:.2f} s, {args.pages / read_s:.0f} pages/s, {len(chunks)} passages, "
              f"{len(pages)} pages citées")  # fmt: skip

        texts = [c.indexed_text for c in chunks]
        embeddings.embed_documents(texts[: settings.embed_batch_size])  # warm-up
        started = time.perf_counter()
        for i in range(0, len(texts), settings.embed_batch_size):
            embeddings.embed_documents(texts[i : i + settings.embed_batch_size])
        raw_s = time.perf_counter() - started
        raw_rate = len(texts) / raw_s
        print(f"embeddings seuls : {raw_s:.1f} s, {raw_rate:.1f} passages/s")

        started = time.perf_counter()
        summary = ingest(settings, embeddings)
        ingest_s = time.perf_counter() - started
        ingest_rate = summary.chunks / ingest_s
        share = ingest_rate / raw_rate
        print(f"ingest complet : {ingest_s:.1f} s, {args.pages / ingest_s:.1f} pages/s, {ingest_rate:.1f} passages/s")
        verdict = "atteint" if share >= TARGET_SHARE else "NON atteint"
        print(f"ingest / embeddings seuls : {share:.0%} (objectif ≥ {TARGET_SHARE:.0%} : {verdict})")
    return 0 if share >= TARGET_SHARE else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, without installing
    sys.exit(main())
