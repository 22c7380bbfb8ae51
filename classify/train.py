"""Training the classification heads (:mod:`classify.heads`) on the labelled seed set.

    python -m classify.train                      # seed → classify/models/default + REPORT.md
    python -m classify.train --extra reviews.jsonl --out var/models/mine
    python -m classify.train --no-encoder         # TF-IDF heads only (no torch needed)

:func:`train` fits the heads on the training rows (plus ``extra_rows``: officers' decisions, which
weigh more) with the frozen encoder's embeddings, chooses the averaging weights and the topic
thresholds on dev, and saves them. Embeddings of training texts are cached by text hash in the
encoder's cache dir (``embeddings/<model version>-L<max length>.npz``), so retraining only embeds
new texts. ``fine_tune=True`` fine-tunes the encoder first (a short multi-task loop; needs CUDA).

:func:`load_rows` reads one JSONL file of the seed schema and names the file and line of any bad
row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classify.heads import (
    DEFAULT_DIR,
    DEFAULT_PARAMS,
    LABELS,
    TASKS,
    Heads,
    data_hash,
    fit_heads,
    row_text,
)
from store.taxonomy import KINDS, MISLEADING, SENSITIVITY, TONES, TOPICS

__all__ = [
    "OFFICER_WEIGHT",
    "RowError",
    "TrainResult",
    "embed_cached",
    "group_of",
    "load_rows",
    "train",
    "validate_row",
]

SEED_DIR = Path(__file__).resolve().parent / "seed"
OFFICER_WEIGHT = 3.0  # default weight of an extra row (an officer's decision) without "weight"


class RowError(ValueError):
    """A labelled row that does not fit the schema; the message names the file and line."""


# ─────────────────────────────── rows ───────────────────────────────


def validate_row(row: Any, *, partial: bool = False) -> list[str]:
    """Problems with one row of the seed schema (empty when it is fine).

    ``partial``: labels may be missing or ``None`` (officers' decisions that set only some).
    """
    if not isinstance(row, dict):
        return [f"a row must be a JSON object, not {type(row).__name__}"]
    problems: list[str] = []
    rid = row.get("id")
    if not isinstance(rid, str | int) or isinstance(rid, bool) or str(rid).strip() == "":
        problems.append("'id' must be a non-empty string")
    if not isinstance(row.get("title"), str) or not row["title"].strip():
        problems.append("'title' must be a non-empty string")
    if row.get("lead") is not None and not isinstance(row.get("lead"), str):
        problems.append("'lead' must be a string")
    if row.get("kind") is not None and row["kind"] not in KINDS:
        problems.append(f"'kind' is {row['kind']!r}, not one of {', '.join(KINDS)}")

    def check(name: str, ok: bool, want: str) -> None:
        if name not in row or row[name] is None:
            if not partial:
                problems.append(f"'{name}' is missing")
        elif not ok:
            problems.append(f"'{name}' is {row[name]!r}; want {want}")

    topics = row.get("topics")
    check(
        "topics",
        isinstance(topics, list) and all(isinstance(t, str) and t in TOPICS for t in topics),
        "a list of topic codes (" + ", ".join(TOPICS) + ")",
    )
    check("tone", row.get("tone") in TONES, " | ".join(TONES))
    check("sensitivity", row.get("sensitivity") in SENSITIVITY, " | ".join(SENSITIVITY))
    check("misleading", row.get("misleading") in MISLEADING, " | ".join(MISLEADING))
    check("relevant", isinstance(row.get("relevant"), bool), "true | false")
    if "weight" in row and row["weight"] is not None:
        w = row["weight"]
        if isinstance(w, bool) or not isinstance(w, int | float) or not (w > 0 and w < 1e6):
            problems.append(f"'weight' is {w!r}; want a positive number")
    return problems


def load_rows(path: str | os.PathLike[str], *, partial: bool = False) -> list[dict]:
    """Rows of a JSONL file of the seed schema, validated.

    Raises :class:`RowError` naming the file and the (1-based) line of the first bad row, and
    :class:`FileNotFoundError` for a missing file. Blank lines are skipped; ids must be unique.
    """
    p = Path(path)
    rows: list[dict] = []
    seen: dict[str, int] = {}
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RowError(f"{p}:{lineno}: not valid JSON ({exc.msg})") from None
            problems = validate_row(row, partial=partial)
            if problems:
                raise RowError(f"{p}:{lineno}: " + "; ".join(problems))
            rid = str(row["id"])
            if rid in seen:
                raise RowError(f"{p}:{lineno}: id {rid!r} already on line {seen[rid]}")
            seen[rid] = lineno
            rows.append(row)
    return rows


def group_of(row: Mapping[str, Any]) -> str:
    """The base item a row was made from (``bien_gioi_03-07`` → ``bien_gioi_03``), so that the
    variants of one base stay in one calibration fold; ``group`` or ``base`` in the row win."""
    for key in ("group", "base"):
        if row.get(key):
            return str(row[key])
    rid = str(row.get("id", ""))
    m = re.fullmatch(r"(.+)-\d+", rid)
    return m.group(1) if m else rid


# ─────────────────────────────── embeddings ───────────────────────────────


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)[:100]


def embed_cached(
    encoder: Any, texts: Sequence[str], *, batch_size: int = 32, cache: bool = True
) -> np.ndarray:
    """``encoder.embed(texts)``, with vectors kept by text hash under ``encoder.cache_dir``.

    The cache file is per model version and max length; only texts not in it are embedded (in
    the given order). Without a ``cache_dir`` on the encoder, or with ``cache=False``, this is
    plain ``encoder.embed``.
    """
    texts = list(texts)
    cache_dir = getattr(encoder, "cache_dir", None)
    if not cache or cache_dir is None:
        return np.asarray(encoder.embed(texts, kind="passage", batch_size=batch_size), np.float32)
    folder = Path(cache_dir) / "embeddings"
    name = f"{_slug(str(encoder.model_version))}-L{getattr(encoder, 'max_length', 0)}.npz"
    file = folder / name
    keys = [hashlib.sha256(("passage\0" + t).encode("utf-8")).hexdigest()[:32] for t in texts]
    known: dict[str, np.ndarray] = {}
    old_keys = np.zeros(0, dtype="U32")
    old_vecs: np.ndarray | None = None
    if file.is_file():
        try:
            with np.load(file) as z:
                old_keys, old_vecs = z["keys"], z["vecs"]
            known = {str(k): old_vecs[i] for i, k in enumerate(old_keys)}
        except (OSError, ValueError, KeyError):
            known, old_keys, old_vecs = {}, np.zeros(0, dtype="U32"), None
    missing: dict[str, str] = {}
    for k, t in zip(keys, texts, strict=True):
        if k not in known and k not in missing:
            missing[k] = t
    if missing:
        new = np.asarray(
            encoder.embed(list(missing.values()), kind="passage", batch_size=batch_size),
            dtype=np.float32,
        )
        for k, v in zip(missing, new, strict=True):
            known[k] = v
        all_keys = np.concatenate([old_keys.astype("U32"), np.array(list(missing), dtype="U32")])
        all_vecs = new if old_vecs is None else np.concatenate([old_vecs, new])
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.tmp.npz"
        np.savez(tmp, keys=all_keys, vecs=all_vecs.astype(np.float32))
        os.replace(tmp, file)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)


# ─────────────────────────────── fine-tuning (GPU) ───────────────────────────────


def fine_tune_encoder(
    encoder: Any,
    texts: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    weights: np.ndarray,
    out_dir: Path,
    *,
    epochs: int = 3,
    lr: float = 3e-5,
    batch_size: int = 32,
    seed: int = 0,
    device: str = "cuda",
) -> Any:
    """Fine-tune the encoder on all tasks at once (mean-pooled embedding → one linear layer per
    task; BCE for topics and relevant, cross-entropy for the others), save it under
    ``out_dir/encoder`` and return an :class:`~classify.encoder.Encoder` on it."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from classify.encoder import Encoder
    from classify.heads import encode_labels

    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("fine_tune=True needs a CUDA GPU (torch.cuda.is_available() is False)")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(encoder.path, local_files_only=True)
    model = AutoModel.from_pretrained(encoder.path, local_files_only=True).to(device)
    hidden = int(model.config.hidden_size)
    sizes = {t: len(LABELS[t]) if t != "relevant" else 1 for t in TASKS}
    heads = torch.nn.ModuleDict({t: torch.nn.Linear(hidden, k) for t, k in sizes.items()})
    heads.to(device)
    labels = encode_labels(rows)
    prefix = getattr(encoder, "prefixes", {}).get("passage", "passage: ")
    prepared = [prefix + t for t in texts]
    opt = torch.optim.AdamW([*model.parameters(), *heads.parameters()], lr=lr, weight_decay=0.01)
    n = len(prepared)
    rng = np.random.default_rng(seed)
    w_all = torch.tensor(weights, dtype=torch.float32)
    model.train()
    for _epoch in range(epochs):
        order = rng.permutation(n)  # one shuffle per epoch
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            enc = tok(
                [prepared[i] for i in idx],
                truncation=True,
                max_length=encoder.max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            out = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
            pooled = (out * m).sum(1) / m.sum(1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=1)
            w = w_all[idx].to(device)
            loss = torch.zeros((), device=device)
            for task, layer in heads.items():
                mask = torch.tensor(labels.mask[task][idx], device=device)
                if not bool(mask.any()):
                    continue
                logits = layer(pooled * 20.0)[mask]
                y = torch.tensor(labels.y[task][idx], device=device)[mask]
                if task in ("topics", "relevant"):
                    per = torch.nn.functional.binary_cross_entropy_with_logits(
                        logits, y.float(), reduction="none"
                    ).mean(1)
                else:
                    per = torch.nn.functional.cross_entropy(logits, y, reduction="none")
                loss = loss + (per * w[mask]).sum() / w[mask].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    folder = Path(out_dir) / "encoder"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return Encoder(
        folder,
        cache_dir=encoder.cache_dir,
        max_length=encoder.max_length,
        device=device,
        prefixes=getattr(encoder, "prefixes", None),
    )


# ─────────────────────────────── training ───────────────────────────────


@dataclass
class TrainResult:
    heads: Heads
    version: str
    out_dir: Path | None
    sizes: dict[str, int]
    seconds: float
    dev_report: dict[str, Any] = field(default_factory=dict)
    encoder: Any = None  # the encoder the heads were trained on (fine-tuned when asked)


def _row_fingerprint(row: Mapping[str, Any], weight: float) -> list[Any]:
    return [
        str(row.get("id")),
        row_text(row),
        sorted(row.get("topics") or []) if row.get("topics") is not None else None,
        row.get("tone"),
        row.get("sensitivity"),
        row.get("misleading"),
        row.get("relevant"),
        float(weight),
    ]


def train(
    train_rows: Sequence[Mapping[str, Any]],
    dev_rows: Sequence[Mapping[str, Any]],
    encoder: Any | None,
    *,
    out_dir: str | os.PathLike[str] | None,
    extra_rows: Iterable[Mapping[str, Any]] = (),
    fine_tune: bool = False,
    params: Mapping[str, Any] | None = None,
    today: dt.date | None = None,
    log: Any = None,
) -> TrainResult:
    """Fit the heads; save them into ``out_dir`` (unless ``None``) and return them.

    ``encoder``: an :class:`~classify.encoder.Encoder` (or anything with ``embed`` and
    ``model_version``), or ``None`` for TF-IDF-only heads. ``extra_rows``: more training rows of
    the seed schema, labels optional, ``weight`` defaulting to ``params["officer_weight"]`` (3):
    officers' decisions. Seed rows weigh ``row.get("weight", 1.0)``.
    """
    t0 = time.perf_counter()
    prm = dict(DEFAULT_PARAMS)
    prm.update(params or {})
    say = log or (lambda msg: None)
    extra = list(extra_rows)
    for name, rows, partial in (("train", train_rows, False), ("dev", dev_rows, False)):
        for i, row in enumerate(rows):
            problems = validate_row(row, partial=partial)
            if problems:
                raise RowError(f"{name} row {i} ({row.get('id')!r}): " + "; ".join(problems))
    for i, row in enumerate(extra):
        problems = validate_row(row, partial=True)
        if problems:
            raise RowError(f"extra row {i} ({row.get('id')!r}): " + "; ".join(problems))
    if not train_rows:
        raise ValueError("no training rows")
    if fine_tune:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError(
                "fine_tune=True needs a CUDA GPU (torch.cuda.is_available() is False); "
                "train the heads on the frozen encoder instead (fine_tune=False)"
            )
        if encoder is None:
            raise ValueError("fine_tune=True needs an encoder")

    rows = [*train_rows, *extra]
    weights = np.array(
        [float(r.get("weight") or 1.0) for r in train_rows]
        + [float(r.get("weight") or prm["officer_weight"]) for r in extra]
    )
    texts = [row_text(r) for r in rows]
    dev_texts = [row_text(r) for r in dev_rows]
    groups = [group_of(r) for r in train_rows] + [f"extra:{group_of(r)}" for r in extra]

    if fine_tune:
        if out_dir is None:
            raise ValueError("fine_tune=True needs an out_dir to keep the fine-tuned encoder")
        say(f"fine-tuning the encoder on {len(rows)} rows")
        encoder = fine_tune_encoder(encoder, texts, rows, weights, Path(out_dir))

    vectors = dev_vectors = None
    enc_version = None
    if encoder is not None:
        enc_version = str(encoder.model_version)
        say(f"embedding {len(texts)} + {len(dev_texts)} texts ({enc_version})")
        vectors = embed_cached(encoder, texts)
        dev_vectors = embed_cached(encoder, dev_texts) if dev_texts else np.zeros((0, 1))
        if dev_vectors.shape[0] == 0:
            dev_vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)

    fingerprint = data_hash(
        [
            prm,
            enc_version,
            [_row_fingerprint(r, w) for r, w in zip(rows, weights, strict=True)],
            [_row_fingerprint(r, 1.0) for r in dev_rows],
        ]
    )
    day = today or dt.datetime.now(dt.UTC).date()
    version = f"heads-{day:%Y%m%d}-{fingerprint}"
    sizes = {"train": len(train_rows), "extra": len(extra), "dev": len(dev_rows)}
    meta = {
        "version": version,
        "created": day.isoformat(),
        "encoder_version": enc_version,
        "encoder_max_length": getattr(encoder, "max_length", None) if encoder else None,
        "fine_tuned": bool(fine_tune),
        "encoder_dir": "encoder" if fine_tune else None,  # the fine-tuned encoder, in out_dir
        "sizes": sizes,
        "params": prm,
        "text": 'NFC(title + "\\n" + lead)',
    }
    say(f"fitting heads {version}")
    heads = fit_heads(
        texts,
        rows,
        dev_texts,
        dev_rows,
        train_vectors=vectors,
        dev_vectors=dev_vectors,
        sample_weight=weights,
        groups=groups,
        params=prm,
        meta=meta,
    )
    dev_report: dict[str, Any] = {}
    if dev_rows:
        from classify.evaluate import evaluate

        dev_report = evaluate(heads, dev_rows, None, vectors=dev_vectors)
    out = None
    if out_dir is not None:
        out = heads.save(out_dir)
        say(f"saved {out}")
    return TrainResult(
        heads=heads,
        version=version,
        out_dir=out,
        sizes=sizes,
        seconds=round(time.perf_counter() - t0, 2),
        dev_report=dev_report,
        encoder=encoder,
    )


# ─────────────────────────────── command line ───────────────────────────────


def _dir_size(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    from classify.evaluate import evaluate, format_report

    ap = argparse.ArgumentParser(
        prog="python -m classify.train", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--seed-dir", type=Path, default=SEED_DIR, help="train/dev/test.jsonl here")
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR, help="where the heads go")
    ap.add_argument("--cache-dir", type=Path, default=Path("var/cache"), help="encoder cache")
    ap.add_argument("--extra", type=Path, action="append", default=[], help="more rows (JSONL)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--no-encoder", action="store_true", help="TF-IDF heads only")
    ap.add_argument("--fine-tune", action="store_true", help="fine-tune the encoder (CUDA)")
    ap.add_argument("--no-report", action="store_true", help="skip the test-split report")
    args = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    train_rows = load_rows(args.seed_dir / "train.jsonl")
    dev_rows = load_rows(args.seed_dir / "dev.jsonl")
    extra = [r for p in args.extra for r in load_rows(p, partial=True)]
    encoder = None
    if not args.no_encoder:
        from classify.encoder import Encoder

        encoder = Encoder(
            cache_dir=args.cache_dir,
            threads=args.threads,
            max_length=args.max_length,
            device="cuda" if args.fine_tune else "cpu",
        )
    res = train(
        train_rows,
        dev_rows,
        encoder,
        out_dir=args.out,
        extra_rows=extra,
        fine_tune=args.fine_tune,
        log=say,
    )
    say(f"{res.version}: {res.sizes} in {res.seconds} s; {_dir_size(args.out) / 1e6:.2f} MB")
    test_file = args.seed_dir / "test.jsonl"
    if not args.no_report and test_file.is_file():
        test_rows = load_rows(test_file)
        report = evaluate(res.heads, test_rows, res.encoder)
        report["split"] = "test"
        (args.out / "report.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )
        md = format_report(report)
        (args.out / "REPORT.md").write_text(md, encoding="utf-8")
        print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
