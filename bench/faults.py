"""Faults the assistant must survive, with figures: killed ingests, a full disk, a storm of votes.

    HF_HUB_OFFLINE=1 python bench/faults.py [--kills 20] [--votes 1000] [--threads 16] [--no-disk]

1. `kill -9` of `python ingest.py --rebuild` at random moments (20 trials): after each, the index
   must still answer « 441 heures » to « Combien d'heures dure la formation ? ».
2. A full disk: a 3 MB tmpfs as the index folder (needs root and `mount`), the corpus ingested once,
   then the disk filled up and a large extra corpus file added, so the next `python ingest.py`
   runs out of space. It must exit 1 with one French line and no traceback, and the previous
   index must still answer. Skipped, with the reason, where `mount` is not permitted.
3. 1,000 votes from 16 threads through `FeedbackStore`: all stored, none twice.

Everything runs in temporary folders; the real model, the real Chroma. Prints one line per
check and a summary; exits 1 if a check failed. Figures, not a gate on wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

QUESTION = "Combien d'heures dure la formation ?"
FACT = "441 heures"


def cli_env(corpus: Path, index: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    if "ASSISTANT_MODEL_DIR" in os.environ:
        env["ASSISTANT_MODEL_DIR"] = os.environ["ASSISTANT_MODEL_DIR"]
    return env | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ASSISTANT_CORPUS_DIR": str(corpus),
        "ASSISTANT_INDEX_DIR": str(index),
    }


def ingest_process(corpus: Path, index: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROJECT / "ingest.py"), *args], cwd=PROJECT, env=cli_env(corpus, index), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def answers(settings: Any, embeddings: Any) -> bool:
    """Whether a fresh Assistant over the index answers the reference question with the fact."""
    from assistant.core import Assistant
    from assistant.search.store import ChunkStore

    try:
        return FACT in Assistant(settings, embeddings, ChunkStore.open(settings)).ask(QUESTION).text
    except Exception as err:
        print(f"    index does not answer: {type(err).__name__}: {err}", file=sys.stderr)
        return False


def bench_kills(tmp: Path, embeddings: Any, trials: int, seed: int) -> tuple[int, int]:
    """`kill -9` of `ingest.py --rebuild` at random moments. Returns (survived, trials)."""
    from assistant.config import PROJECT_DIR, Settings
    from assistant.ingest.indexing import ingest
    from assistant.search.store import ChunkStore

    corpus = tmp / "kill-corpus"
    corpus.mkdir()
    for path in (PROJECT_DIR / "corpus").iterdir():
        if path.is_file():
            shutil.copy(path, corpus / path.name)
    settings = Settings(corpus_dir=corpus, index_dir=tmp / "kill-index")
    ingest(settings, embeddings)

    # One whole rebuild, to spread the kills over its real length (model load, embed, write, switch).
    started = time.monotonic()
    process = ingest_process(corpus, settings.index_dir, "--rebuild")
    process.communicate(timeout=300)
    full = time.monotonic() - started
    print(f"  a whole `ingest.py --rebuild` takes {full:.1f} s (exit {process.returncode})")

    rng = random.Random(seed)
    survived = 0
    for trial in range(1, trials + 1):
        delay = rng.uniform(0.05, 1.05) * full
        process = ingest_process(corpus, settings.index_dir, "--rebuild")
        try:
            process.wait(timeout=delay)
            outcome = f"finished before the kill (exit {process.returncode})"
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            outcome = "killed"
        process.communicate(timeout=30)
        ok = answers(settings, embeddings)
        survived += ok
        print(f"  trial {trial:2d}: kill -9 at {delay:5.2f} s — {outcome}; index answers: {'yes' if ok else 'NO'}")
    summary = ingest(settings, embeddings)
    store = ChunkStore.open(settings)
    left = sorted(set(store.collection_names()) - {store.pointer_name, summary.collection})
    print(f"  next ingest: {summary.added} added, {summary.unchanged} unchanged; leftovers: {left or 'none'}")
    return survived, trials


def can_mount() -> str | None:
    """None when tmpfs can be mounted here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not root: mounting a tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "no mount/umount command"
    with tempfile.TemporaryDirectory() as probe:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], capture_output=True, text=True)
        if done.returncode != 0:
            return f"mount is not permitted here: {done.stderr.strip()}"
        subprocess.run(["umount", probe], check=False)
    return None


def fill(folder: Path, keep_bytes: int) -> int:
    """Writes a ballast file until at most `keep_bytes` are free on the folder's filesystem."""
    ballast = folder / "ballast.bin"
    free = shutil.disk_usage(folder).free
    size = max(0, free - keep_bytes)
    with ballast.open("wb") as out:
        for _ in range(size // 65536 + 1):  # bounded: one pass over the free space
            try:
                out.write(b"\0" * 65536)
            except OSError:
                break
    return shutil.disk_usage(folder).free


def large_corpus_file(path: Path, sections: int) -> None:
    """A Markdown file of `sections` distinct sections (distinct chunks, so each is stored)."""
    topics = ["l'atelier", "la sécurité", "la production", "l'accompagnement", "l'évaluation", "la qualité"]
    with path.open("w", encoding="utf-8") as out:
        for n in range(sections):
            topic = topics[n % len(topics)]
            out.write(
                f"# Note {n} sur {topic}\n\nLe moniteur d'atelier note {n} observations sur {topic} dans "
                f"le cahier numéro {n * 7 + 3}, puis les relit avec l'équipe le jour {n % 28 + 1}. "
                + " ".join(f"Remarque {n}-{k} : {topic} demande une attention de niveau {k}." for k in range(12))
                + "\n\n"
            )


def full_disk(tmp: Path, embeddings: Any, size: str = "3m", sections: int = 20) -> dict[str, Any]:
    """Runs the full-disk scenario and returns what happened; unmounts in any case."""
    from assistant.config import PROJECT_DIR, Settings
    from assistant.ingest.indexing import ingest

    corpus = tmp / "disk-corpus"
    corpus.mkdir()
    shutil.copy(PROJECT_DIR / "corpus" / "titre-moniteur-atelier-rncp39099.txt", corpus)
    mountpoint = tmp / "small-disk"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)], check=True)
    result: dict[str, Any] = {}
    try:
        index = mountpoint / "index"
        settings = Settings(corpus_dir=corpus, index_dir=index)
        first = ingest(settings, embeddings)
        result["first_chunks"] = first.chunks
        result["used_after_first"] = shutil.disk_usage(mountpoint).used
        result["answers_before"] = answers(settings, embeddings)
        result["free_left"] = fill(mountpoint, keep_bytes=100_000)
        large_corpus_file(corpus / "notes-atelier.md", sections)
        process = ingest_process(corpus, index)
        out, err = process.communicate(timeout=600)
        result |= {"exit": process.returncode, "stdout": out, "stderr": err}
        (mountpoint / "ballast.bin").unlink(missing_ok=True)  # room again, as an admin would make
        (corpus / "notes-atelier.md").unlink()
        result["answers_after"] = answers(settings, embeddings)
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
    return result


def bench_votes(tmp: Path, votes: int, threads: int) -> tuple[int, int, int, float]:
    """`votes` votes from `threads` threads. Returns (stored, distinct, expected, seconds)."""
    from assistant.app.feedback import FeedbackStore

    store = FeedbackStore(tmp / "votes" / "feedback.sqlite3")
    per_thread = votes // threads
    extra = votes - per_thread * threads
    failures: list[str] = []
    start = threading.Barrier(threads)

    def voter(t: int) -> None:
        start.wait(timeout=30)
        for i in range(per_thread + (1 if t < extra else 0)):
            try:
                store.add(f"question {t}-{i}", "réponse", [{"n": 1}], rating=1 if i % 2 else -1, comment=f"{t}-{i}")
            except Exception as err:
                failures.append(f"{type(err).__name__}: {err}")

    began = time.perf_counter()
    workers = [threading.Thread(target=voter, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    seconds = time.perf_counter() - began
    stored = store.recent(votes * 2)
    for failure in sorted(set(failures))[:5]:
        print(f"    {failure}", file=sys.stderr)
    return len(stored), len({(f.question, f.comment) for f in stored}), votes, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kill -9 trials")
    parser.add_argument("--votes", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--no-disk", action="store_true", help="skip the full-disk scenario")
    parser.add_argument("--seed", type=int, default=39099)
    args = parser.parse_args(argv)

    os.environ["HF_HUB_OFFLINE"] = "1"
    from assistant.config import Settings
    from assistant.models.embeddings import load_embeddings

    failed = []
    embeddings = load_embeddings(Settings())
    with tempfile.TemporaryDirectory(prefix="faults-") as name:
        tmp = Path(name)

        print(f"1. kill -9 during `ingest.py --rebuild`, {args.kills} trials")
        survived, trials = bench_kills(tmp, embeddings, args.kills, args.seed)
        print(f"   survived: {survived}/{trials}")
        if survived != trials:
            failed.append("kill -9")

        print("2. full disk during ingest (3 MB tmpfs)")
        reason = None if not args.no_disk else "--no-disk"
        reason = reason or can_mount()
        if reason:
            print(f"   skipped: {reason}")
        else:
            got = full_disk(tmp, embeddings)
            stderr = got["stderr"].strip()
            # The ingest's own « Indexation » progress bar may come first; the error is the last line.
            last_line = stderr.splitlines()[-1] if stderr else ""
            clear = got["exit"] == 1 and "Traceback" not in stderr and last_line.startswith("Erreur : ")
            print(
                f"   first ingest: {got['first_chunks']} chunks, {got['used_after_first'] // 1024} KiB; "
                f"free space left before the second: {got['free_left'] // 1024} KiB"
            )
            print(f"   second ingest: exit {got['exit']}; last stderr line: {last_line!r}")
            print(f"   clear French error, no traceback: {'yes' if clear else 'NO'}")
            print(f"   previous index answers before/after: {got['answers_before']}/{got['answers_after']}")
            if not (got["answers_before"] and got["answers_after"]):
                failed.append("full disk: index lost")
            if not clear:
                failed.append("full disk: raw error")

        print(f"3. {args.votes} votes from {args.threads} threads")
        stored, distinct, expected, seconds = bench_votes(tmp, args.votes, args.threads)
        print(
            f"   stored {stored}, distinct {distinct}, expected {expected}, in {seconds:.1f} s "
            f"({expected / seconds:.0f} votes/s); lost {expected - distinct}, duplicated {stored - distinct}"
        )
        if (stored, distinct) != (expected, expected):
            failed.append("votes")

    print("\nAll faults survived." if not failed else f"\nFailed: {', '.join(failed)}.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
