"""The unit of parsing work an indexing engine runs (one file's text -> chunks, facts and FTS rows),
and the local engine that runs it in this machine's worker processes.

The units are pure functions of their arguments, so any engine can run them anywhere: the local
engine's worker processes call :func:`parse_batch` (each reads its files), the Ray engine sends texts
the driver read to :func:`parse_texts` on cluster workers (which need not see the repository's
filesystem). In both, high-confidence secrets are redacted from the text before it is parsed
(``indexers.secrets``). The local engine (:func:`parse_in_processes`) keeps a fixed window of batches
in flight, so memory stays bounded on any repository size, and yields results in input order.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from repo_rag.indexers.discover import read_text
from repo_rag.indexers.model import ParsedFile, SourceFile, content_hash
from repo_rag.indexers.parse import parse_source
from repo_rag.indexers.secrets import redact_secrets

from .lexical import fts_row


@dataclass
class Parsed:
    source: SourceFile
    file_hash: str
    n_lines: int
    parsed: ParsedFile | None  # None: content unchanged since last index
    fts_rows: list[tuple[str, str, str, str]]
    redacted: int = 0


def read_for_parse(source: SourceFile, old_hash: str | None) -> Parsed | tuple[str, str]:
    """The file's text and hash to parse, or the finished result (unreadable, or unchanged content)."""
    try:
        text, _note = read_text(source.abs_path)
    except OSError as exc:
        parsed = ParsedFile(source.path, source.language, error=f"unreadable: {exc.strerror or exc}")
        return Parsed(source, "", 0, parsed, [])
    file_hash = content_hash(text)
    if file_hash == old_hash:
        return Parsed(source, file_hash, 0, None, [])
    return text, file_hash


def parse_text(source: SourceFile, file_hash: str, text: str, max_chunk_lines: int) -> Parsed:
    text, redacted = redact_secrets(text)
    parsed = parse_source(source.path, text, source.language, max_chunk_lines=max_chunk_lines)
    return Parsed(source, file_hash, text.count("\n") + 1, parsed, [fts_row(c) for c in parsed.chunks], redacted)


def parse_file(source: SourceFile, old_hash: str | None, max_chunk_lines: int) -> Parsed:
    """Read, hash and parse one file."""
    got = read_for_parse(source, old_hash)
    return got if isinstance(got, Parsed) else parse_text(source, got[1], got[0], max_chunk_lines)


def parse_batch(items: list[tuple[SourceFile, str | None]], max_chunk_lines: int) -> list[Parsed]:
    return [parse_file(s, h, max_chunk_lines) for s, h in items]


def parse_texts(items: list[tuple[SourceFile, str, str]], max_chunk_lines: int) -> list[Parsed]:
    """(source, hash, text) triples read elsewhere, parsed here."""
    return [parse_text(s, h, t, max_chunk_lines) for s, h, t in items]


BATCH_FILES = 32  # files per worker task
WINDOW_BATCHES_PER_WORKER = 2  # in-flight tasks per worker: bounds memory, keeps workers busy


def _init_worker(fd: int | None) -> None:
    """Parse-worker initializer: a worker dies with the indexer and never keeps its lock alive.

    flock belongs to the open file, shared by every forked copy of the descriptor; if the indexer
    is killed, orphaned workers would otherwise hold the lock and refuse every later run.
    """
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the indexer dies
            if os.getppid() == 1:  # the indexer died before this line
                os._exit(1)


def parse_in_processes(
    todo: list[tuple[SourceFile, str | None]], max_chunk_lines: int,
    progress: Callable[[str, int, int, str], None], workers: int | None, inherited_fd: int | None,
) -> Iterator[Parsed]:
    """Parsed files in input order, from worker processes with a bounded window of batches (in this
    process when there is little to do). ``inherited_fd``: the indexer's lock, closed in each worker."""
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(todo) < 64:
        for i, item in enumerate(todo, 1):
            yield parse_file(*item, max_chunk_lines)
            progress("parse", i, len(todo), "")
        return
    batches = iter([todo[i : i + BATCH_FILES] for i in range(0, len(todo), BATCH_FILES)])
    window: deque[Future[list[Parsed]]] = deque()
    done = 0
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(inherited_fd,)) as pool:

        def refill() -> None:
            while len(window) < workers * WINDOW_BATCHES_PER_WORKER:
                batch = next(batches, None)
                if batch is None:
                    return
                window.append(pool.submit(parse_batch, batch, max_chunk_lines))

        refill()
        while window:
            batch_result = window.popleft().result()
            refill()
            done += len(batch_result)
            progress("parse", done, len(todo), "")
            yield from batch_result
