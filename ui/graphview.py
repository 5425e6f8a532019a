"""The graph picture: the code-graph neighbourhood of an answer's cited code as an inline SVG.

Built from ``repo_rag.graph.CodeGraph``'s public queries only (``node_at``, ``node_type``,
``attrs``, ``neighbourhood``, ``most_called``) and the ``EDGE_*`` / ``NODE_*`` names it exports;
every node is a citation link that opens its source.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from repo_rag.graph import EDGE_CALLS, EDGE_CONTAINS, NODE_DIR, NODE_FILE, NODE_SECTION

GRAPH_MAX_CITED = 5
GRAPH_MAX_NEIGHBOURS = 3
EMPTY_GRAPH = '<div class="panel-empty">The graph neighbourhood of the cited code appears after an answer.</div>'
NO_GRAPH = '<div class="panel-empty">This index has no code graph.</div>'
_WHOLE_FILE = (NODE_FILE, NODE_DIR)
_LABEL_CHARS = 18
_SUB_CHARS = 21

Edge = tuple[str, str, str]  # (from node, to node, edge type: EDGE_CALLS or EDGE_CONTAINS)


@dataclass
class GNode:
    id: str
    label: str
    sub: str
    role: str  # cited | caller | callee | container
    path: str
    start: int
    end: int


def _gnode(graph, node: str, role: str) -> GNode:
    d = graph.attrs(node)
    qual = d.get("qualname") or d.get("path") or node
    start = int(d.get("start_line") or 1)
    where = f"{d.get('path', '').rsplit('/', 1)[-1]}:{start}"
    if d.get("type") == NODE_SECTION:
        label, sub = qual.split(" > ")[-1], where
    else:
        parts = qual.split(".")
        label, sub = ".".join(parts[-2:]), where
        if len(label) > _LABEL_CHARS and len(parts) > 1:  # Class.method too long: method, class below
            owner, room = parts[-2], _SUB_CHARS - len(where) - 3
            if len(owner) > room:
                owner = owner[: room - 1] + "…" if room >= 5 else ""
            label, sub = parts[-1], f"{owner} · {where}" if owner else where
    return GNode(node, label, sub, role, d.get("path", ""), start, int(d.get("end_line") or start))


def _seeds(graph, cited: list[tuple[str, int, int, str]]) -> list[str]:
    """Graph nodes of the cited locations; whole files (module headers say little in this picture)
    only when no symbol was cited."""
    seeds: list[str] = []
    files: list[str] = []
    for path, start, end, symbol in cited:
        n = graph.node_at(path, start, end, symbol or "")
        if n is None or n in seeds or n in files:
            continue
        (files if graph.node_type(n) in _WHOLE_FILE else seeds).append(n)
        if len(seeds) >= GRAPH_MAX_CITED:
            break
    return seeds or files[:GRAPH_MAX_CITED]


def neighbourhood(graph, cited: list[tuple[str, int, int, str]]) -> tuple[list[GNode], list[Edge]]:
    """(nodes, edges) around the cited locations: callers, callees and containers of each."""
    around = graph.neighbourhood(_seeds(graph, cited), limit=GRAPH_MAX_NEIGHBOURS)
    return [_gnode(graph, n, role) for n, role in around.nodes.items()], list(around.edges)


def _layer_of(nodes: list[GNode], edges: list[Edge]) -> dict[str, int]:
    """Longest-path layer over the condensed call graph; a container takes its first child's layer."""
    import networkx as nx

    calls = nx.DiGraph()
    calls.add_nodes_from(n.id for n in nodes if n.role != "container")
    calls.add_edges_from((u, v) for u, v, k in edges if k == EDGE_CALLS and u in calls and v in calls)
    dag = nx.condensation(calls)
    layer_of_scc: dict[int, int] = {}
    for scc in nx.topological_sort(dag):
        preds = [layer_of_scc[p] for p in dag.predecessors(scc)]
        layer_of_scc[scc] = max(preds) + 1 if preds else 0
    layer = {n: layer_of_scc[dag.graph["mapping"][n]] for n in calls}
    for n in nodes:
        if n.role == "container":
            children = [v for u, v, k in edges if k == EDGE_CONTAINS and u == n.id and v in layer]
            layer[n.id] = min((layer[c] for c in children), default=0)
    return layer


def graph_layers(nodes: list[GNode], edges: list[Edge]) -> list[list[GNode]]:
    """Left-to-right layers: a caller sits left of what it calls, a container in its child's layer
    just above it; order within a layer by the barycentre of the callers in earlier layers."""
    layer = _layer_of(nodes, edges)
    layers: list[list[GNode]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    row: dict[str, float] = {}  # row of each placed node, for the barycentres of the next layer

    def barycentre(n: GNode) -> tuple:
        rows = [row[u] for u, v, k in edges if v == n.id and k == EDGE_CALLS and u in row]
        return (sum(rows) / len(rows) if rows else float("inf"), n.path, n.start)

    for i in range(len(layers)):
        members = [n for n in nodes if layer[n.id] == i]
        ordered: list[GNode] = []
        for n in sorted((n for n in members if n.role != "container"), key=barycentre):
            ordered += [c for c in members if c.role == "container" and c not in ordered
                        and (c.id, n.id, EDGE_CONTAINS) in edges]  # fmt: skip
            ordered.append(n)
        ordered += [c for c in members if c not in ordered]
        for j, n in enumerate(ordered):
            row[n.id] = j
        layers[i] = ordered
    return layers


_NODE_W, _NODE_H, _VGAP, _HGAP, _PAD, _LEFT = 150, 36, 12, 34, 10, 24  # _LEFT: room for 'contains' brackets


def _edge_path(kind: str, p1: tuple[float, float], p2: tuple[float, float]) -> str:
    (x1, y1), (x2, y2) = p1, p2
    sy, ey = y1 + _NODE_H / 2, y2 + _NODE_H / 2
    if kind == EDGE_CONTAINS and x1 == x2:  # same layer: a dashed bracket on the left
        return f"M {x1} {sy} C {x1 - 18} {sy}, {x2 - 18} {ey}, {x2 - 2} {ey}"
    if x2 > x1:
        sx, ex = x1 + _NODE_W, x2 - 2
        mx = (sx + ex) / 2
        return f"M {sx} {sy} C {mx} {sy}, {mx} {ey}, {ex} {ey}"
    sx = x1 + _NODE_W  # a call within a layer (recursion, cycles) or backwards: an arc on the right
    return f"M {sx} {sy} C {sx + 30} {sy}, {x2 + _NODE_W + 30} {ey}, {x2 + _NODE_W + 2} {ey}"


def _node_svg(n: GNode, x: float, y: float, repo_key: str) -> str:
    label = n.label if len(n.label) <= _LABEL_CHARS else n.label[: _LABEL_CHARS - 1] + "…"
    sub = n.sub if len(n.sub) <= _SUB_CHARS else "…" + n.sub[-(_SUB_CHARS - 1) :]
    attr = html.escape
    return (
        f'<g class="gnode {n.role} cite" data-repo="{attr(repo_key, quote=True)}" '
        f'data-path="{attr(n.path, quote=True)}" data-start="{n.start}" data-end="{n.end}" tabindex="0" '
        f'role="button"><title>{attr(n.id)} ({n.role})</title>'
        f'<rect x="{x}" y="{y}" width="{_NODE_W}" height="{_NODE_H}" rx="7"/>'
        f'<text class="glabel" x="{x + 10}" y="{y + 15}">{attr(label)}</text>'
        f'<text class="gsub" x="{x + 10}" y="{y + 29}">{attr(sub)}</text></g>'
    )


_LEGEND = (
    '<div class="graph-legend"><span class="lg cited">cited in the answer</span>'
    '<span class="lg caller">calls cited code</span><span class="lg callee">called by cited code</span>'
    '<span class="lg container">contains</span><span class="lg-note">arrows: caller → callee · '
    "click a node to open it</span></div>"
)


def render_graph_svg(nodes: list[GNode], edges: list[Edge], repo_key: str) -> str:
    """A layered inline SVG (callers left of callees); every node opens its source when clicked."""
    if not nodes:
        return '<div class="panel-empty">No graph neighbourhood for the cited code (no symbols in the graph).</div>'
    layers = graph_layers(nodes, edges)
    rows = max(len(col) for col in layers)
    width = _LEFT + _PAD + len(layers) * _NODE_W + (len(layers) - 1) * _HGAP
    height = _PAD * 2 + rows * (_NODE_H + _VGAP) - _VGAP
    pos: dict[str, tuple[float, float]] = {}
    for i, col in enumerate(layers):
        offset = (rows - len(col)) * (_NODE_H + _VGAP) / 2
        for j, n in enumerate(col):
            pos[n.id] = (_LEFT + i * (_NODE_W + _HGAP), _PAD + offset + j * (_NODE_H + _VGAP))
    parts = [
        f'<svg class="graph-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="graph neighbourhood of the cited code">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
    ]
    for u, v, kind in edges:
        if u in pos and v in pos:
            d = _edge_path(kind, pos[u], pos[v])
            parts.append(f'<path class="edge {kind}" d="{d}" marker-end="url(#arrow)"><title>{kind}</title></path>')
    parts += [_node_svg(n, *pos[n.id], repo_key) for n in nodes]
    parts.append("</svg>")
    count = {role: sum(1 for n in nodes if n.role == role) for role in ("cited", "caller", "callee")}
    head = (
        f'<div class="graph-head">{count["cited"]} cited symbol{"s" if count["cited"] != 1 else ""} · '
        f"{count['caller']} caller{'s' if count['caller'] != 1 else ''} · "
        f"{count['callee']} callee{'s' if count['callee'] != 1 else ''}</div>"
    )
    return f'<div class="graph">{head}<div class="graph-scroll">{"".join(parts)}</div>{_LEGEND}</div>'


def most_called_function(graph) -> str | None:
    """Qualified name of the non-test function with the most callers (for an example question)."""
    top = graph.most_called(1)
    return (graph.attrs(top[0][0]).get("qualname") or top[0][0]) if top else None
