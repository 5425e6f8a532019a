"""The repo-rag web chat (Gradio Blocks): streamed grounded answers, clickable citations, a source
panel, the code-graph neighbourhood of each answer, answer settings, re-indexing and 👍/👎 feedback.

Built from library calls only (``Repository.ask(stream=True)``, ``.resolve_path``, ``.graph``,
``.index``) so everything shown here is also reachable from Python. Security model:

* the source panel shows only indexed, non-secret files inside a served repository
  (``Repository.resolve_path`` refuses traversal, absolute paths and symlinks out);
* repository content never goes to the log at INFO (only sizes, counts and timings);
* the API key of the configured OpenAI-compatible endpoint is only sent to that endpoint: an
  endpoint URL typed into the settings gets no key.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gradio as gr

from indexers.discover import is_secret_path, read_text
from repo_rag.feedback import FeedbackStore
from repo_rag.hits import SearchHit
from repo_rag.llm import BACKENDS, build_llm
from repo_rag.repository import PathOutsideRepoError, Repository

log = logging.getLogger("repo_rag.ui")

ASSETS = Path(__file__).parent / "assets"
SOURCE_CONTEXT_LINES = 4  # lines shown around a cited span
SOURCE_MAX_LINES = 400
GRAPH_MAX_CITED = 5
GRAPH_MAX_NEIGHBOURS = 3
EMPTY_SOURCE = (
    '<div class="panel-empty" id="source-empty">Click a citation in an answer (or a node of the graph) '
    "to see the cited lines here.</div>"
)
EMPTY_GRAPH = '<div class="panel-empty">The graph neighbourhood of the cited code appears after an answer.</div>'
GENERIC_EXAMPLES = ["What are the main modules and what do they do?", "Where are errors handled?"]


# -- served repositories ----------
@dataclass
class ServedRepo:
    """One repository behind the chat, with its display key and a lock serialising re-indexing."""

    key: str
    repo: Repository
    index_lock: threading.Lock = field(default_factory=threading.Lock)
    progress: dict[str, Any] = field(default_factory=dict)


def _unique_keys(repos: list[Repository]) -> list[str]:
    keys: list[str] = []
    for r in repos:
        key = r.root.name or str(r.root)
        n = 2
        while key in keys:
            key = f"{r.root.name}-{n}"
            n += 1
        keys.append(key)
    return keys


# -- rendering: citations and answers ----------
def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _inline_text(text: str) -> str:
    """HTML-escaped text that Markdown will not restyle inside inline HTML (``__init__`` stays)."""
    return html.escape(text).replace("_", "&#95;").replace("*", "&#42;").replace("`", "&#96;")


def cite_link(repo_key: str, path: str, start: int, end: int, label: str | None = None, extra_class: str = "") -> str:
    """An ``<a class="cite">`` the page script turns into 'open in the source panel'."""
    text = label if label is not None else (f"{path}:{start}-{end}" if end != start else f"{path}:{start}")
    cls = "cite" + (f" {extra_class}" if extra_class else "")
    # The chat's HTML sanitizer drops data-* attributes, so the citation also travels in the href.
    href = "#cite?" + urlencode({"repo": repo_key, "path": path, "start": int(start), "end": int(end)})
    return (
        f'<a class="{cls}" href="{_attr(href)}" role="button" tabindex="0" data-repo="{_attr(repo_key)}" '
        f'data-path="{_attr(path)}" data-start="{int(start)}" data-end="{int(end)}" '
        f'title="Show {_attr(path)} lines {int(start)}-{int(end)}">{_inline_text(text)}</a>'
    )


def _escape_markdown_html(text: str) -> str:
    """Model text is untrusted: neutralise raw HTML (the chat still renders its Markdown)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Fenced blocks (closed, or running to the end of the text) and inline code spans.
_CODE_RE = re.compile(r"^[ \t]*```[^\n]*\n.*?(?:^[ \t]*```[ \t]*$|\Z)|`[^`\n]+`", re.S | re.M)


def _citation_html(c, repo_key: str) -> str:
    label = (c.raw or c.location).strip("`")
    if c.verified:
        return cite_link(repo_key, c.path, c.start_line, c.end_line, label=label)
    return f'<span class="cite-bad" title="unverified citation: {_attr(c.reason)}">{_inline_text(label)}</span>'


def link_citations(text: str, citations: list, repo_key: str) -> str:
    """Model ``text`` made safe to render, verified citations turned into source links, unverified
    ones flagged. Raw HTML outside code is escaped (inside code Markdown shows it as text); an
    unclosed code fence is closed so it cannot swallow what follows the answer."""
    links: dict[str, str] = {}
    for c in citations:
        raw = (getattr(c, "raw", "") or "").strip().strip("`")
        if raw and c.start_line > 0 and raw not in links:
            links[raw] = _citation_html(c, repo_key)
    cite_re = None
    if links:
        alternatives = "|".join(re.escape(_escape_markdown_html(r)) for r in sorted(links, key=len, reverse=True))
        cite_re = re.compile(rf"(?<![\w./\-])(?:{alternatives})")
    by_escaped = {_escape_markdown_html(r): h for r, h in links.items()}

    def prose(part: str) -> str:
        # '__init__' is a Python name far more often than Markdown bold: keep its underscores.
        def plain(t: str) -> str:
            return t.replace("__", "\\_\\_")

        out, pos, res = _escape_markdown_html(part), 0, []
        for m in cite_re.finditer(out) if cite_re else ():
            res += [plain(out[pos : m.start()]), by_escaped[m.group(0)]]
            pos = m.end()
        return "".join([*res, plain(out[pos:])])

    pieces: list[str] = []
    pos = 0
    for m in _CODE_RE.finditer(text):
        pieces.append(prose(text[pos : m.start()]))
        code = m.group(0)
        if code.startswith("`") and not code.startswith("```"):
            inner = code[1:-1].strip()
            pieces.append(links.get(inner, code))  # `path:12-30` alone in a code span: a link
        else:
            if not re.search(r"^[ \t]*```[ \t]*$", code.split("\n", 1)[1] if "\n" in code else "", re.M):
                code = code.rstrip("\n") + "\n```"  # unclosed fence
            pieces.append(code)
        pos = m.end()
    pieces.append(prose(text[pos:]))
    return "".join(pieces)


def _sources_html(sources: list[SearchHit], repo_key: str) -> str:
    if not sources:
        return ""
    items = []
    for h in sources:
        symbol = f' <span class="sym">{html.escape(h.symbol)}</span>' if h.symbol and h.symbol != "<module>" else ""
        items.append(f"<li>{cite_link(repo_key, h.path, h.start_line, h.end_line)}{symbol}</li>")
    return '<details class="sources"><summary>Sources ({})</summary><ol>{}</ol></details>'.format(
        len(sources), "".join(items)
    )


def format_answer(answer, repo_key: str) -> str:
    """The final chat message: linked answer text, citation check, warnings, sources."""
    parts = [link_citations(answer.model_text.strip(), answer.citations, repo_key)]
    verified = [c for c in answer.citations if c.verified]
    bad = [c for c in answer.citations if not c.verified]
    retrieval_only = answer.backend == "none" or answer.fallback
    if not retrieval_only:
        if verified:
            check = f"✓ {len(verified)} verified citation" + ("s" if len(verified) != 1 else "")
            if bad:
                check += f" · ⚠ {len(bad)} unverified"
            parts.append(f'<div class="check ok">{check}</div>')
        else:
            parts.append(
                '<div class="check warn">⚠ No verified citation: nothing in this answer could be checked against '
                "the code. Read the sources below.</div>"
            )
        for c in bad:
            parts.append(
                f'<div class="check warn small">⚠ unverified <code>{html.escape(c.raw or c.location)}</code>: '
                f"{html.escape(c.reason)}</div>"
            )
    for w in answer.warnings:
        if w.startswith("retrieval:"):
            continue
        parts.append(f'<div class="check warn small">⚠ {html.escape(w)}</div>')
    parts.append(_sources_html(answer.sources, repo_key))
    who = "retrieval only" if answer.backend == "none" else answer.backend
    who += f" · {answer.model}" if answer.model else ""
    total = answer.timings.get("total_ms")
    if total is not None:
        who += f" · {total:.0f} ms" if total < 1000 else f" · {total / 1000:.1f} s"
    meta = who
    parts.append(f'<div class="answer-meta">{html.escape(meta)}</div>')
    return "\n\n".join(p for p in parts if p)


# -- rendering: source panel ----------
def _lexer(path: str, language: str):
    from pygments.lexers import TextLexer, get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    opts = {"stripnl": False, "stripall": False, "ensurenl": False}
    for get in (lambda: get_lexer_for_filename(path, **opts), lambda: get_lexer_by_name(language, **opts)):
        try:
            return get()
        except (ClassNotFound, ValueError, TypeError):
            continue
    return TextLexer(**opts)


def highlight_lines(text: str, path: str, language: str = "") -> list[str]:
    """The file as pygments-highlighted HTML, one self-contained HTML string per source line."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    lines = text.split("\n")
    out = highlight(text, _lexer(path, language), HtmlFormatter(nowrap=True)).split("\n")
    if len(out) < len(lines):
        out += [""] * (len(lines) - len(out))
    return out[: len(lines)]


class SourceRefused(Exception):
    """The source panel will not show this path (outside the repository, not indexed, secret)."""


def read_source(repo: Repository, path: str) -> tuple[str, str]:
    """(text, language) of an indexed file of ``repo``; raises SourceRefused otherwise."""
    if not isinstance(path, str) or not path or is_secret_path(path):
        raise SourceRefused("this file cannot be shown")
    posix = path.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in posix.split("/"):
        raise SourceRefused("only repository-relative paths can be shown")
    try:
        target = repo.resolve_path(path)
    except PathOutsideRepoError as exc:
        raise SourceRefused("this file is not an indexed file of the repository") from exc
    rel = target.relative_to(repo.root).as_posix()
    if is_secret_path(rel):
        raise SourceRefused("this file cannot be shown")
    stored = repo.store.file(rel)
    text, _note = read_text(target)
    return text, stored.language if stored is not None else ""


def render_source(repo: Repository, repo_key: str, path: str, start: int, end: int) -> str:
    """HTML of ``path`` lines start..end (plus context) with real line numbers, cited lines marked."""
    text, language = read_source(repo, path)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]
    n = len(lines)
    start = max(1, min(int(start or 1), n or 1))
    end = max(start, min(int(end or start), n or 1))
    first = max(1, start - SOURCE_CONTEXT_LINES)
    last = min(n, end + SOURCE_CONTEXT_LINES, first + SOURCE_MAX_LINES - 1)
    highlighted = highlight_lines("\n".join(lines[:last]), path, language)
    rows = []
    for no in range(first, last + 1):
        code = highlighted[no - 1] if no - 1 < len(highlighted) else ""
        cls = ' class="hl"' if start <= no <= end else ""
        rows.append(f'<tr data-line="{no}"{cls}><td class="ln">{no}</td><td class="code">{code or " "}</td></tr>')
    shown = f"lines {start}-{end}" if end != start else f"line {start}"
    cut = f" · showing {first}-{last}" if last < min(n, end + SOURCE_CONTEXT_LINES) else ""
    return (
        f'<div class="source" id="source-view" data-path="{_attr(path)}" data-start="{start}" data-end="{end}">'
        f'<div class="source-head"><span class="source-path">{html.escape(path)}</span>'
        f'<span class="source-meta">{html.escape(shown)} · {html.escape(language or "text")} · {n} lines{cut}'
        f"</span></div>"
        f'<div class="source-body"><table class="code-table">{"".join(rows)}</table></div></div>'
    )


# -- rendering: graph neighbourhood ----------
@dataclass
class GNode:
    id: str
    label: str
    sub: str
    role: str  # cited | caller | callee | container
    path: str
    start: int
    end: int


def _graph_node_for(graph, path: str, start: int, end: int, symbol: str) -> str | None:
    node = graph.node_for_chunk(path, symbol) if symbol else None
    if node is not None and graph.g.nodes[node].get("type") not in ("file", "dir"):
        return node
    best, best_span = None, None
    for n in graph.nodes_in_file(path):
        d = graph.g.nodes[n]
        if d.get("type") not in ("class", "function", "section"):
            continue
        s, e = d.get("start_line", 0), d.get("end_line", 0)
        if s <= start <= e or start <= s <= end:
            span = e - s
            if best_span is None or span < best_span:
                best, best_span = n, span
    return best or node or (path if path in graph else None)


_LABEL_CHARS = 18
_SUB_CHARS = 21


def _gnode(graph, node: str, role: str) -> GNode:
    d = graph.g.nodes[node]
    qual = d.get("qualname") or d.get("path") or node
    start = int(d.get("start_line", 1) or 1)
    where = f"{d.get('path', '').rsplit('/', 1)[-1]}:{start}"
    if d.get("type") == "section":
        label, sub = qual.split(" > ")[-1], where
    else:
        parts = qual.split(".")
        label, sub = ".".join(parts[-2:]), where
        if len(label) > _LABEL_CHARS and len(parts) > 1:  # Class.method too long: method, class below
            owner, room = parts[-2], _SUB_CHARS - len(where) - 3
            if len(owner) > room:
                owner = owner[: room - 1] + "…" if room >= 5 else ""
            label, sub = parts[-1], f"{owner} · {where}" if owner else where
    return GNode(node, label, sub, role, d.get("path", ""), start, int(d.get("end_line", start) or start))


def neighbourhood(graph, cited: list[tuple[str, int, int, str]]):
    """(nodes, edges) around the cited locations: callers, callees and containers of each."""
    nodes: dict[str, GNode] = {}
    edges: set[tuple[str, str, str]] = set()
    seeds: list[str] = []
    files: list[str] = []
    for path, start, end, symbol in cited:
        n = _graph_node_for(graph, path, start, end, symbol)
        if n is None or n in seeds or n in files:
            continue
        # Whole files (module headers) say little in this picture: only when no symbol was cited.
        (files if graph.g.nodes[n].get("type") in ("file", "dir") else seeds).append(n)
        if len(seeds) >= GRAPH_MAX_CITED:
            break
    seeds = seeds or files[:GRAPH_MAX_CITED]
    for n in seeds:
        nodes[n] = _gnode(graph, n, "cited")
    for n in seeds:
        for u, _, key in graph.g.in_edges(n, keys=True):
            # (a cited class containing a cited method: both are shown already, no bracket)
            if (
                key == "contains"
                and u not in seeds
                and graph.g.nodes[u].get("type") in ("class", "function", "section")
            ):
                nodes.setdefault(u, _gnode(graph, u, "container"))
                edges.add((u, n, "contains"))
        for r in graph.callers(n, limit=GRAPH_MAX_NEIGHBOURS):
            nodes.setdefault(r.node, _gnode(graph, r.node, "caller"))
            edges.add((r.node, n, "calls"))
        for r in graph.callees(n, limit=GRAPH_MAX_NEIGHBOURS):
            nodes.setdefault(r.node, _gnode(graph, r.node, "callee"))
            edges.add((n, r.node, "calls"))
    return list(nodes.values()), sorted(edges)


def graph_layers(nodes: list[GNode], edges: list[tuple[str, str, str]]) -> list[list[GNode]]:
    """Left-to-right layers: a caller sits left of what it calls (longest path over the condensed
    call graph), a container in its child's layer just above it; order within a layer by the
    barycentre of the callers in earlier layers (fewer crossings)."""
    import networkx as nx

    calls = nx.DiGraph()
    calls.add_nodes_from(n.id for n in nodes if n.role != "container")
    calls.add_edges_from((u, v) for u, v, k in edges if k == "calls" and u in calls and v in calls)
    dag = nx.condensation(calls)
    layer_of_scc: dict[int, int] = {}
    for scc in nx.topological_sort(dag):
        preds = [layer_of_scc[p] for p in dag.predecessors(scc)]
        layer_of_scc[scc] = max(preds) + 1 if preds else 0
    layer = {n: layer_of_scc[dag.graph["mapping"][n]] for n in calls}
    for n in nodes:
        if n.role == "container":  # in its (first) child's layer, drawn just above it
            children = [v for u, v, k in edges if k == "contains" and u == n.id and v in layer]
            layer[n.id] = min((layer[c] for c in children), default=0)
    layers: list[list[GNode]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    row: dict[str, float] = {}  # row of each placed node, for the barycentres of the next layer
    for i in range(len(layers)):
        members = [n for n in nodes if layer[n.id] == i]
        plain = [n for n in members if n.role != "container"]

        def barycentre(n: GNode) -> tuple:
            rows = [row[u] for u, v, k in edges if v == n.id and k == "calls" and u in row]
            return (sum(rows) / len(rows) if rows else float("inf"), n.path, n.start)

        ordered: list[GNode] = []
        for n in sorted(plain, key=barycentre):
            ordered += [c for c in members if c.role == "container" and c not in ordered
                        and (c.id, n.id, "contains") in edges]  # fmt: skip
            ordered.append(n)
        ordered += [c for c in members if c not in ordered]
        for j, n in enumerate(ordered):
            row[n.id] = j
        layers[i] = ordered
    return layers


def render_graph_svg(nodes: list[GNode], edges: list[tuple[str, str, str]], repo_key: str) -> str:
    """A layered inline SVG (callers left of callees); every node opens its source when clicked."""
    if not nodes:
        return '<div class="panel-empty">No graph neighbourhood for the cited code (no symbols in the graph).</div>'
    layers = graph_layers(nodes, edges)
    node_w, node_h, vgap, hgap, pad, left = 150, 36, 12, 34, 10, 24  # left: room for 'contains' brackets
    rows = max(len(col) for col in layers)
    width = left + pad + len(layers) * node_w + (len(layers) - 1) * hgap
    height = pad * 2 + rows * (node_h + vgap) - vgap
    pos: dict[str, tuple[float, float]] = {}
    for i, col in enumerate(layers):
        x = left + i * (node_w + hgap)
        offset = (rows - len(col)) * (node_h + vgap) / 2
        for j, n in enumerate(col):
            pos[n.id] = (x, pad + offset + j * (node_h + vgap))
    parts = [
        f'<svg class="graph-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" aria-label="graph neighbourhood of the cited code">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
    ]
    for u, v, kind in edges:
        if u not in pos or v not in pos:
            continue
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if kind == "contains" and x1 == x2:  # same layer: a dashed bracket on the left
            sx, sy, ey = x1, y1 + node_h / 2, y2 + node_h / 2
            d = f"M {sx} {sy} C {sx - 18} {sy}, {x2 - 18} {ey}, {x2 - 2} {ey}"
        elif x2 > x1:
            sx, sy, ex, ey = x1 + node_w, y1 + node_h / 2, x2 - 2, y2 + node_h / 2
            mx = (sx + ex) / 2
            d = f"M {sx} {sy} C {mx} {sy}, {mx} {ey}, {ex} {ey}"
        else:  # a call within a layer (recursion, cycles) or backwards: an arc on the right
            sx, sy, ey = x1 + node_w, y1 + node_h / 2, y2 + node_h / 2
            d = f"M {sx} {sy} C {sx + 30} {sy}, {x2 + node_w + 30} {ey}, {x2 + node_w + 2} {ey}"
        parts.append(f'<path class="edge {kind}" d="{d}" marker-end="url(#arrow)"><title>{kind}</title></path>')
    for n in nodes:
        x, y = pos[n.id]
        label = n.label if len(n.label) <= _LABEL_CHARS else n.label[: _LABEL_CHARS - 1] + "…"
        sub = n.sub if len(n.sub) <= _SUB_CHARS else "…" + n.sub[-(_SUB_CHARS - 1) :]
        parts.append(
            f'<g class="gnode {n.role} cite" data-repo="{_attr(repo_key)}" data-path="{_attr(n.path)}" '
            f'data-start="{n.start}" data-end="{n.end}" tabindex="0" role="button">'
            f"<title>{html.escape(n.id)} ({n.role})</title>"
            f'<rect x="{x}" y="{y}" width="{node_w}" height="{node_h}" rx="7"/>'
            f'<text class="glabel" x="{x + 10}" y="{y + 15}">{html.escape(label)}</text>'
            f'<text class="gsub" x="{x + 10}" y="{y + 29}">{html.escape(sub)}</text></g>'
        )
    parts.append("</svg>")
    legend = (
        '<div class="graph-legend"><span class="lg cited">cited in the answer</span>'
        '<span class="lg caller">calls cited code</span><span class="lg callee">called by cited code</span>'
        '<span class="lg container">contains</span><span class="lg-note">arrows: caller → callee · '
        "click a node to open it</span></div>"
    )
    count = {role: sum(1 for n in nodes if n.role == role) for role in ("cited", "caller", "callee")}
    head = (
        f'<div class="graph-head">{count["cited"]} cited symbol{"s" if count["cited"] != 1 else ""} · '
        f"{count['caller']} caller{'s' if count['caller'] != 1 else ''} · "
        f"{count['callee']} callee{'s' if count['callee'] != 1 else ''}</div>"
    )
    return f'<div class="graph">{head}<div class="graph-scroll">{"".join(parts)}</div>{legend}</div>'


# -- the app ----------
@dataclass
class AnswerSettings:
    k: int
    backend: str
    base_url: str
    model: str
    retrieval_only: bool


class ChatApp:
    """Handlers (plain Python, unit-testable) and the Gradio Blocks that wires them."""

    def __init__(
        self,
        repos: list[Repository],
        feedback: FeedbackStore,
        *,
        concurrency: int = 4,
        queue_size: int = 64,
    ) -> None:
        if not repos:
            raise ValueError("serve at least one repository")
        self.served = {k: ServedRepo(k, r) for k, r in zip(_unique_keys(repos), repos, strict=True)}
        self.default_key = next(iter(self.served))
        self.feedback = feedback
        self.concurrency = concurrency
        self.queue_size = queue_size
        first = repos[0].config
        self.default_settings = AnswerSettings(
            k=first.search.top_k,
            backend=first.llm.backend if first.llm.backend in BACKENDS else "local",
            base_url=first.llm.base_url,
            model=first.llm.model,
            retrieval_only=first.llm.backend == "none",
        )

    # -- lookups ----------
    def served_repo(self, key: str | None) -> ServedRepo:
        sr = self.served.get(key or self.default_key)
        if sr is None:
            raise SourceRefused("unknown repository")
        return sr

    def examples(self, repo_key: str | None) -> list[str]:
        """Example questions: two generic ones and 'What calls X?' for the most-called function."""
        out = list(GENERIC_EXAMPLES)
        try:
            graph = self.served_repo(repo_key).repo.graph
        except Exception:  # not indexed yet: generic examples only
            graph = None
        if graph is not None:
            g = graph.g
            calls = [
                (sum(1 for _, _, k in g.in_edges(n, keys=True) if k == "calls"), n)
                for n, d in g.nodes(data=True)
                if d.get("type") == "function" and not d.get("is_test")
            ]
            if calls:
                count, node = max(calls)
                if count:
                    out.append(f"What calls {g.nodes[node].get('qualname') or node}?")
        return out

    # -- LLM choice ----------
    def _llm_for(self, repo: Repository, s: AnswerSettings):
        """'none', or a LlamaIndex LLM built from the settings (the API key only for the configured URL)."""
        backend = "none" if s.retrieval_only else (s.backend or "local")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")
        if backend != "openai":
            return backend
        cfg = repo.config.llm
        base_url = (s.base_url or cfg.base_url).strip().rstrip("/")
        if not re.match(r"^https?://[^\s/]+", base_url):
            raise ValueError("the endpoint URL must start with http:// or https://")
        llm = build_llm(cfg, "openai", base_url=base_url, model=(s.model or "").strip() or None)
        if base_url != cfg.base_url.rstrip("/"):
            llm.api_key = "EMPTY"  # never send the configured key to a URL typed into the page
        return llm

    # -- chat ----------
    def respond(
        self,
        question: str,
        history: list[dict] | None,
        repo_key: str,
        k: float,
        backend: str,
        base_url: str,
        model: str,
        retrieval_only: bool,
        answers: dict | None,
    ) -> Iterator[tuple]:
        """Stream one answer: yields (history, question box, answers state, graph html, status)."""
        history = list(history or [])
        answers = dict(answers or {})
        question = (question or "").strip()
        if not question:
            yield _snapshot(history), "", answers, gr.skip(), gr.skip()
            return
        sr = self.served_repo(repo_key)
        settings = AnswerSettings(int(k or 0) or self.default_settings.k, backend, base_url, model, retrieval_only)
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": '<span class="thinking">Searching the code…</span>'})
        yield _snapshot(history), "", answers, gr.skip(), gr.skip()
        t0 = time.perf_counter()
        try:
            llm = self._llm_for(sr.repo, settings)
            events = sr.repo.ask(question, stream=True, k=settings.k, llm=llm)
            text, sources, answer = "", [], None
            last_yield = 0.0
            for event in events:
                if event.kind == "sources":
                    sources = event.data
                    history[-1]["content"] = (
                        f'<span class="thinking">Found {len(sources)} relevant locations, writing the answer…</span>'
                    )
                    yield _snapshot(history), "", answers, gr.skip(), gr.skip()
                elif event.kind == "token":
                    text += event.data
                    now = time.perf_counter()
                    if now - last_yield > 0.08:
                        history[-1]["content"] = link_citations(text + " ▌", [], sr.key)
                        last_yield = now
                        yield _snapshot(history), "", answers, gr.skip(), gr.skip()
                elif event.kind == "done":
                    answer = event.data
        except Exception as exc:  # the page shows a one-line error instead of a broken stream
            log.warning("answer failed: %s", type(exc).__name__)
            history[-1]["content"] = f'<div class="check warn">⚠ {html.escape(_short_error(exc))}</div>'
            yield _snapshot(history), "", answers, gr.skip(), gr.skip()
            return
        if answer is None:
            history[-1]["content"] = '<div class="check warn">⚠ no answer was produced</div>'
            yield _snapshot(history), "", answers, gr.skip(), gr.skip()
            return
        history[-1]["content"] = format_answer(answer, sr.key)
        answers[str(len(history) - 1)] = {
            "answer_id": uuid.uuid4().hex,
            "repo": str(sr.repo.root),
            "question": question,
            "answer": answer.answer,
            "citations": [c.location for c in answer.citations if c.verified],
            "backend": answer.backend,
            "model": answer.model,
        }
        cited = [(c.path, c.start_line, c.end_line, c.symbol) for c in answer.citations if c.verified]
        if not cited:
            cited = [(h.path, h.start_line, h.end_line, h.symbol) for h in answer.sources[:GRAPH_MAX_CITED]]
        graph_html = self.graph_html(sr, cited)
        log.info(
            "answered repo=%s backend=%s sources=%d citations=%d fallback=%s in %.0f ms",
            sr.key, answer.backend, len(answer.sources), len(cited), answer.fallback,
            (time.perf_counter() - t0) * 1000,
        )  # fmt: skip
        yield _snapshot(history), "", answers, graph_html, gr.skip()

    def graph_html(self, sr: ServedRepo, cited: list[tuple[str, int, int, str]]) -> str:
        try:
            graph = sr.repo.graph
        except Exception as exc:
            log.warning("graph unavailable: %s", type(exc).__name__)
            graph = None
        if graph is None:
            return '<div class="panel-empty">This index has no code graph.</div>'
        nodes, edges = neighbourhood(graph, cited)
        return render_graph_svg(nodes, edges, sr.key)

    # -- source panel ----------
    def show_source(self, payload: str) -> str:
        """The source panel for a clicked citation (JSON: repo, path, start, end)."""
        path = ""

        def refused(why: str) -> str:
            shown = f" <code>{html.escape(path[:200])}</code>" if path else ""
            return f'<div class="panel-empty refused" id="source-refused">Refused: {html.escape(why)}.{shown}</div>'

        try:
            data = json.loads(payload or "{}")
            if not isinstance(data, dict):
                raise ValueError
            path = str(data.get("path", ""))
            start, end = int(data.get("start") or 1), int(data.get("end") or 0)
            sr = self.served_repo(str(data.get("repo") or "") or None)
            return render_source(sr.repo, sr.key, path, start, end or start)
        except SourceRefused as exc:
            log.warning("source panel refused a path (%s)", exc)
            return refused(str(exc))
        except (ValueError, TypeError):
            return refused("malformed citation")
        except OSError:
            return refused("the file could not be read")

    # -- feedback ----------
    def on_like(self, answers: dict | None, data: gr.LikeData) -> str:
        """Record 👍/👎 for the answer at ``data.index`` (a second click on the same thumb withdraws it)."""
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        meta = (answers or {}).get(str(index))
        if meta is None:
            return '<span class="fb">Feedback is recorded for answers only.</span>'
        liked = data.liked
        if liked is True or liked == "Like":
            vote = 1
        elif liked is False or liked == "Dislike":
            vote = -1
        else:
            self.feedback.clear(meta["answer_id"])
            return '<span class="fb" id="feedback-status">Feedback withdrawn.</span>'
        self.feedback.record(
            meta["answer_id"],
            vote,
            repo=meta["repo"],
            question=meta["question"],
            answer_text=meta["answer"],
            citations=meta["citations"],
            backend=meta["backend"],
            model=meta["model"],
        )
        log.info("feedback %s recorded", "up" if vote > 0 else "down")
        word = "👍 Thanks — recorded as helpful." if vote > 0 else "👎 Thanks — recorded as not helpful."
        return f'<span class="fb" id="feedback-status" data-vote="{vote}">{word}</span>'

    # -- index status and re-indexing ----------
    def index_status(self, repo_key: str | None) -> str:
        sr = self.served_repo(repo_key)
        repo = sr.repo
        if sr.index_lock.locked():
            return self._progress_html(sr)
        if not repo.is_indexed:
            return (
                f'<div class="status warn"><b>{html.escape(sr.key)}</b> is not indexed yet. '
                "Press <i>Re-index</i> to build the index.</div>"
            )
        try:
            store = repo.store
            files, chunks = len(store.files()), store.chunk_count()
            manifest = store.get_manifest()
            graph = repo.graph
            nodes = graph.number_of_nodes() if graph is not None else 0
        except Exception as exc:
            return f'<div class="status warn">Index unreadable: {html.escape(_short_error(exc))}</div>'
        when = ""
        try:
            ts = float(manifest.get("indexed_at", 0))
            if ts:
                when = f" · indexed {_ago(time.time() - ts)}"
        except (TypeError, ValueError):
            pass
        return (
            f'<div class="status ok" id="index-status"><b>{html.escape(sr.key)}</b> · {files} files · '
            f"{chunks} chunks · {nodes} graph nodes{when}</div>"
        )

    def _progress_html(self, sr: ServedRepo) -> str:
        p = dict(sr.progress)
        stage, done, total, info = p.get("stage", "starting"), p.get("done", 0), p.get("total", 0), p.get("info", "")
        pct = int(100 * done / total) if total else 0
        return (
            f'<div class="status busy">Indexing <b>{html.escape(sr.key)}</b>: {html.escape(stage)} '
            f"{done}/{total} {html.escape(str(info))}"
            f'<div class="bar"><div style="width:{pct}%"></div></div></div>'
        )

    def reindex(self, repo_key: str) -> Iterator[str]:
        """(Re-)index the selected repository in the background, yielding status HTML with progress."""
        sr = self.served_repo(repo_key)
        if not sr.index_lock.acquire(blocking=False):
            yield self._progress_html(sr)
            return
        result: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int, info: str) -> None:
            sr.progress.update(stage=stage, done=done, total=total, info=info)

        def work() -> None:
            try:
                result["report"] = sr.repo.index(progress)
            except Exception as exc:
                result["error"] = exc

        sr.progress.clear()
        thread = threading.Thread(target=work, name=f"index-{sr.key}", daemon=True)
        try:
            thread.start()
            while thread.is_alive():
                yield self._progress_html(sr)
                thread.join(0.4)
        finally:
            sr.index_lock.release()
        if "error" in result:
            log.warning("re-index of %s failed: %s", sr.key, type(result["error"]).__name__)
            yield f'<div class="status warn">Indexing failed: {html.escape(_short_error(result["error"]))}</div>'
            return
        report = result["report"]
        log.info("re-indexed %s: %d files, %d chunks", sr.key, report.files_seen, report.chunks_total)
        yield self.index_status(repo_key).replace(
            "</div>", f" · re-indexed in {report.seconds.get('total', 0):.1f} s</div>", 1
        )

    # -- HTTP API (load tests, scripts) ----------
    def api_ask(self, question: str, repo: str = "", k: int = 0, backend: str = "") -> dict:
        """Answer ``question`` (backend: local|openai|none, '' = configured) and return Answer.to_dict()."""
        sr = self.served_repo(repo or None)
        question = (question or "").strip()
        if not question:
            raise ValueError("empty question")
        s = AnswerSettings(
            int(k or 0) or self.default_settings.k,
            backend or sr.repo.config.llm.backend,
            "",
            "",
            (backend or sr.repo.config.llm.backend) == "none",
        )
        t0 = time.perf_counter()
        answer = sr.repo.ask(question, k=s.k, llm=self._llm_for(sr.repo, s))
        log.info(
            "answered repo=%s backend=%s sources=%d citations=%d fallback=%s in %.0f ms (api)",
            sr.key, answer.backend, len(answer.sources), len(answer.citations), answer.fallback,
            (time.perf_counter() - t0) * 1000,
        )  # fmt: skip
        return answer.to_dict()

    # -- Blocks ----------
    def build(self) -> gr.Blocks:
        keys = list(self.served)
        d = self.default_settings
        with gr.Blocks(title="repo-rag", analytics_enabled=False) as demo:
            answers = gr.State({})
            with gr.Row(elem_id="topbar", equal_height=True):
                gr.HTML(
                    '<div class="brand"><span class="logo">⌘</span><div><div class="title">repo-rag</div>'
                    '<div class="subtitle">Ask questions about your code — answers cite the lines they rely on'
                    "</div></div></div>",
                    elem_id="brand",
                )
                repo_dd = gr.Dropdown(
                    keys, value=self.default_key, label="Repository", visible=len(keys) > 1, scale=0,
                    min_width=220, elem_id="repo-select", interactive=True,
                )  # fmt: skip
            with gr.Row(elem_id="main", equal_height=False):
                with gr.Column(scale=5, min_width=420, elem_id="chat-col"):
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        height=560,
                        show_label=False,
                        layout="bubble",
                        placeholder='<div class="placeholder"><b>Ask about this repository</b><br>'
                        "Answers are grounded in the indexed code; click a citation to open the lines.</div>",
                        feedback_options=("Like", "Dislike"),
                        buttons=["copy"],
                    )
                    with gr.Row(elem_id="ask-row", equal_height=True):
                        question = gr.Textbox(
                            placeholder="Ask about the code, e.g. where is the configuration loaded?",
                            show_label=False,
                            lines=1,
                            max_lines=4,
                            scale=8,
                            elem_id="question",
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="ask")
                    gr.Examples(self.examples(self.default_key), inputs=question, label=None, elem_id="examples")
                    feedback_note = gr.HTML("", elem_id="feedback-note")
                with gr.Column(scale=5, min_width=380, elem_id="side-col"):
                    with gr.Tabs(elem_id="side-tabs"):
                        with gr.Tab("Source", id="tab-source", elem_id="tab-source"):
                            source = gr.HTML(EMPTY_SOURCE, elem_id="source-panel")
                        with gr.Tab("Graph", id="tab-graph", elem_id="tab-graph"):
                            graph = gr.HTML(EMPTY_GRAPH, elem_id="graph-panel")
                        with gr.Tab("Settings", id="tab-settings", elem_id="tab-settings"):
                            k = gr.Slider(1, 30, value=d.k, step=1, label="Top-k retrieved locations", elem_id="top-k")
                            retrieval_only = gr.Checkbox(
                                value=d.retrieval_only, label="Retrieval only (no LLM: list the most relevant code)",
                                elem_id="retrieval-only",
                            )  # fmt: skip
                            backend = gr.Radio(
                                list(BACKENDS), value=d.backend, label="LLM backend", elem_id="backend",
                                info="local: embedded GGUF model · openai: any OpenAI-compatible server (vLLM, …)",
                            )  # fmt: skip
                            with gr.Group():
                                base_url = gr.Textbox(
                                    d.base_url, label="Endpoint URL (openai backend)", elem_id="base-url"
                                )
                                model = gr.Textbox(
                                    d.model, label="Model (openai backend; empty = the server's first model)",
                                    elem_id="model",
                                )  # fmt: skip
                        with gr.Tab("Index", id="tab-index", elem_id="tab-index"):
                            status = gr.HTML(self.index_status(self.default_key), elem_id="index-panel")
                            reindex = gr.Button("Re-index", elem_id="reindex", variant="secondary")
                            gr.HTML(
                                '<div class="hint">Re-indexing is incremental: only changed files are parsed and '
                                "embedded. Questions keep working while it runs.</div>"
                            )
            # Hidden plumbing for citation clicks (see assets/app.js).
            cite_box = gr.Textbox(visible="hidden", elem_id="cite-box")
            cite_go = gr.Button("open", visible="hidden", elem_id="cite-go")

            inputs = [question, chatbot, repo_dd, k, backend, base_url, model, retrieval_only, answers]
            outputs = [chatbot, question, answers, graph, status]
            for trigger in (send.click, question.submit):
                trigger(self.respond, inputs, outputs, api_visibility="private", show_progress="hidden")
            cite_go.click(
                self.show_source, cite_box, source, api_visibility="private", show_progress="minimal",
                trigger_mode="always_last",  # a click while the previous one is loading is not dropped
                js="() => { const t = document.querySelector('#side-tabs button[role=tab]'); if (t) t.click(); "
                "return document.querySelector('#cite-box textarea, #cite-box input').value; }",
            )  # fmt: skip
            chatbot.like(self.on_like, [answers], feedback_note, api_visibility="private")
            chatbot.clear(
                lambda: ({}, "", EMPTY_GRAPH), None, [answers, feedback_note, graph], api_visibility="private"
            )
            reindex.click(
                self.reindex, repo_dd, status, api_visibility="private", concurrency_limit=1,
                concurrency_id="index", show_progress="hidden",
            )  # fmt: skip
            repo_dd.change(
                lambda key: (self.index_status(key), EMPTY_SOURCE, EMPTY_GRAPH, [], {}),
                repo_dd, [status, source, graph, chatbot, answers], api_visibility="private",
            )  # fmt: skip
            demo.load(self.index_status, repo_dd, status, api_visibility="private")
            gr.api(self.api_ask, api_name="ask")
        demo.queue(default_concurrency_limit=self.concurrency, max_size=self.queue_size)
        return demo

    def launch_kwargs(self) -> dict:
        css = (ASSETS / "app.css").read_text(encoding="utf-8")
        js = (ASSETS / "app.js").read_text(encoding="utf-8")
        return {
            "css": css + _pygments_css(),
            "head": f"<script>{js}</script>",
            "theme": gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
            "footer_links": ["api"],
        }


def _snapshot(history: list[dict]) -> list[dict]:
    """A copy of the chat history to yield (the streamed message keeps changing after the yield)."""
    return [dict(m) for m in history]


def _short_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _ago(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".code-table .code")
    return "\n" + light


def build_app(
    repos: list[Repository],
    feedback: FeedbackStore,
    *,
    concurrency: int = 4,
    queue_size: int = 64,
):
    """(ChatApp, gr.Blocks) for ``repos``; launch with ``demo.launch(**app.launch_kwargs(), ...)``."""
    app = ChatApp(repos, feedback, concurrency=concurrency, queue_size=queue_size)
    return app, app.build()
