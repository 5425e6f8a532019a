"""Index freshness under `repo-rag watch`: seconds from a saved edit to the new symbol being searchable.

Runs the watcher on an indexed repository, appends a uniquely named function to ``--file`` (then
restores the file), and polls a second reader of the index until ``search`` finds the new name.
Reports each trial and the median, prints a table and saves JSON.

    python -m repo_rag.eval watch-bench --repo <Django 4.2.16> --index-dir <its index> \\
        --file django/contrib/auth/password_validation.py --trials 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

from repo_rag.cli.watch import watch_repositories
from repo_rag.config import load_config
from repo_rag.repository import Repository


def trial(root: Path, index_dir: Path | None, rel: str, n: int, timeout_s: float) -> float | None:
    cfg = load_config(root)
    reader = Repository(root, cfg, index_dir)
    target = root / rel
    original = target.read_bytes()
    name = f"freshness_probe_{n}_{int(time.time())}"
    try:
        t0 = time.perf_counter()
        target.write_bytes(original + f"\n\ndef {name}():\n    return {n}\n".encode())
        while time.perf_counter() - t0 < timeout_s:
            if any(h.symbol == name for h in reader.search(name, k=5).hits):
                return time.perf_counter() - t0
            time.sleep(0.05)
        return None
    finally:
        target.write_bytes(original)
        reader.close()


def main(argv: list[str] | None = None, prog: str = "python -m repo_rag.eval watch-bench") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", required=True)
    p.add_argument("--index-dir")
    p.add_argument("--file", required=True, help="repository-relative file to edit (restored afterwards)")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--out", default="eval/out/watch-bench")
    args = p.parse_args(argv)
    root = Path(args.repo).resolve()
    index_dir = Path(args.index_dir) if args.index_dir else None
    watched = Repository(root, load_config(root), index_dir)
    watched.index()  # current before the clock starts
    stop = threading.Event()
    thread = threading.Thread(target=watch_repositories, args=([watched],), kwargs={"stop_event": stop},
                              daemon=True)
    thread.start()
    time.sleep(1.0)
    seconds = []
    try:
        for n in range(args.trials):
            seconds.append(trial(root, index_dir, args.file, n, args.timeout))
            time.sleep(2.5)  # the restore is itself a change: let its run finish
    finally:
        stop.set()
        thread.join(timeout=30)
    done = [s for s in seconds if s is not None]
    median = round(statistics.median(done), 2) if done else None
    print("| trial | seconds to searchable |\n|---|---|")
    for i, s in enumerate(seconds, 1):
        print(f"| {i} | {'timeout' if s is None else f'{s:.2f}'} |")
    print(f"\nmedian {median} s over {len(done)} of {len(seconds)} trials")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "watch-bench.json").write_text(json.dumps({"repo": str(root), "file": args.file, "seconds": seconds,
                                                      "median_s": median, "argv": sys.argv}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
