"""Index a repository: discover -> parse/chunk -> store (lexical) -> graph -> embed (dense).

Stages commit separately so the cheap channels are usable early: once the SQLite transaction of
the parse stage commits, lexical search works while embeddings are still being computed. Only
added or changed files are parsed and embedded again (size+mtime, then content hash).
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from indexers.discover import DiscoveryResult, discover, read_text
from indexers.model import ParsedFile, SourceFile, content_hash
from indexers.parse import parse_source
from indexers.testpaths import is_test_path

from .config import INDEX_DIRNAME, Config
from .embed import Embedder, embedding_text
from .lexical import fts_row
from .store import Store
from .vectors import VectorIndex

# progress(stage, done, total, info)
Progress = Callable[[str, int, int, str], None]

DB_NAME = "index.sqlite"
VECTORS_NAME = "vectors.faiss"
GRAPH_NAME = "graph.pickle"


def load_current_graph(index_dir: Path, store: Store):
    """The saved code graph brought up to date with files edited since it was saved (or None)."""
    from .graph import build_graph, load_graph

    graph = load_graph(index_dir / GRAPH_NAME)
    if graph is not None:
        pending = json.loads(store.get_manifest().get("graph_pending", "[]"))
        if pending:
            graph = build_graph(store, previous=graph, changed_paths=pending)
    return graph


class IndexBusyError(RuntimeError):
    """Another indexer holds the lock on this index directory."""


def index_dir_for(repo: Path, index_dir: str | Path | None = None) -> Path:
    return Path(index_dir) if index_dir else repo / INDEX_DIRNAME


@dataclass
class IndexReport:
    repo: str
    files_seen: int = 0
    files_parsed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    parse_errors: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    chunks_total: int = 0
    chunks_written: int = 0
    embedded: int = 0
    embedded_from_cache: int = 0
    dense_chunks: int = 0
    graph_nodes: int = 0
    graph_edges: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class _Parsed:
    source: SourceFile
    file_hash: str
    n_lines: int
    parsed: ParsedFile | None  # None: content unchanged since last index
    fts_rows: list[tuple[str, str, str, str]]


def _parse_one(source: SourceFile, old_hash: str | None, max_chunk_lines: int) -> _Parsed:
    """Read, hash and parse one file (runs in worker processes)."""
    try:
        text, _note = read_text(source.abs_path)
    except OSError as exc:
        text = ""
        parsed = ParsedFile(source.path, source.language, error=f"unreadable: {exc.strerror or exc}")
        return _Parsed(source, "", 0, parsed, [])
    file_hash = content_hash(text)
    if file_hash == old_hash:
        return _Parsed(source, file_hash, 0, None, [])
    parsed = parse_source(source.path, text, source.language, max_chunk_lines=max_chunk_lines)
    return _Parsed(source, file_hash, text.count("\n") + 1, parsed, [fts_row(c) for c in parsed.chunks])


def _parse_batch(items: list[tuple[SourceFile, str | None]], max_chunk_lines: int) -> list[_Parsed]:
    return [_parse_one(s, h, max_chunk_lines) for s, h in items]


@contextmanager
def _lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / "index.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(f"another repo-rag indexer is running on {index_dir}") from exc
        yield
    finally:
        os.close(fd)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process or of any parse worker, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


class Indexer:
    DEFERRED_GRAPH_FILES = 20  # up to this many edited files, the graph update happens at load time

    def __init__(self, repo: str | Path, config: Config, index_dir: str | Path | None = None) -> None:
        self.repo = Path(repo).resolve()
        if not self.repo.is_dir():
            raise FileNotFoundError(f"repository path does not exist or is not a directory: {repo}")
        self.config = config
        self.index_dir = index_dir_for(self.repo, index_dir).resolve()
        self._changed_paths: set[str] | None = None  # None: first build, no previous graph
        self._files_added = False

    def discover(self) -> DiscoveryResult:
        extra = list(self.config.index.extra_ignore)
        try:  # an index dir inside the repo is never indexed
            extra.append(self.index_dir.relative_to(self.repo).as_posix() + "/")
        except ValueError:
            pass
        return discover(
            self.repo,
            max_file_bytes=self.config.index.max_file_bytes,
            extra_ignore=extra,
            follow_symlinks=self.config.index.follow_symlinks,
        )

    def run(
        self, progress: Progress | None = None, *, dense: bool | None = None, workers: int | None = None
    ) -> IndexReport:
        progress = progress or (lambda *a: None)
        report = IndexReport(repo=str(self.repo))
        with _lock(self.index_dir):
            t0 = time.perf_counter()
            found = self.discover()
            report.files_seen = len(found.files)
            report.skipped = found.reasons()
            report.seconds["discover"] = time.perf_counter() - t0
            progress("discover", len(found.files), len(found.files), "")

            store = Store(self.index_dir / DB_NAME, create=True)
            try:
                self._parse_and_store(store, found, report, progress, workers)
                self._graph(store, report, progress)
                if self.config.embed.enabled if dense is None else dense:
                    self._dense(store, report, progress)
                else:
                    report.notes.append("dense channel disabled: lexical and graph search only")
                report.chunks_total = store.chunk_count()
            finally:
                store.close()
        report.seconds["total"] = sum(v for k, v in report.seconds.items() if k != "total")
        report.peak_rss_mb = _peak_rss_mb()
        return report

    # -- stage 1: parse + lexical ------------------------------------------------------------
    def _parse_and_store(
        self, store: Store, found: DiscoveryResult, report: IndexReport, progress: Progress, workers: int | None
    ) -> None:
        t0 = time.perf_counter()
        stored = store.files()
        todo: list[tuple[SourceFile, str | None]] = []
        for f in found.files:
            old = stored.get(f.path)
            if old and old.size == f.size and old.mtime_ns == f.mtime_ns and not old.error.startswith("unreadable"):
                report.files_unchanged += 1
                continue
            todo.append((f, old.hash if old else None))
        removed = set(stored) - {f.path for f in found.files}
        results = list(self._parse_all(todo, progress, workers))
        self._changed_paths = {r.source.path for r in results if r.parsed is not None} if stored else None
        self._files_added = any(r.source.path not in stored for r in results)
        report.seconds["parse"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        progress("store", 0, len(results), "writing")
        with store.transaction() as con:
            for r in results:
                if r.parsed is None:
                    store.touch_file(con, stored[r.source.path].id, r.source.size, r.source.mtime_ns)
                    report.files_unchanged += 1
                    continue
                ids = store.put_file(
                    con, r.source, r.file_hash, r.n_lines, r.parsed, r.fts_rows, is_test_path(r.source.path)
                )
                report.files_parsed += 1
                report.chunks_written += len(ids)
                report.parse_errors += bool(r.parsed.error)
            for path in removed:
                store.delete_file(con, stored[path].id)
            report.files_removed = len(removed)
            # Files whose graph edges are not yet in the saved graph (cleared once it is rebuilt);
            # written in this transaction so a crash can never leave the graph silently stale.
            dirty = set(json.loads(store.get_manifest().get("graph_pending", "[]")))
            dirty |= (self._changed_paths or set()) | removed
            store.set_manifest(
                con,
                {
                    "repo": str(self.repo),
                    "indexed_at": time.time(),
                    "skipped": report.skipped,
                    "graph_pending": sorted(dirty),
                },
            )
        report.seconds["store"] = time.perf_counter() - t1
        progress("store", report.files_parsed, len(results), f"{report.chunks_written} chunks")

    def _parse_all(
        self, todo: list[tuple[SourceFile, str | None]], progress: Progress, workers: int | None
    ) -> Iterator[_Parsed]:
        max_lines = self.config.index.max_chunk_lines
        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        if workers <= 1 or len(todo) < 64:
            for i, item in enumerate(todo, 1):
                yield _parse_one(*item, max_lines)
                progress("parse", i, len(todo), "")
            return
        batches = [todo[i : i + 32] for i in range(0, len(todo), 32)]
        done = 0
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for batch in pool.map(_parse_batch, batches, [max_lines] * len(batches)):
                done += len(batch)
                progress("parse", done, len(todo), "")
                yield from batch

    # -- stage 2: graph ----------------------------------------------------------------------
    def _graph(self, store: Store, report: IndexReport, progress: Progress) -> None:
        from .graph import build_graph, load_graph, save_graph

        t0 = time.perf_counter()
        graph_path = self.index_dir / GRAPH_NAME
        pending = json.loads(store.get_manifest().get("graph_pending", "[]"))
        small = (
            self._changed_paths is not None
            and not self._files_added
            and not report.files_removed
            and len(pending) <= self.DEFERRED_GRAPH_FILES
            and graph_path.exists()
        )
        if small:
            # Loading, updating and re-saving the whole graph costs seconds on a large repo; a few
            # edited files are instead re-resolved in memory when a reader loads the graph
            # (load_current_graph), and folded into the saved graph by the next larger run.
            if pending:
                report.notes.append(f"graph update for {len(pending)} changed file(s) applied when the graph is loaded")
            report.seconds["graph"] = time.perf_counter() - t0
            return
        previous = load_graph(graph_path) if self._changed_paths is not None else None
        graph = build_graph(store, previous=previous, changed_paths=set(pending) | (self._changed_paths or set()))
        save_graph(graph, graph_path, store)
        with store.transaction() as con:
            store.set_manifest(con, {"graph_pending": []})
        report.graph_nodes = graph.number_of_nodes()
        report.graph_edges = graph.number_of_edges()
        report.seconds["graph"] = time.perf_counter() - t0
        progress("graph", report.graph_edges, report.graph_edges, f"{report.graph_nodes} nodes")

    # -- stage 3: dense ----------------------------------------------------------------------
    def _dense(self, store: Store, report: IndexReport, progress: Progress) -> None:
        t0 = time.perf_counter()
        cfg = self.config.embed
        path = self.index_dir / VECTORS_NAME
        fingerprint = json.dumps(
            [cfg.model, cfg.max_seq_length, cfg.backend, cfg.body_chars, self.config.index.dense_scope]
        )
        manifest = store.get_manifest()
        unchanged = report.chunks_written == 0 and report.files_removed == 0
        if unchanged and path.exists() and manifest.get("dense_fingerprint") == fingerprint:
            report.dense_chunks = int(manifest.get("dense_chunks", "0"))
            report.seconds["embed"] = time.perf_counter() - t0
            return  # nothing to embed and nothing to load
        embedder = Embedder(cfg, self.config.cache_path)
        vectors = VectorIndex.load(path)
        if vectors is None or vectors.model_id != embedder.model_id or vectors.dim != embedder.dim:
            if vectors is not None:
                report.notes.append(
                    f"embedding model changed ({vectors.model_id} -> {embedder.model_id}): re-embedding"
                )
            vectors = VectorIndex(embedder.dim, embedder.model_id)
        wanted_ids = store.dense_chunk_ids(everything=self.config.index.dense_scope == "all")
        have = vectors.ids()
        vectors.remove(have - wanted_ids)
        missing = sorted(wanted_ids - have)
        wanted = store.chunks_by_ids(missing)
        report.dense_chunks = len(wanted_ids)
        group = 2048
        for start in range(0, len(missing), group):
            ids = missing[start : start + group]
            texts = [
                embedding_text(c.path, c.qualname, c.signature, c.docstring, c.text, cfg.body_chars)
                for c in (wanted[i] for i in ids)
            ]
            base = start

            def on_batch(done: int, total: int, rate: float, base: int = base) -> None:
                progress("embed", base + done, len(missing), f"{rate:.0f} chunks/s")

            vecs, cached_before = embedder.embed_texts(texts, progress=on_batch)
            report.embedded += len(ids) - cached_before
            report.embedded_from_cache += cached_before
            vectors.add(ids, vecs)
            vectors.save(path)  # partial progress is usable and survives a kill
            progress("embed", start + len(ids), len(missing), "")
        if not missing and (not path.exists() or have - wanted_ids):
            vectors.save(path)
        with store.transaction() as con:
            store.set_manifest(
                con,
                {
                    "embed_model": embedder.model_id,
                    "embed_dim": embedder.dim,
                    "dense_fingerprint": fingerprint,
                    "dense_chunks": len(wanted_ids),
                },
            )
        report.seconds["embed"] = time.perf_counter() - t0
