"""Reading corpus files: encodings, bad files, duplicates, sub-folders."""

from __future__ import annotations

import os
from pathlib import Path

from assistant.ingest.documents import load_corpus


def test_reads_utf8_bom_and_windows_1252(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffFormation protégée".encode())
    (tmp_path / "latin.txt").write_bytes("Expérience minimale de 70 heures".encode("cp1252"))
    docs, skipped = load_corpus(tmp_path, 10_000_000)
    assert {d.source: d.text for d in docs} == {
        "bom.txt": "Formation protégée",
        "latin.txt": "Expérience minimale de 70 heures",
    }
    assert skipped == []


def test_bad_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Titre\n\nTexte.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK\x00")
    (tmp_path / "big.txt").write_text("x" * 2000, encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret", encoding="utf-8")
    os.symlink(outside, tmp_path / "link.txt")
    docs, skipped = load_corpus(tmp_path, max_file_bytes=1000)
    assert [d.source for d in docs] == ["ok.md"]
    reasons = {s.file: s.reason for s in skipped}
    assert reasons == {
        "big.txt": "fichier trop gros (2 Ko ; limite 1 Ko)",
        "binary.txt": "fichier binaire (octets nuls), pas du texte",
        "empty.txt": "fichier vide",
        "image.png": "format non pris en charge (.png)",
        "link.txt": "lien symbolique vers l'extérieur du corpus",
    }


def test_same_document_under_two_names_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Même texte.", encoding="utf-8")
    (tmp_path / "sub" / "b.txt").write_text("Même texte.", encoding="utf-8")
    docs, skipped = load_corpus(tmp_path, 10_000_000)
    assert [d.source for d in docs] == ["a.txt"]
    assert [(s.file, s.reason) for s in skipped] == [("sub/b.txt", "doublon de a.txt")]
