"""Shared fixtures: the polyglot fixture repo indexed once per session (dense + lexical + graph)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import Field

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

FIXTURES = Path(__file__).parent / "fixtures"
POLYGLOT = FIXTURES / "polyglot"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the embedding cache per session unless the caller set one (CI sets a shared one)."""
    if "REPO_RAG_CACHE_DIR" not in os.environ:
        os.environ["REPO_RAG_CACHE_DIR"] = str(tmp_path_factory.mktemp("repo-rag-cache"))


@pytest.fixture(scope="session")
def polyglot_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the fixture repo (tests may modify it)."""
    dest = tmp_path_factory.mktemp("polyglot") / "repo"
    shutil.copytree(POLYGLOT, dest)
    return dest


@pytest.fixture(scope="session")
def polyglot_repo(polyglot_copy: Path, tmp_path_factory: pytest.TempPathFactory):
    """The fixture repo, indexed with all channels into a temp index dir."""
    from repo_rag.config import load_config
    from repo_rag.repository import Repository

    index_dir = tmp_path_factory.mktemp("polyglot-index")
    repo = Repository(polyglot_copy, load_config(polyglot_copy), index_dir)
    repo.index()
    return repo


def parse_python(text: str):
    """``ast.parse`` with the garbage collector paused: a finalizer (llama-cpp's ``__del__``) that runs
    inside ast.parse trips CPython 3.11's "AST constructor recursion depth mismatch" check."""
    import ast
    import gc

    gc.collect()
    gc.disable()
    try:
        return ast.parse(text)
    finally:
        gc.enable()


def stored_vectors(store) -> dict[tuple, np.ndarray]:
    """Dense vectors of a store keyed by their chunk's (path, lines, part, content hash)."""
    rows = store.con.execute(
        "SELECT c.path, c.start_line, c.end_line, c.part, c.hash, v.vec "
        "FROM vectors v JOIN chunks c ON c.id = v.chunk_id"
    )
    return {tuple(r[:5]): np.frombuffer(r[5], dtype="<f4") for r in rows}


def assert_same_vectors(a, b) -> None:
    """Both stores hold a vector for the same chunks, and the same vector (cosine > 0.999) for each."""
    va, vb = stored_vectors(a), stored_vectors(b)
    assert set(va) == set(vb), set(va) ^ set(vb)
    for key in va:
        assert float(va[key] @ vb[key]) > 0.999, f"stale vector for {key}"


class Listener:
    """A TCP port on 127.0.0.1 that records every connection (and the first bytes) reaching it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[bytes] = []
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.received.append(conn.recv(65536))
            except OSError:
                self.received.append(b"")
            conn.close()

    def close(self) -> None:
        self._stop = True
        time.sleep(0.3)
        self.sock.close()


class ScriptedLLM(CustomLLM):
    """A LlamaIndex LLM that streams a fixed reply, or the reply whose key occurs in the prompt."""

    reply: str = "not found in this repository"
    replies: dict = Field(default_factory=dict)
    name: str = "scripted"
    seen: list = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=4096, num_output=256, is_chat_model=False, model_name=self.name)

    def _reply(self, prompt: str) -> str:
        return next((r for key, r in self.replies.items() if key in prompt), self.reply)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.seen.append(prompt)
        return CompletionResponse(text=self._reply(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self.seen.append(prompt)
        words = re.findall(r"\S+\s*", self._reply(prompt))

        def gen() -> CompletionResponseGen:
            text = ""
            for w in words:
                text += w
                yield CompletionResponse(text=text, delta=w)

        return gen()
