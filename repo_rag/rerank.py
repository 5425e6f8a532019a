"""Optional cross-encoder reranking of the fused candidates.

A cross-encoder reads query and code together and is the strongest reranker for the top of a
list, but no code cross-encoder ships inside a PyPI wheel, so it is off by default: set
``search.reranker`` to a local sentence-transformers CrossEncoder folder (e.g. a GPU user's
code reranker) to turn it on. Only the first ``search.rerank_depth`` candidates are rescored.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from .embed import embedding_text
from .errors import RepoRagError
from .store import StoredChunk


class RerankerError(RepoRagError, RuntimeError):
    """The configured reranker cannot be loaded."""


class CrossEncoderReranker:
    def __init__(self, model_path: str, device: str = "", body_chars: int = 1200) -> None:
        if not Path(model_path).exists():
            raise RerankerError(f"reranker model path does not exist: {model_path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import CrossEncoder

            self.model = CrossEncoder(model_path, device=device or None)
        except Exception as exc:
            raise RerankerError(f"cannot load reranker {model_path!r}: {exc}") from exc
        self.body_chars = body_chars
        self._lock = threading.Lock()

    def scores(self, query: str, chunks: Sequence[StoredChunk]) -> list[float]:
        pairs = [
            (query, embedding_text(c.path, c.qualname, c.signature, c.docstring, c.text, self.body_chars))
            for c in chunks
        ]
        with self._lock:
            return [float(s) for s in self.model.predict(pairs, show_progress_bar=False)]
