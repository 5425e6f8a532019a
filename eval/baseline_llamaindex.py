"""Baseline: LlamaIndex's default RAG pipeline over the same files, with the same embedding model.

What it is: one ``Document`` per file repo-rag indexed (text = the file, metadata ``file_path`` =
repo-relative path, embedded with the text as LlamaIndex does by default), split by ``CodeSplitter``
(tree-sitter, LlamaIndex's default 40 lines / 15 overlap / 1,500 chars) for languages with a
grammar and ``SentenceSplitter`` (its defaults) for everything else or when a file does not parse,
indexed by ``VectorStoreIndex`` (in-memory ``SimpleVectorStore``) and queried through its default
retriever. Results map to files through the node's ``file_path``.

Same model and window as repo-rag's dense channel: LlamaIndex gets repo-rag's ``Embedder`` behind a
``BaseEmbedding`` adapter, so the comparison isolates chunking and indexing (not the encoder) and the
content-keyed embedding cache is shared (a rerun re-embeds nothing).

Cost: every chunk is embedded; on this 2-core CPU MiniLM runs at ~15-30 chunks/s, so a Django sdist
takes 20+ minutes on first use. That is why the method is opt-in (``--methods ...,llamaindex``).

Grammars are passed in explicitly: ``CodeSplitter``'s default parser comes from
tree-sitter-language-pack, which downloads grammars at run time and fails offline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repo_rag.embed import Embedder
from repo_rag.parsing import CODE_LANGUAGES, get_parser


def make_embedding(embedder: Embedder) -> Any:
    """A LlamaIndex ``BaseEmbedding`` that delegates to repo-rag's (cached) Embedder."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import PrivateAttr

    class RepoRagEmbedding(BaseEmbedding):
        _embedder: Embedder = PrivateAttr()

        def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
            # Large batches: each call is one cache lookup plus one length-sorted encode.
            super().__init__(model_name=embedder.model_id, embed_batch_size=2048, **kwargs)
            self._embedder = embedder

        @classmethod
        def class_name(cls) -> str:
            return "RepoRagEmbedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            vecs, _cached = self._embedder.embed_texts(texts)
            return vecs.tolist()

    return RepoRagEmbedding(embedder)


@dataclass
class BuildReport:
    files: int
    nodes: int
    code_files: int
    fallback_files: int  # code files CodeSplitter could not parse (SentenceSplitter used)
    seconds_split: float
    seconds_embed: float


class LlamaIndexBaseline:
    """Builds the default LlamaIndex vector index over ``files`` of ``root`` and ranks files for a query."""

    def __init__(self, root: str | Path, files: Sequence[tuple[str, str]], embedder: Embedder) -> None:
        """``files``: (repo-relative path, repo-rag language) pairs, the files repo-rag indexed."""
        self.root = Path(root)
        self.files = list(files)
        self.embedder = embedder
        self._index = None
        self.report: BuildReport | None = None

    def build(self) -> BuildReport:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import CodeSplitter, SentenceSplitter

        t0 = time.perf_counter()
        sentence = SentenceSplitter()
        code_splitters: dict[str, Any] = {}
        nodes = []
        code_files = fallback = 0
        for path, language in self.files:
            try:
                text = (self.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if not text.strip():
                continue
            doc = Document(text=text, metadata={"file_path": path}, id_=path)
            splitter = None
            if language in CODE_LANGUAGES:
                if language not in code_splitters:
                    parser = get_parser(language)
                    code_splitters[language] = (
                        CodeSplitter(language=language, parser=parser)
                        if parser is not None else None
                    )
                splitter = code_splitters[language]
            if splitter is not None:
                code_files += 1
                try:
                    nodes += splitter.get_nodes_from_documents([doc])
                    continue
                except ValueError:  # "Could not parse code": the file has syntax errors for this grammar
                    fallback += 1
            nodes += sentence.get_nodes_from_documents([doc])
        t1 = time.perf_counter()
        self._index = VectorStoreIndex(nodes, embed_model=make_embedding(self.embedder), show_progress=False)
        self.report = BuildReport(
            len(self.files), len(nodes), code_files, fallback, round(t1 - t0, 2), round(time.perf_counter() - t1, 2)
        )
        return self.report

    def search_files(self, query: str, k: int = 50, nodes: int = 200) -> list[str]:
        """Distinct files of the top ``nodes`` retrieved chunks, best first, at most ``k``."""
        if self._index is None:
            self.build()
        assert self._index is not None
        retriever = self._index.as_retriever(similarity_top_k=nodes)
        ranked: list[str] = []
        for hit in retriever.retrieve(query):
            path = hit.node.metadata.get("file_path")
            if path and path not in ranked:
                ranked.append(path)
                if len(ranked) >= k:
                    break
        return ranked
