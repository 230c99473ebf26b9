"""The reader: the committed adapter, what it scores, how it is merged, and the decision it drives."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from assistant.config import PROJECT_DIR, Settings, settings_with
from assistant.core import Assistant
from assistant.models.reader import LoraConfig, merged_weights, read_adapter, save_adapter, sha256

FLYER = "titre moniteur atelier rncp39099 : La formation\n"


def test_the_committed_adapter_is_small_and_the_one_the_readme_names() -> None:
    adapter = Settings().reader_adapter
    matrices, config, meta = read_adapter(adapter)
    assert adapter.stat().st_size < 4_000_000
    assert set(matrices) == {f"{k}.{m}" for k in config.keys() for m in "AB"}
    assert meta["data_sha256"] and meta["training_questions"] > 3000
    assert sha256(adapter) in (PROJECT_DIR / "README.md").read_text(encoding="utf-8")


def cosine(embeddings, question: str, sentences: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    q = np.asarray(embeddings.embed_query(question))
    s = np.asarray(embeddings.embed_documents(sentences))
    return s @ q


def test_the_reader_scores_the_answer_above_its_neighbours(embeddings) -> None:  # type: ignore[no-untyped-def]
    """Fixed pairs from the flyer, scored by the committed adapter: the sentence that answers first;
    the sentences around it, which share its words, under it. (The decision's threshold applies to
    the blend of this similarity with the passage's, not to it alone.)"""
    scores = cosine(
        embeddings,
        "Combien d'heures dure la formation ?",
        [
            FLYER + "441 heures de formation pour un parcours complet",
            FLYER + "980 heures de stage long",
            FLYER + "Un groupe en formation de 16 personnes",
        ],
    )
    # The adapter trained on 6,516 questions puts « 980 heures de stage long » level with the answer
    # (0.6186 against 0.6184; the one trained on 4,219 put the answer first): the share of the
    # question's words in the decision (« formation ») tells them apart, not this similarity alone.
    assert scores[0] > scores[1] - 0.005 and scores[2] < scores[0] - 0.1, scores
    scores = cosine(
        embeddings,
        "Quelle est la durée du stage long ?",
        [FLYER + "980 heures de stage long", FLYER + "105 heures de stage court"],
    )
    assert scores[0] > scores[1] + 0.03, scores


def test_a_question_the_documents_do_not_answer_stays_under_the_threshold(assistant: Assistant) -> None:
    answer = assistant.ask("Quel est le salaire d'un moniteur d'atelier débutant ?")
    assert answer.abstained and answer.reason in ("reader", "unknown_name"), answer.reason


def test_each_quote_carries_the_reader_s_score(assistant: Assistant) -> None:
    answer = assistant.ask("Combien d'heures de stage long ?")
    data = answer.to_dict()
    assert not answer.abstained and "980 heures" in answer.text
    for citation in data["citations"]:
        assert len(citation["reader_scores"]) == len(citation["quotes"])
        assert all(
            s >= assistant.settings.reader_threshold - assistant.settings.reader_margin - 0.2
            for s in citation["reader_scores"]
        )
    assert max(s for c in data["citations"] for s in c["reader_scores"]) >= assistant.settings.reader_threshold


def test_merging_adds_the_scaled_low_rank_product(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    config = LoraConfig(layers=(0,), targets=("query",), rank=2, alpha=4.0)
    key = "encoder.layer.0.attention.self.query.weight"
    a, b = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    path = tmp_path / "adapter.safetensors"
    save_adapter(path, {f"{key}.A": a, f"{key}.B": b}, config, {"note": "test"})
    base = {key: np.ones((3, 3), np.float32), "other": np.zeros(2, np.float32)}
    merged = merged_weights(base, path)
    expected = 1.0 + 2.0 * (b.astype(np.float16).astype(np.float32) @ a.astype(np.float16).astype(np.float32))
    assert np.allclose(merged[key], expected, atol=1e-3)
    assert merged["other"] is base["other"]


def test_layers_adapted_for_the_questions_only_are_left_out_of_the_passages(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    config = LoraConfig(layers=(0, 1), targets=("query",), rank=2, alpha=4.0, question_only=(0,))
    keys = [f"encoder.layer.{i}.attention.self.query.weight" for i in (0, 1)]
    matrices = {}
    for key in keys:
        matrices[f"{key}.A"] = rng.normal(size=(2, 3)).astype(np.float32)
        matrices[f"{key}.B"] = rng.normal(size=(3, 2)).astype(np.float32)
    path = tmp_path / "adapter.safetensors"
    save_adapter(path, matrices, config, {"note": "test"})
    assert read_adapter(path)[1] == config
    base = {key: np.ones((3, 3), np.float32) for key in keys}
    passages, questions = merged_weights(base, path), merged_weights(base, path, questions=True)
    assert passages[keys[0]] is base[keys[0]] and not np.allclose(questions[keys[0]], base[keys[0]])
    assert np.allclose(passages[keys[1]], questions[keys[1]]) and not np.allclose(passages[keys[1]], base[keys[1]])


def test_an_adapter_deeper_for_the_questions_embeds_them_with_its_own_layers(
    index_settings: Settings, tmp_path: Path
) -> None:
    """`python -m training --query-first-layer N` adapts layers N… for the questions only: the
    assistant then embeds questions with those layers merged, passages without them, and the two
    models share every other module."""
    from assistant.models.embeddings import load_embeddings

    matrices, config, meta = read_adapter(index_settings.reader_adapter)
    rng = np.random.default_rng(2)
    deeper = LoraConfig((8, *config.layers), config.targets, config.rank, config.alpha, question_only=(8,))
    extra = {}  # layer 8 adapted for the questions: random matrices of layer 9's shapes
    for key in deeper.keys():
        if key.startswith("encoder.layer.8."):
            for part in "AB":
                shape = matrices[f"{key.replace('layer.8.', 'layer.9.')}.{part}"].shape
                extra[f"{key}.{part}"] = rng.normal(scale=0.05, size=shape).astype(np.float32)
    path = tmp_path / "deeper.safetensors"
    save_adapter(path, {**matrices, **extra}, deeper, meta)
    both = load_embeddings(index_settings)
    asymmetric = load_embeddings(settings_with(index_settings, reader_adapter=path))
    passages, questions = asymmetric._model[0].auto_model, asymmetric._question_model[0].auto_model  # type: ignore[attr-defined]
    shared = [i for i, layer in enumerate(questions.encoder.layer) if layer is passages.encoder.layer[i]]
    assert shared == [i for i in range(12) if i != 8] and questions.embeddings is passages.embeddings
    sentence = FLYER + "441 heures de formation pour un parcours complet"
    assert np.allclose(asymmetric.embed_documents([sentence]), both.embed_documents([sentence]), atol=1e-5)
    question = "Combien d'heures dure la formation ?"
    assert not np.allclose(asymmetric.embed_query(question), both.embed_query(question), atol=1e-3)


def test_another_adapter_is_another_model_and_the_index_is_rebuilt(index_settings: Settings, tmp_path: Path) -> None:
    """An adapter that changed gives a model folder of its own, whose name the index records: an
    ingest with it embeds every passage again instead of mixing vectors of two models."""
    from assistant.ingest.indexing import ingest
    from assistant.models.embeddings import load_embeddings
    from assistant.search.store import ChunkStore

    matrices, config, meta = read_adapter(index_settings.reader_adapter)
    changed = tmp_path / "changed.safetensors"
    save_adapter(changed, {k: v * (0.5 if k.endswith(".B") else 1.0) for k, v in matrices.items()}, config, meta)
    settings = settings_with(index_settings, reader_adapter=changed, index_dir=tmp_path / "index")
    first = ingest(settings, load_embeddings(index_settings), ChunkStore.open(settings))
    other = load_embeddings(settings)
    assert re.search(rf"-reader-{sha256(changed)[:12]}$", getattr(other, "name", ""))
    again = ingest(settings, other, ChunkStore.open(settings))
    assert first.added == again.added == again.chunks and again.unchanged == 0


@pytest.mark.parametrize(
    "question",
    ["Quel est le niveau du titre ?", "Peut-on obtenir le titre par la VAE ?", "Qui peut suivre la formation ?"],
)
def test_the_answer_opens_on_the_passage_of_the_reader_s_best_sentence(assistant: Assistant, question: str) -> None:
    """Passages are cited and shown by the reader's best score among their quotes, not by the
    retrieval's rank: the first quote a user reads is from the passage the reader found best."""
    citations = assistant.ask(question).to_dict()["citations"]
    best = [max(s for s in c["reader_scores"] if s is not None) for c in citations]
    assert best == sorted(best, reverse=True), best
