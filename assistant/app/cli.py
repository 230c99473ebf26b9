"""Command line: `python -m assistant ingest|ask|bench`. Errors become one French line and exit 1."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from assistant.config import Settings
from assistant.errors import AssistantError, IndexMissingError

# Settings a flag may override: the flag is the setting's name (`--index-dir` -> index_dir).
_OVERRIDABLE = ("corpus_dir", "index_dir", "chroma_url", "embeddings", "model_dir", "retrieval_mode", "top_k")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="construit ou met à jour l'index à partir du corpus")
    ingest.add_argument("--json", action="store_true", help="résumé sur une ligne JSON")
    ingest.add_argument("--rebuild", action="store_true", help="tout réindexer (toujours de façon atomique)")

    ask = commands.add_parser("ask", help="pose une question (ou un lot avec --jsonl)")
    ask.add_argument("question", nargs="?", help="la question, entre guillemets")
    ask.add_argument("--json", action="store_true", help="réponse en JSON")
    ask.add_argument("--jsonl", action="store_true", help='lit {"question", "history"} par ligne sur stdin')

    bench = commands.add_parser("bench", help="mesure latence, débit d'indexation et mémoire")
    bench.add_argument("--repeat", type=int, default=50, help="questions posées pour la latence")

    for sub in (ingest, ask, bench):
        for name in _OVERRIDABLE:
            sub.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=argparse.SUPPRESS)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {n: getattr(args, n) for n in _OVERRIDABLE if getattr(args, n, None) is not None}
    return Settings(**overrides)


def _progress_bar(label: str) -> Any:
    from tqdm import tqdm

    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="texte", file=sys.stderr, leave=False)  # passages and sentences
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def run_ingest(settings: Settings, rebuild: bool, as_json: bool, out: TextIO) -> int:
    from assistant.ingest.indexing import ingest
    from assistant.search.embeddings import load_embeddings

    summary = ingest(settings, load_embeddings(settings), rebuild=rebuild, progress=_progress_bar("Indexation"))
    if as_json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False), file=out)
        return 0
    for skipped in summary.skipped:
        print(f"Ignoré : {skipped.file} — {skipped.reason}", file=out)
    if summary.added == 0 and summary.removed == 0:
        print(f"Index à jour : rien à indexer ({summary.chunks} passages, {summary.files} fichier(s)).", file=out)
    else:
        print(
            f"Index prêt : {summary.chunks} passages ({summary.units} phrases) de {summary.files} fichier(s) — "
            f"{summary.added} ajoutés, {summary.unchanged} inchangés, {summary.removed} retirés.",
            file=out,
        )
    return 0


def load_or_build_assistant(settings: Settings) -> Any:
    """The assistant over the live index, building the index first (with a progress bar) if absent."""
    from assistant.core import Assistant

    try:
        return Assistant.from_settings(settings)
    except IndexMissingError:
        print("Aucun index : construction à partir du corpus…", file=sys.stderr)
        run_ingest(settings, rebuild=False, as_json=False, out=sys.stderr)
        return Assistant.from_settings(settings)


def run_ask(settings: Settings, args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    from assistant.core import safe_error

    if not args.jsonl and args.question is None:
        print(
            "Donnez une question entre guillemets, ou --jsonl pour lire un lot sur l'entrée standard.", file=sys.stderr
        )
        return 2
    assistant = load_or_build_assistant(settings)
    if not args.jsonl:
        answer = None
        drafting = False
        for item in assistant.stream(args.question):
            if isinstance(item, str):  # llm mode: the model's draft on stderr, the checked answer below
                if not drafting and not args.json:
                    print("Brouillon du modèle, en cours de vérification :", file=sys.stderr)
                drafting = True
                if not args.json:
                    print(item, end="", file=sys.stderr, flush=True)
            else:
                answer = item
        assert answer is not None
        if drafting and not args.json:
            print("\n", file=sys.stderr)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), file=out)
        else:
            print(answer.text, file=out)
            for citation in answer.citations:
                page = f", p. {citation.page}" if citation.page else ""
                print(f"\n[{citation.n}] {citation.source}{page} — {citation.section}", file=out)
                print("    " + citation.text.replace("\n", "\n    "), file=out)
        return 0
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            reply: dict[str, Any] = {"error": 'Ligne illisible : un objet JSON {"question": …} est attendu.'}
        else:
            try:
                reply = assistant.ask(request.get("question", ""), request.get("history") or []).to_dict()
            except Exception as err:  # one bad question must not stop the batch
                reply = {"error": safe_error(err)}
        print(json.dumps(reply, ensure_ascii=False), file=out, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "ingest":
            return run_ingest(settings, args.rebuild, args.json, sys.stdout)
        if args.command == "ask":
            return run_ask(settings, args, sys.stdin, sys.stdout)
        from assistant.app.bench import run_bench

        return run_bench(settings, args.repeat, sys.stdout)
    except AssistantError as err:
        print(f"Erreur : {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrompu : l'index en service n'a pas changé.", file=sys.stderr)
        return 130
