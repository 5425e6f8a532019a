"""Embedding backends on real code chunks: throughput and fidelity to the fp32 PyTorch vectors.

    python -m repo_rag.eval embed-bench --project django --n 1024

Chunks come from an index of the project (built without embeddings if missing), embedded with
the same text the indexer uses. Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from repo_rag.config import load_config
from repo_rag.embed import Embedder, _cpu_has_bf16, embedding_text
from repo_rag.repository import Repository

from .projects import PROJECTS, fetch_project


def _sample_texts(project: str, n: int, seed: int = 0) -> list[str]:
    root = fetch_project(PROJECTS[project])
    index_dir = Path(tempfile.gettempdir()) / f"repo-rag-embed-bench-{project}"
    cfg = load_config(root, overrides={"embed": {"enabled": False}})
    repo = Repository(root, cfg, index_dir)
    if not repo.is_indexed:
        repo.index(dense=False)
    chunks = [c for c in repo.store.iter_chunks() if not c.is_test and c.language != "unknown"]
    random.Random(seed).shuffle(chunks)
    body = cfg.embed.body_chars
    return [embedding_text(c.path, c.qualname, c.signature, c.docstring, c.text, body) for c in chunks[:n]]


def run(project: str, n: int, seq_lengths: list[int]) -> list[dict]:
    texts = _sample_texts(project, n)
    base = load_config().embed
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for seq in seq_lengths:
            ref = None
            import repo_rag.embed as embed_mod

            for backend, bf16 in (("torch", False), ("torch", True), ("onnx-int8", False)):
                os.environ["REPO_RAG_BF16"] = "auto" if bf16 else "0"
                embed_mod._BF16 = None  # re-read the switch
                if bf16 and not _cpu_has_bf16():
                    continue
                cfg = replace(base, backend=backend, max_seq_length=seq, cache=False)
                emb = Embedder(cfg, Path(cache))
                emb.embed_query("warm up")
                t0 = time.perf_counter()
                vecs, _ = emb.embed_texts(texts)
                dt = time.perf_counter() - t0
                if ref is None:
                    ref = vecs
                cos = (vecs * ref).sum(1)
                rows.append(
                    {
                        "backend": backend + ("+bf16" if bf16 else ""),
                        "max_seq_length": seq,
                        "n": len(texts),
                        "chunks_per_s": len(texts) / dt,
                        "cos_to_fp32_mean": float(cos.mean()),
                        "cos_to_fp32_min": float(cos.min()),
                    }
                )
    os.environ.pop("REPO_RAG_BF16", None)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m repo_rag.eval embed-bench", description=__doc__)
    ap.add_argument("--project", default="django", choices=sorted(PROJECTS))
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--seq", default="128,256")
    ap.add_argument("--out", default="eval/out/embed-bench")
    args = ap.parse_args(argv)
    rows = run(args.project, args.n, [int(s) for s in args.seq.split(",")])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    lines = ["| backend | max_seq_length | n | chunks/s | cos to fp32 (mean / min) |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['max_seq_length']} | {r['n']} | {r['chunks_per_s']:.1f} "
            f"| {r['cos_to_fp32_mean']:.4f} / {r['cos_to_fp32_min']:.4f} |"
        )
    print("\n".join(lines))
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return 0
