"""VectorIndex: exact below the size threshold, IVF above it; recall, add, remove and cosines on both."""

from __future__ import annotations

import numpy as np
import pytest

from repo_rag.vectors import VectorIndex, nlist_for

DIM = 32


class _Store:
    """What ``VectorIndex.from_store`` reads of a store: the manifest and the float32 rows."""

    def __init__(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        self.ids, self.matrix = ids, matrix

    def get_manifest(self) -> dict[str, str]:
        return {"embed_model": "test-model", "embed_dim": str(DIM)}

    def load_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        assert dim == DIM
        return self.ids, self.matrix


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=-1, keepdims=True)).astype(np.float32)


def _clustered(n: int, seed: int, clusters: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIM))
    return _unit(centres[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, DIM)))


@pytest.fixture(scope="module")
def data() -> tuple[_Store, np.ndarray]:
    x = _clustered(6000, seed=1)
    ids = np.arange(10, 10 + len(x), dtype=np.int64) * 3  # chunk ids are sparse, not row numbers
    queries = _unit(x[::60] + 0.1 * np.random.default_rng(2).normal(size=x[::60].shape))
    return _Store(ids, x), queries


def test_threshold_picks_the_kind(data) -> None:
    store, _ = data
    n = len(store.ids)
    assert not VectorIndex.from_store(store).approximate  # the old call: default threshold 500k
    assert not VectorIndex.from_store(store, approximate_above=0).approximate  # 0: always exact
    assert not VectorIndex.from_store(store, approximate_above=n).approximate  # "more than", not "at least"
    approx = VectorIndex.from_store(store, approximate_above=n - 1)
    assert approx.approximate and len(approx) == n and approx.dim == DIM and approx.model_id == "test-model"
    assert approx.index.nlist == nlist_for(n)


def test_approximate_recall_at_10_against_exact(data) -> None:
    store, queries = data
    exact = VectorIndex.from_store(store, approximate_above=0)
    approx = VectorIndex.from_store(store, approximate_above=1000, ef_search=8)
    assert approx.index.nprobe == 8 < approx.index.nlist  # a real approximation: 8 of the lists probed
    recalls, approx_scores_ok = [], True
    for q in queries:
        truth = [i for i, _ in exact.search(q, 10)]
        got = approx.search(q, 10)
        recalls.append(len({i for i, _ in got} & set(truth)) / 10)
        cos = approx.cosines(q, [i for i, _ in got])
        approx_scores_ok &= all(abs(cos[i] - s) < 1e-4 for i, s in got)
    assert np.mean(recalls) >= 0.95
    assert approx_scores_ok  # the scores it returns are the true inner products


@pytest.mark.parametrize("threshold", [0, 1000], ids=["exact", "ivf"])
def test_add_remove_cosines(data, threshold: int) -> None:
    store, _ = data
    index = VectorIndex.from_store(store, approximate_above=threshold, ef_search=8)
    n = len(index)
    new = _clustered(5, seed=3)
    new_ids = [900_001, 900_002, 900_003, 900_004, 900_005]
    index.add(new_ids, new)
    assert len(index) == n + 5
    assert index.search(new[2], 3)[0][0] == 900_003
    assert index.cosines(new[2], [900_003, 900_004, 123_456_789]) == pytest.approx(
        {900_003: 1.0, 900_004: float(new[3] @ new[2])}, abs=1e-5)  # an id without a vector is left out

    old_id = int(store.ids[100])
    assert index.search(store.matrix[100], 1)[0][0] == old_id
    assert index.remove([900_003, old_id, 123_456_789]) == 2  # unknown ids are ignored
    assert len(index) == n + 3
    assert 900_003 not in {i for i, _ in index.search(new[2], 20)}
    assert old_id not in {i for i, _ in index.search(store.matrix[100], 20)}
    assert index.cosines(new[2], [900_003, old_id, 900_002]).keys() == {900_002}
    assert index.remove([]) == 0

    index.add([900_003], new[2:3])  # a removed id can come back (a re-embedded chunk)
    assert index.search(new[2], 1)[0][0] == 900_003


def test_make_approximate_refuses_a_filled_index(data) -> None:
    store, _ = data
    index = VectorIndex.from_store(store, approximate_above=0)
    with pytest.raises(ValueError):
        index.make_approximate(store.matrix)


@pytest.mark.parametrize("approximate_above", [0, 1])  # exact, and IVF from the first vector
def test_a_reindex_updates_the_loaded_index_in_place(tmp_path, approximate_above: int) -> None:
    """After a small re-index the loaded index is edited (removed and added vectors only), not loaded again,
    and holds exactly the store's vectors; a change of embedding configuration loads afresh."""
    import shutil
    from dataclasses import replace

    from conftest import POLYGLOT

    from repo_rag.config import load_config
    from repo_rag.repository import Repository

    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo_dir)
    cfg = load_config(repo_dir)
    cfg = replace(cfg, vectors=replace(cfg.vectors, approximate_above=approximate_above, ef_search=10_000))
    repo = Repository(repo_dir, cfg, tmp_path / "index")
    repo.index()
    loaded = repo.retriever.vectors
    assert loaded.approximate == bool(approximate_above)
    target = repo_dir / "bookstore" / "auth.py"
    target.write_text(target.read_text() + "\n\ndef rotate_signing_keys(keyring):\n    return keyring[::-1]\n")
    repo.index()
    assert repo.retriever.vectors is loaded
    assert set(loaded.ids().tolist()) == repo.store.vector_ids()
    new = [c.id for c in repo.store.chunks_for_path("bookstore/auth.py") if c.name == "rotate_signing_keys"]
    q = repo.embedder.embed_query("rotate signing keys keyring")
    assert new and new[0] in [i for i, _ in loaded.search(q, 5)]
    assert len(loaded.cosines(q, new)) == 1

    changed = replace(cfg, embed=replace(cfg.embed, body_chars=300))
    other = Repository(repo_dir, changed, tmp_path / "index")
    other.index()
    other._retriever = repo.retriever  # as if this object had loaded the old configuration
    assert other.retriever.vectors is not loaded
