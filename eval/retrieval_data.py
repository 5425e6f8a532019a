"""Retrieval dev sets as candidate features: the data the learned ranker is trained and judged on.

Decision order (``python -m repo_rag.eval retrieval-data``):

1. queries: the paraphrased questions (``eval/data/questions``) and the mined docstring queries
   (``eval/mined.py``: each project indexed from its masked copy, where the docstrings that became
   queries are blanked), the forms that name their answer, and the issue-like reports
   (``eval/reports.py``: each project indexed without the test files that became queries); every
   query carries its project's split (:mod:`.splits`);
2. each project is indexed once with the dense channel (``<cache>/bench/retrieval/index``), reused
   while the indexing code is unchanged (or always, with ``--reuse-indexes``);
3. for every query the retriever's own candidate pool is taken (``HybridRetriever.candidates``:
   every channel, the rrf ranking, the learned ranker's feature matrix) and each candidate is
   labelled 2 (the gold definition or inside it), 1 (another chunk of a gold file) or 0;
4. one ``.npz`` (arrays) + ``.json`` (queries, paths, symbols) per project under
   ``<cache>/bench/retrieval/features``, keyed by the search code and the queries, so training and
   evaluation (``eval/train_ranker.py``) never search again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from repo_rag.config import Config, default_cache_dir, load_config
from repo_rag.embed import MINILM, resolve_model
from repo_rag.rank import FEATURES
from repo_rag.repository import Repository
from repo_rag.retrieve import LEARNED_POOL_K

from .projects import Project, fetch_project
from .questions import load_questions
from .splits import split_of
from .swebench import EMBED_CODE, GRAPH_CODE, PARSE_CODE, SEARCH_CODE, fingerprint

DEFINITION_KINDS = frozenset({"function", "method", "class"})


@dataclass(frozen=True)
class EvalQuery:
    dataset: str  # paraphrased | mined | forms | reports
    project: str
    version: str
    language: str
    kind: str  # where | how | calls for questions, 'docstring' for mined, 'report' for reports
    text: str
    gold_files: tuple[str, ...]
    gold_symbols: tuple[str, ...]

    @property
    def split(self) -> str:
        return split_of(self.project)


@dataclass(frozen=True)
class EvalCorpus:
    dataset: str
    project: str
    version: str
    root: Path

    @property
    def key(self) -> str:
        return f"{self.dataset}-{self.project}-{self.version}"


def paraphrased(projects: Sequence[str] = ()) -> list[tuple[EvalCorpus, list[EvalQuery]]]:
    out: dict[str, tuple[EvalCorpus, list[EvalQuery]]] = {}
    for q in load_questions():
        if projects and q.project not in projects:
            continue
        if q.project not in out:
            root = fetch_project(Project(q.project, q.version, q.source, q.root))
            out[q.project] = (EvalCorpus("paraphrased", q.project, q.version, root), [])
        out[q.project][1].append(EvalQuery("paraphrased", q.project, q.version, q.language, q.kind, q.question,
                                           q.gold_files, q.gold_symbols))
    return list(out.values())


def _pairs(dataset: str, kind: str, folder: str, projects: Sequence[str]) -> list[tuple[EvalCorpus, list[EvalQuery]]]:
    """Rows of ``<cache>/bench/<folder>/pairs.jsonl`` (mined pairs' format), one corpus per project."""
    from .mined import load_pairs, masked_roots

    path = default_cache_dir() / "bench" / folder / "pairs.jsonl"
    roots = masked_roots(path)
    out: dict[str, tuple[EvalCorpus, list[EvalQuery]]] = {}
    for p in load_pairs(path):
        if projects and p.project not in projects:
            continue
        if p.project not in out:
            out[p.project] = (EvalCorpus(dataset, p.project, p.version, Path(roots[p.project])), [])
        out[p.project][1].append(EvalQuery(dataset, p.project, p.version, p.language, kind, p.query,
                                           (p.gold_path,), (p.gold_qualname,)))
    return list(out.values())


def mined(projects: Sequence[str] = ()) -> list[tuple[EvalCorpus, list[EvalQuery]]]:
    return _pairs("mined", "docstring", "mined", projects)


def reports(projects: Sequence[str] = ()) -> list[tuple[EvalCorpus, list[EvalQuery]]]:
    """Issue-like reports (:mod:`.reports`): a test's name and body, asked of the tree without its file."""
    return _pairs("reports", "report", "reports", projects)


FORMS = ("name", "path", "traceback")


def _form_query(form: str, p, others: Sequence[str]) -> str:
    """A query that NAMES its answer the way users and issue reports do (see :func:`forms`)."""
    leaf = p.gold_qualname.rsplit(".", 1)[-1]
    if form == "name":
        return leaf
    if form == "path":
        return f"{p.query} (in {p.gold_path})"
    line = (p.gold_start_line + p.gold_end_line) // 2
    outer = others[int(hashlib.blake2b(p.gold_path.encode(), digest_size=4).hexdigest(), 16) % len(others)]
    return (f"{p.query}\n\nTraceback (most recent call last):\n  File \"{outer}\", line 12, in main\n"
            f"  File \"{p.gold_path}\", line {line}, in {leaf}\nRuntimeError: unexpected result")


def forms(projects: Sequence[str] = ()) -> list[tuple[EvalCorpus, list[EvalQuery]]]:
    """Mined pairs re-asked in the forms that name the answer: the bare name, the docstring sentence
    plus the file's path, and the sentence plus a traceback ending in the definition.

    The docstring-sentence and paraphrased queries never name their answer (by construction), so
    without these a model could not learn what an exact name, a path or a stack frame is worth. One
    form per pair (chosen by a hash of the pair), on the same masked trees as ``mined``.
    """
    from .mined import load_pairs

    by_project: dict[str, list] = {}
    for p in load_pairs():  # read once, not once per project
        by_project.setdefault(p.project, []).append(p)
    out = []
    for corpus, _ in mined(projects):
        pairs = by_project[corpus.project]
        others = sorted({p.gold_path for p in pairs})
        rows = []
        for p in pairs:
            form = FORMS[int(hashlib.blake2b(f"{p.gold_path}:{p.gold_qualname}".encode(), digest_size=4)
                             .hexdigest(), 16) % len(FORMS)]
            rows.append(EvalQuery("forms", p.project, p.version, p.language, form, _form_query(form, p, others),
                                  (p.gold_path,), (p.gold_qualname,)))
        out.append((EvalCorpus("forms", corpus.project, corpus.version, corpus.root), rows))
    return out


DATASETS = {"paraphrased": paraphrased, "mined": mined, "forms": forms, "reports": reports}


def _cache_root(cfg: Config) -> Path:
    return cfg.cache_path / "bench" / "retrieval"


def open_corpus(corpus: EvalCorpus, cfg: Config, reuse: bool, log) -> tuple[Repository, dict]:
    """The corpus's index with vectors, rebuilt when the indexing code changed (unless ``reuse``)."""
    # the forms are asked of the same masked tree as the mined queries: one index for both
    index_dir = _cache_root(cfg) / "index" / corpus.key.replace("forms-", "mined-", 1)
    marker = index_dir / "eval-index.json"
    fp = fingerprint((*PARSE_CODE, *GRAPH_CODE, *EMBED_CODE))
    model = resolve_model(cfg.embed.model)[0]
    state = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
    if state is not None and (reuse or state["fp"] == fp):
        repo = Repository.open(corpus.root, cfg, index_dir)
        if state.get("model", MINILM) != model:  # another embedder: same chunks, vectors re-embedded
            t0 = time.perf_counter()
            report = repo.index(dense=True)
            state = {**state, "model": model, "dense_chunks": report.dense_chunks}
            marker.write_text(json.dumps(state), encoding="utf-8")
            log(f"  re-embedded {corpus.key} with {model}: {report.embedded} new vectors in "
                f"{time.perf_counter() - t0:.0f} s")
        return repo, state
    if index_dir.exists():
        shutil.rmtree(index_dir)
    repo = Repository.open(corpus.root, cfg, index_dir)
    t0 = time.perf_counter()
    report = repo.index(dense=True)
    state = {"fp": fp, "model": model, "seconds": round(time.perf_counter() - t0, 1), "chunks": report.chunks_total,
             "dense_chunks": report.dense_chunks, "files": report.files_seen}
    marker.write_text(json.dumps(state), encoding="utf-8")
    log(f"  indexed {corpus.key}: {state['files']} files, {state['chunks']} chunks in {state['seconds']} s")
    return repo, state


def label(path: str, qualname: str, q: EvalQuery) -> int:
    """2: the gold definition (or inside it); 1: another chunk of a gold file; 0: anything else."""
    for gf, gs in zip(q.gold_files, q.gold_symbols or ("",) * len(q.gold_files), strict=False):
        if path == gf:
            if gs and (qualname == gs or qualname.startswith(gs + ".")):
                return 2
    return 1 if path in q.gold_files else 0


def candidate_rows(repo: Repository, queries: Sequence[EvalQuery], log) -> dict:
    """Arrays for every query's candidates (rows grouped by query, in query order)."""
    retriever = repo.retriever
    xs, qids, labels, lex, dense, rrf, file_ids, sym_ids, is_def = [], [], [], [], [], [], [], [], []
    paths: dict[str, int] = {}
    symbols: dict[str, int] = {}
    ms = []
    for qi, q in enumerate(queries):
        t0 = time.perf_counter()
        c = retriever.candidates(q.text, k=LEARNED_POOL_K)
        ms.append((time.perf_counter() - t0) * 1000)
        xs.append(c.features)
        for cid in c.pool.ids:
            ch = c.pool.chunks[cid]
            qids.append(qi)
            labels.append(label(ch.path, ch.qualname, q))
            lex.append(c.pool.lexical.get(cid, (0, 0.0))[0])
            dense.append(c.pool.dense_rank.get(cid, 0))
            rrf.append(c.rrf_scores.get(cid, 0.0))
            file_ids.append(paths.setdefault(ch.path, len(paths)))
            sym_ids.append(symbols.setdefault(f"{ch.path}\0{ch.qualname}", len(symbols)))
            is_def.append(ch.kind in DEFINITION_KINDS)
    x = np.concatenate(xs) if xs else np.zeros((0, len(FEATURES)), dtype=np.float32)
    log(f"  {len(queries)} queries, {len(qids)} candidates, candidates p50 {np.median(ms):.0f} ms")
    return {
        "arrays": {"x": x, "qid": np.asarray(qids, np.int32), "label": np.asarray(labels, np.int8),
                   "lex_rank": np.asarray(lex, np.int32), "dense_rank": np.asarray(dense, np.int32),
                   "rrf": np.asarray(rrf, np.float64), "file_id": np.asarray(file_ids, np.int32),
                   "symbol_id": np.asarray(sym_ids, np.int32), "is_def": np.asarray(is_def, bool)},
        "paths": list(paths), "symbols": list(symbols), "candidates_ms": ms,
    }


def features_dir(cfg: Config) -> Path:
    return _cache_root(cfg) / "features"


def build(datasets: Sequence[str], projects: Sequence[str], reuse: bool, log=print) -> list[Path]:
    """Index every corpus and dump its queries' candidate features (cached by code and queries)."""
    cfg = load_config(None, overrides={"embed": {"enabled": True}})
    out_dir = features_dir(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    search_fp = fingerprint(SEARCH_CODE, {"features": FEATURES, "embed": resolve_model(cfg.embed.model)[0]})
    written = []
    for name in datasets:
        for corpus, queries in DATASETS[name](projects):
            key = hashlib.blake2b(json.dumps([search_fp, [asdict(q) for q in queries]]).encode(),
                                  digest_size=8).hexdigest()
            meta_path = out_dir / f"{corpus.key}.json"
            if meta_path.is_file() and json.loads(meta_path.read_text(encoding="utf-8")).get("key") == key:
                written.append(meta_path)
                continue
            log(f"{corpus.key}: {len(queries)} queries ({split_of(corpus.project)})")
            repo, index_state = open_corpus(corpus, cfg, reuse, log)
            try:
                rows = candidate_rows(repo, queries, log)
            finally:
                repo.close()
            np.savez_compressed(out_dir / f"{corpus.key}.npz", **rows["arrays"])
            meta = {"key": key, "corpus": {**asdict(corpus), "root": str(corpus.root)},
                    "split": split_of(corpus.project), "index": index_state,
                    "queries": [asdict(q) for q in queries], "paths": rows["paths"], "symbols": rows["symbols"],
                    "candidates_ms": rows["candidates_ms"], "features": list(FEATURES)}
            meta_path.write_text(json.dumps(meta), encoding="utf-8")
            written.append(meta_path)
    return written


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval retrieval-data") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="paraphrased,mined,forms,reports", help="comma list of %(default)s")
    p.add_argument("--projects", default="", help="comma list of project names (default: all)")
    p.add_argument("--reuse-indexes", action="store_true", help="keep indexes built by older indexing code")
    args = p.parse_args(argv)
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        p.error(f"unknown dataset(s) {unknown}; choose from {', '.join(DATASETS)}")
    paths = build(datasets, [x for x in args.projects.split(",") if x], args.reuse_indexes)
    print(f"{len(paths)} feature files in {paths[0].parent if paths else '-'}")
    return 0
