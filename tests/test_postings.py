"""Posting lists of common terms (repo_rag/postings.py): the same bm25 top k as FTS5, built and
dropped by the indexer by store size, stale builds unused, malformed builds refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import POLYGLOT

from repo_rag import postings as postings_mod
from repo_rag.config import load_config
from repo_rag.indexer import Indexer
from repo_rag.lexical import COLUMN_WEIGHTS, _quote, lexical_search, select_terms
from repo_rag.postings import MANIFEST_KEY, load_postings
from repo_rag.store import IndexCorruptError, Store

K = 5


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fixture repo indexed (no dense) with posting lists for every term in 2+ chunks."""
    monkeypatch.setattr(postings_mod, "MIN_DF", 1)
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo)
    cfg = load_config(repo, overrides={"index": {"postings_above": 0}, "embed": {"enabled": False}})
    index_dir = tmp_path / "index"
    report = Indexer(repo, cfg, index_dir).run()
    store = Store(index_dir / "index.sqlite")
    yield repo, cfg, index_dir, store, report
    store.close()


def _queries(store: Store) -> list[str]:
    """Docstrings, names and bodies of the stored chunks: many terms, common and rare."""
    out = []
    for row in store.con.execute("SELECT qualname, docstring, substr(text, 1, 300) FROM chunks ORDER BY id"):
        out.extend(x for x in row if x and len(x.split()) >= 1)
    return out


def _fts_top(store: Store, text: str) -> list[tuple[int, float]]:
    qt = select_terms(store, text)
    return store.fts_search(" OR ".join(_quote(t) for t in qt.terms), K, COLUMN_WEIGHTS) if qt.terms else []


def test_postings_give_fts5_bm25_top_k(built) -> None:
    _, _, _, store, report = built
    assert report.posting_lists > 20
    postings = load_postings(store, COLUMN_WEIGHTS)
    assert postings is not None
    queries = _queries(store)
    assert len(queries) > 150
    pruned_queries = compared = 0
    for text in queries:
        want = _fts_top(store, text)
        qt = select_terms(store, text, postings=postings)
        stats: dict[str, int] = {}
        got = postings.search(
            qt.terms, K, lambda rare: store.fts_scores(" OR ".join(_quote(t) for t in rare), COLUMN_WEIGHTS), stats
        )
        assert len(got) == len(want), text
        for (_, a), (_, b) in zip(got, want, strict=True):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5), text
        if want:  # the same chunks, except where scores tie at the cut
            cut = want[-1][1]
            assert {c for c, s in got if s > cut * (1 + 1e-4)} == {c for c, s in want if s > cut * (1 + 1e-4)}, text
            compared += 1
        pruned_queries += stats.get("pruned", 0) > 0
    assert compared > 150
    assert pruned_queries > 20  # MaxScore did skip terms, and the results above still matched


def test_lexical_search_goes_through_postings_and_matches_fts(built, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, _, store, _ = built
    calls = []
    monkeypatch.setattr(store, "fts_search", lambda *a: calls.append(a) or [])
    hits, _ = lexical_search(store, "parse the configuration file", k=K, explain=0)
    assert hits and not calls  # answered by the posting lists, not FTS5's full query
    monkeypatch.undo()
    assert [h.chunk_id for h in hits][:3] == [c for c, _ in _fts_top(store, "parse the configuration file")][:3]


def test_stale_build_is_not_used_and_the_next_run_rebuilds(built, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, cfg, index_dir, store, _ = built
    before = json.loads(store.get_manifest()[MANIFEST_KEY])
    (repo / "added_module.py").write_text("def brand_new_helper(config):\n    return config.parse_file()\n")
    monkeypatch.setattr(Indexer, "_postings", lambda *a: None)
    Indexer(repo, cfg, index_dir).run()
    assert load_postings(store, COLUMN_WEIGHTS) is None  # a chunk was added: the build is not exact any more
    hits, _ = lexical_search(store, "brand new helper", k=K, explain=0)
    assert hits[0].chunk_id in {c for c, _ in _fts_top(store, "brand new helper")[:1]}
    monkeypatch.undo()
    monkeypatch.setattr(postings_mod, "MIN_DF", 1)
    report = Indexer(repo, cfg, index_dir).run()
    after = json.loads(store.get_manifest()[MANIFEST_KEY])
    assert report.posting_lists > 0 and after["chunk_seq"] > before["chunk_seq"]
    assert load_postings(store, COLUMN_WEIGHTS) is not None
    assert load_postings(store, (1.0, 1.0, 1.0, 1.0)) is None  # other column weights: not this build


def test_small_store_drops_its_build(built) -> None:
    repo, _, index_dir, store, _ = built
    cfg = load_config(repo, overrides={"embed": {"enabled": False}})  # default postings_above: 200,000
    (repo / "another.py").write_text("def another_function():\n    return 1\n")
    report = Indexer(repo, cfg, index_dir).run()
    assert any("posting lists dropped" in n for n in report.notes)
    assert load_postings(store, COLUMN_WEIGHTS) is None
    assert store.con.execute("SELECT count(*) FROM postings").fetchone()[0] == 0


@pytest.mark.parametrize("damage", ["short ids", "unsorted ids", "id out of range", "lengths"])
def test_malformed_build_is_refused(built, damage: str) -> None:
    _, _, _, store, _ = built
    term, ids = store.con.execute("SELECT term, ids FROM postings WHERE df >= 3 ORDER BY term LIMIT 1").fetchone()
    postings_mod._LOADED.clear()
    with store.transaction() as con:
        if damage == "short ids":
            con.execute("UPDATE postings SET ids = ? WHERE term = ?", (ids[:-4], term))
        elif damage == "unsorted ids":
            con.execute("UPDATE postings SET ids = ? WHERE term = ?", (ids[4:8] + ids[:4] + ids[8:], term))
        elif damage == "id out of range":
            con.execute("UPDATE postings SET ids = ? WHERE term = ?", (ids[:-4] + (2**30).to_bytes(4, "little"), term))
        else:
            con.execute("UPDATE posting_lengths SET lengths = substr(lengths, 1, 8)")
    postings = None
    with pytest.raises(IndexCorruptError, match="re-index"):
        postings = load_postings(store, COLUMN_WEIGHTS)
        postings.lists([term])


def test_top_k_breaks_ties_by_position_also_at_the_kth_place() -> None:
    import numpy as np

    scores = np.array([1.0, 3.0, 2.0, 2.0, 5.0, 2.0, 0.5, 2.0], dtype=np.float32)
    # 5, 3, then two of the four 2.0s: the two earliest, every time
    assert postings_mod._top(scores, 4).tolist() == [4, 1, 2, 3]
    assert postings_mod._top(scores, 2).tolist() == [4, 1]
    assert postings_mod._top(scores, 20).tolist() == [4, 1, 2, 3, 5, 7, 0, 6]
    assert postings_mod._kth(scores, 3) == 2.0 and postings_mod._kth(scores, 9) == 0.0
