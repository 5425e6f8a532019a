"""The web chat without a browser: handlers, source-panel security, feedback and stats, the serve
command's bind/auth defaults, and a live server under 20 parallel API questions (load test)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from repo_rag import Repository, load_config
from repo_rag.cli import CliError
from repo_rag.feedback import FeedbackStore

pytest.importorskip("gradio")

from ui.app import ChatApp, format_answer, link_citations
from ui.cli import auth_from_env, choose_host, is_loopback

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "polyglot"
OUT = ROOT / "test-output"
AUTH = ("reviewer", "s3cret-Pa55")


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


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Repository:
    """A fixture copy with a secret file, a symlink leading out of the repository, and an outside file."""
    base = tmp_path_factory.mktemp("hostile")
    outside = base / "outside.txt"
    outside.write_text("TOP-SECRET-OUTSIDE\n")
    root = base / "repo"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns(".repo-rag"))
    (root / ".env").write_text("API_KEY=TOP-SECRET-ENV\n")
    (root / "id_rsa").write_text("-----BEGIN TOP-SECRET KEY-----\n")
    (root / "bookstore" / "link_out.py").symlink_to(outside)
    (root / "etc_link").symlink_to("/etc")
    cfg = load_config(root, overrides={"embed": {"enabled": False}, "llm": {"backend": "none"}})
    r = Repository(root, cfg, index_dir=base / "index")
    r.index()
    yield r
    r.close()


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
        assert "Refused: only repository-relative paths" in html


def test_source_panel_refuses_unknown_repository_and_garbage(app):
    assert "Refused: unknown repository" in app.show_source(_payload("nope", "bookstore/auth.py"))
    for garbage in ("not json", "[1, 2]", json.dumps({"repo": "polyglot", "path": "x", "start": "a"}), ""):
        assert "Refused" in app.show_source(garbage)


# -- answers in the chat ----------------------------------------------------------------------------------------
def _respond(app: ChatApp, question: str, **kw) -> list[tuple]:
    settings = {"repo_key": "polyglot", "k": 6, "backend": "none", "base_url": "", "model": "", "retrieval_only": True}
    settings.update(kw)
    return list(
        app.respond(
            question,
            [],
            settings["repo_key"],
            settings["k"],
            settings["backend"],
            settings["base_url"],
            settings["model"],
            settings["retrieval_only"],
            {},
        )
    )


def test_respond_streams_and_links_citations(app):
    steps = _respond(app, "Where is password validation done?")
    assert len(steps) >= 3, "the answer is streamed in several updates"
    assert "Searching" in steps[0][0][-1]["content"]
    history, box, answers, graph_html, _status = steps[-1]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert box == ""
    final = history[1]["content"]
    assert 'class="cite"' in final
    assert "#cite?repo=polyglot&amp;path=bookstore%2Fauth.py&amp;start=" in final
    assert "Sources (6)" in final
    meta = answers["1"]
    assert meta["question"] == "Where is password validation done?"
    assert any(c.startswith("bookstore/auth.py:") for c in meta["citations"])
    # The graph neighbourhood of the cited code: an inline SVG whose nodes link to their source.
    assert "<svg" in graph_html and 'class="gnode cited cite"' in graph_html
    assert 'data-path="bookstore/auth.py"' in graph_html
    assert "caller" in graph_html or "callee" in graph_html


def test_respond_ignores_empty_question(app):
    steps = _respond(app, "   ")
    assert steps[-1][0] == []


def test_model_html_is_escaped_and_unverified_citations_flagged():
    from repo_rag.verify import Citation

    ok = Citation("bookstore/auth.py", 64, 67, "validate_password", True, "verified", "bookstore/auth.py:64-67")
    bad = Citation("bookstore/nope.py", 1, 2, "", False, "file is not indexed", "bookstore/nope.py:1-2")
    text = "See bookstore/auth.py:64-67 and bookstore/nope.py:1-2. <script>alert(1)</script><img src=x onerror=y>"
    out = link_citations(text, [ok, bad], "polyglot")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<img" not in out
    assert out.count('class="cite"') == 1 and 'data-path="bookstore/auth.py"' in out
    assert '<span class="cite-bad"' in out and "file is not indexed" in out

    # Code stays code (Markdown shows its HTML as text); a citation alone in a code span is a link;
    # an unclosed fence is closed so it cannot swallow the citation check and sources after it.
    code = "Use `bookstore/auth.py:64-67`.\n```python\nif a < b:  # bookstore/auth.py:64-67\n```\n```\nx = '<b>'"
    out = link_citations(code, [ok], "polyglot")
    assert out.startswith('Use <a class="cite"')
    assert "if a < b:  # bookstore/auth.py:64-67\n```" in out, "no link or escaping inside a fenced block"
    assert out.endswith("x = '<b>'\n```")
    dunder = Citation("bookstore/views.py", 42, 44, "", True, "verified", "bookstore/views.py:42-44 (X.__init__)")
    assert "X.&#95;&#95;init&#95;&#95;" in link_citations("bookstore/views.py:42-44 (X.__init__)", [dunder], "p")


def test_format_answer_with_an_llm_answer(repo):
    """A real pipeline run with a scripted LlamaIndex LLM: verified links, flagged invention."""
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    question = "where is password validation?"
    top = repo.search(question, k=6).hits[0]
    script = f"It is done in {top.location} ({top.symbol}); hashing lives in bookstore/crypto.py:1-9."

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
    assert [c.verified for c in answer.citations] == [True, False]
    html = format_answer(answer, "polyglot")
    href = f"path={top.path.replace('/', '%2F')}&amp;start={top.start_line}&amp;end={top.end_line}"
    assert html.count('class="cite"') >= 2 and href in html  # in the text and in the sources list
    assert '<span class="cite-bad"' in html and "bookstore/crypto.py:1-9" in html
    assert "1 verified citation" in html and "1 unverified" in html


def test_configured_api_key_only_goes_to_the_configured_endpoint(app, repo, monkeypatch):
    from ui.app import AnswerSettings

    monkeypatch.setenv(repo.config.llm.api_key_env, "sk-configured")
    configured = app._llm_for(repo, AnswerSettings(5, "openai", repo.config.llm.base_url, "", False))
    assert configured.api_key == "sk-configured"
    typed = app._llm_for(repo, AnswerSettings(5, "openai", "http://attacker.example:8000/v1", "m", False))
    assert typed.api_key == "EMPTY" and typed.base_url == "http://attacker.example:8000/v1"
    assert app._llm_for(repo, AnswerSettings(5, "openai", "", "", True)) == "none"  # retrieval-only wins
    with pytest.raises(ValueError, match="http"):
        app._llm_for(repo, AnswerSettings(5, "openai", "file:///etc/passwd", "", False))


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


def serve_command() -> list[str]:
    """`repo-rag serve` when the package is installed (entry point), else `python -m ui.cli serve`."""
    from importlib.metadata import entry_points

    if any(ep.name == "serve" for ep in entry_points(group="repo_rag.commands")):
        exe = shutil.which("repo-rag", path=str(Path(sys.executable).parent))
        return [exe, "serve"] if exe else [sys.executable, "-m", "repo_rag.cli", "serve"]
    return [sys.executable, "-m", "ui.cli", "serve"]


def test_serve_refuses_non_loopback_host_from_environment(index_dir, tmp_path):
    env = {**os.environ, "REPO_RAG_SERVE_HOST": "0.0.0.0", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run(
        [*serve_command(), "--repo", str(FIXTURE), "--index-dir", str(index_dir), "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "refusing to bind to 0.0.0.0" in proc.stderr and "--host 0.0.0.0" in proc.stderr


def test_serve_plugs_into_the_core_cli_through_its_entry_point(monkeypatch, capsys, index_dir):
    """pyproject maps `serve = "ui.cli:add_parser"` in repo_rag.commands; the core CLI loads it."""
    import repo_rag.cli as core

    class EntryPoint:
        name = "serve"

        @staticmethod
        def load():
            from ui.cli import add_parser

            return add_parser

    monkeypatch.setattr(core, "entry_points", lambda group: [EntryPoint()] if group == "repo_rag.commands" else [])
    monkeypatch.setenv("REPO_RAG_SERVE_HOST", "10.1.2.3")
    rc = core.main(["serve", "--repo", str(FIXTURE), "--repo", str(FIXTURE), "--index-dir", str(index_dir)])
    assert rc == 2 and "the same repository is given twice" in capsys.readouterr().err
    rc = core.main(["serve", "--repo", str(FIXTURE), "--index-dir", str(index_dir)])
    assert rc == 2 and "refusing to bind to 10.1.2.3" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    cmd = [
        *serve_command(),
        "--repo",
        str(FIXTURE),
        "--index-dir",
        str(index_dir),
        "--port",
        str(port),
        "--llm",
        "none",
    ]
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
def test_authenticated_api_answers_and_internal_endpoints_are_private(auth_server):
    from gradio_client import Client

    client = Client(auth_server.url, auth=AUTH, verbose=False, download_files=False)
    out = client.predict("Where is password validation done?", "", 5, "none", api_name="/ask")
    assert out["backend"] == "none" and len(out["sources"]) == 5
    assert any(c["path"] == "bookstore/auth.py" and c["verified"] for c in out["citations"])
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/ask"], "chat, source panel, feedback: UI-only, not in the API"
    client.close()


@pytest.mark.slow
def test_load_20_parallel_questions_all_succeed(auth_server):
    from eval.load_test import markdown, run_load

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
        [sys.executable, "-m", "eval.load_test", "--url", auth_server.url, "-n", "4", "--json-out", str(out_json)],
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
