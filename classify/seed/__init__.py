"""The labelled seed set: train/dev/test JSONL built from ``bank/`` by ``build.py``.

See GUIDE.md for the labels and how the items were made. ``load("train")`` returns the items of
one split as dicts.
"""

from __future__ import annotations

import json
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parent
SPLITS = ("train", "dev", "test")


def load(split: str) -> list[dict]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    path = SEED_DIR / f"{split}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
