"""Code graph: edge precision/recall on the polyglot fixture, queries, incremental updates, CLI."""

from __future__ import annotations

import argparse
import ast
import io
import json
import shutil
import statistics
import time
from pathlib import Path

import pytest
from conftest import parse_python
from repo_rag.indexers.languages import language_for_path
from repo_rag.indexers.model import CALL, CLASS, FUNCTION, INHERIT, METHOD, REFERENCE, Definition, Import

from repo_rag.cli.graph import run as run_cli
from repo_rag.config import load_config
from repo_rag.graph import (
    DEFAULT_PPR_WEIGHTS,
    EDGE_CALLS,
    EDGE_CONTAINS,
    EDGE_DOCUMENTS,
    EDGE_IMPORTS,
    EDGE_INHERITS,
    EDGE_TESTS,
    EDGE_TYPES,
    NODE_DIR,
    NODE_FILE,
    NODE_FUNCTION,
    CodeGraph,
    build_graph,
    edge_signature,
    load_graph,
    refresh_graph,
    save_graph,
)
from repo_rag.graph.build import _full as full_build
from repo_rag.graph.facts import Facts, Ref
from repo_rag.graph.resolve import Resolver
from repo_rag.graph.schema import gc_paused
from repo_rag.graph.tables import Tables
from repo_rag.indexer import Indexer, load_current_graph
from repo_rag.layout import DB_NAME, GRAPH_NAME, IndexLayout
from repo_rag.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"
EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "polyglot_expected.json").read_text())
LANGUAGES = {"python": "python", "typescript": "typescript", "tsx": "typescript", "java": "java", "go": "go"}
KINDS = (EDGE_CALLS, EDGE_IMPORTS, EDGE_INHERITS)
# Minimum (precision, recall) per (edge kind, language): just below what the resolver achieves on the
# fixture today (1.00 everywhere but Python calls recall, 0.96), so losing or adding a single wrong
# edge fails. Raise a floor when the resolver gets better; never lower one to make a test pass.
FLOOR = 0.99
MINIMUM: dict[tuple[str, str], tuple[float, float]] = {
    (kind, language): (FLOOR, FLOOR) for kind in KINDS for language in ("python", "typescript", "java", "go")
}
MINIMUM[(EDGE_CALLS, "python")] = (FLOOR, 0.95)


def _current(repo: Path, index_dir: Path, store: Store) -> CodeGraph | None:
    """The graph as readers see it (saved graph plus deferred updates)."""
    return load_current_graph(IndexLayout.for_repo(repo, load_config(repo), index_dir), store)


def _index(repo: Path, index_dir: Path) -> Store:
    Indexer(repo, load_config(repo), index_dir=index_dir).run(dense=False)
    return Store(index_dir / DB_NAME)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The polyglot fixture indexed (lexical + graph) into a temporary index dir."""
    index_dir = tmp_path_factory.mktemp("polyglot-index")
    _index(FIXTURE, index_dir).close()
    return FIXTURE, index_dir


@pytest.fixture(scope="module")
def graph(indexed: tuple[Path, Path]) -> CodeGraph:
    loaded = load_graph(indexed[1] / GRAPH_NAME)
    assert loaded is not None
    return loaded


# -- precision / recall against the hand-written facts ------------------------------------------
def _language(path: str) -> str | None:
    return LANGUAGES.get(language_for_path(path))


def _expected() -> dict[str, set[tuple[str, str]]]:
    want: dict[str, set[tuple[str, str]]] = {kind: set() for kind in KINDS}
    for c in EXPECTED["calls"]:
        want[EDGE_CALLS].add((f"{c['path']}::{c['caller']}" if c["caller"] else c["path"], c["target"]))
    for i in EXPECTED["imports"]:
        if i["target"]:
            want[EDGE_IMPORTS].add((i["path"], i["target"].rstrip("/")))
    for i in EXPECTED["inherits"]:
        if i["target"]:
            want[EDGE_INHERITS].add((f"{i['path']}::{i['class']}", i["target"]))
    return want


def _produced(graph: CodeGraph) -> dict[str, set[tuple[str, str]]]:
    have: dict[str, set[tuple[str, str]]] = {kind: set() for kind in KINDS}
    for u, v, key in graph.g.edges(keys=True):
        if key in have and not (key == EDGE_IMPORTS and "::" in v):  # imports: file -> file/dir level
            have[key].add((u, v.rstrip("/")))
    return have


def _scores(graph: CodeGraph) -> dict[tuple[str, str], tuple[float, float, set, set]]:
    """(kind, language) -> (precision, recall, false positives, false negatives)."""
    want, have = _expected(), _produced(graph)
    out = {}
    for kind in KINDS:
        for language in sorted(set(LANGUAGES.values())):
            w = {e for e in want[kind] if _language(e[0].split("::")[0]) == language}
            h = {e for e in have[kind] if _language(e[0].split("::")[0]) == language}
            tp = len(w & h)
            out[(kind, language)] = (tp / len(h) if h else 1.0, tp / len(w) if w else 1.0, h - w, w - h)
    return out


def test_print_edge_quality(graph: CodeGraph, capsys: pytest.CaptureFixture) -> None:
    with capsys.disabled():
        print("\ncode graph vs tests/fixtures/polyglot_expected.json")
        print(f"  {'edges':9} {'language':11} {'precision':>9} {'recall':>7}")
        for (kind, language), (p, r, fp, fn) in sorted(_scores(graph).items()):
            print(f"  {kind:9} {language:11} {p:9.2f} {r:7.2f}" + (f"  FP {sorted(fp)}" if fp else "")
                  + (f"  FN {sorted(fn)}" if fn else ""))


@pytest.mark.parametrize(("kind", "language"), sorted(MINIMUM))
def test_edge_precision_and_recall(graph: CodeGraph, kind: str, language: str) -> None:
    precision, recall, fp, fn = _scores(graph)[(kind, language)]
    min_precision, min_recall = MINIMUM[(kind, language)]
    assert _expected_count(kind, language) >= 1, "nothing to measure"
    assert recall >= min_recall, f"{kind} {language}: recall {recall:.2f} < {min_recall}; missed: {sorted(fn)}"
    assert precision >= min_precision, (
        f"{kind} {language}: precision {precision:.2f} < {min_precision}; wrong: {sorted(fp)}")


def _expected_count(kind: str, language: str) -> int:
    return sum(1 for e in _expected()[kind] if _language(e[0].split("::")[0]) == language)


def test_receiver_types_from_field_declarations(graph: CodeGraph) -> None:
    """``s.repo.All()``: field ``repo store.Repository`` of the receiver's struct picks the interface
    method, not MemoryRepo.All; ``repo := store.NewMemoryRepo(); repo.Save()`` picks MemoryRepo.Save
    from NewMemoryRepo's signature."""
    def calls(node: str) -> set[str]:
        return {v for _, v, k in graph.g.out_edges(node, keys=True) if k == EDGE_CALLS}

    assert calls("go/cmd/server/main.go::server.handleBooks") == {
        "go/store/repo.go::Repository.All", "go/store/repo.go::Repository.Save"}
    assert "go/store/repo.go::MemoryRepo.Save" in calls("go/cmd/server/main.go::main")
    assert "go/store/repo.go::Repository.Save" not in calls("go/cmd/server/main.go::main")


def test_package_scope_resolution(graph: CodeGraph) -> None:
    """Go and Java see the other files of their directory without imports (same-package edges, more
    confident than the repo-wide name fallback that would otherwise find some of them)."""
    def provenance(src: str, dst: str, kind: str) -> str:
        [edge] = [e for e in graph.edges_of(src, [kind]) if e.dst == dst]
        return edge.provenance

    java = "java/src/main/java/com/example/bookstore/"
    assert provenance("go/store/repo.go::MemoryRepo", "go/store/timestamps.go::Timestamps", EDGE_INHERITS) == (
        "same-package")
    assert provenance("go/store/repo.go::NewMemoryRepo", "go/store/book.go::Book", "references") == "same-package"
    assert provenance(f"{java}BookstoreApp.java::BookstoreApp.main", f"{java}Book.java::Book", EDGE_CALLS) == (
        "same-package")
    assert provenance(f"{java}dao/InMemoryBookDao.java::InMemoryBookDao", f"{java}dao/BookDao.java::BookDao",
                      EDGE_INHERITS) == "same-package"


# -- node and edge shape -------------------------------------------------------------------------
def test_nodes_have_typed_attributes(graph: CodeGraph) -> None:
    g = graph.g
    assert g.nodes["bookstore/"]["type"] == "dir"
    assert g.nodes["bookstore/auth.py"]["type"] == "file"
    method = g.nodes["bookstore/views.py::AdminBookView.delete"]
    assert (method["type"], method["kind"], method["name"]) == ("function", "method", "delete")
    assert (method["start_line"], method["end_line"], method["is_test"]) == (46, 50, False)
    assert g.nodes["bookstore/views.py::AdminBookView"]["type"] == "class"
    assert g.nodes["README.md#Bookstore > Python package > Views"]["type"] == "section"
    assert g.has_edge("bookstore/", "bookstore/auth.py", "contains")
    assert g.has_edge("bookstore/views.py", "bookstore/views.py::AdminBookView", "contains")
    views = "bookstore/views.py"
    assert g.has_edge(f"{views}::AdminBookView", f"{views}::AdminBookView.delete", "contains")
    assert g.has_edge("README.md#Bookstore > Python package", "README.md#Bookstore > Python package > Views",
                      "contains")
    for _, _, data in g.edges(data=True):
        assert 0 < data["confidence"] <= 1 and data["provenance"] and data["type"]


def test_import_resolution_details(graph: CodeGraph) -> None:
    g = graph.g
    # from .models import Book in a package __init__: a re-export other files import through
    assert g.has_edge("bookstore/__init__.py", "bookstore/models.py::Book", "imports")
    # from . import auth as auth_module: the submodule, not the package
    assert g.has_edge("bookstore/views.py", "bookstore/auth.py", "imports")
    assert not g.has_edge("bookstore/views.py", "bookstore/__init__.py", "imports")
    # import { HttpClient as Client } from "./http": alias-aware call resolution
    edge = g.edges["web/api.ts::createBookApi", "web/http.ts::HttpClient", "calls"]
    assert edge["provenance"] == "imported-name"
    # import * as types from "./types"; types.formatPrice(...)
    assert g.has_edge("web/api.ts::BookApi.label", "web/types.ts::formatPrice", "calls")
    # Go: import path under the go.mod module -> the package directory
    assert g.edges["go/cmd/server/main.go", "go/store/", "imports"]["provenance"] == "import-resolved"
    # self/this methods through resolved bases, super()
    this_call = g.edges["web/api.ts::BookApi.list", "web/base.ts::BaseApi.path", "calls"]
    assert this_call["provenance"] == "self-method"
    views = "bookstore/views.py"
    super_call = g.edges[f"{views}::AdminBookView.__init__", f"{views}::BookView.__init__", "calls"]
    assert super_call["provenance"] == "super-method"


def test_documents_edges(graph: CodeGraph) -> None:
    g = graph.g
    passwords = "docs/guide.rst#Bookstore guide > Installation > Passwords"
    qualified = g.edges[passwords, "bookstore/auth.py::check_password", "documents"]
    assert qualified["provenance"] == "qualified-name"
    assert g.has_edge(passwords, "bookstore/auth.py::MinimumLengthValidator", "documents")
    assert g.has_edge("README.md#Bookstore > Python package > Views", "bookstore/views.py::BookView.show",
                      "documents")
    # 'Save' is a method name of two Go types: ambiguous in prose, so no edge
    assert not any(k == EDGE_DOCUMENTS and v.endswith(".Save") for _, v, k in g.edges(keys=True))


# -- queries -------------------------------------------------------------------------------------
def test_find_accepts_names_paths_and_ids(graph: CodeGraph) -> None:
    node = "bookstore/auth.py::check_password"
    assert graph.find("check_password") == [node]
    assert graph.find("auth.check_password") == [node]
    assert graph.find("bookstore.auth.check_password") == [node]
    assert graph.find("bookstore/auth.py::check_password") == [node]
    assert graph.find("bookstore/auth.py") == ["bookstore/auth.py"]
    assert graph.find("store/repo.go") == ["go/store/repo.go"]
    assert graph.find("bookstore") == ["bookstore/"]
    assert graph.find("AdminBookView.delete") == ["bookstore/views.py::AdminBookView.delete"]
    assert set(graph.find("Book")) >= {"bookstore/models.py::Book", "go/store/book.go::Book"}
    assert graph.find("no_such_symbol") == []


def test_callers_callees_and_impact(graph: CodeGraph) -> None:
    callers = graph.callers("bookstore/auth.py::check_password")
    assert [(r.node, r.line, r.edge, r.depth) for r in callers] == [
        ("bookstore/views.py::AdminBookView.delete", 47, "calls", 1)
    ]
    assert callers[0].confidence == pytest.approx(0.9) and callers[0].start_line == 46

    deep = {r.node: r for r in graph.callers("bookstore/auth.py::hash_password", depth=2)}
    assert deep["bookstore/auth.py::check_password"].depth == 1
    assert deep["bookstore/views.py::AdminBookView.change_password"].depth == 1
    assert deep["bookstore/views.py::AdminBookView.delete"].depth == 2
    assert deep["bookstore/views.py::AdminBookView.delete"].via == "bookstore/auth.py::check_password"

    callees = {r.node for r in graph.callees("bookstore/views.py::AdminBookView.change_password")}
    assert callees == {"bookstore/auth.py::validate_password", "bookstore/auth.py::hash_password"}
    record = graph.callees("bookstore/auth.py::hash_password")[0]
    assert (record.node, record.line, record.start_line) == ("bookstore/auth.py::make_salt", 11, 11)

    impact = {r.node: r for r in graph.impact("bookstore/models.py::Model")}
    assert impact["bookstore/models.py::Book"].edge == "inherits"
    assert impact["bookstore/models.py::Author"].edge == "inherits"
    assert "bookstore/views.py::create_book" in impact  # constructs Book, two steps up
    file_impact = {r.node for r in graph.impact("bookstore/repository.py", max_depth=1)}
    assert {"bookstore/reports.py", "bookstore/views.py", "bookstore/__init__.py"} <= file_impact
    assert "bookstore/repository.py::BookRepository" not in file_impact  # its own members are not impact


def test_neighbours_and_chunk_mapping(graph: CodeGraph) -> None:
    near = graph.neighbours(["bookstore/auth.py::hash_password"], edge_types=["calls"])
    assert set(near) == {"bookstore/auth.py::make_salt", "bookstore/auth.py::check_password",
                         "bookstore/views.py::AdminBookView.change_password"}
    assert graph.neighbours(["bookstore/auth.py::hash_password"], ["calls"], direction="out") == [
        "bookstore/auth.py::make_salt"]
    method = "bookstore/views.py::AdminBookView.delete"
    assert graph.node_for_chunk("bookstore/views.py", "AdminBookView.delete") == method
    assert graph.node_for_chunk("bookstore/views.py", "<module>") == "bookstore/views.py"
    assert graph.node_for_chunk("README.md", "Bookstore > Web client") == "README.md#Bookstore > Web client"
    nodes = graph.nodes_in_file("bookstore/auth.py")
    assert nodes[0] == "bookstore/auth.py" and "bookstore/auth.py::PasswordValidator.validate" in nodes
    starts = [graph.g.nodes[n]["start_line"] for n in nodes[1:]]
    assert starts == sorted(starts)


def test_plain_data_queries(graph: CodeGraph) -> None:
    """What code outside the graph package uses instead of ``graph.g``."""
    method = "bookstore/views.py::AdminBookView.delete"
    attrs = graph.attrs(method)
    assert (attrs["type"], attrs["kind"], attrs["path"], attrs["start_line"]) == (
        NODE_FUNCTION, "method", "bookstore/views.py", 46)
    attrs["path"] = "changed"  # a copy
    assert graph.attrs(method)["path"] == "bookstore/views.py"
    with pytest.raises(KeyError):
        graph.attrs("no/such/node")
    assert (graph.node_type("bookstore/"), graph.node_type("bookstore/auth.py"), graph.node_type("nope")) == (
        NODE_DIR, NODE_FILE, None)
    assert "bookstore/" in graph.nodes([NODE_DIR]) and method not in graph.nodes([NODE_DIR])
    assert len(graph.nodes()) == graph.number_of_nodes()

    assert len(graph.edges()) == graph.number_of_edges()
    calls = graph.edges([EDGE_CALLS])
    assert calls and all(e.kind == EDGE_CALLS for e in calls)
    [into] = graph.edges_of("bookstore/auth.py::check_password", [EDGE_CALLS], direction="in")
    assert (into.src, into.dst, into.kind, into.line) == (method, "bookstore/auth.py::check_password", EDGE_CALLS, 47)
    assert into.to_dict()["confidence"] == pytest.approx(0.9)
    out = graph.edges_of(method, direction="out")
    assert "bookstore/auth.py::check_password" in {e.dst for e in out if e.kind == EDGE_CALLS}
    both = graph.edges_of(method, direction="both")
    assert len(both) == len(out) + len(graph.edges_of(method, direction="in"))
    assert graph.edges_of("nope") == []
    with pytest.raises(ValueError):
        graph.edges_of(method, direction="sideways")
    assert graph.edge_kinds("bookstore/views.py::AdminBookView", method) == [EDGE_CONTAINS]
    assert graph.edge_kinds(method, "bookstore/views.py::AdminBookView") == []
    assert graph.has_edge(method, "bookstore/auth.py::check_password", EDGE_CALLS)
    assert not graph.has_edge(method, "bookstore/auth.py::check_password", EDGE_INHERITS)
    assert graph.degree("bookstore/auth.py::hash_password", [EDGE_CALLS], "in") == 2
    assert graph.degree("bookstore/auth.py::hash_password", [EDGE_CALLS], "out") == 1
    top = graph.most_called(3)
    assert len(top) == 3 and [c for _, c in top] == sorted((c for _, c in top), reverse=True)
    assert top[0][1] == max(graph.degree(n, [EDGE_CALLS]) for n in graph.nodes([NODE_FUNCTION])
                            if not graph.attrs(n)["is_test"])


def test_node_at_and_neighbourhood(graph: CodeGraph) -> None:
    method = "bookstore/views.py::AdminBookView.delete"
    assert graph.node_at("bookstore/views.py", 46, 50, "AdminBookView.delete") == method
    assert graph.node_at("bookstore/views.py", 47, 47) == method  # the smallest symbol around the lines
    assert graph.node_at("bookstore/auth.py", 1, 1) == "bookstore/auth.py"  # no symbol there: the file
    assert graph.node_at("not/indexed.py", 1, 2) is None
    picture = graph.neighbourhood([method, "nope"])
    assert picture.nodes[method] == "cited" and "nope" not in picture.nodes
    assert picture.nodes["bookstore/views.py::AdminBookView"] == "container"
    assert picture.nodes["bookstore/auth.py::check_password"] == "callee"
    assert ("bookstore/views.py::AdminBookView", method, EDGE_CONTAINS) in picture.edges
    assert (method, "bookstore/auth.py::check_password", EDGE_CALLS) in picture.edges
    assert picture.edges == sorted(picture.edges)
    callers = graph.neighbourhood(["bookstore/auth.py::check_password"])
    assert callers.nodes[method] == "caller" and "bookstore/auth.py" not in callers.nodes  # files: no bracket
    both = graph.neighbourhood(["bookstore/views.py::AdminBookView", method])
    assert both.nodes["bookstore/views.py::AdminBookView"] == "cited"
    assert ("bookstore/views.py::AdminBookView", method, EDGE_CONTAINS) not in both.edges


def test_nothing_outside_the_graph_package_reaches_into_it() -> None:
    """Callers use CodeGraph's methods and the EDGE_* names: no ``.g`` and no edge kinds spelled as
    string literals (a word list that merely contains 'tests' is fine)."""
    root = Path(__file__).parent.parent
    offenders = []
    callers = sorted([*root.glob("repo_rag/*.py"), *root.glob("repo_rag/cli/*.py"), *root.glob("ui/*.py"),
                      *root.glob("eval/*.py")])
    assert root / "repo_rag" / "retrieve.py" in callers and root / "repo_rag" / "cli" / "graph.py" in callers
    for path in callers:
        tree = parse_python(path.read_text())
        in_word_lists = {  # {"test", "tests", "testing", ...}: strings only, not all of them edge kinds
            id(elt) for node in ast.walk(tree) if isinstance(node, (ast.Set, ast.List, ast.Tuple))
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
            and any(e.value not in EDGE_TYPES for e in node.elts) for elt in node.elts
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "g":
                offenders.append(f"{path.name}:{node.lineno}: .g")
            if isinstance(node, ast.Constant) and node.value in EDGE_TYPES and id(node) not in in_word_lists:
                offenders.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert not offenders, offenders


def test_one_edge_weight_table_with_retrievals_numbers() -> None:
    """Issue #9: retrieval and the graph share DEFAULT_PPR_WEIGHTS; these are the numbers retrieval
    has always used (changing one changes search results: do it on purpose, with measurements)."""
    assert DEFAULT_PPR_WEIGHTS == {EDGE_CALLS: 1.0, EDGE_INHERITS: 0.8, EDGE_CONTAINS: 0.6, EDGE_IMPORTS: 0.5,
                                   "references": 0.4, EDGE_DOCUMENTS: 0.3, EDGE_TESTS: 0.2}
    assert set(DEFAULT_PPR_WEIGHTS) == set(EDGE_TYPES)
    import repo_rag.retrieve as retrieve

    assert not hasattr(retrieve, "EDGE_WEIGHTS")


def test_personalized_pagerank(graph: CodeGraph) -> None:
    seed = "bookstore/auth.py::check_password"
    scores = graph.personalized_pagerank({seed: 1.0})
    assert next(iter(scores)) == seed
    assert sum(scores.values()) == pytest.approx(1.0)
    assert list(scores.values()) == sorted(scores.values(), reverse=True)
    assert scores["bookstore/auth.py::hash_password"] > scores.get("web/api.ts::BookApi", 0.0)
    assert "bookstore/views.py::AdminBookView.delete" in scores
    assert len(graph.personalized_pagerank({seed: 1.0}, max_nodes=5)) <= 5
    no_edges = dict.fromkeys(EDGE_TYPES, 0.0)
    assert list(graph.personalized_pagerank({seed: 1.0}, no_edges)) == [seed]
    assert graph.personalized_pagerank({"not/a/node": 1.0}) == {}


def _reference_ppr(graph: CodeGraph, seeds: dict[str, float], weights: dict[str, float], max_nodes: int,
                   alpha: float = 0.85, hops: int = 2) -> dict[str, float]:
    """The walk written plainly over networkx edges (as before the sparse matrix), to compare with."""
    import numpy as np

    from repo_rag.graph import DEFAULT_PPR_WEIGHTS

    w_of = {**DEFAULT_PPR_WEIGHTS, **weights}
    g = graph.g
    chosen = dict.fromkeys(sorted(seeds, key=lambda n: (-seeds[n], n)))
    frontier = list(chosen)
    for _ in range(hops):
        strength: dict[str, float] = {}
        for node in frontier:
            incident = [(v, k, d) for _, v, k, d in g.out_edges(node, keys=True, data=True)]
            incident += [(u, k, d) for u, _, k, d in g.in_edges(node, keys=True, data=True)]
            for other, key, data in incident:
                w = w_of.get(key, 0.0) * data["confidence"]
                if w > 0 and other not in chosen:
                    strength[other] = strength.get(other, 0.0) + w
        room = max_nodes - len(chosen)
        if room <= 0 or not strength:
            break
        ring = sorted(strength, key=lambda n: (-strength[n], n))[:room]
        chosen.update(dict.fromkeys(ring))
        frontier = ring
    nodes = list(chosen)
    index = {n: i for i, n in enumerate(nodes)}
    n = len(nodes)
    adj = np.zeros((n, n))
    for u in nodes:
        for _, v, key, data in g.out_edges(u, keys=True, data=True):
            w = w_of.get(key, 0.0) * data["confidence"]
            if v in index and w > 0 and u != v:
                adj[index[u], index[v]] += w
                adj[index[v], index[u]] += w
    personal = np.zeros(n)
    for node, w in seeds.items():
        personal[index[node]] = w
    personal /= personal.sum()
    out_w = adj.sum(axis=1)
    dangling = out_w == 0
    step = np.divide(adj, out_w[:, None], out=np.zeros_like(adj), where=~dangling[:, None])
    rank = personal.copy()
    for _ in range(100):
        new = alpha * (step.T @ rank + rank[dangling].sum() * personal) + (1 - alpha) * personal
        done = np.abs(new - rank).sum() < 1e-9
        rank = new
        if done:
            break
    return {nodes[i]: float(rank[i]) for i in range(n) if rank[i] > 0}


@pytest.mark.parametrize("max_nodes", [3, 12, 2000])
def test_personalized_pagerank_equals_the_plain_walk(graph: CodeGraph, max_nodes: int) -> None:
    seeds = {"bookstore/auth.py::check_password": 2.0, "bookstore/views.py::AdminBookView.delete": 1.0,
             "web/api.ts::BookApi": 0.5}
    for weights in ({}, {"calls": 3.0, "contains": 0.0}):
        got = graph.personalized_pagerank(seeds, weights, max_nodes=max_nodes)
        want = _reference_ppr(graph, seeds, weights, max_nodes)
        assert set(got) == set(want)
        assert all(got[n] == pytest.approx(want[n], rel=1e-9, abs=1e-12) for n in want)
        assert len(got) <= max_nodes
    graph.invalidate()  # the adjacency cache is rebuilt on the next call
    assert graph.personalized_pagerank(seeds, max_nodes=max_nodes) == pytest.approx(
        _reference_ppr(graph, seeds, {}, max_nodes))


# -- incremental updates --------------------------------------------------------------------------
def _graph_state(graph: CodeGraph) -> tuple[set, dict]:
    return edge_signature(graph), {n: dict(d) for n, d in graph.g.nodes(data=True)}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_incremental_update_equals_full_rebuild(tmp_path: Path) -> None:
    repo, index_dir = tmp_path / "repo", tmp_path / "index"
    shutil.copytree(FIXTURE, repo)
    _index(repo, index_dir).close()
    edits = [
        # a body change: one more call
        {"bookstore/reports.py": ("    unknown: list", "    format_summary({})\n    unknown: list")},
        # rename a function other files call and import: their edges must go
        {"bookstore/auth.py": ("def check_password(", "def verify_password(")},
        # define a name that was unresolved, and change a base class
        {"bookstore/models.py": ("class Book(Model):", "class Book(Author):"),
         "web/http.ts": ("  private headers()", "  check_password(): void {}\n\n  private headers()")},
        # Go: a method moves between types of the package
        {"go/store/timestamps.go": ("func (t *Timestamps) Touch()", "func (t *Timestamps) Touched()")},
    ]
    for i, step in enumerate(edits):
        before = Store(index_dir / DB_NAME)
        previous = _current(repo, index_dir, before)  # the graph as readers see it
        before.close()
        assert previous is not None
        for rel, (old, new) in step.items():
            _edit(repo / rel, old, new)
        store = _index(repo, index_dir)  # re-parses the changed files; updates its saved graph
        # every other step without changed_paths: the content hashes alone must find the changes
        updated = build_graph(store, previous=previous, changed_paths=list(step) if i % 2 else None)
        full = build_graph(store)
        # the indexer may defer a small update to load time: what readers load must be current
        saved = _current(repo, index_dir, store)
        store.close()
        assert updated.meta["mode"] == "incremental"
        assert updated.meta["changed"] == len(step)
        assert updated.meta["re_resolved"] < len(full.file_deps)
        assert _graph_state(updated) == _graph_state(full), step
        assert saved is not None and _graph_state(saved) == _graph_state(full), step
    store = Store(index_dir / DB_NAME)
    final = _current(repo, index_dir, store)
    store.close()
    assert final is not None
    assert "bookstore/auth.py::check_password" not in final.g
    delete_calls = final.neighbours(["bookstore/views.py::AdminBookView.delete"], ["calls"], direction="out")
    assert "bookstore/auth.py::verify_password" not in delete_calls
    assert final.g.has_edge("bookstore/models.py::Book", "bookstore/models.py::Author", "inherits")


def test_added_or_removed_files_rebuild_in_full(tmp_path: Path) -> None:
    repo, index_dir = tmp_path / "repo", tmp_path / "index"
    shutil.copytree(FIXTURE, repo)
    _index(repo, index_dir).close()
    previous = load_graph(index_dir / GRAPH_NAME)
    (repo / "bookstore" / "reports.py").unlink()
    store = _index(repo, index_dir)
    updated = build_graph(store, previous=previous, changed_paths=["bookstore/reports.py"])
    assert updated.meta["mode"] == "full"
    assert _graph_state(updated) == _graph_state(build_graph(store))
    store.close()


def test_tests_edges(tmp_path: Path) -> None:
    repo, index_dir = tmp_path / "repo", tmp_path / "index"
    shutil.copytree(FIXTURE, repo)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_auth.py").write_text(
        "from bookstore.auth import hash_password, check_password\n\n\n"
        "def test_round_trip():\n"
        "    encoded = hash_password('secret', 'salt')\n"
        "    assert check_password('secret', encoded)\n"
    )
    _index(repo, index_dir).close()
    graph = load_graph(index_dir / GRAPH_NAME)
    assert graph is not None
    node = "tests/test_auth.py::test_round_trip"
    assert graph.g.nodes[node]["is_test"]
    tested = {v for _, v, k in graph.g.out_edges(node, keys=True) if k == EDGE_TESTS}
    assert tested == {"bookstore/auth.py::hash_password", "bookstore/auth.py::check_password"}
    assert {r.node for r in graph.callers("bookstore/auth.py::hash_password")} >= {node}


# -- package-scoped languages scale linearly (issue #8 item 8) --------------------------------------
def _package_facts(n: int) -> Facts:
    """One Go package and one Java package of ``n`` files each, whose files use each other's names
    (bare calls and types of the package, Go methods declared apart from their types, a tenth as
    many importers calling ``pkg.FuncK``, Java classes extending each other)."""
    language: dict[str, str] = {}
    defs: dict[str, dict[str, Definition]] = {}
    imports: dict[str, list[Import]] = {}
    refs: dict[str, list[Ref]] = {}
    for i in range(n):
        path = f"pkg/f{i}.go"
        language[path] = "go"
        method = f"T{(i - 1) % n}.M"
        defs[path] = {f"Func{i}": Definition(f"Func{i}", f"Func{i}", FUNCTION, 1, 5),
                      f"T{i}": Definition(f"T{i}", f"T{i}", CLASS, 6, 8),
                      method: Definition(method, "M", METHOD, 9, 12)}
        refs[path] = [Ref(CALL, f"Func{(i + 1) % n}", f"Func{i}", 2, ""),
                      Ref(CALL, f"Func{(i * 7) % n}", f"Func{i}", 3, ""),
                      Ref(CALL, f"missing{i}", f"Func{i}", 4, ""),
                      Ref(REFERENCE, f"T{(i + 2) % n}", f"Func{i}", 4, ""),
                      Ref(CALL, "M", method, 10, "t")]
    for j in range(max(1, n // 10)):
        path = f"cmd/c{j}.go"
        language[path] = "go"
        defs[path] = {"main": Definition("main", "main", FUNCTION, 3, 20)}
        imports[path] = [Import("example.com/x/pkg", line=1)]
        refs[path] = [Ref(CALL, f"Func{(j * 10 + k) % n}", "main", 4 + k, "pkg") for k in range(10)]
    for i in range(n):
        path = f"java/com/acme/C{i}.java"
        language[path] = "java"
        defs[path] = {f"C{i}": Definition(f"C{i}", f"C{i}", CLASS, 3, 30),
                      f"C{i}.run{i}": Definition(f"C{i}.run{i}", f"run{i}", METHOD, 5, 10)}
        refs[path] = [Ref(REFERENCE, f"C{(i + 1) % n}", f"C{i}.run{i}", 6, ""),
                      Ref(CALL, f"C{(i + 3) % n}", f"C{i}.run{i}", 7, ""),
                      Ref(CALL, f"run{(i + 5) % n}", f"C{i}.run{i}", 8, "other")]
        if i >= 10:
            refs[path].append(Ref(INHERIT, f"C{i % 10}", f"C{i}", 3, ""))
    return Facts(language, {p: str(i) for i, p in enumerate(language)}, dict.fromkeys(language, 40), defs,
                 imports, refs, {}, [("example.com/x", "")])


def _build(facts: Facts) -> tuple[float, CodeGraph]:
    """CPU seconds (other processes on the machine do not count) and the graph, GC paused as in
    build_graph (a collection costs in proportion to the heap)."""
    with gc_paused():
        t0 = time.process_time()
        tables = Tables(facts)
        graph = full_build(tables, Resolver(tables))
        return time.process_time() - t0, graph


def test_package_resolution_is_linear_in_package_size() -> None:
    """Resolving Go and Java packages used to scan every file of the directory per lookup (3x the
    files: 9x the time); now it is indexed by directory once."""
    small_facts, large_facts = _package_facts(1000), _package_facts(3000)
    small_times, large_times = [], []
    for _ in range(3):  # interleaved; medians (a shared machine's CPU speed varies from run to run)
        seconds, graph = _build(small_facts)
        small_times.append(seconds)
        seconds, large_graph = _build(large_facts)
        large_times.append(seconds)
    small, large = statistics.median(small_times), statistics.median(large_times)
    print(f"\npackages of 1000 files: {small:.2f}s, 3000 files: {large:.2f}s, ratio {large / small:.1f}")
    assert large / small < 4.5
    # the edges are what package scoping should give
    assert graph.has_edge("pkg/f1.go::Func1", "pkg/f2.go::Func2", EDGE_CALLS)
    assert graph.has_edge("cmd/c0.go::main", "pkg/f3.go::Func3", EDGE_CALLS)
    assert graph.has_edge("java/com/acme/C11.java::C11", "java/com/acme/C1.java::C1", EDGE_INHERITS)
    assert graph.has_edge("java/com/acme/C1.java::C1.run1", "java/com/acme/C4.java::C4", EDGE_CALLS)
    # file dependencies name the package once, not each of its 3000 files
    assert max(len(deps) for deps in large_graph.file_deps.values()) < 20


# -- persistence and CLI ---------------------------------------------------------------------------
def test_save_and_load(graph: CodeGraph, tmp_path: Path) -> None:
    path = tmp_path / "g" / GRAPH_NAME
    save_graph(graph, path)
    loaded = load_graph(path)
    assert loaded is not None and edge_signature(loaded) == edge_signature(graph)
    assert loaded.find("check_password") == ["bookstore/auth.py::check_password"]
    assert [p.name for p in path.parent.iterdir()] == [GRAPH_NAME]  # no temp file left behind
    assert load_graph(tmp_path / "missing.pickle") is None
    (tmp_path / "junk.pickle").write_bytes(b"not a pickle")
    assert load_graph(tmp_path / "junk.pickle") is None


def _cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    from repo_rag.cli.graph import add_parser

    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["graph", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run_cli(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_callers_table_and_json(indexed: tuple[Path, Path]) -> None:
    repo, index_dir = indexed
    code, out, _ = _cli("callers", "check_password", "--repo", str(repo), "--index-dir", str(index_dir))
    assert code == 0
    assert "callers of check_password (bookstore/auth.py:23): 1" in out
    assert "bookstore/views.py:47  AdminBookView.delete  (calls, 0.90)" in out
    code, out, _ = _cli("impact", "bookstore/auth.py", "--repo", str(repo), "--index-dir", str(index_dir),
                        "--depth", "2", "--json")
    records = json.loads(out)
    assert code == 0 and {"bookstore/views.py", "bookstore/views.py::AdminBookView.delete"} <= {
        r["node"] for r in records}
    assert set(records[0]) >= {"target", "node", "path", "qualname", "kind", "start_line", "end_line", "edge",
                               "confidence", "depth"}


def test_cli_sees_files_edited_since_the_graph_was_saved(tmp_path: Path) -> None:
    repo, index_dir = tmp_path / "repo", tmp_path / "index"
    shutil.copytree(FIXTURE, repo)
    _index(repo, index_dir).close()
    _edit(repo / "bookstore/views.py", "        if not check_password(password, self.password_hash):",
          "        if not password:")
    _index(repo, index_dir).close()
    code, out, _ = _cli("callers", "check_password", "--repo", str(repo), "--index-dir", str(index_dir))
    assert code == 0 and "callers of check_password (bookstore/auth.py:23): 0" in out


def test_refresh_graph_applies_content_changes(tmp_path: Path) -> None:
    """A saved graph lagging behind its index (e.g. a run killed before saving) is brought up to date
    from content hashes alone; with nothing changed it is returned as is."""
    repo, index_dir = tmp_path / "repo", tmp_path / "index"
    shutil.copytree(FIXTURE, repo)
    store = _index(repo, index_dir)
    stale = build_graph(store)
    assert refresh_graph(stale, store) is stale
    store.close()
    _edit(repo / "bookstore/auth.py", "    candidate = hash_password(",
          "    candidate = make_salt() + hash_password(")
    store = _index(repo, index_dir)
    refreshed = refresh_graph(stale, store)
    assert refreshed.meta["mode"] == "incremental" and refreshed.meta["changed"] == 1
    assert _graph_state(refreshed) == _graph_state(build_graph(store))
    assert refreshed.g.has_edge("bookstore/auth.py::check_password", "bookstore/auth.py::make_salt", "calls")
    store.close()


def test_cli_errors(indexed: tuple[Path, Path], tmp_path: Path) -> None:
    code, _, err = _cli("callers", "x", "--repo", str(tmp_path))
    assert code == 2 and f"no index for {tmp_path}: run `repo-rag index {tmp_path}` first" in err
    repo, index_dir = indexed
    code, _, err = _cli("callees", "no_such_symbol", "--repo", str(repo), "--index-dir", str(index_dir))
    assert code == 1 and "no_such_symbol" in err
