"""Evaluating the classification heads on labelled rows (the seed schema).

:func:`evaluate` gives, for each path (``combined``: TF-IDF + encoder; ``tfidf``: TF-IDF alone)
and each task, precision / recall / F1 and support per label, micro and macro averages, accuracy
for the single-label tasks and confusion matrices (rows: true label, columns: predicted) for
tone, sensitivity, misleading and relevant. Topics are judged per label with the heads' dev-chosen
thresholds. Macro averages are over the labels present in the rows (support > 0).

Everything is deterministic: the same heads, rows and encoder give the same figures (rounded to
4 decimals), which is how ``classify/models/default/report.json`` is checked by the tests.
:func:`format_report` renders a report as Markdown with the Vietnamese labels of TAXONOMY.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from classify.heads import LABEL_VI, LABELS, TASK_VI, TASKS, TOPICS, Heads, encode_labels, row_text

__all__ = ["evaluate", "format_report"]

ND = 4  # decimals kept in a report


def _r(x: float) -> float:
    return round(float(x), ND)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"precision": _r(p), "recall": _r(r), "f1": _r(f)}


def _averages(per: Mapping[str, Mapping[str, Any]], tp: int, fp: int, fn: int) -> dict:
    present = [v for v in per.values() if v["support"] > 0]
    macro = {
        m: _r(np.mean([v[m] for v in present])) if present else 0.0
        for m in ("precision", "recall", "f1")
    }
    return {"micro": _prf(tp, fp, fn), "macro": macro}


def _multilabel(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    TP = FP = FN = 0
    for j, code in enumerate(labels):
        tp = int(np.sum((pred[:, j] == 1) & (y[:, j] == 1)))
        fp = int(np.sum((pred[:, j] == 1) & (y[:, j] == 0)))
        fn = int(np.sum((pred[:, j] == 0) & (y[:, j] == 1)))
        per[code] = {**_prf(tp, fp, fn), "support": int(y[:, j].sum())}
        TP, FP, FN = TP + tp, FP + fp, FN + fn
    exact = float(np.mean(np.all(pred == y, axis=1))) if len(y) else 0.0
    return {
        "n": len(y),
        "labels": per,
        **_averages(per, TP, FP, FN),
        "subset_accuracy": _r(exact),
    }


def _single(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    k = len(labels)
    cm = np.zeros((k, k), dtype=int)
    for t, p in zip(y, pred, strict=True):
        cm[int(t), int(p)] += 1
    per: dict[str, dict[str, Any]] = {}
    for j, code in enumerate(labels):
        tp = int(cm[j, j])
        fp = int(cm[:, j].sum() - tp)
        fn = int(cm[j, :].sum() - tp)
        per[code] = {**_prf(tp, fp, fn), "support": int(cm[j, :].sum())}
    correct = int(np.trace(cm))
    n = int(cm.sum())
    return {
        "n": n,
        "labels": per,
        **_averages(per, correct, n - correct, n - correct),
        "accuracy": _r(correct / n if n else 0.0),
        "confusion": {"labels": list(labels), "matrix": cm.tolist()},
    }


def evaluate(
    heads: Heads,
    rows: Sequence[Mapping[str, Any]],
    encoder: Any | None = None,
    *,
    vectors: np.ndarray | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Per-label and averaged figures of ``heads`` on labelled ``rows``.

    The texts are embedded with ``encoder.embed(texts, batch_size=32)`` in row order (no cache, so
    the figures depend only on the heads, the rows and the encoder); pass ``vectors`` to reuse
    embeddings, or neither for the TF-IDF path alone. The ``tfidf`` path is always evaluated;
    ``combined`` when there are vectors and the heads have encoder models.
    """
    texts = [row_text(r) for r in rows]
    if vectors is None and encoder is not None and heads.has_encoder:
        vectors = np.asarray(encoder.embed(texts, kind="passage", batch_size=batch_size))
    paths: list[tuple[str, np.ndarray | None]] = []
    if vectors is not None and heads.has_encoder:
        paths.append(("combined", vectors))
    paths.append(("tfidf", None))
    labels = encode_labels(rows)
    report: dict[str, Any] = {
        "heads_version": heads.version,
        "encoder_version": heads.encoder_version,
        "n_items": len(rows),
        "paths": {},
        "summary": {},
    }
    for name, vecs in paths:
        path, proba = heads.predict_proba(texts, vecs)
        assert path == name
        dec = heads.decide(path, proba)
        out: dict[str, Any] = {}
        for task in TASKS:
            m = labels.mask[task]
            if task == "topics":
                out[task] = _multilabel(labels.y[task][m], dec[task][m], TOPICS)
            elif task == "relevant":
                out[task] = _single(labels.y[task][m, 0], dec[task][m], LABELS[task])
            else:
                out[task] = _single(labels.y[task][m], dec[task][m], LABELS[task])
        report["paths"][name] = out
        report["summary"][name] = {task: out[task]["macro"]["f1"] for task in TASKS}
    return report


# ─────────────────────────────── Markdown ───────────────────────────────


def _f(x: float) -> str:
    return f"{x:.3f}"


def format_report(report: Mapping[str, Any]) -> str:
    """The report as Markdown: a summary, per-label tables and confusion matrices."""
    paths = [p for p in ("combined", "tfidf") if p in report["paths"]]
    paths += [p for p in report["paths"] if p not in paths]
    main = paths[0]
    split = f" (split `{report['split']}`)" if "split" in report else ""
    lines = [
        "# Classification heads — evaluation",
        "",
        f"- heads: `{report.get('heads_version')}`",
        f"- encoder: `{report.get('encoder_version')}`",
        f"- items: {report.get('n_items')}{split}",
        "- paths: " + ", ".join(f"`{p}`" for p in paths)
        + " (`combined` = TF-IDF + encoder, averaged; `tfidf` = TF-IDF alone)",
        "",
        "## Summary (macro-F1; micro-F1 for topics, accuracy for the others, in brackets)",
        "",
        "| task | " + " | ".join(paths) + " |",
        "|---|" + "---:|" * len(paths),
    ]  # fmt: skip
    for task in TASKS:
        cells = []
        for p in paths:
            t = report["paths"][p][task]
            second = t["micro"]["f1"] if task == "topics" else t["accuracy"]
            cells.append(f"{_f(t['macro']['f1'])} ({_f(second)})")
        lines.append(f"| {TASK_VI[task]} (`{task}`) | " + " | ".join(cells) + " |")
    for task in TASKS:
        t = report["paths"][main][task]
        lines += [
            "",
            f"## {TASK_VI[task]} (`{task}`), path `{main}`, {t['n']} items",
            "",
            "| code | nhãn | precision | recall | F1 | support |"
            + "".join(f" F1 `{p}` |" for p in paths[1:]),
            "|---|---|---:|---:|---:|---:|" + "---:|" * len(paths[1:]),
        ]
        for code in [c for c in LABELS[task] if c in t["labels"]]:
            v = t["labels"][code]
            others = "".join(
                f" {_f(report['paths'][p][task]['labels'][code]['f1'])} |" for p in paths[1:]
            )
            lines.append(
                f"| `{code}` | {LABEL_VI.get(code, code)} | {_f(v['precision'])} | "
                f"{_f(v['recall'])} | {_f(v['f1'])} | {v['support']} |{others}"
            )
        for avg in ("micro", "macro"):
            a = t[avg]
            others = "".join(f" {_f(report['paths'][p][task][avg]['f1'])} |" for p in paths[1:])
            lines.append(
                f"| *{avg}* | | {_f(a['precision'])} | {_f(a['recall'])} | {_f(a['f1'])} | |"
                + others
            )
        if "confusion" in t:
            labels = t["confusion"]["labels"]
            lines += [
                "",
                "Confusion (rows: true, columns: predicted):",
                "",
                "| | " + " | ".join(f"`{c}`" for c in labels) + " |",
                "|---|" + "---:|" * len(labels),
            ]
            for code, row in zip(labels, t["confusion"]["matrix"], strict=True):
                lines.append(
                    f"| `{code}` {LABEL_VI.get(code, code)} | " + " | ".join(map(str, row)) + " |"
                )
    return "\n".join(lines) + "\n"
