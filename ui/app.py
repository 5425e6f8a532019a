"""The repo-rag web chat (Gradio Blocks): streamed grounded answers, clickable citations, a source
panel, the code-graph neighbourhood of each answer, answer settings, re-indexing and 👍/👎 feedback.

Built from library calls only (``Repository.ask(stream=True)``, ``.files``, ``.graph``, ``.index``)
so everything shown here is also reachable from Python. The page is split by concern:

* ``ui.app`` (this module): the Blocks layout, event wiring, theme and launch options;
* ``ui.handlers``: the handlers and per-session state (``ChatApp``);
* ``ui.render``: answers as safe HTML; ``ui.source``: the source panel; ``ui.graphview``: the
  graph picture; ``ui.status``: the Index tab.

Security model (the page talks to nothing but this server):

* answers and repository text are rendered to HTML on the server with no images, links (other
  than the page's own citation links) or raw HTML (``ui.render``); the chat does not run Markdown
  on them again (``render_markdown=False``) and keeps Gradio's sanitizer on;
* the LLM endpoint, model and API key are server configuration: no page field or handler
  argument can choose where a question and its code are sent (``ui.handlers``);
* the theme uses system fonts only, so the page loads no font, script or stylesheet from
  another host;
* the source panel shows only what ``Repository.files`` allows (indexed, non-secret files inside
  a served repository, secrets redacted); questions over ``search.max_query_chars`` are refused
  with a message; repository content never goes to the log at INFO.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from repo_rag.feedback import FeedbackStore
from repo_rag.llm import BACKENDS
from repo_rag.repository import Repository

from .graphview import EMPTY_GRAPH
from .handlers import AnswerSettings, ChatApp, ServedRepo
from .render import cite_link, format_answer, link_citations, render_markdown
from .source import EMPTY_SOURCE, SourceRefused, pygments_css, read_source, render_source

ASSETS = Path(__file__).parent / "assets"
SYSTEM_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif")
SYSTEM_MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")
BACKEND_INFO = (
    "local: the embedded GGUF model · openai: the OpenAI-compatible server set in the server's "
    "configuration ([llm] base_url and model)"
)

__all__ = [
    "AnswerSettings",
    "ChatApp",
    "ServedRepo",
    "SourceRefused",
    "build_app",
    "build_blocks",
    "cite_link",
    "format_answer",
    "launch_kwargs",
    "link_citations",
    "read_source",
    "render_markdown",
    "render_source",
    "theme",
]


def _topbar(app: ChatApp) -> gr.Dropdown:
    keys = app.choices
    with gr.Row(elem_id="topbar", equal_height=True):
        gr.HTML(
            '<div class="brand"><span class="logo">⌘</span><div><div class="title">repo-rag</div>'
            '<div class="subtitle">Ask questions about your code — answers cite the lines they rely on'
            "</div></div></div>",
            elem_id="brand",
        )
        return gr.Dropdown(
            keys, value=app.default_key, label="Repository", visible=len(keys) > 1, scale=0, min_width=220,
            elem_id="repo-select", interactive=True,
        )  # fmt: skip


def _chat_column(app: ChatApp) -> SimpleNamespace:
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
            # Messages are safe HTML built by ui.render: no Markdown (images, links) on the client.
            render_markdown=False,
            sanitize_html=True,
            latex_delimiters=[],
        )
        with gr.Row(elem_id="ask-row", equal_height=True):
            question = gr.Textbox(
                placeholder="Ask about the code, e.g. where is the configuration loaded?", show_label=False,
                lines=1, max_lines=4, scale=8, elem_id="question", autofocus=True,
            )  # fmt: skip
            send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="ask")
        gr.Examples(app.examples(app.default_key), inputs=question, label=None, elem_id="examples")
        feedback_note = gr.HTML("", elem_id="feedback-note")
    return SimpleNamespace(chatbot=chatbot, question=question, send=send, feedback_note=feedback_note)


def _side_column(app: ChatApp) -> SimpleNamespace:
    d = app.default_settings
    with gr.Column(scale=5, min_width=380, elem_id="side-col"), gr.Tabs(elem_id="side-tabs"):
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
            backend = gr.Radio(list(BACKENDS), value=d.backend, label="LLM backend", elem_id="backend",
                               info=BACKEND_INFO)  # fmt: skip
        with gr.Tab("Index", id="tab-index", elem_id="tab-index"):
            status = gr.HTML(app.index_status(app.default_key), elem_id="index-panel")
            reindex = gr.Button("Re-index", elem_id="reindex", variant="secondary")
            gr.HTML(
                '<div class="hint">Re-indexing is incremental: only changed files are parsed and '
                "embedded. Questions keep working while it runs.</div>"
            )
    return SimpleNamespace(source=source, graph=graph, k=k, retrieval_only=retrieval_only, backend=backend,
                           status=status, reindex=reindex)  # fmt: skip


_OPEN_SOURCE_JS = (
    "() => { const t = document.querySelector('#side-tabs button[role=tab]'); if (t) t.click(); "
    "return document.querySelector('#cite-box textarea, #cite-box input').value; }"
)


def _wire(app: ChatApp, repo_dd: gr.Dropdown, chat: SimpleNamespace, side: SimpleNamespace) -> None:
    """Every event of the page; all private (not in the API listing) except ``/ask``."""
    answers = gr.State({})
    # Hidden plumbing for citation clicks (see assets/app.js).
    cite_box = gr.Textbox(visible="hidden", elem_id="cite-box")
    cite_go = gr.Button("open", visible="hidden", elem_id="cite-go")
    inputs = [chat.question, chat.chatbot, repo_dd, side.k, side.backend, side.retrieval_only, answers]
    outputs = [chat.chatbot, chat.question, answers, side.graph, side.status]
    for trigger in (chat.send.click, chat.question.submit):
        trigger(app.respond, inputs, outputs, api_visibility="private", show_progress="hidden")
    cite_go.click(
        app.show_source, cite_box, side.source, api_visibility="private", show_progress="minimal",
        trigger_mode="always_last",  # a click while the previous one is loading is not dropped
        js=_OPEN_SOURCE_JS,
    )  # fmt: skip
    chat.chatbot.like(app.on_like, [answers], chat.feedback_note, api_visibility="private")
    chat.chatbot.clear(
        lambda: ({}, "", EMPTY_GRAPH), None, [answers, chat.feedback_note, side.graph], api_visibility="private"
    )
    side.reindex.click(
        app.reindex, repo_dd, side.status, api_visibility="private", concurrency_limit=1, concurrency_id="index",
        show_progress="hidden",
    )  # fmt: skip
    repo_dd.change(
        lambda key: (app.index_status(key), EMPTY_SOURCE, EMPTY_GRAPH, [], {}),
        repo_dd, [side.status, side.source, side.graph, chat.chatbot, answers], api_visibility="private",
    )  # fmt: skip


def build_blocks(app: ChatApp) -> gr.Blocks:
    """The page: top bar (repository), chat column, side tabs (source, graph, settings, index)."""
    with gr.Blocks(title="repo-rag", analytics_enabled=False) as demo:
        repo_dd = _topbar(app)
        with gr.Row(elem_id="main", equal_height=False):
            chat = _chat_column(app)
            side = _side_column(app)
        _wire(app, repo_dd, chat, side)
        demo.load(app.index_status, repo_dd, side.status, api_visibility="private")
        gr.api(app.api_ask, api_name="ask")
    demo.queue(default_concurrency_limit=app.concurrency, max_size=app.queue_size)
    return demo


def theme() -> gr.themes.Base:
    """The page theme, with system fonts only: no font is fetched from Google Fonts or any CDN."""
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=SYSTEM_MONO_FONTS)


def launch_kwargs() -> dict:
    """Options for ``demo.launch``: page CSS and script (inline, from ui/assets), theme, footer."""
    css = (ASSETS / "app.css").read_text(encoding="utf-8")
    js = (ASSETS / "app.js").read_text(encoding="utf-8")
    return {
        "css": css + pygments_css(),
        "head": f"<script>{js}</script>",
        "theme": theme(),
        "footer_links": ["api"],
    }


def build_app(repos: list[Repository], feedback: FeedbackStore, *, concurrency: int = 4, queue_size: int = 64):
    """(ChatApp, gr.Blocks) for ``repos``; launch with ``demo.launch(**launch_kwargs(), ...)``."""
    app = ChatApp(repos, feedback, concurrency=concurrency, queue_size=queue_size)
    return app, build_blocks(app)
