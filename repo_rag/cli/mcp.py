"""`repo-rag mcp --repo PATH [--repo PATH2 ...]`: the repositories as Model Context Protocol tools.

Built on the official ``mcp`` SDK (``mcp.server.mcpserver.MCPServer``); stdio by default, the
streamable HTTP transport on 127.0.0.1 with ``--http``. Tools, each with a schema from its type hints:

* ``list_repos()``: name, root and index status of every served repository;
* ``search(query, k, repo)``: ranked hits with their reasons, and the code of the top hits within a
  token budget (read through the repository's file gate, secrets redacted);
* ``graph(kind, symbol, repo)``: callers, callees or impact from the code graph;
* ``read_code(path, start_line, end_line, repo)``: lines of an indexed file through the same gate as
  the web chat (inside the root, indexed, not secret; redacted);
* ``ask(question, repo)``: the grounded answer on the configured backend (the part assembled from
  the index when ``llm.backend = "none"``, the default).

``repo`` names a served repository by its directory name (``list_repos``). For ``search``, an empty
``repo`` with several served ranks all of them in one list (:class:`repo_rag.workspace.Workspace`);
the other tools take the first repository. Every failure a
caller can cause (unknown repository, no index, a path outside the root, a bad range, an empty
query) comes back as a tool error with a clear message; the server keeps running.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, Literal

from ..errors import RepoRagError
from ..files import FileAccessError
from ..pack import redacted_hit
from ..repository import Repository, repository_names
from ..workspace import Workspace
from .common import CliError, load_cli_config

CODE_BUDGET_CHARS = 6000  # ~1,700 tokens of code for the top hits: what an agent reads first
MAX_K = 50
MAX_READ_LINES = 400
GRAPH_LIMIT = 100

INSTRUCTIONS = (
    "Ranked code search, code-graph queries and grounded answers over the served repositories. Start with "
    "search (plain-English or identifier queries), follow up with graph for callers/callees/impact of a "
    "symbol, and read_code for exact lines. Every location is path:start-end relative to the repository root."
)


class RepoTools:
    """The tool implementations over the served repositories (plain methods, testable without MCP)."""

    def __init__(self, repos: list[Repository]) -> None:
        if not repos:
            raise CliError("serve at least one repository (--repo PATH)")
        self.repos = dict(zip(repository_names(repos), repos, strict=True))

    def pick(self, repo: str | None) -> tuple[str, Repository]:
        if not repo:
            return next(iter(self.repos.items()))
        if repo not in self.repos:
            raise ValueError(f"unknown repository {repo!r}: choose one of {', '.join(self.repos)} (see list_repos)")
        return repo, self.repos[repo]

    def _indexed(self, repo: str | None) -> tuple[str, Repository]:
        name, r = self.pick(repo)
        if not r.is_indexed:
            raise ValueError(f"repository {name!r} has no index yet: run `repo-rag index {r.root}`")
        return name, r

    def list_repos(self) -> list[dict[str, Any]]:
        return [{"repo": k, "root": str(r.root), "indexed": r.is_indexed} for k, r in self.repos.items()]

    def search(self, query: str, k: int = 10, repo: str | None = None) -> dict[str, Any]:
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}")
        if not repo and len(self.repos) > 1:  # every repository, one ranked list
            for name in self.repos:
                self._indexed(name)
            result = Workspace(list(self.repos.values())).search(query, k=k)
        else:
            name, r = self._indexed(repo)
            result = r.search(query, k=k)
            for h in result.hits:
                h.repo = name
        hits, code, budget = [], [], CODE_BUDGET_CHARS
        for h in result.hits:
            try:
                self.repos[h.repo].files.resolve(h.path)
            except FileAccessError:
                continue  # secret, outside the root or not indexed: never shown
            safe = redacted_hit(h)
            hits.append(safe.to_dict())
            if budget > 0 and safe.text:
                text = safe.text[:budget]
                code.append({"location": safe.location, "symbol": safe.symbol, "code": text})
                budget -= len(text)
        return {"query": query, "hits": hits, "code": code, "notes": list(result.notes)}

    def graph(self, kind: Literal["callers", "callees", "impact"], symbol: str,
              repo: str | None = None) -> dict[str, Any]:
        name, r = self._indexed(repo)
        graph = r.graph
        if graph is None:
            raise ValueError(f"repository {name!r} has no code graph yet: run `repo-rag index {r.root}`")
        targets = graph.find(symbol)
        if not targets:
            raise ValueError(f"no symbol or path in {name!r} matches {symbol!r}")
        node = targets[0]
        found = graph.related(kind, node, limit=GRAPH_LIMIT)
        target = graph.record(node)
        return {"repo": name, "kind": kind, "target": target.to_dict(), "other_matches": len(targets) - 1,
                "results": [x.to_dict() for x in found]}

    def read_code(self, path: str, start_line: int = 1, end_line: int | None = None,
                  repo: str | None = None) -> dict[str, Any]:
        name, r = self._indexed(repo)
        end = end_line if end_line is not None else start_line + MAX_READ_LINES - 1
        if start_line < 1 or end < start_line:
            raise ValueError("lines are 1-based and end_line must not be before start_line")
        if end - start_line + 1 > MAX_READ_LINES:
            raise ValueError(f"read at most {MAX_READ_LINES} lines at a time")
        try:
            lines = r.read_lines(path, start_line, end)
        except FileAccessError as exc:
            raise ValueError(f"cannot read {path!r}: {exc}") from exc
        return {"repo": name, "path": path, "start_line": start_line, "end_line": start_line + len(lines) - 1,
                "code": "\n".join(lines)}

    ASK_STEPS = ("routed", "retrieved", "writing", "checked")

    def ask(self, question: str, repo: str | None = None,
            progress: Callable[[int, str], None] = lambda step, message: None) -> dict[str, Any]:
        """Answer from ``repo``; without one (and several served), from the repository whose best hit
        is strongest (``Workspace.route``), named in the result. ``progress(step, message)`` is called
        as the answer moves through :data:`ASK_STEPS` (step 1 to 4)."""
        routed = not repo and len(self.repos) > 1
        if routed:
            indexed = [r for r in self.repos.values() if r.is_indexed]
            if not indexed:
                raise ValueError("no served repository has an index yet: run `repo-rag index PATH`")
            ws = Workspace(indexed)
            repo = next(n for n, r in self.repos.items() if r is ws.repos[ws.route(question)])
        name, r = self._indexed(repo)
        progress(1, f"answering from {name}")
        answer, writing = None, False
        for event in r.ask(question, stream=True):
            if event.kind == "sources":
                progress(2, f"found {len(event.data)} locations")
            elif event.kind == "token" and not writing and event.data.strip():
                writing = True
                progress(3, "writing the answer")
            elif event.kind == "done":
                answer = event.data
        if answer is None:
            raise ValueError("no answer was produced")
        progress(4, f"{len(answer.citations)} citations checked")
        return {"repo": name, "routed": routed, **answer.to_dict()}


def build_server(tools: RepoTools):
    """The ``MCPServer`` with one tool per :class:`RepoTools` method; caller errors become tool errors.

    Long because each tool's description is written here for the model that reads it, beside the
    one-line call it wraps (and ``ask``'s progress bridge from the worker thread to the session).
    """
    try:
        import anyio
        from mcp.server.mcpserver import Context, MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError as exc:
        raise CliError("the MCP server needs the `mcp` package: pip install 'repo-rag[mcp]'") from exc

    server = MCPServer(name="repo-rag", instructions=INSTRUCTIONS)

    def guarded(call):
        try:
            return call()
        except (ValueError, RepoRagError, FileAccessError) as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    def list_repos() -> list[dict[str, Any]]:
        """The served repositories: name (use it as `repo` in other tools), root folder, whether indexed."""
        return tools.list_repos()

    @server.tool()
    def search(query: str, k: int = 10, repo: str | None = None) -> dict[str, Any]:
        """Ranked code search. `query`: a plain-English question or identifiers ("where is password
        validation", "make_password"). Returns hits (path, start_line, end_line, symbol, kind, score,
        reasons) best first, and the code of the top hits within a budget."""
        return guarded(lambda: tools.search(query, k, repo))

    @server.tool()
    def graph(kind: Literal["callers", "callees", "impact"], symbol: str, repo: str | None = None) -> dict[str, Any]:
        """Code graph for a symbol or file: `callers` (who calls it, with the call line), `callees` (what it
        calls) or `impact` (what depends on it). `symbol`: name, dotted or qualified name, or path."""
        return guarded(lambda: tools.graph(kind, symbol, repo))

    @server.tool()
    def read_code(path: str, start_line: int = 1, end_line: int | None = None,
                  repo: str | None = None) -> dict[str, Any]:
        """Exact lines of an indexed file (path relative to the repository root, 1-based inclusive lines,
        at most 400). Secret and non-indexed files and paths outside the repository are refused."""
        return guarded(lambda: tools.read_code(path, start_line, end_line, repo))

    async def ask(question: str, repo: str | None = None, ctx: Context | None = None) -> dict[str, Any]:
        """A grounded answer: the locations that answer the question (with summaries and callers, or the
        graph answer for "what calls X"), plus a model's checked explanation when one is configured.
        Without `repo`, the repository whose code matches the question best answers (named in `repo`).
        Reports progress (routed, retrieved, writing, checked) when the client asks for it."""
        loop = asyncio.get_running_loop()
        sent: list[concurrent.futures.Future] = []

        def report(step: int, message: str) -> None:  # called on the worker thread
            if ctx is not None:
                total = len(RepoTools.ASK_STEPS)
                sent.append(asyncio.run_coroutine_threadsafe(ctx.report_progress(step, total, message), loop))

        try:
            return await anyio.to_thread.run_sync(lambda: guarded(lambda: tools.ask(question, repo, report)))
        finally:  # every progress notification goes out before the result
            await asyncio.gather(*(asyncio.wrap_future(f) for f in sent), return_exceptions=True)

    # annotations as objects: the SDK finds the Context parameter by its type, and `mcp` is imported here
    ask.__annotations__ = {"question": str, "repo": str | None, "ctx": Context | None, "return": dict[str, Any]}
    server.tool()(ask)
    return server


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "mcp",
        help="serve repositories as MCP tools (search, graph, read_code, ask) to coding agents",
        description="Model Context Protocol server over stdio (default) or streamable HTTP on 127.0.0.1.",
    )
    p.add_argument("--repo", action="append", required=True, help="an indexed repository (repeatable)")
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 instead of stdio")
    p.add_argument("--port", type=int, default=8765, help="port for --http (default 8765)")
    p.add_argument("--watch", action="store_true", help="re-index a repository after each burst of saves")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repos = []
    for path in args.repo:
        one = argparse.Namespace(repo=path, config=args.config)
        repos.append(Repository(path, load_cli_config(one)))
    server = build_server(RepoTools(repos))
    repos[0].warm_in_background()  # an embedded model, if configured, loads before the first `ask`
    if args.watch:
        from .watch import watch_in_background

        watch_in_background(repos)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run("stdio")
    return 0
