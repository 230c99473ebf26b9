"""The reader's training data and its training loop: the committed questions pass their writers'
check and find their answers among the sentences; no training document is one of `corpus/`; and a
few steps of the real loop, on the real model, move each question towards its answer."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.models.e5convert import ensure_model_dir
from assistant.models.reader import read_adapter
from training.check import check
from training.data import DEFINITIONAL, DOCUMENTS, PARAPHRASE, QUESTIONS, SUBJECTLESS, TrainingSet, load
from training.train import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    Recipe,
    TopLayers,
    batch_loss,
    encode_frozen,
    native_bf16,
    train,
    training_mode,
)

from .conftest import CORPUS


@pytest.fixture(scope="module")
def committed() -> TrainingSet:
    """The committed training set, loaded once for the tests that read it."""
    return load()


def _lines() -> list[dict[str, object]]:
    return [json.loads(line) for path in sorted(QUESTIONS.glob("*.jsonl")) for line in path.open(encoding="utf-8")]


def test_every_committed_question_passes_the_writers_check(capsys: pytest.CaptureFixture[str]) -> None:
    more = [p for folder in (DEFINITIONAL, SUBJECTLESS, PARAPHRASE) for p in sorted(folder.glob("*.jsonl"))]
    assert check(sorted(QUESTIONS.glob("*.jsonl")) + more) == 0, capsys.readouterr().out[-2000:]


def test_the_questions_in_the_user_s_own_words_are_found_and_not_in_the_committed_data(committed: TrainingSet) -> None:
    more = load(also=[PARAPHRASE])
    rows = [json.loads(line) for path in sorted(PARAPHRASE.glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    assert len(rows) > 2000 and {r["kind"] for r in rows} == {"paraphrase", "unanswerable"}
    assert {r["doc"] for r in rows} == {p.name for p in DOCUMENTS.glob("*.md")}
    # Two excerpts of 2,181 span two passages the chunker cut apart: those questions are left out.
    assert len(more.unmatched) - len(committed.unmatched) <= 2
    assert len(more.examples) == len(committed.examples) + len(rows) - (len(more.unmatched) - len(committed.unmatched))
    assert not {e.id for e in committed.examples} & {str(r["id"]) for r in rows}


def test_a_folder_of_more_questions_adds_them_and_leaves_the_committed_data_as_it_was(committed: TrainingSet) -> None:
    more = load(also=[DEFINITIONAL])
    added = [json.loads(line) for path in sorted(DEFINITIONAL.glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    assert len(added) > 500 and {e.id for e in more.examples} == {e.id for e in committed.examples} | {
        str(r["id"]) for r in added
    }
    assert more.unmatched == committed.unmatched  # every definitional answer found among the sentences
    assert more.digest != committed.digest


def test_the_questions_naming_no_subject_are_marked_found_and_on_the_fiches(committed: TrainingSet) -> None:
    more = load(also=[SUBJECTLESS])
    added = [e for e in more.examples if e.subjectless]
    assert len(added) > 400 and sum(e.answerable for e in added) > 300
    assert len(more.examples) == len(committed.examples) + len(added)  # every answer found
    assert more.unmatched == committed.unmatched
    assert {e.source for e in added} <= {p.name for p in DOCUMENTS.glob("fiche-*.md")}
    assert not any(e.subjectless for e in committed.examples)
    # The committed adapter was trained on these (`make train`): its header and the README say so.
    assert read_adapter(Settings().reader_adapter)[2]["data_sha256"] == more.digest
    assert more.digest in (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_answer_is_found_among_the_sentences_the_reader_is_shown(committed: TrainingSet) -> None:
    rows = _lines()
    assert len(rows) > 6000 and sum(not r["answerable"] for r in rows) > 1200
    # One excerpt of 6,807 spans two passages the chunker cut apart: that question is left out.
    assert len(committed.unmatched) <= 1
    assert len(committed.examples) == len(rows) - len(committed.unmatched)
    every_document = {p.name for p in DOCUMENTS.glob("*.md")}
    assert {r["doc"] for r in rows} == every_document


def test_no_training_document_is_one_of_the_corpus() -> None:
    corpus = {p.name for p in CORPUS.iterdir() if p.is_file()}
    assert not corpus & {p.name for p in DOCUMENTS.glob("*.md")}
    # Nor does one repeat a corpus document's text: no sentence of 120 characters or more in common.
    training_text = " ".join(re.sub(r"\s+", " ", p.read_text(encoding="utf-8")) for p in DOCUMENTS.glob("*.md"))
    shared = []
    for path in CORPUS.glob("*.txt"):
        text = re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))
        shared += [s for s in re.split(r"(?<=[.;:!?])\s", text) if len(s) >= 120 and s in training_text]
    assert not shared, shared[:3]


def test_bfloat16_only_where_the_cpu_computes_it() -> None:
    """Emulated bfloat16 (AVX2 alone) made the training 36 times slower than float32."""
    avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
    assert not native_bf16(avx2)
    assert native_bf16(avx2.replace("avx2", "avx2 avx512f avx512_bf16"))
    assert native_bf16(avx2.replace("avx2", "avx2 amx_bf16"))
    assert native_bf16("Features\t: fp asimd sve bf16 i8mm\n")  # Arm
    assert not native_bf16("")


def test_the_recipe_says_which_dropout_the_trained_layers_draw() -> None:
    """Without the attention weights' dropout (the faster option on AVX2 cores) the self-attention
    gives the same output twice while the layer, with its hidden states' dropout, does not; without
    dropout both are steady; by default neither is."""
    import torch
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64))
    states = torch.randn(3, 7, 32)
    layer = model.encoder.layer[0]

    def steady(module: torch.nn.Module) -> bool:
        first, second = (module(states) for _ in range(2))
        first, second = (o[0] if isinstance(o, tuple) else o for o in (first, second))
        return torch.equal(first, second)

    observed = []
    for recipe in (Recipe(), Recipe(attention_dropout=False), Recipe(dropout=False)):
        training_mode(model, recipe)
        observed.append((steady(layer.attention.self), steady(layer)))
    training_mode(model, Recipe(bits_dropout=True))  # the cheaper masks: both drawn still
    observed.append((steady(layer.attention.self), steady(layer)))
    assert observed == [(False, False), (True, False), (True, True), (False, False)], observed


def test_the_cheap_masks_drop_one_number_in_ten_and_keep_the_mean() -> None:
    """`dropout_bits` draws e5's law (0.1) from torch's seeded generator: the share dropped is 0.1 to
    within four standard deviations over 10⁶ numbers, the mean is kept, and a seed gives its masks
    again."""
    import torch

    from training.dropout import dropout_bits, kept

    torch.manual_seed(5)
    mask = kept(torch.Size([1000, 1000]), 0.1)
    assert abs((1 - mask.float().mean().item()) - 0.1) < 4 * 0.0003
    ones = torch.ones(1000, 1000)
    assert abs(dropout_bits(ones, 0.1).mean().item() - 1.0) < 4 * 0.00034
    torch.manual_seed(5)
    assert torch.equal(kept(torch.Size([1000, 1000]), 0.1), mask)
    assert not torch.equal(kept(torch.Size([1000, 1000]), 0.1), mask)
    assert torch.equal(dropout_bits(ones, 0.0), ones)


def test_the_cheap_masks_attention_reads_what_sdpa_reads() -> None:
    """The attention that draws its masks by `dropout_bits`: in evaluation it gives the layer's
    output of before; with a dropout too small to drop a number it gives sdpa's output; with e5's
    dropout it never reads a padding token (changing the padding's states changes nothing for the
    same draw) while two draws differ."""
    import torch
    from transformers import BertConfig, BertModel

    from training.dropout import use_bits_dropout

    torch.manual_seed(0)
    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64))
    model.eval()
    states = torch.randn(3, 7, 32)
    tokens = torch.ones(3, 7, dtype=torch.long)
    tokens[0, 4:] = 0
    mask = model._create_attention_masks(tokens, None, states, None, None, None)[0]
    layer = model.encoder.layer[0]

    def out(hidden: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        if seed is not None:
            torch.manual_seed(seed)
        result = layer(hidden, mask)
        return result[0] if isinstance(result, tuple) else result

    before = out(states)
    use_bits_dropout(model)
    assert torch.equal(out(states), before)
    model.train()
    layer.attention.output.dropout.p = layer.output.dropout.p = 0.0
    layer.attention.self.dropout.p = 1e-7  # rounds to no number dropped
    assert torch.allclose(out(states), before, atol=1e-5)
    layer.attention.self.dropout.p = 0.1
    padded = states.clone()
    padded[0, 4:] = torch.randn(3, 32)
    assert torch.allclose(out(states, seed=1)[0, :4], out(padded, seed=1)[0, :4], atol=1e-6)
    assert not torch.allclose(out(states, seed=1), out(states, seed=2))


@pytest.mark.slow
def test_a_question_naming_no_subject_takes_no_other_document_s_sentence_for_a_negative(tmp_path: Path) -> None:
    """« Ça dure combien de temps ? » on a site about one scheme may be answered by another
    document's sentence as well: its mined negatives all come from its own document, those of the
    same question naming its subject from both."""
    from training.train import Encoded, mine

    documents, questions = tmp_path / "documents", tmp_path / "questions"
    documents.mkdir()
    questions.mkdir()
    names = ("fiche-smic.md", "fiche-bilan-competences.md")
    for name in names:
        shutil.copy(DOCUMENTS / name, documents / name)
    row = next(r for r in _lines() if r["doc"] == names[0] and r["answerable"])
    rows = [dict(row, id="t-0001"), dict(row, id="t-0002", subjectless=True)]
    (questions / "t.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    data = load(documents, questions)
    assert [e.subjectless for e in data.examples] == [False, True]
    texts = [QUERY_PREFIX + e.query for e in data.examples] + [
        PASSAGE_PREFIX + u.embedded_text for u in data.units.values()
    ]
    index = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    vectors = np.random.default_rng(0).normal(size=(len(index), 8)).astype(np.float32)
    encoded = Encoded([], [], vectors, index)
    negatives = mine(data, data.examples, encoded, vectors, 3, 4)
    source = {u.id: p.source for p in data.passages for u in p.units}
    named, subjectless = (negatives[e.id] for e in data.examples)
    assert [source[u] for u in named] == [names[0]] * 3 + [names[1]] * 4
    assert [source[u] for u in subjectless] == [names[0]] * 3


@pytest.mark.slow
def test_a_few_steps_of_training_bring_each_question_closer_to_its_answer(
    base_settings: Settings, tmp_path: Path
) -> None:
    """The real loop (bfloat16 autocast, the learned « no answer » score) on one training document
    and 24 of its questions: after four epochs each question's answer is further above its hard
    negatives than with plain e5-small."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    name = "fiche-smic.md"
    documents, questions = tmp_path / "documents", tmp_path / "questions"
    documents.mkdir()
    questions.mkdir()
    shutil.copy(DOCUMENTS / name, documents / name)
    rows = [r for r in _lines() if r["doc"] == name][:24]
    (questions / "q.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    data = load(documents, questions)
    examples = [e for e in data.examples if e.answerable]
    assert len(examples) >= 15

    directory = ensure_model_dir(base_settings.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = AutoModel.from_pretrained(str(directory)).eval()
    recipe = Recipe(first_layer=10, epochs=4, batch=8, remine_after=0, learning_rate=2e-3)
    texts = list(
        dict.fromkeys(
            [QUERY_PREFIX + e.query for e in data.examples]
            + [PASSAGE_PREFIX + u.embedded_text for u in data.units.values()]
        )
    )
    encoded = encode_frozen(model, tokenizer, texts, recipe, lambda _: None)
    units = list(data.units)

    def margins(vectors: np.ndarray) -> float:
        """Mean over the questions of: the best answer's similarity − the best other sentence's."""
        matrix = vectors[[encoded.index[PASSAGE_PREFIX + data.units[u].embedded_text] for u in units]]
        gaps = []
        for example in examples:
            scores = matrix @ vectors[encoded.index[QUERY_PREFIX + example.query]]
            answer = max(s for u, s in zip(units, scores, strict=True) if u in example.positives)
            other = max(s for u, s in zip(units, scores, strict=True) if u not in example.positives)
            gaps.append(answer - other)
        return float(np.mean(gaps))

    before = margins(encoded.base)
    matrices, null = train(model, data, data.examples, encoded, recipe, lambda _: None)
    with torch.no_grad():
        after = margins(TopLayers(model, encoded).embed(list(range(len(texts)))).numpy())
    assert after > before + 0.025, (before, after)
    assert set(matrices) and all(np.isfinite(m).all() for m in matrices.values())
    assert 0.0 < null < 1.0


def test_hurried_spellings_keep_the_question_recognisable_and_are_reproducible() -> None:
    """The training's noise model (`training/noise.py`): the same seed gives the same spellings; a
    spelling differs from the careful question but keeps most of its words; English questions get
    slips and lower case, never French contractions."""
    import random

    from training.noise import hurried, slips, texting

    questions = [str(r["question"]) for r in _lines()[:400]]
    first = [hurried(q, random.Random(3)) for q in questions]
    assert first == [hurried(q, random.Random(3)) for q in questions]
    changed = kept = 0
    for question, spelling in zip(questions, first, strict=True):
        changed += spelling != question
        words = set(re.findall(r"\w+", question.casefold()))
        kept += len(words & set(re.findall(r"\w+", spelling.casefold()))) >= 0.4 * len(words)
    assert changed >= 0.95 * len(questions) and kept >= 0.9 * len(questions), (changed, kept)

    question = "Qu'est-ce que je peux faire, et combien ça coûte ?"
    texted = [texting(question, random.Random(seed)) for seed in range(20)]
    assert all(t == t.lower() and "qu'est-ce que" not in t for t in texted), texted
    assert any("û" not in t for t in texted) and any("?" not in t for t in texted), texted
    slipped = slips("Combien de temps dure la formation", random.Random(1), 2)
    assert sum(a != b for a, b in zip(slipped.split(), "Combien de temps dure la formation".split(), strict=True)) == 2
    rng = random.Random(2)
    for _ in range(30):
        english = hurried("Who pays for the training, and how long does it last?", rng)
        assert not re.search(r"\b(cb|pr|ke|ki|koi)\b", english), english


def test_withholding_the_answer_asks_no_answer_to_beat_the_near_miss_and_only_it() -> None:
    """`Recipe.withheld`: an answerable question, its answer withheld, must prefer « no answer »
    (0.85 here). The term costs much when a near miss scores above it and little when it does not;
    another answer of the question (masked) is no near miss; unanswerable questions and the recipe
    without the term are left as they were; its gradient raises « no answer »."""
    import torch

    def losses(near: float, other_answer: bool = False) -> tuple[float, float, float]:
        scores = torch.tensor([[0.90, near, 0.20], [0.10, 0.30, 0.80]])
        mask = torch.zeros_like(scores, dtype=torch.bool)
        mask[0, 1] = other_answer
        null = torch.tensor(0.85, requires_grad=True)
        plain = batch_loss(scores, mask, [0, 3], [True, False], null, Recipe())
        withheld = batch_loss(scores, mask, [0, 3], [True, False], null, Recipe(withheld=0.5))
        (grad,) = torch.autograd.grad(withheld - plain, null)
        return float(plain.detach()), float((withheld - plain).detach()), float(grad)

    plain, above, grad = losses(0.86)
    _, below, _ = losses(0.70)
    _, answer, _ = losses(0.86, other_answer=True)
    assert above > 0.3 and below < 0.05 and answer < 0.05, (above, below, answer)
    assert grad < 0  # more « no answer » lowers the term
    unanswerable = torch.tensor([[0.1, 0.3, 0.8]]), torch.zeros(1, 3, dtype=torch.bool), [3], [False]
    only, alone = (batch_loss(*unanswerable, torch.tensor(0.85), r) for r in (Recipe(withheld=0.5), Recipe()))
    assert float(only) == float(alone) and plain > 0


def test_the_refusal_head_s_messages_are_labelled_and_repeat_no_blind_question() -> None:
    """`training/guard/`: written for the refusal head by writers who never saw `evals/`; a message
    that happens to read like a blind question word for word is left out (one was: « Qui a gagné la
    Ligue des champions… »), so that the head is never measured on what it was fitted on."""
    from assistant.models.refusal_head import KINDS
    from evals.split import OUT as BLIND
    from training.refusals import GUARD_DIR

    def folded(text: str) -> str:
        return re.sub(r"\W+", " ", text.lower()).strip()

    blind = {folded(json.loads(line)["question"]) for line in BLIND.read_text(encoding="utf-8").splitlines() if line}
    rows = [json.loads(line) for path in sorted(GUARD_DIR.glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    assert len(rows) >= 1400 and {r["label"] for r in rows} == set(KINDS)
    assert len({r["id"] for r in rows}) == len(rows)
    assert not [r["id"] for r in rows if folded(r["text"]) in blind]


def test_a_soup_of_adapters_changes_each_weight_by_the_mean_of_their_changes(tmp_path: Path) -> None:
    """`python -m training.soup`: the mean of adapters of other ranks and scales, written as one
    adapter whose merged weights are the mean of theirs (to float16's precision)."""
    from assistant.models.reader import LoraConfig, merged_weights, save_adapter
    from training.soup import soup

    rng = np.random.default_rng(5)
    configs = [
        LoraConfig((11,), ("query", "output"), rank=4, alpha=8.0),
        LoraConfig((11,), ("query", "output"), 2, 8.0),
    ]
    keys = configs[0].keys()
    base = {key: rng.normal(size=(6, 5)).astype(np.float32) for key in keys}
    paths = []
    for n, config in enumerate(configs):
        matrices = {}
        for key in keys:
            matrices[f"{key}.A"] = rng.normal(scale=0.1, size=(config.rank, 5)).astype(np.float32)
            matrices[f"{key}.B"] = rng.normal(scale=0.1, size=(6, config.rank)).astype(np.float32)
        paths.append(tmp_path / f"a{n}.safetensors")
        save_adapter(paths[-1], matrices, config, {"training_questions": 10 + n})
    matrices, config, meta = soup(paths)
    out = tmp_path / "soup.safetensors"
    save_adapter(out, matrices, config, meta)
    assert config.rank == 6 and meta["training_questions"] == 11 and len(meta["soup_of"]) == 2
    each = [merged_weights(base, path) for path in paths]
    mean = merged_weights(base, out)
    for key in keys:
        assert np.allclose(mean[key], (each[0][key] + each[1][key]) / 2, atol=2e-3)
        assert not np.allclose(mean[key], each[0][key], atol=2e-2)
    with pytest.raises(ValueError):
        soup(paths[:1])
