"""Classification heads: topics, tone, sensitivity, misleading and a relevance score.

Every task has two calibrated linear models on the same input text (``title + "\\n" + lead``,
NFC), whose probabilities are averaged with a weight chosen on the dev split:

* a TF-IDF model: logistic regression on word 1–2-grams of the match key
  (:func:`classify.text.match_key`) and character 2–5-grams of the plain key (no diacritics, so
  unaccented social posts meet accented press text);
* an embedding model: logistic regression on the frozen encoder's L2-normalised vectors
  (:class:`classify.encoder.Encoder`, multilingual-e5-small by default).

Scores are calibrated with Platt scaling fitted on out-of-fold scores of the training rows
(folds group the variants of one base item, so a text's siblings never score it), one sigmoid
per label; for the single-label tasks the calibrated probabilities are normalised to sum to 1.
Topic thresholds (one per topic and per path) maximise F1 on dev.

``Heads.predict(texts, vectors)`` with ``vectors=None`` uses the TF-IDF models alone (the
pipeline runs without the encoder, e.g. on irrelevant items); with vectors it uses both.

Saved as ``meta.json`` (version, encoder version, labels, weights, thresholds, sizes, params),
``tfidf.joblib`` (the two vectorizers) and ``heads.joblib`` (float32 weights and the Platt
parameters as plain numpy arrays: no scikit-learn estimator is pickled but the vectorizers).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classify.text import PLAIN_TABLE, match_key, nfc
from store.taxonomy import (
    LEVEL_VI,
    MISLEADING,
    MISLEADING_VI,
    SENSITIVITY,
    TONE_VI,
    TONES,
    TOPIC_VI,
    TOPICS,
)

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_PARAMS",
    "LABELS",
    "LABEL_VI",
    "MISLEADING",
    "SENSITIVITY",
    "TASKS",
    "TONES",
    "TOPICS",
    "Heads",
    "Prediction",
    "encode_labels",
    "fit_heads",
    "item_text",
    "row_text",
]

DEFAULT_DIR = Path(__file__).resolve().parent / "models" / "default"

RELEVANT: tuple[str, ...] = ("false", "true")

TASKS: tuple[str, ...] = ("topics", "tone", "sensitivity", "misleading", "relevant")
LABELS: dict[str, tuple[str, ...]] = {
    "topics": TOPICS,
    "tone": TONES,
    "sensitivity": SENSITIVITY,
    "misleading": MISLEADING,
    "relevant": RELEVANT,
}
# ovr: independent sigmoids (multi-label topics; relevant = one sigmoid for "true");
# multiclass: one calibrated sigmoid per label, normalised.
TASK_KIND: dict[str, str] = {
    "topics": "ovr",
    "tone": "multiclass",
    "sensitivity": "multiclass",
    "misleading": "multiclass",
    "relevant": "ovr",
}

# Vietnamese labels (docs/TAXONOMY.md): what a person reads next to the codes.
LABEL_VI: dict[str, str] = {
    **TOPIC_VI,
    **TONE_VI,
    **LEVEL_VI,
    **MISLEADING_VI,
    "true": "Liên quan",
    "false": "Không liên quan",
}
TASK_VI: dict[str, str] = {
    "topics": "Chủ đề",
    "tone": "Sắc thái",
    "sensitivity": "Mức độ nhạy cảm",
    "misleading": "Thông tin sai lệch",
    "relevant": "Liên quan đến tỉnh",
}

# Everything that shapes the heads; part of the version hash.
DEFAULT_PARAMS: dict[str, Any] = {
    "word_ngram": [1, 2],
    "word_max_features": 20000,
    "char_ngram": [2, 5],
    "char_max_features": 40000,
    "min_df": 2,
    "tfidf_C": 10.0,
    "emb_C": 10.0,
    "class_weight": "balanced",
    "folds": 5,
    "weight_grid": 11,
    "threshold_grid": [0.1, 0.9, 0.025],  # bounded: a small dev set overfits extremes
    "officer_weight": 3.0,
}

FORMAT_VERSION = 1
_CONST_SCORE = -8.0  # decision score of a label the training rows never show


# ─────────────────────────────── text and labels ───────────────────────────────


def item_text(title: str | None, lead: str | None) -> str:
    """The text every head reads: ``title + "\\n" + lead``, NFC, stripped."""
    return nfc(f"{(title or '').strip()}\n{(lead or '').strip()}".strip())


def row_text(row: Mapping[str, Any]) -> str:
    return item_text(row.get("title"), row.get("lead"))


def _code(task: str, value: Any) -> str:
    if task == "relevant":
        return "true" if value else "false"
    return str(value)


@dataclass
class LabelSet:
    """Labels of a list of rows as arrays; ``mask[task]`` says which rows carry that label."""

    y: dict[str, np.ndarray]
    mask: dict[str, np.ndarray]


def encode_labels(rows: Sequence[Mapping[str, Any]]) -> LabelSet:
    """Topics → (n, 16) 0/1; tone, sensitivity, misleading → label index; relevant → 0/1.

    A label that is absent (``None`` or missing key: e.g. an officer's decision that only set the
    tone) is masked out of that task's training.
    """
    n = len(rows)
    y: dict[str, np.ndarray] = {
        "topics": np.zeros((n, len(TOPICS)), dtype=np.int8),
        "relevant": np.zeros((n, 1), dtype=np.int8),
    }
    mask = {t: np.zeros(n, dtype=bool) for t in TASKS}
    for task in ("tone", "sensitivity", "misleading"):
        y[task] = np.full(n, -1, dtype=np.int64)
    tindex = {c: i for i, c in enumerate(TOPICS)}
    for i, row in enumerate(rows):
        topics = row.get("topics")
        if topics is not None:
            mask["topics"][i] = True
            for code in topics:
                y["topics"][i, tindex[code]] = 1
        for task in ("tone", "sensitivity", "misleading"):
            value = row.get(task)
            if value is not None:
                mask[task][i] = True
                y[task][i] = LABELS[task].index(value)
        rel = row.get("relevant")
        if rel is not None:
            mask["relevant"][i] = True
            y["relevant"][i, 0] = 1 if rel else 0
    return LabelSet(y=y, mask=mask)


# ─────────────────────────────── TF-IDF features ───────────────────────────────


class TfidfFeatures:
    """Word n-grams of the match key + character n-grams of the plain key, hstacked."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.word = TfidfVectorizer(
            analyzer="word",
            lowercase=False,
            token_pattern=r"(?u)\b\w+\b",
            ngram_range=tuple(params["word_ngram"]),
            min_df=params["min_df"],
            max_features=params["word_max_features"],
            sublinear_tf=True,
            dtype=np.float32,
        )
        self.char = TfidfVectorizer(
            analyzer="char_wb",
            lowercase=False,
            ngram_range=tuple(params["char_ngram"]),
            min_df=params["min_df"],
            max_features=params["char_max_features"],
            sublinear_tf=True,
            dtype=np.float32,
        )

    @staticmethod
    def _keys(texts: Sequence[str]) -> tuple[list[str], list[str]]:
        keys = [match_key(t) for t in texts]
        return keys, [k.translate(PLAIN_TABLE) for k in keys]

    def fit(self, texts: Sequence[str]) -> TfidfFeatures:
        keys, plains = self._keys(texts)
        try:
            self.word.fit(keys)
        except ValueError:  # tiny corpora: min_df prunes everything
            self.word.set_params(min_df=1).fit(keys)
        try:
            self.char.fit(plains)
        except ValueError:
            self.char.set_params(min_df=1).fit(plains)
        for vec in (self.word, self.char):  # the pruned terms: large and never needed
            if hasattr(vec, "stop_words_"):
                vec.stop_words_ = None
        return self

    def transform(self, texts: Sequence[str]):
        import scipy.sparse as sp

        keys, plains = self._keys(texts)
        return sp.hstack(
            [self.word.transform(keys), self.char.transform(plains)], format="csr", dtype=np.float32
        )

    @property
    def n_features(self) -> int:
        return len(self.word.vocabulary_) + len(self.char.vocabulary_)


# ─────────────────────────────── calibrated linear models ───────────────────────────────


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _platt(scores: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Platt scaling ``p = sigmoid(a·s + b)`` with Platt's smoothed targets, sample-weighted."""
    from scipy.optimize import minimize

    scores = scores.astype(np.float64)
    y = y.astype(np.float64)
    w = w.astype(np.float64)
    n_pos = float(w[y == 1].sum())
    n_neg = float(w[y == 0].sum())
    prior = math.log((n_pos + 1.0) / (n_neg + 1.0))
    if n_pos == 0 or n_neg == 0 or np.ptp(scores) == 0:
        return 0.0, prior
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        z = p[0] * scores + p[1]
        val = float(np.sum(w * (np.logaddexp(0.0, z) - t * z)))
        g = w * (_sigmoid(z) - t)
        return val, np.array([float(np.sum(g * scores)), float(np.sum(g))])

    res = minimize(loss, np.array([1.0, prior]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


@dataclass
class CalibratedLinear:
    """``scores = X @ coef.T + intercept``; probabilities ``sigmoid(a·scores + b)`` per label,
    normalised when ``kind == "multiclass"``."""

    kind: str
    coef: np.ndarray  # (k, d) float32
    intercept: np.ndarray  # (k,) float32
    a: np.ndarray  # (k,) float64
    b: np.ndarray  # (k,) float64

    def scores(self, X) -> np.ndarray:
        s = X @ self.coef.T
        s = np.asarray(s, dtype=np.float64) + self.intercept.astype(np.float64)
        return s

    def proba(self, X) -> np.ndarray:
        p = _sigmoid(self.scores(X) * self.a + self.b)
        if self.kind == "multiclass":
            tot = p.sum(axis=1, keepdims=True)
            p = np.where(tot > 0, p / np.where(tot > 0, tot, 1.0), 1.0 / p.shape[1])
        return p

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "coef": self.coef,
            "intercept": self.intercept,
            "a": self.a,
            "b": self.b,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibratedLinear:
        return cls(
            kind=str(d["kind"]),
            coef=np.asarray(d["coef"], dtype=np.float32),
            intercept=np.asarray(d["intercept"], dtype=np.float32),
            a=np.asarray(d["a"], dtype=np.float64),
            b=np.asarray(d["b"], dtype=np.float64),
        )


def _fit_lr(X, y: np.ndarray, w: np.ndarray, k: int, kind: str, C: float, class_weight):
    """Fit logistic regression(s); return (coef (k, d), intercept (k,)) over all k labels."""
    from sklearn.linear_model import LogisticRegression

    d = X.shape[1]
    coef = np.zeros((k, d), dtype=np.float64)
    icpt = np.full(k, _CONST_SCORE, dtype=np.float64)
    if kind == "ovr":
        for j in range(k):
            yj = y[:, j]
            if yj.min() == yj.max():
                icpt[j] = _CONST_SCORE if yj[0] == 0 else -_CONST_SCORE
                continue
            lr = LogisticRegression(
                C=C, solver="liblinear", class_weight=class_weight, random_state=0, max_iter=1000
            )
            lr.fit(X, yj, sample_weight=w)
            coef[j] = lr.coef_[0]
            icpt[j] = lr.intercept_[0]
        return coef, icpt
    present = np.unique(y)
    if len(present) == 1:
        icpt[present[0]] = -_CONST_SCORE
        return coef, icpt
    lr = LogisticRegression(C=C, solver="lbfgs", class_weight=class_weight, max_iter=2000)
    lr.fit(X, y, sample_weight=w)
    classes = [int(c) for c in lr.classes_]
    if len(classes) == 2:  # sklearn gives one row for two classes
        coef[classes[1]], icpt[classes[1]] = lr.coef_[0], lr.intercept_[0]
        coef[classes[0]], icpt[classes[0]] = -lr.coef_[0], -lr.intercept_[0]
    else:
        for r, c in enumerate(classes):
            coef[c], icpt[c] = lr.coef_[r], lr.intercept_[r]
    return coef, icpt


def _onehot(y: np.ndarray, k: int, kind: str) -> np.ndarray:
    if kind == "ovr":
        return y.astype(np.int8)
    out = np.zeros((len(y), k), dtype=np.int8)
    out[np.arange(len(y)), y] = 1
    return out


def _fit_calibrated(
    X, y: np.ndarray, w: np.ndarray, groups: np.ndarray, *, k: int, kind: str, C: float,
    class_weight: Any, folds: int,
) -> CalibratedLinear:  # fmt: skip
    """Fit on all rows; Platt-calibrate on out-of-fold scores (folds by group)."""
    coef, icpt = _fit_lr(X, y, w, k, kind, C, class_weight)
    n_groups = len(np.unique(groups))
    if n_groups >= 2 and folds >= 2:
        from sklearn.model_selection import GroupKFold

        oof = np.zeros((X.shape[0], k), dtype=np.float64)
        for tr, te in GroupKFold(n_splits=min(folds, n_groups)).split(X, groups=groups):
            c, b = _fit_lr(X[tr], y[tr], w[tr], k, kind, C, class_weight)
            oof[te] = np.asarray(X[te] @ c.T) + b
    else:  # too few rows for folds: in-sample scores (over-confident, but defined)
        oof = np.asarray(X @ coef.T) + icpt
    onehot = _onehot(y, k, kind)
    a = np.zeros(k)
    b = np.zeros(k)
    for j in range(k):
        a[j], b[j] = _platt(oof[:, j], onehot[:, j], w)
    return CalibratedLinear(
        kind=kind,
        coef=coef.astype(np.float32),
        intercept=icpt.astype(np.float32),
        a=a,
        b=b,
    )


# ─────────────────────────────── predictions ───────────────────────────────


@dataclass(frozen=True)
class Prediction:
    """What the heads say about one text.

    ``topics``: every topic code → calibrated probability; ``topic_codes``: the codes at or above
    their dev-chosen threshold, most probable first (the labels to show). ``misleading_score`` is
    the probability that the item is not ``khong``. ``relevant`` is a model score only: the
    gazetteer rules decide relevance.
    """

    topics: dict[str, float]
    topic_codes: list[str]
    tone: str
    tone_scores: dict[str, float]
    sensitivity: str
    sensitivity_scores: dict[str, float]
    misleading: str
    misleading_scores: dict[str, float]
    relevant: float
    path: str  # "combined" (TF-IDF + encoder) or "tfidf"
    model_version: str = ""

    @property
    def misleading_score(self) -> float:
        return round(1.0 - self.misleading_scores.get("khong", 0.0), 6)

    def as_dict(self) -> dict[str, Any]:
        return {
            "topics": dict(self.topics),
            "topic_codes": list(self.topic_codes),
            "tone": self.tone,
            "tone_scores": dict(self.tone_scores),
            "sensitivity": self.sensitivity,
            "sensitivity_scores": dict(self.sensitivity_scores),
            "misleading": self.misleading,
            "misleading_scores": dict(self.misleading_scores),
            "misleading_score": self.misleading_score,
            "relevant": self.relevant,
            "path": self.path,
            "model_version": self.model_version,
        }


# ─────────────────────────────── the heads ───────────────────────────────


@dataclass
class Heads:
    """Per-task calibrated heads; see the module docstring."""

    tfidf: TfidfFeatures
    models: dict[str, dict[str, CalibratedLinear]]  # task → {"tfidf": ..., "emb": ...}
    weights: dict[str, float]  # task → weight of the embedding model in the average
    thresholds: dict[str, float]  # topic code (and "relevant") → threshold, combined path
    tfidf_thresholds: dict[str, float]  # the same for the TF-IDF-only path
    meta: dict[str, Any] = field(default_factory=dict)

    def thresholds_for(self, path: str) -> dict[str, float]:
        return self.thresholds if path == "combined" else self.tfidf_thresholds

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "heads-unversioned"))

    @property
    def encoder_version(self) -> str | None:
        return self.meta.get("encoder_version")

    @property
    def dim(self) -> int | None:
        return self.meta.get("dim")

    @property
    def has_encoder(self) -> bool:
        return all("emb" in self.models[t] for t in TASKS)

    # ------------------------------------------------------------ probabilities

    def predict_proba(
        self, texts: Sequence[str], vectors: np.ndarray | None = None
    ) -> tuple[str, dict[str, np.ndarray]]:
        """(path, task → (n, k) probabilities) for ``texts``; see :meth:`predict`."""
        if isinstance(texts, str):
            raise TypeError("predict() takes a list of texts")
        texts = [nfc(t or "") for t in texts]
        X = self.tfidf.transform(texts) if texts else None
        use_emb = vectors is not None and self.has_encoder
        if use_emb:
            vectors = np.asarray(vectors, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != len(texts):
                raise ValueError(
                    f"vectors must be ({len(texts)}, {self.dim}), not {tuple(vectors.shape)}"
                )
            if self.dim is not None and vectors.shape[1] != self.dim:
                raise ValueError(
                    f"vectors have {vectors.shape[1]} dimensions; these heads were trained on "
                    f"{self.dim} ({self.encoder_version})"
                )
        out: dict[str, np.ndarray] = {}
        for task in TASKS:
            k = len(LABELS[task]) if task != "relevant" else 1
            if not texts:
                out[task] = np.zeros((0, k))
                continue
            p = self.models[task]["tfidf"].proba(X)
            if use_emb:
                w = float(self.weights.get(task, 0.5))
                p = w * self.models[task]["emb"].proba(vectors) + (1.0 - w) * p
            out[task] = p
        return ("combined" if use_emb else "tfidf"), out

    def decide(self, path: str, proba: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Decisions from probabilities: topics (n, 16) 0/1 by threshold, single-label tasks by
        argmax (label index), relevant 0/1 by its threshold."""
        th = self.thresholds_for(path)
        topic_th = np.array([th.get(c, 0.5) for c in TOPICS])
        out = {"topics": (proba["topics"] >= topic_th).astype(np.int8)}
        for task in ("tone", "sensitivity", "misleading"):
            out[task] = np.argmax(proba[task], axis=1)
        out["relevant"] = (proba["relevant"][:, 0] >= th.get("relevant", 0.5)).astype(np.int8)
        return out

    def predict(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> list[Prediction]:
        """One :class:`Prediction` per text (``title + "\\n" + lead``, see :func:`item_text`).

        ``vectors``: the encoder's embeddings of the same texts (``Encoder.embed(texts)``), or
        ``None`` for the TF-IDF models alone.
        """
        path, proba = self.predict_proba(texts, vectors)
        dec = self.decide(path, proba)
        version = self.version if path == "combined" else f"{self.version}+tfidf"
        preds: list[Prediction] = []
        for i in range(len(texts)):
            topics = {c: round(float(proba["topics"][i, j]), 6) for j, c in enumerate(TOPICS)}
            chosen = [c for j, c in enumerate(TOPICS) if dec["topics"][i, j]]
            chosen.sort(key=lambda c: -topics[c])
            scores = {
                task: {c: round(float(proba[task][i, j]), 6) for j, c in enumerate(LABELS[task])}
                for task in ("tone", "sensitivity", "misleading")
            }
            preds.append(
                Prediction(
                    topics=topics,
                    topic_codes=chosen,
                    tone=TONES[int(dec["tone"][i])],
                    tone_scores=scores["tone"],
                    sensitivity=SENSITIVITY[int(dec["sensitivity"][i])],
                    sensitivity_scores=scores["sensitivity"],
                    misleading=MISLEADING[int(dec["misleading"][i])],
                    misleading_scores=scores["misleading"],
                    relevant=round(float(proba["relevant"][i, 0]), 6),
                    path=path,
                    model_version=version,
                )
            )
        return preds

    # ------------------------------------------------------------ saving

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``meta.json``, ``tfidf.joblib`` and ``heads.joblib`` into ``directory``."""
        import joblib

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta)
        meta["format"] = FORMAT_VERSION
        meta["labels"] = {t: list(LABELS[t]) for t in TASKS}
        meta["weights"] = {t: float(self.weights[t]) for t in TASKS}
        meta["thresholds"] = dict(self.thresholds)
        meta["thresholds_tfidf"] = dict(self.tfidf_thresholds)
        meta["n_features"] = {"tfidf": self.tfidf.n_features, "dim": self.dim}
        arrays = {t: {p: m.to_dict() for p, m in self.models[t].items()} for t in TASKS}
        tmp = {name: d / f".{name}.tmp" for name in ("tfidf.joblib", "heads.joblib", "meta.json")}
        joblib.dump({"word": self.tfidf.word, "char": self.tfidf.char}, tmp["tfidf.joblib"],
                    compress=3)  # fmt: skip
        joblib.dump(arrays, tmp["heads.joblib"], compress=3)
        tmp["meta.json"].write_text(
            json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        for name, p in tmp.items():
            os.replace(p, d / name)
        self.meta = meta
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike[str] = DEFAULT_DIR) -> Heads:
        """Load heads saved by :meth:`save` (default: the committed ``models/default``)."""
        import joblib

        d = Path(directory)
        meta_path = d / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no heads in {d} (meta.json missing)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{meta_path}: format {meta.get('format')!r}, need {FORMAT_VERSION}")
        for task in TASKS:
            if list(meta["labels"][task]) != list(LABELS[task]):
                raise ValueError(f"{meta_path}: labels of {task} differ from this code's")
        vecs = joblib.load(d / "tfidf.joblib")
        tfidf = TfidfFeatures.__new__(TfidfFeatures)
        tfidf.word, tfidf.char = vecs["word"], vecs["char"]
        arrays = joblib.load(d / "heads.joblib")
        models = {
            t: {p: CalibratedLinear.from_dict(v) for p, v in arrays[t].items()} for t in TASKS
        }
        return cls(
            tfidf=tfidf,
            models=models,
            weights={t: float(meta["weights"][t]) for t in TASKS},
            thresholds={c: float(x) for c, x in meta["thresholds"].items()},
            tfidf_thresholds={c: float(x) for c, x in meta["thresholds_tfidf"].items()},
            meta=meta,
        )


# ─────────────────────────────── fitting ───────────────────────────────


def _log_loss(p: np.ndarray, onehot: np.ndarray, kind: str) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    if kind == "multiclass":
        return float(-np.mean(np.log(np.sum(p * onehot, axis=1))))
    return float(-np.mean(onehot * np.log(p) + (1 - onehot) * np.log(1 - p)))


def _best_threshold(p: np.ndarray, y: np.ndarray, grid: np.ndarray) -> float:
    """The grid threshold with the highest F1 on (p, y); ties go to the one nearest 0.5."""
    if y.sum() == 0:
        return 0.5
    best, best_f1 = 0.5, -1.0
    for t in sorted(grid, key=lambda t: (abs(t - 0.5), t)):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        fp = float(np.sum(pred & (y == 0)))
        fn = float(np.sum(~pred & (y == 1)))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return round(best, 4)


def fit_heads(
    train_texts: Sequence[str],
    train_rows: Sequence[Mapping[str, Any]],
    dev_texts: Sequence[str],
    dev_rows: Sequence[Mapping[str, Any]],
    *,
    train_vectors: np.ndarray | None = None,
    dev_vectors: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    groups: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Heads:
    """Fit every head on the training rows; choose weights and thresholds on dev.

    ``train_vectors``/``dev_vectors``: the encoder's embeddings of the texts (both or neither; none
    gives TF-IDF-only heads). ``groups``: rows of one group (variants of one base item) stay in
    one calibration fold. ``meta`` is stored as is (version, sizes, …).
    """
    prm = dict(DEFAULT_PARAMS)
    prm.update(params or {})
    n = len(train_texts)
    if n != len(train_rows) or len(dev_texts) != len(dev_rows):
        raise ValueError("texts and rows differ in length")
    if (train_vectors is None) != (dev_vectors is None):
        raise ValueError("give vectors for both train and dev, or for neither")
    w_all = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    g_all = np.asarray(list(groups) if groups is not None else range(n)).astype(str)
    labels = encode_labels(train_rows)
    dev_labels = encode_labels(dev_rows)

    tfidf = TfidfFeatures(prm).fit(train_texts)
    X = tfidf.transform(train_texts)
    Xd = tfidf.transform(dev_texts) if dev_texts else None
    feats = {"tfidf": (X, Xd, float(prm["tfidf_C"]))}
    if train_vectors is not None:
        V = np.asarray(train_vectors, dtype=np.float32)
        Vd = np.asarray(dev_vectors, dtype=np.float32)
        if V.shape[0] != n or Vd.shape[0] != len(dev_texts):
            raise ValueError("vectors and texts differ in length")
        feats["emb"] = (V, Vd, float(prm["emb_C"]))

    cw = prm["class_weight"]
    models: dict[str, dict[str, CalibratedLinear]] = {}
    weights: dict[str, float] = {}
    dev_proba: dict[str, dict[str, np.ndarray]] = {"tfidf": {}, "combined": {}}
    for task in TASKS:
        kind = TASK_KIND[task]
        k = len(LABELS[task]) if task != "relevant" else 1
        m = labels.mask[task]
        y = labels.y[task][m]
        models[task] = {}
        for name, (F, _, C) in feats.items():
            models[task][name] = _fit_calibrated(
                F[m], y, w_all[m], g_all[m], k=k, kind=kind, C=C,
                class_weight=(cw if kind == "multiclass" else None), folds=int(prm["folds"]),
            )  # fmt: skip
        # the average's weight, on dev
        dm = dev_labels.mask[task]
        weights[task] = 0.5 if "emb" in feats else 0.0  # without dev rows: an even average
        if Xd is None:
            continue
        p_t = models[task]["tfidf"].proba(Xd)
        dev_proba["tfidf"][task] = p_t
        if "emb" not in feats:
            continue
        p_e = models[task]["emb"].proba(feats["emb"][1])
        weights[task] = 0.5
        if dm.any():
            onehot = _onehot(dev_labels.y[task][dm], k, kind)
            grid = np.linspace(0.0, 1.0, int(prm["weight_grid"]))
            losses = [
                (_log_loss(w * p_e[dm] + (1 - w) * p_t[dm], onehot, kind), abs(w - 0.5), w)
                for w in grid
            ]
            weights[task] = round(float(min(losses)[2]), 4)
        dev_proba["combined"][task] = weights[task] * p_e + (1 - weights[task]) * p_t

    lo, hi, step = prm["threshold_grid"]
    grid = np.round(np.arange(lo, hi + step / 2, step), 4)
    thresholds: dict[str, dict[str, float]] = {}
    for path, proba in dev_proba.items():
        if not proba:
            continue
        th: dict[str, float] = {}
        tm = dev_labels.mask["topics"]
        for j, code in enumerate(TOPICS):
            th[code] = _best_threshold(proba["topics"][tm, j], dev_labels.y["topics"][tm, j], grid)
        rm = dev_labels.mask["relevant"]
        th["relevant"] = _best_threshold(
            proba["relevant"][rm, 0], dev_labels.y["relevant"][rm, 0], grid
        )
        thresholds[path] = th
    default = {c: 0.5 for c in (*TOPICS, "relevant")}
    tfidf_th = thresholds.get("tfidf", default)
    combined_th = thresholds.get("combined", tfidf_th)

    info = dict(meta or {})
    info.setdefault("params", prm)
    info["dim"] = int(feats["emb"][0].shape[1]) if "emb" in feats else None
    info.setdefault("version", "heads-unversioned")
    return Heads(
        tfidf=tfidf,
        models=models,
        weights=weights,
        thresholds=combined_th,
        tfidf_thresholds=tfidf_th,
        meta=info,
    )


def data_hash(parts: Sequence[Any]) -> str:
    """8 hex digits of a SHA-256 over JSON-serialisable parts (training data and params)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, ensure_ascii=False, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:8]
