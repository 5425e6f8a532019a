"""`repo-rag index REPO...`: build or incrementally update repositories' indexes, and report on each.

``--engine ray`` parses and embeds on a Ray cluster (``--ray-address``, else a local one); several
repositories in one run share that cluster's encoder pool (repo_rag.ray_engine).
"""

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
    add_common_args(p, repo_positional=True, several=True)
    p.add_argument("--dry-run", action="store_true", help="list what would be indexed and why files are skipped")
    p.add_argument("--no-dense", action="store_true", help="skip embeddings (lexical + graph only)")
    p.add_argument("--dense-scope", choices=["all", "non-test"], help="which chunks get embeddings")
    p.add_argument("--changed", nargs="+", metavar="PATH",
                   help="only these paths changed (e.g. `git diff --name-only`): classify them instead of walking "
                        "the whole tree; an ignore file or directory among them still walks everything")
    p.add_argument("--walk", action="store_true",
                   help="walk the whole tree even where git could say what changed since the last run")
    p.add_argument("--engine", choices=["local", "ray"],
                   help="where parsing and embedding run: this machine's processes (default) or a Ray cluster")
    p.add_argument("--ray-address", help="Ray cluster to join (e.g. ray://head:10001); default: start a local one")
    p.add_argument("--json", action="store_true", help="print the report as JSON (one object per repository)")
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
    if args.engine:
        overrides.setdefault("index", {})["engine"] = args.engine
    if args.ray_address:
        overrides.setdefault("index", {})["ray_address"] = args.ray_address
    repos = args.repo
    if len(repos) > 1 and (args.index_dir or args.changed):
        raise CliError("--index-dir and --changed take one repository")
    configs = [load_cli_config(argparse.Namespace(**{**vars(args), "repo": r}), overrides) for r in repos]
    if args.dry_run:
        for r, cfg in zip(repos, configs, strict=True):
            print(format_report(Indexer(r, cfg, args.index_dir).discover()))
        return 0
    changed = _changed_paths(Indexer(repos[0], configs[0], args.index_dir), args.changed) if args.changed else None
    engine = _shared_engine(configs)
    reports = []
    try:
        for r, cfg in zip(repos, configs, strict=True):
            indexer = Indexer(r, cfg, args.index_dir, engine=engine if cfg.index.engine == "ray" else None)
            with IndexProgress(enabled=not args.quiet) as progress:
                reports.append(indexer.run(progress, changed=changed, walk=args.walk))
    finally:
        if engine is not None:
            engine.close()
    if args.json:
        from dataclasses import asdict

        out = [asdict(r) for r in reports]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return 0
    for report in reports:
        _print_report(report)
    return 0


def _shared_engine(configs: list):
    """One Ray engine for every repository of the run that uses it (they share its encoder pool)."""
    ray_configs = [c for c in configs if c.index.engine == "ray"]
    if not ray_configs:
        return None
    addresses = {c.index.ray_address for c in ray_configs}
    if len(addresses) > 1:
        raise CliError(f"one run joins one Ray cluster; the repositories' configs name {sorted(addresses)}")
    from ..ray_engine import RayEngine

    return RayEngine(addresses.pop())


def _print_report(report) -> None:
    s = report.seconds
    print(
        f"indexed {report.repo}: {report.files_seen} files ({report.files_parsed} parsed, "
        f"{report.files_unchanged} unchanged, {report.files_removed} removed, {report.parse_errors} with parse errors)"
        + (" on ray" if report.engine == "ray" else "")
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
    if report.vectors_mirrored:
        print(f"vector store: {report.vectors_mirrored['upserted']} upserted, "
              f"{report.vectors_mirrored['deleted']} deleted")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in s.items()) + f"; peak RSS {report.peak_rss_mb:.0f} MB")
    for note in report.notes:
        print(f"note: {note}")
