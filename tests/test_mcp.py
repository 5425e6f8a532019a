"""`repo-rag mcp`: the MCP server driven over stdio by the official SDK's own client."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import anyio
import pytest
from conftest import POLYGLOT

from repo_rag.config import load_config
from repo_rag.repository import Repository

pytest.importorskip("mcp", reason="needs the MCP SDK: pip install 'repo-rag[mcp]'")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("mcp") / "bookshop"
    shutil.copytree(POLYGLOT, root)
    (root / ".env").write_text("API_KEY=sk-live-PLANTED-mcp-0000\n", encoding="utf-8")
    cache = tmp_path_factory.mktemp("mcp-cache")
    env = dict(os.environ, REPO_RAG_CACHE_DIR=str(cache), REPO_RAG_EMBED_ENABLED="false")
    cfg = load_config(root, environ=env)
    Repository(root, cfg).index(dense=False)
    return root, env


def _call_all(root: Path, env: dict, calls: list[tuple[str, dict]],
              progress: list | None = None) -> tuple[list[str], list]:
    """Start the server as a subprocess, list its tools and make ``calls`` through the SDK client
    (the progress notifications of `ask` calls are appended to ``progress``)."""
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "repo_rag.cli", "mcp", "--repo", str(root)],
                                   env=env)

    async def session() -> tuple[list[str], list]:
        async with Client(params, read_timeout_seconds=120) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            async def record(done: float, total: float | None, message: str | None) -> None:
                if progress is not None:
                    progress.append((done, total, message))

            results = [await client.call_tool(name, args, progress_callback=record if name == "ask" else None)
                       for name, args in calls]
            return tools, results

    return anyio.run(session)


def _data(result) -> dict | list:
    if result.structured_content is not None:
        data = result.structured_content
        return data.get("result", data) if isinstance(data, dict) and set(data) == {"result"} else data
    return json.loads(result.content[0].text)


def test_mcp_server_over_stdio(served: tuple[Path, dict]) -> None:
    root, env = served
    progress: list = []
    tools, results = _call_all(root, env, [
        ("list_repos", {}),
        ("search", {"query": "where is password validation", "k": 5}),
        ("graph", {"kind": "callers", "symbol": "hash_password"}),
        ("read_code", {"path": "bookstore/auth.py", "start_line": 16, "end_line": 20}),
        ("read_code", {"path": "../../../../etc/passwd", "start_line": 1, "end_line": 3}),
        ("read_code", {"path": ".env"}),
        ("ask", {"question": "what calls hash_password?"}),
        ("search", {"query": "password", "k": 0}),
        ("search", {"query": "password", "repo": "nope"}),
    ], progress)
    assert set(tools) == {"list_repos", "search", "graph", "read_code", "ask"}
    listed, search, callers, code, escape, secret, ask, bad_k, bad_repo = results

    assert _data(listed) == [{"repo": "bookshop", "root": str(root.resolve()), "indexed": True}]

    found = _data(search)
    assert not search.is_error and found["hits"][0]["path"] == "bookstore/auth.py"
    assert all(h["repo"] == "bookshop" and h["reasons"] for h in found["hits"])
    assert found["code"] and found["code"][0]["location"] == f"{found['hits'][0]['path']}:" \
        f"{found['hits'][0]['start_line']}-{found['hits'][0]['end_line']}"

    graph = _data(callers)
    assert graph["target"]["qualname"] == "hash_password"
    assert {r["qualname"] for r in graph["results"]} == {"check_password", "AdminBookView.change_password"}

    lines = _data(code)
    real = (root / "bookstore" / "auth.py").read_text(encoding="utf-8").splitlines()[15:20]
    assert lines["code"] == "\n".join(real) and lines["end_line"] == 20

    for refused in (escape, secret):  # tool errors with a message, and the server keeps answering
        assert refused.is_error, refused
        assert "cannot read" in refused.content[0].text
    assert "sk-live-PLANTED" not in json.dumps([r.model_dump(mode="json") for r in results])

    answer = _data(ask)
    assert answer["grounded"]["kind"] == "callers" and answer["backend"] == "none"
    assert {it["symbol"] for it in answer["grounded"]["items"]} == {"check_password", "AdminBookView.change_password"}
    # the long call reports its steps, in order, before its result
    assert [(done, total) for done, total, _ in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)], progress
    assert progress[0][2] == "answering from bookshop" and progress[-1][2].endswith("citations checked")

    assert bad_k.is_error and "k must be between" in bad_k.content[0].text
    assert bad_repo.is_error and "unknown repository 'nope'" in bad_repo.content[0].text


def test_mcp_server_over_streamable_http_on_loopback(served: tuple[Path, dict]) -> None:
    import socket
    import subprocess
    import time

    from mcp.client.client import Client

    root, env = served
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "repo_rag.cli", "mcp", "--repo", str(root), "--http", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.3)

        async def session():
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=60) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                return tools, await client.call_tool("search", {"query": "where is password validation", "k": 3})

        tools, found = anyio.run(session)
        assert "search" in tools and not found.is_error
        assert _data(found)["hits"][0]["path"] == "bookstore/auth.py"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_mcp_server_with_watch_serves_a_saved_edit(tmp_path: Path, served: tuple[Path, dict]) -> None:
    """`--watch`: an edit saved while the server runs becomes searchable through the same session."""
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters

    _, env = served
    root = tmp_path / "live"
    shutil.copytree(POLYGLOT / "bookstore", root / "bookstore")
    Repository(root, load_config(root, environ=env)).index(dense=False)
    params = StdioServerParameters(command=sys.executable, env=env,
                                   args=["-m", "repo_rag.cli", "mcp", "--repo", str(root), "--watch"])

    async def session() -> list[str]:
        async with Client(params, read_timeout_seconds=120) as client:
            await client.list_tools()
            await anyio.sleep(1.0)  # the watcher is listening
            auth = root / "bookstore" / "auth.py"
            auth.write_text(auth.read_text(encoding="utf-8") + "\n\ndef rotate_pepper_keys():\n    return 42\n",
                            encoding="utf-8")
            for _ in range(150):
                found = _data(await client.call_tool("search", {"query": "rotate_pepper_keys", "k": 3}))
                symbols = [h["symbol"] for h in found["hits"]]
                if "rotate_pepper_keys" in symbols:
                    return symbols
                await anyio.sleep(0.2)
            return symbols

    assert "rotate_pepper_keys" in anyio.run(session)
