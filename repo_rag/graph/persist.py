"""Save and load the graph as data only: one uncompressed ``.npz`` of typed numpy arrays.

An index folder may come from anywhere (a repository can ship one), so loading must never run code:
no pickle anywhere (``allow_pickle=False``, object arrays refused), and everything read is checked
before it is used: member names, zip entry type, array dtypes and shapes, string and node indexes in
range, edge kinds, provenances and node types known, format and graph versions. Anything else makes
:func:`load_graph` return None, and the caller rebuilds the graph from the store.

Layout (arrays of one ``.npz``; ``S`` strings, ``N`` nodes, ``E`` edges, ``P`` node pairs with edges,
``F``/``G``/``H`` files in file_deps/file_names/file_hashes)::

    header            uint8[]   UTF-8 JSON: format, format_version, the string layout, the node type /
                                edge kind / provenance names the codes below index, the graph's ``meta``
    str_blob          uint8[]   every distinct string, UTF-8 (lone surrogates kept): NUL-separated
                                when no string holds a NUL (loading is one split), else concatenated
    str_ends          int64[S]  where each string ends, in code points of the strings alone
    node_id, node_kind, node_path, node_qualname, node_name, node_language   int32[N] string indexes
    node_type         uint8[N]  index into header's node_types
    node_start, node_end  int64[N];  node_is_test  bool[N]
    node_has_unresolved bool[N]; node_unresolved_ends int64[N], unresolved int32[]  (names, CSR)
    edge_src, edge_dst  int32[E] node indexes, in the graph's adjacency order
    edge_kind, edge_provenance  uint8[E] indexes into header's edge_kinds / provenances
    edge_confidence float64[E]; edge_line, edge_count int64[E]
    pred_order        int32[P]  node pairs (numbered by first edge) in predecessor order
    deps_keys int32[F], deps_ends int64[F], deps_values int32[]     file_deps (CSR)
    names_keys int32[G], names_ends int64[G], names_values int32[]  file_names (CSR)
    hashes_keys, hashes_values  int32[H]                            file_hashes

Edges are stored grouped by source node (in node order) and, within it, by target; ``pred_order``
is grouped by target node. Loading requires exactly that.

Loading rebuilds exactly the saved ``networkx.MultiDiGraph``: nodes, edges and attributes, and
also the order of nodes, successors and predecessors (walks report the first of equally confident
paths, so order is part of the answer).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from itertools import chain, pairwise
from operator import itemgetter
from pathlib import Path
from typing import IO

import networkx as nx
import numpy as np

from ..store import Store
from .codegraph import CodeGraph
from .schema import EDGE_TYPES, GRAPH_VERSION, NODE_DIR, NODE_TYPES, PROVENANCES, gc_paused

FORMAT = "repo-rag-graph"
FORMAT_VERSION = 1

_NODE_ATTRS = ("type", "kind", "path", "qualname", "name", "start_line", "end_line", "is_test", "language")
_NODE_KEYS = frozenset(_NODE_ATTRS)
_NODE_KEYS_UNRESOLVED = _NODE_KEYS | {"unresolved"}
_EDGE_ATTRS = frozenset({"type", "confidence", "provenance", "line", "count"})
_I32, _I64, _U8, _F64, _BOOL = (np.dtype(t) for t in ("<i4", "<i8", "u1", "<f8", "?"))
# every member, its dtype, and the count its length must equal (None: free, checked by the CSR ends)
_ARRAYS: dict[str, tuple[np.dtype, str | None]] = {
    "header": (_U8, None),
    "str_blob": (_U8, None),
    "str_ends": (_I64, "S"),
    **{f"node_{a}": (_I32, "N") for a in ("id", "kind", "path", "qualname", "name", "language")},
    "node_type": (_U8, "N"),
    "node_start": (_I64, "N"),
    "node_end": (_I64, "N"),
    "node_is_test": (_BOOL, "N"),
    "node_has_unresolved": (_BOOL, "N"),
    "node_unresolved_ends": (_I64, "N"),
    "unresolved": (_I32, None),
    "edge_src": (_I32, "E"),
    "edge_dst": (_I32, "E"),
    "edge_kind": (_U8, "E"),
    "edge_provenance": (_U8, "E"),
    "edge_confidence": (_F64, "E"),
    "edge_line": (_I64, "E"),
    "edge_count": (_I64, "E"),
    "pred_order": (_I32, "P"),
    "deps_keys": (_I32, "F"),
    "deps_ends": (_I64, "F"),
    "deps_values": (_I32, None),
    "names_keys": (_I32, "G"),
    "names_ends": (_I64, "G"),
    "names_values": (_I32, None),
    "hashes_keys": (_I32, "H"),
    "hashes_values": (_I32, "H"),
}
_MEMBERS = frozenset(name + ".npy" for name in _ARRAYS)


class _Invalid(Exception):
    """The file is not a graph this version wrote."""


# -- save -----------------------------------------------------------------------------------------
def save_graph(graph: CodeGraph, path: str | Path, store: Store | None = None) -> None:
    """Write to a temp file beside ``path``, fsync, then rename over it (readers never see half a
    file; the temp file is removed on failure).

    ``store`` stamps the graph with the index it was built from (its ``indexed_at``), so readers
    can tell a graph that lags behind its index. Raises ValueError/TypeError for a graph holding
    what the format cannot represent exactly (an unknown attribute, edge kind or provenance, meta
    that is not plain JSON data): a bug in whoever built it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if store is not None:
        manifest = store.get_manifest()
        graph.meta["indexed_at"] = manifest.get("indexed_at", "")
        graph.meta["repo"] = manifest.get("repo", "")
    graph.meta["saved_at"] = time.time()
    with gc_paused():  # ~1M temporaries: collections would walk the whole graph again and again
        arrays = _encode(graph)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # uncompressed (ZIP_STORED): loading is a copy, not a decompression
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _require(ok: bool, error: type[Exception], message: str) -> None:
    if not ok:
        raise error(message)


def _ints(values: Iterable) -> np.ndarray:
    values = list(values)
    _require(set(map(type, values)) <= {int, np.int64}, TypeError, "line numbers and counts must be int")
    return np.array(values, dtype=_I64)


def _encode(graph: CodeGraph) -> dict[str, np.ndarray]:
    """The graph as arrays; checks on the way that it holds only what the format stores exactly.

    Long because it is one pass over the graph that builds every column side by side; split, each
    part would walk the adjacency again (the point of this function is to walk it once).

    Reads networkx's adjacency dicts directly (``_node``, ``_succ``, ``_pred``; a pair's key dict is
    the same object in ``_succ`` and ``_pred``), column by column with C-level ``map``/``chain``:
    several times faster than walking its edge views.
    """
    g = graph.g
    _require(isinstance(g, nx.MultiDiGraph) and not g.graph, ValueError,
             "only a MultiDiGraph without graph attributes can be saved")
    _check_plain(graph.meta, "meta")
    arrays: dict[str, np.ndarray] = {}
    columns: dict[str, list] = {}  # string columns, numbered against one table at the end

    # nodes
    ids = list(g._node)
    datas = list(g._node.values())
    bad = [n for n, d in zip(ids, datas, strict=True) if d.keys() != _NODE_KEYS and d.keys() != _NODE_KEYS_UNRESOLVED]
    _require(not bad, ValueError, f"nodes {bad[:3]} have other attributes than {sorted(_NODE_KEYS_UNRESOLVED)}")
    type_code = {t: i for i, t in enumerate(NODE_TYPES)}
    types, kinds, paths, quals, names, starts, ends, tests, languages = (
        zip(*map(itemgetter(*_NODE_ATTRS), datas), strict=True) if datas else ((),) * 9)
    unknown = set(types) - type_code.keys()
    _require(not unknown, ValueError, f"unknown node types {sorted(map(str, unknown))}")
    _require(set(map(type, tests)) <= {bool, np.bool_}, TypeError, "is_test must be bool")
    arrays["node_type"] = np.array(list(map(type_code.__getitem__, types)), _U8)
    columns.update(node_id=ids, node_kind=kinds, node_path=paths, node_qualname=quals, node_name=names,
                   node_language=languages)
    arrays["node_start"] = _ints(starts)
    arrays["node_end"] = _ints(ends)
    arrays["node_is_test"] = np.array(tests, _BOOL)
    lists = [d.get("unresolved") for d in datas]
    _require(set(map(type, lists)) <= {list, type(None)}, TypeError, "unresolved must be a list")
    arrays["node_has_unresolved"] = np.array([names is not None for names in lists], _BOOL)
    arrays["node_unresolved_ends"] = np.cumsum([len(names) if names else 0 for names in lists], dtype=_I64)
    columns["unresolved"] = list(chain.from_iterable(names for names in lists if names))

    # edges, grouped by source then target node (networkx's order); pairs numbered in that order
    position = dict(zip(ids, range(len(ids)), strict=True))
    succ = g._succ
    keydicts = list(chain.from_iterable(map(dict.values, succ.values())))
    pair_dst = list(map(position.__getitem__, chain.from_iterable(succ.values())))
    pair_src = np.repeat(np.arange(len(ids), dtype=np.int64), list(map(len, succ.values())))
    edge_datas = list(chain.from_iterable(map(dict.values, keydicts)))
    edge_keys = list(chain.from_iterable(keydicts))
    per_pair = np.array(list(map(len, keydicts)), dtype=np.int64)
    _require(set(map(len, edge_datas)) <= {len(_EDGE_ATTRS)}, ValueError,
             f"edges must have exactly the attributes {sorted(_EDGE_ATTRS)}")
    try:
        etypes, confidence, provenances, lines, counts = (
            zip(*map(itemgetter("type", "confidence", "provenance", "line", "count"), edge_datas), strict=True)
            if edge_datas else ((),) * 5)
    except KeyError as exc:
        raise ValueError(f"edges must have exactly the attributes {sorted(_EDGE_ATTRS)}") from exc
    _require(list(etypes) == edge_keys, ValueError, "an edge's type attribute differs from its key")
    kind_code = {k: i for i, k in enumerate(EDGE_TYPES)}
    provenance_code = {p: i for i, p in enumerate(PROVENANCES)}
    unknown = set(edge_keys) - kind_code.keys()
    _require(not unknown, ValueError, f"unknown edge kinds {sorted(map(str, unknown))}")
    unknown = set(provenances) - provenance_code.keys()
    _require(not unknown, ValueError, f"unknown provenances {sorted(map(str, unknown))}")
    _require(set(map(type, confidence)) <= {float, np.float64}, TypeError, "confidence must be float")
    arrays["edge_src"] = np.repeat(pair_src, per_pair).astype(_I32)
    arrays["edge_dst"] = np.repeat(np.array(pair_dst, dtype=np.int64), per_pair).astype(_I32)
    arrays["edge_kind"] = np.array(list(map(kind_code.__getitem__, edge_keys)), _U8)
    arrays["edge_provenance"] = np.array(list(map(provenance_code.__getitem__, provenances)), _U8)
    arrays["edge_confidence"] = np.array(confidence, _F64)
    arrays["edge_line"] = _ints(lines)
    arrays["edge_count"] = _ints(counts)
    pair_of = dict(zip(map(id, keydicts), range(len(keydicts)), strict=True))
    try:
        pred_order = list(map(pair_of.__getitem__, map(id, chain.from_iterable(map(dict.values, g._pred.values())))))
    except KeyError:
        raise ValueError("predecessor and successor dicts disagree") from None
    _require(len(pred_order) == len(keydicts), ValueError, "predecessor and successor dicts disagree")
    arrays["pred_order"] = np.array(pred_order, _I32)

    # per-file records
    for name, table in (("deps", graph.file_deps), ("names", graph.file_names)):
        _require(set(map(type, table.values())) <= {frozenset}, TypeError, f"file_{name} values must be frozensets")
        columns[f"{name}_keys"] = list(table)
        arrays[f"{name}_ends"] = np.cumsum(list(map(len, table.values())), dtype=_I64)
        columns[f"{name}_values"] = list(chain.from_iterable(table.values()))
    columns["hashes_keys"] = list(graph.file_hashes)
    columns["hashes_values"] = list(graph.file_hashes.values())

    # strings: every distinct one once, numbered in order of first use
    table = list(dict.fromkeys(chain.from_iterable(columns.values())))
    _require(set(map(type, table)) <= {str}, TypeError, "graph strings (ids, attributes, names) must be str")
    _require(len(table) < 2**31 and len(ids) < 2**31, ValueError, "graph too large for the format")
    number = dict(zip(table, range(len(table)), strict=True))
    for name, values in columns.items():
        arrays[name] = np.array(list(map(number.__getitem__, values)), _I32)
    joined, layout = "\x00".join(table), "nul-separated"  # loading is then one split
    if joined.count("\x00") != max(len(table) - 1, 0):  # some string holds a NUL: slice by ends
        joined, layout = "".join(table), "concatenated"
    arrays["str_blob"] = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=_U8)
    arrays["str_ends"] = np.cumsum(np.fromiter(map(len, table), dtype=np.int64, count=len(table)), dtype=_I64)
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "strings": layout, "node_types": list(NODE_TYPES),
        "edge_kinds": list(EDGE_TYPES), "provenances": list(PROVENANCES), "meta": graph.meta,
    }
    arrays["header"] = np.frombuffer(json.dumps(header, allow_nan=False).encode("utf-8"), dtype=_U8)
    for name, (dtype, _) in _ARRAYS.items():  # e.g. np.cumsum of nothing is float64
        arrays[name] = np.asarray(arrays[name]).astype(dtype, copy=False)
    return arrays


def _check_plain(value: object, where: str, depth: int = 0) -> bool:
    """Whether ``value`` is JSON data that survives a round trip unchanged (raises on save)."""
    if depth > 32:
        raise TypeError(f"{where}: nested too deep")
    if value is None or type(value) in (str, int, bool):
        return True
    if type(value) is float:
        if not math.isfinite(value):
            raise TypeError(f"{where}: {value!r} is not finite")
        return True
    if type(value) is list:
        return all(_check_plain(v, where, depth + 1) for v in value)
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"{where}: key {k!r} is not a str")
            _check_plain(v, f"{where}.{k}", depth + 1)
        return True
    raise TypeError(f"{where}: {type(value).__name__} is not plain JSON data")


# -- load -----------------------------------------------------------------------------------------
def load_graph(path: str | Path) -> CodeGraph | None:
    """The saved graph; None when missing, unreadable, malformed, or written by another format or
    graph version. Never runs code from the file and never raises on its contents."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    try:
        with gc_paused():
            return _decode(data)
    except Exception:  # _Invalid, and whatever zipfile, numpy or json raise on hostile bytes: not a graph
        return None


def _read_arrays(data: bytes) -> dict[str, np.ndarray]:
    if not data.startswith(b"PK\x03\x04"):
        raise _Invalid("not a zip file")
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) != len(_MEMBERS) or {i.filename for i in infos} != _MEMBERS:
            raise _Invalid("unexpected members")
        for info in infos:
            # stored, never compressed (no zip bombs): a member is at most as big as the file
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(data):
                raise _Invalid("compressed or oversized member")
            name = info.filename[:-4]
            with zf.open(info) as fh:
                arrays[name] = _read_npy(fh, _ARRAYS[name][0], info.file_size)
    return arrays


def _read_npy(fh: IO[bytes], dtype: np.dtype, size: int) -> np.ndarray:
    """A 1-d ``.npy`` of exactly ``dtype``: the header is checked before any data is read (an
    object dtype, which would mean pickle, or a shape bigger than the member is refused)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, found = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, found = np.lib.format.read_array_header_2_0(fh)
    else:
        raise _Invalid("npy version")
    if found != dtype or len(shape) != 1 or type(shape[0]) is not int or shape[0] < 0:
        raise _Invalid(f"array of {found} {shape}")
    nbytes = shape[0] * dtype.itemsize
    raw = fh.read(nbytes) if nbytes <= size else b""
    if len(raw) != nbytes:
        raise _Invalid("array data shorter than its header says")
    if dtype == _BOOL and raw and max(raw) > 1:
        raise _Invalid("bool array with other values")
    return np.frombuffer(raw, dtype=dtype)


def _in_range(array: np.ndarray, stop: int) -> None:
    if array.size and (int(array.min()) < 0 or int(array.max()) >= stop):
        raise _Invalid("index out of range")


def _ends(ends: np.ndarray, total: int) -> list[int]:
    """Validated CSR ends (non-decreasing, last == total); as a list with a leading 0."""
    if ends.size:
        if int(ends[0]) < 0 or int(ends[-1]) != total or bool(np.any(ends[1:] < ends[:-1])):
            raise _Invalid("bad offsets")
    elif total:
        raise _Invalid("bad offsets")
    return [0, *ends.tolist()]


def _has_duplicates(values: np.ndarray) -> bool:
    ordered = np.sort(values)
    return bool(np.any(ordered[1:] == ordered[:-1]))


def _codes(names: object, known: Iterable[str]) -> list[str]:
    """The header's code table, each name checked against the ones this version knows."""
    known = set(known)
    if type(names) is not list or not all(type(n) is str and n in known for n in names) or len(names) > 255:
        raise _Invalid("unknown code table")
    return names


def _decode(data: bytes) -> CodeGraph:
    """The graph from an archive's bytes, or :class:`_Invalid` at the first thing out of place.

    Long because it is one straight sequence of checks, each of which must pass before the next
    array is trusted (lengths, then ranges, then codes, then ordering); keeping them in one place
    makes it easy to see that nothing is used before it is checked.
    """
    a = _read_arrays(data)
    header = json.loads(a["header"].tobytes().decode("utf-8"))
    if type(header) is not dict or header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
        raise _Invalid("not this format")
    meta = header.get("meta")
    if type(meta) is not dict or meta.get("version") != GRAPH_VERSION:
        raise _Invalid("another graph version")
    _check_plain(meta, "meta")
    node_types = _codes(header.get("node_types"), NODE_TYPES)
    edge_kinds = _codes(header.get("edge_kinds"), EDGE_TYPES)
    provenances = _codes(header.get("provenances"), PROVENANCES)

    # lengths, index ranges, codes
    counts = {"S": a["str_ends"].size, "N": a["node_id"].size, "E": a["edge_src"].size,
              "F": a["deps_keys"].size, "G": a["names_keys"].size, "H": a["hashes_keys"].size}
    for name, (_, count) in _ARRAYS.items():
        if count in counts and a[name].size != counts[count]:
            raise _Invalid(f"{name}: length")
    n_strings, n_nodes, n_edges = counts["S"], counts["N"], counts["E"]
    for name in ("node_id", "node_kind", "node_path", "node_qualname", "node_name", "node_language", "unresolved",
                 "deps_keys", "deps_values", "names_keys", "names_values", "hashes_keys", "hashes_values"):
        _in_range(a[name], n_strings)
    _in_range(a["node_type"], len(node_types))
    _in_range(a["edge_kind"], len(edge_kinds))
    _in_range(a["edge_provenance"], len(provenances))
    _in_range(a["edge_src"], n_nodes)
    _in_range(a["edge_dst"], n_nodes)
    if not np.all(np.isfinite(a["edge_confidence"])):
        raise _Invalid("confidence")

    # strings: one object array, so every column is a fancy index (no per-item Python work)
    text = a["str_blob"].tobytes().decode("utf-8", "surrogatepass")
    layout = header.get("strings")
    if layout not in ("nul-separated", "concatenated") or (not n_strings and text):
        raise _Invalid("string table")
    if layout == "nul-separated":  # no string holds NUL: one C-level split
        pieces = text.split("\x00") if n_strings else []
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        if len(pieces) != n_strings or np.any(np.cumsum(lengths) != a["str_ends"]):
            raise _Invalid("string table")
    else:
        ends = _ends(a["str_ends"], len(text))
        pieces = [text[i:j] for i, j in pairwise(ends)]
    strings = np.empty(n_strings, dtype=object)
    strings[:] = pieces

    def pick(name: str) -> list[str]:
        return strings[a[name]].tolist()

    # nodes, in saved order; attribute dicts keyed in the order the builder writes them
    ids_array = strings[a["node_id"]]
    ids = ids_array.tolist()
    types = np.array(node_types, dtype=object)[a["node_type"]].tolist() if n_nodes else []
    attrs = [
        {"type": t, "kind": k, "path": p, "qualname": q, "name": n, "start_line": s, "end_line": e, "is_test": x,
         "language": lang}
        if t == NODE_DIR else
        {"type": t, "kind": k, "qualname": q, "name": n, "start_line": s, "end_line": e, "path": p, "is_test": x,
         "language": lang}
        for t, k, p, q, n, s, e, x, lang in zip(
            types, pick("node_kind"), pick("node_path"), pick("node_qualname"), pick("node_name"),
            a["node_start"].tolist(), a["node_end"].tolist(), a["node_is_test"].tolist(), pick("node_language"),
            strict=True)
    ]
    has_unresolved = a["node_has_unresolved"]
    unresolved_ends = _ends(a["node_unresolved_ends"], a["unresolved"].size)
    if np.any(np.diff(unresolved_ends)[~has_unresolved]):
        raise _Invalid("unresolved names on a node without them")
    unresolved = pick("unresolved")
    for i in np.flatnonzero(has_unresolved).tolist():
        attrs[i]["unresolved"] = unresolved[unresolved_ends[i] : unresolved_ends[i + 1]]
    node_data = dict(zip(ids, attrs, strict=True))
    if len(node_data) != n_nodes:
        raise _Invalid("duplicate node ids")

    # edges: saved grouped by source node (in node order), then by target (a node pair's edges
    # together); a pair has one key dict (kind -> attributes), shared by succ and pred as in networkx
    src, dst, kind = a["edge_src"], a["edge_dst"], a["edge_kind"]
    if n_edges:
        if np.any(src[1:] < src[:-1]):
            raise _Invalid("edges not grouped by source")
        first = np.ones(n_edges, dtype=bool)
        first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
        starts = np.flatnonzero(first)
        pair_src, pair_dst = src[starts].astype(np.int64), dst[starts].astype(np.int64)
        if _has_duplicates(pair_src * n_nodes + pair_dst):
            raise _Invalid("a node pair's edges are not together")
        if _has_duplicates((np.cumsum(first) - 1) * 256 + kind):
            raise _Invalid("duplicate edge")
    else:
        starts = pair_src = pair_dst = np.zeros(0, np.int64)
        first = np.zeros(0, dtype=bool)
    n_pairs = starts.size
    # successors: one key dict per pair, holding its first edge; the few pairs with more edges get
    # the rest after; predecessors share the pairs' key dicts, in their own order
    kinds = np.array(edge_kinds, dtype=object)[kind] if n_edges else np.zeros(0, object)
    provs = np.array(provenances, dtype=object)[a["edge_provenance"]] if n_edges else np.zeros(0, object)
    confidence, line, count = a["edge_confidence"], a["edge_line"], a["edge_count"]
    pair_src_ids, pair_dst_ids = ids_array[pair_src], ids_array[pair_dst]
    succ: dict[str, dict[str, dict]] = {u: {} for u in ids}
    keydicts = np.empty(n_pairs, dtype=object)
    keydicts[:] = [
        {k: {"type": k, "confidence": c, "provenance": p, "line": at, "count": n}}
        for k, c, p, at, n in zip(kinds[starts].tolist(), confidence[starts].tolist(), provs[starts].tolist(),
                                  line[starts].tolist(), count[starts].tolist(), strict=True)
    ]
    for u, v, keydict in zip(pair_src_ids.tolist(), pair_dst_ids.tolist(), keydicts.tolist(), strict=True):
        succ[u][v] = keydict
    more = np.flatnonzero(~first)
    in_pair = keydicts[np.cumsum(first)[more] - 1].tolist()
    for keydict, k, c, p, at, n in zip(in_pair, kinds[more].tolist(), confidence[more].tolist(),
                                       provs[more].tolist(), line[more].tolist(), count[more].tolist(), strict=True):
        keydict[k] = {"type": k, "confidence": c, "provenance": p, "line": at, "count": n}

    order = a["pred_order"]  # the pairs in predecessor order: grouped by target node, in node order
    _in_range(order, n_pairs)
    if order.size != n_pairs or not np.all(np.bincount(order, minlength=n_pairs) == 1):
        raise _Invalid("pred_order is not a permutation of the node pairs")
    targets = pair_dst[order]
    if np.any(targets[1:] < targets[:-1]):
        raise _Invalid("pred_order not grouped by target")
    pred: dict[str, dict[str, dict]] = {v: {} for v in ids}
    for u, v, keydict in zip(pair_src_ids[order].tolist(), pair_dst_ids[order].tolist(), keydicts[order].tolist(),
                             strict=True):
        pred[v][u] = keydict

    graph = CodeGraph(_multidigraph(node_data, succ, pred), meta=meta)
    for name, target in (("deps", graph.file_deps), ("names", graph.file_names)):
        keys, values = pick(f"{name}_keys"), pick(f"{name}_values")
        bounds = _ends(a[f"{name}_ends"], len(values))
        target.update((key, frozenset(values[bounds[i] : bounds[i + 1]])) for i, key in enumerate(keys))
        if len(target) != len(keys):
            raise _Invalid(f"duplicate file_{name} keys")
    hashes = dict(zip(pick("hashes_keys"), pick("hashes_values"), strict=True))
    if len(hashes) != counts["H"]:
        raise _Invalid("duplicate file_hashes keys")
    graph.file_hashes = hashes
    return graph


def _multidigraph(nodes: Mapping[str, dict], succ: Mapping[str, dict], pred: Mapping[str, dict]) -> nx.MultiDiGraph:
    """A MultiDiGraph over prepared adjacency dicts (networkx's own layout: ``_node``, ``_succ`` (also
    ``_adj``) and ``_pred``, one key dict per node pair shared by both), filled in place: ~5x faster
    than ``add_edges_from``, and it keeps predecessor order, which re-adding edges would not."""
    g = nx.MultiDiGraph()
    g._node.update(nodes)
    g._succ.update(succ)
    g._pred.update(pred)
    return g
