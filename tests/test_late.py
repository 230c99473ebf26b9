"""Late interaction (`search/late.py`): each question token's best match in a sentence, with the
real reader model; an option of the reader's score, off unless `reader_late_weight` is set."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answer.decide import similarities
from assistant.config import Settings, settings_with
from assistant.core import Assistant
from assistant.reading.units import units_of
from assistant.search.late import LateInteraction, maxsim
from assistant.search.store import ChunkStore

TEXT = (
    "La formation dure 441 heures, dont 140 heures de stage en milieu de travail protégé.\n\n"
    "Le titre est délivré par la commission paritaire nationale de l'emploi et de la formation professionnelle."
)


def test_maxsim_averages_each_question_token_best_match() -> None:
    question = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float16)
    assert maxsim(question, np.array([[1.0, 0.0]], dtype=np.float16)) == pytest.approx(0.5)
    assert maxsim(question, np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float16)) == pytest.approx(1.0)
    assert maxsim(question, np.zeros((0, 2), dtype=np.float16)) == 0.0


def test_the_sentence_that_answers_scores_higher_token_by_token(embeddings) -> None:  # type: ignore[no-untyped-def]
    hours, issuer = units_of("c1", TEXT, "Durée et certification", source="fiche.txt")
    late = LateInteraction(embeddings, size=10)
    asked = late.scores(["Combien d'heures dure la formation ?", "Qui délivre le titre ?"], [hours, issuer])
    assert asked[0][hours.id] > asked[0][issuer.id]
    assert asked[1][issuer.id] > asked[1][hours.id]
    # A question that repeats a sentence finds nearly each of its tokens in it (the prompt and the
    # special tokens are left out on both sides, so they do not pad the score).
    (itself,) = late.scores([hours.embedded_text], [hours])
    assert itself[hours.id] > 0.9


def test_sentence_states_are_kept_up_to_the_cache_size(embeddings) -> None:  # type: ignore[no-untyped-def]
    units = units_of("c2", TEXT.replace("\n\n", " Elle est ouverte aux salariés des ESAT. "), "", source="f.txt")
    assert len(units) == 3
    late = LateInteraction(embeddings, size=2)
    first = late.scores(["Quelle est la durée ?"], units)[0]
    assert len(late._states) == 2
    again = late.scores(["Quelle est la durée ?"], units)[0]  # one computed anew, the same scores
    assert again == pytest.approx(first, abs=1e-3)


def test_the_reader_blends_late_interaction_only_when_asked(
    assistant: Assistant, index_settings: Settings, embeddings
) -> None:  # type: ignore[no-untyped-def]
    plain = assistant.ask("Combien d'heures de stage long ?").retrieval
    assert plain is not None and plain.late == {} and "late" not in plain.timings_ms
    settings = settings_with(index_settings, reader_late_weight=0.5)
    late = Assistant(settings, embeddings, ChunkStore.open(settings)).ask("Combien d'heures de stage long ?").retrieval
    assert late is not None and set(late.late) == {u.unit.id for u in late.units}
    assert late.timings_ms["late"] > 0
    blended = similarities(late, settings)
    for unit in late.units:
        assert blended[unit.unit.id] == pytest.approx(0.5 * unit.dense + 0.5 * late.late[unit.unit.id])


def test_training_scores_late_interaction_as_the_app_does() -> None:
    """`training/late.py` scores a batch (questions × sentences, padded) as `maxsim` scores each pair."""
    import torch

    from training.late import late_scores

    rng = np.random.default_rng(3)

    def states(n: int) -> np.ndarray:
        rows = rng.normal(size=(n, 8))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    questions, sentences = [states(3), states(5)], [states(2), states(7), states(4)]
    batch = late_scores([torch.from_numpy(q) for q in questions], [torch.from_numpy(s) for s in sentences])
    expected = [[maxsim(q, s) for s in sentences] for q in questions]
    assert batch.detach().numpy() == pytest.approx(np.array(expected), abs=1e-5)


def test_training_reads_each_text_s_own_tokens(base_settings: Settings) -> None:
    """The token states training compares are the text's own: e5's prompt and special tokens left
    out, as the app leaves them out (`token_states`)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from assistant.models.e5convert import ensure_model_dir
    from training.train import PASSAGE_PREFIX, QUERY_PREFIX, Recipe, TopLayers, encode_frozen

    folder = str(ensure_model_dir(base_settings.model_dir))
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    own = ["Combien d'heures dure la formation ?", "La formation dure 441 heures."]
    encoded = encode_frozen(model, tokenizer, [QUERY_PREFIX + own[0], PASSAGE_PREFIX + own[1]], Recipe(), print)
    top = TopLayers(model, encoded)
    with torch.no_grad():
        pooled, states = top.embed_with_tokens([0, 1])
        assert torch.allclose(pooled, top.embed([0, 1]))
    for text, state in zip(own, states, strict=True):
        assert state.shape[0] == len(tokenizer.tokenize(text))
        assert torch.allclose(state.norm(dim=-1), torch.ones(state.shape[0]), atol=1e-5)
