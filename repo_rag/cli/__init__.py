"""`repo-rag` command line: index, search, graph, ask, mcp, watch, stats; serve and eval come from plugins.

One module per command (``add_parser(subparsers)`` + ``run(args) -> exit code``) and this module
for dispatch and the one place errors become exit codes: every deliberate error derives from
``repo_rag.errors.RepoRagError`` and carries its ``exit_code``; anything else is a bug and keeps
its traceback. Front-ends that live outside the core (the Gradio UI, the benchmarks) register
their sub-commands through the ``repo_rag.commands`` entry-point group, so the core never imports
them (dependencies point one way: faces -> core -> indexers).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib.metadata import entry_points

from ..errors import EXIT_ERROR, RepoRagError
from . import ask, graph, index, mcp, search, stats, watch
from .common import CliError

__all__ = ["CliError", "build_parser", "main"]

COMMANDS = (index, search, graph, ask, mcp, watch, stats)
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repo-rag", description="Repository-level code search and Q&A, offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    for ep in entry_points(group="repo_rag.commands"):
        try:
            ep.load()(sub)
        except Exception as exc:
            print(f"warning: command plugin {ep.name!r} failed to load: {exc}", file=sys.stderr)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"repo-rag: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("repo-rag: interrupted (the previous index is intact)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RepoRagError as exc:  # every deliberate error: one line for the user, its own exit code
        print(f"repo-rag: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:  # a path the user gave does not exist
        print(f"repo-rag: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
