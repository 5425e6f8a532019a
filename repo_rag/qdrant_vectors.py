"""Dense vectors served by Qdrant: one collection per repository and embedding configuration.

The index database stays the record (its ``vectors`` table is what the indexer writes, in its
transactions); a Qdrant collection is a mirror of it that a cluster can shard, replicate and share
between many front-ends. Point ids are the store's chunk ids, which are never reused, so bringing a
collection up to date is a difference of two id sets: upsert the store's ids the collection lacks,
delete the ids the store no longer has (:meth:`QdrantVectors.sync`). The indexer syncs after every
run and records what it mirrored (``qdrant_mirror`` in the manifest: collection and a digest of the
id set); a reader that finds the record out of date (an indexer killed between its commit and the
sync, a store switched from FAISS) syncs before it searches.

Collection name: ``rr_<repository name>_<hash of repository + index path>_<hash of the embedding
configuration>``; a change of model, window, text recipe or scope therefore lands in a new
collection, and the repository's older collections are dropped when it is created. Payload: the
repository, the chunk's path, every folder above it (``dirs``, keyword-indexed, for "under this
folder" filters), language and whether it is a test.

Where Qdrant runs, decided in order: ``qdrant_url`` (a server or cluster, API key from the
environment variable named by ``qdrant_api_key_env``); else ``qdrant_path`` (qdrant-client's embedded
mode, one process at a time). Embedded mode unpickles what it stored, so its folder is held to the
rules of an index directory: outside the repository being indexed, owned by the current user, not
writable by others, no symlinks inside; anything else is refused before qdrant-client opens it.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .config import ConfigError, VectorsConfig
from .errors import RepoRagError
from .store import Store

UPSERT_BATCH = 512
MIRROR_KEY = "qdrant_mirror"


class QdrantUnavailableError(RepoRagError, RuntimeError):
    """qdrant-client is missing, the server cannot be reached, or embedded storage is locked or unsafe."""


_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def check_target(cfg: VectorsConfig, repo_root: Path) -> None:
    """Exactly one of a server URL or a safe embedded folder (checked before any index work)."""
    if bool(cfg.qdrant_url) == bool(cfg.qdrant_path):
        raise ConfigError('vectors.store = "qdrant" needs exactly one of vectors.qdrant_url (a server) or '
                          "vectors.qdrant_path (embedded mode)")
    if cfg.qdrant_path:
        check_local_path(Path(cfg.qdrant_path), repo_root)


def _client(cfg: VectorsConfig, repo_root: Path):
    """One client per server or folder in this process (embedded storage admits a single client)."""
    check_target(cfg, repo_root)
    try:
        from qdrant_client import QdrantClient
    except ImportError as exc:
        raise QdrantUnavailableError("the qdrant store needs qdrant-client: pip install 'repo-rag[scale]'") from exc
    if cfg.qdrant_path:
        folder = check_local_path(Path(cfg.qdrant_path), repo_root)
        key = f"path:{folder}"
    else:
        key = f"url:{cfg.qdrant_url}"
    with _clients_lock:
        if not _clients:  # closed while the interpreter still works (embedded mode's __del__ fails later)
            atexit.register(close_clients)
        if key not in _clients:
            try:
                if cfg.qdrant_path:
                    _clients[key] = QdrantClient(path=str(folder))
                else:
                    api_key = os.environ.get(cfg.qdrant_api_key_env) or None
                    _clients[key] = QdrantClient(url=cfg.qdrant_url, api_key=api_key)
            except RuntimeError as exc:  # embedded storage held by another process
                raise QdrantUnavailableError(f"cannot open Qdrant storage: {exc}") from exc
        return _clients[key]


def close_clients() -> None:
    """Release every client (embedded storage unlocks for another process)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def check_local_path(folder: Path, repo_root: Path) -> Path:
    """The embedded-mode folder, created if missing, after the checks of the module docstring."""
    folder = Path(os.path.abspath(folder))
    if folder.is_symlink():
        raise QdrantUnavailableError(f"vectors.qdrant_path must not be a symlink: {folder}")
    real = folder.resolve()
    if real.is_relative_to(repo_root.resolve()):
        raise QdrantUnavailableError(
            f"vectors.qdrant_path {folder} is inside the repository {repo_root}: embedded Qdrant storage "
            "is unpickled when opened, so it must live outside any repository (e.g. ~/.cache/repo-rag/qdrant)")
    real.mkdir(parents=True, exist_ok=True, mode=0o700)
    uid = os.getuid()
    for root, dirs, files in os.walk(real):
        for name in [*dirs, *files, ""]:
            p = Path(root, name) if name else Path(root)
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
                raise QdrantUnavailableError(
                    f"refusing embedded Qdrant storage {real}: {p} is a symlink, not yours, or writable by others")
    return real


def collection_name(repo_root: Path, index_dir: Path, fingerprint: str) -> str:
    where = hashlib.sha256(f"{repo_root.resolve()}\0{index_dir.resolve()}".encode()).hexdigest()[:10]
    what = hashlib.sha256(fingerprint.encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", repo_root.name)[:60] or "repo"
    return f"rr_{name}_{where}_{what}"


def ids_digest(ids: Iterable[int], fingerprint: str) -> str:
    h = hashlib.sha256(fingerprint.encode())
    h.update(np.asarray(sorted(ids), dtype="<i8").tobytes())
    return h.hexdigest()


def _payload(repo: str, path: str, language: str, is_test: bool) -> dict:
    parts = path.split("/")[:-1]
    return {"repo": repo, "path": path, "dirs": ["/".join(parts[: i + 1]) for i in range(len(parts))],
            "language": language, "is_test": bool(is_test)}


class QdrantVectors:
    """The dense search of one repository's index, answered by its Qdrant collection."""

    def __init__(self, cfg: VectorsConfig, repo_root: Path, index_dir: Path, model_id: str, dim: int,
                 fingerprint: str) -> None:
        self.cfg = cfg
        self.repo_root = repo_root
        self.model_id = model_id
        self.dim = dim
        self.fingerprint = fingerprint
        self.collection = collection_name(repo_root, index_dir, fingerprint)
        self.prefix = self.collection.rsplit("_", 1)[0] + "_"
        self.client = _client(cfg, repo_root)
        self._count: int | None = None

    @classmethod
    def for_store(cls, store: Store, cfg: VectorsConfig, repo_root: Path, index_dir: Path) -> QdrantVectors | None:
        """The mirror of ``store``'s vectors (None when it has none), synced first if out of date."""
        manifest = store.get_manifest()
        model_id, fingerprint = manifest.get("embed_model", ""), manifest.get("dense_fingerprint", "")
        try:
            dim = int(manifest.get("embed_dim", "0"))
        except ValueError:
            return None
        if not model_id or not fingerprint or not 0 < dim <= 65536:
            return None
        obj = cls(cfg, repo_root, index_dir, model_id, dim, fingerprint)
        obj.sync(store, record=False)
        return obj if len(obj) else None

    # -- keeping the mirror --------------------------------------------------------------------
    def _ensure_collection(self) -> None:
        from qdrant_client import models

        if self.client.collection_exists(self.collection):
            return
        for c in self.client.get_collections().collections:  # this repository's older configurations
            if c.name.startswith(self.prefix):
                self.client.delete_collection(c.name)
        self.client.create_collection(
            self.collection, vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.DOT))
        if self.cfg.qdrant_url:  # embedded mode filters without indexes (and warns about them)
            for key in ("path", "dirs", "repo"):
                self.client.create_payload_index(self.collection, key, models.PayloadSchemaType.KEYWORD)

    def _mirrored_ids(self) -> set[int]:
        ids: set[int] = set()
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection, limit=4096, offset=offset, with_payload=False,
                                                with_vectors=False)
            ids.update(int(p.id) for p in points)
            if offset is None:
                return ids

    def sync(self, store: Store, record: bool = True) -> tuple[int, int]:
        """Bring the collection in line with the store; (upserted, deleted). ``record``: write what was
        mirrored to the manifest (the indexer, which owns the store; a reader only syncs)."""
        from qdrant_client import models

        want = store.vector_ids()
        digest = ids_digest(want, self.fingerprint)
        recorded = json.loads(store.get_manifest().get(MIRROR_KEY, "{}") or "{}")
        exists = self.client.collection_exists(self.collection)
        if exists and recorded == {"collection": self.collection, "digest": digest} \
                and self.client.count(self.collection, exact=True).count == len(want):
            self._count = len(want)
            return 0, 0
        self._ensure_collection()
        have = self._mirrored_ids()
        add, gone = sorted(want - have), sorted(have - want)
        for start in range(0, len(gone), 4096):
            self.client.delete(self.collection, points_selector=models.PointIdsList(points=gone[start : start + 4096]))
        for start in range(0, len(add), UPSERT_BATCH):
            ids, matrix = store.vectors_for(add[start : start + UPSERT_BATCH], self.dim)
            chunks = store.chunks_by_ids(ids.tolist())
            keep = [row for row, i in enumerate(ids.tolist()) if i in chunks]
            if not keep:
                continue
            payloads = [_payload(self.repo_root.name, chunks[int(ids[r])].path, chunks[int(ids[r])].language,
                                 chunks[int(ids[r])].is_test) for r in keep]
            self.client.upsert(self.collection, points=models.Batch(
                ids=[int(ids[r]) for r in keep], vectors=matrix[keep].tolist(), payloads=payloads))
        self._count = self.client.count(self.collection, exact=True).count
        if record:
            with store.transaction() as con:
                store.set_manifest(con, {MIRROR_KEY: {"collection": self.collection, "digest": digest}})
        return len(add), len(gone)

    # -- search (the interface of repo_rag.vectors.VectorIndex) ----------------------------------
    def __len__(self) -> int:
        if self._count is None:
            self._count = self.client.count(self.collection, exact=True).count
        return self._count

    def search(self, query: np.ndarray, k: int, under: str = "") -> list[tuple[int, float]]:
        """The ``k`` nearest chunks (id, inner product); ``under``: only chunks below that folder."""
        from qdrant_client import models

        flt = None
        if under.strip("/"):
            folder = models.FieldCondition(key="dirs", match=models.MatchValue(value=under.strip("/")))
            flt = models.Filter(must=[folder])
        res = self.client.query_points(self.collection, query=np.asarray(query, dtype=np.float32).reshape(-1).tolist(),
                                       limit=k, query_filter=flt, with_payload=False)
        return [(int(p.id), float(p.score)) for p in res.points]

    def cosines(self, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        if not ids:
            return {}
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        points = self.client.retrieve(self.collection, ids=[int(i) for i in ids], with_vectors=True, with_payload=False)
        return {int(p.id): float(np.asarray(p.vector, dtype=np.float32) @ q) for p in points}
