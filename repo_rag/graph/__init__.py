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
    graph.personalized_pagerank({node: 1.0})        # edge weights: DEFAULT_PPR_WEIGHTS
    graph.attrs(node), graph.edges_of(node, [EDGE_CALLS], "in"), graph.neighbourhood([node])

Code outside this package uses ``CodeGraph``'s methods and the ``EDGE_*`` / ``NODE_*`` names, never
``graph.g`` or edge kinds spelled as strings. Saved graphs are data only (``persist``: an ``.npz``
read without pickle).

Importing the package is cheap (the names in ``schema``); the rest, and networkx with it, loads on
first use, so ``from repo_rag.graph import EDGE_CALLS`` costs nothing at CLI start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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
    NODE_TYPES,
)

if TYPE_CHECKING:
    from .build import build_graph, refresh_graph
    from .codegraph import CodeGraph, Edge, Neighbourhood, Related, edge_signature, summary
    from .persist import load_graph, save_graph

_LAZY = {
    "build_graph": "build", "refresh_graph": "build", "CodeGraph": "codegraph", "Edge": "codegraph",
    "Neighbourhood": "codegraph", "Related": "codegraph", "edge_signature": "codegraph", "summary": "codegraph",
    "load_graph": "persist", "save_graph": "persist",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
    "NODE_TYPES",
    "CodeGraph",
    "Edge",
    "Neighbourhood",
    "Related",
    "build_graph",
    "edge_signature",
    "load_graph",
    "refresh_graph",
    "save_graph",
    "summary",
]
