"""Features of one query's retrieval candidates: what every channel, anchor and prior said, as numbers.

A candidate is a chunk proposed by at least one channel. Its row says, in this order:

1. lexical: bm25 score relative to the query's best, inverse rank;
2. dense: cosine to the query (computed for EVERY candidate, not only the dense top list), its
   gap to the best cosine, inverse dense rank;
3. symbol: the chunk's name spelled in the query, weighted by how rare that name is among the
   repository's definitions (``symbol_idf``); the share of the name's words the query uses;
4. path: the file named by path, stack frame or dotted module; a frame line inside the chunk; a
   query word equal to the file's stem, weighted by how rare the word is in the repository
   (``stem_idf``: "where" matching ``sql/where.py`` weighs little) and how many files share the
   stem; the share of the query's words found in the path;
5. graph: personalised PageRank mass relative to the best, inverse rank, the edge type that ties
   it to a seed; inverse rank among the users (callers, referrers, subclasses) of a definition the
   query names (the ``uses`` channel: the answer to "what calls X");
6. fusion: the reciprocal-rank-fusion score of the channels (the old ranking, as one feature);
7. chunk: kind, test / example / vendored flags, size, continuation part (not "has a docstring":
   the mined training queries come from docstrings blanked in the index, so that flag would tell
   the model which chunk is the answer);
8. file: how many of the file's chunks are candidates, the file's best dense cosine and best
   lexical rank;
9. query: long issue text or short question, words, code names, asks for tests / docs, asks
   about use ("what calls", "who uses", "where is it invoked").

Absent signals are 0 (every ranked signal is an inverse rank or a non-negative score), so a model
sees "not proposed" and "proposed last" as different things.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..lexical import stem, tokenize
from ..query import QueryAnalysis
from ..store import StoredChunk

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "lexical": ("lex_score", "lex_rank"),
    "dense": ("dense_cos", "dense_gap", "dense_rank"),
    "symbol": ("symbol_exact", "symbol_idf", "name_overlap"),
    "path": ("path_named", "frame_hit", "stem_match", "stem_idf", "stem_files", "path_overlap"),
    "graph": ("graph_score", "graph_rank", "graph_calls", "graph_inherits", "graph_contains", "graph_other",
              "uses_rank"),
    "fusion": ("rrf",),
    "chunk": ("kind_function", "kind_method", "kind_class", "kind_module", "kind_doc", "is_test", "is_example",
              "is_vendor", "log_lines", "is_part"),
    "file": ("file_candidates", "file_best_dense", "file_best_lex_rank"),
    "query": ("q_long", "q_words", "q_names", "q_wants_tests", "q_wants_docs", "q_about_use"),
}
FEATURES: tuple[str, ...] = tuple(f for group in FEATURE_GROUPS.values() for f in group)
_INDEX = {name: i for i, name in enumerate(FEATURES)}

TEST_WORDS = frozenset({"test", "tests", "testing", "tested", "unittest", "pytest", "spec", "specs", "fixture",
                        "fixtures"})
DOC_WORDS = frozenset({"doc", "docs", "documentation", "documented", "readme", "guide", "tutorial", "changelog"})
USE_WORDS = frozenset({"call", "calls", "called", "caller", "callers", "calling", "invoke", "invokes", "invoked",
                       "uses", "used", "user", "users"})
_EXAMPLE_DIRS = frozenset({"example", "examples", "demo", "demos", "sample", "samples", "docs", "doc", "benchmarks",
                           "bench"})
_VENDOR_DIRS = frozenset({"vendor", "vendored", "third_party", "thirdparty", "node_modules", "dist", "build",
                          "generated", "_vendor", "externals", "extern"})
_WORD = re.compile(r"[a-z]+")
_TRACEBACK_HEADER = re.compile(r"most recent call (?:last|first)")
_DOC_KINDS = frozenset({"section"})
_KIND_FEATURE = {"function": "kind_function", "method": "kind_method", "class": "kind_class", "module": "kind_module"}


@dataclass
class RepoStats:
    """What the features need to know about the whole repository (built once per index state)."""

    n_chunks: int
    name_counts: dict[str, int]  # definition name -> how many chunks are named so
    stem_counts: dict[str, int]  # file stem (lower-case) -> how many code files have it
    doc_frequency: Callable[[list[str]], dict[str, int]]  # lexical term -> chunks containing it


@dataclass
class CandidatePool:
    """One query's candidates and what each channel said about them (ids are chunk ids)."""

    ids: list[int]
    chunks: dict[int, StoredChunk]
    lexical: dict[int, tuple[int, float]] = field(default_factory=dict)  # id -> (rank from 1, bm25)
    dense_rank: dict[int, int] = field(default_factory=dict)  # id -> rank from 1 in the dense list
    cosine: dict[int, float] = field(default_factory=dict)  # id -> cosine (any candidate with a vector)
    symbol: dict[int, str] = field(default_factory=dict)  # id -> the query name it matched
    path: dict[int, str] = field(default_factory=dict)  # id -> why: path | traceback | module | file name
    frame_hit: set[int] = field(default_factory=set)  # ids whose lines hold a traceback frame
    graph: dict[int, tuple[int, float, str]] = field(default_factory=dict)  # id -> (rank, mass, edge type)
    uses: dict[int, int] = field(default_factory=dict)  # id -> rank among users of a query-named definition
    rrf: dict[int, float] = field(default_factory=dict)


@lru_cache(maxsize=65536)
def _name_words(name: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in tokenize(name) if len(w) > 1)


@lru_cache(maxsize=65536)
def _path_stems(path: str) -> frozenset[str]:
    return frozenset(stem(w) for w in tokenize(path))


def _inverse(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def candidate_features(pool: CandidatePool, qa: QueryAnalysis, stats: RepoStats) -> np.ndarray:
    """The ``len(pool.ids) x len(FEATURES)`` float32 matrix, rows in ``pool.ids`` order.

    Long because it is the one table of what a candidate looks like: every feature is computed
    here, next to its siblings, in the order of :data:`FEATURES`.
    """
    x = np.zeros((len(pool.ids), len(FEATURES)), dtype=np.float32)
    text = qa.text.lower()
    q_words = set(_WORD.findall(text))
    q_stems = {stem(w) for w in tokenize(qa.text)}
    content_words = [w for w in dict.fromkeys(_WORD.findall(text)) if len(w) > 2]
    names_lower = {n.lower() for n in qa.names}
    word_df = stats.doc_frequency([stem(w) for w in content_words]) if content_words else {}
    n = max(stats.n_chunks, 1)
    best_lex = max((s for _, s in pool.lexical.values()), default=0.0) or 1.0
    best_cos = max(pool.cosine.values(), default=0.0)
    best_graph = max((m for _, m, _ in pool.graph.values()), default=0.0) or 1.0
    best_rrf = max(pool.rrf.values(), default=0.0) or 1.0
    by_file: dict[str, list[int]] = defaultdict(list)
    for cid in pool.ids:
        c = pool.chunks.get(cid)
        if c is not None:
            by_file[c.path].append(cid)
    file_stats = {
        path: (len(ids), max((pool.cosine.get(i, 0.0) for i in ids), default=0.0),
               max((_inverse(pool.lexical.get(i, (0, 0.0))[0]) for i in ids), default=0.0))
        for path, ids in by_file.items()
    }
    query_row = {
        "q_long": float(qa.is_long), "q_words": math.log1p(len(q_words)), "q_names": math.log1p(len(qa.names)),
        "q_wants_tests": float(bool(q_words & TEST_WORDS)), "q_wants_docs": float(bool(q_words & DOC_WORDS)),
        # a Python traceback's header ("most recent call last") does not ask what calls anything
        "q_about_use": float(bool(set(_WORD.findall(_TRACEBACK_HEADER.sub(" ", text))) & USE_WORDS)),
    }
    for row, cid in enumerate(pool.ids):
        c = pool.chunks.get(cid)
        f: dict[str, float] = dict(query_row)
        lex = pool.lexical.get(cid)
        if lex:
            f["lex_score"], f["lex_rank"] = lex[1] / best_lex, _inverse(lex[0])
        if cid in pool.cosine:
            f["dense_cos"] = pool.cosine[cid]
            f["dense_gap"] = best_cos - pool.cosine[cid]
        else:
            f["dense_gap"] = 1.0
        f["dense_rank"] = _inverse(pool.dense_rank.get(cid))
        graph = pool.graph.get(cid)
        if graph:
            f["graph_rank"], f["graph_score"] = _inverse(graph[0]), graph[1] / best_graph
            edge = {"calls": "graph_calls", "inherits": "graph_inherits", "contains": "graph_contains"}
            f[edge.get(graph[2], "graph_other")] = 1.0
        f["uses_rank"] = _inverse(pool.uses.get(cid))
        f["rrf"] = pool.rrf.get(cid, 0.0) / best_rrf
        f["path_named"] = float(pool.path.get(cid) in ("path", "traceback", "module"))
        f["frame_hit"] = float(cid in pool.frame_hit)
        if c is not None:
            _chunk_features(f, c, pool, qa, stats, q_words, q_stems, names_lower, word_df, n)
            fc, fd, fl = file_stats[c.path]
            f["file_candidates"], f["file_best_dense"], f["file_best_lex_rank"] = math.log1p(fc), fd, fl
        for name, value in f.items():
            x[row, _INDEX[name]] = value
    return x


def _chunk_features(f: dict[str, float], c: StoredChunk, pool: CandidatePool, qa: QueryAnalysis, stats: RepoStats,
                    q_words: set[str], q_stems: set[str], names_lower: set[str], word_df: dict[str, int],
                    n: int) -> None:
    """The symbol, path and chunk groups of one candidate (see the module docstring)."""
    name = c.name or ""
    if len(name) >= 3 and (name.lower() in names_lower or name.lower() in q_words or c.id in pool.symbol):
        f["symbol_exact"] = 1.0
        f["symbol_idf"] = math.log(n / max(stats.name_counts.get(name, 1), 1))
    words = _name_words(name)
    if words:
        f["name_overlap"] = sum(w in q_stems for w in words) / len(words)
    parts = c.path.lower().split("/")
    stem_ = parts[-1].split(".", 1)[0]
    if len(stem_) >= 3 and stem_ in q_words:
        f["stem_match"] = 1.0
        # a word the lexical index ignores as too common ('where', 'this') is as common as words get
        indexed = bool(tokenize(stem_))
        f["stem_idf"] = math.log((n + 1) / (word_df.get(stem(stem_), 0) + 1)) if indexed else 0.0
        f["stem_files"] = 1.0 / max(stats.stem_counts.get(stem_, 1), 1)
    path_stems = _path_stems(c.path)
    content = [s for s in q_stems if len(s) > 2]
    if content:
        f["path_overlap"] = sum(s in path_stems for s in content) / len(content)
    kind = _KIND_FEATURE.get(c.kind)
    if kind:
        f[kind] = 1.0
    if c.kind in _DOC_KINDS or c.language in ("markdown", "rst", "text"):
        f["kind_doc"] = 1.0
    f["is_test"] = float(c.is_test)
    f["is_example"] = float(any(p in _EXAMPLE_DIRS for p in parts[:-1]))
    f["is_vendor"] = float(any(p in _VENDOR_DIRS for p in parts[:-1]) or ".min." in parts[-1])
    f["log_lines"] = math.log1p(max(c.end_line - c.start_line + 1, 1))
    f["is_part"] = float(c.part > 1)
