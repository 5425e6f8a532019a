"""The bm25s and window-hybrid peer baselines of the retrieval benchmark (eval.baseline_bm25s / _windows)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bm25s")

from eval.baseline_bm25s import WINDOW_LINES, Bm25sBaseline, code_tokens, split_windows
from eval.baseline_windows import WindowHybridBaseline

FILLER = "value = compute(value)\n"


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "orders.py").write_text(
        FILLER * 10 + "def computeShippingQuote(order_total):\n    return order_total * RATE\n" + FILLER * 10
    )
    (tmp_path / "pkg" / "weather.py").write_text("def forecast_rain(city):\n    return city.clouds > 3\n")
    (tmp_path / "README.md").write_text("# Project\n\nThis project parses config files and forecasts rain.\n")
    # 120 lines: three windows; the word "telescope" only in the last one
    (tmp_path / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 120)) + "telescope mirror\n")
    (tmp_path / "blank.txt").write_text("\n\n   \n")
    files = [
        ("pkg/orders.py", "python"), ("pkg/weather.py", "python"), ("README.md", "markdown"),
        ("big.txt", "text"), ("blank.txt", "text"), ("missing.py", "python"),
    ]
    return tmp_path, files


class FakeEmbedder:
    """Deterministic bag-of-concepts vectors (normalised float32), the two methods the baseline uses."""

    CONCEPTS = (("shipping", "freight", "quote"), ("rain", "weather", "forecast"), ("telescope",), ("config",))

    def __init__(self):
        self.texts: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        low = text.lower()
        v = np.array([sum(low.count(w) for w in words) for words in self.CONCEPTS] + [0.01], dtype=np.float32)
        return v / np.linalg.norm(v)

    def embed_texts(self, texts):
        self.texts += list(texts)
        return np.stack([self._vec(t) for t in texts]), 0

    def embed_query(self, text):
        return self._vec(text)


def test_code_tokens_keep_identifier_and_its_words():
    toks = code_tokens("computeShippingQuote(order_total) HTTPServer")
    assert toks[:4] == ["computeshippingquote", "compute", "shipping", "quote"]
    assert {"order_total", "order", "total", "httpserver", "http", "server"} <= set(toks)


def test_bm25s_ranks_file_with_identifier_first_for_its_split_words(repo):
    root, files = repo
    peer = Bm25sBaseline(root, files)
    report = peer.build()
    hits = peer.search_files("how is the shipping quote computed")
    assert hits[0] == "pkg/orders.py"
    assert len(hits) == len(set(hits))
    assert peer.search_files("computeShippingQuote")[0] == "pkg/orders.py"  # the whole identifier too
    assert peer.search_files("xylophone zebra") == []  # no matching window, no file
    assert report.files == 6 and report.skipped == 2  # blank and unreadable
    assert report.windows == report.units == 1 + 1 + 1 + 3
    assert report.seconds >= 0


def test_windows_are_50_lines_without_overlap(repo):
    root, _files = repo
    windows = split_windows("big.txt", (root / "big.txt").read_text())
    assert WINDOW_LINES == 50
    assert [(w.start, w.end) for w in windows] == [(1, 50), (51, 100), (101, 120)]
    assert [len(w.text.split("\n")) for w in windows] == [50, 50, 20]
    assert "telescope" in windows[2].text and "line 50\n" not in windows[1].text


def test_hybrid_ranks_file_first_when_both_channels_agree(repo):
    root, files = repo
    embedder = FakeEmbedder()
    peer = WindowHybridBaseline(root, files, embedder)
    report = peer.build()
    assert report.windows == report.units == 6 and report.skipped == 2 and report.files == 6
    assert len(embedder.texts) == 6 and embedder.texts[0].startswith("pkg/orders.py\n")

    hits = peer.search_files("shipping quote")
    assert hits[0] == "pkg/orders.py"
    assert len(hits) == len(set(hits)) == 4  # dense ranks every window; big.txt's three windows give one path
    top2 = peer.search_files("telescope", k=2)
    assert top2[0] == "big.txt" and len(top2) == 2
    assert len(peer.search_files("rain", k=2)) == 2


def test_hybrid_dense_channel_finds_what_bm25_cannot(repo):
    root, files = repo
    peer = WindowHybridBaseline(root, files, FakeEmbedder())
    peer.build()
    assert Bm25sBaseline(root, files).search_files("freight") == []  # no such word in the repo
    assert peer.search_files("freight")[0] == "pkg/orders.py"
