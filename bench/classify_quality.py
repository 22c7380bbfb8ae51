"""Is the encoder path wired well? Encoder + linear head against TF-IDF + logistic regression on
VNTC's 10 news topics.

    python bench/classify_quality.py                 # 2,000 train / 1,000 test, full text, L=256
    python bench/classify_quality.py --text lead --max-length 128

The 3,000-text VNTC sample in ``shared/data/corpus/vntc_sample.jsonl`` (next to the repository)
is split 2,000 / 1,000, stratified by topic with a fixed seed. Both models are logistic
regressions (C=10) like the heads': one on the frozen encoder's embeddings (cached by text hash
under ``--cache-dir``, so a rerun is fast), one on the heads' TF-IDF features (word n-grams of the
match key + character n-grams of the plain key). Prints accuracy and macro-F1 of each, and of
their average; not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "data" / "corpus" / "vntc_sample.jsonl"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", choices=("full", "lead"), default="full")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--C", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cache-dir", type=Path, default=REPO / "var" / "cache")
    args = ap.parse_args()
    if not CORPUS.is_file():
        print(
            f"{CORPUS} is missing: this bench needs ../shared next to the repository",
            file=sys.stderr,
        )
        return 2

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    from classify.encoder import Encoder
    from classify.heads import DEFAULT_PARAMS, TfidfFeatures
    from classify.text import sentences
    from classify.train import embed_cached

    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    texts = [r["text"].strip() for r in rows]
    if args.text == "lead":
        texts = [" ".join(sentences(t)[:2]) for t in texts]
    topics = sorted({r["topic"] for r in rows})
    y = np.array([topics.index(r["topic"]) for r in rows])
    idx = np.arange(len(rows))
    tr, te = train_test_split(
        idx, train_size=args.train, stratify=y, random_state=args.seed, shuffle=True
    )

    t0 = time.perf_counter()
    enc = Encoder(cache_dir=args.cache_dir, threads=args.threads, max_length=args.max_length)
    V = embed_cached(enc, texts)
    t_embed = time.perf_counter() - t0
    t0 = time.perf_counter()
    lr_e = LogisticRegression(C=args.C, max_iter=3000).fit(V[tr], y[tr])
    p_e = lr_e.predict_proba(V[te])
    t_fit_e = time.perf_counter() - t0

    t0 = time.perf_counter()
    feats = TfidfFeatures(DEFAULT_PARAMS)
    feats.fit([texts[i] for i in tr])
    X = feats.transform(texts)
    lr_t = LogisticRegression(C=args.C, max_iter=3000).fit(X[tr], y[tr])
    p_t = lr_t.predict_proba(X[te])
    t_tfidf = time.perf_counter() - t0

    print(
        f"\nVNTC topics: {len(topics)} classes, {len(tr)} train / {len(te)} test "
        f"(stratified, seed {args.seed}); text={args.text}, encoder {enc.model_version} "
        f"max_length={args.max_length}\n"
    )
    print("| model | accuracy | macro-F1 | fit+predict s |")
    print("|---|---:|---:|---:|")
    for name, p, secs in (
        ("encoder + logistic regression", p_e, f"{t_fit_e:.1f} (+{t_embed:.0f} embedding)"),
        ("TF-IDF + logistic regression", p_t, f"{t_tfidf:.1f}"),
        ("average of both", (p_e + p_t) / 2, "—"),
    ):
        pred = p.argmax(1)
        acc = accuracy_score(y[te], pred)
        f1 = f1_score(y[te], pred, average="macro")
        print(f"| {name} | {acc:.3f} | {f1:.3f} | {secs} |")
    print(f"\nTF-IDF features: {feats.n_features}; embedding dim: {V.shape[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
