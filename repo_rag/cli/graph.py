"""`repo-rag graph callers|callees|impact SYMBOL_OR_PATH` (see repo_rag.cli_graph until it moves here)."""

from ..cli_graph import add_parser, run

__all__ = ["add_parser", "run"]
