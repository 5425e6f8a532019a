"""`repo-rag watch PATH [PATH ...]`: keep indexes fresh, re-indexing a repository soon after a save.

Decision order for each batch of file events (``watchfiles``; a burst such as a save or a ``git
checkout`` touching hundreds of files arrives as one batch, closed once no event came for
``--debounce-ms``):

1. events under an index folder, and what ``watchfiles`` ignores by default (``.git``,
   ``__pycache__``, ``node_modules``, editor swap files, ...), are dropped;
2. each remaining event goes to the watched repository whose root holds it;
3. each touched repository gets one incremental :meth:`Repository.index` run given the changed
   paths: only they are classified (no walk of the whole tree), by the indexer's own rules (ignore
   files, secrets, size limits) as in ``repo-rag index``; a changed ignore file, or a directory
   that appeared or vanished, makes that run walk the whole tree. Only the changed, added and
   removed files are parsed, embedded and re-linked in the graph, and the encoder stays loaded
   between runs.

A failed run is reported and the watch goes on; the previous index stays usable (the indexer
commits atomically).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import RepoRagError
from ..repository import Repository
from .common import CliError, load_cli_config

DEBOUNCE_MS = 300


def route_changes(repos: list[Repository], paths: set[str]) -> dict[Repository, set[str]]:
    """The changed ``paths`` per repository, without those inside an index folder or outside every root."""
    routed: dict[Repository, set[str]] = {}
    for raw in paths:
        path = Path(raw).resolve()
        for repo in repos:
            if path.is_relative_to(repo.index_dir.resolve()):
                break
            if path.is_relative_to(repo.root):
                routed.setdefault(repo, set()).add(path.relative_to(repo.root).as_posix())
                break
    return routed


def watch_repositories(
    repos: list[Repository],
    *,
    debounce_ms: int = DEBOUNCE_MS,
    stop_event: Any = None,
    report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> None:
    """Re-index each repository after its files change, until ``stop_event`` is set (or Ctrl-C)."""
    try:
        from watchfiles import watch
    except ImportError as exc:
        raise CliError("watching needs the `watchfiles` package: pip install 'repo-rag'") from exc
    roots = [r.root for r in repos]
    for changes in watch(*roots, debounce=debounce_ms, step=50, stop_event=stop_event, raise_interrupt=False):
        for repo, changed in route_changes(repos, {path for _, path in changes}).items():
            t0 = time.perf_counter()
            try:
                rep = repo.index(changed=changed)
            except RepoRagError as exc:
                report(f"repo-rag: re-index of {repo.root} failed: {exc}")
                continue
            stages = ", ".join(f"{k} {v:.2f}" for k, v in rep.seconds.items() if k != "total")
            report(f"re-indexed {repo.root.name}: {len(changed)} changed path(s), {rep.files_parsed} parsed, "
                   f"{rep.files_removed} removed in {time.perf_counter() - t0:.1f} s "
                   f"({'walked the tree' if rep.walked else 'changed paths only'}; {stages})")


def watch_in_background(repos: list[Repository], debounce_ms: int = DEBOUNCE_MS) -> threading.Thread:
    """:func:`watch_repositories` on a daemon thread, for servers started with ``--watch``."""
    thread = threading.Thread(target=watch_repositories, args=(repos,), kwargs={"debounce_ms": debounce_ms},
                              name="repo-rag-watch", daemon=True)
    thread.start()
    return thread


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("watch", help="keep indexes fresh: re-index repositories as their files change",
                              description="Index each repository, then re-index it after every burst of saves.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="repository roots")
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--debounce-ms", type=int, default=DEBOUNCE_MS,
                   help="quiet time that closes a burst of changes (default %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.debounce_ms < 10:
        raise CliError("--debounce-ms must be at least 10")
    repos = [Repository(p, load_cli_config(argparse.Namespace(repo=p, config=args.config))) for p in args.paths]
    for repo in repos:  # start from a current index
        rep = repo.index()
        print(f"indexed {repo.root.name}: {rep.files_parsed} parsed; watching {repo.root}", file=sys.stderr, flush=True)
    watch_repositories(repos, debounce_ms=args.debounce_ms)
    return 0
