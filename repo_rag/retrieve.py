"""Hybrid retrieval: lexical + dense + symbol/path anchors, fused, expanded through the code graph.

Pipeline (each stage explains itself in the hit's ``reasons``):
1. channels: bm25 over identifier terms, FAISS cosine over chunk embeddings, exact symbol-name
   matches of identifiers in the query, files named in the query (paths, stack-trace frames,
   dotted module names);
2. reciprocal-rank fusion of the channels;
3. graph channel: the top fused hits seed a personalised PageRank over the typed code graph
   (calls, imports, inherits, contains, ...); nodes it reaches become a ranked list of their own,
   fused with the rest;
4. per-file diversification of the final list (and file-level aggregation for file results).
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from repo_rag.indexers.languages import DOC_LANGUAGES
from repo_rag.indexers.testpaths import is_test_path

from .config import ConfigError, SearchConfig
from .embed import Embedder
from .fuse import Ranked, rrf
from .graph_channels import graph_channel, uses_channel
from .hits import SearchHit, SearchResult
from .lexical import lexical_search, matched_terms
from .query import QueryAnalysis, analyze_query
from .rank import CandidatePool, LearnedRanker, RankerError, RepoStats, candidate_features, load_default_ranker
from .rank.pool import pool_from_channels, repo_stats
from .store import Store, StoredChunk
from .vector_store import VectorSearch

if TYPE_CHECKING:
    from .graph import CodeGraph

_WORD = re.compile(r"[a-z]+")
_TEST_WORDS = {"test", "tests", "testing", "tested", "unittest", "pytest", "spec", "specs", "fixture", "fixtures"}
_DOC_WORDS = {
    "doc",
    "docs",
    "documentation",
    "documented",
    "readme",
    "guide",
    "tutorial",
    "changelog",
    "release",
    "notes",
}

CHANNELS = ("lexical", "dense", "symbol", "path", "graph")

# Retrieval constants: fixed by design rather than tuned per corpus (tunable weights live in
# SearchConfig). Each says why it is what it is; issue #10 replaces hand-set ones with learned ranking.
POOL_MIN, POOL_PER_K = 50, 5  # candidates per channel: enough depth for fusion to reorder the top k
LEXICAL_TERMS_SHORT, LEXICAL_TERMS_LONG = 24, 40  # query terms kept; issue texts carry more signal words
EXTRA_TERMS_FROM_NAMES = 16  # code names in the query added as exact lexical terms
SYMBOL_NAMES = 24  # names looked up exactly, most frequent first
SYMBOL_MAX_DEFINITIONS = 25  # a name defined more often than this localises nothing
SYMBOL_HITS_PER_NAME = 8  # definitions kept per looked-up name
PATH_CHUNKS_PER_FILE = 3  # chunks a path anchor contributes from its file
STEM_MIN_CHARS = 5  # file-name anchors: shorter stems ('util', 'base') are too generic
STEM_MAX_FILES = 2  # a stem shared by more files is not an anchor
FILE_POOL_MIN, FILE_POOL_PER_K = 100, 10  # chunk hits gathered to rank k files
FILE_EXTRA_EVIDENCE = 0.25  # rrf ranking only: a file's further hits (2nd-4th) add this fraction of their scores
FILE_EXTRA_HITS = 3
LEARNED_CANDIDATES = 300  # fused candidates the learned ranker scores; the rest keep their fused order
LEARNED_POOL_K = 10  # the k whose channel pools the ranker was trained on (eval/retrieval_data.py)
RANKINGS = ("learned", "rrf")

@dataclass
class FileHit:
    """A file-level result: the file's best chunks aggregated."""

    path: str
    score: float
    best: SearchHit


# Runs each query's dense channel while its lexical channel runs (shared by every retriever: a few
# threads serve many concurrent queries, each holding one only for an embedding and a vector search).
_CHANNEL_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="repo-rag-dense")


@dataclass
class _Gathered:
    """One query's channel lists, their reciprocal-rank fusion and the chunks read so far."""

    qa: QueryAnalysis
    lists: list[Ranked]
    fused: list[tuple[int, float]]
    reasons: dict[int, list[str]]
    chunks: dict[int, StoredChunk]
    qvec: np.ndarray | None
    timings: dict[str, float]
    notes: list[str]
    lexical_terms: tuple[str, ...] = ()  # what the lexical channel searched for


@dataclass
class Candidates:
    """One query's candidate pool, its feature matrix (rows in ``pool.ids`` order) and the rrf ranking."""

    pool: CandidatePool
    features: np.ndarray
    qa: QueryAnalysis
    rrf_scores: dict[int, float]  # reciprocal-rank fusion with the test/doc priors (ranking = 'rrf')


class HybridRetriever:
    def __init__(
        self,
        store: Store,
        cfg: SearchConfig,
        embedder: Embedder | None = None,
        vectors: VectorSearch | None = None,
        graph: CodeGraph | None = None,
        reranker=None,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.embedder = embedder
        self.vectors = vectors
        self.graph = graph
        self.reranker = reranker  # repo_rag.rerank.CrossEncoderReranker or None
        self._embed_lock = threading.Lock()
        if cfg.ranking not in RANKINGS:
            raise ConfigError(f"search.ranking must be one of {', '.join(RANKINGS)}, not {cfg.ranking!r}")
        self._ranker: LearnedRanker | None = None
        self._ranker_error = ""
        self._stats_cache: tuple[str, RepoStats] | None = None

    # -- channels ----------------------------------------------------------------------------
    def _lexical(self, query: str, qa: QueryAnalysis, k: int) -> tuple[Ranked, tuple[str, ...]]:
        """The bm25 list, and the query terms it searched for (named in the reasons of returned hits)."""
        extra = {}
        for name in qa.names[:EXTRA_TERMS_FROM_NAMES]:
            extra[name.lower()] = 1.0
        max_terms = LEXICAL_TERMS_LONG if qa.is_long else LEXICAL_TERMS_SHORT
        # which terms each hit matched is worked out for the returned hits only (_explain_lexical)
        hits, qt = lexical_search(self.store, query, k=k, max_terms=max_terms, extra_terms=extra, explain=0)
        ranked = Ranked("lexical", self.cfg.lexical_weight)
        ranked.items = [(h.chunk_id, h.score, LEXICAL_REASON) for h in hits]
        return ranked, qt.terms

    def _dense(self, query: str, k: int) -> tuple[Ranked, np.ndarray] | None:
        if self.embedder is None or self.vectors is None or not len(self.vectors):
            return None
        with self._embed_lock:
            q = self.embedder.embed_query(query)
        ranked = Ranked("dense", self.cfg.dense_weight)
        for cid, score in self.vectors.search(q, k):
            ranked.items.append((cid, score, f"dense {score:.2f}"))
        return ranked, q

    def _timed_dense(self, query: str, k: int) -> tuple[tuple[Ranked, np.ndarray] | None, float]:
        t = time.perf_counter()
        return self._dense(query, k), (time.perf_counter() - t) * 1000

    def _symbols(self, qa: QueryAnalysis) -> Ranked:
        """Definitions whose name is spelled out in the query (a strong, precise anchor)."""
        ranked = Ranked("symbol", 1.0)
        seen: set[int] = set()
        for name in qa.names[:SYMBOL_NAMES]:
            chunks = [c for c in self.store.chunks_by_name(name) if c.kind != "module" and c.part <= 1]
            if not chunks or len(chunks) > SYMBOL_MAX_DEFINITIONS:  # too common to localise anything
                continue
            chunks.sort(key=lambda c: (c.is_test, c.kind != "class", len(c.path)))
            for c in chunks[:SYMBOL_HITS_PER_NAME]:
                if c.id not in seen:
                    seen.add(c.id)
                    ranked.items.append((c.id, 1.0, f"symbol: {name}"))
        return ranked

    def _paths(self, qa: QueryAnalysis) -> Ranked:
        """Chunks of files named in the query, by path, stack frame or dotted module name."""
        ranked = Ranked("path", 1.0)
        files = self._files_index()
        wanted: list[tuple[str, int, str]] = []  # (path suffix, line, why)
        frame_lines = {f[0]: (f[1], f[2]) for f in qa.frames}
        for p in qa.paths:
            # An issue that names a test file ("I added a test in tests/...") is about the code
            # under test: test paths anchor only short queries that ask for them.
            if qa.is_long and is_test_path(p):
                continue
            wanted.append((p, frame_lines.get(p, (0, ""))[0], "traceback" if p in frame_lines else "path"))
        for d in qa.dotted:
            mod = d.replace(".", "/")
            wanted += [(mod + ".py", 0, "module"), (mod + "/__init__.py", 0, "module")]
            parent = mod.rsplit("/", 1)[0]
            if "/" in mod:
                wanted.append((parent + ".py", 0, "module"))
        stems = self._stems_index()
        for word in qa.words:
            for path in stems.get(word.lower(), ()):
                wanted.append((path, 0, "file name"))
        seen: set[int] = set()
        for suffix, line, why in wanted:
            for path in files.get(suffix.rsplit("/", 1)[-1], ()):
                if not ("/" + path).endswith("/" + suffix.lstrip("/")):
                    continue
                chunks = self.store.chunks_for_path(path)
                if line:
                    chunks.sort(key=lambda c: (not (c.start_line <= line <= c.end_line), c.end_line - c.start_line))
                else:
                    chunks.sort(key=lambda c: c.kind != "module")
                for c in chunks[:PATH_CHUNKS_PER_FILE]:
                    if c.id not in seen:
                        seen.add(c.id)
                        ranked.items.append((c.id, 1.0, f"{why}: {suffix}" + (f":{line}" if line else "")))
                        ranked.tags[c.id] = why + (":hit" if line and c.start_line <= line <= c.end_line else "")
        return ranked

    _files_cache: tuple[str, dict[str, list[str]]] | None = None  # (index stamp, lookup)
    _stems_cache: tuple[str, dict[str, list[str]]] | None = None

    def _stems_index(self) -> dict[str, list[str]]:
        """Distinctive file stems ('sqlmigrate', 'autoreload') -> non-test code files.

        A query word equal to a module's name is a strong, cheap anchor; generic stems shared by
        several files ('utils', 'base', 'models') are left out.
        """
        stamp = self.store.get_manifest().get("indexed_at", "")
        if self._stems_cache is None or self._stems_cache[0] != stamp:
            by_stem: dict[str, list[str]] = defaultdict(list)
            for path, f in self.store.files().items():
                if f.language in DOC_LANGUAGES or f.language == "unknown" or is_test_path(path):
                    continue
                stem = path.rsplit("/", 1)[-1].split(".", 1)[0].lower()
                if len(stem) >= STEM_MIN_CHARS and stem not in ("__init__", "index", "setup", "conftest"):
                    by_stem[stem].append(path)
            self._stems_cache = (stamp, {k: v for k, v in by_stem.items() if len(v) <= STEM_MAX_FILES})
        return self._stems_cache[1]

    def _files_index(self) -> dict[str, list[str]]:
        """basename -> paths, refreshed when the store changes."""
        stamp = self.store.get_manifest().get("indexed_at", "")
        if self._files_cache is None or self._files_cache[0] != stamp:
            by_name: dict[str, list[str]] = defaultdict(list)
            for path in self.store.files():
                by_name[path.rsplit("/", 1)[-1]].append(path)
            self._files_cache = (stamp, dict(by_name))
        return self._files_cache[1]

    # -- search ------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        channels: tuple[str, ...] = CHANNELS,
        per_file: int = 3,
    ) -> SearchResult:
        """The ``k`` best chunks for ``query``: channels propose, the ranking orders, files diversify.

        Ranking: with two or more channels and ``search.ranking = 'learned'`` the shipped model
        scores the fused candidates (:mod:`repo_rag.rank`); otherwise, or when the model cannot be
        loaded (said in the notes), reciprocal-rank fusion with the test/doc priors.
        """
        k = k or self.cfg.top_k
        t0 = time.perf_counter()
        ranker = self.ranker() if len(set(channels) & set(CHANNELS)) > 1 else None
        # The model was trained on the candidates of a top-10 search (channel pools of POOL_MIN): asking
        # it to score deeper pools would show it features it never saw (ranks beyond 50), so a learned
        # search gathers those pools and returns its scored head followed by the fused tail.
        g = self._gather(query, LEARNED_POOL_K if ranker is not None else k, channels)
        if len(g.lists) < 2:
            ranker = None
        if self.cfg.ranking == "learned" and len(g.lists) > 1 and ranker is None:
            g.notes.append(f"learned ranking unavailable ({self._ranker_error}): reciprocal-rank fusion used")
        if ranker is not None:
            t = time.perf_counter()
            fused = self._learned_order(ranker, g)
            g.timings["rank_ms"] = (time.perf_counter() - t) * 1000
        else:
            fused = self._apply_priors(g.qa, g.fused, g.chunks)
        if self.reranker is not None:
            t = time.perf_counter()
            fused = self._rerank(query, fused, g.chunks, g.reasons)
            g.timings["rerank_ms"] = (time.perf_counter() - t) * 1000
        hits = _diversified(fused, g.chunks, g.reasons, k, per_file)
        _explain_lexical(hits, g)
        g.timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return SearchResult(query=query, hits=hits, timings=g.timings, notes=g.notes)

    def _gather(self, query: str, k: int, channels: tuple[str, ...]) -> _Gathered:
        """Run the channels and fuse them by reciprocal rank (the candidate list every ranking starts from)."""
        timings: dict[str, float] = {}
        notes: list[str] = []
        t0 = time.perf_counter()
        qa = analyze_query(query)
        pool = max(POOL_MIN, k * POOL_PER_K)
        lists: list[Ranked] = []
        qvec = None
        lexical_terms: tuple[str, ...] = ()
        # The query embedding and vector search run beside the FTS5 query (both release the GIL):
        # on two cores the dense channel then costs no time of its own on the query's path.
        dense_job = _CHANNEL_THREADS.submit(self._timed_dense, query, pool) if "dense" in channels else None
        if "lexical" in channels:
            lexical, lexical_terms = self._lexical(query, qa, pool)
            lists.append(lexical)
            timings["lexical_ms"] = (time.perf_counter() - t0) * 1000
        if dense_job is not None:
            dense, timings["dense_ms"] = dense_job.result()
            if dense is None:
                notes.append("dense channel unavailable (no vectors yet): lexical/graph results only")
            else:
                lists.append(dense[0])
                qvec = dense[1]
        t = time.perf_counter()
        if "symbol" in channels:
            lists.append(self._symbols(qa))
        if "path" in channels:
            lists.append(self._paths(qa))
        timings["anchors_ms"] = (time.perf_counter() - t) * 1000
        scores, reasons = rrf(lists, self.cfg.rrf_k)
        fused = sorted(scores.items(), key=lambda kv: -kv[1])
        chunks = self.store.chunks_by_ids([cid for cid, _ in fused[: pool * 2]])
        if "graph" in channels and self.cfg.graph and self.graph is not None:
            t = time.perf_counter()
            found = [r for r in (graph_channel(self.graph, self.store, fused, chunks, self.cfg.graph_weight),
                                 uses_channel(self.graph, self.store, qa, self.cfg.graph_weight)) if r and r.items]
            if found:
                lists.extend(found)
                scores, reasons = rrf(lists, self.cfg.rrf_k)
                fused = sorted(scores.items(), key=lambda kv: -kv[1])
                chunks.update(self.store.chunks_by_ids([cid for cid, _ in fused[: pool * 2] if cid not in chunks]))
            timings["graph_ms"] = (time.perf_counter() - t) * 1000
        return _Gathered(qa, lists, fused, reasons, chunks, qvec, timings, notes, lexical_terms)

    # -- learned ranking ---------------------------------------------------------------------
    def ranker(self) -> LearnedRanker | None:
        """The learned ranking model (loaded once), or None when ranking is 'rrf' or it cannot load."""
        if self.cfg.ranking != "learned":
            return None
        if self._ranker is None and not self._ranker_error:
            try:
                self._ranker = load_default_ranker(self.cfg.ranker_model)
            except RankerError as exc:
                self._ranker_error = str(exc)
        return self._ranker

    def repo_stats(self) -> RepoStats:
        """Repository-wide counts the features weigh matches by, refreshed when the store changes."""
        stamp = self.store.get_manifest().get("indexed_at", "")
        if self._stats_cache is None or self._stats_cache[0] != stamp:
            self._stats_cache = (stamp, repo_stats(self.store))
        return self._stats_cache[1]

    def candidates(self, query: str, k: int = 10, channels: tuple[str, ...] = CHANNELS) -> Candidates:
        """What the learned ranker would score for ``query`` (for training and benchmarks)."""
        g = self._gather(query, k, channels)
        pool = self._pool(g)
        features = candidate_features(pool, g.qa, self.repo_stats())
        return Candidates(pool, features, g.qa, dict(self._apply_priors(g.qa, g.fused, g.chunks)))

    def _pool(self, g: _Gathered) -> CandidatePool:
        pool = pool_from_channels(g.lists, g.fused, g.chunks, LEARNED_CANDIDATES)
        if g.qvec is not None and self.vectors is not None:
            pool.cosine = self.vectors.cosines(g.qvec, pool.ids)
        return pool

    def _learned_order(self, ranker: LearnedRanker, g: _Gathered) -> list[tuple[int, float]]:
        """Model scores (squashed into 0..1) for the first candidates; the rest follow in fused order."""
        pool = self._pool(g)
        scores = ranker.score(candidate_features(pool, g.qa, self.repo_stats()))
        probs = 1.0 / (1.0 + np.exp(-scores))
        head = sorted(zip(pool.ids, probs.tolist(), strict=True), key=lambda kv: -kv[1])
        floor = min((s for _, s in head), default=1.0)
        scored = set(pool.ids)
        tail = [(cid, floor * 0.5 * (1.0 - i / (len(g.fused) + 1))) for i, (cid, _) in enumerate(g.fused)
                if cid not in scored]
        return head + tail

    def _rerank(
        self,
        query: str,
        fused: list[tuple[int, float]],
        chunks: dict[int, StoredChunk],
        reasons: dict[int, list[str]],
    ) -> list[tuple[int, float]]:
        """Reorder the head of the fused list by cross-encoder score; the tail keeps its order."""
        depth = self.cfg.rerank_depth
        head = [(cid, s) for cid, s in fused[:depth] if cid in chunks]
        scores = self.reranker.scores(query, [chunks[cid] for cid, _ in head])
        order = sorted(range(len(head)), key=lambda i: -scores[i])
        top = head[0][1] if head else 1.0
        out = []
        for rank, i in enumerate(order):
            cid = head[i][0]
            reasons.setdefault(cid, []).append(f"rerank {scores[i]:.2f}")
            out.append((cid, top * (1.0 - rank / (2 * max(len(order), 1)))))
        return out + fused[depth:]

    def _apply_priors(
        self, qa: QueryAnalysis, fused: list[tuple[int, float]], chunks: dict[int, StoredChunk]
    ) -> list[tuple[int, float]]:
        """Prefer implementation code: tests and prose rank below it unless the query asks for them.

        Questions like "where is X implemented" are answered by source files; tests and docs that
        mention X are useful context but should not outrank it (measured on the dev questions).
        """
        words = set(_WORD.findall(qa.text.lower()))
        # Long queries are issue reports: they mention tests and docs in passing ("I added a test")
        # but are answered by code, so the priors always apply to them.
        test_factor = 1.0 if words & _TEST_WORDS and not qa.is_long else self.cfg.test_prior
        doc_factor = 1.0 if words & _DOC_WORDS and not qa.is_long else self.cfg.doc_prior
        out = []
        for cid, score in fused:
            c = chunks.get(cid)
            if c is not None:
                if c.is_test:
                    score *= test_factor
                elif c.kind == "section" or c.language in DOC_LANGUAGES:
                    score *= doc_factor
            out.append((cid, score))
        out.sort(key=lambda kv: -kv[1])
        return out

    def search_files(self, query: str, k: int = 10, channels: tuple[str, ...] = CHANNELS) -> list[FileHit]:
        """File-level ranking: a file scores by its best chunk plus a little for further evidence."""
        pool = max(FILE_POOL_MIN, k * FILE_POOL_PER_K)
        result = self.search(query, k=pool, channels=channels, per_file=FILE_POOL_MIN)
        by_file: dict[str, list[SearchHit]] = defaultdict(list)
        for h in result.hits:
            by_file[h.path].append(h)
        files = []
        # The learned ranker already weighs a file's other candidates (its 'file' features).
        extra = 0.0 if self.ranker() is not None and len(channels) > 1 else FILE_EXTRA_EVIDENCE
        for path, hs in by_file.items():
            s = sorted((h.score for h in hs), reverse=True)
            files.append(FileHit(path, s[0] + extra * sum(s[1 : 1 + FILE_EXTRA_HITS]), hs[0]))
        files.sort(key=lambda f: -f.score)
        return files[:k]


LEXICAL_REASON = "lexical"
LEXICAL_EXPLAINED = 40  # hits whose matched terms are listed (tokenising every chunk would cost more than bm25)


def _explain_lexical(hits: list[SearchHit], g: _Gathered) -> None:
    """Replace the bare lexical reason of the first returned hits by the query terms they match."""
    for hit in hits[:LEXICAL_EXPLAINED]:
        if LEXICAL_REASON in hit.reasons and hit.chunk_id in g.chunks:
            found = matched_terms(g.chunks[hit.chunk_id], g.lexical_terms)
            if found:
                hit.reasons[hit.reasons.index(LEXICAL_REASON)] = f"lexical: {', '.join(found[:6])}"


def _hit(c: StoredChunk, score: float, reasons: list[str]) -> SearchHit:
    return SearchHit(
        path=c.path,
        start_line=c.start_line,
        end_line=c.end_line,
        symbol=c.qualname,
        kind=c.kind,
        language=c.language,
        score=score,
        reasons=list(dict.fromkeys(reasons)),
        text=c.text,
        signature=c.signature,
        chunk_id=c.id,
    )


def _diversified(
    fused: list[tuple[int, float]], chunks: dict, reasons: dict[int, list[str]], k: int, per_file: int
) -> list[SearchHit]:
    """The best ``k`` hits in fused order, at most ``per_file`` from any one file."""
    hits: list[SearchHit] = []
    per_path: dict[str, int] = defaultdict(int)
    for cid, score in fused:
        c = chunks.get(cid)
        if c is None or per_path[c.path] >= per_file:
            continue
        per_path[c.path] += 1
        hits.append(_hit(c, score, reasons.get(cid, [])))
        if len(hits) >= k:
            break
    return hits
