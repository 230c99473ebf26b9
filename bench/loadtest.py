"""Load on the served chat: N concurrent API users, each asking 10 questions with follow-ups.

    HF_HUB_OFFLINE=1 python bench/loadtest.py [--users 1 10 50] [--chat] [--budget 300]

Launches `app.py` in its own process on a free loopback port, with a temporary index of `corpus/`
built by the real model, then for each N runs N `gradio_client.Client` sessions in threads of this
process (so the users' client code does not share the server's interpreter lock). Each
session asks the 10 questions of `SCRIPT` through `/ask`, passing the growing history (so the
follow-ups « Et le stage court ? » are answered from it); with `--chat`, every other session uses
the streaming `/chat` instead (the server keeps its history). Prints a Markdown table of
throughput, latency percentiles and errors per N.

The N sessions connect first (a `Client` downloads the app's config and API description: its time
is the "connect" column), then all ask their first question at the same instant: 50 people asking
at once, not 50 page loads mixed with questions. One untimed session first warms the server up;
the lone user of N = 1 then runs 5 sessions in a row (`--single-rounds`), so that its p95 is not
just the slowest of 10 answers. `--repeat K` runs the whole series K times against the same
server: on a 2-core machine one series is noisy, and the ratio is printed for each.

`--baseline` serves `bench/baseline_app.py` instead: the same `/ask` API and queue settings around
a handler that answers at once without looking anything up. Its figures are what Gradio and
gradio_client cost by themselves on this machine, the floor under the app's.

Target: 0 errors at N = 50, and p95 at N = 50 no worse than 10 × the p95 at N = 1. The app uses
the settings as they are (`ASSISTANT_CONCURRENCY_LIMIT`, `ASSISTANT_QUERY_BATCH`…); only the index,
data folder and port are temporary. The whole run is bounded by `--budget` seconds: questions not
asked in time count as errors. The server's CPU time per question is read from /proc. Figures, not
a gate.

The clients pass `ssl_verify=False`: the app is plain http on loopback, and gradio_client otherwise
builds a certificate-checking TLS context for every request anyway, 70 ms of CPU each, which on a
2-core machine starved the server of the cores it was being measured on.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent

# (question, a word its answer must contain when it answers, or None when any non-error reply will
# do). A decline (« Les documents dont je dispose ne le précisent pas ») is no error: it is counted
# in its own column; an answer without the word is a wrong answer, an error.
SCRIPT: list[tuple[str, str | None]] = [
    ("Combien d'heures dure la formation ?", "441"),
    ("Et le stage court ?", "105"),
    ("Et le stage long ?", "980"),
    ("Quel est le niveau du titre ?", "4"),
    ("Quels sont les blocs de compétences ?", "Bloc"),
    ("Peut-on obtenir le titre par la VAE ?", None),
    ("Comment se déroule la certification ?", None),
    ("Quel est le salaire d'un moniteur d'atelier ?", None),  # abstains: still an answer
    ("Qui délivre le titre ?", None),
    ("Combien de personnes dans un groupe ?", None),
]
TARGET_RATIO = 10.0
DECLINED = "Les documents dont je dispose ne le précisent pas"


@dataclass
class Run:
    users: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    declined: int = 0
    wall: float = 0.0
    connects: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    series: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def fail(self, why: str) -> None:
        with self.lock:
            self.errors.append(why)

    def decline(self) -> None:
        with self.lock:
            self.declined += 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, server: subprocess.Popen[bytes], deadline: float) -> bool:
    """Waits until the app answers on `url` (it may first build its index); False if it died or the time ran out."""
    import httpx

    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            if httpx.get(url + "config", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 when there is nothing to rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _answer_text(reply: Any) -> str:
    return str(reply.get("answer", "")) if isinstance(reply, dict) else ""


def connect(url: str, run: Run) -> Any:
    """A new session's client (its connection time is recorded), or None after counting its
    questions as errors."""
    from gradio_client import Client

    started = time.perf_counter()
    try:
        client = Client(url, verbose=False, download_files=False, ssl_verify=False)
    except Exception as err:
        run.fail(f"connect: {type(err).__name__}: {err}")
        for _ in SCRIPT:
            run.fail("not asked")
        return None
    with run.lock:
        run.connects.append(time.perf_counter() - started)
    return client


def session(url: str, run: Run, deadline: float, use_chat: bool, timeout: float, client: Any = None) -> None:
    """One user: 10 questions in a row, each with the history of the previous ones."""
    client = client or connect(url, run)
    if client is None:
        return
    history: list[dict[str, str]] = []
    for question, expected in SCRIPT:
        left = deadline - time.monotonic()
        if left <= 0:
            run.fail("not asked (time budget spent)")
            continue
        started = time.perf_counter()
        try:
            if use_chat:
                chat, _ = client.submit(question, api_name="/chat").result(timeout=min(timeout, left))
                text = " ".join(str(b.get("text", "")) for b in chat[-1]["content"]) if chat else ""
                reply: Any = {"answer": text}
            else:
                reply = client.submit(question, history, api_name="/ask").result(timeout=min(timeout, left))
        except Exception as err:
            run.fail(f"{type(err).__name__}: {str(err)[:200]}")
            continue
        elapsed = time.perf_counter() - started
        if not isinstance(reply, dict) or "error" in reply:
            run.fail(f"error reply: {str(reply)[:200]}")
            continue
        text = _answer_text(reply)
        if reply.get("abstained") or text.startswith(DECLINED):
            run.decline()
        elif expected is not None and expected not in text:
            run.fail(f"wrong answer to {question!r}: {text[:120]!r}")
            continue
        run.ok(elapsed)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": text}]
    try:
        client.close()
    except Exception:  # noqa: S110 - closing is best effort
        pass


def drive(url: str, users: int, deadline: float, use_chat: bool, timeout: float, rounds: int = 1) -> Run:
    """N sessions at once, started together (each user runs `rounds` sessions in a row); returns
    their latencies and errors."""
    run = Run(users)
    start = threading.Barrier(users + 1)

    def user(i: int) -> None:
        client = connect(url, run)
        try:
            start.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass
        if client is not None:
            session(url, run, deadline, use_chat and i % 2 == 1, timeout, client)
        for _ in range(rounds - 1):
            session(url, run, deadline, use_chat and i % 2 == 1, timeout)

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    try:
        start.wait(timeout=120)
    except threading.BrokenBarrierError:
        run.fail("the sessions did not all connect within 120 s")
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + timeout + 5)
    run.wall = time.perf_counter() - began
    alive = sum(t.is_alive() for t in threads)
    if alive:
        run.fail(f"{alive} session(s) still running at the deadline")
    return run


def table(runs: list[Run]) -> str:
    lines = [
        "| series | N users | questions | wall (s) | throughput (q/s) | p50 (s) | p95 (s) | p99 (s) "
        "| server CPU (ms/q) | load driver CPU (ms/q) | connect p95 (s) | declined | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        done = len(r.latencies)
        lines.append(
            f"| {r.series} | {r.users} | {done} | {r.wall:.1f} | {done / r.wall if r.wall else 0:.1f} "
            f"| {percentile(r.latencies, 0.50):.3f} | {percentile(r.latencies, 0.95):.3f} "
            f"| {percentile(r.latencies, 0.99):.3f} | {r.server_cpu / done * 1000 if done else 0:.0f} "
            f"| {r.client_cpu / done * 1000 if done else 0:.0f} | {percentile(r.connects, 0.95):.3f} "
            f"| {r.declined} | {len(r.errors)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 10, 50], help="concurrent sessions per run")
    parser.add_argument("--chat", action="store_true", help="every other session uses /chat instead of /ask")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for the whole run, setup included")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one question may take")
    parser.add_argument(
        "--single-rounds",
        type=int,
        default=5,
        help="sessions the lone user of N = 1 runs in a row: 50 latencies give a steadier p95 than 10",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="serve with ASSISTANT_QUERY_CACHE=0: every user here asks the same 10 questions, so the "
        "question-vector cache otherwise answers most of them without the model",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of the whole series of N, against the same server")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="serve bench/baseline_app.py (the same API around a handler that looks nothing up): "
        "what Gradio and gradio_client cost alone",
    )
    args = parser.parse_args(argv)

    overall = time.monotonic() + args.budget
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index"),
            "ASSISTANT_DATA_DIR": str(Path(tmp) / "data"),
            "ASSISTANT_HOST": "127.0.0.1",
            "ASSISTANT_PORT": str(port),
            "ASSISTANT_STREAM_DELAY_MS": "0",
        }
        if args.no_cache:
            env["ASSISTANT_QUERY_CACHE"] = "0"
        env.pop("ASSISTANT_CHROMA_URL", None)
        log = open(Path(tmp) / "app.log", "w+b")  # noqa: SIM115 - read back on failure
        served = PROJECT / ("bench/baseline_app.py" if args.baseline else "app.py")
        server = subprocess.Popen([sys.executable, str(served)], env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}/"
        runs: list[Run] = []
        try:
            if not wait_ready(url, server, overall):
                log.seek(0)
                print(f"The app did not start:\n{log.read().decode(errors='replace')[-2000:]}", file=sys.stderr)
                return 1
            print(
                f"{'Baseline app' if args.baseline else 'App'} on {url} (pid {server.pid}), "
                f"{os.cpu_count()} CPU(s), {len(SCRIPT)} questions per "
                f"session{', /ask and /chat' if args.chat else ', /ask'}, question cache "
                f"{'off' if args.no_cache else 'on'}.",
                file=sys.stderr,
            )
            # One untimed session, so that every N meets a server in the same state: warmed up
            # and, with the cache on, already holding the script's question vectors.
            session(url, Run(0), overall, False, args.timeout)
            for series, users in enumerate(args.users * max(1, args.repeat)):
                left = overall - time.monotonic()
                if left <= 5:
                    print(f"Budget spent: N = {users} not run.", file=sys.stderr)
                    break
                before, mine = cpu_seconds(server.pid), time.process_time()
                rounds = args.single_rounds if users == 1 else 1
                run = drive(url, users, time.monotonic() + left, args.chat, args.timeout, rounds)
                run.series = series // len(args.users) + 1
                run.server_cpu = cpu_seconds(server.pid) - before
                run.client_cpu = time.process_time() - mine
                runs.append(run)
                print(f"N = {users}: {len(run.latencies)} answered, {len(run.errors)} errors", file=sys.stderr)
                for why in sorted(set(run.errors))[:5]:
                    print(f"    {why}", file=sys.stderr)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()

    print(table(runs))
    print()
    for line in verdicts(runs):
        print(line)
    return 0


def verdicts(runs: list[Run]) -> list[str]:
    """The target's two checks for each series of runs, and the median ratio over the series."""
    lines, ratios = [], []
    for series in sorted({r.series for r in runs}):
        by_users = {r.users: r for r in runs if r.series == series}
        said = []
        if 50 in by_users:
            said.append(f"errors at N = 50: {len(by_users[50].errors)} (target 0)")
        if 1 in by_users and 50 in by_users and by_users[1].latencies:
            base = percentile(by_users[1].latencies, 0.95)
            ratio = percentile(by_users[50].latencies, 0.95) / base if base else float("inf")
            ratios.append(ratio)
            said.append(
                f"p95 N=50 / p95 N=1 = {ratio:.1f} (target ≤ {TARGET_RATIO:.0f}); mean latency of one user "
                f"alone {statistics.fmean(by_users[1].latencies):.3f} s"
            )
        if said:
            lines.append(f"Series {series}: " + "; ".join(said) + ".")
    if len(ratios) > 1:
        met = sum(r <= TARGET_RATIO for r in ratios)
        lines.append(
            f"Ratio over {len(ratios)} series: median {statistics.median(ratios):.1f}, "
            f"range {min(ratios):.1f}–{max(ratios):.1f}; target met in {met} of {len(ratios)}."
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
