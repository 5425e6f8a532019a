"""repo-rag beside what a user would pick instead, same files, same questions, same run.

Decision order (``python -m repo_rag.eval retrieval-peers``):

1. the paraphrased questions of the chosen split (default: validation projects only, the ones the
   learned ranker never saw);
2. per project, each method is built from scratch with COLD embedding caches (a fresh temporary
   cache per method), so index times compare work, not cache hits: repo-rag (full index: parse,
   graph, embed), ``bm25s`` over 50-line windows, the window hybrid (bm25s + MiniLM, reciprocal
   rank fusion), LlamaIndex's default ``CodeSplitter`` + ``VectorStoreIndex``; the same MiniLM
   encoder everywhere, so the comparison is about chunking, channels and ranking;
3. every question is asked of every method in-process after its build; file hit@1/@5 and MRR@10
   from the distinct files returned, query latency p50/p95;
4. a Markdown table and JSON under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from repo_rag.config import load_config
from repo_rag.embed import Embedder
from repo_rag.repository import Repository

from .projects import Project, fetch_project
from .questions import Question, load_questions

METHODS = ("repo-rag", "bm25s", "windows-hybrid", "llamaindex")


def _file_rank(files: Sequence[str], gold: Sequence[str]) -> int | None:
    for i, f in enumerate(dict.fromkeys(files), 1):
        if f in gold:
            return i
    return None


def _build(method: str, root: Path, tmp: Path) -> tuple[Callable[[str], list[str]], float, Callable[[], None]]:
    """(search(question) -> files, build seconds, close) for one method over one project."""
    cfg = load_config(None, overrides={"cache_dir": str(tmp / "cache"), "embed": {"enabled": True}})
    repo = Repository.open(root, cfg, tmp / "index")
    t0 = time.perf_counter()
    if method == "repo-rag":
        repo.index(dense=True)
        seconds = time.perf_counter() - t0
        return (lambda q: [f.path for f in repo.search_files(q, k=10)]), seconds, repo.close
    repo.index(dense=False)  # only to list the files repo-rag would index (same files for every peer)
    files = sorted((f.path, f.language) for f in repo.store.files().values())
    repo.close()
    t0 = time.perf_counter()
    embedder = Embedder(cfg.embed, tmp / "peer-embeddings")
    if method == "bm25s":
        from .baseline_bm25s import Bm25sBaseline

        peer = Bm25sBaseline(root, files)
    elif method == "windows-hybrid":
        from .baseline_windows import WindowHybridBaseline

        peer = WindowHybridBaseline(root, files, embedder)
    else:
        from .baseline_llamaindex import LlamaIndexBaseline

        peer = LlamaIndexBaseline(root, files, embedder)
    peer.build()
    return (lambda q: peer.search_files(q, k=10)), time.perf_counter() - t0, lambda: None


def run(questions: Sequence[Question], methods: Sequence[str], log=print) -> list[dict]:
    by_project: dict[str, list[Question]] = {}
    for q in questions:
        by_project.setdefault(q.project, []).append(q)
    rows = []
    for project, qs in sorted(by_project.items()):
        q0 = qs[0]
        root = fetch_project(Project(q0.project, q0.version, q0.source, q0.root))
        for method in methods:
            with tempfile.TemporaryDirectory(prefix="repo-rag-peers-") as tmp:
                search, seconds, close = _build(method, root, Path(tmp))
                search(qs[0].question)  # warm-up (model load), not timed
                ranks, ms = [], []
                for q in qs:
                    t0 = time.perf_counter()
                    files = search(q.question)
                    ms.append((time.perf_counter() - t0) * 1000)
                    ranks.append(_file_rank(files, q.gold_files))
                close()
            row = {"project": project, "language": q0.language, "method": method, "n": len(qs),
                   "index_s": round(seconds, 2), "query_p50_ms": round(statistics.median(ms), 1),
                   "query_p95_ms": round(sorted(ms)[int(0.95 * (len(ms) - 1))], 1), "ranks": ranks}
            rows.append(row)
            log(f"{project:12s} {method:15s} index {seconds:7.1f} s  p50 {row['query_p50_ms']:7.1f} ms  "
                f"hit@1 {sum(r == 1 for r in ranks)}/{len(ranks)}")
    return rows


def render(rows: Sequence[dict]) -> str:
    lines = ["| method | n | file hit@1 | file hit@5 | MRR@10 | index s (sum) | query p50 ms (median of projects) |",
             "|---|---|---|---|---|---|---|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == method]
        ranks = [x for r in rs for x in r["ranks"]]
        n = len(ranks)
        hit1 = sum(x == 1 for x in ranks) / n
        hit5 = sum(x is not None and x <= 5 for x in ranks) / n
        mrr = sum(1 / x for x in ranks if x is not None and x <= 10) / n
        lines.append(f"| {method} | {n} | {hit1:.3f} | {hit5:.3f} | {mrr:.3f} | {sum(r['index_s'] for r in rs):.1f} | "
                     f"{statistics.median(r['query_p50_ms'] for r in rs):.1f} |")
    lines += ["", "| project | method | n | index s | query p50 / p95 ms | hit@1 |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['project']} | {r['method']} | {r['n']} | {r['index_s']} | {r['query_p50_ms']} / "
                     f"{r['query_p95_ms']} | {sum(x == 1 for x in r['ranks'])}/{r['n']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval retrieval-peers") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--split", default="validation", choices=["validation", "train", "all"])
    p.add_argument("--methods", default=",".join(METHODS), help="comma list of %(default)s")
    p.add_argument("--projects", default="", help="comma list of projects (default: every one in the split)")
    p.add_argument("--out", default="eval/out/peers", help="report folder (default: %(default)s)")
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    if unknown := [m for m in methods if m not in METHODS]:
        p.error(f"unknown method(s) {unknown}")
    wanted = {x for x in args.projects.split(",") if x}
    qs = [q for q in load_questions() if (args.split == "all" or q.split == args.split)
          and (not wanted or q.project in wanted)]
    if not qs:
        p.error("no question matches the selection")
    rows = run(qs, methods)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = render(rows)
    (out / "results.md").write_text(text + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(text)
    return 0
