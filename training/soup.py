"""`python -m training.soup OUT ADAPTER ADAPTER…`: the mean of several trained adapters, in weight space.

Each adapter changes a weight by scale · B A. The mean of those changes is itself a LoRA change,
exactly: the A matrices stacked, the B matrices side by side, each B times its adapter's scale over
their number, scale 1 (rank: the sum of the ranks). Draws of one recipe with other seeds or other
loss terms err in different places; their mean often reads better than each. Never run by the app
or by CI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.models.reader import LoraConfig, read_adapter, save_adapter, sha256


def soup(adapters: Sequence[Path]) -> tuple[dict[str, np.ndarray], LoraConfig, dict[str, object]]:
    """The adapters' mean change as one adapter: matrices, config and header facts.

    Raises:
        ValueError: fewer than two adapters, or adapters that change different weights.
    """
    if len(adapters) < 2:
        raise ValueError("a mean needs at least two adapters")
    read = [read_adapter(path) for path in adapters]
    configs = [config for _, config, _ in read]
    first = configs[0]
    if any(c.layers != first.layers or c.targets != first.targets or c.question_only for c in configs):
        raise ValueError("the adapters must adapt the same layers and weights, for questions and passages alike")
    matrices: dict[str, np.ndarray] = {}
    for key in first.keys():
        a = [m[f"{key}.A"].astype(np.float32) for m, _, _ in read]
        b = [m[f"{key}.B"].astype(np.float32) * (c.scale / len(read)) for m, c, _ in read]
        matrices[f"{key}.A"] = np.concatenate(a, axis=0)
        matrices[f"{key}.B"] = np.concatenate(b, axis=1)
    rank = sum(c.rank for c in configs)
    config = LoraConfig(first.layers, first.targets, rank=rank, alpha=float(rank))
    meta = {
        "soup_of": [{"sha256": sha256(path), **facts} for path, (_, _, facts) in zip(adapters, read, strict=True)],
        "training_questions": max(int(facts.get("training_questions", 0)) for _, _, facts in read),
    }
    return matrices, config, meta


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.soup", description=__doc__)
    parser.add_argument("out", type=Path, help="the adapter file to write")
    parser.add_argument("adapters", type=Path, nargs="+", help="the trained adapters")
    args = parser.parse_args(argv)
    matrices, config, meta = soup(args.adapters)
    digest = save_adapter(args.out, matrices, config, meta)
    print(f"{args.out}: mean of {len(args.adapters)} adapters, rank {config.rank}, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
