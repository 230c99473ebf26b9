"""The refusal head: a small classifier on the reader's question vector that says whether a
question asks for what the assistant refuses (to change its instructions, medical or personal
advice, a subject other than the title) when the guard's patterns (`reading/guard.py`) did not.

`python -m training.refusals` fits it on the committed guard questions (`training/guard/`) against
the training questions, embedded by the reader, and writes it beside the adapter: a hidden layer of
ReLU units (or none: linear), one weight row and one bias per kind, and the share of « refuse »
above which a question is refused, chosen on
the training questions held out from each fold. A head fitted on another adapter would read
vectors it never saw: it is used only with the adapter whose sha256 it records, else not at all.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.config import Settings

log = logging.getLogger(__name__)

ON_TOPIC = "ontopic"
# What a refusal says for each kind the head knows (assistant/answer/messages.py).
KINDS = (ON_TOPIC, "injection", "medical", "personal", "offtopic")


@dataclass(frozen=True)
class RefusalHead:
    """Softmax over `labels` of `weight @ h + bias`, where h is the vector itself or, with a hidden
    layer, relu(hidden_weight @ vector + hidden_bias); refuses above `threshold`."""

    labels: tuple[str, ...]
    weight: np.ndarray  # (labels, dimensions or hidden units)
    bias: np.ndarray  # (labels,)
    threshold: float  # refused when 1 - P(on topic) is at least this
    adapter_sha256: str  # the reader adapter whose question vectors it was fitted on
    hidden_weight: np.ndarray | None = None  # (hidden units, dimensions)
    hidden_bias: np.ndarray | None = None  # (hidden units,)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """P(label) for each row of `vectors` (unit question vectors from the reader)."""
        features = np.atleast_2d(vectors)
        if self.hidden_weight is not None and self.hidden_bias is not None:
            features = np.maximum(features @ self.hidden_weight.T + self.hidden_bias, 0.0)
        logits = features @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def kind(self, vector: np.ndarray) -> str | None:
        """The refusal a question calls for (the likeliest refused kind), or None."""
        probs = self.probabilities(np.asarray(vector, dtype=np.float32))[0]
        on_topic = self.labels.index(ON_TOPIC)
        if 1.0 - probs[on_topic] < self.threshold:
            return None
        others = [i for i in range(len(self.labels)) if i != on_topic]
        return self.labels[max(others, key=lambda i: probs[i])]

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        # One key: safetensors writes several in any order, and the file's sha256 would change with it.
        facts = {"labels": list(self.labels), "threshold": float(self.threshold), "adapter_sha256": self.adapter_sha256}
        metadata = {"head": json.dumps(facts, sort_keys=True)}
        tensors = {"weight": self.weight.astype(np.float32), "bias": self.bias.astype(np.float32)}
        if self.hidden_weight is not None and self.hidden_bias is not None:
            tensors |= {
                "hidden_weight": self.hidden_weight.astype(np.float32),
                "hidden_bias": self.hidden_bias.astype(np.float32),
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def read(cls, path: Path) -> RefusalHead:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            weight, bias = f.get_tensor("weight"), f.get_tensor("bias")
            hidden = [f.get_tensor(name) if name in f.keys() else None for name in ("hidden_weight", "hidden_bias")]
        facts = json.loads(metadata["head"])
        return cls(
            labels=tuple(facts["labels"]),
            weight=weight,
            bias=bias,
            threshold=float(facts["threshold"]),
            adapter_sha256=facts["adapter_sha256"],
            hidden_weight=hidden[0],
            hidden_bias=hidden[1],
        )


def load_refusal_head(settings: Settings) -> RefusalHead | None:
    """The head for the configured reader, or None (no head file, another adapter, or no adapter)."""
    from assistant.models.reader import sha256

    path = settings.refusal_head
    if not path.name or not path.is_file():
        return None
    if settings.embeddings.strip() != "e5" or not settings.reader_adapter.is_file():
        return None  # the head reads the reader's question vectors, which only this backend makes
    try:
        head = RefusalHead.read(path)
    except (OSError, KeyError, ValueError) as err:
        log.warning("Tête de refus illisible (%s) : %s ; seuls les motifs du garde refusent.", path, err)
        return None
    if head.adapter_sha256 != sha256(settings.reader_adapter):
        log.warning(
            "La tête de refus %s a été ajustée sur un autre adaptateur : relancez `python -m training.refusals` ; "
            "en attendant, seuls les motifs du garde refusent.",
            path,
        )
        return None
    return head
