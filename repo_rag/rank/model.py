"""The learned ranker: a LightGBM LambdaRank model over :data:`~.features.FEATURES`, shipped as one file.

``ranker.json`` (beside this module) holds the model text, the feature names it was trained on,
and how it was made (command, data, validation scores). Decision order when loading:

1. ``search.ranker_model`` from the user's config, else the shipped ``ranker.json``;
2. the file must parse and name exactly the features this code computes, in the same order;
   otherwise :class:`RankerError` (the retriever then falls back to reciprocal-rank fusion and
   says so in the result's notes, so a stale model never ranks silently);
3. LightGBM is imported on first use only.

The file is read from the installed package or a path the user configured; a repository never
supplies it (``search.ranker_model`` is not settable from a repository's ``.repo-rag.toml``).
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import RepoRagError
from .features import FEATURES

RANKER_FILE = Path(__file__).resolve().parent / "ranker.json"
FORMAT = 1


class RankerError(RepoRagError, RuntimeError):
    """The ranking model cannot be loaded or does not fit this code's features."""


class LearnedRanker:
    def __init__(self, model_text: str, features: tuple[str, ...], meta: dict | None = None) -> None:
        if tuple(features) != FEATURES:
            missing = sorted(set(FEATURES) - set(features))
            extra = sorted(set(features) - set(FEATURES))
            raise RankerError(
                "ranking model does not match this version's features "
                f"(missing {missing or 'none'}, unknown {extra or 'none'}); retrain it with "
                "`python -m repo_rag.eval train-ranker`"
            )
        try:
            import lightgbm
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RankerError("the learned ranker needs lightgbm (pip install lightgbm)") from exc
        try:
            self.booster = lightgbm.Booster(model_str=model_text)
        except Exception as exc:
            raise RankerError(f"cannot read the ranking model: {exc}") from exc
        self.meta = meta or {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> LearnedRanker:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RankerError(f"cannot read the ranking model {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("model"), str):
            raise RankerError(f"{path} is not a repo-rag ranking model (format {FORMAT})")
        meta = {k: v for k, v in data.items() if k != "model"}
        return cls(data["model"], tuple(data.get("features", ())), meta)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))

    def score(self, x: np.ndarray) -> np.ndarray:
        """One score per row of the feature matrix (higher is better)."""
        if not len(x):
            return np.zeros(0, dtype=np.float64)
        with self._lock:
            return np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)


@cache
def load_default_ranker(path: str = "") -> LearnedRanker:
    """The configured (or shipped) model, loaded once per process."""
    return LearnedRanker.load(path or RANKER_FILE)
