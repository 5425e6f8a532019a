"""`repo-rag graph callers|callees|impact SYMBOL_OR_PATH`: walk the code graph from the terminal.

Reads only the saved graph (no models, no search index), so it answers in about the time it takes
to load the graph. Exit codes: 0 found, 1 nothing matches the symbol or path, 2 no index.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from ..config import load_config
from ..graph import CodeGraph, Related
from ..indexer import load_current_graph
from ..layout import IndexLayout
from ..store import Store

ACTIONS = ("callers", "callees", "impact")
DEFAULT_DEPTH = {"callers": 1, "callees": 1, "impact": 3}
EXIT_NOT_FOUND = 1
EXIT_NO_INDEX = 2
MAX_TARGETS = 5  # a bare name matching more symbols than this is answered for the first five


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "graph",
        help="callers, callees or impact of a symbol or file, from the code graph",
        description="Walk the static code graph. SYMBOL_OR_PATH may be a name (make_password), a dotted or "
        "qualified name (hashers.make_password, UserManager._create_user), a file path, or path::qualname.",
    )
    p.add_argument("action", choices=ACTIONS, help="callers: who calls it; callees: what it calls; "
                   "impact: what depends on it (calls, imports, inherits, references, reversed)")
    p.add_argument("target", metavar="SYMBOL_OR_PATH")
    p.add_argument("--repo", default=".", help="repository root (default: current directory)")
    p.add_argument("--index-dir", help="index directory (default: one per repository in the user's cache)")
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--depth", type=int, help="how many steps to follow (default: 1; impact: 3)")
    p.add_argument("--limit", type=int, default=200, help="at most this many results per target")
    p.add_argument("--json", action="store_true", help="print a JSON list of records")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Answer one graph query; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    repo = Path(args.repo)
    layout = IndexLayout.for_repo(repo, load_config(repo, getattr(args, "config", None)), args.index_dir)
    graph = None
    if layout.exists and layout.graph.exists():
        layout.check()  # never read an index this tool did not write for this repository
        store = Store(layout.db)
        try:
            graph = load_current_graph(layout, store)
        finally:
            store.close()
    if graph is None:
        print(f"repo-rag: error: no index for {args.repo}: run `repo-rag index {args.repo}` first", file=err)
        return EXIT_NO_INDEX
    depth = args.depth if args.depth is not None else DEFAULT_DEPTH[args.action]
    if depth < 1:
        print("repo-rag: error: --depth must be at least 1", file=err)
        return EXIT_NO_INDEX
    targets = graph.find(args.target)
    if not targets:
        print(f"repo-rag: no symbol or path in the graph matches {args.target!r}", file=err)
        return EXIT_NOT_FOUND
    answers = [(t, query(graph, args.action, t, depth, args.limit)) for t in targets[:MAX_TARGETS]]
    if args.json:
        records = [{"target": t, **r.to_dict()} for t, found in answers for r in found]
        json.dump(records, out, indent=2)
        out.write("\n")
    else:
        for i, (target, found) in enumerate(answers):
            if i:
                out.write("\n")
            out.write(format_table(graph, args.action, target, found))
        if len(targets) > MAX_TARGETS:
            more = len(targets) - MAX_TARGETS
            out.write(f"\n({more} more matches for {args.target!r}; qualify the name)\n")
    return 0


def query(graph: CodeGraph, action: str, node: str, depth: int, limit: int) -> list[Related]:
    return graph.related(action, node, depth=depth, limit=limit)


def format_table(graph: CodeGraph, action: str, target: str, found: list[Related]) -> str:
    """``path:line  qualname  (edge, confidence)`` rows under a header naming the target."""
    data = graph.attrs(target)
    title = data["qualname"] or data["path"]
    lines = [f"{action} of {title} ({data['path']}:{data['start_line']}): {len(found)}"]
    if not found:
        return lines[0] + "\n"
    rows = [(f"{r.path}:{r.line}", "  " * (r.depth - 1) + (r.qualname or "<module>"),
             f"({r.edge}, {r.confidence:.2f})") for r in found]
    width_loc = max(len(r[0]) for r in rows)
    width_name = max(len(r[1]) for r in rows)
    lines += [f"  {loc:<{width_loc}}  {name:<{width_name}}  {edge}" for loc, name, edge in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m repo_rag.cli.graph callers NAME --repo PATH``)."""
    parser = argparse.ArgumentParser(prog="repo-rag")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["graph", *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    sys.exit(main())
