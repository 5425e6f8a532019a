"""Queries over the code graph: find symbols, walk callers/callees/impact, personalized PageRank.

This is the surface retrieval, the CLI and the UI use; building lives in ``build.py``. Callers
outside the graph package use these methods and the names in ``schema`` (``EDGE_CALLS``, ...), and
never reach into ``CodeGraph.g`` or spell edge kinds as string literals: what they get back is
plain data (ids, attribute dicts, :class:`Related`, :class:`Edge`, :class:`Neighbourhood`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from .schema import (
    DEFAULT_PPR_WEIGHTS,
    DEPENDENCY_EDGES,
    EDGE_CALLS,
    EDGE_CONTAINS,
    NODE_DIR,
    NODE_FILE,
    NODE_FUNCTION,
    NODE_SECTION,
    SYMBOL_NODES,
    qualified_match,
    section_id,
    symbol_id,
)


@dataclass(frozen=True)
class Related:
    """A node reached from a query node, and the edge that led there.

    ``line`` is where to look in ``path``: the use site for callers and impact (the edge's line),
    the definition for callees. ``confidence`` multiplies along the path; ``via`` is the node one
    step closer to the query.
    """

    node: str
    path: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    line: int
    edge: str
    confidence: float
    provenance: str
    depth: int
    via: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Edge:
    """One typed edge: ``kind`` is an ``EDGE_*`` name; ``line`` the first use site in ``src``'s file
    (0 for structure); ``count`` the use sites merged into it."""

    src: str
    dst: str
    kind: str
    confidence: float
    provenance: str
    line: int
    count: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Neighbourhood:
    """A picture's worth of graph around some nodes, as plain data.

    ``nodes``: node id -> role ('cited', 'container', 'caller' or 'callee'; a node keeps the first
    role it got, in that order of discovery), in discovery order. ``edges``: sorted
    ``(source, target, kind)`` with kind ``EDGE_CONTAINS`` or ``EDGE_CALLS``.
    """

    nodes: dict[str, str]
    edges: list[tuple[str, str, str]]


_DIRECTIONS = ("out", "in", "both")
_SYMBOLS_AND_SECTIONS = frozenset({*SYMBOL_NODES, NODE_SECTION})


class CodeGraph:
    """A typed ``networkx.MultiDiGraph`` (``.g``; edge key = edge type) plus lookups and walks.

    ``file_deps`` and ``file_names`` record, per file, which files and which repo-wide name lookups
    its resolution depended on; ``file_hashes`` the content it was built from (for updates).
    """

    def __init__(self, g: nx.MultiDiGraph | None = None, meta: dict | None = None) -> None:
        self.g: nx.MultiDiGraph = g if g is not None else nx.MultiDiGraph()
        self.meta: dict = meta or {}
        self.file_deps: dict[str, frozenset[str]] = {}
        self.file_names: dict[str, frozenset[str]] = {}
        self.file_hashes: dict[str, str] = {}  # content hash of every file the graph was built from
        self._cache: dict[str, dict] = {}

    def __getstate__(self) -> dict:  # caches are rebuilt on demand
        return {"g": self.g, "meta": self.meta, "file_deps": self.file_deps, "file_names": self.file_names,
                "file_hashes": self.file_hashes}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._cache = {}

    def invalidate(self) -> None:
        """Forget lookup indexes after the graph was changed."""
        self._cache = {}

    def prepare(self) -> CodeGraph:
        """Build the lookup indexes and the PageRank adjacency now rather than on the first query."""
        self._by_name()
        self.nodes_by_path()
        self._ppr_adjacency(DEFAULT_PPR_WEIGHTS)
        return self

    def number_of_nodes(self) -> int:
        return self.g.number_of_nodes()

    def number_of_edges(self) -> int:
        return self.g.number_of_edges()

    def __contains__(self, node: object) -> bool:
        return node in self.g

    # -- plain-data access (for code outside the graph package) ------------------------------------
    def attrs(self, node: str) -> dict:
        """A copy of the node's attributes: type, kind, path, qualname, name, start_line, end_line,
        is_test, language (and ``unresolved``, where present). KeyError for an unknown node."""
        data = dict(self.g.nodes[node])
        if "unresolved" in data:
            data["unresolved"] = list(data["unresolved"])
        return data

    def node_type(self, node: str) -> str | None:
        """``NODE_DIR``, ``NODE_FILE``, ``NODE_CLASS``, ``NODE_FUNCTION`` or ``NODE_SECTION``; None
        for an unknown node."""
        data = self.g.nodes.get(node)
        return data["type"] if data is not None else None

    def nodes(self, types: Iterable[str] | None = None) -> list[str]:
        """Node ids (of the given ``NODE_*`` types, or all), in graph order."""
        if types is None:
            return list(self.g)
        wanted = set(types)
        return [n for n, t in self.g.nodes(data="type") if t in wanted]

    def edges(self, edge_types: Iterable[str] | None = None) -> list[Edge]:
        """Every edge (of the given ``EDGE_*`` kinds, or all), in graph order."""
        types = set(edge_types) if edge_types is not None else None
        return [_edge(u, v, k, d) for u, v, k, d in self.g.edges(keys=True, data=True)
                if types is None or k in types]

    def edges_of(self, node: str, edge_types: Iterable[str] | None = None, direction: str = "out") -> list[Edge]:
        """The edges leaving (``direction='out'``), entering ('in') or touching ('both': out, then in)
        ``node``, of the given kinds or all; [] for an unknown node."""
        _check_direction(direction)
        if node not in self.g:
            return []
        types = set(edge_types) if edge_types is not None else None
        out: list[Edge] = []
        if direction in ("out", "both"):
            out += [_edge(u, v, k, d) for u, v, k, d in self.g.out_edges(node, keys=True, data=True)
                    if types is None or k in types]
        if direction in ("in", "both"):
            out += [_edge(u, v, k, d) for u, v, k, d in self.g.in_edges(node, keys=True, data=True)
                    if types is None or k in types]
        return out

    def edge_kinds(self, src: str, dst: str) -> list[str]:
        """Kinds of the edges ``src -> dst``, in the order they were added ([] when none)."""
        keys = self.g.get_edge_data(src, dst)
        return list(keys) if keys else []

    def has_edge(self, src: str, dst: str, kind: str) -> bool:
        """Whether an edge of ``kind`` goes from ``src`` to ``dst``."""
        return self.g.has_edge(src, dst, kind)

    def degree(self, node: str, edge_types: Iterable[str] | None = None, direction: str = "in") -> int:
        """How many edges (of the given kinds, or all) enter, leave or touch ``node``."""
        _check_direction(direction)
        if node not in self.g:
            return 0
        types = set(edge_types) if edge_types is not None else None
        count = 0
        if direction in ("out", "both"):
            count += sum(1 for _, _, k in self.g.out_edges(node, keys=True) if types is None or k in types)
        if direction in ("in", "both"):
            count += sum(1 for _, _, k in self.g.in_edges(node, keys=True) if types is None or k in types)
        return count

    def most_called(self, limit: int = 1, include_tests: bool = False) -> list[tuple[str, int]]:
        """Functions and methods with the most incoming calls edges: ``(node, count)``, most called
        first (ties: the greater node id first); functions nobody calls are left out."""
        counts = [
            (self.degree(n, (EDGE_CALLS,), "in"), n)
            for n, d in self.g.nodes(data=True)
            if d["type"] == NODE_FUNCTION and (include_tests or not d["is_test"])
        ]
        counts.sort(reverse=True)
        return [(n, c) for c, n in counts[:limit] if c]

    def node_at(self, path: str, start: int, end: int, qualname: str = "") -> str | None:
        """The node a cited range ``path:start-end`` (of symbol ``qualname``, if known) stands for: the
        symbol or section of that qualname, else the smallest symbol or section overlapping the
        range, else the file (None when the file is not in the graph)."""
        node = self.node_for_chunk(path, qualname) if qualname else None
        if node is not None and self.g.nodes[node]["type"] not in (NODE_FILE, NODE_DIR):
            return node
        best, best_span = None, None
        nodes = self.g.nodes
        for n in self.nodes_by_path().get(path, ()):
            d = nodes[n]
            if d["type"] not in _SYMBOLS_AND_SECTIONS:
                continue
            s, e = d["start_line"], d["end_line"]
            if s <= start <= e or start <= s <= end:
                span = e - s
                if best_span is None or span < best_span:
                    best, best_span = n, span
        return best or node or (path if path in self.g else None)

    def neighbourhood(self, seeds: Iterable[str], limit: int = 8) -> Neighbourhood:
        """The picture around ``seeds`` (role 'cited'): for each, the class, function or section that
        contains it ('container'), and up to ``limit`` direct callers and callees."""
        nodes: dict[str, str] = {}
        edges: set[tuple[str, str, str]] = set()
        cited = [n for n in dict.fromkeys(seeds) if n in self.g]
        for n in cited:
            nodes[n] = "cited"
        for n in cited:
            for u, _, key in self.g.in_edges(n, keys=True):
                # (a cited class containing a cited method: both are shown already, no bracket)
                if key == EDGE_CONTAINS and nodes.get(u) != "cited" and self.node_type(u) in _SYMBOLS_AND_SECTIONS:
                    nodes.setdefault(u, "container")
                    edges.add((u, n, EDGE_CONTAINS))
            for r in self.callers(n, limit=limit):
                nodes.setdefault(r.node, "caller")
                edges.add((r.node, n, EDGE_CALLS))
            for r in self.callees(n, limit=limit):
                nodes.setdefault(r.node, "callee")
                edges.add((n, r.node, EDGE_CALLS))
        return Neighbourhood(nodes, sorted(edges))

    # -- indexes -------------------------------------------------------------------------------------
    def nodes_by_path(self) -> dict[str, list[str]]:
        """File path -> the file node, then its symbols and sections in source order."""
        cached = self._cache.get("by_path")
        if cached is None:
            nodes = self.g.nodes
            by_path: dict[str, list[str]] = defaultdict(list)
            for node, data in nodes(data=True):
                if data["type"] != NODE_DIR:
                    by_path[data["path"]].append(node)
            for items in by_path.values():
                items.sort(key=lambda n: (nodes[n]["type"] != NODE_FILE, nodes[n]["start_line"], n))
            cached = self._cache["by_path"] = dict(by_path)
        return cached

    def _by_name(self) -> dict[str, list[str]]:
        cached = self._cache.get("by_name")
        if cached is None:
            by_name: dict[str, list[str]] = defaultdict(list)
            for node, data in self.g.nodes(data=True):
                if data["type"] in SYMBOL_NODES:
                    by_name[data["name"]].append(node)
            cached = self._cache["by_name"] = dict(by_name)
        return cached

    # -- lookups ---------------------------------------------------------------------------------------
    def find(self, query: str) -> list[str]:
        """Node ids for a symbol name, a dotted or qualified name, ``path::qualname``, a file or a dir.

        Accepts ``make_password``, ``hashers.make_password``, ``UserManager._create_user``,
        ``django/contrib/auth/hashers.py``, ``auth/hashers.py``, ``django/contrib/auth`` and
        ``path::Qual.name``. Best first: exact qualname, non-test code, shorter path.
        """
        query = query.strip()
        if not query:
            return []
        if query in self.g:
            return [query]
        if "::" in query:
            path, qual = query.split("::", 1)
            files = [f for f in self.find(path) if self.g.nodes[f]["type"] == NODE_FILE]
            return [symbol_id(f, qual) for f in files if symbol_id(f, qual) in self.g]
        q = query.strip("/")
        if q + "/" in self.g:
            return [q + "/"]
        files = [p for p in self.nodes_by_path() if p.endswith("/" + q)]
        if files:
            return sorted(files, key=lambda p: (len(p), p))
        parts = query.removesuffix("()").split(".")
        cands = self._by_name().get(parts[-1], [])
        if len(parts) > 1:
            dotted = ".".join(parts)
            cands = [n for n in cands if qualified_match(n, dotted)]
        nodes = self.g.nodes
        return sorted(cands, key=lambda n: (nodes[n]["qualname"] != query, nodes[n]["is_test"],
                                            len(nodes[n]["path"]), n))

    def node_for_chunk(self, path: str, qualname: str) -> str | None:
        """The node a retrieved chunk belongs to: its symbol or section, else the nearest enclosing
        one, else its file."""
        qual = qualname
        while qual:
            for node in (symbol_id(path, qual), section_id(path, qual)):
                if node in self.g:
                    return node
            if " > " in qual:
                qual = qual.rsplit(" > ", 1)[0]
            else:
                qual = qual.rsplit(".", 1)[0] if "." in qual else ""
        return path if path in self.g else None

    def nodes_in_file(self, path: str) -> list[str]:
        """The file node followed by its symbols and sections, in source order."""
        return list(self.nodes_by_path().get(path, ()))

    def record(self, node: str, *, edge: str = "", confidence: float = 1.0, provenance: str = "",
               depth: int = 0, via: str = "", line: int = 0) -> Related:
        data = self.g.nodes[node]
        return Related(
            node=node, path=data["path"], qualname=data["qualname"], kind=data["kind"],
            start_line=data["start_line"], end_line=data["end_line"], line=line or data["start_line"],
            edge=edge, confidence=round(confidence, 4), provenance=provenance, depth=depth, via=via,
        )

    # -- traversals ------------------------------------------------------------------------------------
    def walk(self, start: Iterable[str], edge_types: Iterable[str], reverse: bool, depth: int,
             limit: int = 1000) -> list[Related]:
        """Breadth first along ``edge_types`` (against their direction when ``reverse``); each node is
        reported once, at its smallest depth, with its most confident path."""
        types = set(edge_types)
        frontier = {n: 1.0 for n in start if n in self.g}
        seen = set(frontier)
        found_all: list[Related] = []
        for level in range(1, depth + 1):
            found: dict[str, Related] = {}
            for node, conf in frontier.items():
                edges = self.g.in_edges(node, keys=True, data=True) if reverse else self.g.out_edges(
                    node, keys=True, data=True)
                for u, v, key, data in edges:
                    other = u if reverse else v
                    if key not in types or other in seen:
                        continue
                    c = conf * data["confidence"]
                    if other not in found or c > found[other].confidence:
                        found[other] = self.record(
                            other, edge=key, confidence=c, provenance=data["provenance"], depth=level,
                            via=node, line=data["line"] if reverse else 0,
                        )
            if not found:
                break
            found_all.extend(found.values())
            seen.update(found)
            frontier = {n: r.confidence for n, r in found.items()}
            if len(found_all) >= limit:
                break
        found_all.sort(key=lambda r: (r.depth, -r.confidence, r.path, r.line, r.node))
        return found_all[:limit]

    def related(self, kind: str, node: str, depth: int | None = None, limit: int = 500) -> list[Related]:
        """``callers``, ``callees`` or ``impact`` of ``node`` by name (default depth: 1, impact 3)."""
        if kind == "callers":
            return self.callers(node, depth=depth or 1, limit=limit)
        if kind == "callees":
            return self.callees(node, depth=depth or 1, limit=limit)
        if kind == "impact":
            return self.impact(node, max_depth=depth or 3, limit=limit)
        raise ValueError(f"unknown relation {kind!r}: callers, callees or impact")

    def callers(self, node: str, depth: int = 1, limit: int = 500) -> list[Related]:
        """Who calls ``node``, transitively up to ``depth``."""
        return self.walk([node], (EDGE_CALLS,), True, depth, limit)

    def callees(self, node: str, depth: int = 1, limit: int = 500) -> list[Related]:
        """What ``node`` calls, transitively up to ``depth``."""
        return self.walk([node], (EDGE_CALLS,), False, depth, limit)

    def impact(self, node: str, max_depth: int = 3, limit: int = 1000) -> list[Related]:
        """What may break when ``node`` changes: reversed calls, imports, inherits and references.

        A file or class stands for everything it contains: dependents of its members count too.
        """
        seeds = [node, *self._descendants(node)]
        own = set(seeds)
        return [r for r in self.walk(seeds, DEPENDENCY_EDGES, True, max_depth, limit) if r.node not in own]

    def _descendants(self, node: str) -> list[str]:
        if node not in self.g or self.g.nodes[node]["type"] == NODE_DIR:
            return []
        out, stack = [], [node]
        while stack:
            for _, child, key in self.g.out_edges(stack.pop(), keys=True):
                if key == EDGE_CONTAINS:
                    out.append(child)
                    stack.append(child)
        return out

    def neighbours(self, node_ids: Iterable[str], edge_types: Iterable[str] | None = None,
                   direction: str = "both") -> list[str]:
        """Nodes one edge away from any of ``node_ids``; ``direction`` is 'out', 'in' or 'both'."""
        _check_direction(direction)
        types = set(edge_types) if edge_types is not None else None
        start = [n for n in node_ids if n in self.g]
        out: dict[str, None] = {}
        for node in start:
            if direction in ("out", "both"):
                edges = self.g.out_edges(node, keys=True)
                out.update((v, None) for _, v, k in edges if types is None or k in types)
            if direction in ("in", "both"):
                edges = self.g.in_edges(node, keys=True)
                out.update((u, None) for u, _, k in edges if types is None or k in types)
        for node in start:
            out.pop(node, None)
        return list(out)

    def personalized_pagerank(
        self,
        seeds: Mapping[str, float],
        edge_weights: Mapping[str, float] | None = None,
        alpha: float = 0.85,
        max_nodes: int = 3000,
        hops: int = 2,
        tol: float = 1e-9,
        max_iter: int = 100,
    ) -> dict[str, float]:
        """Random walk with restart to ``seeds`` (Aider's repomap ranking, on typed edges).

        Edges are walked both ways with weight ``edge_weights[type] * confidence``; types missing
        from ``edge_weights`` take :data:`DEFAULT_PPR_WEIGHTS`, weight 0 drops a type. The walk is
        restricted to the seeds' ``hops``-hop neighbourhood (at most ``max_nodes`` nodes, strongest
        connections first), which keeps it in milliseconds on large repositories. Scores sum to 1,
        highest first.

        The weighted, symmetric adjacency of the whole graph is built once per weighting (a sparse
        matrix, kept until :meth:`invalidate`), so a query does only sparse row sums and a power
        iteration on the neighbourhood's sub-matrix.
        """
        weights = {**DEFAULT_PPR_WEIGHTS, **(edge_weights or {})}
        seeds = {n: float(w) for n, w in seeds.items() if n in self.g and w > 0}
        if not seeds:
            return {}
        adj = self._ppr_adjacency(weights)
        sel = self._ppr_nodes(adj, seeds, hops, max_nodes)
        sub = adj.matrix[sel][:, sel]
        n = len(sel)
        personal = np.zeros(n)
        for pos, node in enumerate(adj.nodes[i] for i in sel[: len(seeds)]):
            personal[pos] = seeds[node]
        personal /= personal.sum()
        out_w = np.asarray(sub.sum(axis=1)).ravel()
        dangling = out_w == 0
        step = (sp.diags(np.divide(alpha, out_w, out=np.zeros(n), where=~dangling)) @ sub).T.tocsr()
        restart, to_seeds = (1 - alpha) * personal, alpha * personal
        any_dangling = bool(dangling.any())
        rank = personal.copy()
        for _ in range(max_iter):
            new = step @ rank + restart
            if any_dangling:  # a walk that reaches a node without edges restarts at the seeds
                new += rank[dangling].sum() * to_seeds
            done = float(np.abs(new - rank).sum()) < tol
            rank = new
            if done:
                break
        order = np.argsort(-rank, kind="stable")
        return {adj.nodes[sel[i]]: float(rank[i]) for i in order if rank[i] > 0}

    def _ppr_adjacency(self, weights: Mapping[str, float]) -> _Adjacency:
        """The graph as one symmetric sparse matrix of walk weights (self-loops and weight 0 dropped;
        parallel edges add up), with each node's position in name order for tie-breaks."""
        key = tuple(sorted(weights.items()))
        cache = self._cache.setdefault("ppr", {})
        if key not in cache:
            nodes = list(self.g.nodes)
            index = {node: i for i, node in enumerate(nodes)}
            rows: list[int] = []
            cols: list[int] = []
            vals: list[float] = []
            for u, v, kind, conf in self.g.edges(keys=True, data="confidence"):
                w = weights.get(kind, 0.0) * conf
                if w > 0 and u != v:
                    i, j = index[u], index[v]
                    rows += (i, j)
                    cols += (j, i)
                    vals += (w, w)
            n = len(nodes)
            matrix = sp.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)), shape=(n, n))
            matrix.sum_duplicates()
            name_rank = np.empty(n, dtype=np.int64)
            name_rank[sorted(range(n), key=nodes.__getitem__)] = np.arange(n)
            cache[key] = _Adjacency(nodes, index, matrix, name_rank)
        return cache[key]

    @staticmethod
    def _ppr_nodes(adj: _Adjacency, seeds: Mapping[str, float], hops: int, max_nodes: int) -> np.ndarray:
        """Seeds (strongest first) plus up to ``hops`` rings of neighbours, the most strongly
        connected to the previous ring first (ties by node name)."""
        chosen = [adj.index[n] for n in sorted(seeds, key=lambda n: (-seeds[n], n))]
        taken = np.zeros(len(adj.nodes), dtype=bool)
        taken[chosen] = True
        frontier = np.asarray(chosen, dtype=np.int64)
        for _ in range(hops):
            room = max_nodes - len(chosen)
            if room <= 0 or not len(frontier):
                break
            strength = np.asarray(adj.matrix[frontier].sum(axis=0)).ravel()
            strength[taken] = 0.0
            found = np.flatnonzero(strength > 0)
            if not len(found):
                break
            ring = found[np.lexsort((adj.name_rank[found], -strength[found]))][:room]
            taken[ring] = True
            chosen.extend(ring.tolist())
            frontier = ring
        return np.asarray(chosen, dtype=np.int64)


@dataclass(frozen=True)
class _Adjacency:
    """The whole graph's walk weights for one weighting, as :meth:`CodeGraph.personalized_pagerank` uses them."""

    nodes: list[str]
    index: dict[str, int]
    matrix: sp.csr_matrix
    name_rank: np.ndarray


def _edge(u: str, v: str, kind: str, data: Mapping) -> Edge:
    return Edge(u, v, kind, data["confidence"], data["provenance"], data["line"], data["count"])


def _check_direction(direction: str) -> None:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")


def edge_signature(graph: CodeGraph) -> set[tuple[str, str, str, str, float, int, int]]:
    """Every edge as a comparable tuple (an update must equal a full rebuild)."""
    return {
        (u, v, k, d["provenance"], d["confidence"], d["line"], d["count"])
        for u, v, k, d in graph.g.edges(keys=True, data=True)
    }


def summary(graph: CodeGraph) -> dict[str, dict[str, int]]:
    """Node and edge counts by type."""
    nodes: dict[str, int] = defaultdict(int)
    edges: dict[str, int] = defaultdict(int)
    for _, data in graph.g.nodes(data=True):
        nodes[data["type"]] += 1
    for _, _, key in graph.g.edges(keys=True):
        edges[key] += 1
    return {"nodes": dict(nodes), "edges": dict(edges)}


__all__ = ["CodeGraph", "Edge", "Neighbourhood", "Related", "edge_signature", "summary"]
