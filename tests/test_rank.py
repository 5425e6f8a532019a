"""The learned ranker: candidate features mean what they say, the model file is checked, and the
retriever uses the model (or says why it could not)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from repo_rag.config import ConfigError, load_config
from repo_rag.query import analyze_query
from repo_rag.rank import FEATURES, CandidatePool, LearnedRanker, RankerError, RepoStats, candidate_features
from repo_rag.rank.model import RANKER_FILE
from repo_rag.repository import Repository
from repo_rag.retrieve import HybridRetriever
from repo_rag.store import StoredChunk


def _chunk(cid: int, path: str, name: str, kind: str = "function", is_test: bool = False, start: int = 1,
           end: int = 10) -> StoredChunk:
    return StoredChunk(cid, path, start, end, "python", kind, name, name, f"def {name}():", "", "", 0,
                       f"def {name}():\n    pass", "h", is_test)


def _stats(df: dict[str, int], names: dict[str, int] | None = None, stems: dict[str, int] | None = None) -> RepoStats:
    return RepoStats(1000, names or {}, stems or {}, lambda terms: {t: df[t] for t in terms if t in df})


def _row(x: np.ndarray, row: int) -> dict[str, float]:
    return dict(zip(FEATURES, x[row].tolist(), strict=True))


def test_stem_match_is_weighted_by_how_common_the_word_is() -> None:
    # "where" names a module (sql/where.py) but is a word the lexical index ignores; "request" is in
    # most chunks; "password" names one module and is rare.
    chunks = {1: _chunk(1, "db/sql/where.py", "WhereNode", "class"),
              2: _chunk(2, "auth/password.py", "check", "function"),
              3: _chunk(3, "http/request.py", "parse", "function")}
    pool = CandidatePool(ids=[1, 2, 3], chunks=chunks)
    qa = analyze_query("where is the password of a request checked")
    x = candidate_features(pool, qa, _stats({"request": 900, "password": 3}, stems={"where": 1, "password": 1}))
    where, password, request = _row(x, 0), _row(x, 1), _row(x, 2)
    assert where["stem_match"] == password["stem_match"] == request["stem_match"] == 1.0
    assert where["stem_idf"] == 0.0
    assert request["stem_idf"] < 0.2 < 4.0 < password["stem_idf"]


def test_symbol_match_rarity_channels_and_flags() -> None:
    chunks = {1: _chunk(1, "app/core.py", "make_password", start=10, end=30),
              2: _chunk(2, "tests/test_core.py", "save", is_test=True),
              3: _chunk(3, "app/core.py", "helper", "method")}
    pool = CandidatePool(ids=[1, 2, 3], chunks=chunks, lexical={1: (1, 8.0), 2: (2, 4.0)},
                         dense_rank={3: 1}, cosine={1: 0.5, 3: 0.75}, frame_hit={1},
                         path={1: "traceback"}, graph={3: (1, 0.2, "calls")}, rrf={1: 0.03, 2: 0.01})
    qa = analyze_query("who calls make_password and save")
    x = candidate_features(pool, qa, _stats({}, names={"make_password": 1, "save": 400}))
    a, b, c = _row(x, 0), _row(x, 1), _row(x, 2)
    assert a["symbol_exact"] == b["symbol_exact"] == 1.0 and c["symbol_exact"] == 0.0
    assert a["symbol_idf"] > b["symbol_idf"] + 5  # a unique name outweighs one defined 400 times
    assert (a["lex_score"], a["lex_rank"], b["lex_score"], b["lex_rank"]) == (1.0, 1.0, 0.5, 0.5)
    assert c["lex_rank"] == 0.0 and c["dense_rank"] == 1.0
    assert a["dense_gap"] == pytest.approx(0.25) and c["dense_gap"] == 0.0 and b["dense_gap"] == 1.0
    assert a["frame_hit"] == a["path_named"] == 1.0 and b["frame_hit"] == 0.0
    assert c["graph_calls"] == 1.0 and c["graph_score"] == 1.0 and a["graph_score"] == 0.0
    assert b["is_test"] == 1.0 and a["is_test"] == 0.0 and c["kind_method"] == 1.0
    assert a["file_candidates"] == c["file_candidates"] > b["file_candidates"]
    assert a["rrf"] == 1.0 and c["rrf"] == 0.0


@pytest.mark.parametrize(("query", "about_use"), [
    ("who calls make_password", 1.0),
    ("where is the password hashed", 0.0),
    ('Traceback (most recent call last):\n  File "app/core.py", line 12, in make_password\nValueError', 0.0),
    ('Traceback (most recent call last):\n  File "app/core.py", line 12\nValueError\nwho calls it?', 1.0),
])
def test_a_traceback_header_does_not_ask_what_calls(query: str, about_use: float) -> None:
    pool = CandidatePool(ids=[1], chunks={1: _chunk(1, "app/core.py", "make_password")})
    x = candidate_features(pool, analyze_query(query), _stats({}))
    assert _row(x, 0)["q_about_use"] == about_use


def _tiny_model(tmp_path: Path, features: list[str] | None = None) -> tuple[Path, object]:
    """A real LightGBM ranker trained on toy data where only 'dense_cos' matters, exported as shipped."""
    import lightgbm
    from repo_rag.eval.train_ranker import export_ranker

    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES))).astype(np.float32)
    y = (x[:, FEATURES.index("dense_cos")] > 0.7).astype(int)
    model = lightgbm.LGBMRanker(n_estimators=20, min_child_samples=5, verbose=-1)
    model.fit(x, y, group=[20] * 20)
    path = tmp_path / "ranker.json"
    export_ranker(model.booster_, path, {"trained_on": ["toy"]})
    if features is not None:
        meta = json.loads(path.read_text())
        path.write_text(json.dumps({**meta, "features": features}))
    return path, model.booster_


def test_model_file_is_checked(tmp_path: Path) -> None:
    path, booster = _tiny_model(tmp_path)
    good = LearnedRanker.load(path)
    x = np.random.default_rng(1).random((50, len(FEATURES))).astype(np.float32)
    assert good.score(x) == pytest.approx(booster.predict(x), abs=1e-4)  # ONNX runs what LightGBM trained
    x = np.zeros((2, len(FEATURES)), dtype=np.float32)
    x[1, FEATURES.index("dense_cos")] = 0.9
    s = good.score(x)
    assert s[1] > s[0]
    with pytest.raises(RankerError, match="does not match this version's features"):
        LearnedRanker.load(_tiny_model(tmp_path, [*FEATURES[:-1], "made_up"])[0])
    onnx = path.with_suffix(".onnx")
    onnx.write_bytes(onnx.read_bytes() + b"x")
    with pytest.raises(RankerError, match="sha256 differs"):
        LearnedRanker.load(path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RankerError, match="cannot read"):
        LearnedRanker.load(bad)
    bad.write_text(json.dumps({"format": 1, "model": ""}))
    with pytest.raises(RankerError, match="not a repo-rag ranking model"):
        LearnedRanker.load(bad)


def test_shipped_model_loads_and_fits_the_features() -> None:
    ranker = LearnedRanker.load(RANKER_FILE)
    assert ranker.meta["trained_on"] and ranker.meta["validated_on"]
    assert not {k.split("-", 1)[1] for k in ranker.meta["trained_on"]} & {
        k.split("-", 1)[1] for k in ranker.meta["validated_on"]}


def test_retriever_uses_the_model_or_says_why_not(polyglot_repo: Repository, tmp_path: Path) -> None:
    r = polyglot_repo.retriever
    learned = polyglot_repo.search("where is password validation done?", k=5)
    assert "rank_ms" in learned.timings and not learned.notes
    cfg = load_config(None, overrides={"search": {"ranker_model": str(tmp_path / "missing.json")}})
    broken = HybridRetriever(r.store, cfg.search, r.embedder, r.vectors, r.graph)
    result = broken.search("where is password validation done?", k=5)
    assert any("learned ranking unavailable" in n for n in result.notes)
    assert "rank_ms" not in result.timings and result.hits
    rrf_cfg = load_config(None, overrides={"search": {"ranking": "rrf"}})
    plain = HybridRetriever(r.store, rrf_cfg.search, r.embedder, r.vectors, r.graph).search("password", k=5)
    assert not plain.notes and "rank_ms" not in plain.timings
    with pytest.raises(ConfigError, match=r"search\.ranking"):
        HybridRetriever(r.store, load_config(None, overrides={"search": {"ranking": "magic"}}).search)


def test_candidates_match_what_search_ranks(polyglot_repo: Repository) -> None:
    c = polyglot_repo.retriever.candidates("where is password validation done?", k=5)
    assert c.features.shape == (len(c.pool.ids), len(FEATURES))
    assert c.pool.cosine and set(c.pool.cosine) <= set(c.pool.ids)
    top = polyglot_repo.search("where is password validation done?", k=5).hits
    assert {h.chunk_id for h in top} <= set(c.pool.ids)
