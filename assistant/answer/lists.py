"""Lists a passage leaves unfinished, and what finishes them.

French administrative texts end every item of a list but the last with « ; ». A list cut by a
remark between its items (« À compter du…, la prise en charge… est plafonnée… ») or by the end of
its passage (passages hold at most `chunk_max_chars` characters) goes on after the cut: quoting only
the part the reader found would answer « quelles formations sont éligibles ? » with two of six.
What finishes a list is read from the documents' structure once per loaded index, never from
their words: the sentences and items that follow its last item, in the same document and
section, up to an item that does not end with « ; ».
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.reading.units import Unit
from assistant.search.store import StoredChunk

# At most this many sentences between two parts of one list (a remark, a cap); more, and what
# follows is another list.
MAX_BETWEEN = 2
MAX_ITEMS = 16  # items added to finish one list

Continuations = Mapping[str, list[tuple[StoredChunk, Unit]]]


def _unfinished(unit: Unit) -> bool:
    return unit.block >= 0 and unit.text.rstrip().endswith(";")


def continued_lists(
    chunks: list[StoredChunk], units: Mapping[str, list[Unit]]
) -> dict[str, list[tuple[StoredChunk, Unit]]]:
    """For the last item of each list part that ends with « ; », by unit id: the sentences and
    items that finish its list, in order (the remarks between its parts included: they qualify
    the items around them). A list goes on over at most `MAX_BETWEEN` sentences, not over one
    that announces another list (« … aux publics suivants : »), nor past its section.

    Args:
        chunks: the passages of the index, in any order (their `start` orders them).
        units: each passage's units, by chunk id.
    """
    documents: dict[str, list[StoredChunk]] = {}
    for chunk in chunks:
        if str(chunk.metadata.get("kind", "passage")) == "passage":  # an outline repeats headings
            documents.setdefault(str(chunk.metadata.get("source", "")), []).append(chunk)
    found: dict[str, list[tuple[StoredChunk, Unit]]] = {}
    for passages in documents.values():
        passages.sort(key=lambda c: int(c.metadata.get("start", 0)))
        # Runs of consecutive passages under one heading: a list never goes on past its section,
        # nor into a later section that bears the same heading.
        runs: list[list[StoredChunk]] = []
        for chunk in passages:
            if runs and runs[-1][-1].metadata.get("section") == chunk.metadata.get("section"):
                runs[-1].append(chunk)
            else:
                runs.append([chunk])
        for run in runs:
            _finish_run(run, units, found)
    return found


def _finish_run(
    run: list[StoredChunk], units: Mapping[str, list[Unit]], found: dict[str, list[tuple[StoredChunk, Unit]]]
) -> None:
    """Records what finishes each unfinished list part of a run of passages (`continued_lists`)."""
    sequence = [(c, u) for c in run for u in units.get(c.id, [])]
    for i, (_, unit) in enumerate(sequence):
        following = sequence[i + 1][1] if i + 1 < len(sequence) else None
        same_part = following is not None and (following.parent, following.block) == (unit.parent, unit.block)
        if not _unfinished(unit) or same_part:
            continue  # not the last item of a list part
        rest = _rest(sequence[i + 1 :])
        if rest:
            found[unit.id] = rest


def _rest(sequence: list[tuple[StoredChunk, Unit]]) -> list[tuple[StoredChunk, Unit]]:
    """What finishes a list, from what follows its unfinished part."""
    rest: list[tuple[StoredChunk, Unit]] = []
    between: list[tuple[StoredChunk, Unit]] = []
    items = 0
    for pair in sequence:
        unit = pair[1]
        if unit.block < 0:
            between.append(pair)
            if len(between) > MAX_BETWEEN or unit.text.rstrip().endswith(":"):
                break  # another list follows, or none
            continue
        rest += between + [pair]
        between = []
        items += 1
        if not _unfinished(unit) or items >= MAX_ITEMS:
            break
    return rest
