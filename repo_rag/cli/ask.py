"""`repo-rag ask`: a grounded answer streamed to the terminal, then citation checks and Sources.

With several ``--repo``, the question is answered from the repository whose code matches it best
(:meth:`repo_rag.workspace.Workspace.route`); stderr and ``--json`` name it.

Exit codes: 0 answered (also when the model was unreachable and a retrieval-only answer was given,
with a warning on stderr), 2 usage/index errors, 3 model unreachable with ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..config import LLM_BACKENDS as BACKENDS
from ..errors import EXIT_UNAVAILABLE
from .common import CliError, add_common_args, open_repository, open_workspace

EXIT_LLM_UNAVAILABLE = EXIT_UNAVAILABLE  # raised as LLMUnavailableError, mapped in repo_rag.cli


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("ask", help="answer a question from the repository's code, with verified citations")
    p.add_argument("question", nargs="+", help="the question")
    add_common_args(p, several=True)
    p.add_argument("--json", action="store_true", help="print the answer, citations, sources and timings as JSON")
    p.add_argument("--no-stream", action="store_true", help="print the answer when complete instead of streaming")
    p.add_argument("--llm", choices=BACKENDS, help="model backend (default: llm.backend from the configuration)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (vLLM)")
    p.add_argument("--model", help="model name on the endpoint (default: the first one it lists); GGUF path for local")
    p.add_argument("-k", "--top-k", type=int, help="how many hits to retrieve (default: search.top_k)")
    p.add_argument("--timeout", type=float, help="seconds to wait for the endpoint (default: llm.timeout_s)")
    p.add_argument(
        "--strict", action="store_true", help="exit 3 instead of a retrieval-only answer when the model is unavailable"
    )
    p.add_argument("--no-dense", action="store_true", help="do not load embeddings (lexical + graph retrieval)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.top_k is not None and args.top_k < 1:
        raise CliError("-k must be at least 1")
    overrides = {"embed": {"enabled": False}} if args.no_dense else None
    question = " ".join(args.question)
    roots = args.repo or ["."]
    routed = None
    if len(roots) > 1:
        workspace = open_workspace(args, overrides)
        routed = workspace.route(question)
        repo = workspace.repos.pop(routed)
        workspace.close()  # the others
        print(f"repo-rag: answering from {routed} (best match of {len(roots)} repositories)", file=sys.stderr,
              flush=True)
    else:
        args.repo = roots[0]
        repo = open_repository(args, overrides)
    live = not (args.json or args.no_stream)
    answer = None
    try:
        events = repo.ask(
            question,
            stream=True,
            k=args.top_k,
            llm=args.llm,
            base_url=args.base_url,
            model=args.model,
            strict=args.strict,
            timeout=args.timeout,
        )
        for event in events:
            if event.kind == "token" and live:
                sys.stdout.write(event.data)
                sys.stdout.flush()
            elif event.kind == "warning":
                print(f"repo-rag: warning: {event.data}", file=sys.stderr, flush=True)
            elif event.kind == "done":
                answer = event.data
    finally:
        repo.close()
    if answer is None:
        raise CliError("no answer was produced")
    if args.json:
        out = answer.to_dict() if routed is None else {"repo": routed, **answer.to_dict()}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    elif live:
        print("\n\n" + answer.footer)
        _print_timings(answer)
    else:
        print(answer.answer)
        _print_timings(answer)
    return 0


def _print_timings(answer) -> None:
    t = answer.timings
    parts = [f"{name.removesuffix('_ms').replace('_', ' ')} {t[name] / 1000:.1f}s" for name in t if t[name] is not None]
    who = f"{answer.backend}" + (f" ({answer.model})" if answer.model else "")
    print(f"[{who}; " + ", ".join(parts) + ("; fallback" if answer.fallback else "") + "]", file=sys.stderr)
