"""Answer rendering: model text and repository text turned into HTML the page can show safely.

Everything in an answer is untrusted: the model may have been steered by text in the repository,
and the repository itself may carry hostile docstrings. The chat shows the HTML built here as is
(``gr.Chatbot(render_markdown=False)``; Gradio's own HTML sanitizer stays on as a second line),
so nothing the browser receives from an answer can fetch, embed or run anything:

* Markdown is rendered here, on the server, by markdown-it-py with raw HTML, images, links,
  autolinks and link reference definitions switched off: ``![x](https://host/?q=...)``, ``<img
  src=...>`` and ``[text](url)`` stay visible as plain text;
* every other untrusted string (paths, symbols, warnings, reasons) is HTML-escaped;
* the only links are the page's own citation links (``href="#cite?..."``), built by
  :func:`cite_link`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from markdown_it import MarkdownIt
from markdown_it.token import Token

from repo_rag.answer import explanation_header
from repo_rag.hits import SearchHit

_DUNDER = re.compile(r"__[A-Za-z0-9]\w*?__(?!\w)")


def _dunder_rule(state, silent: bool) -> bool:
    """``__init__`` is a Python name far more often than Markdown bold: keep it as text."""
    if state.src[state.pos] != "_" or (state.pos and (state.src[state.pos - 1].isalnum())):
        return False
    m = _DUNDER.match(state.src, state.pos)
    if m is None:
        return False
    if not silent:
        state.push("text", "", 0).content = m.group(0)
    state.pos = m.end()
    return True


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # No way out of the page: no images, no links of any kind, no raw HTML.
    md.disable(["image", "link", "autolink", "reference", "html_inline", "html_block"])
    md.inline.ruler.before("emphasis", "dunder", _dunder_rule)
    return md


_MD = _markdown()


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def cite_link(repo_key: str, path: str, start: int, end: int, label: str | None = None, extra_class: str = "") -> str:
    """An ``<a class="cite">`` the page script turns into 'open in the source panel'."""
    text = label if label is not None else (f"{path}:{start}-{end}" if end != start else f"{path}:{start}")
    cls = "cite" + (f" {extra_class}" if extra_class else "")
    # The chat's HTML sanitizer drops data-* attributes, so the citation also travels in the href.
    href = "#cite?" + urlencode({"repo": repo_key, "path": path, "start": int(start), "end": int(end)})
    return (
        f'<a class="{cls}" href="{_attr(href)}" role="button" tabindex="0" data-repo="{_attr(repo_key)}" '
        f'data-path="{_attr(path)}" data-start="{int(start)}" data-end="{int(end)}" '
        f'title="Show {_attr(path)} lines {int(start)}-{int(end)}">{html.escape(text)}</a>'
    )


def _citation_html(c, repo_key: str) -> str:
    label = (c.raw or c.location).strip("`")
    if c.verified:
        return cite_link(repo_key, c.path, c.start_line, c.end_line, label=label)
    return f'<span class="cite-bad" title="unverified citation: {_attr(c.reason)}">{html.escape(label)}</span>'


def _html_token(content: str) -> Token:
    tok = Token("html_inline", "", 0)
    tok.content = content
    return tok


def _text_token(content: str) -> Token:
    tok = Token("text", "", 0)
    tok.content = content
    return tok


def _linked(children: Iterable[Token], links: dict[str, str], cite_re: re.Pattern | None) -> Iterator[Token]:
    """Inline tokens with citations (in text, or alone in a code span) replaced by their HTML."""
    for tok in children:
        if tok.type == "code_inline" and tok.content.strip() in links:
            yield _html_token(links[tok.content.strip()])
        elif tok.type == "text" and cite_re is not None and cite_re.search(tok.content):
            pos = 0
            for m in cite_re.finditer(tok.content):
                if m.start() > pos:
                    yield _text_token(tok.content[pos : m.start()])
                yield _html_token(links[m.group(0)])
                pos = m.end()
            if pos < len(tok.content):
                yield _text_token(tok.content[pos:])
        else:
            yield tok


def render_markdown(text: str, links: dict[str, str] | None = None) -> str:
    """Safe HTML of Markdown ``text`` (see the module docstring); each key of ``links`` found in
    prose or alone in a code span becomes its (trusted) HTML value, code blocks stay code."""
    links = links or {}
    cite_re = None
    if links:
        alternatives = "|".join(re.escape(r) for r in sorted(links, key=len, reverse=True))
        cite_re = re.compile(rf"(?<![\w./\-])(?:{alternatives})")
    tokens = _MD.parse(text)
    for tok in tokens:
        if tok.type == "inline" and tok.children:
            tok.children = list(_linked(tok.children, links, cite_re))
    return _MD.renderer.render(tokens, _MD.options, {}).strip()


def link_citations(text: str, citations: list, repo_key: str) -> str:
    """Model ``text`` as safe HTML, verified citations turned into source links, unverified ones flagged."""
    links: dict[str, str] = {}
    for c in citations:
        raw = (getattr(c, "raw", "") or "").strip().strip("`")
        if raw and c.start_line > 0 and raw not in links:
            links[raw] = _citation_html(c, repo_key)
    return render_markdown(text, links)


def routed_html(repo_key: str) -> str:
    """The line above an answer asked of all repositories: which one answered."""
    return (f'<div class="routed">Answered from <b>{html.escape(repo_key)}</b>, the repository whose code '
            "matches the question best.</div>")


def plain_text_html(text: str) -> str:
    """Untrusted text shown exactly as written (the user's question): escaped, whitespace kept."""
    return f'<div class="plain-text">{html.escape(text)}</div>'


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


def _checks_html(answer) -> list[str]:
    """The checks of the model's explanation: its citations, and what the claim check removed."""
    parts = []
    if answer.model_text.strip():
        verified = [c for c in answer.model_citations if c.verified]
        bad = [c for c in answer.model_citations if not c.verified]
        if verified:
            check = f"✓ {len(verified)} verified citation" + ("s" if len(verified) != 1 else "")
            if bad:
                check += f" · ⚠ {len(bad)} unverified"
            parts.append(f'<div class="answer-check ok">{check}</div>')
        else:
            parts.append(
                '<div class="answer-check warn">⚠ The explanation cites no checked location: rely on the locations '
                "listed first, which come from the index.</div>"
            )
        for c in bad:
            parts.append(
                f'<div class="answer-check warn small">⚠ unverified <code>{html.escape(c.raw or c.location)}</code>: '
                f"{html.escape(c.reason)}</div>"
            )
    checks = answer.checks or {}
    if checks.get("removed_sentences"):
        names = ", ".join(f"<code>{html.escape(n)}</code>" for n in checks.get("invented_names", [])[:8])
        parts.append(
            f'<div class="answer-check warn small removed">⚠ removed {int(checks["removed_sentences"])} sentence(s) '
            f"naming what this repository does not have: {names}</div>"
        )
    if checks.get("repeated_sentences"):
        parts.append(
            f'<div class="answer-check warn small">⚠ cut {int(checks["repeated_sentences"])} repeated sentence(s)</div>'
        )
    return parts


def _meta_html(answer) -> str:
    who = "retrieval only" if answer.backend == "none" else answer.backend
    who += f" · {answer.model}" if answer.model else ""
    total = answer.timings.get("total_ms")
    if total is not None:
        who += f" · {total:.0f} ms" if total < 1000 else f" · {total / 1000:.1f} s"
    return f'<div class="answer-meta">{html.escape(who)}</div>'


def format_answer(answer, repo_key: str) -> str:
    """The final chat message (HTML): grounded part and explanation (linked), checks, warnings, sources."""
    prose = answer.model_text.strip()
    text = answer.grounded.strip() + (f"\n\n{explanation_header(answer.model)}\n{prose}" if prose else "")
    body = link_citations(text, answer.citations, repo_key)
    parts = [f'<div class="answer-text">{body}</div>']
    parts += _checks_html(answer)
    for w in answer.warnings:
        if not w.startswith("retrieval:"):
            parts.append(f'<div class="answer-check warn small">⚠ {html.escape(w)}</div>')
    parts.append(_sources_html(answer.sources, repo_key))
    parts.append(_meta_html(answer))
    return "".join(p for p in parts if p)


def streaming_html(text: str, repo_key: str) -> str:
    """A partial answer while tokens arrive (a cursor ▌ marks it as unfinished)."""
    return f'<div class="answer-text partial">{link_citations(text + " ▌", [], repo_key)}</div>'


def thinking_html(text: str) -> str:
    return f'<span class="thinking">{html.escape(text)}</span>'


def warning_html(text: str) -> str:
    return f'<div class="answer-check warn">⚠ {html.escape(text)}</div>'
