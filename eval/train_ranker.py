"""Train the learned ranker on the train projects, judge it on the validation projects, ship it.

Decision order (``python -m repo_rag.eval train-ranker``):

1. read the candidate features that ``retrieval-data`` dumped (one file per project); a project's
   split comes from :mod:`.splits`, never from this command;
2. train LightGBM LambdaRank on the TRAIN projects only, with hyperparameters fixed in
   :data:`PARAMS` before any validation number was seen (nothing here is tuned on validation);
   each dataset weighs the same in total (the mined queries outnumber the questions);
3. score every VALIDATION query with each single channel (lexical, dense), the old ranking
   (reciprocal-rank fusion with test/doc priors) and the learned model; file hit@1/@5, file
   MRR@10 and definition hit@5/@10, per dataset, language and split;
4. ablation: the model retrained with each feature group zeroed, same data, same parameters;
5. with ``--write-model``, ``repo_rag/rank/ranker.json`` gets the model, its features, the
   training data summary, this command and the validation table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repo_rag.config import load_config
from repo_rag.embed import resolve_model
from repo_rag.rank import FEATURE_GROUPS, FEATURES, RANKER_FILE
from repo_rag.rank.model import FORMAT

from .retrieval_data import features_dir

PARAMS = {
    "objective": "lambdarank", "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31,
    "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
    "label_gain": [0, 1, 3, 7], "random_state": 0, "deterministic": True, "force_row_wise": True,
    "n_jobs": 2, "verbose": -1,
}
KS = (1, 5, 10)
METHODS = ("lexical", "dense", "rrf", "learned")


@dataclass
class Corpus:
    key: str
    dataset: str
    project: str
    split: str
    queries: list[dict]
    a: dict[str, np.ndarray]


def load_corpora(folder: Path) -> list[Corpus]:
    out = []
    for meta_path in sorted(folder.glob("*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        stored = meta.get("features", [])
        if not set(FEATURES) <= set(stored):
            print(f"skipped {meta_path.name}: dumped without features {sorted(set(FEATURES) - set(stored))} "
                  "(rerun retrieval-data)")
            continue
        with np.load(meta_path.with_suffix(".npz")) as z:
            arrays = {k: z[k] for k in z.files}
        # a feature dropped from the code since the dump is dropped here (no re-search needed)
        arrays["x"] = arrays["x"][:, [stored.index(f) for f in FEATURES]]
        arrays["train_label"] = _training_labels(arrays, meta)
        c = meta["corpus"]
        out.append(Corpus(meta_path.stem, c["dataset"], c["project"], meta["split"], meta["queries"], arrays))
    return out


def _training_labels(a: dict[str, np.ndarray], meta: dict) -> np.ndarray:
    """The graded labels the model learns: 3 for the gold definition itself, 2 for a chunk nested
    inside it (a method of a gold class), 1 for another chunk of the gold file, 0 otherwise.

    Metrics count 2 and 3 alike (a member of the gold class is a hit), but the ranking should put
    the named definition above its members: "where is the PasswordValidator class" is the class.
    """
    symbols = meta["symbols"]
    gold = [{f"{f}\0{g}" for f, g in zip(q["gold_files"], q["gold_symbols"], strict=False)} for q in meta["queries"]]
    exact = np.fromiter((symbols[s] in gold[q] for s, q in zip(a["symbol_id"], a["qid"], strict=True)), dtype=bool,
                        count=len(a["qid"]))
    return np.where(exact & (a["label"] == 2), 3, a["label"]).astype(np.int8)


def _stack(corpora: Sequence[Corpus]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of queries that have a positive candidate, with group sizes and per-row weights."""
    per_dataset = defaultdict(int)
    for c in corpora:
        per_dataset[c.dataset] += len(c.queries)
    total = sum(per_dataset.values())
    xs, ys, groups, weights = [], [], [], []
    for c in corpora:
        w = total / (len(per_dataset) * per_dataset[c.dataset])
        qid = c.a["qid"]
        bounds = np.flatnonzero(np.diff(qid)) + 1
        for rows in np.split(np.arange(len(qid)), bounds):
            if len(rows) and c.a["label"][rows].max() > 0:
                xs.append(c.a["x"][rows])
                ys.append(c.a["train_label"][rows] if "train_label" in c.a else c.a["label"][rows])
                groups.append(len(rows))
                weights.append(np.full(len(rows), w, dtype=np.float64))
    return np.concatenate(xs), np.concatenate(ys), np.asarray(groups), np.concatenate(weights)


def train(corpora: Sequence[Corpus], zero: Sequence[str] = ()):
    import lightgbm

    x, y, groups, w = _stack(corpora)
    if zero:
        x = x.copy()
        x[:, [FEATURES.index(f) for f in zero]] = 0.0
    model = lightgbm.LGBMRanker(**PARAMS)
    model.fit(x, y, group=groups, sample_weight=w)
    return model.booster_


def method_scores(c: Corpus, method: str, booster=None, zero: Sequence[str] = ()) -> np.ndarray:
    """Higher is better; -inf for candidates the method does not rank at all."""
    a = c.a
    if method == "lexical":
        return np.where(a["lex_rank"] > 0, -a["lex_rank"].astype(float), -np.inf)
    if method == "dense":
        return np.where(a["dense_rank"] > 0, -a["dense_rank"].astype(float), -np.inf)
    if method == "rrf":
        return np.where(a["rrf"] > 0, a["rrf"], -np.inf)
    x = a["x"]
    if zero:
        x = x.copy()
        x[:, [FEATURES.index(f) for f in zero]] = 0.0
    return booster.predict(x, num_threads=2)


def query_metrics(c: Corpus, scores: np.ndarray) -> list[dict]:
    """Per query: rank of the first gold file among distinct files, of the first gold definition."""
    a = c.a
    out = []
    qid = a["qid"]
    bounds = np.flatnonzero(np.diff(qid)) + 1
    starts = {int(qid[rows[0]]): rows for rows in np.split(np.arange(len(qid)), bounds) if len(rows)}
    for qi in range(len(c.queries)):
        rows = starts.get(qi, np.zeros(0, dtype=int))
        rows = rows[np.isfinite(scores[rows])]
        order = rows[np.argsort(-scores[rows], kind="stable")]
        file_rank = sym_rank = None
        seen_files: dict[int, int] = {}
        seen_syms: dict[int, int] = {}
        for r in order:
            f = int(a["file_id"][r])
            if f not in seen_files:
                seen_files[f] = len(seen_files) + 1
            if file_rank is None and a["label"][r] >= 1:
                file_rank = seen_files[f]
            if a["is_def"][r]:
                s = int(a["symbol_id"][r])
                if s not in seen_syms:
                    seen_syms[s] = len(seen_syms) + 1
                if sym_rank is None and a["label"][r] == 2:
                    sym_rank = seen_syms[s]
        q = c.queries[qi]
        out.append({"dataset": c.dataset, "project": c.project, "split": c.split, "language": q["language"],
                    "kind": q["kind"], "file_rank": file_rank, "symbol_rank": sym_rank})
    return out


def summarise(rows: Sequence[dict]) -> dict:
    def hit(key: str, k: int) -> float:
        return sum(1 for r in rows if r[key] is not None and r[key] <= k) / max(len(rows), 1)

    mrr = sum(1 / r["file_rank"] for r in rows if r["file_rank"] and r["file_rank"] <= 10) / max(len(rows), 1)
    smrr = sum(1 / r["symbol_rank"] for r in rows if r["symbol_rank"] and r["symbol_rank"] <= 10) / max(len(rows), 1)
    return {"n": len(rows), "file_hit@1": hit("file_rank", 1), "file_hit@5": hit("file_rank", 5),
            "file_mrr@10": mrr, "symbol_hit@1": hit("symbol_rank", 1), "symbol_hit@5": hit("symbol_rank", 5),
            "symbol_hit@10": hit("symbol_rank", 10), "symbol_mrr@10": smrr}


def evaluate(corpora: Sequence[Corpus], booster, zero: Sequence[str] = (), methods=METHODS) -> dict[str, list[dict]]:
    return {m: [r for c in corpora for r in query_metrics(c, method_scores(c, m, booster, zero))] for m in methods}


def _groups(rows: Sequence[dict], *keys: str) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return dict(sorted(out.items()))


COLUMNS = ("file_hit@1", "file_hit@5", "file_mrr@10", "symbol_hit@5", "symbol_mrr@10")


def table(per_method: dict[str, list[dict]], keys: Sequence[str]) -> str:
    head = "| " + " | ".join(keys) + " | n | method | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2 + len(COLUMNS))]
    groups = {m: _groups(rows, *keys) for m, rows in per_method.items()}
    first = next(iter(groups.values()))
    for g in first:
        for m in per_method:
            s = summarise(groups[m][g])
            cells = " | ".join(f"{s[col]:.3f}" for col in COLUMNS)
            lines.append(f"| {' | '.join(map(str, g))} | {s['n']} | {m} | {cells} |")
    return "\n".join(lines)


def ablation(train_set: Sequence[Corpus], val_set: Sequence[Corpus], full: dict[str, list[dict]]) -> str:
    lines = ["| model | dataset | n | file_hit@1 | file_hit@5 | symbol_hit@5 |", "|---|---|---|---|---|---|"]
    variants = [("all features", full["learned"])]
    for group, feats in FEATURE_GROUPS.items():
        booster = train(train_set, zero=feats)
        variants.append((f"without {group}", evaluate(val_set, booster, feats, ("learned",))["learned"]))
    for name, rows in variants:
        for (dataset,), rs in _groups(rows, "dataset").items():
            s = summarise(rs)
            lines.append(f"| {name} | {dataset} | {s['n']} | {s['file_hit@1']:.3f} | {s['file_hit@5']:.3f} | "
                         f"{s['symbol_hit@5']:.3f} |")
    return "\n".join(lines)


def _dev(train_set: Sequence[Corpus], only: set[str] = frozenset(), folds: int = 4) -> int:
    """Cross-validation by project within the train split (what feature work may look at); with
    ``only``, the folds train on those datasets alone and are judged on all."""
    projects = sorted({c.project for c in train_set})
    results: dict[str, list[dict]] = defaultdict(list)
    for fold in range(folds):
        held = {p for i, p in enumerate(projects) if i % folds == fold}
        booster = train([c for c in train_set if c.project not in held and (not only or c.dataset in only)])
        for m, rows in evaluate([c for c in train_set if c.project in held], booster).items():
            results[m] += rows
    print(f"# DEV: {folds}-fold cross-validation by project inside the train split ({len(projects)} projects)\n")
    print(table(results, ("dataset",)))
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval train-ranker") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--features", default="", help="folder of retrieval-data dumps (default: the cache's)")
    p.add_argument("--out", default="eval/out/ranker", help="report folder (default: %(default)s)")
    p.add_argument("--ablation", action="store_true", help="also retrain without each feature group")
    p.add_argument("--write-model", action="store_true", help=f"write the trained model to {RANKER_FILE}")
    p.add_argument("--skip-validation", action="store_true",
                   help="train and write the model without scoring the validation projects")
    p.add_argument("--score-model", default="", metavar="RANKER_JSON",
                   help="judge this shipped model (e.g. an older ranker.json) on the validation projects "
                        "instead of training one")
    p.add_argument("--train-datasets", default="",
                   help="comma list: train only on these datasets (default: every dumped one); "
                        "judging still covers every dataset")
    p.add_argument("--dev", action="store_true",
                   help="development mode: 4-fold cross-validation by project INSIDE the train split; "
                        "validation projects are not read (use this while changing features)")
    args = p.parse_args(argv)
    folder = Path(args.features) if args.features else features_dir(load_config(None))
    corpora = load_corpora(folder)
    train_set = [c for c in corpora if c.split == "train"]
    val_set = [c for c in corpora if c.split == "validation"]
    only = {d for d in args.train_datasets.split(",") if d}
    if args.dev:
        return _dev(train_set, only)
    if only:
        train_set = [c for c in train_set if c.dataset in only]
    if not train_set or not val_set:
        p.error(f"need train and validation projects in {folder} (run retrieval-data first)")
    t0 = time.perf_counter()
    booster = _Shipped(args.score_model) if args.score_model else train(train_set)
    train_s = time.perf_counter() - t0
    if args.score_model and (args.write_model or args.ablation):
        p.error("--score-model judges a model; it does not train, ablate or write one")
    if args.skip_validation:
        _write_model(booster, train_set, val_set, None)
        return 0
    results = evaluate(val_set, booster)
    report = [f"# Learned ranker: validation projects only\n\ntrain: {len(train_set)} projects, "
              f"{sum(len(c.queries) for c in train_set)} queries; validation: {len(val_set)} projects, "
              f"{sum(len(c.queries) for c in val_set)} queries; training {train_s:.1f} s\n",
              "## By dataset\n", table(results, ("dataset",)), "\n## By dataset and language\n",
              table(results, ("dataset", "language")), "\n## Paraphrased questions by kind\n",
              table({m: [r for r in rs if r["dataset"] == "paraphrased"] for m, rs in results.items()},
                    ("kind",))]
    if args.ablation:
        report += ["\n## Ablation (feature group zeroed at training and scoring)\n", ablation(train_set, val_set,
                                                                                               results)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(report) + "\n"
    (out / "results.md").write_text(text, encoding="utf-8")
    summary = {m: {"/".join(k): summarise(v) for k, v in _groups(rs, "dataset").items()} for m, rs in results.items()}
    (out / "results.json").write_text(json.dumps({"summary": summary, "queries": results}, indent=1),
                                      encoding="utf-8")
    print(text)
    if args.write_model:
        _write_model(booster, train_set, val_set, summary["learned"])
    return 0


class _Shipped:
    """A shipped model (``ranker.json`` + its ONNX file) where a trained booster is expected."""

    def __init__(self, path: str) -> None:
        from repo_rag.rank.model import LearnedRanker

        self.model = LearnedRanker.load(path)

    def predict(self, x: np.ndarray, num_threads: int = 0) -> np.ndarray:
        return self.model.score(x)


def export_ranker(booster, path: Path, meta: dict) -> None:
    """Write ``booster`` as ONNX beside ``path`` and ``meta`` (+ features, file name, sha256) as ``path``."""
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = onnxmltools.convert_lightgbm(booster, initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
                                         target_opset=15)
    data = model.SerializeToString()
    onnx_path = path.with_suffix(".onnx")
    onnx_path.write_bytes(data)
    meta = {"format": FORMAT, **meta, "features": list(FEATURES), "onnx": onnx_path.name,
            "onnx_sha256": hashlib.sha256(data).hexdigest()}
    path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def _write_model(booster, train_set: Sequence[Corpus], val_set: Sequence[Corpus], validation: dict | None) -> None:
    export_ranker(booster, RANKER_FILE, {
        "version": time.strftime("%Y%m%d"), "params": PARAMS,
        "command": "python -m repo_rag.eval retrieval-data && python -m repo_rag.eval train-ranker --write-model",
        "trained_on": sorted(c.key for c in train_set), "validated_on": sorted(c.key for c in val_set),
        "train_queries": sum(len(c.queries) for c in train_set), "validation": validation,
        # the dense features (cosine, rank) are this embedder's: another one shifts their scale
        "embed_model": resolve_model(load_config(None).embed.model)[0],
        "python": platform.python_version(),
    })
    print(f"wrote {RANKER_FILE} and {RANKER_FILE.with_suffix('.onnx').name} "
          f"({RANKER_FILE.with_suffix('.onnx').stat().st_size // 1024} KiB)")
