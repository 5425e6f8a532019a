"""LlamaIndex adapters: repo-rag's hybrid code search as a ``BaseRetriever``, and query engines on it.

    from repo_rag import Repository
    from repo_rag.llamaindex import RepoRagRetriever, RepoRagQueryEngine, as_query_engine

    repo = Repository.open("path/to/repo")
    retriever = RepoRagRetriever(repo, k=8)               # any LlamaIndex pipeline can use it
    nodes = retriever.retrieve("where is password validation")
    engine = as_query_engine(repo, llm=my_llamaindex_llm)  # a stock RetrieverQueryEngine
    grounded = RepoRagQueryEngine(repo)                    # repo-rag's own answerer: verified citations

Every retrieved node is a :class:`~llama_index.core.schema.TextNode` whose text is the chunk's
code and whose metadata carries ``path``, ``start_line``, ``end_line``, ``symbol``, ``kind``,
``language`` and ``reasons`` (why the hybrid retriever chose it). The node id is stable for a
location (same repository, path and lines give the same id across runs), so nodes can be
deduplicated or cached by id. The LLM sees only ``location`` (``path:start-end``, the form the
answer should cite) and ``symbol`` above the code; the rest is excluded from the LLM text.

Node text goes to whatever LLM a pipeline uses, so the retriever returns only locations the
repository's file gate accepts (not secret by name or link target, inside the root, indexed) and
redacts high-confidence secrets in the stored code text (``indexers.secrets.redact_secrets``).

Anything with the :class:`RepositoryLike` shape works as ``repo`` (a :class:`repo_rag.Repository`
does); this module does not import the facade.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import RESPONSE_TYPE, Response, StreamingResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import LLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import ResponseMode
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from .config import Config
from .files import FileAccessError, FileGate
from .hits import SearchHit, SearchResult
from .pack import redact
from .retrieve import CHANNELS

__all__ = [
    "CODE_QA_TEMPLATE",
    "RepoRagQueryEngine",
    "RepoRagRetriever",
    "RepositoryLike",
    "as_query_engine",
    "hit_to_node",
]


class RepositoryLike(Protocol):
    """What the adapters use of a repository (:class:`repo_rag.Repository` has it all)."""

    root: Path
    config: Config

    @property
    def files(self) -> FileGate: ...

    def search(self, query: str, k: int | None = None, channels: tuple[str, ...] = CHANNELS) -> SearchResult: ...

    def ask(self, question: str, *, stream: bool = False, **options: Any) -> Any: ...

_NAMESPACE = uuid.UUID("6f1c3a52-5b0e-4c63-9c55-0d5c2a7e1b94")
# Metadata kept out of the LLM prompt (location and symbol stay) and out of embedding text.
LLM_EXCLUDED_KEYS = ["path", "start_line", "end_line", "kind", "language", "reasons", "score", "chunk_id", "repo"]
EMBED_EXCLUDED_KEYS = ["location", "start_line", "end_line", "reasons", "score", "chunk_id", "repo"]

CODE_QA_TEMPLATE = PromptTemplate(
    "You answer questions about a code repository using only the code below. Each block starts with its "
    "location (path:start-end) and symbol.\n"
    "---------------------\n{context_str}\n---------------------\n"
    "Answer the question from this code only. Cite every claim with its location in the form path:start-end. "
    "If the code does not contain the answer, say so.\n"
    "Question: {query_str}\nAnswer: "
)


def node_id(root: str, path: str, start_line: int, end_line: int) -> str:
    """Stable id of a location: uuid5 over the repository root, path and line span."""
    return str(uuid.uuid5(_NAMESPACE, f"{root}\x00{path}\x00{start_line}\x00{end_line}"))


def hit_to_node(hit: SearchHit, repo_root: str = "") -> NodeWithScore:
    """A repo-rag hit as a scored LlamaIndex ``TextNode`` (text = the chunk's code, secrets redacted)."""
    node = TextNode(
        id_=node_id(repo_root, hit.path, hit.start_line, hit.end_line),
        text=redact(hit.text),
        metadata={
            "location": hit.location,
            "path": hit.path,
            "start_line": hit.start_line,
            "end_line": hit.end_line,
            "symbol": hit.symbol,
            "kind": hit.kind,
            "language": hit.language,
            "reasons": list(hit.reasons),
            "chunk_id": hit.chunk_id,
            "repo": repo_root,
        },
        excluded_llm_metadata_keys=list(LLM_EXCLUDED_KEYS),
        excluded_embed_metadata_keys=list(EMBED_EXCLUDED_KEYS),
    )
    # The file is the node's source document: lets LlamaIndex group nodes by ref_doc_id.
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(
        node_id=str(uuid.uuid5(_NAMESPACE, f"{repo_root}\x00{hit.path}")), metadata={"path": hit.path}
    )
    return NodeWithScore(node=node, score=float(hit.score))


class RepoRagRetriever(BaseRetriever):
    """repo-rag hybrid search (lexical + dense + symbol/path + code graph) as a LlamaIndex retriever.

    Thread-safe as far as the underlying :class:`~repo_rag.Repository` is: one retriever can serve
    concurrent queries.
    """

    def __init__(
        self,
        repo: RepositoryLike,
        k: int | None = None,
        channels: Sequence[str] = CHANNELS,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        unknown = set(channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}: choose from {', '.join(CHANNELS)}")
        self.repo = repo
        self.k = k
        self.channels = tuple(channels)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.repo.search(query_bundle.query_str, k=self.k, channels=self.channels)
        root = str(self.repo.root)
        return [hit_to_node(h, root) for h in result.hits if _readable(self.repo.files, h.path)]


def _readable(files: FileGate, path: str) -> bool:
    try:
        files.resolve(path)
    except FileAccessError:
        return False
    return True


def as_query_engine(
    repo: RepositoryLike,
    llm: LLM | None = None,
    *,
    k: int | None = None,
    channels: Sequence[str] = CHANNELS,
    streaming: bool = False,
    response_mode: ResponseMode | str = ResponseMode.COMPACT,
    **kwargs: Any,
) -> RetrieverQueryEngine:
    """A stock LlamaIndex ``RetrieverQueryEngine`` over :class:`RepoRagRetriever`.

    ``llm`` is any LlamaIndex LLM; by default the chat model configured for ``repo`` (``llm.backend``
    in the repo-rag configuration: the embedded local model, or an OpenAI-compatible server). When
    the configured backend is ``none`` the engine synthesizes no text (``response_mode='no_text'``)
    and only returns the retrieved source nodes. Extra keyword arguments go to
    ``RetrieverQueryEngine.from_args`` (e.g. ``node_postprocessors``, ``text_qa_template``).
    """
    if llm is None:
        from .llm import build_llm

        llm = build_llm(repo.config.llm)
        if llm is None:  # retrieval-only: no synthesis (the placeholder LLM is never called)
            from llama_index.core.llms import MockLLM
            from llama_index.core.response_synthesizers.no_text import NoText

            llm = MockLLM()
            kwargs.setdefault("response_synthesizer", NoText(llm=llm, streaming=streaming))
    kwargs.setdefault("text_qa_template", CODE_QA_TEMPLATE)
    return RetrieverQueryEngine.from_args(
        RepoRagRetriever(repo, k=k, channels=channels),
        llm=llm,
        streaming=streaming,
        response_mode=ResponseMode(response_mode),
        **kwargs,
    )


class RepoRagQueryEngine(BaseQueryEngine):
    """repo-rag's grounded answerer as a LlamaIndex query engine.

    Unlike :func:`as_query_engine` (LlamaIndex's generic synthesizer), this runs repo-rag's own
    pipeline: token-budgeted context packing, a code-citing prompt, citation verification, and a
    retrieval-only fallback when the model is unreachable. The response text is the verified answer
    (with its citation check and Sources list); ``response.metadata`` holds ``citations`` (dicts with
    ``verified`` and ``reason``), ``fallback``, ``warnings``, ``backend``, ``model`` and ``timings``.

    ``llm`` is 'local', 'openai', 'none', any LlamaIndex LLM, or None for the configured backend.
    """

    def __init__(
        self,
        repo: RepositoryLike,
        llm: LLM | str | None = None,
        *,
        k: int | None = None,
        streaming: bool = False,
        callback_manager: CallbackManager | None = None,
        **answer_options: Any,
    ) -> None:
        self.repo = repo
        self.llm = llm
        self.k = k
        self.streaming = streaming
        self.answer_options = answer_options
        super().__init__(callback_manager=callback_manager or CallbackManager([]))

    def _get_prompt_modules(self) -> dict:
        return {}

    def _events(self, question: str):
        return self.repo.ask(question, stream=True, k=self.k, llm=self.llm, **self.answer_options)

    def _nodes(self, hits: list[SearchHit]) -> list[NodeWithScore]:
        root = str(self.repo.root)
        return [hit_to_node(h, root) for h in hits]

    @staticmethod
    def _metadata(answer) -> dict[str, Any]:
        return {
            "citations": [c.to_dict() for c in answer.citations],
            "fallback": answer.fallback,
            "warnings": list(answer.warnings),
            "backend": answer.backend,
            "model": answer.model,
            "timings": dict(answer.timings),
            "checks": dict(answer.checks),
            "grounded": answer.grounded_part,
        }

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        events = self._events(query_bundle.query_str)
        if self.streaming:
            return self._streaming_response(events)
        sources: list[SearchHit] = []
        for event in events:
            if event.kind == "sources":
                sources = event.data
            elif event.kind == "done":
                answer = event.data
                return Response(
                    answer.answer, source_nodes=self._nodes(answer.sources), metadata=self._metadata(answer)
                )
        return Response("", source_nodes=self._nodes(sources), metadata={})

    def _streaming_response(self, events: Iterator) -> StreamingResponse:
        first = next(events)  # 'sources' always comes first: nodes are known before any token
        sources = first.data if first.kind == "sources" else []
        response = StreamingResponse(response_gen=iter(()), source_nodes=self._nodes(sources), metadata={})

        def gen() -> Iterator[str]:
            for event in events:
                if event.kind == "token":
                    yield event.data
                elif event.kind == "done":
                    answer = event.data
                    response.metadata = self._metadata(answer)
                    # The footer (citation and claim checks, Sources) follows the grounded part and the prose.
                    yield "\n\n" + answer.footer

        response.response_gen = gen()
        return response

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        import asyncio

        return await asyncio.to_thread(self._query, query_bundle)
