"""`repo-rag eval ...` (plugin of the core CLI) and `python -m repo_rag.eval ...`: benchmark sub-commands.

Each benchmark is a module with ``main(argv) -> int`` (optionally ``main(argv, prog=...)``, so its
usage line names the command it was reached by) that owns its own argument parser; this module
only dispatches, so a benchmark is added with one entry in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EvalCommand:
    module: str  # imported on use, so `repo-rag --help` never pays for matplotlib or llama-index
    help: str


_PKG = __package__ or "repo_rag.eval"

COMMANDS: dict[str, EvalCommand] = {
    "swebench": EvalCommand(_PKG + ".swebench", "SWE-bench Lite file localisation: repo-rag channels vs baselines"),
    "index-bench": EvalCommand(_PKG + ".bench_index", "index stages, memory, incremental and search latency/quality"),
    "mem-bench": EvalCommand(_PKG + ".bench_memory", "peak memory of indexing a project and an N-times copy of it"),
    "embed-bench": EvalCommand(_PKG + ".bench_embed", "embedding backends: throughput and fidelity"),
    "answers": EvalCommand(_PKG + ".answers", "answer quality and latency per LLM backend"),
    "watch-bench": EvalCommand(_PKG + ".bench_watch", "index freshness under repo-rag watch: save to searchable"),
    "million-bench": EvalCommand(_PKG + ".bench_million", "1M chunks: FAISS exact vs IVF/HNSW, FTS5 latency"),
    "scale-bench": EvalCommand(_PKG + ".bench_scale", "Ray engine and Qdrant store against the default: parity, cost"),
    "bench-llm": EvalCommand(_PKG + ".bench_llm", "embedded-model speed: prompt, generation, KV prefix cache"),
    "questions": EvalCommand(_PKG + ".questions", "paraphrased questions: list, check for leaked names"),
    "mined": EvalCommand(_PKG + ".mined", "mined queries: docstring sentence -> symbol pairs, docs masked"),
    "reports": EvalCommand(_PKG + ".reports", "issue-like reports: a test's name and body -> the symbol it tests"),
    "retrieval-data": EvalCommand(_PKG + ".retrieval_data", "index the retrieval dev sets, dump candidate features"),
    "train-ranker": EvalCommand(_PKG + ".train_ranker", "train the learned ranker, judge it on validation"),
    "retrieval-peers": EvalCommand(_PKG + ".retrieval_peers", "repo-rag vs bm25s, window hybrid, LlamaIndex"),
    "embed-data": EvalCommand(_PKG + ".embed_data", "embedder training pairs from train projects (docs masked)"),
    "train-embedder": EvalCommand(_PKG + ".train_embedder", "fine-tune the packaged MiniLM on code, export int8 ONNX"),
    "embedder-eval": EvalCommand(_PKG + ".embedder_eval", "dense channel alone per embedder on the validation sets"),
    "load": EvalCommand(_PKG + ".load_test", "parallel-question load test against a running repo-rag serve"),
}


def _dispatch(name: str, argv: Sequence[str], prog: str) -> int:
    main = importlib.import_module(COMMANDS[name].module).main
    if "prog" in inspect.signature(main).parameters:
        return int(main(list(argv), prog=prog) or 0)
    return int(main(list(argv)) or 0)


def _add_benchmarks(parser: argparse.ArgumentParser, prog: str) -> None:
    sub = parser.add_subparsers(dest="eval_command", required=True, metavar="BENCHMARK")
    for name, cmd in COMMANDS.items():
        # No option parsing here: every argument goes to the benchmark's own parser.
        s = sub.add_parser(name, help=cmd.help, add_help=False, prefix_chars="\x00")
        s.add_argument("argv", nargs=argparse.REMAINDER)
        s.set_defaults(func=lambda args, name=name: _dispatch(name, args.argv, f"{prog} {name}"))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``eval`` command to `repo-rag` (entry point ``repo_rag.commands: eval``)."""
    p = subparsers.add_parser("eval", help="benchmarks (SWE-bench Lite localisation, ...)",
                              description="Run a benchmark; `<benchmark> --help` lists its options.")
    _add_benchmarks(p, "repo-rag eval")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m repo_rag.eval BENCHMARK [options]`."""
    parser = argparse.ArgumentParser(prog="python -m repo_rag.eval", description="repo-rag benchmarks; "
                                     "`<benchmark> --help` lists a benchmark's options.")
    _add_benchmarks(parser, "python -m repo_rag.eval")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.func(args) or 0)
