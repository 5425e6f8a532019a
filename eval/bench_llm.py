"""Embedded-model speed: prompt reading and generation per thread count, and what the KV prefix cache saves.

For each GGUF (``--model``: ``smollm2``, ``gemma3-270m`` or a path) and each thread count, reports:

* ``load_s``: loading the model;
* ``prompt_tok_s``: prompt evaluation speed on a ``--prompt-tokens`` long code prompt (best of two);
* ``gen_tok_s``: generation speed over 64 tokens;
* ``cold_first_ms`` / ``warm_first_ms``: first token of a real answer prompt (``repo_rag.prompt``: rules,
  worked example, fenced code) evaluated from an empty KV cache, and after :func:`fixed_messages` was
  cached (what ``Repository.warm`` and a long-lived process get).

Also prints ``llama_print_system_info()`` and the CPU flags the machine exposes, because the build only
uses what the compiler sees (``GGML_NATIVE``).

    python -m repo_rag.eval bench-llm --model smollm2 --model gemma3-270m --threads 1 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from repo_rag.llama_runtime import chat_dicts, needs_gemma_turns, quiet_llama_log, resolve_model_path
from repo_rag.pack import PackedContext
from repo_rag.prompt import build_prompt, fixed_messages

ROOT = Path(__file__).resolve().parent.parent


def cpu_flags() -> list[str]:
    """The SIMD flags of interest that /proc/cpuinfo exposes (empty where there is no /proc)."""
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in set(flags) if f.startswith(("avx", "fma", "f16c", "amx")))


def _code_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "repo_rag").glob("*.py")))


def _answer_prompt(llama, counter_budget: int) -> list[dict]:
    """A realistic answer prompt: the fixed start, then ``counter_budget`` tokens of fenced code."""
    code = llama.detokenize(llama.tokenize(_code_text().encode(), add_bos=False)[:counter_budget]).decode(
        "utf-8", "ignore")
    packed = PackedContext(blocks=[], kept=[], dropped=[], tokens=0, budget=0, tokenizer="")
    prompt = build_prompt("where is the answer text assembled?", packed)
    messages = prompt.messages()
    messages[-1].content = messages[-1].content.replace("(no code was retrieved for this question)", code)
    return chat_dicts(messages, llama.chat_format == "gemma")


def measure(model: str, threads: int, prompt_tokens: int, context_tokens: int) -> dict:
    """One row: a fresh model load at ``threads`` threads (see the module docstring)."""
    from llama_cpp import Llama

    quiet_llama_log()
    path = resolve_model_path(model)
    t = time.perf_counter()
    llama = Llama(model_path=str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    load = time.perf_counter() - t
    if needs_gemma_turns(llama.metadata):
        llama.chat_format = "gemma"
    tokens = llama.tokenize(_code_text().encode(), add_bos=True)[:prompt_tokens]
    best = float("inf")
    for _ in range(2):
        llama.reset()
        t = time.perf_counter()
        llama.eval(tokens)
        best = min(best, time.perf_counter() - t)
    n, t1 = 0, 0.0
    for _ in llama.generate(tokens[:64], temp=0.0, reset=True):
        n += 1
        if n == 1:
            t1 = time.perf_counter()
        if n > 64:
            break
    gen = 64 / (time.perf_counter() - t1)
    messages = _answer_prompt(llama, context_tokens)

    def first_token_ms() -> float:
        t = time.perf_counter()
        for _ in llama.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0, stream=True):
            break
        return (time.perf_counter() - t) * 1000

    llama.reset()  # an empty KV cache: nothing to reuse
    cold = first_token_ms()
    fixed = chat_dicts(fixed_messages(), llama.chat_format == "gemma")
    llama.create_chat_completion(messages=fixed, max_tokens=1, temperature=0.0)  # what warm() does
    warm = first_token_ms()
    return {"model": path.stem, "threads": threads, "load_s": round(load, 2), "prompt_tokens": len(tokens),
            "prompt_tok_s": round(len(tokens) / best, 1), "gen_tok_s": round(gen, 1),
            "context_tokens": context_tokens, "cold_first_ms": round(cold), "warm_first_ms": round(warm)}


def main(argv: list[str] | None = None, prog: str = "python -m repo_rag.eval bench-llm") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", help="smollm2 (default), gemma3-270m or a GGUF path; repeatable")
    p.add_argument("--threads", action="append", type=int, help="thread counts to try (default: 1 and 2)")
    p.add_argument("--prompt-tokens", type=int, default=1320, help="length of the raw prompt-speed test")
    p.add_argument("--context-tokens", type=int, default=512, help="code tokens in the answer prompt")
    p.add_argument("--out", default="eval/out/bench-llm", help="directory for bench-llm.json")
    args = p.parse_args(argv)
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode().strip()
    rows = [measure(m, t, args.prompt_tokens, args.context_tokens)
            for m in (args.model or ["smollm2"]) for t in (args.threads or [1, 2])]
    cols = ["model", "threads", "load_s", "prompt_tokens", "prompt_tok_s", "gen_tok_s", "context_tokens",
            "cold_first_ms", "warm_first_ms"]
    table = "\n".join(["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
                      + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])
    print(f"llama.cpp build: {info}\nCPU flags: {' '.join(cpu_flags())}\n\n{table}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-llm.json").write_text(json.dumps({"system_info": info, "cpu_flags": cpu_flags(), "rows": rows,
                                                    "argv": sys.argv}, indent=2), encoding="utf-8")
    print(f"\nwrote {out / 'bench-llm.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
