"""Assemble the graph: structure first (dirs, files, symbols, sections), then resolved edges per file.

Every resolved edge comes from the facts of the file holding its source node, so a file's edges
can be dropped and recomputed on their own. An incremental update re-resolves the changed files,
the files whose resolution consulted them, and the files that looked up, in the repo-wide name
index, a name the changed files define (before or after the change); everything else would
resolve exactly as before, so the result equals a full rebuild (tests/test_graph.py checks this).
"""

from __future__ import annotations

import posixpath
import time
from collections import defaultdict
from collections.abc import Iterable

import networkx as nx

from repo_rag.indexers.model import CLASS
from repo_rag.indexers.testpaths import is_test_path

from ..store import Store
from .codegraph import CodeGraph
from .facts import Facts, go_mod_paths
from .resolve import FileEdges, Resolver
from .schema import (
    EDGE_CONTAINS,
    GRAPH_VERSION,
    NODE_CLASS,
    NODE_DIR,
    NODE_FILE,
    NODE_FUNCTION,
    NODE_SECTION,
    STRUCTURE,
    dir_dependency,
    dir_of,
    gc_paused,
    section_id,
    symbol_id,
)
from .tables import Tables


def build_graph(
    store: Store, previous: CodeGraph | None = None, changed_paths: Iterable[str] | None = None
) -> CodeGraph:
    """Build the graph from the store; given the ``previous`` graph, update it in place instead.

    An update treats as changed the ``changed_paths`` (files re-parsed since ``previous``) and any
    file whose content hash differs from the one ``previous`` was built from, so a graph left
    behind by an interrupted run is still brought up to date. Files added or removed (module
    resolution depends on the set of files) or a changed go.mod make it a full build.
    """
    t0 = time.perf_counter()
    with gc_paused():
        facts = Facts.load(store)
        tables = Tables(facts)
        resolver = Resolver(tables)
        changed = set(changed_paths or ()) | {p for p, h in facts.hashes.items() if previous is not None
                                              and previous.file_hashes.get(p) != h}
        if (
            previous is not None
            and previous.meta.get("version") == GRAPH_VERSION
            and set(previous.file_hashes) == tables.files
            and not go_mod_paths(changed)
        ):
            graph = _update(previous, tables, resolver, changed & tables.files)
        else:
            graph = _full(tables, resolver)
    graph.file_hashes = dict(facts.hashes)
    graph.meta.update(version=GRAPH_VERSION, build_seconds=round(time.perf_counter() - t0, 3))
    return graph


def refresh_graph(graph: CodeGraph, store: Store) -> CodeGraph:
    """``graph`` brought up to date with the store, in place: files whose content hash changed since
    it was built are re-resolved (a saved graph may lag behind its index); free when none did."""
    current = {path: f.hash for path, f in store.files().items()}
    if current == graph.file_hashes:
        return graph
    return build_graph(store, previous=graph)


def _full(tables: Tables, resolver: Resolver) -> CodeGraph:
    g = nx.MultiDiGraph()
    _add_dirs(g, tables)
    paths = sorted(tables.files)
    for path in paths:
        _add_file_nodes(g, tables, path)
    graph = CodeGraph(g, meta={"mode": "full"})
    for path in paths:
        _record(graph, path, resolver.resolve_file(path))
    return graph


def _update(graph: CodeGraph, tables: Tables, resolver: Resolver, changed: set[str]) -> CodeGraph:
    g = graph.g
    by_path = graph.nodes_by_path()
    before = _definition_signatures(
        (g.nodes[n]["qualname"], g.nodes[n]["name"], g.nodes[n]["kind"], p)
        for p in changed for n in by_path.get(p, ()) if g.nodes[n]["type"] in (NODE_CLASS, NODE_FUNCTION)
    )
    after = _definition_signatures(
        (q, d.name, d.kind, p) for p in changed for q, d in tables.facts.defs.get(p, {}).items()
    )
    renamed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    dirty = set(changed)
    touched = changed | {dir_dependency(dir_of(p)) for p in changed}  # a file, or its whole package
    for path, deps in graph.file_deps.items():
        if deps & touched or graph.file_names.get(path, frozenset()) & renamed:
            dirty.add(path)
    for path in sorted(dirty):  # drop what these files' facts produced; surviving nodes keep incoming edges
        for node in by_path.get(path, ()):
            keep = EDGE_CONTAINS if path not in changed else None
            g.remove_edges_from([(u, v, k) for u, v, k in g.out_edges(node, keys=True) if k != keep])
            g.nodes[node].pop("unresolved", None)
    for path in sorted(changed):
        nodes, edges = _file_structure(tables, path)
        g.remove_nodes_from(set(by_path.get(path, ())) - {n for n, _ in nodes})
        for node, _attrs in nodes:
            if node in g:
                g.nodes[node].clear()
        g.add_nodes_from(nodes)
        g.add_edges_from(edges)
    for path in sorted(dirty):
        _record(graph, path, resolver.resolve_file(path))
    graph.meta.update(mode="incremental", changed=len(changed), re_resolved=len(dirty))
    graph.invalidate()
    return graph


Signature = tuple[str, str, bool]  # (symbol id, kind, is a class member)


def _definition_signatures(defs: Iterable[tuple[str, str, str, str]]) -> dict[str, set[Signature]]:
    """name -> {(symbol id, kind, is a class member)}: what the repo-wide name index holds for a name."""
    defs = list(defs)
    kinds = {(path, qual): kind for qual, _name, kind, path in defs}
    out: dict[str, set[Signature]] = defaultdict(set)
    for qual, name, kind, path in defs:
        parent = qual.rsplit(".", 1)[0] if "." in qual else ""
        out[name].add((symbol_id(path, qual), kind, kinds.get((path, parent)) == CLASS))
    return out


def _record(graph: CodeGraph, path: str, result: FileEdges) -> None:
    g = graph.g
    g.add_edges_from((u, v, etype, attrs) for (u, v, etype), attrs in result.edges.items())
    for node, names in result.unresolved.items():
        if node in g:
            g.nodes[node]["unresolved"] = sorted(names)
    graph.file_deps[path] = result.deps
    graph.file_names[path] = result.names


def _contains(src: str, dst: str, line: int) -> tuple[str, str, str, dict]:
    return src, dst, EDGE_CONTAINS, {
        "type": EDGE_CONTAINS, "confidence": 1.0, "provenance": STRUCTURE, "line": line, "count": 1,
    }


def _add_dirs(g: nx.MultiDiGraph, tables: Tables) -> None:
    dirs = sorted(tables.dirs)
    g.add_nodes_from(
        (d, {"type": NODE_DIR, "kind": NODE_DIR, "path": d, "qualname": "",
             "name": posixpath.basename(d[:-1]), "start_line": 0, "end_line": 0, "is_test": is_test_path(d),
             "language": ""})
        for d in dirs
    )
    g.add_edges_from(_contains(dir_of(d), d, 0) for d in dirs if dir_of(d))


def _add_file_nodes(g: nx.MultiDiGraph, tables: Tables, path: str) -> None:
    nodes, edges = _file_structure(tables, path)
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)


Nodes = list[tuple[str, dict]]
Edges = list[tuple[str, str, str, dict]]


def _file_structure(tables: Tables, path: str) -> tuple[Nodes, Edges]:
    """The file, its symbols and doc sections, and the ``contains`` edges between them."""
    facts = tables.facts
    common = {"path": path, "is_test": tables.is_test[path], "language": facts.language[path]}
    nodes = [(path, {"type": NODE_FILE, "kind": NODE_FILE, "qualname": "", "name": posixpath.basename(path),
                     "start_line": 1, "end_line": facts.n_lines.get(path, 0), **common})]
    edges = [_contains(dir_of(path), path, 0)] if dir_of(path) else []
    defs = facts.defs.get(path, {})
    for qual, d in defs.items():
        node = symbol_id(path, qual)
        nodes.append((node, {"type": NODE_CLASS if d.kind == CLASS else NODE_FUNCTION, "kind": d.kind,
                             "qualname": qual, "name": d.name, "start_line": d.start_line,
                             "end_line": d.end_line, **common}))
        parent = tables.parent_qualname(path, qual)
        edges.append(_contains(symbol_id(path, parent) if parent else path, node, d.start_line))
    sections = facts.sections.get(path, ())
    known = {qual for qual, *_ in sections}
    for qual, name, start, end in sections:
        node = section_id(path, qual)
        nodes.append((node, {"type": NODE_SECTION, "kind": NODE_SECTION, "qualname": qual, "name": name,
                             "start_line": start, "end_line": end, **common}))
        parent = qual
        while " > " in parent:
            parent = parent.rsplit(" > ", 1)[0]
            if parent in known:
                break
        else:
            parent = ""
        edges.append(_contains(section_id(path, parent) if parent else path, node, start))
    return nodes, edges
