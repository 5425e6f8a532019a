"""The two retrieval channels that read the code graph instead of the text.

1. **graph**: personalised PageRank seeded by the fused top hits of the text channels; proposes what
   they are linked to (a caller, a base class, the module that imports them), each with the edge
   that explains the link.
2. **uses**: the direct users (callers, referrers, subclasses) of every definition the query names.
   The answer to "what calls X?" or "which code uses X?" is not X: the question spells the callee
   and asks for its users, which no text channel matches. A name with more than
   :data:`USES_MAX_DEFINITIONS` definitions (``get``, ``run``) is not followed.

Both only propose: the learned ranker decides (it sees each candidate's rank in these lists, the
edge kind, and whether the question asks about use). Edge weights of the walk are the graph's
``DEFAULT_PPR_WEIGHTS`` (``repo_rag/graph/schema.py`` says why each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .fuse import Ranked

# names only: the graph package loads networkx when a graph is loaded
from .graph import EDGE_CALLS, EDGE_INHERITS, EDGE_REFERENCES, NODE_CLASS, NODE_DIR, NODE_FUNCTION
from .graph.explain import explain_link
from .query import QueryAnalysis
from .store import Store, StoredChunk

if TYPE_CHECKING:
    from .graph import CodeGraph

GRAPH_SEEDS = 10  # fused hits that seed personalised PageRank
GRAPH_MAX_NODES = 2000  # PageRank neighbourhood bound: keeps PPR in milliseconds on Django
GRAPH_MAX_HITS = 40  # graph-channel candidates, like another channel's pool
USES_MAX_DEFINITIONS = 3  # a query name defined more often than this is not followed to its users
USES_MAX_HITS = 40  # users proposed per query, like another channel's pool
USE_EDGES = (EDGE_CALLS, EDGE_REFERENCES, EDGE_INHERITS)


def graph_channel(graph: CodeGraph | None, store: Store, fused: list[tuple[int, float]],
                  chunks: dict[int, StoredChunk], weight: float, n_seeds: int = GRAPH_SEEDS) -> Ranked | None:
    """Chunks the top ``n_seeds`` fused hits lead to in the graph, by PageRank mass (seeds excluded)."""
    if graph is None:
        return None
    seeds: dict[str, float] = {}
    seed_names: dict[str, str] = {}
    for cid, score in fused[:n_seeds]:
        c = chunks.get(cid)
        if c is None:
            continue
        node = graph.node_for_chunk(c.path, c.qualname)
        if node is not None:
            seeds[node] = seeds.get(node, 0.0) + score
            seed_names[node] = c.qualname if c.qualname != "<module>" else c.path
    if not seeds:
        return None
    pr = graph.personalized_pagerank(seeds, max_nodes=GRAPH_MAX_NODES)
    ranked = Ranked("graph", weight)
    seen: set[int] = set()
    for node, score in pr.items():  # highest first
        if node in seeds:
            continue
        data = graph.attrs(node)
        if data["type"] == NODE_DIR:
            continue
        qual = data["qualname"] or "<module>"
        cid = store.chunk_at(data["path"], qual, data["start_line"] if data["qualname"] else 0)
        if cid is None or cid in seen:
            continue
        seen.add(cid)
        why, edge = explain_link(graph, node, seed_names)
        ranked.items.append((cid, score, f"graph: {why}"))
        ranked.tags[cid] = edge
        if len(ranked.items) >= GRAPH_MAX_HITS:
            break
    return ranked


def uses_channel(graph: CodeGraph | None, store: Store, qa: QueryAnalysis, weight: float) -> Ranked | None:
    """The direct users of each definition the query names, most confident first, with the use site."""
    if graph is None:
        return None
    ranked = Ranked("uses", weight)
    seen: set[int] = set()
    for name in qa.names:
        targets = [n for n in graph.find(name) if graph.node_type(n) in (NODE_FUNCTION, NODE_CLASS)]
        if not targets or len(targets) > USES_MAX_DEFINITIONS:
            continue
        for r in graph.walk(targets, USE_EDGES, True, 1, USES_MAX_HITS):
            qual = r.qualname or "<module>"
            cid = store.chunk_at(r.path, qual, r.start_line if r.qualname else 0)
            if cid is None or cid in seen:
                continue
            seen.add(cid)
            ranked.items.append((cid, r.confidence, f"graph: {r.edge} {name} at {r.path}:{r.line}"))
            ranked.tags[cid] = r.edge
            if len(ranked.items) >= USES_MAX_HITS:
                return ranked
    return ranked
