"""What every `repo-rag` command shares: the repository options, config loading, opening the index."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError, load_config
from ..errors import RepoRagError


class CliError(RepoRagError):
    """An error the user can fix; printed as one line, exit code 2."""


def add_common_args(p: argparse.ArgumentParser, repo_positional: bool = False, several: bool = False) -> None:
    if repo_positional and several:
        p.add_argument("repo", nargs="+", help="repository root(s)")
    elif repo_positional:
        p.add_argument("repo", help="repository root")
    elif several:
        p.add_argument("--repo", action="append", help="repository root, repeatable: several are searched as one "
                       "ranked list (default: current directory)")
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
    from ..repository import Repository  # here, not at the top: `repo-rag index` never pays for it

    cfg = load_cli_config(args, overrides)
    repo = Repository(args.repo, cfg, getattr(args, "index_dir", None))
    if not repo.is_indexed:
        raise CliError(f"no index for {repo.root}: run `repo-rag index {args.repo}` first")
    return repo


def open_workspace(args: argparse.Namespace, overrides: dict | None = None):
    """Several ``--repo``: a :class:`~repo_rag.workspace.Workspace` (one ranked list, hits name their repo)."""
    from ..workspace import Workspace

    if args.index_dir or getattr(args, "batch", None):
        raise CliError("--index-dir and --batch take one --repo")
    return Workspace([open_repository(argparse.Namespace(**{**vars(args), "repo": root}), overrides)
                      for root in args.repo])
