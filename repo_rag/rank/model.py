"""The learned ranker: a LightGBM LambdaRank model over :data:`~.features.FEATURES`, run by ONNX Runtime.

Trained with LightGBM (``eval/train_ranker.py``) and exported to ONNX, so answering a query needs
only ONNX Runtime (already loaded for the embedder; importing LightGBM itself costs seconds).
``ranker.json`` (beside this module) names the features the model was trained on, the sha256 of
``ranker.onnx``, how it was made (command, data, validation scores). Decision order when loading:

1. ``search.ranker_model`` from the user's config, else the shipped ``ranker.json``;
2. the metadata must parse, name exactly the features this code computes, in the same order, and
   the ONNX file beside it must have the recorded sha256; otherwise :class:`RankerError` (the
   retriever then falls back to reciprocal-rank fusion and says so in the result's notes, so a
   stale model never ranks silently);
3. the ONNX session runs single-threaded (a few hundred candidates take ~1 ms).

The files come from the installed package or a path the user configured; a repository never
supplies them (``search.ranker_model`` is not settable from a repository's ``.repo-rag.toml``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import RepoRagError
from .features import FEATURES

RANKER_FILE = Path(__file__).resolve().parent / "ranker.json"
FORMAT = 2  # 2: ONNX beside the metadata (1 held LightGBM text)


class RankerError(RepoRagError, RuntimeError):
    """The ranking model cannot be loaded or does not fit this code's features."""


class LearnedRanker:
    def __init__(self, onnx_bytes: bytes, features: tuple[str, ...], meta: dict | None = None) -> None:
        if tuple(features) != FEATURES:
            missing = sorted(set(FEATURES) - set(features))
            extra = sorted(set(features) - set(FEATURES))
            raise RankerError(
                "ranking model does not match this version's features "
                f"(missing {missing or 'none'}, unknown {extra or 'none'}); retrain it with "
                "`python -m repo_rag.eval train-ranker --write-model`"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RankerError(f"cannot read the ranking model: {exc}") from exc
        self.input = self.session.get_inputs()[0].name
        self.meta = meta or {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> LearnedRanker:
        path = Path(path)
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RankerError(f"cannot read the ranking model {path}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("onnx"), str):
            raise RankerError(f"{path} is not a repo-rag ranking model (format {FORMAT})")
        onnx_path = path.parent / Path(meta["onnx"]).name  # always beside the metadata
        try:
            data = onnx_path.read_bytes()
        except OSError as exc:
            raise RankerError(f"cannot read the ranking model {onnx_path}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != meta.get("onnx_sha256"):
            raise RankerError(f"{onnx_path} is not the model {path} describes (sha256 differs)")
        return cls(data, tuple(meta.get("features", ())), meta)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))

    def score(self, x: np.ndarray) -> np.ndarray:
        """One score per row of the feature matrix (higher is better)."""
        if not len(x):
            return np.zeros(0, dtype=np.float64)
        with self._lock:
            out = self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)


@cache
def load_default_ranker(path: str = "") -> LearnedRanker:
    """The configured (or shipped) model, loaded once per process."""
    return LearnedRanker.load(path or RANKER_FILE)
