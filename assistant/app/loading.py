"""Loading the assistant for the CLI and the chat: building the index first when there is none."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import IndexFormatMismatchError, IndexMissingError, IndexModelMismatchError


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
    from assistant.models.embeddings import load_embeddings

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


def load_or_build_assistant(settings: Settings) -> Assistant:
    """The assistant over the live index, building the index first (with a progress bar) if absent,
    or again if another model embedded it or another version cut its passages into sentences."""
    try:
        return Assistant.from_settings(settings)
    except IndexMissingError:
        print("Aucun index : construction à partir du corpus…", file=sys.stderr)
    except IndexFormatMismatchError:
        print("L'index a été découpé en phrases par une autre version : mise à jour…", file=sys.stderr)
    except IndexModelMismatchError:
        print("L'index a été construit avec un autre modèle : reconstruction…", file=sys.stderr)
    run_ingest(settings, rebuild=False, as_json=False, out=sys.stderr)
    return Assistant.from_settings(settings)
