"""Indexing on a Ray cluster: parsing as Ray tasks, embedding on a pool of encoder actors.

The index is the same as the local engine's (same chunks in the same order, hence the same chunk ids,
the same graph, vectors equal within float tolerance); only where the work runs changes:

- on the driver (the indexing process): discovery, reading each file and comparing its hash with the
  stored one, the store (one writer, the same transactions as the local engine), the graph, and the
  embedding cache (only texts it lacks go to the cluster);
- Ray tasks: parsing and chunking, :data:`BATCH_FILES` files per task, the texts sent with the task
  (workers need not see the repository's filesystem), at most :data:`WINDOW_PER_CPU` tasks per cluster
  CPU in flight (bounded driver memory), consumed in input order;
- encoder actors, created on the first embedding and shared by every repository of the run: one per
  GPU (``num_gpus=1``) when the cluster has GPUs, else one per two CPUs (ONNX on the CPU), so parse
  tasks of the next repository still find CPUs.

Which cluster, in order: ``ray_address`` (``index.ray_address``, ``--ray-address``) joins an existing
one; '' joins the cluster this process is already connected to, else starts a local one with no
dashboard, shut down by :meth:`RayEngine.close`. Ray's servers listen on the machine's interfaces
whatever address is asked for (Ray resolves 127.0.0.1 to the node's address), and a Ray cluster runs
whatever code a connected client sends, so a local cluster is started only with Ray's token
authentication on (Ray's default; a client without the token in ``~/.ray/auth_token`` is refused):
``RAY_AUTH_MODE=disabled`` is refused here.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from repo_rag.indexers.model import SourceFile

from .config import EmbedConfig
from .embed import Embedder
from .errors import RepoRagError
from .parse_worker import BATCH_FILES, Parsed, parse_texts, read_for_parse

WINDOW_PER_CPU = 2

# progress(stage, done, total, info), as repo_rag.indexer.Progress
Progress = Callable[[str, int, int, str], None]


class RayEngineError(RepoRagError, RuntimeError):
    """Ray is not installed, the cluster cannot be reached, or its encoders disagree with this process."""


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise RayEngineError("the ray engine needs Ray: pip install 'repo-rag[scale]'") from exc
    return ray


def slices(n: int, parts: int, batch: int) -> list[tuple[int, int]]:
    """At most ``parts`` contiguous ranges covering ``range(n)``, each starting on a ``batch`` boundary, so
    every encoder batch holds the texts the local engine's would (int8 ONNX quantises activations per
    batch: other batch compositions move a vector by up to ~1.5% in cosine, measured on Django chunks)."""
    step = max(batch, -(-n // parts // batch) * batch)
    return [(a, min(a + step, n)) for a in range(0, n, step)]


class _Encoder:
    """Actor body: the configured embedding model, loaded once per actor (no cache: the driver has it)."""

    def __init__(self, cfg: EmbedConfig, device: str, cache_dir: Path | None) -> None:
        from dataclasses import replace

        # cache_dir holds converted model files (an ONNX export), never embeddings: the driver has those
        self.embedder = Embedder(replace(cfg, cache=False, device=device), cache_dir)

    def model_id(self) -> str:
        return self.embedder.model_id

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode_uncached(texts)


class RayEngine:
    def __init__(self, address: str = "") -> None:
        ray = _ray()
        self._started = False
        if not ray.is_initialized():
            if not address and os.environ.get("RAY_AUTH_MODE", "").strip().lower() == "disabled":
                raise RayEngineError(
                    "RAY_AUTH_MODE=disabled: a local Ray cluster would run code sent by anyone who can "
                    "reach this machine; unset it, or join a cluster you run with --ray-address")
            options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                       "configure_logging": False}
            try:
                if address:
                    ray.init(address=address, **options)
                else:
                    ray.init(num_cpus=os.cpu_count() or 1, **options)
                    self._started = True
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                raise RayEngineError(f"cannot start or join the Ray cluster {address or '(local)'}: {exc}") from exc
        self.ray = ray
        self._parse = ray.remote(num_cpus=1)(parse_texts)
        self._encoders: list = []
        self._encoder_key: tuple | None = None

    @property
    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    # -- parsing -------------------------------------------------------------------------------
    def parse(self, todo: list[tuple[SourceFile, str | None]], max_chunk_lines: int,
              progress: Progress) -> Iterator[Parsed]:
        """Parsed files in input order (see the module docstring)."""
        window: deque = deque()  # a finished batch (list), or the ObjectRef of a batch in flight
        pending: list[tuple[SourceFile, str, str]] = []
        limit = self.cpus * WINDOW_PER_CPU
        flying = done = 0

        def flush() -> None:
            nonlocal flying
            if pending:
                window.append(self._parse.remote(list(pending), max_chunk_lines))
                pending.clear()
                flying += 1

        def drain(keep: int) -> Iterator[Parsed]:
            nonlocal flying, done
            while window and (isinstance(window[0], list) or flying > keep):
                head = window.popleft()
                if not isinstance(head, list):
                    head = self.ray.get(head)
                    flying -= 1
                done += len(head)
                progress("parse", done, len(todo), "")
                yield from head

        for source, old_hash in todo:
            got = read_for_parse(source, old_hash)
            if isinstance(got, Parsed):  # unreadable or unchanged: nothing to send
                flush()
                window.append([got])
            else:
                pending.append((source, got[1], got[0]))
                if len(pending) >= BATCH_FILES:
                    flush()
            yield from drain(limit)
        flush()
        yield from drain(0)

    # -- embedding -----------------------------------------------------------------------------
    def encoder(self, embedder: Embedder) -> Callable[[list[str]], np.ndarray]:
        """A drop-in for ``embedder``'s own encoding, spread over the actor pool."""
        key = (embedder.cfg,)
        if self._encoder_key != key:
            self._encoders = self._start_encoders(embedder.cfg, embedder.cache_dir)
            self._encoder_key = key
            ids = set(self.ray.get([a.model_id.remote() for a in self._encoders]))
            if ids != {embedder.model_id}:
                raise RayEngineError(
                    f"the cluster's encoders run {', '.join(sorted(ids))} but this process embeds queries with "
                    f"{embedder.model_id}: set [embed] backend/device so both agree")
        actors = self._encoders

        batch = max(1, embedder.cfg.batch_size)

        def encode(texts: list[str]) -> np.ndarray:
            parts = [texts[a:b] for a, b in slices(len(texts), len(actors), batch)]
            out = self.ray.get([a.encode.remote(p) for a, p in zip(actors, parts, strict=False)])
            return np.concatenate(out) if out else np.zeros((0, embedder.dim), dtype=np.float32)

        return encode

    def _start_encoders(self, cfg: EmbedConfig, cache_dir: Path | None) -> list:
        for actor in self._encoders:
            self.ray.kill(actor)
        gpus = int(self.ray.cluster_resources().get("GPU", 0))
        if gpus:
            actor = self.ray.remote(num_gpus=1, num_cpus=1)(_Encoder)
            return [actor.remote(cfg, cfg.device or "cuda", cache_dir) for _ in range(gpus)]
        actor = self.ray.remote(num_cpus=1)(_Encoder)
        return [actor.remote(cfg, "cpu", cache_dir) for _ in range(max(1, self.cpus // 2))]

    def close(self) -> None:
        for actor in self._encoders:
            self.ray.kill(actor)
        self._encoders = []
        self._encoder_key = None
        if self._started:
            self.ray.shutdown()
            self._started = False
