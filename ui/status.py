"""The Index tab: index status, re-indexing progress, and short error texts."""

from __future__ import annotations

import html
import time
from typing import Any

from repo_rag.repository import Repository


def short_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def ago(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def status_warn_html(text: str) -> str:
    return f'<div class="status warn">{html.escape(text)}</div>'


def index_status_html(key: str, repo: Repository) -> str:
    """Files, chunks and graph nodes of ``repo``'s index and when it was built (or why there is none)."""
    if not repo.is_indexed:
        return (
            f'<div class="status warn"><b>{html.escape(key)}</b> is not indexed yet. '
            "Press <i>Re-index</i> to build the index.</div>"
        )
    try:
        store = repo.store
        files, chunks = len(store.files()), store.chunk_count()
        manifest = store.get_manifest()
        graph = repo.graph
        nodes = graph.number_of_nodes() if graph is not None else 0
    except Exception as exc:
        return status_warn_html(f"Index unreadable: {short_error(exc)}")
    when = ""
    try:
        ts = float(manifest.get("indexed_at", 0))
        if ts:
            when = f" · indexed {ago(time.time() - ts)}"
    except (TypeError, ValueError):
        pass
    return (
        f'<div class="status ok" id="index-status"><b>{html.escape(key)}</b> · {files} files · '
        f"{chunks} chunks · {nodes} graph nodes{when}</div>"
    )


def progress_html(key: str, progress: dict[str, Any]) -> str:
    p = dict(progress)
    stage, done, total, info = p.get("stage", "starting"), p.get("done", 0), p.get("total", 0), p.get("info", "")
    pct = int(100 * done / total) if total else 0
    return (
        f'<div class="status busy">Indexing <b>{html.escape(key)}</b>: {html.escape(str(stage))} '
        f"{int(done)}/{int(total)} {html.escape(str(info))}"
        f'<div class="bar"><div style="width:{pct}%"></div></div></div>'
    )
