"""`repo-rag index REPO`: build or incrementally update a repository's index, and report on it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from repo_rag.indexers.discover import format_report

from ..indexer import Indexer
from ..progress import IndexProgress
from .common import CliError, add_common_args, load_cli_config


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("index", help="index (or incrementally re-index) a repository")
    add_common_args(p, repo_positional=True)
    p.add_argument("--dry-run", action="store_true", help="list what would be indexed and why files are skipped")
    p.add_argument("--no-dense", action="store_true", help="skip embeddings (lexical + graph only)")
    p.add_argument("--dense-scope", choices=["all", "non-test"], help="which chunks get embeddings")
    p.add_argument("--changed", nargs="+", metavar="PATH",
                   help="only these paths changed (e.g. `git diff --name-only`): classify them instead of walking "
                        "the whole tree; an ignore file or directory among them still walks everything")
    p.add_argument("--walk", action="store_true",
                   help="walk the whole tree even where git could say what changed since the last run")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _changed_paths(indexer: Indexer, paths: list[str]) -> set[str]:
    """Repo-relative POSIX paths; a path outside the repository is an error, not ignored."""
    out = set()
    for raw in paths:
        absolute = os.path.abspath(raw)  # the last component is not resolved: a changed symlink is itself
        path = Path(os.path.realpath(os.path.dirname(absolute))) / os.path.basename(absolute)
        if not path.is_relative_to(indexer.repo):
            raise CliError(f"--changed path is outside the repository {indexer.repo}: {raw}")
        if path != indexer.repo:
            out.add(path.relative_to(indexer.repo).as_posix())
    return out


def run(args: argparse.Namespace) -> int:
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
    changed = _changed_paths(indexer, args.changed) if args.changed else None
    with IndexProgress(enabled=not args.quiet) as progress:
        report = indexer.run(progress, changed=changed, walk=args.walk)
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
