"""The embeddable library entry point: one object per indexed repository.

    repo = Repository.open("path/to/repo")
    repo.index()
    for hit in repo.search("where is password validation").hits: ...
    answer = repo.ask("what calls make_password?")

Thread-safe for concurrent queries on one loaded index (one process serving many users): SQLite
connections are per thread, FAISS searches are read-only, and the index is reloaded transparently
when an indexer run (in this or another process) has changed it.

Reloading after a few edited files (a watcher's re-index) keeps the loaded code graph for the
moment: the edited files' chunks, text and vectors are searchable at once (the loaded vector index
is edited in place, only the changed vectors read), while a background
thread brings a graph up to date with them and swaps it in (until then graph links of those few
files are the previous ones). Any larger change loads the graph before the next query is answered.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, load_config
from .embed import Embedder
from .errors import RepoRagError
from .files import FileAccessError, FileGate
from .hits import SearchResult
from .indexer import Indexer, IndexReport, Progress, load_current_graph
from .layout import IndexLayout
from .query import check_question
from .retrieve import CHANNELS, FileHit, HybridRetriever
from .store import IndexMissingError, Store
from .vector_store import open_vectors

if TYPE_CHECKING:  # the answer pipeline imports LlamaIndex: loaded on the first ask(), not with the package
    from .answer import Answerer

GRAPH_REFRESH_QUIET_S = 1.0  # the index must not change for this long before the graph is rebuilt

# Kept under its old name for library users: a refused file read (outside, secret, not indexed).
PathOutsideRepoError = FileAccessError


class Repository:
    def __init__(self, root: str | Path, config: Config | None = None, index_dir: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"repository path does not exist or is not a directory: {root}")
        self.config = config or load_config(self.root)
        self.layout = IndexLayout.for_repo(self.root, self.config, index_dir)
        self.index_dir = self.layout.dir
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._embedder: Embedder | None = None
        self._retriever: HybridRetriever | None = None
        self._stamp: tuple | None = None
        self._graph = None
        self._graph_thread: threading.Thread | None = None
        self.graph_refreshes = 0  # graphs swapped in by the background refresh (for tests and benchmarks)
        self._reranker = None
        self._files: FileGate | None = None
        self._answerer: Answerer | None = None

    @classmethod
    def open(cls, root: str | Path, config: Config | None = None, index_dir: str | Path | None = None) -> Repository:
        return cls(root, config, index_dir)

    # -- indexing ----------------------------------------------------------------------------
    def index(
        self, progress: Progress | None = None, *, dense: bool | None = None, changed: set[str] | None = None,
        walk: bool = False,
    ) -> IndexReport:
        """Bring the index up to date. ``changed``: repo-relative paths known to have changed (a file
        watcher's events); only those are re-classified, unless one of them needs a full walk. Without
        it, a git work tree indexed before is re-checked where git says it changed; ``walk`` walks the
        whole tree instead.

        The encoder stays loaded on this object between runs and searches (loading it is most of a
        one-file re-index)."""
        report = Indexer(self.root, self.config, self.index_dir, embedder=self.embedder).run(
            progress, dense=dense, changed=changed, walk=walk)
        with self._lock:
            self._stamp = None  # force reload on next query
        return report

    def drop_vectors(self) -> None:
        """Forget every dense vector (the next ``index()`` re-embeds; the embedding cache refills most)."""
        self.layout.check()
        store = Store(self.layout.db)
        try:
            with store.transaction() as con:
                store.delete_vectors(con)
                store.set_manifest(con, {"dense_fingerprint": ""})
        finally:
            store.close()
        with self._lock:
            self._stamp = None

    @property
    def is_indexed(self) -> bool:
        return self.layout.exists

    # -- loading -----------------------------------------------------------------------------
    def _current_stamp(self) -> tuple:
        def mtime(p: Path) -> float:
            return p.stat().st_mtime_ns if p.exists() else 0

        db = self.layout.db
        return (mtime(db.with_name(db.name + "-wal")), mtime(db), mtime(self.layout.graph), mtime(self.layout.stamp))

    @property
    def store(self) -> Store:
        self._ensure_loaded()
        assert self._store is not None
        return self._store

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder(self.config.embed, self.config.cache_path)
            return self._embedder

    def _ensure_loaded(self) -> HybridRetriever:
        with self._lock:
            if not self.is_indexed:
                raise IndexMissingError(f"no index for {self.root}: run `repo-rag index {self.root}` first")
            stamp = self._current_stamp()
            if self._retriever is not None and stamp == self._stamp:
                return self._retriever
            self.layout.check()  # never read an index this tool did not write for this repository
            if self._store is None:
                self._store = Store(self.layout.db)
            vectors = None
            if self.config.embed.enabled:
                loaded = self._retriever.vectors if self._retriever is not None else None
                vectors = open_vectors(self._store, self.config, self.root, self.index_dir, previous=loaded)
            embedder = None
            if vectors is not None:
                embedder = self.embedder
                if vectors.model_id != embedder.model_id:
                    raise IndexModelMismatchError(
                        f"the index at {self.index_dir} was embedded with {vectors.model_id}, but the "
                        f"configured model is {embedder.model_id}: run `repo-rag index {self.root}` to re-embed"
                    )
            self._graph = self._load_graph()
            if self._reranker is None and self.config.search.reranker:
                from .rerank import CrossEncoderReranker

                self._reranker = CrossEncoderReranker(self.config.search.reranker, self.config.embed.device)
            self._retriever = HybridRetriever(
                self._store, self.config.search, embedder, vectors, self._graph, self._reranker
            )
            self._stamp = stamp
            return self._retriever

    def _load_graph(self):
        """(Under ``_lock``.) The graph for the new index state; see the module docstring."""
        pending = json.loads(self._store.get_manifest().get("graph_pending", "[]"))
        if self._graph is not None and 0 < len(pending) <= Indexer.DEFERRED_GRAPH_FILES:
            if self._graph_thread is None or not self._graph_thread.is_alive():
                self._graph_thread = threading.Thread(target=self._refresh_graph, name="repo-rag-graph", daemon=True)
                self._graph_thread.start()
            return self._graph
        return load_current_graph(self.layout, self._store)

    def _refresh_graph(self) -> None:
        """Build the current graph off the query path and swap it in, unless the index changed meanwhile
        (then build again). It starts once the index has been quiet for :data:`GRAPH_REFRESH_QUIET_S`:
        building holds the interpreter lock for seconds, which must not slow the re-index that is still
        embedding, nor the searches that follow a save. A failure keeps the previous graph; the next
        full load reports it."""
        while True:
            with self._lock:
                store, stamp = self._store, self._current_stamp()
            if store is None:
                return
            time.sleep(GRAPH_REFRESH_QUIET_S)
            with self._lock:
                if self._current_stamp() != stamp:
                    continue
            try:
                graph = load_current_graph(self.layout, store)
                if graph is not None:
                    graph.prepare()
            except Exception:  # a background refresh must not take the server down
                return
            with self._lock:
                if self._current_stamp() != stamp:
                    continue
                if self._retriever is not None and self._stamp == stamp:
                    self._graph = graph
                    self._retriever.graph = graph
                    self.graph_refreshes += 1
                return

    @property
    def retriever(self) -> HybridRetriever:
        """The loaded retriever (its ``candidates()`` feed the ranking benchmarks and training)."""
        return self._ensure_loaded()

    @property
    def graph(self):
        """The code graph (callers/callees/impact); None if the index has no graph yet."""
        self._ensure_loaded()
        return self._graph

    # -- queries -----------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, channels: tuple[str, ...] = CHANNELS) -> SearchResult:
        check_question(query, self.config.search.max_query_chars)
        result = self._ensure_loaded().search(query, k=k, channels=channels)
        for hit in result.hits:
            hit.repo = hit.repo or self.root.name
        return result

    def search_files(self, query: str, k: int = 10, channels: tuple[str, ...] = CHANNELS) -> list[FileHit]:
        check_question(query, self.config.search.max_query_chars)
        return self._ensure_loaded().search_files(query, k=k, channels=channels)

    def warm(self, llm: str | None = None, model: str | None = None) -> bool:
        """Load the embedded chat model and cache the fixed start of every prompt, so the first question
        pays only for its own part; False (and nothing loaded) when the backend is not an embedded model."""
        return self._answerer_for().warm(llm, model)

    def warm_in_background(self) -> threading.Thread:
        """:meth:`warm` on a daemon thread, for servers at start; a failure is left for the first question
        to report (with its fix), so nothing here can stop a server from starting."""

        def warm() -> None:
            with contextlib.suppress(Exception):
                if self.is_indexed and self.graph is not None:
                    self.graph.prepare()  # PageRank's adjacency: not on the first question's clock
            with contextlib.suppress(Exception):
                self.warm()

        thread = threading.Thread(target=warm, name="repo-rag-warm", daemon=True)
        thread.start()
        return thread

    def ask(self, question: str, *, stream: bool = False, **options):
        """Answer ``question`` from this repository's code (options: see repo_rag.answer.Answerer.stream).

        With ``stream=True`` returns an iterator of AnswerEvent (sources first, then tokens, then
        the verified Answer); otherwise the verified Answer. The question is checked (empty, or
        over ``search.max_query_chars``) before any work, also when streaming.
        """
        answerer = self._answerer_for()
        return answerer.stream(question, **options) if stream else answerer.answer(question, **options)

    def _answerer_for(self):
        from .answer import Answerer

        with self._lock:
            if self._answerer is None:
                self._answerer = Answerer(
                    self.search,
                    self.files,
                    self.store,
                    self.config.llm,
                    graph=lambda: self.graph,
                    max_query_chars=self.config.search.max_query_chars,
                )
            return self._answerer

    @property
    def files(self) -> FileGate:
        """The one gate for reading this repository's files (indexed, not secret, redacted)."""
        with self._lock:
            if self._files is None:
                self._files = FileGate(self.root, lambda rel: self.store.file(rel) is not None)
            return self._files

    def read_lines(self, path: str, start: int = 1, end: int | None = None) -> list[str]:
        """Lines ``start..end`` (1-based, inclusive) of an indexed file, through :attr:`files`."""
        return self.files.read_lines(path, start, end)

    def resolve_path(self, path: str) -> Path:
        """Absolute path of a repo-relative ``path`` that must stay inside the repository and be indexed."""
        return self.files.resolve(path)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()


class IndexModelMismatchError(RepoRagError, RuntimeError):
    """The index was embedded with another model than the configured one."""


def repository_names(repos: list[Repository]) -> list[str]:
    """One display name per repository (web chat, MCP ``repo``): its directory name, numbered when two share it."""
    names: list[str] = []
    for r in repos:
        name, n = r.root.name or str(r.root), 2
        while name in names:
            name, n = f"{r.root.name}-{n}", n + 1
        names.append(name)
    return names
