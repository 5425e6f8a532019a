"""The source panel: the cited lines of a repository file, highlighted, with real line numbers.

Files are read only through ``Repository.files`` (the library's one gate: indexed, non-secret
files inside the repository, with high-confidence secrets redacted); anything it refuses becomes
:class:`SourceRefused`. Highlighted code is escaped by pygments, so repository text never reaches
the page as markup.
"""

from __future__ import annotations

import html

from repo_rag.errors import RepoRagError
from repo_rag.files import FileAccessError
from repo_rag.repository import Repository

SOURCE_CONTEXT_LINES = 4  # lines shown around a cited span
SOURCE_MAX_LINES = 400
EMPTY_SOURCE = (
    '<div class="panel-empty" id="source-empty">Click a citation in an answer (or a node of the graph) '
    "to see the cited lines here.</div>"
)


class SourceRefused(RepoRagError):
    """The source panel will not show this path (outside the repository, not indexed, secret)."""


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


def pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return "\n" + HtmlFormatter(style="default").get_style_defs(".code-table .code")


def read_source(repo: Repository, path: str) -> tuple[str, str]:
    """(redacted text, language) of an indexed file of ``repo``; raises SourceRefused otherwise."""
    if not isinstance(path, str):
        raise SourceRefused("this file cannot be shown")
    try:
        text = repo.files.read_text(path)
        rel = repo.files.resolve(path).relative_to(repo.files.root).as_posix()
    except FileAccessError as exc:
        raise SourceRefused(str(exc)) from exc
    stored = repo.store.file(rel)
    return text, stored.language if stored is not None else ""


def render_source(repo: Repository, path: str, start: int, end: int) -> str:
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
        f'<div class="source" id="source-view" data-path="{html.escape(path, quote=True)}" data-start="{start}" '
        f'data-end="{end}"><div class="source-head"><span class="source-path">{html.escape(path)}</span>'
        f'<span class="source-meta">{html.escape(shown)} · {html.escape(language or "text")} · {n} lines{cut}'
        f"</span></div>"
        f'<div class="source-body"><table class="code-table">{"".join(rows)}</table></div></div>'
    )


def refused_html(why: str, path: str = "") -> str:
    shown = f" <code>{html.escape(path[:200])}</code>" if path else ""
    return f'<div class="panel-empty refused" id="source-refused">Refused: {html.escape(why)}.{shown}</div>'
