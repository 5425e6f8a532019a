"""`repo-rag serve`: the web chat over one or more indexed repositories.

    repo-rag serve --repo . [--repo ../other] [--host 127.0.0.1] [--port 7860] [--index-dir DIR] [--insecure]

Security defaults: binds 127.0.0.1; a non-loopback address is only used when ``--host`` names it
on the command line (a host from the configuration file or ``REPO_RAG_SERVE_HOST`` alone is
refused, so configuration cannot silently expose the server), and only with a login: basic auth
(on when both ``REPO_RAG_AUTH_USER`` and ``REPO_RAG_AUTH_PASSWORD`` are set) or an explicit
``--insecure`` (anyone who can reach the address may read the indexed code).

Registered through the ``repo_rag.commands`` entry point (``serve = "repo_rag.ui.cli:add_parser"``); also
runnable without installation as ``python -m repo_rag.ui.cli serve ...``.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import logging
import os
import socket
import sys
from pathlib import Path

from repo_rag.cli import CliError

AUTH_USER_ENV = "REPO_RAG_AUTH_USER"
AUTH_PASSWORD_ENV = "REPO_RAG_AUTH_PASSWORD"
log = logging.getLogger("repo_rag.ui")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("serve", help="web chat over indexed repositories (Gradio)")
    p.add_argument(
        "--repo", action="append", dest="repos", metavar="PATH",
        help="repository root to serve (repeat for several; default: current directory)",
    )  # fmt: skip
    p.add_argument(
        "--index-dir",
        help="index directory (one repository) or parent of per-repository index directories (several); "
        "default: REPO/.repo-rag",
    )
    p.add_argument("--config", help="TOML configuration file")
    p.add_argument("--host", help="address to bind (default 127.0.0.1; non-loopback only when given here)")
    p.add_argument(
        "--insecure", action="store_true",
        help="allow a non-loopback --host without basic auth (anyone reaching it can read the indexed code)",
    )  # fmt: skip
    p.add_argument("--port", type=int, help="port (default: serve.port, 7860)")
    p.add_argument("--concurrency", type=int, default=4, help="answers computed at once (default 4)")
    p.add_argument("--queue-size", type=int, default=64, help="requests that may wait in the queue (default 64)")
    p.add_argument("--feedback-db", help="feedback database (default: <cache_dir>/feedback.sqlite)")
    p.add_argument("--llm", choices=("local", "openai", "none"), help="default LLM backend in the page")
    p.add_argument("--watch", action="store_true", help="re-index a repository after each burst of saves")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging (may include questions)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def choose_host(cli_host: str | None, config_host: str) -> str:
    """The address to bind: ``--host`` as given; else the configured one, only if loopback."""
    if cli_host:
        return cli_host
    host = config_host or "127.0.0.1"
    if not is_loopback(host):
        raise CliError(
            f"refusing to bind to {host} (from the configuration or REPO_RAG_SERVE_HOST): that would expose "
            f"the server beyond this machine. Pass --host {host} on the command line to do it on purpose "
            f"(and set {AUTH_USER_ENV}/{AUTH_PASSWORD_ENV} for basic auth)."
        )
    return host


def auth_from_env(environ: dict | None = None) -> tuple[str, str] | None:
    env = os.environ if environ is None else environ
    user, password = env.get(AUTH_USER_ENV, ""), env.get(AUTH_PASSWORD_ENV, "")
    if bool(user) != bool(password):
        raise CliError(f"set both {AUTH_USER_ENV} and {AUTH_PASSWORD_ENV} for basic auth, or neither")
    return (user, password) if user else None


def check_exposure(host: str, auth: tuple[str, str] | None, insecure: bool) -> None:
    """Refuse to serve a non-loopback address without a login unless ``--insecure`` says so."""
    if is_loopback(host) or auth is not None:
        return
    if not insecure:
        raise CliError(
            f"refusing to serve on {host} without authentication: anyone who can reach it could read the "
            f"indexed code. Set {AUTH_USER_ENV} and {AUTH_PASSWORD_ENV} for basic auth, or pass --insecure "
            "to serve it without a login on purpose."
        )
    print(
        f"repo-rag: warning: serving on {host} without authentication (--insecure): anyone who can reach it "
        "can read the indexed code",
        file=sys.stderr,
    )


def _index_dirs(repos: list[Path], index_dir: str | None) -> list[Path | None]:
    if not index_dir:
        return [None] * len(repos)
    if len(repos) == 1:
        return [Path(index_dir)]
    base = Path(index_dir)
    return [base / f"{r.name}-{hashlib.sha1(str(r).encode()).hexdigest()[:8]}" for r in repos]


def open_repositories(args: argparse.Namespace):
    from repo_rag.config import ConfigError, load_config
    from repo_rag.repository import Repository

    roots = [Path(p) for p in (args.repos or ["."])]
    for root in roots:
        if not root.is_dir():
            raise CliError(f"repository path does not exist or is not a directory: {root}")
    roots = [r.resolve() for r in roots]
    if len(set(roots)) != len(roots):
        raise CliError("the same repository is given twice")
    repos = []
    for root, idx in zip(roots, _index_dirs(roots, args.index_dir), strict=True):
        overrides = {"llm": {"backend": args.llm}} if getattr(args, "llm", None) else None
        try:
            cfg = load_config(root, args.config, overrides=overrides)
        except ConfigError as exc:
            raise CliError(str(exc)) from exc
        repos.append(Repository(root, cfg, idx))
    return repos


def run(args: argparse.Namespace) -> int:
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported; no telemetry, ever
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Third-party loggers stay at WARNING: request lines and payloads are not logged at INFO.
    for name in ("httpx", "httpcore", "uvicorn.access", "gradio", "urllib3", "faiss", "faiss.loader"):
        logging.getLogger(name).setLevel(logging.WARNING)
    repos = open_repositories(args)
    cfg = repos[0].config
    host = choose_host(args.host, cfg.serve.host)
    port = args.port or cfg.serve.port
    auth = auth_from_env()
    if args.concurrency < 1 or args.queue_size < 1:
        raise CliError("--concurrency and --queue-size must be at least 1")
    check_exposure(host, auth, getattr(args, "insecure", False))
    from repo_rag.feedback import FeedbackStore, default_feedback_path

    from .app import build_app, launch_kwargs

    feedback = FeedbackStore(args.feedback_db or default_feedback_path(cfg))
    app, demo = build_app(repos, feedback, concurrency=args.concurrency, queue_size=args.queue_size)
    for sr in app.served.values():
        state = "indexed" if sr.repo.is_indexed else "NOT indexed (use Re-index in the page)"
        log.info("serving %s (%s), index %s", sr.key, state, sr.repo.index_dir)
    repos[0].warm_in_background()  # the embedded model, if configured, loads while the page does
    if args.watch:
        from repo_rag.cli.watch import watch_in_background

        watch_in_background(repos)
    print(
        f"repo-rag: web chat on http://{host}:{port}" + (" (basic auth)" if auth else ""), file=sys.stderr, flush=True
    )
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="repo-rag: sign in" if auth else None,
        share=False,
        inbrowser=False,
        show_error=False,
        quiet=True,
        ssr_mode=False,
        mcp_server=False,
        **launch_kwargs(),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m repo_rag.ui.cli serve ...`` when the package (and its entry point) is not installed."""
    parser = argparse.ArgumentParser(prog="repo-rag")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"repo-rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
