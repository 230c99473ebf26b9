"""Ingest throughput of the real corpus against the raw embedding throughput of the same texts:
`python bench/ingest_rate.py` (target: ingest ≥ 80 % of raw). Prints figures; not a test.

Raw: every text the ingest embeds (passages and their sentences), embedded in batches in the
ingest's order. Ingest: `ingest --rebuild` into a temporary index, reading, chunking, embedding and
writing to Chroma included.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import Settings  # noqa: E402
from assistant.ingest.indexing import build_chunks, embedding_records, ingest  # noqa: E402
from assistant.models.embeddings import load_embeddings  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(index_dir=Path(folder) / "index")
        embeddings = load_embeddings(settings)
        chunks, _, files = build_chunks(settings)
        texts = sorted(embedding_records(chunks).values(), key=len)
        embeddings.embed_documents(texts[:32])  # warm-up
        started = time.perf_counter()
        for i in range(0, len(texts), settings.embed_batch_size):
            embeddings.embed_documents(texts[i : i + settings.embed_batch_size])
        raw_s = time.perf_counter() - started
        started = time.perf_counter()
        summary = ingest(settings, embeddings, rebuild=True)
        ingest_s = time.perf_counter() - started
    records = summary.chunks + summary.units
    print(f"corpus: {files} files, {summary.chunks} passages, {summary.units} sentences = {records} texts embedded")
    print(f"raw embedding: {len(texts) / raw_s:.1f} texts/s ({raw_s:.1f} s)")
    print(
        f"ingest: {records / ingest_s:.1f} texts/s ({ingest_s:.1f} s) = {raw_s / ingest_s:.0%} of raw (target ≥ 80 %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
