"""Saved graphs: exact round trip, atomic writes, and loading hostile files (issue #8).

A repository can ship its own index folder, so ``load_graph`` reads data only: it must never run code
(no pickle), never raise on a malformed file, and answer None for anything it did not write itself.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import shutil
import zipfile
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repo_rag.config import load_config
from repo_rag.graph import (
    EDGE_CALLS,
    EDGE_CONTAINS,
    GRAPH_VERSION,
    NODE_CLASS,
    NODE_DIR,
    NODE_FILE,
    NODE_FUNCTION,
    CodeGraph,
    build_graph,
    load_graph,
    persist,
    save_graph,
)
from repo_rag.indexer import Indexer
from repo_rag.layout import DB_NAME
from repo_rag.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"
NAME = "graph.npz"


# -- helpers -------------------------------------------------------------------------------------
def _state(graph: CodeGraph) -> dict:
    """Everything a graph holds, order included (attribute dicts as item lists, so key order counts)."""
    g = graph.g
    return {
        "nodes": [(n, list(d.items())) for n, d in g.nodes(data=True)],
        "edges": [(u, v, k, list(d.items())) for u, v, k, d in g.edges(keys=True, data=True)],
        "pred": [(v, list(g.pred[v])) for v in g],
        "succ": [(u, list(g.succ[u])) for u in g],
        "meta": graph.meta,
        "file_deps": list(graph.file_deps.items()),
        "file_names": list(graph.file_names.items()),
        "file_hashes": list(graph.file_hashes.items()),
        "graph_attrs": dict(g.graph),
    }


def _node(type_: str, path: str, qualname: str = "", **extra) -> dict:
    name = qualname.rsplit(".", 1)[-1] if qualname else path.rstrip("/").rsplit("/", 1)[-1]
    if type_ == NODE_DIR:
        return {"type": type_, "kind": type_, "path": path, "qualname": "", "name": name, "start_line": 0,
                "end_line": 0, "is_test": False, "language": "", **extra}
    kind = "method" if "." in qualname else (type_ if type_ != NODE_FUNCTION else "function")
    return {"type": type_, "kind": kind, "qualname": qualname, "name": name, "start_line": 3, "end_line": 9,
            "path": path, "is_test": False, "language": "python", **extra}


def _edge(kind: str, provenance: str = "same-file", confidence: float = 0.9, line: int = 4) -> dict:
    return {"type": kind, "confidence": confidence, "provenance": provenance, "line": line, "count": 1}


def _small_graph() -> CodeGraph:
    """A hand-made graph with awkward strings and a predecessor order that differs from the order its
    edges are listed in (as incremental updates leave it)."""
    g = nx.MultiDiGraph()
    odd = "pkg/ünï cödé \x00 \ud800 \t.py"  # non-ASCII, NUL, a lone surrogate (surrogateescape paths)
    g.add_node("pkg/", **_node(NODE_DIR, "pkg/"))
    g.add_node("pkg/a.py", **_node(NODE_FILE, "pkg/a.py"))
    g.add_node(odd, **_node(NODE_FILE, odd))
    g.add_node("pkg/a.py::A", **_node(NODE_CLASS, "pkg/a.py", "A"))
    g.add_node("pkg/a.py::A.f", **_node(NODE_FUNCTION, "pkg/a.py", "A.f", unresolved=["get", "x\u2028y"]))
    g.add_node(f"{odd}::g", **_node(NODE_FUNCTION, odd, "g"))
    g.add_node("pkg/a.py::h", **_node(NODE_FUNCTION, "pkg/a.py", "h", unresolved=[]))
    # into A.f: first from g (later node), then from h: pred order [g, h] is not node order
    g.add_edge(f"{odd}::g", "pkg/a.py::A.f", EDGE_CALLS, **_edge(EDGE_CALLS, "unique-global-name", 0.3))
    g.add_edge("pkg/a.py::h", "pkg/a.py::A.f", EDGE_CALLS, **_edge(EDGE_CALLS))
    g.add_edge("pkg/a.py::h", "pkg/a.py::A.f", "references", **_edge("references", "same-file", 0.45))
    g.add_edge("pkg/", "pkg/a.py", EDGE_CONTAINS, **_edge(EDGE_CONTAINS, "structure", 1.0, 0))
    g.add_edge("pkg/a.py", "pkg/a.py::A", EDGE_CONTAINS, **_edge(EDGE_CONTAINS, "structure", 1.0, 3))
    g.add_edge("pkg/a.py::A", "pkg/a.py::A.f", EDGE_CONTAINS, **_edge(EDGE_CONTAINS, "structure", 1.0, 3))
    graph = CodeGraph(g, meta={"mode": "full", "version": GRAPH_VERSION, "build_seconds": 0.125,
                               "nested": {"list": [1, 2.5, None, True, "s"]}})
    graph.file_deps = {"pkg/a.py": frozenset({odd, "\x01pkg/"}), odd: frozenset()}
    graph.file_names = {"pkg/a.py": frozenset({"get"}), odd: frozenset()}
    graph.file_hashes = {"pkg/a.py": "abc", odd: ""}
    return graph


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The polyglot fixture indexed (lexical + graph)."""
    index_dir = tmp_path_factory.mktemp("persist-index")
    Indexer(FIXTURE, load_config(FIXTURE), index_dir=index_dir).run(dense=False)
    store = Store(index_dir / DB_NAME)
    yield store
    store.close()


@pytest.fixture(scope="module")
def saved_small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("small") / NAME
    save_graph(_small_graph(), path)
    return path.read_bytes()


def _arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _npz(arrays: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _load_bytes(tmp_path: Path, data: bytes) -> CodeGraph | None:
    path = tmp_path / NAME
    path.write_bytes(data)
    return load_graph(path)


class _Evil:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


# -- exact round trip ----------------------------------------------------------------------------
def test_round_trip_of_the_polyglot_graph_is_exact(store: Store, tmp_path: Path) -> None:
    graph = build_graph(store)
    assert graph.number_of_edges() > 400  # (unresolved names: see the small graph below)
    path = tmp_path / "index" / NAME
    save_graph(graph, path, store)
    assert graph.meta["indexed_at"] and graph.meta["repo"] and graph.meta["saved_at"]
    loaded = load_graph(path)
    assert loaded is not None
    assert _state(loaded) == _state(graph)
    assert [p.name for p in path.parent.iterdir()] == [NAME]  # no temp file left behind
    # same answers, including which of equally confident paths a walk reports
    for node in ("bookstore/auth.py::hash_password", "bookstore/models.py::Model", "go/store/repo.go"):
        assert loaded.callers(node, depth=3) == graph.callers(node, depth=3)
        assert loaded.impact(node) == graph.impact(node)
        assert loaded.personalized_pagerank({node: 1.0}) == graph.personalized_pagerank({node: 1.0})
    assert loaded.find("check_password") == ["bookstore/auth.py::check_password"]


def test_round_trip_keeps_awkward_strings_and_predecessor_order(tmp_path: Path) -> None:
    graph = _small_graph()
    save_graph(graph, tmp_path / NAME)
    loaded = load_graph(tmp_path / NAME)
    assert loaded is not None and _state(loaded) == _state(graph)
    callers = [n for n in graph.g if n.endswith("::g")] + ["pkg/a.py::h", "pkg/a.py::A"]
    assert list(loaded.g.pred["pkg/a.py::A.f"]) == callers  # not node order (A first): insertion order
    # the loaded graph is an ordinary, mutable networkx graph
    loaded.g.add_edge("pkg/a.py::h", "pkg/a.py::A", EDGE_CALLS, **_edge(EDGE_CALLS))
    assert loaded.g.has_edge("pkg/a.py::h", "pkg/a.py::A", EDGE_CALLS)
    loaded.g.remove_node("pkg/a.py::A.f")
    assert "pkg/a.py::A.f" not in loaded.g.pred["pkg/a.py::A"] and "pkg/a.py::A.f" not in loaded


def test_round_trip_of_an_empty_graph(tmp_path: Path) -> None:
    graph = CodeGraph(meta={"version": GRAPH_VERSION})
    save_graph(graph, tmp_path / NAME)
    loaded = load_graph(tmp_path / NAME)
    assert loaded is not None and _state(loaded) == _state(graph)


def test_save_refuses_what_it_cannot_store_exactly(tmp_path: Path) -> None:
    for spoil in (
        lambda g: g.g.nodes["pkg/a.py"].update(colour="red"),  # unknown node attribute
        lambda g: g.g.add_edge("pkg/", "pkg/a.py::A", "likes", **_edge("likes")),  # unknown edge kind
        lambda g: g.g.edges["pkg/", "pkg/a.py", EDGE_CONTAINS].update(provenance="guess"),
        lambda g: g.meta.update(when=(1, 2)),  # a tuple would come back as a list
        lambda g: g.g.nodes["pkg/a.py"].update(start_line="3"),
    ):
        graph = _small_graph()
        spoil(graph)
        with pytest.raises((ValueError, TypeError)):
            save_graph(graph, tmp_path / NAME)
        assert list(tmp_path.iterdir()) == []  # nothing written, no temp file


def test_failed_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / NAME
    save_graph(_small_graph(), path)
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(persist.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_graph(_small_graph(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [NAME]


# -- hostile files ---------------------------------------------------------------------------------
def test_pickles_are_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Evil(marker))
    pickle.loads(evil)  # the payload works ...
    assert marker.exists()
    marker.unlink()
    cases = {"plain pickle": evil, "pickle of a CodeGraph-like dict": pickle.dumps({"g": _Evil(marker)})}
    buf = io.BytesIO()  # an .npy of object dtype (numpy pickles its items) ...
    np.save(buf, np.array([_Evil(marker)], dtype=object), allow_pickle=True)
    cases["object .npy"] = buf.getvalue()
    buf = io.BytesIO()  # ... and an .npz whose members all have the right names, one of them a pickle
    with zipfile.ZipFile(buf, "w") as zf:
        for name in persist._MEMBERS:
            zf.writestr(name, cases["object .npy"])
    cases["npz of object arrays"] = buf.getvalue()
    cases["npz with pickled header"] = _npz({**_arrays(_saved(tmp_path)), "header": np.array([_Evil(marker)])})
    for what, data in cases.items():
        assert _load_bytes(tmp_path, data) is None, what
        assert not marker.exists(), what


def _saved(tmp_path: Path) -> bytes:
    save_graph(_small_graph(), tmp_path / "ok.npz")
    return (tmp_path / "ok.npz").read_bytes()


def test_missing_unreadable_and_junk_files(tmp_path: Path) -> None:
    assert load_graph(tmp_path / "missing.npz") is None
    assert load_graph(tmp_path) is None  # a directory
    for junk in (b"", b"not a graph", b"PK\x03\x04" + b"\x00" * 100, b"PK\x05\x06" + b"\x00" * 18,
                 b"\x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }"):
        assert _load_bytes(tmp_path, junk) is None


def test_truncated_and_bit_flipped_files(saved_small: bytes, tmp_path: Path) -> None:
    """Cut anywhere: None. A flipped byte: None, or (a byte the zip format does not check, such as a
    timestamp) the very same graph."""
    original = _state(_small_graph())
    assert _without_saved_at(_state(_load_bytes(tmp_path, saved_small))) == original
    for cut in sorted({*range(0, len(saved_small), 97), len(saved_small) - 1, len(saved_small) - 22}):
        assert _load_bytes(tmp_path, saved_small[:cut]) is None, cut
    rng = random.Random(8)
    for _ in range(300):
        data = bytearray(saved_small)
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
        loaded = _load_bytes(tmp_path, bytes(data))
        assert loaded is None or _without_saved_at(_state(loaded)) == original, i


def _without_saved_at(state: dict) -> dict:
    return {**state, "meta": {k: v for k, v in state["meta"].items() if k != "saved_at"}}


def _header(arrays: dict[str, np.ndarray]) -> dict:
    return json.loads(arrays["header"].tobytes())


def _with_header(arrays: dict[str, np.ndarray], **changes) -> dict[str, np.ndarray]:
    header = {**_header(arrays), **changes}
    return {**arrays, "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}


def _corruptions(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Well-formed .npz files whose contents are wrong in one way each."""
    a = arrays
    meta = _header(a)["meta"]
    out = {
        "missing member": {k: v for k, v in a.items() if k != "edge_line"},
        "extra member": {**a, "extra": np.zeros(1, np.int32)},
        "format version": _with_header(a, format_version=99),
        "format name": _with_header(a, format="something-else"),
        "graph version": _with_header(a, meta={**meta, "version": GRAPH_VERSION + 1}),
        "meta not a dict": _with_header(a, meta=[1]),
        "unknown edge kind": _with_header(a, edge_kinds=["contains", "imports", "calls", "likes"]),
        "unknown provenance": _with_header(a, provenances=["guess"] * 20),
        "unknown node type": _with_header(a, node_types=["dir", "file", "class", "planet", "section"]),
        "header not json": {**a, "header": np.frombuffer(b"{not json", dtype=np.uint8)},
        "header not utf-8": {**a, "header": np.frombuffer(b'{"a": "\xff"}', dtype=np.uint8)},
        "string blob not utf-8": {**a, "str_blob": np.concatenate([a["str_blob"], [0xFF]]).astype(np.uint8)},
        "string ends decreasing": {**a, "str_ends": a["str_ends"][::-1].copy()},
        "string ends past the blob": {**a, "str_ends": a["str_ends"] + 1},
        "node id out of range": {**a, "node_id": a["node_id"] + len(a["str_ends"])},
        "negative string index": {**a, "node_name": -a["node_name"] - 1},
        "duplicate node ids": {**a, "node_id": np.zeros_like(a["node_id"])},
        "edge to a missing node": {**a, "edge_dst": a["edge_dst"] + len(a["node_id"])},
        "negative node index": {**a, "edge_src": a["edge_src"] - 100},
        "edge kind code": {**a, "edge_kind": a["edge_kind"] + 40},
        "provenance code": {**a, "edge_provenance": np.full_like(a["edge_provenance"], 250)},
        "node type code": {**a, "node_type": np.full_like(a["node_type"], 9)},
        "duplicate edge": {**a, **{k: np.insert(a[k], 1, a[k][0]) for k in a if k.startswith("edge_")}},
        "edges not grouped by source": {**a, **{k: np.concatenate([a[k], a[k][:1]]) for k in a
                                                if k.startswith("edge_")}},
        "a pair's edges apart": _split_pair(a),
        "pred order not grouped by target": {**a, "pred_order": a["pred_order"][::-1].copy()},
        "string count": {**a, "str_ends": a["str_ends"][:-1]},
        "pred order not a permutation": {**a, "pred_order": np.zeros_like(a["pred_order"])},
        "pred order too short": {**a, "pred_order": a["pred_order"][:-1]},
        "pred order out of range": {**a, "pred_order": a["pred_order"] + 1000},
        "unresolved ends wrong": {**a, "node_unresolved_ends": a["node_unresolved_ends"] + 1},
        "unresolved on a node without": {**a, "node_has_unresolved": np.zeros_like(a["node_has_unresolved"])},
        "deps ends past values": {**a, "deps_ends": a["deps_ends"] + 5},
        "hashes length": {**a, "hashes_values": a["hashes_values"][:-1]},
        "duplicate hash keys": {**a, "hashes_keys": np.zeros_like(a["hashes_keys"])},
        "bool array of 2s": {**a, "node_is_test": np.frombuffer(np.full(len(a["node_id"]), 2, np.uint8).tobytes(),
                                                                  dtype=np.bool_)},
        "confidence not finite": {**a, "edge_confidence": np.full_like(a["edge_confidence"], np.nan)},
        "wrong dtype": {**a, "edge_src": a["edge_src"].astype(np.int64)},
        "big-endian dtype": {**a, "edge_line": a["edge_line"].astype(">i8")},
        "two dimensions": {**a, "edge_line": a["edge_line"].reshape(1, -1)},
        "fortran 2-d": {**a, "node_start": np.asfortranarray(np.stack([a["node_start"]] * 2, axis=1))},
        "structured dtype": {**a, "node_end": np.zeros(len(a["node_id"]), dtype=[("x", "<i8")])},
        "string dtype": {**a, "node_id": a["node_id"].astype("U4")},
        "one node short": {**a, "node_kind": a["node_kind"][:-1]},
    }
    return out


def _split_pair(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Edges of one node pair apart: (1 -> x, contains), (1 -> y, contains), (1 -> x, calls)."""
    k = int(np.flatnonzero(a["edge_src"] == 1)[0])
    calls = _header(a)["edge_kinds"].index(EDGE_CALLS)
    other = next(i for i in range(len(a["node_id"])) if i not in (1, int(a["edge_dst"][k])))
    out = {}
    for name, column in a.items():
        if name.startswith("edge_"):
            extra = {"edge_dst": [other, column[k]], "edge_kind": [column[k], calls]}.get(name, [column[k]] * 2)
            column = np.insert(column, k + 1, np.array(extra, dtype=column.dtype))
        out[name] = column
    return out


def test_well_formed_files_with_wrong_contents(saved_small: bytes, tmp_path: Path) -> None:
    arrays = _arrays(saved_small)
    assert _load_bytes(tmp_path, _npz(arrays)) is not None  # re-packed unchanged: still fine
    for what, spoiled in _corruptions(arrays).items():
        assert _load_bytes(tmp_path, _npz(spoiled)) is None, what
    assert _load_bytes(tmp_path, _npz(arrays, compressed=True)) is None  # compressed members: refused


def test_oversized_array_header_is_refused_before_reading(saved_small: bytes, tmp_path: Path) -> None:
    """A member whose .npy header claims far more data than the member holds allocates nothing."""
    arrays = _arrays(saved_small)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.save(member, array, allow_pickle=False)
            data = member.getvalue()
            if name == "edge_line":
                data = data.replace(f"({len(array)},)".encode(), b"(10000000000000,)".ljust(len(f"({len(array)},)")))
            zf.writestr(name + ".npy", data)
    assert _load_bytes(tmp_path, buf.getvalue()) is None


_ARRAY_NAMES = sorted(persist._ARRAYS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_random_bytes_never_load(data: bytes, tmp_path: Path) -> None:
    assert _load_bytes(tmp_path, data) is None
    assert _load_bytes(tmp_path, b"PK\x03\x04" + data) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(_ARRAY_NAMES), index=st.integers(0, 10_000),
       value=st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 255, 2**31 - 1])),
       cut=st.booleans())
def test_any_changed_array_value_never_crashes(saved_small: bytes, tmp_path: Path, name: str, index: int,
                                                value: int, cut: bool) -> None:
    """One value changed (or one element dropped) in any array: loading returns None or a graph, and
    never raises or runs anything."""
    arrays = {k: v.copy() for k, v in _arrays(saved_small).items()}
    array = arrays[name]
    if len(array):
        if cut:
            arrays[name] = np.delete(array, index % len(array))
        else:
            info = np.iinfo(array.dtype) if array.dtype.kind in "iu" else None
            if info is not None:
                array[index % len(array)] = min(max(value, info.min), info.max)
            elif array.dtype.kind == "f":
                array[index % len(array)] = float(value)
            else:
                array[index % len(array)] = bool(value % 2)
    result = _load_bytes(tmp_path, _npz(arrays))
    assert result is None or isinstance(result, CodeGraph)


# -- integration -----------------------------------------------------------------------------------
def test_indexer_output_loads(store: Store, tmp_path: Path) -> None:
    """Whatever name the indexer saves under, its saved graph is this format and loads."""
    from repo_rag.layout import GRAPH_NAME

    copy = tmp_path / GRAPH_NAME
    shutil.copy(store.db_path.parent / GRAPH_NAME, copy)
    assert copy.read_bytes()[:4] == b"PK\x03\x04"
    assert load_graph(copy) is not None
