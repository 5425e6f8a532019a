"""Search at a million chunks: FAISS exact vs approximate (IVF, HNSW) and SQLite FTS5, on 2 cores.

What it measures, on one corpus of real code chunks (``--target`` of them, 1,000,000 by default):

- the corpus: pinned PyPI sdists (sha256-checked by pip, see :mod:`repo_rag.eval.corpus`) unpacked
  under ``<cache>/bench/million/src`` and indexed there by repo-rag's own indexer (discovery, parser,
  chunker, SQLite store with its FTS5 table), dense and graph stages off, one project at a time until
  the store holds ``--target`` chunks plus the held-out query chunks (each project is its own
  transaction, so an interrupted build resumes at the next project);
- the vectors: every chunk's :func:`repo_rag.embed.embedding_text` embedded by a model2vec static model
  distilled from the packaged all-MiniLM-L6-v2 (384 dims, no PCA: the shipped code model is an
  int8 ONNX graph without the PyTorch weights distillation needs), each text cut to the 128 tokens the
  transformer reads. 1M chunks through the transformer would take ~6 h here; the static model takes
  minutes. Written to the store's ``vectors`` table, so the product's load path
  (:meth:`repo_rag.vectors.VectorIndex.from_store`) is what is timed;
- the queries: the first docstring sentence of ``--queries`` chunks drawn at random (seeded), held
  out of the vector set, embedded with the same static model;
- per size (``--sizes``, random subsets of the vectors): exact ``IndexFlatIP`` against HNSW
  (``IndexHNSWFlat``, M=32, several efSearch) and IVF (``IndexIVFFlat``, several nlist/nprobe):
  recall@10 against exact, p50/p95 of one query at a time with 1 thread (what the product uses) and
  2 threads, RSS growth and build time;
- at the full size: ``lexical_search`` (the FTS5 channel) p50/p95 over the same queries, and the
  product class: ``VectorIndex.from_store`` load time and search latency, exact and approximate.

Decision order for each stage: reuse what the cache holds (unpacked tree, indexed project, stored
vectors, distilled model), else build it from the registries. Prints a markdown table and writes
``eval/out/million/million-bench.json``.

    nice -n 10 python -m repo_rag.eval million-bench --out eval/out/million
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from repo_rag.config import Config, default_cache_dir
from repo_rag.embed import embedding_text, packaged_model_path
from repo_rag.indexer import Indexer, IndexReport
from repo_rag.store import Store

from .corpus import Corpus, SdistSpec

# Large sdists, most chunks first; the build stops as soon as the target is reached.
PROJECTS = [SdistSpec(*x) for x in (
    ("ansible", "10.5.0", "ansible-10.5.0.tar.gz", "ba2045031a7d60c203b6e5fe1f8eaddd53ae076f7ada910e636494384135face"),
    ("salt", "3007.1", "salt-3007.1.tar.gz", "b933ac4cb3e4b1118b46dada55c9cc6bdc6f0f94b4c92877aec44b25c6a28c9a"),
    ("scipy", "1.14.1", "scipy-1.14.1.tar.gz", "5a275584e726026a5699459aa72f828a610821006228e841b94275c4a7c08417"),
    ("Django", "4.2.16", "Django-4.2.16.tar.gz", "6f1616c2786c408ce86ab7e10f792b8f15742f7b7b7460243929cb371e7f1dad"),
    ("sympy", "1.13.3", "sympy-1.13.3.tar.gz", "b27fd2c6530e0ab39e275fc9b683895367e51d5da91baa8d3d64db2565fec4d9"),
    ("transformers", "4.46.3", "transformers-4.46.3.tar.gz",
     "8ee4b3ae943fe33e82afff8e837f4b052058b07ca9be3cb5b729ed31295f72cc"),
    ("kubernetes", "31.0.0", "kubernetes-31.0.0.tar.gz",
     "28945de906c8c259c1ebe62703b56a03b714049372196f854105afe4e6d014c0"),
    ("numpy", "2.1.3", "numpy-2.1.3.tar.gz", "aa08e04e08aaf974d4458def539dece0d28146d866a39da5639596f4921fd761"),
    ("pandas", "2.2.3", "pandas-2.2.3.tar.gz", "4f18ba62b61d7e192368b84517265a99b4d7ee8912f8708660fb4a366cc82667"),
    ("matplotlib", "3.9.2", "matplotlib-3.9.2.tar.gz",
     "96ab43906269ca64a6366934106fa01534454a69e471b7bf3d79083981aaab92"),
    ("nova", "30.0.0", "nova-30.0.0.tar.gz", "0afc47aca19a957ffd14c1555f5e019b8eec8e0a903607d55fa39d7f620c82a4"),
    ("neutron", "25.0.0", "neutron-25.0.0.tar.gz", "bc03513d0e1a72826b4ab6ab14d9ac20565eccc3ddf4157ce8f3b0a9bf813f9c"),
    ("scikit-learn", "1.5.2", "scikit_learn-1.5.2.tar.gz",
     "b4237ed7b3fdd0a4882792e68ef2545d5baa50aca3bb45aa7df468138ad8f94d"),
    ("astropy", "6.1.4", "astropy-6.1.4.tar.gz", "361558e2b093a99bebe69f1fd47fac86a192607a4c16ed39ba0a800b2ab60c34"),
    ("SQLAlchemy", "2.0.36", "sqlalchemy-2.0.36.tar.gz",
     "7f2767680b6d2398aea7082e45a774b2b0767b5c8d8ffb9c8b683088ea9b29c5"),
    ("Twisted", "24.10.0", "twisted-24.10.0.tar.gz",
     "02951299672595fea0f70fa2d5f7b5e3d56836157eda68859a6ad6492d36756e"),
    ("moto", "5.0.18", "moto-5.0.18.tar.gz", "8a7ad2f53a2e6cc9db2ff65c0e0d4b5d7e78bc00b825c9e1ff6cc394371e76e9"),
    ("apache-airflow", "2.10.3", "apache_airflow-2.10.3.tar.gz",
     "09038892bec9390357837eb7ec482e5052482be57a5b24013a14200745fbe40d"),
    ("plotly", "5.24.1", "plotly-5.24.1.tar.gz", "dbc8ac8339d248a4bcc36e08a5659bacfe1b079390b8953533f4eb22169b4bae"),
    ("mypy", "1.13.0", "mypy-1.13.0.tar.gz", "0291a61b6fbf3e6673e3405cfcc0e7650bebc7939659fdca2702958038bd835e"),
    ("cinder", "25.0.0", "cinder-25.0.0.tar.gz", "6eeb8c5699557a6c633db32c3ac155570b0ab07e8e6222a9bfa16d2aea7936c5"),
    ("ansible-core", "2.17.5", "ansible_core-2.17.5.tar.gz",
     "ae7f51fd13dc9d57c9bcd43ef23f9c255ca8f18f4b5c0011a4f9b724d92c5a8e"),
    ("statsmodels", "0.14.4", "statsmodels-0.14.4.tar.gz",
     "5d69e0f39060dc72c067f9bb6e8033b6dccdb0bae101d76a7ef0bcc94e898b67"),
    ("bokeh", "3.6.1", "bokeh-3.6.1.tar.gz", "04d3fb5fac871423f38e4535838164cd90c3d32e707bcb74c8bf991ed28878fc"),
    ("biopython", "1.84", "biopython-1.84.tar.gz", "60fbe6f996e8a6866a42698c17e552127d99a9aab3259d6249fbaabd0e0cc7b4"),
    ("keystone", "26.0.0", "keystone-26.0.0.tar.gz",
     "75416c2b0bb5ec2ede16cbc632e440f95b1ded4fdb06f8b166ba25c171afd7e9"),
    ("sphinx", "8.1.3", "sphinx-8.1.3.tar.gz", "43c1911eecb0d3e161ad78611bc905d1ad0e523e4ddc202a58a821773dc4c927"),
    ("networkx", "3.4.2", "networkx-3.4.2.tar.gz", "307c3669428c5362aab27c8a1260aa8f47c4e91d3891f48be0141738d8d053e1"),
    ("pylint", "3.3.1", "pylint-3.3.1.tar.gz", "9f3dcc87b1203e612b78d91a896407787e708b3f189b5fa0b307712d49ff0c6e"),
)]
DIM = 384
MODEL_ID = f"model2vec:all-MiniLM-L6-v2@{DIM}"
MAX_TOKENS = 128  # the window the transformer embedder reads (embed.max_seq_length)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _LexicalOnlyIndexer(Indexer):
    """The real indexer without its graph stage (a 1M-chunk code graph is not what is measured)."""

    def _graph(self, store: Store, report: IndexReport, progress) -> None:
        report.notes.append("graph stage skipped (million-bench)")


def build_store(root: Path, target: int, log_path: Path) -> tuple[Path, list[dict]]:
    """Index projects from :data:`PROJECTS` into one store until it holds ``target`` chunks."""
    src, index_dir = root / "src", root / "index"
    src.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.embed.enabled = False
    config.index.extra_ignore = [*config.index.extra_ignore, "/*.json", "/*.lock"]  # provenance files
    done = json.loads(log_path.read_text()) if log_path.is_file() else []
    indexed = {d["slug"] for d in done}
    corpus = Corpus(root, log=log)
    for spec in PROJECTS:
        db = index_dir / "index.sqlite"
        if db.is_file() and _chunk_count(db) >= target:
            break
        if spec.slug in indexed:
            continue
        t0 = time.perf_counter()
        corpus.source(spec)
        fetched = time.perf_counter() - t0
        report = _LexicalOnlyIndexer(src, config, index_dir).run(dense=False, walk=True)
        done.append({"slug": spec.slug, "fetch_s": round(fetched, 1), "files_parsed": report.files_parsed,
                     "chunks_written": report.chunks_written, "chunks_total": report.chunks_total,
                     "parse_store_s": round(report.seconds.get("parse", 0.0), 1),
                     "discover_s": round(report.seconds.get("discover", 0.0), 1)})
        log_path.write_text(json.dumps(done, indent=1))
        log(f"{spec.slug}: +{report.chunks_written} chunks in {report.seconds.get('parse', 0):.0f} s "
            f"({report.chunks_total} total)")
    corpus.cleanup_work()
    return index_dir / "index.sqlite", done


def _chunk_count(db: Path) -> int:
    store = Store(db)
    try:
        return store.chunk_count()
    finally:
        store.close()


def static_model(cache: Path):
    """The model2vec static model (384 dims), distilled once from the packaged MiniLM and cached."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from model2vec import StaticModel

    path = cache / "static" / f"all-MiniLM-L6-v2-full{DIM}"
    if not (path / "config.json").is_file():
        from model2vec.distill import distill

        log("distilling the static model from the packaged MiniLM (one forward pass per vocabulary token)")
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        distill(packaged_model_path(), pca_dims=None).save_pretrained(tmp)
        tmp.rename(path)
    return StaticModel.from_pretrained(path, normalize=True)


def embed_store(store: Store, model, group: int = 20_000) -> float:
    """Embed every chunk without a vector into the store's ``vectors`` table; returns seconds spent."""
    t0 = time.perf_counter()
    if store.get_manifest().get("embed_model") != MODEL_ID:
        with store.transaction() as con:
            store.delete_vectors(con)
            store.set_manifest(con, {"embed_model": MODEL_ID, "embed_dim": DIM})
    missing = sorted(store.chunk_ids() - store.vector_ids())
    for start in range(0, len(missing), group):
        chunks = store.chunks_by_ids(missing[start : start + group])
        ids = sorted(chunks)
        texts = [embedding_text(c.path, c.qualname, c.signature, c.docstring, c.text, 600)
                 for c in (chunks[i] for i in ids)]
        vecs = np.asarray(model.encode(texts, batch_size=1024, use_multiprocessing=False, max_length=MAX_TOKENS),
                          dtype=np.float32)
        with store.transaction() as con:
            store.put_vectors(con, ids, vecs)
        log(f"embedded {start + len(ids)}/{len(missing)} ({(start + len(ids)) / (time.perf_counter() - t0):.0f}/s)")
    return time.perf_counter() - t0


_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.S)


def held_out_queries(store: Store, n: int, seed: int = 7) -> list[tuple[int, str]]:
    """(chunk id, first docstring sentence) of ``n`` random functions/classes with a 6-30 word first sentence."""
    out = []
    for cid, doc in store.con.execute("SELECT id, docstring FROM chunks WHERE kind NOT IN ('module', 'section') "
                                      "AND length(docstring) >= 30 ORDER BY id"):
        m = _SENTENCE.match(doc.strip())
        sentence = " ".join((m.group(1) if m else doc.strip().split("\n\n")[0]).split())
        words = sentence.split()
        if 6 <= len(words) <= 30 and sum(w.isalpha() for w in words) >= 0.6 * len(words):
            out.append((cid, sentence))
    rng = np.random.default_rng(seed)
    return [out[i] for i in sorted(rng.choice(len(out), size=min(n, len(out)), replace=False))]


def _timed(fn, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """Ids of each query's top ``k`` (one query per call) and each call's milliseconds."""
    ids, ms = np.empty((len(queries), k), dtype=np.int64), []
    for i in range(len(queries)):
        t0 = time.perf_counter()
        ids[i] = fn(queries[i : i + 1], k)[1][0]
        ms.append((time.perf_counter() - t0) * 1000)
    return ids, ms


def _pct(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]))


def measure_size(xb: np.ndarray, xq: np.ndarray, methods: list[str], k: int, lat_n: int,
                 sweeps: dict[str, tuple[int, ...]]) -> list[dict]:
    """Long because every index kind is built, timed and searched here in turn, one freed before the next
    (at 1M each holds another 1.5 GB): exact flat, then HNSW per efSearch, then IVF per nlist/nprobe."""
    import faiss

    n, d = xb.shape
    rows: list[dict] = []

    def lat(index, params=None) -> dict:
        out = {}
        for threads in (1, 2):
            faiss.omp_set_num_threads(threads)
            found, ms = _timed(index.search, xq[:lat_n], k)
            out.update({f"{key}_t{threads}": v for key, v in _pct(ms).items()})
        return {"found": found, **out}

    rss0 = rss_mb()
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(d)
    flat.add(xb)
    build = time.perf_counter() - t0
    faiss.omp_set_num_threads(2)
    truth = flat.search(xq, k)[1]  # batched ground truth for every query
    r = lat(flat)
    rows.append({"n": n, "method": "exact flat", "param": "", "build_s": round(build, 2),
                 "rss_mb": round(rss_mb() - rss0), "index_mb": round(n * d * 4 / 2**20),
                 "recall@10": 1.0, **{a: b for a, b in r.items() if a != "found"}})
    del flat
    for method in methods:
        kind, _, arg = method.partition(":")
        rss0 = rss_mb()
        t0 = time.perf_counter()
        faiss.omp_set_num_threads(2)
        if kind == "hnsw":
            m = int(arg or 32)
            index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 40
            index.add(xb)
            sweep, label = sweeps["hnsw"], "efSearch"
            size_mb = (n * d * 4 + index.hnsw.neighbors.size() * 4) / 2**20
        else:
            nlist = int(float(arg or 4) * np.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.cp.niter = 10
            sample = np.random.default_rng(0).choice(n, size=min(n, nlist * 40), replace=False)
            index.train(xb[np.sort(sample)])
            index.add(xb)
            sweep, label = sweeps["ivf"], "nprobe"
            size_mb = (n * (d * 4 + 8) + nlist * d * 4) / 2**20
        build = time.perf_counter() - t0
        grew = rss_mb() - rss0
        for p in sweep:
            if kind == "hnsw":
                index.hnsw.efSearch = p
            else:
                index.nprobe = p
            r = lat(index)
            name = f"HNSW M={m}" if kind == "hnsw" else f"IVF nlist={nlist}"
            rows.append({"n": n, "method": name, "param": f"{label}={p}", "build_s": round(build, 2),
                         "rss_mb": round(grew), "index_mb": round(size_mb),
                         "recall@10": round(recall_at(r.pop("found"), truth[:lat_n]), 4), **r})
            log(f"n={n} {name} {label}={p}: recall@10 {rows[-1]['recall@10']} p95 {rows[-1]['p95_ms_t1']} ms")
        del index
    faiss.omp_set_num_threads(1)
    return rows


def measure_lexical(store: Store, texts: list[str], k: int) -> dict:
    """The lexical channel as the retriever calls it, one query at a time: FTS5 alone, then the
    posting lists of common terms (repo_rag/postings.py) built on the same store, and how much of
    FTS5's top 10 / top ``k`` they return."""
    from repo_rag.lexical import COLUMN_WEIGHTS, lexical_search
    from repo_rag.postings import rebuild_postings

    def run(use_postings: bool, queries: list[str] = texts) -> tuple[list[list[int]], list[float]]:
        found, ms = [], []
        for t in queries:
            t0 = time.perf_counter()
            hits, _ = lexical_search(store, t, k=k, explain=0, use_postings=use_postings)
            ms.append((time.perf_counter() - t0) * 1000)
            found.append([h.chunk_id for h in hits])
        return found, ms

    run(False, texts[:50])  # warm the page cache like a serving process
    fts, fts_ms = run(False)
    t0 = time.perf_counter()
    lists = rebuild_postings(store, COLUMN_WEIGHTS)
    build_s = time.perf_counter() - t0
    size = store.con.execute("SELECT sum(length(ids) + length(tfs)) FROM postings").fetchone()[0] or 0
    run(True, texts[:50])
    got, got_ms = run(True)

    def agree(n: int) -> float:
        pairs = [(a[:n], b[:n]) for a, b in zip(got, fts, strict=True) if b]
        return round(float(np.mean([len(set(a) & set(b)) / len(b) for a, b in pairs])), 4)

    return {"fts5": _pct(fts_ms), "postings": {**_pct(got_ms), "build_s": round(build_s, 1), "lists": lists,
            "mb": round(size / 2**20, 1), "top10_vs_fts5": agree(10), f"top{k}_vs_fts5": agree(k)},
            "queries": len(texts)}


def measure_product(store: Store, xq: np.ndarray, approximate_above: int, ef_search: int, k: int) -> dict:
    """:class:`repo_rag.vectors.VectorIndex` as the product loads and searches it."""
    from repo_rag.vectors import VectorIndex

    rss0 = rss_mb()
    t0 = time.perf_counter()
    vi = VectorIndex.from_store(store, approximate_above=approximate_above, ef_search=ef_search)
    load = time.perf_counter() - t0
    found, ms = [], []
    for q in xq:
        t0 = time.perf_counter()
        hits = vi.search(q, k)
        ms.append((time.perf_counter() - t0) * 1000)
        found.append([i for i, _ in hits])
    return {"approximate_above": approximate_above, "ef_search": ef_search, "approximate": vi.approximate,
            "vectors": len(vi), "load_s": round(load, 1), "rss_mb": round(rss_mb() - rss0), **_pct(ms),
            "found": found}


def _table(rows: list[dict]) -> str:
    head = ("| chunks | index | search param | recall@10 | p50 / p95 ms, 1 thread | p50 / p95 ms, 2 threads "
            "| build s | RSS growth MB | index MB |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['method']} | {r['param']} | {r['recall@10']:.3f} | {r['p50_ms_t1']} / "
                     f"{r['p95_ms_t1']} | {r['p50_ms_t2']} / {r['p95_ms_t2']} | {r['build_s']} | {r['rss_mb']} "
                     f"| {r['index_mb']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "python -m repo_rag.eval million-bench") -> int:
    """Long because it runs the stages in order (corpus, vectors, queries, per-size FAISS sweep, FTS5,
    product class) and writes the one report they make together."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--target", type=int, default=1_000_000, help="vectors searched at the full size")
    p.add_argument("--queries", type=int, default=1000, help="held-out docstring queries (recall)")
    p.add_argument("--latency-queries", type=int, default=500, help="of those, timed one at a time")
    p.add_argument("--sizes", default="50000,200000,500000,1000000")
    p.add_argument("--methods", default="ivf:1,ivf:4,hnsw:32", help="ivf:<nlist / sqrt(n)>, hnsw:<M>")
    p.add_argument("--nprobe", default="8,16,32,64,128", help="IVF sweep")
    p.add_argument("--ef", default="32,64,128,256", help="HNSW efSearch sweep")
    p.add_argument("--skip", default="", help="comma list of stages to leave out: lexical, product")
    p.add_argument("--k", type=int, default=50, help="hits per search (the retriever's dense pool for top 10)")
    p.add_argument("--approximate-above", type=int, default=500_000, help="product check: VectorIndex threshold")
    p.add_argument("--ef-search", type=int, default=128, help="product check: vectors.ef_search")
    p.add_argument("--cache", help="default: <cache>/bench/million")
    p.add_argument("--out", default="eval/out/million")
    args = p.parse_args(argv)
    root = Path(args.cache) if args.cache else default_cache_dir() / "bench" / "million"
    report: dict = {"argv": sys.argv, "cpus": os.cpu_count(), "model": MODEL_ID}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every stage: a late failure keeps what was measured
        (out / "million-bench.json").write_text(json.dumps(report, indent=1))

    db, report["projects"] = build_store(root, args.target + args.queries, root / "build.json")
    store = Store(db, create=True)  # create: adds tables a newer repo-rag keeps (postings) to a cached store
    skip = set(args.skip.split(","))
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    queries = held_out_queries(store, args.queries)
    texts = [t for _, t in queries]
    report["chunks_in_store"] = store.chunk_count()
    rows: list[dict] = []
    xq = np.empty((0, DIM), dtype=np.float32)
    if sizes or "product" not in skip:  # the lexical stage alone needs no vectors
        model = static_model(default_cache_dir())
        report["embed_s"] = round(embed_store(store, model), 1)
        xq = np.asarray(model.encode(texts, use_multiprocessing=False, max_length=MAX_TOKENS), dtype=np.float32)
        t0 = time.perf_counter()
        ids, matrix = store.load_vectors(DIM)
        report["load_vectors_s"] = round(time.perf_counter() - t0, 1)
        keep = np.flatnonzero(~np.isin(ids, [cid for cid, _ in queries]))
        order = np.random.default_rng(11).permutation(keep)
        sweeps = {"ivf": tuple(int(x) for x in args.nprobe.split(",")),
                  "hnsw": tuple(int(x) for x in args.ef.split(","))}
        for size in sizes:
            size = min(size, len(order), args.target)
            xb = np.ascontiguousarray(matrix[np.sort(order[:size])])
            log(f"measuring {size:,} vectors")
            rows += measure_size(xb, xq, [m for m in args.methods.split(",") if m], args.k, args.latency_queries,
                                 sweeps)
            del xb
            report["rows"] = rows
            save()
        del ids, matrix
    if "lexical" not in skip:
        log(f"measuring the lexical channel over {report['chunks_in_store']:,} chunks")
        report["lexical"] = {"chunks": report["chunks_in_store"],
                             **measure_lexical(store, texts[: args.latency_queries], args.k)}
        save()
    if "product" not in skip:
        lat_q = xq[: args.latency_queries]
        exact = measure_product(store, lat_q, 0, args.ef_search, args.k)
        approx = measure_product(store, lat_q, args.approximate_above, args.ef_search, args.k)
        approx["recall@10_vs_exact"] = round(recall_at(approx.pop("found"), exact.pop("found")), 4)
        report["product"] = [exact, approx]
    store.close()
    table = _table(rows)
    print(table)
    if "lexical" in report:
        lex = report["lexical"]
        print(f"\nlexical_search over {lex['chunks']:,} chunks, {lex['queries']} queries: FTS5 p50/p95 "
              f"{lex['fts5']['p50_ms']}/{lex['fts5']['p95_ms']} ms; posting lists p50/p95 "
              f"{lex['postings']['p50_ms']}/{lex['postings']['p95_ms']} ms (built in {lex['postings']['build_s']} s, "
              f"{lex['postings']['lists']} lists, {lex['postings']['mb']} MB), FTS5's top 10 returned "
              f"{lex['postings']['top10_vs_fts5']}")
    for r in report.get("product", []):
        print(f"VectorIndex.from_store(approximate_above={r['approximate_above']}): {r['vectors']:,} vectors, "
              f"approximate={r['approximate']}, load {r['load_s']} s, p50/p95 {r['p50_ms']}/{r['p95_ms']} ms, "
              f"recall@10 vs exact {r.get('recall@10_vs_exact', 1.0)}")
    save()
    (out / "million-bench.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
