"""Peak memory and time of a full lexical+graph index on a real project and on an N-times copy of it.

    python -m repo_rag.eval mem-bench --project django --copies 10 --out eval/out/mem-bench

The N-times tree is the project copied into N sibling folders (``copy_00/`` ...), so file count,
chunk count and graph size grow N-fold with realistic content. Indexing runs in a child process
(the real CLI, dense channel off: embedding 10x Django takes hours on a CPU and is not where memory
grows); the child's own report gives peak RSS (the indexer and its parse workers). Prints a
markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .projects import PROJECTS, fetch_project


def _tree(root: Path, copies: int, work: Path) -> Path:
    if copies <= 1:
        return root
    tree = work / f"x{copies}"
    if not tree.exists():
        for i in range(copies):
            shutil.copytree(root, tree / f"copy_{i:02d}", symlinks=True)
    return tree


def _index(tree: Path, index_dir: Path) -> dict:
    env = dict(os.environ, REPO_RAG_EMBED_ENABLED="false")
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "repo_rag.cli", "index", str(tree), "--index-dir", str(index_dir), "--json", "-q"],
        env=env, capture_output=True, text=True, check=True,
    )
    report = json.loads(r.stdout)
    return {"wall_s": time.perf_counter() - t0, "report": report}


def main(argv: list[str] | None = None, prog: str = "python -m repo_rag.eval mem-bench") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", default="django", choices=sorted(PROJECTS))
    ap.add_argument("--copies", default="1,10", help="comma list of tree sizes (1 = the project itself)")
    ap.add_argument("--out", default="eval/out/mem-bench")
    args = ap.parse_args(argv)
    root = fetch_project(PROJECTS[args.project])
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mem-bench-"))
    rows = []
    try:
        for copies in (int(c) for c in args.copies.split(",")):
            tree = _tree(root, copies, work)
            res = _index(tree, work / f"index-x{copies}")
            rep = res["report"]
            rows.append({
                "project": PROJECTS[args.project].key, "copies": copies, "files": rep["files_seen"],
                "chunks": rep["chunks_total"], "graph_nodes": rep["graph_nodes"], "graph_edges": rep["graph_edges"],
                "seconds": rep["seconds"], "wall_s": round(res["wall_s"], 1), "peak_rss_mb": round(rep["peak_rss_mb"]),
                "peak_rss_parse_mb": round(rep.get("peak_rss_parse_mb", 0)),
            })
            (out_dir / "results.json").write_text(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = ["| project | copies | files | chunks | graph nodes / edges | parse+store s | graph s | wall s "
             "| peak RSS after parse+store MB | peak RSS MB |", "|---" * 10 + "|"]
    for r in rows:
        s = r["seconds"]
        lines.append(f"| {r['project']} | {r['copies']} | {r['files']} | {r['chunks']} | {r['graph_nodes']} / "
                     f"{r['graph_edges']} | {s.get('parse', 0):.1f} | {s.get('graph', 0):.1f} | {r['wall_s']} "
                     f"| {r['peak_rss_parse_mb']} | {r['peak_rss_mb']} |")
    table = "\n".join(lines)
    (out_dir / "results.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
