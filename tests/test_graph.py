"""Code graph: edge precision/recall on the polyglot fixture, queries, incremental updates, CLI."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest

from indexers.languages import language_for_path
from repo_rag.cli_graph import run as run_cli
from repo_rag.config import load_config
from repo_rag.graph import (
    EDGE_CALLS,
    EDGE_DOCUMENTS,
    EDGE_IMPORTS,
    EDGE_INHERITS,
    EDGE_TESTS,
    EDGE_TYPES,
    CodeGraph,
    build_graph,
    edge_signature,
    load_graph,
    refresh_graph,
    save_graph,
)
from repo_rag.indexer import DB_NAME, GRAPH_NAME, Indexer, load_current_graph
from repo_rag.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"
EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "polyglot_expected.json").read_text())
LANGUAGES = {"python": "python", "typescript": "typescript", "tsx": "typescript", "java": "java", "go": "go"}
KINDS = (EDGE_CALLS, EDGE_IMPORTS, EDGE_INHERITS)
THRESHOLD = 0.9


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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", ["python", "typescript", "java", "go"])
def test_edge_precision_and_recall(graph: CodeGraph, kind: str, language: str) -> None:
    precision, recall, fp, fn = _scores(graph)[(kind, language)]
    print(f"{kind} {language}: precision {precision:.2f} recall {recall:.2f}")
    assert recall > THRESHOLD, f"missed: {sorted(fn)}"
    assert precision > THRESHOLD, f"wrong: {sorted(fp)}"


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
        previous = load_current_graph(index_dir, before)  # the graph as readers see it
        before.close()
        assert previous is not None
        for rel, (old, new) in step.items():
            _edit(repo / rel, old, new)
        store = _index(repo, index_dir)  # re-parses the changed files; updates its saved graph
        # every other step without changed_paths: the content hashes alone must find the changes
        updated = build_graph(store, previous=previous, changed_paths=list(step) if i % 2 else None)
        full = build_graph(store)
        # the indexer may defer a small update to load time: what readers load must be current
        saved = load_current_graph(index_dir, store)
        store.close()
        assert updated.meta["mode"] == "incremental"
        assert updated.meta["changed"] == len(step)
        assert updated.meta["re_resolved"] < len(full.file_deps)
        assert _graph_state(updated) == _graph_state(full), step
        assert saved is not None and _graph_state(saved) == _graph_state(full), step
    store = Store(index_dir / DB_NAME)
    final = load_current_graph(index_dir, store)
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
    from repo_rag.cli_graph import add_parser

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
