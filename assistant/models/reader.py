"""The reader: multilingual-e5-small with a low-rank adapter trained to tell the sentence that
answers a question from its neighbours (`python -m training` trains it).

The adapter is a set of LoRA matrices for the linear layers of e5's top encoder layers, stored in
one small safetensors file whose header says what it adapts (`LoraConfig`). It is merged into the
converted e5 weights once (`ensure_reader_dir`): the result is an ordinary sentence-transformers
folder, named after the adapter's hash, that embeds passages and questions at the same cost as
e5 itself. An adapter may also adapt lower layers for the questions only (`question_only`): the
questions then have a folder of their own (`ensure_question_dir`), which differs from the
passages' in those layers alone. Merging needs numpy only; training (`add_lora`) uses torch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# The linear layers of a BERT encoder layer an adapter may target, by their short name.
TARGETS = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
}
READER_MARKER = "reader.json"


@dataclass(frozen=True)
class LoraConfig:
    """What an adapter adapts: `rank` × (in + out) weights per targeted linear layer of the listed
    encoder layers; a merged weight is W + (alpha / rank) · B A."""

    layers: tuple[int, ...]
    targets: tuple[str, ...] = tuple(TARGETS)
    rank: int = 16
    alpha: float = 32.0
    question_only: tuple[int, ...] = ()  # of `layers`: adapted when a question is embedded, not a passage

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def keys(self, questions: bool = True) -> list[str]:
        """The BertModel weight names the adapter changes (for the questions, or for the passages)."""
        layers = [i for i in self.layers if questions or i not in self.question_only]
        return [f"encoder.layer.{i}.{TARGETS[t]}.weight" for i in layers for t in self.targets]


def sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def save_adapter(path: Path, matrices: dict[str, np.ndarray], config: LoraConfig, meta: dict[str, Any]) -> str:
    """Writes the adapter (float16 matrices, config and training facts in the header); returns its sha256."""
    from safetensors.numpy import save_file

    lora = asdict(config)
    if not config.question_only:  # an adapter for both sides alike is written as before the option existed
        del lora["question_only"]
    header = {"lora": json.dumps(lora), "meta": json.dumps(meta, ensure_ascii=False, sort_keys=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.astype(np.float16) for k, v in sorted(matrices.items())}, str(path), header)
    return sha256(path)


def read_adapter(path: Path) -> tuple[dict[str, np.ndarray], LoraConfig, dict[str, Any]]:
    """The adapter's matrices (`<weight name>.A` and `.B`), its config and its training facts."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), framework="np") as handle:
        header = handle.metadata() or {}
    raw = json.loads(header["lora"])
    config = LoraConfig(
        tuple(raw["layers"]),
        tuple(raw["targets"]),
        int(raw["rank"]),
        float(raw["alpha"]),
        tuple(raw.get("question_only", ())),
    )
    return load_file(str(path)), config, json.loads(header.get("meta", "{}"))


def merged_weights(base: dict[str, np.ndarray], adapter: Path, questions: bool = False) -> dict[str, np.ndarray]:
    """The base state dict with every weight adapted for the passages (or for the questions)
    replaced by W + scale · B A."""
    matrices, config, _ = read_adapter(adapter)
    merged = dict(base)
    for key in config.keys(questions):
        a, b = matrices[f"{key}.A"].astype(np.float32), matrices[f"{key}.B"].astype(np.float32)
        merged[key] = (base[key].astype(np.float32) + config.scale * (b @ a)).astype(np.float32)
    return merged


def ensure_reader_dir(base_dir: Path, adapter: Path) -> Path:
    """The sentence-transformers folder of e5 with the adapter merged in, built once beside the
    base folder and named after the adapter's hash (a new adapter gets a new folder, so an index
    built with the old one is rebuilt, never mixed).

    Returns:
        The folder.
    """
    return _ensure_merged(base_dir, adapter, questions=False)


def ensure_question_dir(base_dir: Path, adapter: Path) -> Path | None:
    """The folder that embeds the questions, when the adapter adapts layers for them only
    (otherwise None: the reader's folder embeds both)."""
    if not read_adapter(adapter)[1].question_only:
        return None
    return _ensure_merged(base_dir, adapter, questions=True)


def _ensure_merged(base_dir: Path, adapter: Path, questions: bool) -> Path:
    from safetensors.numpy import load_file, save_file

    digest = sha256(adapter)
    target = base_dir.with_name(f"{base_dir.name}-reader-{digest[:12]}{'-questions' if questions else ''}")
    marker = target / READER_MARKER
    if marker.is_file():
        return target
    with open(target.with_name(target.name + ".lock"), "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            shutil.copytree(base_dir, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.lock"))
            weights = merged_weights(load_file(str(base_dir / "model.safetensors")), adapter, questions)
            save_file(weights, str(tmp / "model.safetensors"), {"format": "pt"})
            (tmp / "model.safetensors").chmod(0o644)
            (tmp / READER_MARKER).write_text(json.dumps({"adapter_sha256": digest}) + "\n", encoding="utf-8")
            tmp.chmod(0o755)
            if target.exists():  # a folder left half-built by a killed merge (its marker is written last)
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
    return target


def add_lora(model: Any, config: LoraConfig, seed: int = 0) -> dict[str, Any]:
    """Wraps the targeted linear layers of a transformers BertModel with trainable LoRA branches
    (A random, B zero: the model starts as it was). Returns the new parameters by weight name."""
    import torch

    generator = torch.Generator().manual_seed(seed)

    class LoraLinear(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.A = torch.nn.Parameter(torch.randn(config.rank, base.in_features, generator=generator) * 0.01)
            self.B = torch.nn.Parameter(torch.zeros(base.out_features, config.rank))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + config.scale * ((x @ self.A.T) @ self.B.T)

    params: dict[str, Any] = {}
    for i in config.layers:
        layer = model.encoder.layer[i]
        for target in config.targets:
            path = TARGETS[target].split(".")
            parent = layer
            for name in path[:-1]:
                parent = getattr(parent, name)
            wrapped = LoraLinear(getattr(parent, path[-1]))
            setattr(parent, path[-1], wrapped)
            key = f"encoder.layer.{i}.{TARGETS[target]}.weight"
            params[f"{key}.A"], params[f"{key}.B"] = wrapped.A, wrapped.B
    return params
