"""Scale-out: the Ray engine builds the index the local engine builds; Qdrant answers as FAISS does.

Ray runs as a local cluster started by the engine (127.0.0.1); Qdrant in qdrant-client's embedded mode.
The werkzeug 3.1.3 sdist (fetched from PyPI into the cache once) is the repository the issue names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import POLYGLOT, stored_vectors
from repo_rag.eval.bench_scale import WERKZEUG, WERKZEUG_QUESTIONS
from repo_rag.eval.projects import fetch_project

from repo_rag.config import ConfigError, load_config
from repo_rag.indexer import Indexer
from repo_rag.qdrant_vectors import QdrantUnavailableError, QdrantVectors, check_local_path, close_clients
from repo_rag.ray_engine import RayEngine
from repo_rag.repository import Repository
from repo_rag.store import Store


@pytest.fixture(scope="module")
def engine():
    eng = RayEngine()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def werkzeug() -> Path:
    return fetch_project(WERKZEUG)


def _chunks(store: Store) -> list[tuple]:
    q = "SELECT id, path, start_line, end_line, kind, qualname, text FROM chunks ORDER BY id"
    return list(store.con.execute(q))


def _graph_edges(index_dir: Path) -> set[tuple]:
    from repo_rag.graph import load_graph

    g = load_graph(index_dir / "graph.npz")
    return {repr(e) for e in g.edges()}


def test_ray_engine_builds_the_local_index(tmp_path: Path, engine: RayEngine) -> None:
    """Same chunks (ids included), same graph; vectors computed by the cluster's encoders (no cache)
    equal the local encoder's within float tolerance."""
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo)
    cfg = load_config(repo)
    cfg = replace(cfg, embed=replace(cfg.embed, cache=False))
    local = Indexer(repo, cfg, tmp_path / "local").run(workers=2)
    on_ray = Indexer(repo, cfg, tmp_path / "ray", engine=engine).run()
    assert on_ray.engine == "ray" and local.engine == "local"
    assert on_ray.embedded == local.embedded > 0 and on_ray.embedded_from_cache == 0
    a, b = Store(tmp_path / "local" / "index.sqlite"), Store(tmp_path / "ray" / "index.sqlite")
    assert _chunks(a) == _chunks(b) and len(_chunks(a)) > 20
    assert _graph_edges(tmp_path / "local") == _graph_edges(tmp_path / "ray")
    va, vb = stored_vectors(a), stored_vectors(b)
    assert set(va) == set(vb)
    assert min(float(va[k] @ vb[k]) for k in va) > 0.999

    # an edit re-indexed on the cluster: only that file is parsed again, and the result equals the local one;
    # the engine's encoder actors are reused, not started again
    actors = list(engine._encoders)
    target = repo / "bookstore" / "auth.py"
    target.write_text(target.read_text() + "\n\ndef added_on_edit(x):\n    return x + 1\n")
    again = Indexer(repo, cfg, tmp_path / "ray", engine=engine).run()
    assert again.files_parsed == 1 and again.embedded >= 1 and engine._encoders == actors
    assert Indexer(repo, cfg, tmp_path / "local").run().files_parsed == 1
    assert _chunks(a) == _chunks(b)
    assert any("added_on_edit" in row[5] for row in _chunks(b))


def test_ray_engine_on_werkzeug_gives_the_same_top5(tmp_path: Path, engine: RayEngine, werkzeug: Path) -> None:
    cfg = load_config(werkzeug)
    Indexer(werkzeug, cfg, tmp_path / "local").run()
    Indexer(werkzeug, cfg, tmp_path / "ray", engine=engine).run()
    local, on_ray = Repository(werkzeug, cfg, tmp_path / "local"), Repository(werkzeug, cfg, tmp_path / "ray")
    for q in WERKZEUG_QUESTIONS:
        assert [f.path for f in local.search_files(q, k=5)] == [f.path for f in on_ray.search_files(q, k=5)], q


@pytest.mark.parametrize("n", [0, 5, 33, 1000, 1024])
@pytest.mark.parametrize("actors", [1, 2, 3, 5])
def test_encoder_slices_keep_the_local_batches(n: int, actors: int) -> None:
    from repo_rag.ray_engine import slices

    got = slices(n, actors, 32)
    assert len(got) <= actors and all(a % 32 == 0 for a, _ in got)
    assert [i for a, b in got for i in range(a, b)] == list(range(n))


def test_cli_indexes_several_repositories_on_one_cluster(tmp_path: Path) -> None:
    repos = []
    for name in ("one", "two"):
        shutil.copytree(POLYGLOT, tmp_path / name)
        repos.append(str(tmp_path / name))
    env = {**os.environ, "REPO_RAG_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "repo_rag.cli", "index", *repos, "--engine", "ray", "--json", "-q"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    reports = json.loads(out.stdout)
    assert [r["engine"] for r in reports] == ["ray", "ray"]
    assert reports[0]["chunks_total"] == reports[1]["chunks_total"] > 20
    assert reports[0]["embedded"] > 0 and reports[1]["embedded_from_cache"] == reports[0]["embedded"]
    bad = subprocess.run([sys.executable, "-m", "repo_rag.cli", "index", *repos, "--index-dir", str(tmp_path / "x")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "take one repository" in bad.stderr


def test_no_local_cluster_without_ray_auth(monkeypatch: pytest.MonkeyPatch, engine: RayEngine) -> None:
    """With Ray's token authentication switched off, no local cluster is started (one that is already
    joined, like the module's, is simply used)."""
    import ray

    from repo_rag.ray_engine import RayEngineError

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    started = []
    monkeypatch.setattr(ray, "init", lambda *a, **k: started.append(k))
    with pytest.raises(RayEngineError, match="RAY_AUTH_MODE=disabled"):
        RayEngine()
    assert not started
    RayEngine("ray://cluster.example:10001")  # a cluster the user runs is theirs to secure
    assert started and started[0]["address"] == "ray://cluster.example:10001"


# -- Qdrant -------------------------------------------------------------------------------------
def _qdrant(cfg, path: Path):
    return replace(cfg, vectors=replace(cfg.vectors, store="qdrant", qdrant_path=str(path)))


def test_qdrant_store_answers_as_faiss_does_on_werkzeug(tmp_path: Path, werkzeug: Path) -> None:
    cfg = load_config(werkzeug)
    faiss_repo = Repository(werkzeug, cfg, tmp_path / "index")
    faiss_repo.index()
    qcfg = _qdrant(cfg, tmp_path / "qdrant")
    q_repo = Repository(werkzeug, qcfg, tmp_path / "index")
    report = q_repo.index()
    assert report.vectors_mirrored["upserted"] == report.dense_chunks > 1000  # mirrored on the first run
    assert type(q_repo.retriever.vectors).__name__ == "QdrantVectors"
    faiss_top5 = [[f.path for f in faiss_repo.search_files(q, k=5)] for q in WERKZEUG_QUESTIONS]
    assert faiss_top5 == [[f.path for f in q_repo.search_files(q, k=5)] for q in WERKZEUG_QUESTIONS]
    close_clients()

    # the same through the command line and the environment variables the issue names
    env = {**os.environ, "REPO_RAG_VECTORS_STORE": "qdrant", "REPO_RAG_VECTORS_QDRANT_PATH": str(tmp_path / "q2")}
    cli = [sys.executable, "-m", "repo_rag.cli"]
    done = subprocess.run([*cli, "index", str(werkzeug), "--index-dir", str(tmp_path / "index"), "--json", "-q"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["vectors_mirrored"]["upserted"] == report.dense_chunks
    batch = tmp_path / "questions.jsonl"
    batch.write_text("".join(json.dumps(q) + "\n" for q in WERKZEUG_QUESTIONS))
    found = subprocess.run([*cli, "search", "--repo", str(werkzeug), "--index-dir", str(tmp_path / "index"),
                            "--batch", str(batch), "--files", "-k", "5"], capture_output=True, text=True, env=env,
                           timeout=600)
    assert found.returncode == 0, found.stderr
    assert [[f["path"] for f in json.loads(line)] for line in found.stdout.splitlines()] == faiss_top5


def test_qdrant_mirror_follows_edits_and_repairs_itself(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo)
    cfg = _qdrant(load_config(repo), tmp_path / "qdrant")
    r = Repository(repo, cfg, tmp_path / "index")
    first = r.index()
    store = Store(tmp_path / "index" / "index.sqlite")
    vectors = r.retriever.vectors
    assert isinstance(vectors, QdrantVectors) and len(vectors) == first.dense_chunks
    assert vectors._mirrored_ids() == store.vector_ids()

    # payload: repository, path and every folder above it, filterable
    q = r.embedder.embed_query("password hashing")
    under = vectors.search(q, 50, under="bookstore")
    chunks = store.chunks_by_ids([i for i, _ in under])
    assert under and all(c.path.startswith("bookstore/") for c in chunks.values())
    everywhere = store.chunks_by_ids([i for i, _ in vectors.search(q, 50)])
    assert {c.path.split("/")[0] for c in everywhere.values()} != {"bookstore"}

    # an edit: its old chunks' points go, the new ones come, nothing else is touched
    target = repo / "bookstore" / "auth.py"
    target.write_text(target.read_text() + "\n\ndef added_on_edit(x):\n    return x + 1\n")
    again = r.index()
    assert again.vectors_mirrored["upserted"] >= 1 and again.vectors_mirrored["deleted"] >= 1
    assert again.vectors_mirrored["upserted"] < first.dense_chunks
    assert vectors._mirrored_ids() == store.vector_ids()
    assert r.search("added_on_edit").hits[0].path == "bookstore/auth.py"

    # the mirror lost points behind the record's back (an indexer killed mid-sync): a reader repairs it
    gone = sorted(store.vector_ids())[:5]
    from qdrant_client import models

    vectors.client.delete(vectors.collection, points_selector=models.PointIdsList(points=gone))
    reopened = QdrantVectors.for_store(store, cfg.vectors, repo, tmp_path / "index")
    assert reopened is not None and reopened._mirrored_ids() == store.vector_ids()

    # a new embedding configuration is a new collection; the repository's old one is dropped
    cfg2 = replace(cfg, embed=replace(cfg.embed, body_chars=300))
    Repository(repo, cfg2, tmp_path / "index").index()
    names = [c.name for c in vectors.client.get_collections().collections]
    assert vectors.collection not in names and len([n for n in names if n.startswith(vectors.prefix)]) == 1
    close_clients()


def test_qdrant_embedded_storage_is_refused_where_it_could_be_planted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo)
    with pytest.raises(QdrantUnavailableError, match="inside the repository"):
        check_local_path(repo / ".qdrant", repo)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(QdrantUnavailableError, match="writable by others"):
        check_local_path(shared, repo)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "collection").symlink_to(repo)
    with pytest.raises(QdrantUnavailableError, match="symlink"):
        check_local_path(linked, repo)
    ok = check_local_path(tmp_path / "fresh", repo)
    assert ok.is_dir() and (ok.stat().st_mode & 0o777) == 0o700
    # the refusal comes before any index work, from the library as from the CLI
    cfg = _qdrant(load_config(repo), repo / ".qdrant")
    with pytest.raises(QdrantUnavailableError):
        Repository(repo, cfg, tmp_path / "index").index()


def test_unknown_store_or_engine_is_a_clear_error(tmp_path: Path) -> None:
    cfg = load_config(POLYGLOT, environ={"REPO_RAG_VECTORS_STORE": "milvus"})
    with pytest.raises(ConfigError, match=r"vectors\.store must be one of faiss, qdrant"):
        Indexer(POLYGLOT, cfg, tmp_path / "i").run()
    cfg = load_config(POLYGLOT, environ={"REPO_RAG_INDEX_ENGINE": "spark"})
    with pytest.raises(ConfigError, match=r"index\.engine must be one of local, ray"):
        Indexer(POLYGLOT, cfg, tmp_path / "i").run()
    cfg = load_config(POLYGLOT, environ={"REPO_RAG_VECTORS_STORE": "qdrant"})
    with pytest.raises(ConfigError, match="exactly one of"):
        Repository(POLYGLOT, cfg, tmp_path / "i").index()
    assert not (tmp_path / "i" / "index.sqlite").exists()


def test_env_names_of_the_issue_reach_the_config() -> None:
    url = "http://127.0.0.1:6333"
    cfg = load_config(POLYGLOT, environ={"REPO_RAG_VECTORS_STORE": "qdrant", "REPO_RAG_VECTORS_QDRANT_URL": url,
                                         "REPO_RAG_VECTORS_QDRANT_PATH": "/x"})
    assert (cfg.vectors.store, cfg.vectors.qdrant_url, cfg.vectors.qdrant_path) == ("qdrant", url, "/x")


def test_a_repository_config_cannot_choose_the_store_or_the_cluster(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".repo-rag.toml").write_text('[vectors]\nstore = "qdrant"\nqdrant_url = "http://evil.example"\n'
                                         '[index]\nengine = "ray"\nray_address = "ray://evil.example:10001"\n')
    with pytest.warns(UserWarning, match="ignored settings"):
        cfg = load_config(repo, environ={})
    chosen = (cfg.vectors.store, cfg.vectors.qdrant_url, cfg.index.engine, cfg.index.ray_address)
    assert chosen == ("faiss", "", "local", "")


def test_vectors_for_reads_only_asked_ids(polyglot_repo) -> None:
    store = polyglot_repo.store
    all_ids, matrix = store.load_vectors(polyglot_repo.retriever.vectors.dim)
    pick = [int(all_ids[5]), int(all_ids[0]), int(all_ids.max()) + 1000]
    ids, got = store.vectors_for(pick, matrix.shape[1])
    assert ids.tolist() == sorted(pick[:2]) and np.array_equal(got, matrix[[0, 5]])
