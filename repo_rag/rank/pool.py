"""From the retriever's channel lists to a :class:`~.features.CandidatePool`, and repository counts.

The candidates are the first ``limit`` of the reciprocal-rank-fused list (every channel's top
items, interleaved), restricted to chunks already read; what each channel said about them is
copied from its ``Ranked`` list (rank, score, and the channel's tags: the kind of path anchor, the
graph edge). Dense cosines are added by the retriever, which holds the query vector.
"""

from __future__ import annotations

from collections import Counter

from repo_rag.indexers.languages import DOC_LANGUAGES

from ..fuse import Ranked
from ..store import Store, StoredChunk
from .features import CandidatePool, RepoStats


def pool_from_channels(
    lists: list[Ranked], fused: list[tuple[int, float]], chunks: dict[int, StoredChunk], limit: int
) -> CandidatePool:
    ids = [cid for cid, _ in fused[:limit] if cid in chunks]
    pool = CandidatePool(ids=ids, chunks=chunks, rrf=dict(fused))
    for ranked in lists:
        if ranked.channel == "lexical":
            pool.lexical = {cid: (rank, score) for rank, (cid, score, _) in enumerate(ranked.items, 1)}
        elif ranked.channel == "dense":
            pool.dense_rank = {cid: rank for rank, (cid, _, _) in enumerate(ranked.items, 1)}
        elif ranked.channel == "symbol":
            pool.symbol = {cid: why for cid, _, why in ranked.items}
        elif ranked.channel == "path":
            pool.path = {cid: tag.split(":", 1)[0] for cid, tag in ranked.tags.items()}
            pool.frame_hit = {cid for cid, tag in ranked.tags.items() if tag.endswith(":hit")}
        elif ranked.channel == "uses":
            pool.uses = {cid: rank for rank, (cid, _, _) in enumerate(ranked.items, 1)}
        elif ranked.channel == "graph":
            pool.graph = {cid: (rank, score, ranked.tags.get(cid, ""))
                          for rank, (cid, score, _) in enumerate(ranked.items, 1)}
    return pool


def repo_stats(store: Store) -> RepoStats:
    """Definition-name and file-stem counts, and the lexical index's document frequencies."""
    stems = Counter(
        path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
        for path, f in store.files().items()
        if f.language not in DOC_LANGUAGES and f.language != "unknown"
    )
    return RepoStats(store.chunk_count(), store.name_counts(), dict(stems), store.doc_frequencies)
