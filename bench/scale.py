"""How ingest and ask scale with the corpus: `python bench/scale.py [--copies 100]`.

Builds a corpus of N distinct variants of the real document in a temporary folder, ingests it,
and compares ingest throughput with the raw embedding throughput of the same passages, and the
ask latency at 1× and N× (target: p50 at N× under 2× the p50 at 1×). Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.app.bench import QUESTIONS  # noqa: E402
from assistant.config import PROJECT_DIR, Settings  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.ingest.indexing import build_chunks, ingest  # noqa: E402
from assistant.models.embeddings import load_embeddings  # noqa: E402
from assistant.search.store import ChunkStore  # noqa: E402

DOCUMENT = PROJECT_DIR / "corpus" / "titre-moniteur-atelier-rncp39099.txt"


def ask_p50(settings: Settings, embeddings: object, rounds: int) -> float:
    assistant = Assistant(settings, embeddings, ChunkStore.open(settings))  # type: ignore[arg-type]
    latencies = [assistant.ask(q).latency_ms for _ in range(rounds) for q in QUESTIONS]
    return statistics.median(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=100, help="variants of the document in the big corpus")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    args = parser.parse_args()

    base = Settings()
    embeddings = load_embeddings(base)
    text = DOCUMENT.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        small = base.model_copy(update={"corpus_dir": root / "small", "index_dir": root / "small-index"})
        big = base.model_copy(update={"corpus_dir": root / "big", "index_dir": root / "big-index"})
        small.corpus_dir.mkdir()
        big.corpus_dir.mkdir()
        (small.corpus_dir / DOCUMENT.name).write_text(text, encoding="utf-8")
        for i in range(args.copies):
            # Distinct content (ingest skips exact duplicates), same structure.
            variant = text.replace("Le métier visé", f"Le métier visé (fiche d'essai n° {i})", 1)
            (big.corpus_dir / f"fiche-{i:03d}.txt").write_text(variant, encoding="utf-8")

        ingest(small, embeddings)
        chunks, _, _ = build_chunks(big)
        texts = [c.indexed_text for c in chunks]
        started = time.perf_counter()
        embeddings.embed_documents(texts)
        raw = len(texts) / (time.perf_counter() - started)
        started = time.perf_counter()
        summary = ingest(big, embeddings)
        ingest_rate = summary.chunks / (time.perf_counter() - started)

        p50_small = ask_p50(small, embeddings, args.rounds)
        p50_big = ask_p50(big, embeddings, args.rounds)

    print(f"| corpus | passages | ask p50 ms |\n|---|---|---|\n| 1× | 12 | {p50_small:.1f} |")
    print(f"| {args.copies}× | {summary.chunks} | {p50_big:.1f} |")
    print(f"ask p50 {args.copies}× / 1× = {p50_big / p50_small:.2f} (target < 2)")
    share = ingest_rate / raw
    print(f"raw embedding {raw:.1f} passages/s; ingest {ingest_rate:.1f} passages/s = {share:.0%} (target ≥ 80 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
