"""Security of the answer pipeline (issue #8): secrets, the file gate, the API key, the endpoint, the question.

A small repository plants canaries where a careless pipeline would leak them: high-confidence
tokens inside an ordinary source file (``settings.py``: an AWS access key id, a GitHub token, a
private-key block), a ``.env`` file, and ``notes.txt``, a symlink to ``.env``. It is indexed
lexically (no embeddings) with and without ``index.follow_symlinks``, and every face of the
answer is searched for the canaries: the messages a stub chat model receives, the answer text,
the sources (with their code text), ``Answer.to_dict()`` and ``repo-rag ask --llm none --json``.

The canary strings are assembled at run time so no scanner flags this file.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import Field

from repo_rag.answer import Answer, Answerer
from repo_rag.cli import main as cli_main
from repo_rag.config import load_config
from repo_rag.files import FileAccessError
from repo_rag.hits import SearchHit, SearchResult
from repo_rag.llm import OpenAICompatibleLLM, build_llm, describe_endpoint
from repo_rag.pack import estimate_counter, pack_context
from repo_rag.query import QueryTooLongError
from repo_rag.repository import Repository
from repo_rag.verify import CitationVerifier, verify_answer

AWS_KEY = "AKIA" + "CANARY" + "7Q2W4E6R8T"  # AKIA + 16 of [0-9A-Z]
GITHUB_TOKEN = "ghp_" + "Canary" + "0123456789abcdefghijABCDEFGHIJ"  # ghp_ + 36
PEM_BODY = "MIIEcanaryPEMbody" + "Q29kZUlzTm90QVNlY3JldA"
DOTENV_SECRET = "dotenv-canary-" + "s3cr3t-Zq81"
CANARIES = (AWS_KEY, GITHUB_TOKEN, PEM_BODY, DOTENV_SECRET)
API_KEY = "sk-" + "canary-api-key-" + "0000ffff"

SETTINGS = f'''"""Deployment settings for the shop: storage credentials and the signing key."""

AWS_ACCESS_KEY_ID = "{AWS_KEY}"
GITHUB_TOKEN = "{GITHUB_TOKEN}"

SIGNING_KEY = """-----BEGIN RSA PRIVATE KEY-----
{PEM_BODY}
{PEM_BODY[::-1]}
-----END RSA PRIVATE KEY-----"""


def storage_credentials():
    """Return the AWS access key id used for the storage bucket."""
    return {{"key_id": AWS_ACCESS_KEY_ID, "token": GITHUB_TOKEN}}


def signing_key():
    """The private key that signs the shop's webhooks."""
    return SIGNING_KEY
'''

APP = '''"""The shop application: reads its settings."""

from settings import signing_key, storage_credentials


def connect_storage():
    """Connect to the storage bucket with the AWS access key from settings."""
    return storage_credentials()["key_id"]
'''

QUESTIONS = (
    "what is the AWS access key id in settings storage_credentials",
    "what is the GITHUB_TOKEN value",
    "show the private key SIGNING_KEY signing_key",
    "what is in notes.txt",
    "what is the SHOP_DB_PASSWORD in .env",
)


class RecordingChatLLM(CustomLLM):
    """A stub chat model: records every message it is sent, streams a fixed reply."""

    reply: str = "not found in this repository"
    seen: list = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=8192, num_output=256, is_chat_model=True, model_name="recording")

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        self.seen.append([m.content or "" for m in messages])

        def gen() -> ChatResponseGen:
            yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self.reply), delta=self.reply)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.seen.append([prompt])
        return CompletionResponse(text=self.reply)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        raise AssertionError("the answerer talks to chat models through stream_chat")


def _make_repo(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "settings.py").write_text(SETTINGS, encoding="utf-8")
    (root / "app.py").write_text(APP, encoding="utf-8")
    (root / ".env").write_text(f"SHOP_DB_PASSWORD={DOTENV_SECRET}\n", encoding="utf-8")
    (root / "notes.txt").symlink_to(".env")
    (root / ".gitignore").write_text("ignored.py\n", encoding="utf-8")
    (root / "ignored.py").write_text(f'TOKEN = "{DOTENV_SECRET}"  # on disk, never indexed\n', encoding="utf-8")


@pytest.fixture(scope="module", params=[False, True], ids=["links-skipped", "links-followed"])
def repo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repository]:
    root = tmp_path_factory.mktemp("canary") / "shop"
    _make_repo(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPO_RAG_EMBED_ENABLED", "false")
        cfg = load_config(root, overrides={"index": {"follow_symlinks": request.param}})
    assert cfg.embed.enabled is False
    r = Repository(root, cfg, tmp_path_factory.mktemp("canary-index"))
    r.index(dense=False)
    yield r
    r.close()


def _assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"canary {canary[:8]}... leaked into {where}"


def _events(repo: Repository, question: str, llm) -> tuple[list[SearchHit], Answer]:
    events = list(repo.ask(question, stream=True, llm=llm))
    assert events[0].kind == "sources" and events[-1].kind == "done"
    return events[0].data, events[-1].data


# -- end to end: the canaries never leave the repository ----------------------------------------------
def test_canaries_never_reach_the_model_the_answer_or_the_sources(repo: Repository) -> None:
    llm = RecordingChatLLM()
    retrieved_settings = False
    for question in QUESTIONS:
        llm.seen.clear()
        sources, answer = _events(repo, question, llm)
        assert llm.seen, "the stub model was not asked"
        _assert_clean("\n".join(llm.seen[-1]), f"the messages sent to the model for {question!r}")
        _assert_clean(answer.prompt, "Answer.prompt")
        _assert_clean(answer.answer, "the answer text")
        _assert_clean(json.dumps(answer.to_dict()), "Answer.to_dict()")
        for hit in sources + answer.sources:
            _assert_clean(json.dumps(hit.to_dict(with_text=True)), f"source {hit.location}")
            assert hit.path not in ("notes.txt", ".env", "ignored.py")
        if any(h.path == "settings.py" for h in sources):
            retrieved_settings = True
            assert "settings.py" in answer.prompt and "[REDACTED]" in answer.prompt
    assert retrieved_settings, "the canary file was never retrieved: the test would prove nothing"


def test_retrieval_only_answer_has_no_canaries(repo: Repository) -> None:
    for question in QUESTIONS:
        sources, answer = _events(repo, question, "none")
        assert answer.backend == "none"
        _assert_clean(answer.answer, "the retrieval-only answer")
        _assert_clean(json.dumps(answer.to_dict()), "Answer.to_dict()")
        for hit in sources:
            _assert_clean(json.dumps(hit.to_dict(with_text=True)), f"source {hit.location}")


def test_cli_json_has_no_canaries(repo: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    for question in QUESTIONS:
        code = cli_main(["ask", question, "--repo", str(repo.root), "--index-dir", str(repo.index_dir),
                         "--no-dense", "--llm", "none", "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        json.loads(out)
        _assert_clean(out, f"`repo-rag ask --json` for {question!r}")
        _assert_clean(err, "stderr")


# -- the pipeline's own defences, with an index that kept what it should not --------------------------
def _raw_hits(repo: Repository) -> list[SearchHit]:
    """What a careless index could return: raw settings.py, the link to .env, an unindexed file."""
    settings = (repo.root / "settings.py").read_text(encoding="utf-8")
    n = settings.count("\n") + 1
    return [
        SearchHit("settings.py", 1, n, "<module>", "module", "python", 9.0, ["lexical"], settings,
                  f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"', 0),
        SearchHit("notes.txt", 1, 1, "", "window", "text", 8.0, ["lexical"], f"SHOP_DB_PASSWORD={DOTENV_SECRET}"),
        SearchHit("ignored.py", 1, 1, "", "window", "python", 7.0, ["lexical"], f'TOKEN = "{DOTENV_SECRET}"'),
        SearchHit(".env", 1, 1, "", "window", "text", 6.0, ["lexical"], f"SHOP_DB_PASSWORD={DOTENV_SECRET}"),
    ]


def _leaky_answerer(repo: Repository) -> Answerer:
    hits = _raw_hits(repo)
    assert any(c in h.text for h in hits for c in CANARIES)

    def search(query: str, k: int | None = None) -> SearchResult:
        return SearchResult(query, [replace(h) for h in hits])

    return Answerer(search, repo.files, repo.store, repo.config.llm,
                    max_query_chars=repo.config.search.max_query_chars)


def test_answerer_redacts_and_gates_what_the_index_returns(repo: Repository) -> None:
    answerer = _leaky_answerer(repo)
    llm = RecordingChatLLM(reply="See settings.py:3-4 and notes.txt:1.")
    for backend in (llm, "none"):
        events = list(answerer.stream("what is the AWS access key", llm=backend))
        sources, answer = events[0].data, events[-1].data
        assert [h.path for h in sources] == ["settings.py"]
        assert any("withheld" in w for w in answer.warnings)
        for hit in sources:
            _assert_clean(json.dumps(hit.to_dict(with_text=True)), "a source")
        _assert_clean(answer.answer, "the answer text")
        _assert_clean(json.dumps(answer.to_dict()), "Answer.to_dict()")
        for event in events:
            if event.kind in ("token", "warning"):
                _assert_clean(event.data, f"a {event.kind} event")
    _assert_clean("\n".join(llm.seen[-1]), "the messages sent to the model")
    assert "[REDACTED]" in llm.seen[-1][-1] and "settings.py" in llm.seen[-1][-1]
    answer = answerer.answer("what is the AWS access key", llm=llm)
    # the sentence citing the refused file is removed, and no citation points into it
    assert "notes.txt" in answer.checks["invented_names"] and "notes.txt" not in answer.model_text
    assert not [c for c in answer.citations if c.path == "notes.txt"]


def test_llamaindex_retriever_redacts_and_gates(repo: Repository) -> None:
    from llama_index.core.schema import QueryBundle

    from repo_rag.llamaindex import RepoRagRetriever

    class LeakyRepo:  # the RepositoryLike shape, over an index that kept what it should not
        root, config, files = repo.root, repo.config, repo.files

        def search(self, query: str, k: int | None = None, channels: tuple[str, ...] = ()) -> SearchResult:
            return SearchResult(query, _raw_hits(repo))

        def ask(self, question: str, **options: Any) -> Any:
            raise NotImplementedError

    nodes = RepoRagRetriever(LeakyRepo()).retrieve(QueryBundle("what is the AWS access key"))
    assert [n.node.metadata["path"] for n in nodes] == ["settings.py"]
    for n in nodes:
        _assert_clean(n.node.get_content(metadata_mode="all"), "a LlamaIndex node")


# -- packing and verification go through the file gate --------------------------------------------
def _hit(path: str, text: str, start: int = 1, end: int = 1, signature: str = "") -> SearchHit:
    return SearchHit(path, start, end, "x", "window", "text", 9.0, ["lexical"], text, signature)


def test_pack_reads_only_through_the_gate(repo: Repository) -> None:
    with pytest.raises(TypeError, match="FileGate"):
        pack_context([], 1000, estimate_counter(), repo.root)  # a bare root path would bypass the gate
    hits = [
        _hit("notes.txt", f"SHOP_DB_PASSWORD={DOTENV_SECRET}"),  # a link to .env, whatever the index says
        _hit("ignored.py", f'TOKEN = "{DOTENV_SECRET}"'),  # on disk, not indexed
        _hit("../outside.py", DOTENV_SECRET),
    ]
    packed = pack_context(hits, 4000, estimate_counter(), repo.files)
    assert packed.blocks == []
    assert {d["location"] for d in packed.dropped} == {h.location for h in hits}
    assert all(d["reason"].startswith("file refused") for d in packed.dropped), packed.dropped
    _assert_clean(json.dumps(packed.report()), "the pack report")


def test_pack_redacts_chunk_text_from_the_store(repo: Repository) -> None:
    n = len(SETTINGS.split("\n"))
    stored = _hit("settings.py", SETTINGS, 1, n, signature=f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"')
    for files in (repo.files, None):  # read through the gate, or numbered from the stored text
        packed = pack_context([stored], 4000, estimate_counter(), files)
        assert packed.blocks and "[REDACTED]" in packed.text
        _assert_clean(packed.text, f"packed text (files={files!r})")
        _assert_clean(packed.blocks[0].render(full=False), "the outline")
        lines = packed.blocks[0].lines
        assert min(lines) >= 1 and max(lines) <= n  # redaction keeps line numbers


def test_verifier_checks_citations_through_the_gate(repo: Repository) -> None:
    with pytest.raises(TypeError, match="FileGate"):
        CitationVerifier(repo.root, repo.store, [])
    verifier = CitationVerifier(repo.files, repo.store, [("notes.txt", 1, 1), ("settings.py", 1, 30)])
    (c,) = verify_answer("It is in notes.txt:1.", verifier)
    assert not c.verified
    (ok,) = verify_answer("See settings.py:3-4.", verifier)
    assert ok.verified, ok.reason


def test_gate_refuses_what_the_answerer_drops(repo: Repository) -> None:
    for path in ("notes.txt", ".env", "ignored.py"):
        with pytest.raises(FileAccessError):
            repo.files.read_text(path)


def test_a_file_swapped_for_a_link_after_indexing_is_refused_everywhere(tmp_path: Path) -> None:
    """The index lists app.py; on disk it has since become a link to .env: nothing reads it."""
    root = tmp_path / "swap"
    _make_repo(root)
    r = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), tmp_path / "index")
    try:
        r.index(dense=False)
        assert r.store.file("app.py") is not None
        (root / "app.py").unlink()
        (root / "app.py").symlink_to(".env")
        llm = RecordingChatLLM(reply="It is in app.py:1-3.")
        answer = r.ask("connect_storage key_id storage bucket", llm=llm)
        assert all(h.path != "app.py" for h in answer.sources)
        assert any("withheld" in w for w in answer.warnings), answer.warnings  # it was retrieved, then refused
        _assert_clean("\n".join(llm.seen[-1]) + answer.answer + json.dumps(answer.to_dict()), "the answer")
        hit = _hit("app.py", "def connect_storage():", 6, 8)
        packed = pack_context([hit], 4000, estimate_counter(), r.files)
        assert packed.blocks == [] and packed.dropped[0]["reason"].startswith("file refused")
        verifier = CitationVerifier(r.files, r.store, [("app.py", 1, 8)])
        (c,) = verify_answer("See app.py:1-3.", verifier)
        assert not c.verified and c.reason.startswith("file refused"), c
    finally:
        r.close()


def test_prompt_and_grounded_part_redact_whatever_they_are_given() -> None:
    from repo_rag.grounded import GroundedBuilder
    from repo_rag.pack import Block, PackedContext
    from repo_rag.prompt import build_prompt

    raw = {1: f'KEY = "{AWS_KEY}"', 2: f"token = '{GITHUB_TOKEN}'"}
    block = Block("conf.py", 1, 2, ["KEY"], raw, {}, True, 0)
    packed = PackedContext([block], [block.location], [], 10, 100, "estimate")
    prompt = build_prompt("what is the key", packed)
    _assert_clean(prompt.text, "the prompt")
    assert "[REDACTED]" in prompt.user
    hits = [SearchHit("conf.py", 1, 2, "KEY", "window", "python", 1.0, ["lexical"], raw[1], raw[2], 7),
            SearchHit("conf2.py", 1, 2, "", "window", "python", 1.0, ["lexical"], raw[2], "", 8)]

    class NoChunks:  # an index without stored docstrings: the summaries come from the hits themselves
        def chunks_by_ids(self, ids):
            return {}

    text = GroundedBuilder(NoChunks(), lambda: None).build("what is the key", hits).text
    _assert_clean(text, "the grounded part")
    assert text.count("[REDACTED]") == 2


# -- the question is checked before any work ----------------------------------------------------------
def test_question_is_checked_before_any_work(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    limit = repo.config.search.max_query_chars
    calls: list[str] = []
    real_search = Repository.search

    def spy(self, query, *args, **kwargs):
        calls.append(query)
        return real_search(self, query, *args, **kwargs)

    monkeypatch.setattr(Repository, "search", spy)
    fresh = Repository(repo.root, repo.config, repo.index_dir)  # its answerer is built on the spy
    try:
        long = "where is the key " + "x" * limit
        with pytest.raises(QueryTooLongError):
            fresh.ask(long, llm="none")
        with pytest.raises(QueryTooLongError):
            fresh.ask(long, stream=True, llm="none")  # refused at the call, not on the first event
        for empty in ("", "   \n"):
            with pytest.raises(ValueError, match="empty"):
                fresh.ask(empty, llm="none")
        assert calls == []
        assert fresh.ask("where is the key", llm="none").answer
        assert calls == ["where is the key"]
    finally:
        fresh.close()


def test_cli_refuses_an_overlong_question(repo: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    long = "x" * (repo.config.search.max_query_chars + 1)
    code = cli_main(["ask", long, "--repo", str(repo.root), "--index-dir", str(repo.index_dir), "--no-dense",
                     "--llm", "none"])
    _, err = capsys.readouterr()
    assert code == 2 and "limit" in err


# -- the API key ---------------------------------------------------------------------------------------
def _openai_llm(monkeypatch: pytest.MonkeyPatch, configured: str = "http://127.0.0.1:9/v1", **override: Any):
    monkeypatch.setenv("REPO_RAG_TEST_KEY", API_KEY)
    cfg = load_config(None, environ={}, overrides={"llm": {"base_url": configured, "api_key_env": "REPO_RAG_TEST_KEY"}})
    return build_llm(cfg.llm, "openai", **override)


def _key_of(llm: OpenAICompatibleLLM) -> str:
    key = llm.api_key
    return key.get_secret_value() if hasattr(key, "get_secret_value") else key


def test_api_key_is_never_serialised(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = _openai_llm(monkeypatch)
    assert isinstance(llm, OpenAICompatibleLLM)
    assert _key_of(llm) == API_KEY  # still there for the client
    dumps = {
        "repr": repr(llm),
        "str": str(llm),
        "model_dump": repr(llm.model_dump()),
        "model_dump_json": llm.model_dump_json(),
        "to_dict": repr(llm.to_dict()),
        "to_json": llm.to_json(),
        "dict": repr(llm.dict()),
        "json": llm.json(),
        "metadata": repr(llm.metadata),
        "pickle of model_dump": repr(pickle.dumps(llm.model_dump())),
    }
    for name, text in dumps.items():
        assert API_KEY not in text, f"the API key leaks through {name}"
    assert "api_key" not in llm.model_dump()
    assert llm.api_key.get_secret_value() == API_KEY and API_KEY not in str(llm.api_key)


def test_api_key_never_goes_to_an_endpoint_the_caller_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _key_of(_openai_llm(monkeypatch)) == API_KEY
    for same in ("http://127.0.0.1:9/v1/", "HTTP://127.0.0.1:9/v1", " http://127.0.0.1:9/v1 "):
        llm = _openai_llm(monkeypatch, base_url=same)  # the configured URL, written differently
        assert _key_of(llm) == API_KEY, same
    assert _key_of(_openai_llm(monkeypatch, "http://127.0.0.1:9/v1/", base_url="http://127.0.0.1:9/v1")) == API_KEY
    for other in ("http://127.0.0.1:10/v1", "http://evil.example/v1", "http://127.0.0.1:9/v2",
                  "https://127.0.0.1:9/v1", "http://user@127.0.0.1:9/v1"):
        llm = _openai_llm(monkeypatch, base_url=other)
        assert llm.base_url == other.rstrip("/")
        assert _key_of(llm) == "EMPTY", other
    for bad in ("file:///etc/passwd", "ftp://host/v1", "127.0.0.1:9/v1", "http://"):
        with pytest.raises(ValueError, match="http"):
            _openai_llm(monkeypatch, base_url=bad)
    typed = _openai_llm(monkeypatch, base_url="http://me:pass-canary@127.0.0.1:9/v1")
    assert _key_of(typed) == "EMPTY" and describe_endpoint(typed) == "http://127.0.0.1:9/v1"


class _Recorder(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible endpoint that records each request's Authorization header."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.append((f"{self.server.server_port}{self.path}", self.headers.get("Authorization", "")))
        self._send(json.dumps({"object": "list", "data": [
            {"id": "stub", "object": "model", "created": 0, "owned_by": "test"}]}).encode(), "application/json")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.seen.append((f"{self.server.server_port}{self.path}", self.headers.get("Authorization", "")))
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "stub",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "not found in this repository"},
                              "finish_reason": None}]}
        if body.get("stream"):
            self._send(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(), "text/event-stream")
        else:
            reply = {"id": "c", "object": "chat.completion", "created": 0, "model": "stub", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
            self._send(json.dumps(reply).encode(), "application/json")


@pytest.fixture
def endpoints() -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    _Recorder.seen = []
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        a, b = (f"http://127.0.0.1:{s.server_port}/v1" for s in servers)
        yield a, b, _Recorder.seen
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_api_key_reaches_only_the_configured_server(
    repo: Repository, endpoints: tuple[str, str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, typed, seen = endpoints
    monkeypatch.setenv("REPO_RAG_TEST_KEY", API_KEY)
    cfg = load_config(repo.root, environ={}, overrides={
        "embed": {"enabled": False},
        "llm": {"backend": "openai", "base_url": configured, "api_key_env": "REPO_RAG_TEST_KEY",
                "max_retries": 0, "timeout_s": 10},
    })
    r = Repository(repo.root, cfg, repo.index_dir)
    try:
        answer = r.ask("where is the storage key")
        assert not answer.fallback, answer.warnings
        port_a = configured.split(":")[2].split("/")[0]
        to_a = [auth for where, auth in seen if where.startswith(port_a)]
        assert to_a and all(auth == f"Bearer {API_KEY}" for auth in to_a), seen
        seen.clear()
        answer = r.ask("where is the storage key", base_url=typed)
        assert not answer.fallback, answer.warnings
        assert seen and all(API_KEY not in auth for _, auth in seen), seen
        port_b = typed.split(":")[2].split("/")[0]
        assert all(where.startswith(port_b) for where, _ in seen)
    finally:
        r.close()


def test_no_key_in_the_environment_sends_a_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPO_RAG_TEST_KEY", raising=False)
    cfg = load_config(None, environ={}, overrides={"llm": {"api_key_env": "REPO_RAG_TEST_KEY"}})
    llm = build_llm(cfg.llm, "openai")
    assert _key_of(llm) == "EMPTY"
    assert os.environ.get("REPO_RAG_TEST_KEY") is None
