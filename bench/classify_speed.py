"""Classification speed: the default path (encoder + heads) against the TF-IDF heads alone.

    python bench/classify_speed.py                  # first 200 VNTC texts, 128 and 256 tokens
    python bench/classify_speed.py --n 500 --threads 2

Real news text from ``shared/data/corpus/vntc_sample.jsonl`` (next to the repository), in two
forms: ``lead`` (the first two sentences: VNTC runs the title into the first sentence, so this is
about what the pipeline reads, title + lead) and ``full`` (the whole article; the encoder
truncates it at ``max_length``). Each configuration runs in a fresh process so that its peak
memory (max RSS) is its own; model loading is timed apart from the throughput. Prints a table;
not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "data" / "corpus" / "vntc_sample.jsonl"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _texts(n: int, form: str) -> list[str]:
    from classify.text import sentences

    out = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            if len(out) >= n:
                break
            text = json.loads(line)["text"].strip()
            if form == "lead":
                out.append(" ".join(sentences(text)[:2]))
            else:
                out.append(text)
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child(cfg: dict) -> dict:
    """One configuration, in this process: load, warm up, time, report."""
    from classify.heads import Heads

    texts = _texts(cfg["n"], cfg["form"])
    t0 = time.perf_counter()
    heads = Heads.load(cfg["heads"])
    res: dict = {**cfg, "chars": round(sum(map(len, texts)) / len(texts))}
    if cfg["path"] == "tfidf":
        res["load_s"] = round(time.perf_counter() - t0, 2)
        heads.predict(texts[:8])
        dt = float("inf")
        for _ in range(cfg["repeat"]):
            t = time.perf_counter()
            heads.predict(texts)
            dt = min(dt, time.perf_counter() - t)
    else:
        from classify.encoder import Encoder

        enc = Encoder(cache_dir=Path(cfg["cache_dir"]), threads=cfg["threads"], max_length=cfg["L"])
        enc.embed(texts[:8])
        res["load_s"] = round(time.perf_counter() - t0, 2)
        lengths = [len(ids) for ids in enc.tokenize(texts)]
        res["tokens"] = round(sum(lengths) / len(lengths), 1)
        dt = float("inf")
        for _ in range(cfg["repeat"]):
            t = time.perf_counter()
            vecs = enc.embed(texts)
            heads.predict(texts, vecs)
            dt = min(dt, time.perf_counter() - t)
        import torch

        res["threads"] = torch.get_num_threads()
    res["seconds"] = round(dt, 2)
    res["items_per_s"] = round(len(texts) / dt, 1)
    res["peak_mb"] = round(_peak_mb())
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="texts (first N of the VNTC sample)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs; the fastest counts")
    ap.add_argument("--lengths", default="128,256", help="encoder max_length values")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "var" / "cache")
    ap.add_argument("--heads", type=Path, default=REPO / "classify" / "models" / "default")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if not CORPUS.is_file():
        print(
            f"{CORPUS} is missing: this bench needs ../shared next to the repository",
            file=sys.stderr,
        )
        return 2
    if not (args.heads / "meta.json").is_file():
        print(
            f"no heads in {args.heads}: train them first (python -m classify.train)",
            file=sys.stderr,
        )
        return 2
    base = {"n": args.n, "heads": str(args.heads), "cache_dir": str(args.cache_dir)}
    base["threads"] = args.threads
    base["repeat"] = max(1, args.repeat)
    results = []
    for form in ("lead", "full"):
        configs = [{**base, "form": form, "path": "tfidf", "L": None}]
        configs += [
            {**base, "form": form, "path": "encoder+heads", "L": int(L)}
            for L in args.lengths.split(",")
        ]
        for cfg in configs:
            out = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(cfg)],
                capture_output=True,
                text=True,
                check=False,
                cwd=REPO,
                env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
            )
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return 1
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(
                f"  {form:4s} {r['path']:13s} L={r['L']}: {r['items_per_s']} items/s",
                file=sys.stderr,
            )

    print(
        f"\nclassify speed: {args.n} VNTC texts, {os.cpu_count()} CPUs, heads {args.heads.name}\n"
    )
    print(
        "| text | path | max_length | chars | tokens | load s | items/s | peak MB "
        "| TF-IDF ×faster |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        tf = next(x for x in results if x["form"] == r["form"] and x["path"] == "tfidf")
        ratio = tf["items_per_s"] / r["items_per_s"]
        print(
            f"| {r['form']} | {r['path']} | {r['L'] or '—'} | {r['chars']} | "
            f"{r.get('tokens', '—')} | "
            f"{r['load_s']} | {r['items_per_s']} | {r['peak_mb']} | "
            f"{'—' if r['path'] == 'tfidf' else f'{ratio:.0f}'} |"
        )
    thr = next((r.get("threads") for r in results if r.get("threads")), None)
    print(
        f"\ntorch threads: {thr}; fastest of {base['repeat']} timed runs after a warm-up; "
        "peak MB = max RSS of the process (models + data + work)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
