"""Why the graph channel proposed a node: the edge that ties it to one of the top hits, in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .schema import (
    EDGE_CALLS,
    EDGE_CONTAINS,
    EDGE_DOCUMENTS,
    EDGE_IMPORTS,
    EDGE_INHERITS,
    EDGE_REFERENCES,
    EDGE_TESTS,
)

if TYPE_CHECKING:
    from .codegraph import CodeGraph

_EDGE_PHRASES = {
    # (edge type, node is the edge's source) -> phrase
    (EDGE_CALLS, True): "calls {}",
    (EDGE_CALLS, False): "called by {}",
    (EDGE_INHERITS, True): "inherits {}",
    (EDGE_INHERITS, False): "base of {}",
    (EDGE_IMPORTS, True): "imports {}",
    (EDGE_IMPORTS, False): "imported by {}",
    (EDGE_CONTAINS, True): "contains {}",
    (EDGE_CONTAINS, False): "inside {}",
    (EDGE_REFERENCES, True): "references {}",
    (EDGE_REFERENCES, False): "referenced by {}",
    (EDGE_DOCUMENTS, True): "documents {}",
    (EDGE_DOCUMENTS, False): "documented in {}",
    (EDGE_TESTS, True): "tests {}",
    (EDGE_TESTS, False): "tested by {}",
}


def explain_link(graph: CodeGraph, node: str, seeds: dict[str, str]) -> tuple[str, str]:
    """Name the edge that ties ``node`` to a top hit, e.g. ('called by authenticate (calls)', 'calls')."""
    for seed, label in seeds.items():
        for src, dst in ((node, seed), (seed, node)):
            kinds = graph.edge_kinds(src, dst)
            if kinds:
                etype = kinds[0]
                return _EDGE_PHRASES.get((etype, src == node), etype + " {}").format(label) + f" ({etype})", etype
    return "near " + ", ".join(list(seeds.values())[:2]), ""
