"""Load test for a running `repo-rag serve`: N questions in parallel through its HTTP API.

    python -m repo_rag.eval.load_test --url http://127.0.0.1:7860 -n 20 --backend none
    python -m repo_rag.eval.load_test --url ... -n 20 --json-out eval/out/load.json

Every question goes through the ``/ask`` API endpoint (the same queue as the web chat) with
gradio_client; all are submitted at once, so the server's queue and concurrency limit are what is
measured. Prints a Markdown table (count, failures, p50/p95/max latency, throughput) and writes
JSON. Exits 1 when any request failed. Basic auth is read from ``REPO_RAG_AUTH_USER`` /
``REPO_RAG_AUTH_PASSWORD`` when set. Imports neither ``ui`` nor ``repo_rag``: it only talks HTTP.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_QUESTIONS = (
    "Where is password validation done?",
    "How are passwords hashed?",
    "What calls check_password?",
    "How is a book stored in the repository?",
    "Where are staff-only endpoints defined?",
    "How is the inventory counted?",
    "What does the report module compute?",
    "How is a book validated before saving?",
)


@dataclass
class LoadResult:
    url: str
    n: int
    backend: str
    ok: int = 0
    failed: int = 0
    wall_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def throughput_qps(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict:
        lat = sorted(self.latencies_s)
        return {
            "url": self.url,
            "requests": self.n,
            "backend": self.backend,
            "ok": self.ok,
            "failed": self.failed,
            "p50_s": round(percentile(lat, 50), 3),
            "p95_s": round(percentile(lat, 95), 3),
            "max_s": round(lat[-1], 3) if lat else 0.0,
            "wall_s": round(self.wall_s, 3),
            "throughput_qps": round(self.throughput_qps, 2),
        }

    def to_dict(self) -> dict:
        return {**self.summary(), "latencies_s": [round(x, 4) for x in self.latencies_s], "errors": self.errors}


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def markdown(result: LoadResult) -> str:
    s = result.summary()
    head = "| requests | ok | failed | p50 (s) | p95 (s) | max (s) | wall (s) | throughput (q/s) |"
    row = (
        f"| {s['requests']} | {s['ok']} | {s['failed']} | {s['p50_s']:.3f} | {s['p95_s']:.3f} | {s['max_s']:.3f} "
        f"| {s['wall_s']:.2f} | {s['throughput_qps']:.2f} |"
    )
    return "\n".join([head, "|" + "---|" * 8, row])


def run_load(
    url: str,
    n: int = 20,
    backend: str = "none",
    questions: Sequence[str] = DEFAULT_QUESTIONS,
    repo: str = "",
    k: int = 0,
    timeout_s: float = 300.0,
    auth: tuple[str, str] | None = None,
) -> LoadResult:
    """Submit ``n`` questions at once to ``url``'s ``/ask`` endpoint and time each one."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    client = Client(url, auth=auth, verbose=False, max_workers=max(n, 1), download_files=False)
    result = LoadResult(url=url, n=n, backend=backend)
    lock = threading.Lock()
    jobs = []
    ends: dict[int, float] = {}

    def stamp(i: int):
        def done(_future) -> None:
            ends[i] = time.perf_counter()

        return done

    t0 = time.perf_counter()
    for i in range(n):
        q = questions[i % len(questions)]
        start = time.perf_counter()
        job = client.submit(q, repo, k, backend, api_name="/ask")
        job.add_done_callback(stamp(i))
        jobs.append((i, start, job, q))
    for i, start, job, q in jobs:
        try:
            out = job.result(timeout=timeout_s)
            if not isinstance(out, dict) or not out.get("answer") or out.get("question") != q:
                raise ValueError(f"unexpected response: {str(out)[:200]}")
            latency = ends.get(i, time.perf_counter()) - start
            with lock:
                result.ok += 1
                result.latencies_s.append(latency)
        except Exception as exc:
            with lock:
                result.failed += 1
                result.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    result.wall_s = time.perf_counter() - t0
    client.close()
    return result


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval.load_test") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:7860", help="the running `repo-rag serve`")
    p.add_argument("-n", type=int, default=20, help="parallel questions (default 20)")
    p.add_argument("--backend", default="none", choices=("none", "local", "openai", ""), help="'' = server default")
    p.add_argument("--repo", default="", help="repository key when the server serves several")
    p.add_argument("-k", type=int, default=0, help="top-k (0 = server default)")
    p.add_argument("--question", action="append", help="question(s) to cycle through (default: a built-in set)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each answer")
    p.add_argument("--json-out", help="write the JSON result here")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("-n must be at least 1")
    user, password = os.environ.get("REPO_RAG_AUTH_USER"), os.environ.get("REPO_RAG_AUTH_PASSWORD")
    result = run_load(
        args.url,
        args.n,
        args.backend,
        args.question or DEFAULT_QUESTIONS,
        repo=args.repo,
        k=args.k,
        timeout_s=args.timeout,
        auth=(user, password) if user and password else None,
    )
    print(markdown(result))
    for err in result.errors[:5]:
        print(f"error: {err}", file=sys.stderr)
    data = result.to_dict()
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result.summary()))
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
