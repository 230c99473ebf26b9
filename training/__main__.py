"""`python -m training`: trains the reader adapter from the committed data and prints its figures.

Reads `training/documents/` and `training/questions/`, trains (`train.py`), writes the adapter
where the assistant loads it (`ASSISTANT_READER_ADAPTER`, by default
`assistant/models/reader-adapter.safetensors`) and prints its sha256 and size, the figures on the
training documents held out for validation, then the blind set's dev split as the product
answers it. Never run by the app or by CI.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

# Training documents kept out of training: the figures printed after each epoch are on them.
VALIDATION_DOCUMENTS = (
    "fiche-epide.md",
    "fiche-contrat-apprentissage-amenage.md",
    "fiche-smic.md",
    "fiche-preparation-operationnelle-emploi-collective-poec.md",
    "ct-l6211-l6221-apprentissage-principes.md",
    "fiche-entreprises-insertion-ei.md",
    "ct-r6313-bilan-competences-actions.md",
)


def _parser() -> argparse.ArgumentParser:
    from training.train import Recipe

    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    defaults = Recipe()
    parser.add_argument("--out", type=Path, default=None, help="adapter file (default: the settings' reader_adapter)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument(
        "--remine-after",
        type=int,
        default=defaults.remine_after,
        help="epoch after which the negatives are mined again with the model being trained",
    )
    parser.add_argument("--first-layer", type=int, default=defaults.first_layer, help="lowest trained encoder layer")
    parser.add_argument(
        "--query-first-layer",
        type=int,
        default=defaults.query_first_layer,
        help="lowest encoder layer trained for the questions (at most --first-layer)",
    )
    parser.add_argument("--rank", type=int, default=defaults.rank)
    parser.add_argument(
        "--candidates", type=int, default=defaults.candidates, help="sentences per question: its answer and negatives"
    )
    parser.add_argument("--no-dropout", action="store_true", help="without e5's dropout in the trained layers")
    parser.add_argument(
        "--no-attention-dropout",
        action="store_true",
        help="dropout on the hidden states only, not on the attention weights (faster)",
    )
    parser.add_argument(
        "--bits-dropout",
        action="store_true",
        help="e5's dropout with masks from 16 random bits a number (same law, cheaper: training/dropout.py)",
    )
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="another draw of the same recipe (run-to-run spread)"
    )
    parser.add_argument(
        "--hurried",
        type=float,
        default=defaults.hurried,
        help="share of questions asked as typed in a hurry, per epoch",
    )
    parser.add_argument(
        "--fraction", type=float, default=1.0, help="train on this share of the training questions (data-size curve)"
    )
    parser.add_argument(
        "--also-questions",
        type=Path,
        action="append",
        default=[],
        help="a folder of more questions on the training documents (e.g. training/questions-definitional)",
    )
    parser.add_argument(
        "--withheld",
        type=float,
        default=defaults.withheld,
        help="weight of the term where an answerable question, its answers withheld, must prefer « no answer »",
    )
    parser.add_argument(
        "--late",
        type=float,
        default=defaults.late,
        help="share of late interaction (token by token, search/late.py) in the trained score",
    )
    parser.add_argument("--no-dev", action="store_true", help="skip the blind dev split at the end")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from assistant.config import load_settings
    from assistant.models.e5convert import ensure_model_dir
    from assistant.models.reader import save_adapter
    from training.data import load
    from training.measure import measure
    from training.train import (
        PASSAGE_PREFIX,
        QUERY_PREFIX,
        Recipe,
        TopLayers,
        encode_frozen,
        hurried_spellings,
        native_bf16,
        train,
    )

    args = _parser().parse_args(argv)
    recipe = replace(
        Recipe(),
        epochs=args.epochs,
        remine_after=args.remine_after,
        hurried=args.hurried,
        first_layer=args.first_layer,
        query_first_layer=min(args.query_first_layer, args.first_layer),
        rank=args.rank,
        candidates=args.candidates,
        dropout=not args.no_dropout,
        attention_dropout=not args.no_attention_dropout,
        bits_dropout=args.bits_dropout,
        learning_rate=args.learning_rate,
        seed=args.seed,
        withheld=args.withheld,
        late=args.late,
        bf16=native_bf16(),  # recorded in the adapter: the same data gives other bytes in float32
    )
    settings = load_settings()
    out = args.out or settings.reader_adapter
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    torch.set_num_threads(settings.threads)
    data = load(also=args.also_questions)
    validation = [e for e in data.examples if e.source in VALIDATION_DOCUMENTS and not e.subjectless]
    # Held out as well, measured apart (the figures above stay those of the same questions).
    validation_subjectless = [e for e in data.examples if e.source in VALIDATION_DOCUMENTS and e.subjectless]
    training = [e for e in data.examples if e.source not in VALIDATION_DOCUMENTS]
    if args.fraction < 1:
        training = random.Random(recipe.seed).sample(training, int(len(training) * args.fraction))
    log(
        f"{len(data.passages)} passages, {len(data.units)} sentences; {len(training)} training questions "
        f"({sum(e.answerable for e in training)} answerable), {len(validation)} held out on "
        f"{len(VALIDATION_DOCUMENTS)} documents; {len(data.unmatched)} answers not found"
    )
    base_dir = ensure_model_dir(settings.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModel.from_pretrained(str(base_dir)).eval()
    variants = hurried_spellings(data.examples, recipe)
    texts = list(
        dict.fromkeys(
            [QUERY_PREFIX + e.query for e in data.examples]
            + [QUERY_PREFIX + v for spellings in variants.values() for v in spellings]
            + [PASSAGE_PREFIX + u.embedded_text for u in data.units.values()]
        )
    )
    encoded = encode_frozen(model, tokenizer, texts, recipe, log)

    def figures_with(embed: object, threshold: float, hurried: bool = False, held: list | None = None) -> str:
        def queries(examples: list) -> np.ndarray:
            asked = [variants[e.id][0] if hurried and variants else e.query for e in examples]
            return embed([encoded.index[QUERY_PREFIX + q] for q in asked])  # type: ignore[operator]

        def units(ids: list[str]) -> np.ndarray:
            return embed([encoded.index[PASSAGE_PREFIX + data.units[u].embedded_text] for u in ids])  # type: ignore[operator]

        return measure(data, validation if held is None else held, queries, units, threshold).line()

    log("base e5, held-out documents: " + figures_with(lambda rows: encoded.base[rows], 0.85))
    if validation_subjectless:
        log(
            "  their questions naming no subject: "
            + figures_with(lambda rows: encoded.base[rows], 0.85, held=validation_subjectless)
        )
    if variants:
        log("  the same, asked hurried: " + figures_with(lambda rows: encoded.base[rows], 0.85, hurried=True))

    def after_epoch(epoch: int, top: TopLayers, null: float) -> None:
        def embed(rows: list[int]) -> np.ndarray:
            with torch.no_grad():
                return np.concatenate([top.embed(rows[i : i + 256]).numpy() for i in range(0, len(rows), 256)])

        log(f"epoch {epoch}, held-out documents: " + figures_with(embed, null))
        if validation_subjectless:
            log("  their questions naming no subject: " + figures_with(embed, null, held=validation_subjectless))
        if variants:
            log("  the same, asked hurried: " + figures_with(embed, null, hurried=True))

    matrices, null = train(model, data, training, encoded, recipe, log, after_epoch, variants)
    meta = {
        "recipe": asdict(recipe),
        "training_questions": len(training),
        "data_sha256": data.digest,
        "null_score": round(null, 4),
        "seconds": round(time.perf_counter() - started),
    }
    digest = save_adapter(out, matrices, _config(recipe, model.config.num_hidden_layers), meta)
    log(f"adapter: {out} ({out.stat().st_size / 1e6:.2f} MB), sha256 {digest}")
    log("the refusal head reads this adapter's question vectors: fit it again with `python -m training.refusals`")
    print(json.dumps(meta, ensure_ascii=False))
    if not args.no_dev:
        from training.dev import dev_figures

        log("blind dev split, as the product answers it:")
        print(dev_figures(settings, out))
    return 0


def _config(recipe: object, layers: int) -> object:
    """What the adapter adapts: the layers from `first_layer` for both sides, and those from
    `query_first_layer` below it for the questions only."""
    from assistant.models.reader import LoraConfig

    first, questions = recipe.first_layer, recipe.query_first_layer  # type: ignore[attr-defined]
    return LoraConfig(
        tuple(range(min(first, questions), layers)),
        rank=recipe.rank,  # type: ignore[attr-defined]
        alpha=recipe.alpha,  # type: ignore[attr-defined]
        question_only=tuple(range(questions, first)),
    )


if __name__ == "__main__":
    sys.exit(main())
