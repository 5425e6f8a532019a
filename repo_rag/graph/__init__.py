"""The static dependency graph of a repository, resolved from the indexers' per-file facts.

Lexical and dense search find *where a thing is*; the graph says *what else it touches*: who
calls it, what it imports, what may break when it changes. Retrieval also spreads relevance from
strong hits to their neighbours with personalized PageRank.

Shape after LocAgent's dependency graph: node and edge types named once (``schema``), built in
one pass (``build``: structure, then edges resolved per file by ``resolve`` over the lookup
``tables`` built from the stored ``facts``), and queried apart from building (``codegraph``).

    graph = build_graph(store)          # or refresh_graph(load_graph(index_dir / GRAPH_NAME), store)
    [node] = graph.find("hashers.make_password")
    graph.callers(node)                             # [Related(path, qualname, line, edge, ...)]
    graph.personalized_pagerank({node: 1.0})
"""

from .build import build_graph, refresh_graph
from .codegraph import CodeGraph, Related, edge_signature, summary
from .persist import load_graph, save_graph
from .schema import (
    DEFAULT_PPR_WEIGHTS,
    DEPENDENCY_EDGES,
    EDGE_CALLS,
    EDGE_CONTAINS,
    EDGE_DOCUMENTS,
    EDGE_IMPORTS,
    EDGE_INHERITS,
    EDGE_REFERENCES,
    EDGE_TESTS,
    EDGE_TYPES,
    GRAPH_VERSION,
    NODE_CLASS,
    NODE_DIR,
    NODE_FILE,
    NODE_FUNCTION,
    NODE_SECTION,
)

__all__ = [
    "DEFAULT_PPR_WEIGHTS",
    "DEPENDENCY_EDGES",
    "EDGE_CALLS",
    "EDGE_CONTAINS",
    "EDGE_DOCUMENTS",
    "EDGE_IMPORTS",
    "EDGE_INHERITS",
    "EDGE_REFERENCES",
    "EDGE_TESTS",
    "EDGE_TYPES",
    "GRAPH_VERSION",
    "NODE_CLASS",
    "NODE_DIR",
    "NODE_FILE",
    "NODE_FUNCTION",
    "NODE_SECTION",
    "CodeGraph",
    "Related",
    "build_graph",
    "edge_signature",
    "load_graph",
    "refresh_graph",
    "save_graph",
    "summary",
]
