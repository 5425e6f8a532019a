"""Scale-out parity and cost: the Ray engine and the Qdrant store against the single-process default.

On one repository (default: the werkzeug 3.1.3 sdist, fetched from PyPI into the cache), measured in
this order, each from an empty index and an empty embedding cache of its own (so both engines
really embed):

1. ``local``: the default engine (worker processes, in-process encoder), FAISS search;
2. ``ray``: ``index.engine = "ray"`` on a local Ray cluster (or ``--ray-address``), FAISS search;
3. ``qdrant``: the local engine's index mirrored into Qdrant (embedded in a temporary folder, or
   ``--qdrant-url``) and searched there.

Reported: index stage seconds, the smallest cosine between the two engines' vectors of the same chunk,
whether every chunk (id, path, lines, text) is identical, and for each question of
:data:`WERKZEUG_QUESTIONS` whether the top-5 files equal the default's, plus search p50 per setup.
Prints a table, saves JSON (``--out``).

    python -m repo_rag.eval scale-bench --out eval/out/scale
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from repo_rag.config import load_config
from repo_rag.indexer import Indexer
from repo_rag.repository import Repository
from repo_rag.store import Store

from .projects import Project, fetch_project

WERKZEUG = Project("werkzeug", "3.1.3", "pypi:werkzeug==3.1.3", "")
# Plain-English questions about werkzeug, for comparing engines and stores (not for accuracy): they
# name no file and no symbol.
WERKZEUG_QUESTIONS = [
    "where are cookies parsed from a request header",
    "how does the development server restart when source files change",
    "where is a URL rule matched against the request path",
    "how are multipart form uploads streamed to temporary files",
    "where are password hashes generated and checked",
    "how does the interactive debugger render a traceback",
    "where is the preferred content type chosen from what the client accepts",
    "how are HTTP range requests answered with partial content",
    "where is a response compressed or its length computed before sending",
    "how are proxy headers trusted to fix the client address",
]


def _vectors_by_chunk(index_dir: Path) -> dict[tuple, np.ndarray]:
    store = Store(index_dir / "index.sqlite")
    rows = store.con.execute("SELECT c.id, c.path, c.start_line, c.text, v.vec FROM vectors v "
                             "JOIN chunks c ON c.id = v.chunk_id")
    out = {tuple(r[:4]): np.frombuffer(r[4], dtype="<f4") for r in rows}
    store.close()
    return out


def _search(repo: Repository, questions: list[str]) -> tuple[list[list[str]], float]:
    tops, times = [], []
    repo.search_files(questions[0], k=5)  # loads the index: not part of a query's time
    for q in questions:
        t0 = time.perf_counter()
        tops.append([f.path for f in repo.search_files(q, k=5)])
        times.append((time.perf_counter() - t0) * 1000)
    return tops, statistics.median(times)


def run(root: Path, work: Path, ray_address: str, qdrant_url: str) -> dict:
    """The three setups of the module docstring, in order, then their comparison."""
    base = load_config(root)
    rows: dict[str, dict] = {}
    tops: dict[str, list[list[str]]] = {}
    for name in ("local", "ray"):
        cfg = replace(base, cache_dir=str(work / f"cache-{name}"),
                      index=replace(base.index, engine=name, ray_address=ray_address if name == "ray" else ""))
        t0 = time.perf_counter()
        report = Indexer(root, cfg, work / name).run()
        wall = time.perf_counter() - t0
        repo = Repository(root, cfg, work / name)
        tops[name], p50 = _search(repo, WERKZEUG_QUESTIONS)
        repo.close()
        rows[name] = {"wall_s": round(wall, 1), "stages_s": {k: round(v, 2) for k, v in report.seconds.items()},
                      "chunks": report.chunks_total, "embedded": report.embedded, "search_p50_ms": round(p50, 1)}
    a, b = _vectors_by_chunk(work / "local"), _vectors_by_chunk(work / "ray")
    rows["ray"]["same_chunks"] = set(a) == set(b)
    rows["ray"]["min_cosine_vs_local"] = round(min(float(a[k] @ b[k]) for k in a.keys() & b.keys()), 6)

    vectors = replace(base.vectors, store="qdrant", qdrant_url=qdrant_url,
                      qdrant_path="" if qdrant_url else str(work / "qdrant"))
    qcfg = replace(base, cache_dir=str(work / "cache-local"), vectors=vectors)
    t0 = time.perf_counter()
    report = Indexer(root, qcfg, work / "local").run()  # nothing to parse or embed: the mirror is the work
    wall = time.perf_counter() - t0
    repo = Repository(root, qcfg, work / "local")
    tops["qdrant"], p50 = _search(repo, WERKZEUG_QUESTIONS)
    repo.close()
    rows["qdrant"] = {"wall_s": round(wall, 1), "stages_s": {k: round(v, 2) for k, v in report.seconds.items()},
                      "mirrored": report.vectors_mirrored, "search_p50_ms": round(p50, 1),
                      "where": qdrant_url or "embedded"}
    for name in ("ray", "qdrant"):
        same = [t == d for t, d in zip(tops[name], tops["local"], strict=True)]
        rows[name]["top5_files_equal"] = f"{sum(same)}/{len(same)}"
    return {"repo": str(root), "questions": WERKZEUG_QUESTIONS, "top5": tops, "setups": rows}


def main(argv: list[str] | None = None, prog: str = "python -m repo_rag.eval scale-bench") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", help="repository root (default: the werkzeug 3.1.3 sdist)")
    ap.add_argument("--ray-address", default="", help="Ray cluster to join (default: a local one)")
    ap.add_argument("--qdrant-url", default="", help="Qdrant server (default: embedded in a temporary folder)")
    ap.add_argument("--out", default="eval/out/scale", help="folder for the JSON result")
    args = ap.parse_args(argv)
    root = Path(args.repo) if args.repo else fetch_project(WERKZEUG)
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        result = run(root.resolve(), Path(tmp), args.ray_address, args.qdrant_url)
    print(f"{'setup':8} {'wall s':>7} {'parse s':>8} {'embed s':>8} {'mirror s':>9} {'search p50 ms':>14} "
          f"{'top-5 = local':>14}  notes")
    for name, row in result["setups"].items():
        st = row["stages_s"]
        note = ""
        if name == "ray":
            note = f"same chunks {row['same_chunks']}, min cosine {row['min_cosine_vs_local']}"
        elif name == "qdrant":
            note = f"{row['where']}, {row['mirrored']}"
        print(f"{name:8} {row['wall_s']:>7} {st.get('parse', 0):>8.1f} {st.get('embed', 0):>8.1f} "
              f"{st.get('mirror', 0):>9.1f} {row['search_p50_ms']:>14} {row.get('top5_files_equal', '-'):>14}  {note}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'scale.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

