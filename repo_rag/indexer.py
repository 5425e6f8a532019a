"""Index a repository: discover -> parse/chunk -> store (lexical) -> graph -> postings -> embed (dense).

Stages commit separately so the cheap channels are usable early: once the SQLite transaction of
the parse stage commits, lexical search works while embeddings are still being computed. Only
added or changed files are parsed and embedded again (size+mtime, then content hash).

Which files to look at, first that applies: the ``changed`` paths a caller knows of (the file
watcher, ``index --changed``); in a git work tree indexed before, the paths git reports against the
commit of the last run plus those that were dirty then (``repo_rag.git_changes``); otherwise the
whole tree. Changed paths are classified by the walk's own rules along each path's ancestors
(``discover_paths``) and every other file keeps its stored record, unless a path says the whole
tree must be walked again (an ignore file changed, a directory appeared or vanished, followed
symlinks); that fallback is the full walk, so the result is the same either way. ``walk=True``
always walks.

Memory stays bounded on any repository size: parsed files stream from the workers into the open
store transaction through a fixed window of in-flight batches, so at most a few hundred parsed
files are held at once. High-confidence secrets are redacted from file text before parsing
(``indexers.secrets``), so they never reach chunk text, the FTS index, vectors or a prompt; the
report counts them. A store of ``[index] postings_above`` chunks or more gets posting lists of its
common terms after every run that changed chunks (repo_rag/postings.py). The embedding stage
embeds the dense-scope chunks that have no vector yet and commits every group, so an interrupted
run is resumed by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from repo_rag.indexers.discover import RAGIGNORE_FILE, DiscoveryResult, discover, discover_paths
from repo_rag.indexers.model import SourceFile
from repo_rag.indexers.testpaths import is_test_path

from .config import INDEX_ENGINES, Config, ConfigError
from .embed import Embedder, embedding_text, resolve_model
from .errors import RepoRagError
from .git_changes import (
    GitState,
    changed_since,
    current_state,
    from_manifest,
    options_fingerprint,
    to_manifest,
    usable,
)
from .layout import IndexLayout
from .lexical import COLUMN_WEIGHTS
from .parse_worker import Parsed, parse_in_processes
from .postings import drop_postings, load_postings, rebuild_postings
from .store import Store
from .vector_store import check_store, mirror_vectors

if TYPE_CHECKING:
    from .ray_engine import RayEngine

# progress(stage, done, total, info)
Progress = Callable[[str, int, int, str], None]

def load_current_graph(layout: IndexLayout, store: Store):
    """The saved code graph brought up to date with files edited since it was saved (or None)."""
    from .graph import build_graph, load_graph

    graph = load_graph(layout.graph)
    if graph is not None:
        pending = json.loads(store.get_manifest().get("graph_pending", "[]"))
        if pending:
            graph = build_graph(store, previous=graph, changed_paths=pending)
    return graph


class IndexBusyError(RepoRagError, RuntimeError):
    """Another indexer holds the lock on this index directory."""


@dataclass
class IndexReport:
    repo: str
    files_seen: int = 0
    files_parsed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    walked: bool = True  # False: only the changed paths were classified (no full discovery walk)
    changes_from: str = "walk"  # what said which paths to look at: walk | caller | git
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
    peak_rss_parse_mb: float = 0.0  # peak by the end of the streaming parse+store stage
    vectors_mirrored: dict[str, int] = field(default_factory=dict)  # external vector store: upserted/deleted
    posting_lists: int = 0  # common terms whose posting lists this run (re)built (large stores only)
    engine: str = "local"
    secrets_redacted: int = 0  # high-confidence secrets blanked out of file text
    files_with_secrets: int = 0
    notes: list[str] = field(default_factory=list)


@contextmanager
def _lock(layout: IndexLayout) -> Iterator[int]:
    layout.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    index_dir = layout.dir
    fd = os.open(layout.lock, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(f"another repo-rag indexer is running on {index_dir}") from exc
        yield fd
    finally:
        os.close(fd)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process or of any parse worker, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


class Indexer:
    DEFERRED_GRAPH_FILES = 20  # up to this many edited files, the graph update happens at load time

    def __init__(self, repo: str | Path, config: Config, index_dir: str | Path | None = None,
                 embedder: Embedder | None = None, engine: RayEngine | None = None) -> None:
        self.repo = Path(repo).resolve()
        if not self.repo.is_dir():
            raise FileNotFoundError(f"repository path does not exist or is not a directory: {repo}")
        self.config = config
        self.layout = IndexLayout.for_repo(self.repo, config, index_dir)
        self.index_dir = self.layout.dir
        self._changed_paths: set[str] | None = None  # None: first build, no previous graph
        self._files_added = False
        self._lock_fd: int | None = None
        self._embedder = embedder  # a loaded encoder to reuse (a long-lived Repository's); else loaded on need
        self._git_record: dict[str, str] = {}  # written to the manifest with the files (git_changes)
        # Where parsing and embedding run: None = this process and its workers; a RayEngine = a Ray
        # cluster (``index.engine = "ray"`` starts one for this run unless the caller shares one).
        self._engine = engine

    def _discovery_options(self) -> dict:
        extra = list(self.config.index.extra_ignore)
        try:  # an index dir inside the repo is never indexed
            extra.append(self.index_dir.resolve().relative_to(self.repo).as_posix() + "/")
        except ValueError:
            pass
        return {
            "max_file_bytes": self.config.index.max_file_bytes,
            "extra_ignore": extra,
            "follow_symlinks": self.config.index.follow_symlinks,
        }

    def discover(self) -> DiscoveryResult:
        return discover(self.repo, **self._discovery_options())

    def discover_changed(self, store: Store, changed: set[str]) -> DiscoveryResult | None:
        """The stored files with ``changed`` re-classified; None when the tree must be walked.

        Unchanged stored files keep their record (size, mtime, language), so the parse stage skips
        them as after a walk. A vanished path that was a directory of stored files (a ``rm -r``
        reported as one event) is a reason to walk.
        """
        stored = store.files()
        if not stored:
            return None
        got = discover_paths(self.repo, sorted(changed), **self._discovery_options())
        if got is None:
            return None
        gone_dirs = tuple(g + "/" for g in got.gone if g not in stored)
        if gone_dirs and any(p.startswith(gone_dirs) for p in stored):
            return None
        classified = {f.path for f in got.files} | {s.path for s in got.skipped} | set(got.gone)
        kept = [
            SourceFile(path=p, abs_path=str(self.repo / p), size=f.size, mtime_ns=f.mtime_ns, language=f.language)
            for p, f in stored.items() if p not in classified
        ]
        return DiscoveryResult(sorted(kept + got.files, key=lambda f: f.path), got.skipped)

    def _git_changes(self, store: Store) -> set[str] | None:
        """Paths git says may differ from the index (None: walk), and the record for this run."""
        options = self._discovery_options()
        fingerprint = options_fingerprint(options)
        rag_lines = []
        with contextlib.suppress(OSError, UnicodeDecodeError):
            rag_lines = (self.repo / RAGIGNORE_FILE).read_text(encoding="utf-8").splitlines()
        if not usable(self.repo, rag_lines + list(options["extra_ignore"])):
            self._git_record = to_manifest(None, "")
            return None
        now = current_state(self.repo)  # before discovery: an edit during the run is seen next time
        self._git_record = to_manifest(now, fingerprint)
        recorded = from_manifest(store.get_manifest(), fingerprint)
        return changed_since(self.repo, recorded) if recorded is not None and now is not None else None

    def _git_note_paths(self, store: Store, paths: set[str]) -> None:
        """A run on a caller's paths keeps the recorded commit (the record still covers every change
        since it) and adds those paths to its dirty set: the index now holds their current text, which
        git's diff against the recorded commit may stop reporting (a file edited, then restored)."""
        fingerprint = options_fingerprint(self._discovery_options())
        recorded = from_manifest(store.get_manifest(), fingerprint)
        if recorded is not None:
            noted = GitState(recorded.head, recorded.dirty | frozenset(paths))
            self._git_record = to_manifest(noted, fingerprint)

    def run(
        self, progress: Progress | None = None, *, dense: bool | None = None, workers: int | None = None,
        changed: set[str] | None = None, walk: bool = False,
    ) -> IndexReport:
        """Bring the index up to date; ``changed`` (repo-relative paths) limits discovery to them, and
        ``walk`` walks the whole tree whatever git says (see the module docstring)."""
        progress = progress or (lambda *a: None)
        report = IndexReport(repo=str(self.repo))
        check_store(self.config, self.repo)  # a misconfigured vector store or engine fails before any work
        if self.config.index.engine not in INDEX_ENGINES:
            raise ConfigError(f"index.engine must be one of {', '.join(INDEX_ENGINES)}, "
                              f"not {self.config.index.engine!r}")
        own_engine = self._engine is None and self.config.index.engine == "ray"
        if own_engine:
            from .ray_engine import RayEngine

            self._engine = RayEngine(self.config.index.ray_address)
        report.engine = "local" if self._engine is None else "ray"
        try:
            return self._run(report, progress, dense, workers, changed, walk)
        finally:
            if own_engine:
                self._engine.close()
                self._engine = None

    def _run(self, report: IndexReport, progress: Progress, dense: bool | None, workers: int | None,
             changed: set[str] | None, walk: bool) -> IndexReport:
        with _lock(self.layout) as lock_fd:
            self._lock_fd = lock_fd
            report.notes.extend(self.layout.claim())
            t0 = time.perf_counter()
            store = Store(self.layout.db, create=True)
            try:
                if changed is not None:
                    report.changes_from = "caller"
                    self._git_note_paths(store, changed)
                else:
                    git_said = self._git_changes(store)
                    if git_said is not None and not walk:
                        changed, report.changes_from = git_said, "git"
                found = self.discover_changed(store, changed) if changed is not None else None
                report.walked = found is None
                if found is None:
                    report.changes_from = "walk"
                    found = self.discover()
                    report.skipped = found.reasons()
                else:  # the tree's skip counts stay those of the last walk
                    report.skipped = json.loads(store.get_manifest().get("skipped", "{}"))
                    if report.changes_from == "git":
                        report.notes.append(f"looked only at the {len(changed)} path(s) git reports as changed "
                                            "since the last run (`repo-rag index --walk` walks the whole tree)")
                report.files_seen = len(found.files)
                report.seconds["discover"] = time.perf_counter() - t0
                progress("discover", len(found.files), len(found.files), "")
                self._parse_and_store(store, found, report, progress, workers)
                report.peak_rss_parse_mb = _peak_rss_mb()
                self._graph(store, report, progress)
                self._postings(store, report, progress)
                if self.config.embed.enabled if dense is None else dense:
                    self._dense(store, report, progress)
                    self._mirror(store, report)
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
        """Parse added/changed files and write them as they arrive, in one transaction.

        Parsing and writing overlap (bounded memory, see module docstring); the transaction makes
        the pass all-or-nothing for readers and for a kill. Long because everything that must commit
        with the files (removals, the graph's pending list, the git record) is written in that one
        transaction, here.
        """
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
        changed: set[str] = set()
        self._files_added = any(f.path not in stored for f, _ in todo)
        progress("store", 0, len(todo), "writing")
        with store.transaction() as con:
            for r in self._parse_all(todo, progress, workers):
                if r.parsed is None:
                    store.touch_file(con, stored[r.source.path].id, r.source.size, r.source.mtime_ns)
                    report.files_unchanged += 1
                    continue
                changed.add(r.source.path)
                ids = store.put_file(
                    con, r.source, r.file_hash, r.n_lines, r.parsed, r.fts_rows, is_test_path(r.source.path)
                )
                report.files_parsed += 1
                report.chunks_written += len(ids)
                report.parse_errors += bool(r.parsed.error)
                report.secrets_redacted += r.redacted
                report.files_with_secrets += bool(r.redacted)
            for path in removed:
                store.delete_file(con, stored[path].id)
            report.files_removed = len(removed)
            self._changed_paths = changed if stored else None
            # Files whose graph edges are not yet in the saved graph (cleared once it is rebuilt);
            # written in this transaction so a crash can never leave the graph silently stale.
            dirty = set(json.loads(store.get_manifest().get("graph_pending", "[]")))
            dirty |= changed | removed if stored else set()
            store.set_manifest(
                con,
                {
                    "repo": str(self.repo),
                    "indexed_at": time.time(),
                    "skipped": report.skipped,
                    "graph_pending": sorted(dirty),
                    **self._git_record,
                },
            )
        report.seconds["parse"] = time.perf_counter() - t0  # parse and store overlap
        progress("store", report.files_parsed, len(todo), f"{report.chunks_written} chunks")
        if report.secrets_redacted:
            report.notes.append(
                f"redacted {report.secrets_redacted} secret(s) (keys, tokens) in {report.files_with_secrets} file(s): "
                "they are not in the index and never sent to a model"
            )

    def _parse_all(
        self, todo: list[tuple[SourceFile, str | None]], progress: Progress, workers: int | None
    ) -> Iterator[Parsed]:
        """Parsed files in input order: in this machine's worker processes, or on the engine's cluster."""
        max_lines = self.config.index.max_chunk_lines
        if self._engine is not None:
            yield from self._engine.parse(todo, max_lines, progress)
            return
        inherited = self._lock_fd if multiprocessing.get_start_method() == "fork" else None
        yield from parse_in_processes(todo, max_lines, progress, workers, inherited)

    # -- stage 2: graph ----------------------------------------------------------------------
    def _graph(self, store: Store, report: IndexReport, progress: Progress) -> None:
        from .graph import build_graph, load_graph, save_graph

        t0 = time.perf_counter()
        graph_path = self.layout.graph
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

    def _postings(self, store: Store, report: IndexReport, progress: Progress) -> None:
        """Posting lists of common terms for a large store (repo_rag/postings.py), rebuilt when stale."""
        t0 = time.perf_counter()
        big = store.fts_stats()[0] >= self.config.index.postings_above
        if not big:
            if drop_postings(store):
                report.notes.append("posting lists dropped: the index is below [index] postings_above")
            return
        if load_postings(store, COLUMN_WEIGHTS) is not None:
            return
        progress("postings", 0, 1, "")
        report.posting_lists = rebuild_postings(store, COLUMN_WEIGHTS)
        report.seconds["postings"] = time.perf_counter() - t0
        progress("postings", 1, 1, f"{report.posting_lists} terms")

    def _mirror(self, store: Store, report: IndexReport) -> None:
        """Bring an external vector store (Qdrant) in line with the vectors just written."""
        t0 = time.perf_counter()
        got = mirror_vectors(store, self.config, self.repo, self.index_dir)
        if got is not None:
            report.vectors_mirrored = {"upserted": got[0], "deleted": got[1]}
            report.seconds["mirror"] = time.perf_counter() - t0

    # -- stage 3: dense ----------------------------------------------------------------------
    EMBED_GROUP = 2048  # chunks per committed group: a kill loses at most one group's work

    def _dense(self, store: Store, report: IndexReport, progress: Progress) -> None:
        """Embed dense-scope chunks without a vector; drop vectors of chunks out of scope.

        The work list is recomputed from the store every run, so it is durable by construction:
        a run killed mid-way leaves committed groups in place and the next run embeds the rest.
        """
        t0 = time.perf_counter()
        cfg = self.config.embed
        # the resolved model, not the configured name: '' names whichever code model this release ships
        model = resolve_model(cfg.model)[0]
        scope = self.config.index.dense_scope
        fingerprint = json.dumps([model, cfg.max_seq_length, cfg.backend, cfg.body_chars, scope])
        manifest = store.get_manifest()
        wanted_ids = store.dense_chunk_ids(everything=self.config.index.dense_scope == "all")
        report.dense_chunks = len(wanted_ids)
        same_config = manifest.get("dense_fingerprint") == fingerprint
        have = store.vector_ids() if same_config else set()
        missing = sorted(wanted_ids - have)
        if same_config and not missing and not have - wanted_ids:
            report.seconds["embed"] = time.perf_counter() - t0
            return  # nothing to embed: the model is not even loaded
        embedder = self._embedder if self._embedder is not None and self._embedder.cfg == cfg else \
            Embedder(cfg, self.config.cache_path)
        with store.transaction() as con:
            if not same_config or manifest.get("embed_model") != embedder.model_id:
                if manifest.get("embed_model") and manifest.get("embed_model") != embedder.model_id:
                    report.notes.append(
                        f"embedding model changed ({manifest.get('embed_model')} -> {embedder.model_id}): re-embedding"
                    )
                store.delete_vectors(con)
                have, missing = set(), sorted(wanted_ids)
            else:
                store.delete_vectors(con, have - wanted_ids)
            store.set_manifest(
                con, {"embed_model": embedder.model_id, "embed_dim": embedder.dim, "dense_fingerprint": fingerprint}
            )
        encode = self._engine.encoder(embedder) if self._engine is not None and missing else None
        for start in range(0, len(missing), self.EMBED_GROUP):
            ids = missing[start : start + self.EMBED_GROUP]
            wanted = store.chunks_by_ids(ids)
            ids = [i for i in ids if i in wanted]  # deleted meanwhile: nothing to embed
            texts = [
                embedding_text(c.path, c.qualname, c.signature, c.docstring, c.text, cfg.body_chars)
                for c in (wanted[i] for i in ids)
            ]

            def on_batch(done: int, total: int, rate: float, base: int = start) -> None:
                progress("embed", base + done, len(missing), f"{rate:.0f} chunks/s")

            vecs, cached_before = embedder.embed_texts(texts, progress=on_batch, encode=encode)
            report.embedded += len(ids) - cached_before
            report.embedded_from_cache += cached_before
            with store.transaction() as con:  # committed per group: usable and kept if killed later
                store.put_vectors(con, ids, vecs)
            progress("embed", start + len(ids), len(missing), "")
        report.seconds["embed"] = time.perf_counter() - t0
