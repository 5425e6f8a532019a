"""Index/search benchmark on real projects: stage times, memory, time-to-lexical, incremental
re-index, search latency and file-level hit@1/hit@5 per channel on the dev question set.

    python -m repo_rag.eval index-bench --projects django,rxjs,cobra --out eval/out/index-bench

Prints a markdown table and writes JSON. Indexing runs in a child process (the real CLI) while
this process polls lexical search, so "lexical search answers after N s" is measured, not inferred.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from repo_rag.config import load_config
from repo_rag.layout import DB_NAME
from repo_rag.repository import Repository

from .projects import PROJECTS, fetch_project

DEVSET = Path(__file__).parent / "data" / "devset.jsonl"
METHODS = {
    "lexical": ("lexical",),
    "dense": ("dense",),
    "fused": ("lexical", "dense", "symbol", "path"),
    "full": ("lexical", "dense", "symbol", "path", "graph"),
}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _index_with_polling(root: Path, index_dir: Path, env: dict[str, str], extra: list[str]) -> dict:
    """Run `repo-rag index` in a child; poll lexical search until it answers; return timings."""
    cmd = [
        sys.executable,
        "-m",
        "repo_rag.cli",
        "index",
        str(root),
        "--index-dir",
        str(index_dir),
        "--json",
        "-q",
        *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_lexical = None
    cfg = load_config(root, overrides={"embed": {"enabled": False}})
    while proc.poll() is None:
        if first_lexical is None and (index_dir / DB_NAME).exists():
            try:
                repo = Repository(root, cfg, index_dir)
                if repo.search("error handling", k=3, channels=("lexical",)).hits:
                    first_lexical = time.perf_counter() - t0
                repo.close()
            except Exception:
                pass
        time.sleep(1.0)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"indexing failed ({proc.returncode}): {err[-2000:]}")
    report = json.loads(out)
    return {"wall_s": wall, "lexical_ready_s": first_lexical, "report": report}


def _touch_one_file(root: Path, index_dir: Path) -> Path:
    """An indexed, non-test source file of a few KB to edit (restored by the caller)."""
    import sqlite3

    con = sqlite3.connect(index_dir / DB_NAME)
    rows = con.execute(
        "SELECT path FROM files WHERE language IN ('python', 'typescript', 'go', 'javascript') "
        "AND size BETWEEN 2000 AND 20000 ORDER BY path"
    ).fetchall()
    con.close()
    for (path,) in rows:
        if "test" not in path:
            return root / path
    raise FileNotFoundError("no source file to modify")


def bench_project(name: str, out: dict, cold_cache: bool, dense_scope: str, repeats: int,
                  reuse_index: Path | None = None) -> dict:
    """Full index (unless ``reuse_index`` names one already built), one-file re-index, quality, latency."""
    project = PROJECTS[name]
    root = fetch_project(project)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    index_dir = reuse_index or work / "index"
    env = dict(os.environ)
    if cold_cache:
        env["REPO_RAG_CACHE_DIR"] = str(work / "cache")
    env["REPO_RAG_INDEX_DENSE_SCOPE"] = dense_scope
    res: dict = {"project": project.key, "root": str(root), "dense_scope": dense_scope, "cold_cache": cold_cache}
    res["full_index"] = None if reuse_index else _index_with_polling(root, index_dir, env, [])
    res["incremental"] = _one_file_reindex(root, index_dir, env)

    os.environ["REPO_RAG_CACHE_DIR"] = env.get("REPO_RAG_CACHE_DIR", os.environ.get("REPO_RAG_CACHE_DIR", ""))
    if not os.environ["REPO_RAG_CACHE_DIR"]:
        del os.environ["REPO_RAG_CACHE_DIR"]
    repo = Repository(root, load_config(root), index_dir)
    questions = [json.loads(line) for line in DEVSET.read_text().splitlines() if line.strip()]
    own = [q for q in questions if q["project"] == project.name]
    res["quality"], res["search_ms"] = _quality_and_latency(repo, own, repeats)
    out[name] = res
    return res


def _one_file_reindex(root: Path, index_dir: Path, env: dict[str, str]) -> dict:
    """Edit one indexed file and time three re-indexes of it, restoring file and index after each:
    the CLI walking the tree, the CLI told the path (``--changed``), and a loaded repository told the
    path (what ``watch`` and ``serve --watch`` do: no walk, no interpreter start, encoder loaded)."""
    target = _touch_one_file(root, index_dir)
    rel = target.relative_to(root).as_posix()
    original = target.read_bytes()
    cmd = [sys.executable, "-m", "repo_rag.cli", "index", str(root), "--index-dir", str(index_dir), "-q"]
    out: dict = {"file": rel}

    def edited(n: int) -> None:
        target.write_bytes(original + f"\n# repo-rag benchmark edit {n}\n".encode())

    try:
        edited(1)
        t0 = time.perf_counter()
        r = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, check=True)
        out["cli_wall_s"], out["report"] = time.perf_counter() - t0, json.loads(r.stdout)
        target.write_bytes(original)
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        edited(2)
        t0 = time.perf_counter()
        r = subprocess.run([*cmd, "--json", "--changed", str(target)], env=env, capture_output=True, text=True,
                           check=True)
        out["cli_changed_wall_s"], out["changed_report"] = time.perf_counter() - t0, json.loads(r.stdout)
        target.write_bytes(original)
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        saved = os.environ.get("REPO_RAG_CACHE_DIR")
        os.environ["REPO_RAG_CACHE_DIR"] = env.get("REPO_RAG_CACHE_DIR", saved or "")
        try:
            repo = Repository(root, load_config(root), index_dir)
            repo.search("warm up the encoder", k=3)
            edited(3)
            t0 = time.perf_counter()
            report = repo.index(changed={rel})
            out["in_process_changed_s"], out["in_process_report"] = time.perf_counter() - t0, asdict(report)
            repo.close()
        finally:
            if saved is None:
                os.environ.pop("REPO_RAG_CACHE_DIR", None)
            else:
                os.environ["REPO_RAG_CACHE_DIR"] = saved
        return out
    finally:
        target.write_bytes(original)
        subprocess.run(cmd, env=env, capture_output=True, check=True)


def _quality_and_latency(repo: Repository, questions: list[dict], repeats: int) -> tuple[dict, dict]:
    """File hit@1/@5 per channel set on the dev questions, and search latency of the full pipeline."""
    repo.search("warm up the model", k=5)
    quality = {}
    latencies: list[float] = []
    for method, channels in METHODS.items():
        h1 = h5 = 0
        for q in questions:
            t0 = time.perf_counter()
            files = [f.path for f in repo.search_files(q["question"], k=5, channels=channels)]
            if method == "full":
                latencies.append((time.perf_counter() - t0) * 1000)
            h1 += bool(files[:1] and files[0] in q["gold_files"])
            h5 += any(f in q["gold_files"] for f in files[:5])
        quality[method] = {
            "hit@1": h1 / max(len(questions), 1),
            "hit@5": h5 / max(len(questions), 1),
            "n": len(questions),
        }
    for _ in range(repeats - 1):
        for q in questions:
            t0 = time.perf_counter()
            repo.search(q["question"], k=10)
            latencies.append((time.perf_counter() - t0) * 1000)
    latency = {
        "p50": _pct(latencies, 0.5),
        "p95": _pct(latencies, 0.95),
        "n": len(latencies),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
    }
    return quality, latency


def _reindex_cell(inc: dict) -> str:
    return " / ".join(f"{inc[k]:.2f}" if k in inc else "-" for k in ("cli_wall_s", "cli_changed_wall_s",
                                                                      "in_process_changed_s"))


def render(results: dict) -> str:
    lines = [
        "| project | files | chunks | dense chunks | discover s | parse+store s | graph s | embed s | total s "
        "| embed chunks/s | peak RSS MB | lexical ready s | 1-file re-index s (CLI walk / CLI --changed / loaded) "
        "| search p50/p95 ms |",
        "|---" * 14 + "|",
    ]
    for r in results.values():
        inc = r["incremental"]
        if r["full_index"] is None:  # --reuse-index: only re-index, latency and quality were measured
            lines.append(f"| {r['project']} | (index reused) |" + " |" * 10 + f" {_reindex_cell(inc)} "
                         f"| {r['search_ms']['p50']:.0f} / {r['search_ms']['p95']:.0f} |")
            continue
        rep = r["full_index"]["report"]
        s = rep["seconds"]
        rate = rep["embedded"] / s["embed"] if s.get("embed") and rep["embedded"] else float("nan")
        lines.append(
            f"| {r['project']} | {rep['files_seen']} | {rep['chunks_total']} | {rep['dense_chunks']} "
            f"| {s.get('discover', 0):.1f} | {s.get('parse', 0) + s.get('store', 0):.1f} "
            f"| {s.get('graph', 0):.1f} "
            f"| {s.get('embed', 0):.1f} | {r['full_index']['wall_s']:.1f} | {rate:.1f} | {rep['peak_rss_mb']:.0f} "
            f"| {r['full_index']['lexical_ready_s'] or float('nan'):.1f} "
            f"| {_reindex_cell(inc)} "
            f"| {r['search_ms']['p50']:.0f} / {r['search_ms']['p95']:.0f} |"
        )
    lines += ["", "| project | method | n | file hit@1 | file hit@5 |", "|---|---|---|---|---|"]
    for r in results.values():
        for method, q in r["quality"].items():
            lines.append(f"| {r['project']} | {method} | {q['n']} | {q['hit@1']:.2f} | {q['hit@5']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m repo_rag.eval index-bench", description=__doc__)
    ap.add_argument("--projects", default="django,rxjs,cobra")
    ap.add_argument("--out", default="eval/out/index-bench")
    ap.add_argument("--warm-cache", action="store_true", help="reuse the user embedding cache (default: cold)")
    ap.add_argument("--dense-scope", default="non-test", choices=["all", "non-test"])
    ap.add_argument("--repeats", type=int, default=3, help="search latency repetitions over the questions")
    ap.add_argument("--reuse-index", default="", help="an index folder this command built before: skip the "
                    "full index, measure one-file re-index, quality and latency (one project)")
    args = ap.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for name in args.projects.split(","):
        bench_project(name.strip(), results, not args.warm_cache, args.dense_scope, args.repeats,
                      Path(args.reuse_index) if args.reuse_index else None)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    table = render(results)
    (out_dir / "results.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
