"""Index freshness under `repo-rag watch`: seconds from a saved edit to the new symbol being searchable.

Runs the watcher on an indexed repository, appends a uniquely named function to ``--file`` (then
restores the file), and polls a reader of the index until ``search`` finds the new name. Two readers:

- ``served``: the watched repository object itself, as in ``repo-rag serve --watch`` and
  ``repo-rag mcp --watch`` (the index it has loaded is refreshed after each re-index);
- ``cold``: a new ``Repository`` per poll round, as a second process opening the index (its time
  includes loading the whole index, the code graph and the encoder).

Reports each trial and the median per reader, prints a table and saves JSON.

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

READERS = ("served", "cold")


def trial(watched: Repository, reader: str, rel: str, n: int, timeout_s: float) -> float | None:
    """Seconds from writing the probe function to ``reader`` finding it (None: not within ``timeout_s``)."""
    root = watched.root
    target = root / rel
    original = target.read_bytes()
    name = f"freshness_probe_{reader}_{n}_{int(time.time())}"
    try:
        t0 = time.perf_counter()
        target.write_bytes(original + f"\n\ndef {name}():\n    return {n}\n".encode())
        while time.perf_counter() - t0 < timeout_s:
            if reader == "served":
                found = any(h.symbol == name for h in watched.search(name, k=5).hits)
            else:
                cold = Repository(root, watched.config, watched.index_dir)
                try:
                    found = any(h.symbol == name for h in cold.search(name, k=5).hits)
                finally:
                    cold.close()
            if found:
                return time.perf_counter() - t0
            time.sleep(0.05)
        return None
    finally:
        target.write_bytes(original)


def main(argv: list[str] | None = None, prog: str = "python -m repo_rag.eval watch-bench") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", required=True)
    p.add_argument("--index-dir")
    p.add_argument("--file", required=True, help="repository-relative file to edit (restored afterwards)")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--readers", default=",".join(READERS), help="comma list of %(default)s")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--out", default="eval/out/watch-bench")
    args = p.parse_args(argv)
    readers = [r for r in args.readers.split(",") if r]
    if set(readers) - set(READERS):
        p.error(f"--readers: choose from {', '.join(READERS)}")
    root = Path(args.repo).resolve()
    index_dir = Path(args.index_dir) if args.index_dir else None
    watched = Repository(root, load_config(root), index_dir)
    watched.index()  # current before the clock starts
    watched.search("warm up the encoder and the graph", k=3)
    stop = threading.Event()
    thread = threading.Thread(target=watch_repositories, args=([watched],), kwargs={"stop_event": stop},
                              daemon=True)
    thread.start()
    time.sleep(1.0)
    seconds: dict[str, list[float | None]] = {r: [] for r in readers}
    try:
        for n in range(args.trials):
            for reader in readers:
                seconds[reader].append(trial(watched, reader, args.file, n, args.timeout))
                time.sleep(2.5)  # the restore is itself a change: let its run finish
                if watched._graph_thread is not None:  # and the graph catch up, so trials start alike
                    watched._graph_thread.join(timeout=60)
    finally:
        stop.set()
        thread.join(timeout=30)
    medians = {}
    print("| reader | " + " | ".join(f"trial {i}" for i in range(1, args.trials + 1)) + " | median s |")
    print("|---|" + "---|" * (args.trials + 1))
    for reader, values in seconds.items():
        done = [s for s in values if s is not None]
        medians[reader] = round(statistics.median(done), 2) if done else None
        cells = " | ".join("timeout" if s is None else f"{s:.2f}" for s in values)
        print(f"| {reader} | {cells} | {medians[reader]} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "watch-bench.json").write_text(json.dumps({"repo": str(root), "file": args.file, "seconds": seconds,
                                                      "median_s": medians, "argv": sys.argv}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
