"""`python -m training.refusals`: fits the refusal head (`assistant/models/refusal_head.py`) on the
reader's question vectors and prints its figures.

Data, all committed: `training/guard/*.jsonl`, messages written blind for it (what the assistant
refuses: `injection`, `medical`, `personal`, `offtopic`; and `ontopic` messages that read like
them: « j'ai ignoré la date limite… », « le médecin du travail m'a déclaré inapte… »), and every
training question (`training/questions*/`) as on-topic. The fit: a hidden layer of `--hidden`
ReLU units then softmax (AdamW, weight decay; `--hidden 0`: softmax regression, L2), classes
weighted to count alike. The threshold on 1 − P(on topic): over five folds, the lowest at which
at most `--false-refusals` of the on-topic messages held out are refused. Then the blind dev split
as the product reads it (the guard's patterns first, then the head): adversarial questions
refused, and on-topic ones refused by the head, listed. Never run by the app or by CI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.models.refusal_head import KINDS, ON_TOPIC, RefusalHead

TRAINING_DIR = Path(__file__).resolve().parent
GUARD_DIR = TRAINING_DIR / "guard"
QUESTION_DIRS = ("questions", "questions-definitional", "questions-subjectless")


def read_messages(guard_dir: Path = GUARD_DIR) -> tuple[list[str], list[str], list[bool]]:
    """Texts, labels, and whether each was written to look like what is refused (guard files)."""
    texts: list[str] = []
    labels: list[str] = []
    written: list[bool] = []
    for path in sorted(guard_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["label"] not in KINDS:
                    raise ValueError(f"{path.name} {row.get('id')}: label {row['label']!r} not in {KINDS}")
                texts.append(row["text"])
                labels.append(row["label"])
                written.append(True)
    for name in QUESTION_DIRS:
        for path in sorted((TRAINING_DIR / name).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(json.loads(line)["question"])
                    labels.append(ON_TOPIC)
                    written.append(False)
    return texts, labels, written


def fit(vectors: np.ndarray, targets: np.ndarray, classes: int, l2: float, steps: int = 200) -> tuple[np.ndarray, ...]:
    """Softmax regression, each class weighing as much as the others: (weight, bias)."""
    import torch

    x = torch.from_numpy(vectors.astype(np.float32))
    y = torch.from_numpy(targets.astype(np.int64))
    counts = torch.bincount(y, minlength=classes).clamp(min=1).float()
    class_weight = counts.sum() / (classes * counts)
    weight = torch.zeros(classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y, weight=class_weight)
        loss = loss + l2 * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach().numpy(), bias.detach().numpy()


def fit_hidden(
    vectors: np.ndarray, targets: np.ndarray, classes: int, hidden: int, weight_decay: float, epochs: int = 400
) -> tuple[np.ndarray, ...]:
    """The same with a hidden layer of `hidden` ReLU units (dropout 0.1 while fitting), AdamW on the
    whole set at once: (weight, bias, hidden_weight, hidden_bias)."""
    import torch

    torch.manual_seed(0)
    x = torch.from_numpy(vectors.astype(np.float32))
    y = torch.from_numpy(targets.astype(np.int64))
    counts = torch.bincount(y, minlength=classes).clamp(min=1).float()
    class_weight = counts.sum() / (classes * counts)
    first, last = torch.nn.Linear(x.shape[1], hidden), torch.nn.Linear(hidden, classes)
    net = torch.nn.Sequential(first, torch.nn.ReLU(), torch.nn.Dropout(0.1), last)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=weight_decay)
    for _ in range(epochs):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y, weight=class_weight).backward()
        optimizer.step()
    return tuple(p.detach().numpy().copy() for p in (last.weight, last.bias, first.weight, first.bias))


def fit_head(
    vectors: np.ndarray, targets: np.ndarray, l2: float, hidden: int, threshold: float, adapter: str
) -> RefusalHead:
    """A head fitted on these messages: linear (`hidden` 0, L2 `l2`) or with a hidden layer (weight decay `l2`)."""
    if not hidden:
        weight, bias = fit(vectors, targets, len(KINDS), l2)
        return RefusalHead(KINDS, weight, bias, threshold, adapter)
    weight, bias, hidden_weight, hidden_bias = fit_hidden(vectors, targets, len(KINDS), hidden, l2)
    return RefusalHead(KINDS, weight, bias, threshold, adapter, hidden_weight, hidden_bias)


def out_of_fold(
    vectors: np.ndarray, targets: np.ndarray, l2: float, folds: int = 5, seed: int = 0, hidden: int = 0
) -> np.ndarray:
    """P(on topic) of each message by a head fitted without its fold."""
    order = np.random.default_rng(seed).permutation(len(targets))
    on_topic = np.empty(len(targets))
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        head = fit_head(vectors[kept], targets[kept], l2, hidden, 0.5, "")
        on_topic[held] = head.probabilities(vectors[held])[:, KINDS.index(ON_TOPIC)]
    return on_topic


def threshold_for(refuse: np.ndarray, on_topic: np.ndarray, false_refusals: float) -> float:
    """The lowest threshold on P(refuse) that refuses at most that share of on-topic messages."""
    scores = np.sort(refuse[on_topic])[::-1]
    allowed = int(np.floor(false_refusals * len(scores)))
    # Refused: score >= threshold. Just above the (allowed + 1)-th highest on-topic score.
    return float(np.nextafter(scores[allowed], 1.0)) if allowed < len(scores) else 0.0


def dev_figures(head: RefusalHead, embeddings: object, max_chars: int) -> None:
    """The blind dev split read as the product reads it; test is never read here."""
    from assistant.reading.guard import read
    from evals.metrics import ADVERSARIAL_KINDS
    from evals.split import OUT

    rows = [json.loads(line) for line in OUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] == "dev"]
    readings = [read(r["question"], max_chars) for r in rows]
    vectors = np.asarray(embeddings.embed_queries([reading.text for reading in readings]))  # type: ignore[attr-defined]
    kinds = [head.kind(v) for v in vectors]
    adversarial = [i for i, r in enumerate(rows) if r["kind"] in ADVERSARIAL_KINDS and not r["answerable"]]
    by_guard = sum(readings[i].refusal is not None for i in adversarial)
    by_either = sum(readings[i].refusal is not None or kinds[i] is not None for i in adversarial)
    print(f"dev adversarial ({len(adversarial)}): refused by the patterns {by_guard}, with the head {by_either}")
    for kind in ADVERSARIAL_KINDS:
        ids = [i for i in adversarial if rows[i]["kind"] == kind]
        caught = sum(readings[i].refusal is not None or kinds[i] is not None for i in ids)
        print(f"  {kind}: {caught} / {len(ids)}")
    others = [i for i, r in enumerate(rows) if i not in set(adversarial) and readings[i].refusal is None]
    wrongly = [i for i in others if kinds[i] is not None]
    answerable = sum(rows[i]["answerable"] for i in wrongly)
    print(f"dev on-topic ({len(others)}) refused by the head: {len(wrongly)} ({answerable} answerable)")
    for i in wrongly:
        print(f"  {rows[i]['id']} [{kinds[i]}] {rows[i]['question'][:110]}")
    missed = [i for i in adversarial if readings[i].refusal is None and kinds[i] is None]
    for i in missed:
        print(f"  not refused: {rows[i]['id']} ({rows[i]['kind']}) {rows[i]['question'][:100]}")


def main(argv: Sequence[str] | None = None) -> int:
    from assistant.config import Settings
    from assistant.models.embeddings import load_embeddings
    from assistant.models.reader import sha256
    from assistant.reading.guard import clean

    parser = argparse.ArgumentParser(prog="python -m training.refusals", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="head file (default: the settings' refusal_head)")
    parser.add_argument("--hidden", type=int, default=256, help="hidden units (0: linear, the head before December 7)")
    parser.add_argument("--l2", type=float, default=None, help="L2 (linear: 1e-4) or weight decay (hidden: 0.1)")
    parser.add_argument(
        "--false-refusals",
        type=float,
        nargs="+",
        default=[0.002, 0.001, 0.0005],
        help="share of held-out on-topic refused (several: each one's figures printed, the first written; the "
        "committed head: 0.002, the share of those three that refuses the most dev adversarial questions while "
        "refusing at most one answerable dev question)",
    )
    parser.add_argument("--no-dev", action="store_true", help="skip the blind dev split at the end")
    args = parser.parse_args(argv)

    settings = Settings()
    if settings.embeddings.strip() != "e5" or not settings.reader_adapter.is_file():
        print(
            "Erreur : la tête de refus se règle sur les vecteurs du lecteur (ASSISTANT_EMBEDDINGS=e5, un adaptateur)."
        )
        return 1
    started = time.perf_counter()
    texts, labels, written = read_messages()
    texts = [clean(t, settings.max_question_chars)[0] for t in texts]
    targets = np.asarray([KINDS.index(label) for label in labels])
    counts = ", ".join(f"{k} {int((targets == i).sum())}" for i, k in enumerate(KINDS))
    print(f"{len(texts)} messages ({counts}); {sum(written)} written for the head")
    embeddings = load_embeddings(settings)
    vectors = np.asarray(embeddings.embed_queries(texts))  # type: ignore[attr-defined]
    print(f"[{time.perf_counter() - started:6.0f} s] embedded by the reader {sha256(settings.reader_adapter)[:8]}")

    on_topic = targets == KINDS.index(ON_TOPIC)
    l2 = args.l2 if args.l2 is not None else 0.1 if args.hidden else 1e-4
    refuse = 1.0 - out_of_fold(vectors, targets, l2, hidden=args.hidden)
    looks_alike = on_topic & np.asarray(written)
    fitted = fit_head(vectors, targets, l2, args.hidden, 0.5, sha256(settings.reader_adapter))
    out = args.out or settings.refusal_head
    for n, share in enumerate(args.false_refusals):
        threshold = threshold_for(refuse, on_topic, share)
        print(
            f"threshold {threshold:.4f} (out of fold, {share:.2%} of on-topic): on-topic refused "
            f"{int((refuse[on_topic] >= threshold).sum())} / {int(on_topic.sum())}, of those written to look alike "
            f"{int((refuse[looks_alike] >= threshold).sum())} / {int(looks_alike.sum())}"
        )
        for i, kind in enumerate(KINDS):
            if kind != ON_TOPIC:
                mine = targets == i
                print(f"  {kind}: refused {int((refuse[mine] >= threshold).sum())} / {int(mine.sum())} (out of fold)")
        head = replace(fitted, threshold=threshold)
        if n == 0:
            head.save(out)
            print(f"[{time.perf_counter() - started:6.0f} s] {out} sha256 {sha256(out)} ({out.stat().st_size} bytes)")
        if not args.no_dev:
            dev_figures(head, embeddings, settings.max_question_chars)
    return 0


if __name__ == "__main__":
    sys.exit(main())
