"""Save and load the graph; writes are atomic so a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import time
from pathlib import Path

from ..store import Store
from .codegraph import CodeGraph
from .schema import GRAPH_VERSION, gc_paused


def save_graph(graph: CodeGraph, path: str | Path, store: Store | None = None) -> None:
    """Pickle to a temp file beside ``path``, fsync, then rename over it.

    ``store`` stamps the graph with the index it was built from (its ``indexed_at``), so readers
    can tell a graph that lags behind its index.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if store is not None:
        manifest = store.get_manifest()
        graph.meta["indexed_at"] = manifest.get("indexed_at", "")
        graph.meta["repo"] = manifest.get("repo", "")
    graph.meta["saved_at"] = time.time()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(graph, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_graph(path: str | Path) -> CodeGraph | None:
    """The saved graph; None when missing, unreadable or written by another graph version."""
    try:
        with open(path, "rb") as fh, gc_paused():
            graph = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, IndexError, TypeError,
            ValueError):
        return None
    if not isinstance(graph, CodeGraph) or graph.meta.get("version") != GRAPH_VERSION:
        return None
    return graph
