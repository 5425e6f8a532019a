"""SWE-bench Lite file localisation: repo-rag's channels and a LlamaIndex baseline, in one run.

Each instance's ``problem_statement`` is the query; the gold is the file its patch edits (see
:mod:`eval.metrics` for Acc@k, Recall@k, MRR and the function-level gold). Instances are grouped by
sdist and every sdist is indexed once (index under ``<cache>/bench/index/<sdist>``), so all methods
rank over the same files and chunks:

    lexical     channels ('lexical',)                         BM25 over identifier terms
    dense       channels ('dense',)                           MiniLM cosine (needs --dense)
    fused       lexical + dense + symbol + path, RRF          no graph
    full        every channel, graph expansion included       repo-rag's default search
    llamaindex  LlamaIndex default pipeline, same files and embedding model (eval.baseline_llamaindex)

Without ``--dense`` (the default: embedding a Django sdist takes 20+ minutes on a 2-core CPU) the
dense channel is off, ``fused``/``full`` run without it and ``dense`` is unavailable.

Sample: ``--sample N`` takes the N sdists with the most instances (ties by file name), after the
``--projects`` / ``--instances`` filters; ``--all`` takes every sdist. The default is ``--sample 10``.

Resumable: every (instance, method) result is appended to ``<out>/instances.jsonl`` as soon as it
is computed, keyed by a fingerprint of the code and settings that produced it; a rerun skips what
is already there (``--fresh`` ignores it). An index is rebuilt when the indexing code changed.

Outputs in ``--out``: ``results.md`` (tables, also printed), ``results.json`` (run settings, per-sdist
index reports, summaries, per-instance ranks and timings) and ``acc_at_k.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from statistics import median

from packaging.version import InvalidVersion, Version

from repo_rag.config import Config, load_config
from repo_rag.embed import Embedder, resolve_model
from repo_rag.errors import RepoRagError
from repo_rag.parsing import language_for_path, parse_source
from repo_rag.repository import Repository
from repo_rag.retrieve import HybridRetriever

from .corpus import Corpus, CorpusError, SdistSpec
from .metrics import DEFINITION_KINDS, KS, Summary, entity_ranks, gold_entities, gold_ranks, parse_patch, summarize

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "bench" / "swebench_lite_dev.jsonl"
DEFAULT_SAMPLE = 10
FILE_DEPTH = 50  # distinct files kept per query (ranks beyond count as not found)
SYMBOL_DEPTH = 60  # chunk hits requested for the function-level ranking
RESULT_VERSION = 1  # bump when the meaning of a stored record changes

REPO_RAG_METHODS: dict[str, tuple[str, ...]] = {
    "lexical": ("lexical",),
    "dense": ("dense",),
    "fused": ("lexical", "dense", "symbol", "path"),
    "full": ("lexical", "dense", "symbol", "path", "graph"),
    "rrf": ("lexical", "dense", "symbol", "path", "graph"),  # all channels, ranked by the old fusion
}
RANKING = {"rrf": "rrf"}  # methods that override search.ranking (the rest use the configured one)
LLAMAINDEX = "llamaindex"
METHODS = (*REPO_RAG_METHODS, LLAMAINDEX)

# Code whose change makes part of an index stale: parsing/storing (rebuild from scratch), the graph
# (rebuilt by any index run), embedding (vectors dropped and recomputed, mostly from the cache).
PARSE_CODE = (
    "indexers/**/*.py", "indexers/queries/*.scm", "repo_rag/indexer.py", "repo_rag/store.py", "repo_rag/lexical.py",
)
GRAPH_CODE = ("repo_rag/graph.py", "repo_rag/graph/**/*.py")
EMBED_CODE = ("repo_rag/embed.py", "repo_rag/vectors.py", "repo_rag/onnx_encoder.py")
# Code whose change makes stored rankings stale.
SEARCH_CODE = ("repo_rag/**/*.py", "repo_rag/rank/ranker.*", "repo_rag/models/*/train.json", "indexers/**/*.py",
               "indexers/queries/*.scm", "eval/metrics.py")
BASELINE_CODE = (
    "eval/baseline_llamaindex.py", "repo_rag/embed.py", "indexers/discover.py", "indexers/languages.py",
    "eval/metrics.py",
)
# sdist-only files that a git checkout (what SWE-bench localises in) does not have.
SDIST_IGNORE = ["/PKG-INFO"]

Log = Callable[[str], None]


class UsageError(RepoRagError, ValueError):
    """Settings that cannot run (unknown method, empty selection); shown as a usage error."""


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data ----------------------------------------------------------------------------------------
@dataclass
class Instance:
    instance_id: str
    repo: str
    sdist: SdistSpec
    problem: str
    patch: str
    gold_files: list[str]
    gold_hunks: list[dict]
    excluded_by_papers: bool
    patch_applies: str


def load_instances(path: str | Path) -> list[Instance]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            spec = SdistSpec(r["pypi_project"], r["pypi_version"], r["sdist_filename"], r["sdist_sha256"])
            out.append(Instance(
                r["instance_id"], r["repo"], spec, r["problem_statement"], r["patch"], list(r["gold_files"]),
                list(r["gold_hunks"]), bool(r["excluded_by_papers"]), r.get("patch_applies_to_sdist", ""),
            ))
    return out


def select(
    instances: Sequence[Instance],
    sample: int | None = DEFAULT_SAMPLE,
    projects: Iterable[str] = (),
    instance_ids: Iterable[str] = (),
) -> list[tuple[SdistSpec, list[Instance]]]:
    """Group by sdist, filter, keep the ``sample`` with the most instances (ties by file name), and
    return them by project and release order.

    ``projects`` match the PyPI name or the GitHub repo name, case-insensitively; ``sample=None``
    keeps every sdist.
    """
    wanted_projects = {p.strip().lower() for p in projects if p.strip()}
    wanted_ids = {i.strip() for i in instance_ids if i.strip()}
    groups: dict[str, list[Instance]] = defaultdict(list)
    specs: dict[str, SdistSpec] = {}
    for inst in instances:
        names = {inst.sdist.project.lower(), inst.repo.lower(), inst.repo.split("/")[-1].lower()}
        if wanted_projects and not names & wanted_projects:
            continue
        if wanted_ids and inst.instance_id not in wanted_ids:
            continue
        groups[inst.sdist.filename].append(inst)
        specs[inst.sdist.filename] = inst.sdist
    order = sorted(groups, key=lambda name: (-len(groups[name]), name))
    if sample is not None:
        order = order[:sample]
    order.sort(key=lambda name: _version_key(specs[name]))  # neighbours share the embedding cache
    return [(specs[name], groups[name]) for name in order]


def _version_key(spec: SdistSpec) -> tuple:
    """Project, then release order: consecutive versions of a project differ least, so indexing
    them one after another embeds the fewest new chunks (the embedding cache is content-addressed)."""
    try:
        version: tuple = (0, Version(spec.version))
    except InvalidVersion:
        version = (1, spec.version)
    return spec.project.lower(), version


def fingerprint(patterns: Sequence[str], extra: object = None) -> str:
    """Hash of the project files matching ``patterns`` (plus ``extra`` settings), for cache keys."""
    h = hashlib.blake2b(digest_size=8)
    for pattern in patterns:
        for p in sorted(PROJECT_ROOT.glob(pattern)):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(p.relative_to(PROJECT_ROOT).as_posix().encode())
                h.update(p.read_bytes())
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


# -- results store -------------------------------------------------------------------------------
class ResultLog:
    """Append-only JSON Lines of per-(instance, method) records; what makes a killed run resumable."""

    def __init__(self, path: Path, fresh: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        self.records: dict[tuple[str, str, str], dict] = {}
        self.latest: dict[tuple[str, str], dict] = {}  # newest record per (instance, method), any key
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError:  # a line cut by a kill
                        continue
                    self.records[(r["instance_id"], r["method"], r["key"])] = r
                    self.latest[(r["instance_id"], r["method"])] = r

    def get(self, instance_id: str, method: str, key: str) -> dict | None:
        return self.records.get((instance_id, method, key))

    def add(self, record: dict) -> None:
        self.records[(record["instance_id"], record["method"], record["key"])] = record
        self.latest[(record["instance_id"], record["method"])] = record
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


# -- indexing ------------------------------------------------------------------------------------
class _IndexLog:
    """Index progress as a few log lines (a run is usually not on a terminal)."""

    def __init__(self, log: Log, name: str) -> None:
        self.log, self.name = log, name
        self.last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int, info: str) -> None:
        now = time.perf_counter()
        if done >= total or now - self.last.get(stage, 0.0) > 30:
            self.last[stage] = now
            self.log(f"  {self.name}: {stage} {done}/{total} {info}".rstrip())


def _config(src: Path | None, dense: bool, dense_scope: str | None, cache_dir: str | None) -> Config:
    overrides: dict = {"embed": {"enabled": dense}, "index": {"extra_ignore": SDIST_IGNORE}}
    if dense_scope:
        overrides["index"]["dense_scope"] = dense_scope
    if cache_dir:
        overrides["cache_dir"] = cache_dir
    return load_config(src, overrides=overrides)


def open_index(
    src: Path, spec: SdistSpec, cfg: Config, index_root: Path, dense: bool, log: Log, reuse: bool = False
) -> tuple[Repository, dict]:
    """The sdist's Repository, brought up to date with the current indexing code (see PARSE_CODE etc.)
    and with vectors when ``dense``; the returned report merges the builds that made the index.

    ``reuse`` keeps a complete index built by older indexing code (its marker names the commit that
    built it, and the report carries it): for re-ranking runs over the whole split, where only the
    search code changed and re-parsing 94 sdists would cost an hour; vectors of another embedder are
    still replaced (the chunks are kept).
    """
    index_dir = index_root / spec.slug
    marker = index_dir / "eval-index.json"
    fps = {
        "parse": fingerprint(PARSE_CODE, {"ignore": SDIST_IGNORE, "max_chunk_lines": cfg.index.max_chunk_lines}),
        "graph": fingerprint(GRAPH_CODE),
        "embed": fingerprint(EMBED_CODE, {"model": resolve_model(cfg.embed.model)[0], "scope": cfg.index.dense_scope}),
    }
    state = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
    if reuse and state is not None:
        if not dense or (state["dense"] and state["fp"]["embed"] == fps["embed"]):
            return Repository.open(src, cfg, index_dir), {**state["report"], "reused": True}
        fps = {**fps, "parse": state["fp"]["parse"], "graph": state["fp"]["graph"]}  # keep them: embed only
    if state is not None and state.get("fp", {}).get("parse") != fps["parse"]:
        log(f"  {spec.slug}: parsing code changed since this index was built: rebuilding it")
        state = None
    if state is None and index_dir.exists():  # stale, or left by a killed run: start clean (and timed)
        shutil.rmtree(index_dir)
    had_dense = bool(state and state["dense"])
    repo = Repository.open(src, cfg, index_dir)
    if had_dense and state["fp"]["embed"] != fps["embed"]:
        repo.drop_vectors()  # stale vectors; the content cache refills most
        had_dense = False
    if state is not None and state["fp"]["graph"] == fps["graph"] and (had_dense or not dense):
        return repo, {**state["report"], "reused": True}
    marker.unlink(missing_ok=True)
    report = repo.index(_IndexLog(log, spec.slug), dense=dense)
    seconds = dict(state["report"]["seconds"]) if state else {}
    for stage, value in report.seconds.items():
        if stage in ("discover", "parse", "store") and state is not None and not report.files_parsed:
            continue  # an incremental run: keep the times of the build that parsed
        seconds[stage] = round(value, 2)
    seconds["total"] = round(sum(v for k, v in seconds.items() if k != "total"), 2)
    info = {
        "seconds": seconds, "files": report.files_seen, "chunks": report.chunks_total,
        "parse_errors": report.parse_errors,
        "dense_chunks": report.dense_chunks or (state["report"]["dense_chunks"] if state and had_dense else 0),
        "embedded": report.embedded, "embedded_from_cache": report.embedded_from_cache,
        "graph_nodes": report.graph_nodes, "graph_edges": report.graph_edges,
        "peak_rss_mb": round(report.peak_rss_mb), "notes": report.notes,
        "built_at": _git_state().get("head", ""),
    }
    state = {"fp": fps, "dense": dense or had_dense, "report": info}
    marker.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return repo, {**info, "reused": False}


# -- per-instance evaluation ---------------------------------------------------------------------
def instance_gold(src: Path, inst: Instance) -> tuple[list[tuple[str, str]], list[str]]:
    """Gold entities (path, qualname) of an instance at the sdist version, and how its hunks were placed.

    The entity list is empty when the derivation is incomplete (a hunk could not be placed) or the
    edits are module-level only: such instances are not scored at function level.
    """
    entities: list[tuple[str, str]] = []
    placement: list[str] = []
    hunks = parse_patch(inst.patch)
    for path in inst.gold_files:
        file = src / path
        if not file.is_file():
            placement.append("missing")
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        parsed = parse_source(path, text, language_for_path(path))
        g = gold_entities(
            text, parsed.definitions, [h for h in inst.gold_hunks if h["file"] == path],
            [h for h in hunks if h.path == path],
        )
        entities += [(path, q) for q in g.entities]
        placement += g.placement
    if "unplaced" in placement or "missing" in placement:
        return [], placement
    return entities, placement


def _record(inst: Instance, method: str, key: str, dense: bool, files: list[str],
            symbols: list[tuple[str, str]] | None, gold: list[tuple[str, str]], placement: list[str],
            timings: dict[str, float]) -> dict:
    func_ranks = entity_ranks(symbols, gold) if symbols is not None and gold else None
    return {
        "instance_id": inst.instance_id, "method": method, "key": key, "dense": dense, "sdist": inst.sdist.filename,
        "project": inst.sdist.project, "paper": not inst.excluded_by_papers, "patch_applies": inst.patch_applies,
        "gold_files": inst.gold_files, "file_ranks": gold_ranks(files, inst.gold_files), "top_files": files[:10],
        "func_gold": [f"{p}::{q}" for p, q in gold], "func_placement": placement, "func_ranks": func_ranks,
        "top_symbols": [f"{p}::{q}" for p, q in (symbols or [])[:10]],
        **{k: round(v, 1) for k, v in timings.items()},
    }


def search_repo_rag(
    repo: Repository, query: str, channels: tuple[str, ...], ranking: str = ""
) -> tuple[list[str], list[tuple[str, str]], dict[str, float]]:
    """Distinct files (search_files) and distinct definitions (search) for one query, with timings in ms.

    ``ranking`` overrides ``search.ranking`` ('rrf': the reciprocal-rank fusion the learned ranker replaced).
    """
    searcher = repo.retriever
    if ranking and ranking != searcher.cfg.ranking:
        searcher = HybridRetriever(searcher.store, replace(searcher.cfg, ranking=ranking), searcher.embedder,
                                   searcher.vectors, searcher.graph)
    t0 = time.perf_counter()
    files = [f.path for f in searcher.search_files(query, k=FILE_DEPTH, channels=channels)]
    t1 = time.perf_counter()
    hits = searcher.search(query, k=SYMBOL_DEPTH, channels=channels).hits
    t2 = time.perf_counter()
    symbols = list(dict.fromkeys((h.path, h.symbol) for h in hits if h.kind in DEFINITION_KINDS))
    return files, symbols, {"query_ms": (t1 - t0) * 1000, "symbol_ms": (t2 - t1) * 1000}


# -- the run -------------------------------------------------------------------------------------
@dataclass
class RunSettings:
    data: str
    methods: list[str]
    sample: int | None
    projects: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    dense: bool = False
    dense_scope: str | None = None  # None: the configured default (IndexConfig.dense_scope)
    out: str = "eval/out/swebench"
    cache_dir: str | None = None
    fresh: bool = False
    report_only: bool = False  # summarise the newest stored records; fetch, index and query nothing
    reuse_indexes: bool = False  # keep indexes built by older indexing code (see open_index)


def method_channels(method: str, dense: bool) -> tuple[str, ...]:
    return tuple(c for c in REPO_RAG_METHODS[method] if dense or c != "dense")


def run(settings: RunSettings, log: Log = _stderr) -> dict:
    """Evaluate ``settings.methods`` on the selected sdists; returns the results.json content.

    Long because it is the harness's one sequential script (per sdist: fetch, index, run each
    method, record, checkpoint for resuming), kept in one place so the order of side effects reads
    top to bottom.
    """
    t_run = time.perf_counter()
    for m in settings.methods:
        if m not in METHODS:
            raise UsageError(f"unknown method {m!r} (choose from {', '.join(METHODS)})")
        if m == "dense" and not settings.dense:
            raise UsageError("method 'dense' needs the dense channel: add --dense")
    out = Path(settings.out)
    groups = select(load_instances(settings.data), settings.sample, settings.projects, settings.instances)
    if not groups:
        raise UsageError("no instance matches the selection")
    results = ResultLog(out / "instances.jsonl", fresh=settings.fresh and not settings.report_only)
    # The scope actually used (the configured default unless given) is what results.json records.
    settings.dense_scope = _config(None, settings.dense, settings.dense_scope, settings.cache_dir).index.dense_scope
    search_key = fingerprint(SEARCH_CODE, {"v": RESULT_VERSION, "depth": [FILE_DEPTH, SYMBOL_DEPTH],
                                           "dense": settings.dense, "scope": settings.dense_scope})
    keys = {m: f"{search_key}:{','.join(method_channels(m, settings.dense))}" for m in REPO_RAG_METHODS}
    keys[LLAMAINDEX] = fingerprint(BASELINE_CODE, {"v": RESULT_VERSION, "depth": FILE_DEPTH})
    n_inst = sum(len(g) for _, g in groups)
    log(f"swebench: {len(groups)} sdists, {n_inst} instances, methods {', '.join(settings.methods)}, "
        f"dense {'on' if settings.dense else 'off'}")
    corpus = Corpus(Path(settings.cache_dir) / "bench" if settings.cache_dir else None, log)
    shared_embedder: Embedder | None = None
    for i, (spec, insts) in enumerate([] if settings.report_only else groups, 1):
        if all(results.get(inst.instance_id, m, keys[m]) for inst in insts for m in settings.methods):
            log(f"[{i}/{len(groups)}] {spec.slug}: {len(insts)} instances already done")
            continue
        log(f"[{i}/{len(groups)}] {spec.slug}: {len(insts)} instances")
        try:
            src = corpus.source(spec)
        except CorpusError as exc:
            log(f"  skipped: {exc}")
            _append_sdist_log(out, spec, {"error": str(exc)})
            continue
        cfg = _config(src, settings.dense, settings.dense_scope, settings.cache_dir)
        repo, info = open_index(src, spec, cfg, corpus.root / "index", settings.dense, log,
                                reuse=settings.reuse_indexes)
        indexed = set(repo.store.files())
        for inst in insts:
            for path in inst.gold_files:
                if path not in indexed:
                    log(f"  warning: {inst.instance_id}: gold file {path} is not in the index")
        baseline = None
        try:
            for inst in insts:
                gold, placement = instance_gold(src, inst)
                for method in settings.methods:
                    if results.get(inst.instance_id, method, keys[method]) is not None:
                        continue
                    if method == LLAMAINDEX:
                        if baseline is None:
                            if shared_embedder is None:
                                shared_embedder = Embedder(cfg.embed, cfg.cache_path)
                            baseline, build = _build_baseline(src, repo, shared_embedder, log, spec.slug)
                            info["llamaindex"] = build
                        t0 = time.perf_counter()
                        files = baseline.search_files(inst.problem, k=FILE_DEPTH)
                        rec = _record(inst, method, keys[method], settings.dense, files, None, gold, placement,
                                      {"query_ms": (time.perf_counter() - t0) * 1000})
                    else:
                        channels = method_channels(method, settings.dense)
                        files, symbols, timings = search_repo_rag(repo, inst.problem, channels,
                                                                  RANKING.get(method, ""))
                        rec = _record(inst, method, keys[method], settings.dense, files, symbols, gold, placement,
                                      timings)
                    results.add(rec)
            log("  " + "; ".join(_brief(results, insts, m, keys[m]) for m in settings.methods))
        finally:
            repo.close()
        _append_sdist_log(out, spec, info)
    sdists = _load_sdist_log(out)
    for spec, _ in groups:  # the index as it is now (it may have been built by an earlier run)
        marker = corpus.root / "index" / spec.slug / "eval-index.json"
        if marker.is_file():
            current = json.loads(marker.read_text(encoding="utf-8"))["report"]
            sdists[spec.filename] = {**sdists.get(spec.filename, {}), **current}
    if settings.report_only:
        def lookup(iid: str, method: str) -> dict | None:
            r = results.latest.get((iid, method))
            return r if r is not None and (method == LLAMAINDEX or r.get("dense", False) == settings.dense) else None
    else:
        def lookup(iid: str, method: str) -> dict | None:
            return results.get(iid, method, keys[method])
    report = build_report(settings, groups, lookup, sdists, time.perf_counter() - t_run)
    report["code"] = {**_git_state(), "keys": keys}
    write_outputs(out, report)
    log(f"wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'acc_at_k.png'}")
    return report


def _build_baseline(src: Path, repo: Repository, embedder: Embedder, log: Log, name: str):
    from .baseline_llamaindex import LlamaIndexBaseline

    files = sorted((f.path, f.language) for f in repo.store.files().values())
    log(f"  {name}: building the LlamaIndex baseline over {len(files)} files")
    baseline = LlamaIndexBaseline(src, files, embedder)
    build = asdict(baseline.build())
    log(f"  {name}: llamaindex {build['nodes']} nodes, split {build['seconds_split']:.0f} s, "
        f"embed {build['seconds_embed']:.0f} s")
    return baseline, build


def _brief(results: ResultLog, insts: Sequence[Instance], method: str, key: str) -> str:
    recs = [results.get(i.instance_id, method, key) for i in insts]
    hits = sum(1 for r in recs if r and all(x is not None and x <= 5 for x in r["file_ranks"]))
    return f"{method} Acc@5 {hits}/{len(insts)}"


def _append_sdist_log(out: Path, spec: SdistSpec, info: dict) -> None:
    with open(out / "sdists.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"sdist": spec.filename, **info}) + "\n")


def _load_sdist_log(out: Path) -> dict[str, dict]:
    """Latest record per sdist of this output folder (index report, llamaindex build, fetch error)."""
    path = out / "sdists.jsonl"
    found: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            found[r["sdist"]] = {**found.get(r["sdist"], {}), **r}  # e.g. keeps an earlier llamaindex build
    return found


# -- reporting -----------------------------------------------------------------------------------
def build_report(settings: RunSettings, groups: Sequence[tuple[SdistSpec, list[Instance]]],
                 lookup: Callable[[str, str], dict | None], sdists: dict[str, dict], wall_s: float) -> dict:
    """Everything results.json holds; ``lookup(instance_id, method)`` gives the record to score."""
    insts = [inst for _, g in groups for inst in g]
    per_method: dict[str, list[dict]] = {}
    for m in settings.methods:
        per_method[m] = [r for inst in insts if (r := lookup(inst.instance_id, m)) is not None]
    summaries = {}
    for m, recs in per_method.items():
        paper = [r for r in recs if r["paper"]]
        summaries[m] = {
            "all": _summary(recs).to_dict(),
            "paper": _summary(paper).to_dict(),
            "query_ms_median": median([r["query_ms"] for r in recs]) if recs else None,
        }
    return {
        "settings": asdict(settings),
        "sample": [{"sdist": spec.filename, "instances": [i.instance_id for i in g]} for spec, g in groups],
        "wall_s": round(wall_s, 1),
        "sdists": {spec.filename: sdists.get(spec.filename, {}) for spec, _ in groups},
        "summary": summaries,
        "instances": [r for m in settings.methods for r in per_method[m]],
    }


def _git_state() -> dict:
    """Commit and dirtiness of the code that produced the results (the working tree may be uncommitted)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                  check=False, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"head": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "repo_rag",
                                                                          "indexers", "eval"))}


def _summary(records: Sequence[dict]) -> Summary:
    return summarize([r["file_ranks"] for r in records], [r["func_ranks"] for r in records])


def _from_dict(d: dict) -> Summary:
    return Summary(
        n=d["n"], acc={int(k): v for k, v in d["acc"].items()}, recall={int(k): v for k, v in d["recall"].items()},
        mrr=d["mrr"], func_n=d["func_n"], func_acc={int(k): v for k, v in d["func_acc"].items()},
    )


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def summary_table(summaries: dict[str, Summary], query_ms: dict[str, float | None]) -> str:
    cols = [f"Acc@{k}" for k in KS] + ["Recall@5", "MRR", "fn Acc@5", "fn Acc@10", "n", "fn n", "query ms (median)"]
    head = "| method | " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for m, s in summaries.items():
        cells = [_pct(s.acc.get(k)) for k in KS] + [_pct(s.recall.get(5)), f"{s.mrr:.3f}" if s.n else "–"]
        cells += [_pct(s.func_acc.get(5)), _pct(s.func_acc.get(10)), str(s.n), str(s.func_n) if s.func_n else "–"]
        ms = query_ms.get(m)
        cells.append("–" if ms is None else f"{ms:.0f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    """The report as Markdown. Long because it is one template, section after section."""
    st = report["settings"]
    code = report.get("code", {})
    sample = report["sample"]
    n = sum(len(s["instances"]) for s in sample)
    sel = "all sdists" if st["sample"] is None else f"--sample {st['sample']} (sdists with the most instances first)"
    filters = "".join(f", {k} {','.join(st[k])}" for k in ("projects", "instances") if st[k])
    out = [
        "# SWE-bench Lite file localisation (dev split)",
        "",
        f"- data: `{st['data']}`; selection: {sel}{filters}: {len(sample)} sdists, {n} instances",
        f"- sdists: {', '.join(s['sdist'] for s in sample)}",
        "- dense channel: " + (f"on (scope {st['dense_scope']})" if st["dense"]
                               else "off (fused = lexical+symbol+path, full = fused+graph)"),
        f"- wall time of this invocation: {report['wall_s']:.0f} s (results reused from earlier runs are not re-timed)"
        if not st.get("report_only") else "- wall time: not measured (report-only rendering of stored records)",
        "- code: " + (f"{code.get('head') or '?'}" + (" + uncommitted changes" if code.get("dirty") else "")
                      + ("; report-only: the newest stored record per instance and method, whatever code made it"
                         if st.get("report_only") else "")),
        "- Acc@k: strict (every gold file in the top k distinct files), in %; fn = function level "
        "(see eval/metrics.py); llamaindex has no symbols, so no function level; query ms = file-level "
        "search latency (repo-rag: `search_files`)",
        "",
        "## All selected instances",
        "",
        summary_table({m: _from_dict(v["all"]) for m, v in report["summary"].items()},
                      {m: v["query_ms_median"] for m, v in report["summary"].items()}),
        "",
        "## Paper-comparable subset (excluded_by_papers = false)",
        "",
        summary_table({m: _from_dict(v["paper"]) for m, v in report["summary"].items()},
                      {m: v["query_ms_median"] for m, v in report["summary"].items()}),
        "",
        "## Index builds",
        "",
        "Seconds per stage of the build that made each index (parse/store from the build that parsed it; "
        "an index only re-graphed or given vectors later keeps them). llamaindex: its own chunks, embedded "
        "with the same model (cached by content).",
        "",
        "| sdist | files | chunks | dense chunks | index s | parse | graph | embed | llamaindex nodes "
        "| llamaindex embed s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, info in report["sdists"].items():
        secs = info.get("seconds") or {}
        out.append(
            f"| {name} | {info.get('files', '–')} | {info.get('chunks', '–')} | {info.get('dense_chunks', '–')} | "
            f"{secs.get('total', '–')} | {secs.get('parse', '–')} | {secs.get('graph', '–')} | "
            f"{secs.get('embed', '–')} | {(info.get('llamaindex') or {}).get('nodes', '–')} | "
            f"{(info.get('llamaindex') or {}).get('seconds_embed', '–')} |"
        )
    out += ["", "## Per-instance gold rank (file level; – = not in the top 50)", ""]
    methods = list(report["summary"])
    shown = "full" if "full" in methods else methods[-1]  # whose top file is shown next to the ranks
    out.append("| instance | gold file | " + " | ".join(methods) + f" | top-1 file ({shown}) |")
    out.append("|" + "---|" * (len(methods) + 3))
    by = {(r["instance_id"], r["method"]): r for r in report["instances"]}
    for s in sample:
        for iid in s["instances"]:
            rows = [by.get((iid, m)) for m in methods]
            ref = next((r for r in rows if r), None)
            if ref is None:
                continue
            ranks = [("–" if r is None or r["file_ranks"][0] is None else str(r["file_ranks"][0])) for r in rows]
            ref_row = by.get((iid, shown))
            top = ref_row["top_files"][0] if ref_row and ref_row["top_files"] else "–"
            out.append(f"| {iid} | {', '.join(ref['gold_files'])} | " + " | ".join(ranks) + f" | {top} |")
    return "\n".join(out) + "\n"


def write_outputs(out: Path, report: dict) -> None:
    from .plot import plot_acc_at_k

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    md = render_markdown(report)
    (out / "results.md").write_text(md, encoding="utf-8")
    print(md)
    n = sum(len(s["instances"]) for s in report["sample"])
    title = (f"SWE-bench Lite dev, {len(report['sample'])} sdists / {n} instances, "
             f"dense {'on' if report['settings']['dense'] else 'off'}")
    plot_acc_at_k({m: _from_dict(v["all"]) for m, v in report["summary"].items()}, out / "acc_at_k.png", title)


# -- command line --------------------------------------------------------------------------------
def build_parser(prog: str = "python -m repo_rag.eval swebench") -> argparse.ArgumentParser:
    epilog = (
        "Cost: without --dense an sdist indexes in seconds to a few minutes; with --dense MiniLM embeds "
        "~15-30 chunks/s on 2 CPU cores (Django: 20+ min per sdist, cached by content afterwards); "
        "llamaindex embeds its own chunks on top."
    )
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], epilog=epilog)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="SWE-bench Lite JSON Lines (default: %(default)s)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sample", type=int, default=None,
                   help=f"the N sdists with the most instances, ties by name (default {DEFAULT_SAMPLE})")
    g.add_argument("--all", action="store_true", help="every sdist")
    p.add_argument("--projects", default="", help="comma list of projects (PyPI or repo name), e.g. django,flask")
    p.add_argument("--instances", default="", help="comma list of instance ids")
    p.add_argument("--methods", default="",
                   help=f"comma list of {', '.join(METHODS)} (default: lexical,fused,full; with --dense also dense)")
    p.add_argument("--dense", action=argparse.BooleanOptionalAction, default=False,
                   help="embed chunks and use the dense channel (slow on CPU; default off)")
    p.add_argument("--dense-scope", choices=["all", "non-test"], default=None,
                   help="which chunks get vectors (default: the configured index.dense_scope)")
    p.add_argument("--out", default=str(PROJECT_ROOT / "eval" / "out" / "swebench"), help="output folder")
    p.add_argument("--cache-dir", default=None, help="cache root (default: repo-rag's cache, REPO_RAG_CACHE_DIR)")
    p.add_argument("--reuse-indexes", action="store_true",
                   help="keep each sdist's index even when the indexing code changed since it was built "
                        "(the report names the commit that built it); for re-ranking runs")
    p.add_argument("--fresh", action="store_true", help="ignore results stored by earlier runs in --out")
    p.add_argument("--report-only", action="store_true",
                   help="only rewrite the outputs from the newest records stored in --out (even if produced by "
                        "older code); fetches, indexes and queries nothing")
    return p


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        methods = ["lexical", "dense", "fused", "full"] if args.dense else ["lexical", "fused", "full"]
    sample = None if args.all else (args.sample if args.sample is not None else DEFAULT_SAMPLE)
    return RunSettings(
        data=args.data, methods=methods, sample=sample, projects=[x for x in args.projects.split(",") if x],
        instances=[x for x in args.instances.split(",") if x], dense=args.dense, dense_scope=args.dense_scope,
        out=args.out, cache_dir=args.cache_dir, fresh=args.fresh, report_only=args.report_only,
        reuse_indexes=args.reuse_indexes,
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval swebench") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not Path(args.data).is_file():
        parser.error(f"data file not found: {args.data}")
    try:
        run(settings_from_args(args))
    except UsageError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        _stderr("interrupted: finished results are kept; rerun the same command to continue")
        return 130
    return 0
