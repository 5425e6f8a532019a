"""`repo-rag search QUERY`: ranked hits with the reasons they were chosen (one line per hit, JSON or JSON Lines)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import time

from .common import CliError, add_common_args, open_repository, open_workspace


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("search", help="search an indexed repository")
    p.add_argument("query", nargs="*", help="the question or identifiers")
    add_common_args(p, several=True)
    p.add_argument("-k", "--top-k", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--with-text", action="store_true", help="include chunk text in --json output")
    p.add_argument(
        "--batch", metavar="FILE", help="JSON Lines of query strings ('-' for stdin); one JSON list per line"
    )
    p.add_argument("--files", action="store_true", help="with --batch: file-level results")
    p.add_argument("--channels", help="comma list of lexical,dense,symbol,path,graph (default: all)")
    p.add_argument("--no-dense", action="store_true", help="do not load embeddings (faster start)")
    p.set_defaults(func=run)


def format_hits(result, width: int | None = None) -> str:
    """Hits ripgrep-style: ``N. path:start-end  symbol (kind)  score`` on one line, never broken, so the
    location can be copied or clicked; the reasons follow on indented lines wrapped to ``width``.

    Plain text on purpose: symbols and reasons come from the repository, and a rich table would both
    fold the location mid-path and read ``[...]`` in them as markup.
    """
    width = width or shutil.get_terminal_size((120, 24)).columns
    lines: list[str] = []
    pad = len(str(len(result.hits)))
    indent = " " * (pad + 2)
    several = len({h.repo for h in result.hits}) > 1
    for i, h in enumerate(result.hits, 1):
        symbol = f"  {h.symbol} ({h.kind})" if h.symbol and h.symbol != "<module>" else f"  ({h.kind})"
        where = f"  [{h.repo}]" if several else ""
        lines.append(f"{i:>{pad}}. {h.location}{symbol}  {h.score:.4f}{where}")
        why = "; ".join(h.reasons)
        if why:
            lines += textwrap.wrap(why, width=max(40, width - len(indent)), initial_indent=indent + "why: ",
                                   subsequent_indent=indent + "     ", break_on_hyphens=False)
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    overrides = {"embed": {"enabled": False}} if args.no_dense else None
    roots = args.repo or ["."]
    if len(roots) > 1:
        repo = open_workspace(args, overrides)
    else:
        args.repo = roots[0]
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
        print(format_hits(result))
        print(f"{len(result.hits)} hits in {(time.perf_counter() - t0) * 1000:.0f} ms")
    return 0
