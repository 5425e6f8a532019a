"""The embeddable library entry point: one object per indexed repository.

    repo = Repository.open("path/to/repo")
    repo.index()
    for hit in repo.search("where is password validation").hits: ...
    answer = repo.ask("what calls make_password?")

Thread-safe for concurrent queries on one loaded index (one process serving many users): SQLite
connections are per thread, FAISS searches are read-only, and the index is reloaded transparently
when an indexer run (in this or another process) has changed it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .config import Config, load_config
from .embed import Embedder
from .files import FileAccessError, FileGate
from .hits import SearchResult
from .indexer import (
    DB_NAME,
    GRAPH_NAME,
    VECTORS_NAME,
    Indexer,
    IndexReport,
    Progress,
    index_dir_for,
    load_current_graph,
)
from .retrieve import CHANNELS, FileHit, HybridRetriever
from .store import IndexMissingError, Store
from .vectors import VectorIndex


# Kept under its old name for library users: a refused file read (outside, secret, not indexed).
PathOutsideRepoError = FileAccessError


class Repository:
    def __init__(self, root: str | Path, config: Config | None = None, index_dir: str | Path | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"repository path does not exist or is not a directory: {root}")
        self.config = config or load_config(self.root)
        self.index_dir = index_dir_for(self.root, index_dir).resolve()
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._embedder: Embedder | None = None
        self._retriever: HybridRetriever | None = None
        self._stamp: tuple | None = None
        self._graph = None
        self._reranker = None
        self._files: FileGate | None = None

    @classmethod
    def open(cls, root: str | Path, config: Config | None = None, index_dir: str | Path | None = None) -> Repository:
        return cls(root, config, index_dir)

    # -- indexing ----------------------------------------------------------------------------
    def index(self, progress: Progress | None = None, *, dense: bool | None = None) -> IndexReport:
        report = Indexer(self.root, self.config, self.index_dir).run(progress, dense=dense)
        with self._lock:
            self._stamp = None  # force reload on next query
        return report

    @property
    def is_indexed(self) -> bool:
        return (self.index_dir / DB_NAME).exists()

    # -- loading -----------------------------------------------------------------------------
    def _current_stamp(self) -> tuple:
        def mtime(name: str) -> float:
            p = self.index_dir / name
            return p.stat().st_mtime_ns if p.exists() else 0

        return (mtime(DB_NAME + "-wal"), mtime(DB_NAME), mtime(VECTORS_NAME), mtime(GRAPH_NAME))

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
            if self._store is None:
                self._store = Store(self.index_dir / DB_NAME)
            vectors = VectorIndex.load(self.index_dir / VECTORS_NAME) if self.config.embed.enabled else None
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
        return load_current_graph(self.index_dir, self._store)

    @property
    def graph(self):
        """The code graph (callers/callees/impact); None if the index has no graph yet."""
        self._ensure_loaded()
        return self._graph

    # -- queries -----------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, channels: tuple[str, ...] = CHANNELS) -> SearchResult:
        return self._ensure_loaded().search(query, k=k, channels=channels)

    def search_files(self, query: str, k: int = 10, channels: tuple[str, ...] = CHANNELS) -> list[FileHit]:
        return self._ensure_loaded().search_files(query, k=k, channels=channels)

    def ask(self, question: str, *, stream: bool = False, **options):
        """Answer ``question`` from this repository's code (options: see repo_rag.answer).

        With ``stream=True`` returns an iterator of AnswerEvent (sources first, then tokens, then
        the verified Answer); otherwise the verified Answer.
        """
        from .answer import answer_question, stream_answer

        return stream_answer(self, question, **options) if stream else answer_question(self, question, **options)

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


class IndexModelMismatchError(RuntimeError):
    """The index was embedded with another model than the configured one."""
