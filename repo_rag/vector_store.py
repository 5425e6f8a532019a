"""Which engine answers the dense channel, behind one small interface.

Every implementation searches the vectors the index database holds (the indexer writes them there,
``repo_rag.store``) and offers what the retriever uses: ``search(query, k)`` (chunk id, inner product,
best first), ``cosines(query, ids)``, ``len()``, ``model_id`` and ``dim``. Decided by
``[vectors] store`` (``REPO_RAG_VECTORS_STORE``), in order:

1. ``faiss`` (default): the vectors loaded into an in-process FAISS index, exact up to
   ``approximate_above`` vectors and an approximate one above (:class:`repo_rag.vectors.VectorIndex`);
2. ``qdrant``: a Qdrant collection mirroring them, on a server/cluster or embedded
   (:class:`repo_rag.qdrant_vectors.QdrantVectors`; ``pip install 'repo-rag[scale]'``).

Anything else is a configuration error naming the choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .config import VECTOR_STORES, Config, ConfigError
from .store import Store


class VectorSearch(Protocol):
    model_id: str
    dim: int

    def __len__(self) -> int: ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...

    def cosines(self, query: np.ndarray, ids: list[int]) -> dict[int, float]: ...


def store_kind(config: Config) -> str:
    """The configured store, checked (a clear error before any work)."""
    store = config.vectors.store.strip().lower()
    if store not in VECTOR_STORES:
        raise ConfigError(f"vectors.store must be one of {', '.join(VECTOR_STORES)}, not {config.vectors.store!r}")
    return store


def check_store(config: Config, repo_root: Path) -> None:
    """A clear error before any work for a store that cannot be used as configured."""
    if store_kind(config) == "qdrant":
        from .qdrant_vectors import check_target

        check_target(config.vectors, repo_root)


def open_vectors(store: Store, config: Config, repo_root: Path, index_dir: Path,
                 previous: VectorSearch | None = None) -> VectorSearch | None:
    """The dense search over ``store``'s vectors (None when it holds none). ``previous``: what was loaded
    for this index before; an in-process index of the same model, configuration and kind is updated in
    place (only the vectors that changed are read) instead of loaded again."""
    if store_kind(config) == "qdrant":
        from .qdrant_vectors import QdrantVectors

        return QdrantVectors.for_store(store, config.vectors, repo_root, index_dir)
    from .vectors import VectorIndex

    if isinstance(previous, VectorIndex) and _same_setup(previous, store, config):
        previous.refresh(store)
        return previous if len(previous) else None
    return VectorIndex.from_store(store, approximate_above=config.vectors.approximate_above,
                                  ef_search=config.vectors.ef_search)


def _same_setup(loaded, store: Store, config: Config) -> bool:
    """Same model, dimension and embedding configuration, and an index kind the new size keeps."""
    manifest = store.get_manifest()
    if (loaded.model_id, str(loaded.dim), loaded.fingerprint) != (
            manifest.get("embed_model"), manifest.get("embed_dim"), manifest.get("dense_fingerprint")):
        return False
    above = config.vectors.approximate_above
    return loaded.approximate or not above or len(store.vector_ids()) <= above


def mirror_vectors(store: Store, config: Config, repo_root: Path, index_dir: Path) -> tuple[int, int] | None:
    """After an indexing run: bring an external vector store in line with ``store`` and record it;
    (upserted, deleted), or None for the in-process store (it loads from the database directly)."""
    if store_kind(config) != "qdrant":
        return None
    from .qdrant_vectors import QdrantVectors

    manifest = store.get_manifest()
    if not manifest.get("embed_model") or not manifest.get("dense_fingerprint"):
        return 0, 0
    mirror = QdrantVectors(config.vectors, repo_root, index_dir, manifest["embed_model"],
                           int(manifest.get("embed_dim", "0")), manifest["dense_fingerprint"])
    return mirror.sync(store)
