"""Baseline: BM25 over fixed line windows with the ``bm25s`` library, set up as a user would for code.

What it is: every file repo-rag indexed is read (UTF-8, invalid bytes replaced, BOM dropped, CRLF -> LF,
like repo-rag's reader; a file that cannot be read or is blank is skipped) and cut into windows of
``WINDOW_LINES`` = 50 lines with no overlap (lines split on ``\\n``; windows of only whitespace are
dropped). Each window's text is tokenised with bm25s' ``Tokenizer`` (English stopwords, ``"en"``;
no stemmer) and indexed by ``bm25s.BM25()`` with its default parameters (Lucene variant, k1=1.5, b=0.75).

Tokenisation choice (what anyone indexing code does): bm25s' default token pattern ``\\b\\w\\w+\\b``
finds identifiers whole, and an identifier such as ``parseHttpHeader`` or ``MAX_RETRY_COUNT`` would
then only match a query that spells it exactly. So :func:`code_tokens` (passed to the tokenizer as
its ``splitter``) keeps each whole token, lower-cased, AND adds its camelCase / snake_case / digit
parts of two characters or more (``parsehttpheader``, ``parse``, ``http``, ``header``;
``max_retry_count``, ``max``, ``retry``, ``count``). Acronym runs stay together (``HTTPServer`` ->
``http``, ``server``). Stopwords are removed after splitting. Queries go through the same tokenizer,
without growing the vocabulary; query words the corpus never saw are dropped.

Ranking: a file's score is its best window's BM25 score; files with no matching window (score 0)
are not returned. ``search_files`` returns distinct repo-relative paths, best first.

Interface shared with the other peers (``eval.baseline_llamaindex``, ``eval.baseline_windows``):
``Bm25sBaseline(root, files).build() -> Bm25sBuildReport`` (``seconds``, ``units``) and
``search_files(query, k=50) -> list[str]``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

WINDOW_LINES = 50

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default token pattern
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def code_tokens(text: str) -> list[str]:
    """Whole tokens lower-cased, each followed by its camelCase/snake_case parts when it has several."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        out.append(word.lower())
        parts = [p.lower() for p in _PART.findall(word) if len(p) >= 2]
        if len(parts) > 1 or (parts and parts[0] != word.lower()):
            out.extend(parts)
    return out


@dataclass(frozen=True)
class Window:
    path: str
    start: int  # 1-based first line
    end: int  # 1-based last line, inclusive
    text: str


def read_file(path: Path) -> str | None:
    """The file's text decoded like repo-rag's reader (UTF-8 with replacement); None if it cannot be read."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            return fh.read().replace("\r\n", "\n")
    except OSError:
        return None


def split_windows(path: str, text: str, lines_per_window: int = WINDOW_LINES) -> list[Window]:
    """Non-overlapping windows of ``lines_per_window`` lines; whitespace-only windows are dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    windows = []
    for i in range(0, len(lines), lines_per_window):
        chunk = "\n".join(lines[i : i + lines_per_window])
        if chunk.strip():
            windows.append(Window(path, i + 1, min(i + lines_per_window, len(lines)), chunk))
    return windows


def load_windows(root: Path, files: Sequence[tuple[str, str]]) -> tuple[list[Window], int]:
    """All windows of ``files`` (paths relative to ``root``) and how many files were skipped."""
    windows: list[Window] = []
    skipped = 0
    for path, _language in files:
        text = read_file(root / path)
        if text is None or not text.strip():
            skipped += 1
            continue
        windows += split_windows(path, text)
    return windows, skipped


def rank_files(windows: Sequence[Window], order: Sequence[int], k: int) -> list[str]:
    """Distinct paths of windows taken in ``order`` (best first), at most ``k``."""
    ranked: list[str] = []
    seen: set[str] = set()
    for i in order:
        path = windows[i].path
        if path not in seen:
            seen.add(path)
            ranked.append(path)
            if len(ranked) >= k:
                break
    return ranked


class WindowBm25:
    """bm25s over a list of windows: the lexical channel shared by both window baselines."""

    def __init__(self, windows: Sequence[Window]) -> None:
        import bm25s

        self.tokenizer = bm25s.tokenization.Tokenizer(lower=False, splitter=code_tokens, stopwords="en")
        corpus = self.tokenizer.tokenize(
            [w.text for w in windows], update_vocab=True, return_as="tuple", show_progress=False
        )
        self.retriever: Any = bm25s.BM25()
        self.retriever.index(corpus, show_progress=False)
        self.size = len(windows)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every window for ``query`` (zeros when no query word is in the vocabulary)."""
        ids = self.tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False, allow_empty=False
        )[0]
        if not ids or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(list(ids)), dtype=np.float32)


@dataclass
class Bm25sBuildReport:
    files: int  # files given
    skipped: int  # files unreadable or blank
    windows: int
    seconds: float

    @property
    def units(self) -> int:
        return self.windows


class Bm25sBaseline:
    """BM25 (bm25s) over 50-line windows of ``files`` of ``root``; a file ranks by its best window."""

    def __init__(self, root: str | Path, files: Sequence[tuple[str, str]]) -> None:
        """``files``: (repo-relative path, repo-rag language) pairs, the files repo-rag indexed."""
        self.root = Path(root)
        self.files = list(files)
        self.windows: list[Window] = []
        self._bm25: WindowBm25 | None = None
        self.report: Bm25sBuildReport | None = None

    def build(self) -> Bm25sBuildReport:
        t0 = time.perf_counter()
        self.windows, skipped = load_windows(self.root, self.files)
        self._bm25 = WindowBm25(self.windows)
        self.report = Bm25sBuildReport(len(self.files), skipped, len(self.windows), round(time.perf_counter() - t0, 2))
        return self.report

    def search_files(self, query: str, k: int = 50) -> list[str]:
        """Distinct files by best-window BM25 score, best first, at most ``k``; only files that match."""
        if self._bm25 is None:
            self.build()
        assert self._bm25 is not None
        scores = self._bm25.scores(query)
        matching = np.flatnonzero(scores > 0)
        order = matching[np.argsort(-scores[matching], kind="stable")]
        return rank_files(self.windows, order.tolist(), k)
