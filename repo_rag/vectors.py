"""In-memory FAISS search over the dense vectors stored in the index database.

Vectors are persisted as plain float32 rows in SQLite (see repo_rag.store), never as a FAISS or
pickle file, so loading an index deserialises no foreign format; nothing else is persisted either:
an approximate index is rebuilt from those rows at load time. Vectors are normalised, so the metric
is inner product. Ids are chunk ids, which are never reused. When faiss-gpu and a GPU are present,
searches run on the GPU.

Decision order for the index kind (``from_store``):

1. no vectors or no recorded model: no index (None);
2. up to ``approximate_above`` vectors (``vectors.approximate_above``; 0 = always exact): exact
   ``IndexFlatIP`` in an ``IndexIDMap2``: no training, builds at memory speed, but one query scans every
   vector (measured single-threaded on 2 cores, 384 dims: p95 28 ms at 200k, 89 ms at 500k, docs/benchmarks.md
   section 12);
3. above it: an inverted-file index (``IndexIVFFlat``, inner product) with ``nlist = sqrt(n)`` lists,
   trained on a fixed-seed sample of ``TRAIN_PER_LIST`` rows per list (k-means, deterministic for a given
   set of rows), probing ``nprobe = min(vectors.ef_search, nlist)`` lists per query (128 by default:
   recall@10 0.974 against exact at 1M, p95 42 ms single-threaded).
   IVF rather than HNSW because it is rebuilt from the SQLite rows every time a process opens the index
   (at 1M on 2 cores: HNSW 277 s, IVF 12 s), and because it removes vectors natively
   (``remove_ids`` with a hash-table id map, which also serves ``reconstruct`` for ``cosines``); HNSW
   answers faster at the same recall, but cannot remove and is not worth its load time here.
   sqrt(n) lists rather than more because k-means cost grows with the square of the list count: at 1M,
   4 x sqrt(n) lists reached the same recall in half the time but took 7 x longer to build (81 s).

An index only changes kind when it is loaded again: ``add`` to an exact index past the threshold keeps
it exact, and ``add`` to an approximate one puts the new vectors in the lists of their nearest
trained centroids (the centroids are not retrained).
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from .store import Store

_CONFIGURED = False
TRAIN_PER_LIST = 40  # k-means sample per list (faiss warns below 39)
KMEANS_ITERATIONS = 10


def _faiss():
    import faiss

    global _CONFIGURED
    if not _CONFIGURED:
        # One query against a flat index is a few ms single-threaded; OpenMP fan-out only adds
        # spin-wait latency (measured 76 ms vs 2 ms on a busy 2-core machine).
        faiss.omp_set_num_threads(1)
        _CONFIGURED = True
    return faiss


def nlist_for(n: int) -> int:
    """Inverted lists for ``n`` vectors: sqrt(n) (1,000 at 1M), at least 1 and at most n / 40."""
    return max(1, min(int(math.sqrt(n)), n // TRAIN_PER_LIST))


def nprobe_for(ef_search: int, nlist: int) -> int:
    """Lists probed per query: the configured search breadth (``vectors.ef_search``), at most nlist."""
    return max(1, min(int(ef_search), nlist))


class VectorIndex:
    def __init__(self, dim: int, model_id: str) -> None:
        faiss = _faiss()
        self.dim = dim
        self.model_id = model_id
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.approximate = False
        self.fingerprint = ""  # the index's dense_fingerprint these vectors were loaded under
        self._gpu_index = None
        # Reentrant: search holds it across _searcher; refresh() edits the index under it while the
        # retrievers of other threads may still search the same object.
        self._lock = threading.RLock()

    @classmethod
    def from_store(cls, store: Store, approximate_above: int = 200_000, ef_search: int = 128) -> VectorIndex | None:
        """The stored vectors of ``store`` (None when it has none or no recorded model); approximate
        (IVF) when there are more than ``approximate_above`` of them (0: always exact)."""
        manifest = store.get_manifest()
        model_id = manifest.get("embed_model", "")
        try:
            dim = int(manifest.get("embed_dim", "0"))
        except ValueError:
            return None
        if not model_id or not 0 < dim <= 65536:
            return None
        ids, matrix = store.load_vectors(dim)
        if not len(ids):
            return None
        obj = cls(dim, model_id)
        obj.fingerprint = manifest.get("dense_fingerprint", "")
        if approximate_above and len(ids) > approximate_above:
            obj.make_approximate(matrix, ef_search)
        obj.add(ids.tolist(), matrix)
        return obj

    def ids(self) -> np.ndarray:
        """The chunk ids held (int64, unordered)."""
        faiss = _faiss()
        with self._lock:
            if not self.approximate:
                return faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)
            lists = self.index.invlists
            parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                     for i in range(self.index.nlist) if lists.list_size(i)]
            return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)

    def refresh(self, store: Store) -> tuple[int, int]:
        """Bring this index in line with ``store``'s vectors in place: remove the ids it no longer has,
        add the ones it gained (ids are never reused, so that is the whole difference); (added, removed).
        A re-index of a few files then costs a few vectors, not a reload of all of them (seconds at
        1M chunks, plus the IVF training)."""
        want = np.fromiter(store.vector_ids(), dtype=np.int64)
        have = self.ids()
        gone = np.setdiff1d(have, want, assume_unique=True)
        new = np.setdiff1d(want, have, assume_unique=True)
        removed = self.remove(gone.tolist())
        ids, matrix = store.vectors_for(new.tolist(), self.dim)
        self.add(ids.tolist(), matrix)
        return len(ids), removed

    def make_approximate(self, sample: np.ndarray, ef_search: int = 128) -> None:
        """Switch this (empty) index to IVF, training its lists on ``sample`` (normally all rows to add).

        The k-means runs on a fixed-seed subset of ``TRAIN_PER_LIST`` rows per list, on every core
        (loading is not a query: the single-thread setting is restored afterwards).
        """
        if len(self):
            raise ValueError("make_approximate needs an empty index: build it before adding vectors")
        faiss = _faiss()
        x = np.ascontiguousarray(sample, dtype=np.float32)
        nlist = nlist_for(len(x))
        rows = np.random.default_rng(0).choice(len(x), size=min(len(x), nlist * TRAIN_PER_LIST), replace=False)
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = KMEANS_ITERATIONS
        index.cp.seed = 1234
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.train(x[np.sort(rows)])
        finally:
            faiss.omp_set_num_threads(1)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct(id) and remove_ids
        index.nprobe = nprobe_for(ef_search, nlist)
        with self._lock:
            self.index = index
            self.approximate = True
            self._gpu_index = None

    # -- content -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        if ids:
            x = np.ascontiguousarray(vectors, dtype=np.float32)
            with self._lock:
                faiss = _faiss()
                if self.approximate:  # assigning rows to lists is a matrix product: use every core
                    faiss.omp_set_num_threads(os.cpu_count() or 1)
                try:
                    self.index.add_with_ids(x, np.asarray(ids, dtype=np.int64))
                finally:
                    faiss.omp_set_num_threads(1)
                self._gpu_index = None

    def remove(self, ids: list[int]) -> int:
        """Drop the vectors of ``ids`` (ids without one are ignored); returns how many were removed."""
        if not ids or not len(self):
            return 0
        faiss = _faiss()
        arr = np.ascontiguousarray(sorted({int(i) for i in ids}), dtype=np.int64)
        with self._lock:
            # IDSelectorArray: the only selector the IVF hash-table id map accepts; the flat IdMap2 takes it too.
            removed = int(self.index.remove_ids(faiss.IDSelectorArray(len(arr), faiss.swig_ptr(arr))))
            self._gpu_index = None
        return removed

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            if not len(self):
                return []
            scores, ids = self._searcher().search(q, min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def cosines(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Inner product of ``query`` with the stored vector of each id that has one."""
        if not ids or not len(self):
            return {}
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        out: dict[int, float] = {}
        with self._lock:
            for i in ids:
                try:
                    out[i] = float(self.index.reconstruct(int(i)) @ q)
                except (RuntimeError, KeyError):  # no vector for this chunk (outside the dense scope)
                    continue
        return out

    def _searcher(self):
        faiss = _faiss()
        if self._gpu_index is None and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
            with self._lock:
                self._gpu_index = faiss.index_cpu_to_all_gpus(self.index)
        return self._gpu_index or self.index
