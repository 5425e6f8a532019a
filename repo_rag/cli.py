"""`repo-rag` command line: index, search, graph, ask, stats; serve and eval come from plugins.

Front-ends that live outside the core package (the Gradio UI in ``ui``, benchmarks in ``eval``)
register their sub-commands through the ``repo_rag.commands`` entry-point group, so the core
never imports them (dependencies point one way: ui/eval -> repo_rag -> indexers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

from .config import ConfigError, load_config
from .errors import RepoRagError

EXIT_USAGE = 2


class CliError(RepoRagError):
    """An error the user can fix; printed as one line, exit code 2."""


def add_common_args(p: argparse.ArgumentParser, repo_positional: bool = False) -> None:
    if repo_positional:
        p.add_argument("repo", help="repository root")
    else:
        p.add_argument("--repo", default=".", help="repository root (default: current directory)")
    p.add_argument("--index-dir", help="index directory (default: one per repository in the user's cache)")
    p.add_argument("--config", help="TOML configuration file")


def load_cli_config(args: argparse.Namespace, overrides: dict | None = None):
    repo = Path(args.repo)
    if not repo.is_dir():
        raise CliError(f"repository path does not exist or is not a directory: {args.repo}")
    try:
        return load_config(repo, getattr(args, "config", None), overrides=overrides)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


def open_repository(args: argparse.Namespace, overrides: dict | None = None):
    """The Repository for the CLI's --repo/--index-dir/--config, with a clear error if missing."""
    from .repository import Repository

    cfg = load_cli_config(args, overrides)
    repo = Repository(args.repo, cfg, getattr(args, "index_dir", None))
    if not repo.is_indexed:
        raise CliError(f"no index for {repo.root}: run `repo-rag index {args.repo}` first")
    return repo


# -- index ------------------------------------------------------------------------------------
def _cmd_index(args: argparse.Namespace) -> int:
    from indexers.discover import format_report

    from .indexer import Indexer

    overrides: dict = {}
    if args.no_dense:
        overrides.setdefault("embed", {})["enabled"] = False
    if args.dense_scope:
        overrides.setdefault("index", {})["dense_scope"] = args.dense_scope
    cfg = load_cli_config(args, overrides)
    indexer = Indexer(args.repo, cfg, args.index_dir)
    if args.dry_run:
        print(format_report(indexer.discover()))
        return 0
    from .progress import IndexProgress

    with IndexProgress(enabled=not args.quiet) as progress:
        report = indexer.run(progress)
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(report), indent=2))
        return 0
    s = report.seconds
    print(
        f"indexed {report.repo}: {report.files_seen} files ({report.files_parsed} parsed, "
        f"{report.files_unchanged} unchanged, {report.files_removed} removed, {report.parse_errors} with parse errors)"
    )
    if report.skipped:
        print(
            "skipped: "
            + ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items(), key=lambda x: -x[1]))
        )
    print(
        f"chunks: {report.chunks_total} ({report.chunks_written} new); dense: {report.dense_chunks} chunks, "
        f"{report.embedded} embedded, {report.embedded_from_cache} from cache; graph: {report.graph_nodes} nodes, "
        f"{report.graph_edges} edges"
    )
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in s.items()) + f"; peak RSS {report.peak_rss_mb:.0f} MB")
    for note in report.notes:
        print(f"note: {note}")
    return 0


# -- search -----------------------------------------------------------------------------------
def _print_hits(result, show_reasons: bool = True) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, box=None, pad_edge=False)
    for col in ("#", "score", "location", "symbol", "why"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(result.hits, 1):
        table.add_row(str(i), f"{h.score:.4f}", h.location, f"{h.symbol} ({h.kind})", "; ".join(h.reasons))
    console = Console()
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


def _cmd_search(args: argparse.Namespace) -> int:
    overrides = {"embed": {"enabled": False}} if args.no_dense else None
    repo = open_repository(args, overrides)
    channels = tuple(args.channels.split(",")) if args.channels else None
    kwargs = {"channels": channels} if channels else {}
    if args.batch:
        source = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
        with source:
            for line in source:
                if not line.strip():
                    continue
                query = json.loads(line)
                if not isinstance(query, str):
                    raise CliError("--batch expects one JSON string per line")
                if args.files:
                    out = [
                        {"path": f.path, "score": round(f.score, 6), "best": f.best.to_dict()}
                        for f in repo.search_files(query, k=args.top_k, **kwargs)
                    ]
                else:
                    out = [h.to_dict() for h in repo.search(query, k=args.top_k, **kwargs).hits]
                print(json.dumps(out), flush=True)
        return 0
    if not args.query:
        raise CliError("give a QUERY or --batch FILE")
    query = " ".join(args.query)
    t0 = time.perf_counter()
    result = repo.search(query, k=args.top_k, **kwargs)
    if args.json:
        print(json.dumps([h.to_dict(with_text=args.with_text) for h in result.hits], indent=2))
    else:
        _print_hits(result)
        print(f"{len(result.hits)} hits in {(time.perf_counter() - t0) * 1000:.0f} ms")
    return 0


def _core_command_modules() -> list:
    from . import cli_ask, cli_graph, cli_stats

    return [cli_graph, cli_ask, cli_stats]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repo-rag", description="Repository-level code search and Q&A, offline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index (or incrementally re-index) a repository")
    add_common_args(p, repo_positional=True)
    p.add_argument("--dry-run", action="store_true", help="list what would be indexed and why files are skipped")
    p.add_argument("--no-dense", action="store_true", help="skip embeddings (lexical + graph only)")
    p.add_argument("--dense-scope", choices=["all", "non-test"], help="which chunks get embeddings")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("search", help="search an indexed repository")
    p.add_argument("query", nargs="*", help="the question or identifiers")
    add_common_args(p)
    p.add_argument("-k", "--top-k", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--with-text", action="store_true", help="include chunk text in --json output")
    p.add_argument(
        "--batch", metavar="FILE", help="JSON Lines of query strings ('-' for stdin); one JSON list per line"
    )
    p.add_argument("--files", action="store_true", help="with --batch: file-level results")
    p.add_argument("--channels", help="comma list of lexical,dense,symbol,path,graph (default: all)")
    p.add_argument("--no-dense", action="store_true", help="do not load embeddings (faster start)")
    p.set_defaults(func=_cmd_search)

    for module in _core_command_modules():
        module.add_parser(sub)

    for ep in entry_points(group="repo_rag.commands"):
        try:
            ep.load()(sub)
        except Exception as exc:
            print(f"warning: command plugin {ep.name!r} failed to load: {exc}", file=sys.stderr)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"repo-rag: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("repo-rag: interrupted (the previous index is intact)", file=sys.stderr)
        return 130
    except RepoRagError as exc:  # every deliberate error: one line for the user, its own exit code
        print(f"repo-rag: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:  # a path the user gave does not exist
        print(f"repo-rag: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
