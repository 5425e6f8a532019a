"""Baseline: the naive strong hybrid, BM25 + dense over fixed line windows, fused by reciprocal rank.

What it is: the same 50-line, non-overlapping windows as ``eval.baseline_bm25s`` (same reader, same
tokenisation with camelCase/snake_case splitting, bm25s with default parameters), ranked twice:

* lexically by bm25s (windows with score 0 are not ranked), and
* densely by cosine with repo-rag's ``Embedder`` (vectors are normalised, so a numpy dot product);
  the embedded text of a window is ``f"{path}\\n{window text}"`` so the file's path (often the best
  clue to what it holds) is part of what the encoder sees, as in LlamaIndex's default metadata mode.

The top ``CANDIDATES`` = 200 windows of each channel are fused with reciprocal-rank fusion,
``sum 1 / (RRF_K + rank)`` with ``RRF_K`` = 60 and rank 1-based; a file's place is that of its best
fused window; ``search_files`` returns distinct repo-relative paths, best first.

Same model as repo-rag's dense channel, and the content-keyed embedding cache is shared, so a rerun
re-embeds nothing; every window is embedded on first use (at most ~100k windows, held in memory).

Interface shared with the other peers: ``WindowHybridBaseline(root, files, embedder).build() ->
HybridBuildReport`` (``seconds``, ``units``) and ``search_files(query, k=50) -> list[str]``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .baseline_bm25s import Window, WindowBm25, load_windows, rank_files

if TYPE_CHECKING:
    from repo_rag.embed import Embedder

CANDIDATES = 200
RRF_K = 60


def embed_text(window: Window) -> str:
    """What the encoder sees for a window: its path, a newline, then its text."""
    return f"{window.path}\n{window.text}"


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest ``scores``, best first (ties by index)."""
    if len(scores) <= n:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.lexsort((part, -scores[part]))]


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal-rank fusion of several best-first lists of ids; fused ids best first (ties by first seen)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda i: -fused[i])


@dataclass
class HybridBuildReport:
    files: int  # files given
    skipped: int  # files unreadable or blank
    windows: int
    embedded_cached: int  # window vectors that came from the embedding cache
    seconds_lexical: float  # reading, splitting, bm25s indexing
    seconds_embed: float
    seconds: float

    @property
    def units(self) -> int:
        return self.windows


class WindowHybridBaseline:
    """bm25s + dense cosine over 50-line windows, fused by RRF (k=60, top 200 each); a file ranks by its best window."""

    def __init__(self, root: str | Path, files: Sequence[tuple[str, str]], embedder: Embedder) -> None:
        """``files``: (repo-relative path, repo-rag language) pairs; ``embedder``: embed_texts / embed_query."""
        self.root = Path(root)
        self.files = list(files)
        self.embedder = embedder
        self.windows: list[Window] = []
        self._bm25: WindowBm25 | None = None
        self._vectors: np.ndarray | None = None
        self.report: HybridBuildReport | None = None

    def build(self) -> HybridBuildReport:
        t0 = time.perf_counter()
        self.windows, skipped = load_windows(self.root, self.files)
        self._bm25 = WindowBm25(self.windows)
        t1 = time.perf_counter()
        cached = 0
        if self.windows:
            vectors, cached = self.embedder.embed_texts([embed_text(w) for w in self.windows])
            self._vectors = np.asarray(vectors, dtype=np.float32)
        else:
            self._vectors = np.zeros((0, 0), dtype=np.float32)
        t2 = time.perf_counter()
        self.report = HybridBuildReport(
            len(self.files), skipped, len(self.windows), int(cached),
            round(t1 - t0, 2), round(t2 - t1, 2), round(t2 - t0, 2),
        )
        return self.report

    def rank_windows(self, query: str) -> list[int]:
        """Window indices by fused score, best first (the union of both channels' top ``CANDIDATES``)."""
        if self._bm25 is None or self._vectors is None:
            self.build()
        assert self._bm25 is not None and self._vectors is not None
        if not self.windows:
            return []
        lexical = self._bm25.scores(query)
        lex_top = [int(i) for i in top_indices(lexical, CANDIDATES) if lexical[i] > 0]
        query_vec = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        dense = self._vectors @ query_vec
        dense_top = [int(i) for i in top_indices(dense, CANDIDATES)]
        return rrf([lex_top, dense_top])

    def search_files(self, query: str, k: int = 50) -> list[str]:
        """Distinct files by best fused window, best first, at most ``k``."""
        return rank_files(self.windows, self.rank_windows(query), k)
