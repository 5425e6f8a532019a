"""SQLite store for one repository's index: files, chunks, raw graph facts, lexical FTS5 index.

One database file (``index.sqlite`` in the index directory, see repo_rag.layout) in WAL mode: every
indexing pass runs in a single transaction, so a killed indexer leaves the previous index complete
and readable (readers never see a half-written pass).

Chunk ids are ``AUTOINCREMENT``: an id is never handed out twice, so anything keyed by it (FTS
rows, dense vectors) can never be mistaken for a later chunk's. Dense vectors live in this
database too (``vectors``, one float32 blob per chunk, deleted with their chunk by a foreign-key
cascade), so a vector can never outlive or mismatch its chunk text, and the embedding work still
to do is simply "dense-scope chunks without a vector": it survives any kill and the next run
resumes it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repo_rag.indexers.model import Definition, Import, ParsedFile, Reference, SourceFile

from .errors import RepoRagError

SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL,
    language TEXT NOT NULL,
    n_lines INTEGER NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    language TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    qualname TEXT NOT NULL,
    signature TEXT NOT NULL,
    docstring TEXT NOT NULL,
    parent TEXT NOT NULL,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    hash TEXT NOT NULL,
    is_test INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_name ON chunks(name);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path, start_line);
CREATE TABLE IF NOT EXISTS definitions (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    qualname TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS definitions_file ON definitions(file_id);
CREATE INDEX IF NOT EXISTS definitions_name ON definitions(name);
CREATE TABLE IF NOT EXISTS imports (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    module TEXT NOT NULL, names TEXT NOT NULL, level INTEGER NOT NULL, alias TEXT NOT NULL,
    line INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS imports_file ON imports(file_id);
CREATE TABLE IF NOT EXISTS refs (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL, line INTEGER NOT NULL,
    receiver TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_file ON refs(file_id);
CREATE INDEX IF NOT EXISTS refs_name ON refs(name);
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vec BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(
    path, name, doc, body, tokenize = "unicode61 tokenchars '_'"
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab(chunk_fts, 'row');
CREATE TABLE IF NOT EXISTS postings (
    term TEXT PRIMARY KEY,
    df INTEGER NOT NULL,
    bound REAL NOT NULL,
    ids BLOB NOT NULL,
    tfs BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS posting_lengths (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    ids BLOB NOT NULL,
    lengths BLOB NOT NULL
);
"""


class IndexMissingError(RepoRagError, FileNotFoundError):
    """No index exists yet for a repository; the message tells the user what to run."""


class IndexWriteError(RepoRagError, OSError):
    """Writing the index failed (disk full, read-only, I/O); the previous index is unchanged."""


class IndexCorruptError(RepoRagError, RuntimeError):
    """The index database cannot be read; re-indexing rebuilds it."""


@dataclass(frozen=True)
class StoredFile:
    id: int
    path: str
    size: int
    mtime_ns: int
    hash: str
    language: str
    n_lines: int
    error: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as read back from the store (``id`` is the rowid shared with FTS and FAISS)."""

    id: int
    path: str
    start_line: int
    end_line: int
    language: str
    kind: str
    name: str
    qualname: str
    signature: str
    docstring: str
    parent: str
    part: int
    text: str
    hash: str
    is_test: bool


_CHUNK_COLUMNS = (
    "id, path, start_line, end_line, language, kind, name, qualname, signature, docstring, parent, "
    "part, text, hash, is_test"
)


def is_disk_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == getattr(sqlite3, "SQLITE_FULL", 13) or "disk is full" in str(exc) or "disk I/O" in str(exc)


def _row_to_chunk(row: tuple) -> StoredChunk:
    return StoredChunk(*row[:14], bool(row[14]))


class Store:
    """Thread-safe access to one index database (one connection per thread)."""

    def __init__(self, db_path: str | Path, *, create: bool = False) -> None:
        self.db_path = Path(db_path)
        if not create and not self.db_path.exists():
            raise IndexMissingError(str(self.db_path))
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            if create:
                self.con.executescript(_SCHEMA)  # idempotent DDL; executescript commits on its own
                with self.transaction() as con:
                    if self.get_manifest().get("schema_version") not in (None, str(SCHEMA_VERSION)):
                        raise IndexCorruptError(f"{self.db_path}: unsupported index schema: re-index to rebuild it")
                    con.execute(
                        "INSERT OR REPLACE INTO manifest VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
            elif self.get_manifest().get("schema_version") != str(SCHEMA_VERSION):
                raise IndexCorruptError(
                    f"{self.db_path}: not an index of this repo-rag version: re-index to rebuild it"
                )
        except sqlite3.DatabaseError as exc:
            self.close()
            if is_disk_full(exc):
                raise IndexWriteError(f"no space left to write the index at {self.db_path.parent}") from exc
            raise IndexCorruptError(f"{self.db_path}: unreadable index ({exc}): re-index to rebuild it") from exc

    # -- connections -------------------------------------------------------------------------
    @property
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA temp_store=MEMORY")
            # Defence in depth: schema objects (views, triggers) may not call functions with side effects.
            con.execute("PRAGMA trusted_schema=OFF")
            self._local.con = con
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing write: commits on success, rolls back on any exception or kill."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            # SQLite may already have rolled back (e.g. SQLITE_FULL): a second ROLLBACK would raise
            # "no transaction is active" and hide the real error.
            if con.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and is_disk_full(exc):
                raise IndexWriteError(
                    f"no space left to write the index at {self.db_path.parent} ({exc}); "
                    "the previous index is unchanged"
                ) from exc
            raise

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- manifest ----------------------------------------------------------------------------
    def get_manifest(self) -> dict[str, str]:
        try:
            return dict(self.con.execute("SELECT key, value FROM manifest"))
        except sqlite3.OperationalError:
            return {}

    def set_manifest(self, con: sqlite3.Connection, values: dict[str, object]) -> None:
        con.executemany(
            "INSERT OR REPLACE INTO manifest VALUES (?, ?)",
            [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()],
        )

    # -- files -------------------------------------------------------------------------------
    def files(self) -> dict[str, StoredFile]:
        rows = self.con.execute("SELECT id, path, size, mtime_ns, hash, language, n_lines, error FROM files")
        return {r[1]: StoredFile(*r) for r in rows}

    def file(self, path: str) -> StoredFile | None:
        row = self.con.execute(
            "SELECT id, path, size, mtime_ns, hash, language, n_lines, error FROM files WHERE path = ?", (path,)
        ).fetchone()
        return StoredFile(*row) if row else None

    def delete_file(self, con: sqlite3.Connection, file_id: int) -> None:
        con.execute("DELETE FROM chunk_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?)", (file_id,))
        con.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def touch_file(self, con: sqlite3.Connection, file_id: int, size: int, mtime_ns: int) -> None:
        con.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, file_id))

    def put_file(
        self,
        con: sqlite3.Connection,
        source: SourceFile,
        file_hash: str,
        n_lines: int,
        parsed: ParsedFile,
        fts_rows: Iterable[tuple[str, str, str, str]],
        is_test: bool,
    ) -> list[int]:
        """Replace everything stored for ``source.path``; returns the new chunk ids."""
        old = con.execute("SELECT id FROM files WHERE path = ?", (source.path,)).fetchone()
        if old:
            self.delete_file(con, old[0])
        cur = con.execute(
            "INSERT INTO files (path, size, mtime_ns, hash, language, n_lines, error) VALUES (?,?,?,?,?,?,?)",
            (source.path, source.size, source.mtime_ns, file_hash, parsed.language, n_lines, parsed.error),
        )
        file_id = cur.lastrowid
        ids = []
        for chunk, fts in zip(parsed.chunks, fts_rows, strict=True):
            cur = con.execute(
                "INSERT INTO chunks (file_id, path, start_line, end_line, language, kind, name, qualname, "
                "signature, docstring, parent, part, text, hash, is_test) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    file_id,
                    chunk.path,
                    chunk.start_line,
                    chunk.end_line,
                    chunk.language,
                    chunk.kind,
                    chunk.name,
                    chunk.qualname,
                    chunk.signature,
                    chunk.docstring,
                    chunk.parent,
                    chunk.part,
                    chunk.text,
                    chunk.content_hash,
                    int(is_test),
                ),
            )
            ids.append(cur.lastrowid)
            con.execute(
                "INSERT INTO chunk_fts (rowid, path, name, doc, body) VALUES (?,?,?,?,?)", (cur.lastrowid, *fts)
            )
        con.executemany(
            "INSERT INTO definitions VALUES (?,?,?,?,?,?)",
            [(file_id, d.qualname, d.name, d.kind, d.start_line, d.end_line) for d in parsed.definitions],
        )
        con.executemany(
            "INSERT INTO imports VALUES (?,?,?,?,?,?)",
            [(file_id, i.module, json.dumps(i.names), i.level, i.alias, i.line) for i in parsed.imports],
        )
        con.executemany(
            "INSERT INTO refs VALUES (?,?,?,?,?,?)",
            [(file_id, r.kind, r.name, r.source, r.line, r.receiver) for r in parsed.references],
        )
        return ids

    # -- chunks ------------------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.con.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def chunks_by_ids(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        ids = list(ids)
        out: dict[int, StoredChunk] = {}
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            q = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            out.update((r[0], _row_to_chunk(r)) for r in self.con.execute(q, part))
        return out

    def chunks_for_path(self, path: str) -> list[StoredChunk]:
        q = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE path = ? ORDER BY start_line, part"
        return [_row_to_chunk(r) for r in self.con.execute(q, (path,))]

    def chunk_at(self, path: str, qualname: str, line: int) -> int | None:
        """Id of the chunk for ``qualname`` in ``path`` (first part), else the one covering ``line``."""
        row = self.con.execute(
            "SELECT id FROM chunks WHERE path = ? AND qualname = ? ORDER BY part LIMIT 1", (path, qualname)
        ).fetchone()
        if row is None and line:
            row = self.con.execute(
                "SELECT id FROM chunks WHERE path = ? AND start_line <= ? AND end_line >= ? "
                "ORDER BY end_line - start_line LIMIT 1",
                (path, line, line),
            ).fetchone()
        return row[0] if row else None

    def iter_chunks(self) -> Iterator[StoredChunk]:
        yield from (_row_to_chunk(r) for r in self.con.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks"))

    def name_counts(self) -> dict[str, int]:
        """Definition name -> how many chunks carry it (module chunks and doc sections left out)."""
        q = "SELECT name, count(*) FROM chunks WHERE kind NOT IN ('module', 'section') AND name != '' GROUP BY name"
        return dict(self.con.execute(q))

    def chunks_by_name(self, name: str) -> list[StoredChunk]:
        q = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE name = ?"
        return [_row_to_chunk(r) for r in self.con.execute(q, (name,))]

    def known_names(self, names: Iterable[str]) -> set[str]:
        """The subset of ``names`` this index holds as a chunk, definition or reference name (indexed lookups)."""
        names = list(dict.fromkeys(n for n in names if n))
        held: set[str] = set()
        for i in range(0, len(names), 400):
            batch = names[i : i + 400]
            marks = ",".join("?" * len(batch))
            for table in ("chunks", "definitions", "refs"):
                held.update(r[0] for r in self.con.execute(f"SELECT DISTINCT name FROM {table} WHERE name IN ({marks})",
                                                           batch))
        return held

    def dense_chunk_ids(self, everything: bool) -> set[int]:
        """Chunks that get vectors: all, or all but tests and unparsed data windows."""
        q = (
            "SELECT id FROM chunks"
            if everything
            else "SELECT id FROM chunks WHERE is_test = 0 AND language != 'unknown'"
        )
        return {r[0] for r in self.con.execute(q)}

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self.con.execute("SELECT id FROM chunks")}

    # -- dense vectors -----------------------------------------------------------------------
    def vector_ids(self) -> set[int]:
        return {r[0] for r in self.con.execute("SELECT chunk_id FROM vectors")}

    def put_vectors(self, con: sqlite3.Connection, ids: Iterable[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        con.executemany(
            "INSERT OR REPLACE INTO vectors (chunk_id, vec) VALUES (?, ?)",
            ((int(i), vectors[row].tobytes()) for row, i in enumerate(ids)),
        )

    def delete_vectors(self, con: sqlite3.Connection, ids: Iterable[int] | None = None) -> None:
        """Delete the vectors of ``ids`` (all vectors when None)."""
        if ids is None:
            con.execute("DELETE FROM vectors")
            return
        con.executemany("DELETE FROM vectors WHERE chunk_id = ?", ((int(i),) for i in ids))

    def load_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids int64, vectors float32 n x dim); rows of another length are skipped."""
        return _vector_rows(self.con.execute("SELECT chunk_id, vec FROM vectors ORDER BY chunk_id"), dim)

    def vectors_for(self, ids: list[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids int64, vectors float32) of those ``ids`` that have a vector of length ``dim``."""
        def rows() -> Iterator[tuple[int, bytes]]:
            for start in range(0, len(ids), 900):
                part = [int(i) for i in ids[start : start + 900]]
                marks = ",".join("?" * len(part))
                q = f"SELECT chunk_id, vec FROM vectors WHERE chunk_id IN ({marks}) ORDER BY chunk_id"
                yield from self.con.execute(q, part)

        return _vector_rows(rows(), dim)

    # -- raw facts (graph input) -------------------------------------------------------------
    def definitions(self) -> Iterator[tuple[str, Definition]]:
        q = (
            "SELECT f.path, d.qualname, d.name, d.kind, d.start_line, d.end_line "
            "FROM definitions d JOIN files f ON f.id = d.file_id"
        )
        for path, *rest in self.con.execute(q):
            yield path, Definition(*rest)

    def imports(self) -> Iterator[tuple[str, Import]]:
        q = "SELECT f.path, i.module, i.names, i.level, i.alias, i.line FROM imports i JOIN files f ON f.id = i.file_id"
        for path, module, names, level, alias, line in self.con.execute(q):
            yield path, Import(module, tuple(tuple(n) for n in json.loads(names)), level, alias, line)

    def references(self) -> Iterator[tuple[str, Reference]]:
        q = "SELECT f.path, r.kind, r.name, r.source, r.line, r.receiver FROM refs r JOIN files f ON f.id = r.file_id"
        for path, *rest in self.con.execute(q):
            yield path, Reference(*rest)

    # -- lexical -----------------------------------------------------------------------------
    def doc_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        terms = list(set(terms))
        out: dict[str, int] = {}
        for start in range(0, len(terms), 900):
            part = terms[start : start + 900]
            q = f"SELECT term, doc FROM chunk_vocab WHERE term IN ({','.join('?' * len(part))})"
            out.update(self.con.execute(q, part))
        return out

    def fts_scores(self, match: str, weights: Sequence[float]) -> list[tuple[int, float]]:
        """(chunk id, -bm25) of every chunk matching ``match``, unordered (for queries with few matches)."""
        q = "SELECT rowid, -bm25(chunk_fts, ?, ?, ?, ?) FROM chunk_fts WHERE chunk_fts MATCH ?"
        return list(self.con.execute(q, (*weights, match)))

    def fts_rows(self) -> Iterator[tuple[int, str, str, str, str]]:
        """(chunk id, path, name, doc, body) term columns of every FTS row, in id order."""
        return self.con.execute("SELECT rowid, path, name, doc, body FROM chunk_fts ORDER BY rowid")

    def fts_stats(self) -> tuple[int, float]:
        """(rows, average terms per row) as FTS5's bm25 reads them: its 'averages' record, O(1)."""
        row = self.con.execute("SELECT block FROM chunk_fts_data WHERE id = 1").fetchone()
        counts = _varints(row[0]) if row and isinstance(row[0], bytes) else []
        if not counts or counts[0] <= 0:
            return 0, 0.0
        return counts[0], sum(counts[1:]) / counts[0]

    def terms_above(self, min_df: int) -> set[str]:
        """Terms that occur in more than ``min_df`` chunks."""
        return {t for (t,) in self.con.execute("SELECT term FROM chunk_vocab WHERE doc > ?", (min_df,))}

    def chunk_sequence(self) -> int:
        """The largest chunk id ever handed out (ids are never reused): changes when chunks are added."""
        row = self.con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
        return int(row[0]) if row else 0

    def replace_postings(self, con: sqlite3.Connection, lists: dict[str, tuple[int, float, bytes, bytes]],
                         length_ids: bytes, lengths: bytes) -> None:
        con.execute("DELETE FROM postings")
        con.execute("DELETE FROM posting_lengths")
        con.executemany("INSERT INTO postings VALUES (?, ?, ?, ?, ?)", ((t, *v) for t, v in lists.items()))
        con.execute("INSERT INTO posting_lengths VALUES (1, ?, ?)", (length_ids, lengths))

    def drop_postings(self, con: sqlite3.Connection) -> None:
        con.execute("DELETE FROM postings")
        con.execute("DELETE FROM posting_lengths")

    def posting_terms(self) -> dict[str, tuple[int, float]]:
        return {t: (int(df), float(bound)) for t, df, bound in self.con.execute("SELECT term, df, bound FROM postings")}

    def posting_lengths(self) -> tuple[bytes, bytes] | None:
        row = self.con.execute("SELECT ids, lengths FROM posting_lengths WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else None

    def posting_lists(self, terms: list[str]) -> dict[str, tuple[bytes, bytes]]:
        out: dict[str, tuple[bytes, bytes]] = {}
        for start in range(0, len(terms), 900):
            part = terms[start : start + 900]
            q = f"SELECT term, ids, tfs FROM postings WHERE term IN ({','.join('?' * len(part))})"
            out.update((t, (i, f)) for t, i, f in self.con.execute(q, part))
        return out

    def fts_search(self, match: str, limit: int, weights: tuple[float, float, float, float]) -> list[tuple[int, float]]:
        """FTS5 bm25 over (path, name, doc, body); returns (chunk id, score) best first, score > 0."""
        q = (
            "SELECT rowid, -bm25(chunk_fts, ?, ?, ?, ?) AS s FROM chunk_fts WHERE chunk_fts MATCH ? "
            "ORDER BY bm25(chunk_fts, ?, ?, ?, ?) LIMIT ?"
        )
        return list(self.con.execute(q, (*weights, match, *weights, limit)))


def _varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints (FTS5 records), in order; a truncated last one is dropped."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(9):
            if i >= len(blob):
                return out
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def _vector_rows(rows: Iterable[tuple[int, bytes]], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, float32 matrix) of the (chunk id, blob) rows whose blob holds ``dim`` floats."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for chunk_id, blob in rows:
        if isinstance(blob, bytes) and len(blob) == dim * 4:
            ids.append(chunk_id)
            blobs.append(blob)
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim) if blobs else np.zeros((0, dim))
    return np.asarray(ids, dtype=np.int64), matrix.astype(np.float32, copy=False)

