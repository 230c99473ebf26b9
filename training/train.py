"""Fine-tunes the reader: e5-small's top layers through a LoRA adapter, contrastively, on the
training questions against the sentences around their answers.

Each question is embedded as e5 embeds a query, each sentence as e5 embeds a passage (its
heading, then itself). A batch of questions sees, for each one, an answering sentence and hard
negatives mined from its own document and from the others (the sentences base e5 finds closest);
every sentence of the batch is a negative for every other question. One learned « no answer »
score joins each question's candidates: an unanswerable question must prefer it to every
sentence, an answerable one must put its answer above it (and, with `withheld`, prefer it to every
sentence left when its answers are withheld). The frozen lower layers run once per
text (their output is cached), so an epoch costs the top layers only.
"""

from __future__ import annotations

import ctypes
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.models.reader import LoraConfig, add_lora
from training.data import Example, TrainingSet
from training.late import late_scores

QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "


@dataclass(frozen=True)
class Recipe:
    """Every choice of a training run (what the adapter's header records)."""

    first_layer: int = 9  # layers below are frozen and cached; LoRA on this one and above
    # Questions run trained layers from this one (≤ first_layer): the sentences, six times as many
    # texts per batch, start at `first_layer`, so deeper reading of the question costs little.
    query_first_layer: int = 9
    rank: int = 16
    alpha: float = 32.0
    epochs: int = 3
    batch: int = 16
    # Per question: one answer and hard negatives (every other sentence of the batch is a negative
    # too). 5 costs a fifth less per batch (README: the recipe that fits the hour on AVX2 cores).
    candidates: int = 6
    own_negatives: int = 12  # hard negatives drawn from, in its own document
    other_negatives: int = 4  # hard negatives drawn from, in other documents
    # After this epoch the negatives are mined again with the model being trained (its own
    # mistakes, more of them in other documents: the confusions the whole corpus offers).
    remine_after: int = 2
    remined_own: int = 8
    remined_other: int = 8
    learning_rate: float = 3e-4
    warmup: float = 0.1
    temperature: float = 0.05
    null_start: float = 0.85  # the « no answer » cosine the training starts from
    max_tokens: int = 256
    # Each epoch, this share of the questions is asked as a hurried user types it (`noise.py`):
    # one of `hurried_variants` spellings drawn once per question before training.
    # Measured and left out (README): 0.35 gave the same dev score at another operating point.
    hurried: float = 0.0
    hurried_variants: int = 2
    seed: int = 13
    # The trained layers run in bfloat16 (autocast; the adapter's weights stay float32) where the
    # CPU computes it natively (None: `native_bf16()`): 1.4 times faster on AVX-512 BF16 cores,
    # and 36 times slower on AVX2-only ones, which emulate it (a 384 × 1536 layer, 48 × 64 tokens).
    bf16: bool | None = None
    # e5's own dropout (0.1) in the trained layers. Drawing its masks takes a quarter of each batch
    # on 2 AVX2 cores (3.9 s with it, 2.9 s without).
    dropout: bool = True
    # Of it, the dropout of the attention weights (tokens × tokens per head) costs 0.67 s of a 3.43 s
    # batch on 2 AVX2 cores, the hidden states' 0.17 s (`attention_dropout=False` keeps only the
    # latter). Measured and left out (README): five candidates so, 48 minutes, a worse dev score.
    attention_dropout: bool = True
    # The dropout's masks drawn from 16 random bits a number (`dropout.py`), not torch's bernoulli:
    # the same law (to 1 / 65,536), other draws, so other bytes than a run without it; 2.28 s a
    # batch with five candidates on 2 AVX2 cores. Measured and left out (README): five candidates
    # so, 50 minutes, as good as the committed adapter on 419 dev questions, not better.
    bits_dropout: bool = False
    # Weight of a second term: each answerable question, its answers withheld, must prefer « no
    # answer » to every sentence left (the near misses around its answer included), so that the
    # learned score says « this sentence answers », not only « this one answers best ». 0: off.
    withheld: float = 0.0
    # Share of the late-interaction score (each question token's best cosine with a sentence token,
    # averaged: `assistant/search/late.py`) in the trained score, the rest the pooled cosine. 0: off.
    late: float = 0.0
    late_null_start: float = 0.7  # where the « no answer » score's late share starts


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bfloat16 natively (x86 AVX-512 BF16 or AMX, Arm BF16): the flags
    Linux lists in /proc/cpuinfo; False where it cannot be read."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    flags = {word for line in cpuinfo.splitlines() if line.lower().startswith(("flags", "features"))
             for word in line.split(":", 1)[-1].split()}  # fmt: skip
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


@dataclass
class Encoded:
    """Each text's hidden states entering its first trained layer, and its base embedding."""

    hidden: list[Any]  # float16 tensors (tokens × 384), one per text
    start: list[int]  # the layer each text's cached states enter
    base: np.ndarray  # normalised base-model embedding, one row per text
    index: dict[str, int] = field(default_factory=dict)  # text -> row
    skip: list[int] = field(default_factory=list)  # tokens before the text's own: the special one and the prompt


def _pool(hidden: Any, mask: Any) -> Any:
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def encode_frozen(model: Any, tokenizer: Any, texts: list[str], recipe: Recipe, log: Callable[[str], None]) -> Encoded:
    """Runs every text once through the frozen model: keeps its states where its trained layers
    begin (`first_layer`, or `query_first_layer` for a question) and its final base embedding (to
    mine negatives with)."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    start_of = [recipe.query_first_layer if t.startswith(QUERY_PREFIX) else recipe.first_layer for t in texts]
    hidden: list[Any] = [None] * len(texts)
    base = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=recipe.max_tokens,
                return_tensors="pt",
            )
            out = model(**batch, output_hidden_states=True)
            pooled = _pool(out.last_hidden_state, batch["attention_mask"]).numpy()
            for j, i in enumerate(rows):
                length = int(batch["attention_mask"][j].sum())
                hidden[i] = out.hidden_states[start_of[i]][j, :length].to(torch.float16).clone()
                base[i] = pooled[j]
            if start % 1280 == 0:
                log(f"  frozen layers: {start + len(rows)}/{len(texts)} texts ({time.perf_counter() - started:.0f} s)")
    prompts = {p: 1 + len(tokenizer.tokenize(p.strip())) for p in (QUERY_PREFIX, PASSAGE_PREFIX)}
    skip = [prompts[QUERY_PREFIX] if t.startswith(QUERY_PREFIX) else prompts[PASSAGE_PREFIX] for t in texts]
    return Encoded(hidden, start_of, base, {t: i for i, t in enumerate(texts)}, skip)


class TopLayers:
    """The trained top of the model: runs each text's layers from the one its cached states enter."""

    def __init__(self, model: Any, encoded: Encoded) -> None:
        self.model, self.encoded = model, encoded

    def embed(self, rows: Sequence[int], chunk: int = 32) -> Any:
        """Embeddings of the texts at `rows`, in order; run by chunks of similar length (less padding)."""
        return self.embed_with_tokens(rows, chunk, tokens=False)[0]

    def embed_with_tokens(self, rows: Sequence[int], chunk: int = 32, tokens: bool = True) -> tuple[Any, list[Any]]:
        """The embeddings, and each text's own token states (normalised, without the special tokens
        and the prompt), for late interaction."""
        import torch

        start = self.encoded.start
        order = sorted(range(len(rows)), key=lambda i: (start[rows[i]], self.encoded.hidden[rows[i]].shape[0]))
        groups: list[list[int]] = []  # chunks of one entry layer
        for i in order:
            if not groups or len(groups[-1]) == chunk or start[rows[groups[-1][0]]] != start[rows[i]]:
                groups.append([])
            groups[-1].append(i)
        parts: list[Any] = []
        states: list[Any] = [None] * len(rows)
        for group in groups:
            pooled, hidden, mask = self._embed([rows[i] for i in group])
            parts.append(pooled)
            if tokens:
                hidden = torch.nn.functional.normalize(hidden.float(), dim=-1)
                for k, i in enumerate(group):
                    states[i] = hidden[k, self.encoded.skip[rows[i]] : int(mask[k].sum()) - 1]
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return torch.cat(parts)[inverse], states

    def _embed(self, rows: Sequence[int]) -> tuple[Any, Any, Any]:
        import torch

        states = [self.encoded.hidden[r].to(torch.float32) for r in rows]
        longest = max(s.shape[0] for s in states)
        hidden = torch.zeros(len(states), longest, states[0].shape[1])
        mask = torch.zeros(len(states), longest, dtype=torch.long)
        for i, s in enumerate(states):
            hidden[i, : s.shape[0]], mask[i, : s.shape[0]] = s, 1
        extended = self.model._create_attention_masks(mask, None, hidden, None, None, None)[0]
        for layer in self.model.encoder.layer[self.encoded.start[rows[0]] :]:
            hidden = layer(hidden, extended)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return _pool(hidden.float(), mask), hidden, mask  # float32 out, also under autocast


def training_mode(model: Any, recipe: Recipe) -> None:
    """Puts the model in training mode with the recipe's dropout: e5's own (0.1) or none, and of
    it the attention weights' only when `recipe.attention_dropout`."""
    if recipe.bits_dropout:
        from training.dropout import use_bits_dropout

        use_bits_dropout(model)
    model.train(recipe.dropout)
    for layer in model.encoder.layer:
        layer.attention.self.dropout.p = model.config.attention_probs_dropout_prob if recipe.attention_dropout else 0.0


def hurried_spellings(examples: list[Example], recipe: Recipe) -> dict[str, list[str]]:
    """Each question's hurried spellings (`noise.py`), the same for every run of a recipe; none
    when the recipe asks none (the texts encoded, hence the adapter, are then as without them)."""
    from training.noise import hurried

    if recipe.hurried <= 0:
        return {}
    rng = random.Random(recipe.seed + 1)
    return {e.id: [hurried(e.query, rng) for _ in range(recipe.hurried_variants)] for e in examples}


def _asked(example: Example, variants: dict[str, list[str]] | None, share: float, rng: random.Random) -> str:
    if share > 0 and variants and example.id in variants and rng.random() < share:
        return rng.choice(variants[example.id])
    return example.query


def mine(
    data: TrainingSet, examples: list[Example], encoded: Encoded, vectors: np.ndarray, own_n: int, other_n: int
) -> dict[str, list[str]]:
    """Each question's hard negatives, closest first: sentences of its own document, then of the
    others, that the model whose `vectors` (one row per text of `encoded`) are given finds closest
    to it and that do not answer it."""
    unit_ids = list(data.units)
    rows = np.asarray([encoded.index[PASSAGE_PREFIX + data.units[u].embedded_text] for u in unit_ids])
    matrix = vectors[rows]
    source_of = {u.id: p.source for p in data.passages for u in p.units}
    negatives: dict[str, list[str]] = {}
    for example in examples:
        scores = matrix @ vectors[encoded.index[QUERY_PREFIX + example.query]]
        own, other = [], []
        wanted = 0 if example.subjectless else other_n  # another document may answer it too
        for i in np.argsort(-scores):
            unit = unit_ids[i]
            if unit in example.positives:
                continue
            same = source_of[unit] == example.source
            if same and len(own) < own_n:
                own.append(unit)
            elif not same and len(other) < wanted:
                other.append(unit)
            if len(own) >= own_n and len(other) >= wanted:
                break
        negatives[example.id] = own + other
    return negatives


def batch_loss(scores: Any, mask: Any, targets: list[int], answerable: list[bool], null: Any, recipe: Recipe) -> Any:
    """The loss of one batch: `scores` (questions × sentences) with `mask` marking what is no negative,
    each question's target (its answer's column, or one past the last for « no answer »), `null` the
    learned « no answer » score. With `recipe.withheld`, an answerable question whose answer is
    withheld must then prefer « no answer » to every sentence left."""
    import torch

    scores = scores.masked_fill(mask, -1.0)
    column = null.expand(len(targets), 1)
    logits = torch.cat([scores, column], dim=1) / recipe.temperature
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(targets))
    rows = [i for i, yes in enumerate(answerable) if yes]
    if recipe.withheld > 0 and rows:
        hidden = torch.zeros_like(mask)
        hidden[rows, [targets[i] for i in rows]] = True
        without = torch.cat([scores.masked_fill(hidden, -1.0), column], dim=1)[rows] / recipe.temperature
        loss = loss + recipe.withheld * torch.nn.functional.cross_entropy(
            without, torch.full((len(rows),), scores.shape[1])
        )
    return loss


def train(
    model: Any,
    data: TrainingSet,
    examples: list[Example],
    encoded: Encoded,
    recipe: Recipe,
    log: Callable[[str], None],
    after_epoch: Callable[[int, TopLayers, float], None] | None = None,
    variants: dict[str, list[str]] | None = None,
) -> tuple[dict[str, Any], float]:
    """Trains the adapter; returns its matrices (by weight name) and the learned « no answer » cosine.
    `variants` gives other spellings of each question (by id), asked instead of it `recipe.hurried`
    of the time; their texts must be in `encoded`."""
    import torch

    rng = random.Random(recipe.seed)
    torch.manual_seed(recipe.seed)
    bf16 = native_bf16() if recipe.bf16 is None else recipe.bf16
    log(f"trained layers in {'bfloat16' if bf16 else 'float32'}")
    for parameter in model.parameters():
        parameter.requires_grad = False
    config = LoraConfig(
        tuple(range(min(recipe.first_layer, recipe.query_first_layer), model.config.num_hidden_layers)),
        rank=recipe.rank,
        alpha=recipe.alpha,
    )
    lora = add_lora(model, config, seed=recipe.seed)
    null_start = (1 - recipe.late) * recipe.null_start + recipe.late * recipe.late_null_start
    null = torch.nn.Parameter(torch.tensor(null_start))
    optimiser = torch.optim.AdamW([*lora.values(), null], lr=recipe.learning_rate, weight_decay=0.0)
    steps = recipe.epochs * math.ceil(len(examples) / recipe.batch)
    warm = max(1, int(recipe.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm))
    )
    negatives = mine(data, examples, encoded, encoded.base, recipe.own_negatives, recipe.other_negatives)
    # Batches of every shape fragment glibc's heap (the process grew by 1.4 GB a minute); giving the
    # freed memory back every few steps keeps it flat (after each one, the next step paid for
    # fresh pages: 0.3 s a batch).
    libc = ctypes.CDLL("libc.so.6")
    top = TopLayers(model, encoded)
    late = recipe.late > 0
    passage_row = {u: encoded.index[PASSAGE_PREFIX + data.units[u].embedded_text] for u in data.units}
    source_of = {u.id: p.source for p in data.passages for u in p.units}
    for epoch in range(1, recipe.epochs + 1):
        training_mode(model, recipe)
        order = examples[:]
        rng.shuffle(order)
        started, total = time.perf_counter(), 0.0
        for start in range(0, len(order), recipe.batch):
            batch = order[start : start + recipe.batch]
            chosen: list[list[str]] = []
            for example in batch:
                pool = negatives[example.id]
                picked = rng.sample(pool, min(len(pool), recipe.candidates - 1))
                chosen.append(([rng.choice(sorted(example.positives))] if example.answerable else []) + picked)
            units = list(dict.fromkeys(u for c in chosen for u in c))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                candidates, sentence_states = top.embed_with_tokens([passage_row[u] for u in units], tokens=late)
                asked = [_asked(e, variants, recipe.hurried, rng) for e in batch]
                queries, question_states = top.embed_with_tokens(
                    [encoded.index[QUERY_PREFIX + q] for q in asked], tokens=late
                )
            scores = queries @ candidates.T
            if late:
                scores = (1 - recipe.late) * scores + recipe.late * late_scores(question_states, sentence_states)
            # A sentence that answers the question, other than the one drawn, is not a negative; nor
            # is another document's for a question that names no subject.
            mask = torch.zeros_like(scores, dtype=torch.bool)
            targets = []
            for i, (example, drawn) in enumerate(zip(batch, chosen, strict=True)):
                for j, unit in enumerate(units):
                    if unit in example.positives and (not drawn or unit != drawn[0]):
                        mask[i, j] = True
                    elif example.subjectless and source_of[unit] != example.source:
                        mask[i, j] = True
                targets.append(units.index(drawn[0]) if example.answerable else len(units))
            answerable = [example.answerable for example in batch]
            loss = batch_loss(scores, mask, targets, answerable, null, recipe)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            total += float(loss.detach()) * len(batch)
            done = start // recipe.batch + 1
            if done % 8 == 0:
                libc.malloc_trim(0)
            if done % 50 == 0:
                log(f"  epoch {epoch}: {done} batches, loss {total / (start + len(batch)):.3f}")
        null_score = float(null.detach())
        log(
            f"epoch {epoch}/{recipe.epochs}: loss {total / len(order):.3f}, « no answer » at {null_score:.3f}, "
            f"{time.perf_counter() - started:.0f} s"
        )
        if after_epoch:
            model.eval()
            after_epoch(epoch, top, float(null.detach()))
        if epoch == recipe.remine_after and epoch < recipe.epochs:
            model.eval()
            with torch.no_grad():
                rows = list(range(len(encoded.hidden)))
                vectors = np.concatenate([top.embed(rows[i : i + 256]).numpy() for i in range(0, len(rows), 256)])
            negatives = mine(data, examples, encoded, vectors, recipe.remined_own, recipe.remined_other)
            log(f"negatives mined again with the reader after epoch {epoch}")
    model.eval()
    matrices = {name: p.detach().numpy().copy() for name, p in lora.items()}
    return matrices, float(null.detach())
