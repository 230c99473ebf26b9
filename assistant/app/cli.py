"""Command line: `python -m assistant serve|ingest|ask|bench`. Errors become one French line and exit 1."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from assistant.answer.types import Draft, Final
from assistant.app.loading import load_or_build_assistant, run_ingest
from assistant.config import Settings, load_settings
from assistant.errors import AssistantError

# Settings a flag may override: the flag is the setting's name (`--index-dir` -> index_dir).
_OVERRIDABLE = ("corpus_dir", "index_dir", "chroma_url", "embeddings", "model_dir", "retrieval_mode", "top_k")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="ouvre le chat (ASSISTANT_HOST, ASSISTANT_PORT) ; `python app.py`")

    ingest = commands.add_parser("ingest", help="construit ou met à jour l'index à partir du corpus")
    ingest.add_argument("--json", action="store_true", help="résumé sur une ligne JSON")
    ingest.add_argument("--rebuild", action="store_true", help="tout réindexer (toujours de façon atomique)")

    ask = commands.add_parser("ask", help="pose une question (ou un lot avec --jsonl)")
    ask.add_argument("question", nargs="?", help="la question, entre guillemets")
    ask.add_argument("--json", action="store_true", help="réponse en JSON")
    ask.add_argument("--jsonl", action="store_true", help='lit {"question", "history"} par ligne sur stdin')

    bench = commands.add_parser("bench", help="mesure latence, débit d'indexation et mémoire")
    bench.add_argument("--repeat", type=int, default=50, help="questions posées pour la latence")

    for sub in (serve, ingest, ask, bench):
        for name in _OVERRIDABLE:
            sub.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None, help=argparse.SUPPRESS)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {n: getattr(args, n) for n in _OVERRIDABLE if getattr(args, n, None) is not None}
    return load_settings(**overrides)


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
        for event in assistant.stream(args.question):
            match event:
                case Draft(text=piece):  # llm mode: the model's draft on stderr, the checked answer below
                    if not drafting and not args.json:
                        print("Brouillon du modèle, en cours de vérification :", file=sys.stderr)
                    drafting = True
                    if not args.json:
                        print(piece, end="", file=sys.stderr, flush=True)
                case Final(answer=final):
                    answer = final
        assert answer is not None
        if drafting and not args.json:
            print("\n", file=sys.stderr)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), file=out)
        else:
            print(answer.text, file=out)
            for citation in answer.citations:
                page = f", p. {citation.page}" if citation.page else ""
                print(f"\n[{citation.n}] {citation.title} ({citation.source}{page}) — {citation.section}", file=out)
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
        if args.command == "serve":
            from assistant.app.ui import serve

            serve(settings)
            return 0
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
