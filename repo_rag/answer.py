"""Grounded answers: retrieve, pack, prompt, stream the model, verify its citations, list sources.

    answer = answer_question(repo, "where is password validation")
    for event in stream_answer(repo, "what calls make_password?"):
        ...  # 'sources' first, then 'token' many, 'warning' any time, finally 'done' (the Answer)

The answer text always ends with a citation check and a Sources list of the retrieved locations,
so a reader can check every claim even when the model cited nothing or cited badly. When the model
cannot be reached or loaded, the answer degrades to a retrieval-only one (the top hits, each with
its location) with a one-line warning and ``fallback=True``; ``strict=True`` raises
:class:`LLMUnavailableError` instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index.core.llms import LLM

from indexers.discover import is_secret_path

from .hits import SearchHit
from .llm import LLMUnavailableError, backend_name, build_llm, describe_endpoint
from .pack import PackedContext, TokenCounter, pack_context, token_counter
from .prompt import NOT_FOUND, Prompt, build_prompt, prompt_overhead
from .verify import Citation, CitationVerifier, verify_answer

if TYPE_CHECKING:
    from .repository import Repository

__all__ = [
    "Answer",
    "AnswerEvent",
    "Citation",
    "LLMUnavailableError",
    "answer_question",
    "retrieval_only_text",
    "stream_answer",
]

RETRIEVAL_ONLY_HITS = 8
MIN_CONTEXT_TOKENS = 256
LOOP_REPEATS = 3
_SAFETY_TOKENS = 48  # chat-template tokens around the messages


@dataclass
class AnswerEvent:
    """One step of a streamed answer: kind is 'sources', 'token', 'warning' or 'done'."""

    kind: str
    data: Any


@dataclass
class Answer:
    """A verified answer; ``answer`` is the model text followed by the citation check and Sources."""

    question: str
    answer: str
    citations: list[Citation]
    sources: list[SearchHit]
    model: str
    backend: str
    fallback: bool
    warnings: list[str]
    timings: dict[str, float | None]
    prompt: str
    model_text: str = ""
    footer: str = ""
    context: dict = field(default_factory=dict)

    @property
    def verified_citations(self) -> list[Citation]:
        return [c for c in self.citations if c.verified]

    @property
    def not_found(self) -> bool:
        return NOT_FOUND in self.model_text.lower()

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [h.to_dict() for h in self.sources],
            "model": self.model,
            "backend": self.backend,
            "timings": self.timings,
            "warnings": self.warnings,
            "fallback": self.fallback,
            "context": self.context,
        }


# -- pieces --------------------------------------------------------------------------------------
def _first_line(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip().strip("\"'#/*").strip()
        if line:
            return line[:160]
    return ""


def _describe(hit: SearchHit, docstrings: dict[int, str]) -> str:
    doc = _first_line(docstrings.get(hit.chunk_id, ""))
    return doc or _first_line(hit.signature) or _first_line(hit.text)


def retrieval_only_text(hits: list[SearchHit], docstrings: dict[int, str] | None = None) -> str:
    """'Most relevant code:' and a bullet per hit: location, symbol, first docstring line or signature."""
    if not hits:
        return f"Nothing relevant was retrieved: {NOT_FOUND}."
    lines = ["Most relevant code:"]
    for h in hits[:RETRIEVAL_ONLY_HITS]:
        what = _describe(h, docstrings or {})
        symbol = f" {h.symbol}" if h.symbol and h.symbol != "<module>" else ""
        lines.append(f"- `{h.location}`{symbol}" + (f" — {what}" if what else ""))
    return "\n".join(lines)


def _footer(citations: list[Citation], sources: list[SearchHit], retrieval_only: bool) -> str:
    out: list[str] = []
    verified = [c for c in citations if c.verified]
    if not retrieval_only:
        bad = [c for c in citations if not c.verified]
        if not verified:
            out.append(
                "WARNING: no verified citation: nothing in the answer above could be checked against this "
                "repository's code. Treat it as unsupported and read the sources below."
            )
        else:
            out.append(f"Citations: {len(verified)} verified" + (f", {len(bad)} unverified" if bad else "") + ".")
        out += [f"- UNVERIFIED `{c.raw or c.location}`: {c.reason}" for c in bad]
        out.append("")
    out.append("Sources:")
    for i, h in enumerate(sources, 1):
        symbol = f" {h.symbol}" if h.symbol and h.symbol != "<module>" else ""
        out.append(f"{i}. `{h.location}`{symbol} ({h.kind})")
    if not sources:
        out.append("(none retrieved)")
    return "\n".join(out)


def _docstrings(repo: Repository, hits: list[SearchHit]) -> dict[int, str]:
    chunks = repo.store.chunks_by_ids([h.chunk_id for h in hits[:RETRIEVAL_ONLY_HITS] if h.chunk_id])
    return {cid: c.docstring for cid, c in chunks.items()}


def _context_budget(repo: Repository, llm: LLM, question: str, counter: TokenCounter) -> int:
    """The configured budget, shrunk so prompt + context + answer fit the model's window."""
    cfg = repo.config.llm
    window = llm.metadata.context_window
    room = window - cfg.max_tokens - counter(prompt_overhead(question)) - _SAFETY_TOKENS
    return max(MIN_CONTEXT_TOKENS, min(cfg.context_tokens, room))


def is_looping(text: str, repeats: int = LOOP_REPEATS) -> bool:
    """True when the last complete line already occurred ``repeats - 1`` times (a degenerate loop).

    Small models fall into copying the same line or block forever; stopping early saves the rest
    of ``max_tokens`` of generation time and keeps the answer readable.
    """
    lines = [ln.strip() for ln in text.split("\n")[:-1]]
    if not lines or len(lines[-1]) < 3:
        return False
    return lines.count(lines[-1]) >= repeats


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def _resolve_llm(repo: Repository, llm: LLM | str | None, base_url, model, timeout) -> LLM | None:
    if isinstance(llm, LLM):
        return llm
    return build_llm(repo.config.llm, llm, base_url=base_url, model=model, timeout=timeout)


# -- the pipeline --------------------------------------------------------------------------------
def stream_answer(
    repo: Repository,
    question: str,
    *,
    k: int | None = None,
    llm: LLM | str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    strict: bool = False,
    timeout: float | None = None,
) -> Iterator[AnswerEvent]:
    """Answer ``question`` as a stream of events (see module docstring).

    ``llm`` is 'local', 'openai', 'none', any LlamaIndex ``LLM`` instance, or None for the
    configured backend. ``base_url``/``model``/``timeout`` override the configuration (for the
    local backend ``model`` is a GGUF path).
    """
    t0 = time.perf_counter()
    timings: dict[str, float | None] = {"retrieve_ms": None, "first_token_ms": None, "total_ms": None}
    warnings: list[str] = []
    result = repo.search(question, k=k)
    sources = [h for h in result.hits if not is_secret_path(h.path)]
    timings["retrieve_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    yield AnswerEvent("sources", sources)

    def since_start() -> float:
        return round((time.perf_counter() - t0) * 1000, 1)

    # Building a model is lazy (nothing is loaded or contacted yet): failures surface while streaming.
    chat_model = _resolve_llm(repo, llm, base_url, model, timeout)
    endpoint = describe_endpoint(chat_model)

    prompt: Prompt | None = None
    packed: PackedContext | None = None
    text = ""
    fallback = False
    if chat_model is not None:
        counter = token_counter(chat_model)
        budget = _context_budget(repo, chat_model, question, counter)
        packed = pack_context(sources, budget, counter, repo.root)
        prompt = build_prompt(question, packed)
        stream = None
        try:
            stream = chat_model.stream_chat(prompt.messages())
            for part in stream:
                delta = part.delta or ""
                if not delta:
                    continue
                if timings["first_token_ms"] is None:
                    timings["first_token_ms"] = since_start()
                text += delta
                yield AnswerEvent("token", delta)
                if is_looping(text):
                    warnings.append("the model started repeating itself: generation stopped")
                    yield AnswerEvent("warning", warnings[-1])
                    break
        except Exception as exc:  # any model or transport failure degrades to a retrieval-only answer
            if strict:
                if isinstance(exc, LLMUnavailableError):
                    raise
                raise LLMUnavailableError(f"LLM at {endpoint} unreachable ({_short(exc)})") from exc
            what = "unavailable" if isinstance(exc, LLMUnavailableError) else "unreachable"
            what = "failed mid-answer" if text else what
            warnings.append(f"LLM at {endpoint} {what} ({_short(exc)}): retrieval-only answer")
            yield AnswerEvent("warning", warnings[-1])
            fallback = True
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        if not fallback and not text.strip():
            warnings.append(f"LLM at {endpoint} returned an empty answer: retrieval-only answer")
            yield AnswerEvent("warning", warnings[-1])
            fallback = True

    # What the model said (possibly cut short) is checked like any answer; a fallback adds the
    # retrieved locations, which are verified by construction.
    citations: list[Citation] = []
    if text.strip() and packed is not None:
        spans = packed.spans() + [(h.path, h.start_line, h.end_line) for h in sources]
        citations = verify_answer(text, CitationVerifier(repo.root, repo.store, spans))
    retrieval_only = not text.strip()
    if chat_model is None or fallback:
        summary = retrieval_only_text(sources, _docstrings(repo, sources))
        piece = ("\n\n" if text.strip() else "") + summary
        if timings["first_token_ms"] is None:
            timings["first_token_ms"] = since_start()
        text += piece
        yield AnswerEvent("token", piece)
        citations += [
            Citation(h.path, h.start_line, h.end_line, h.symbol, True, "retrieved location", h.location)
            for h in sources[:RETRIEVAL_ONLY_HITS]
        ]

    footer = _footer(citations, sources, retrieval_only)
    timings["total_ms"] = since_start()
    model_name = chat_model.metadata.model_name if chat_model is not None else ""
    answer = Answer(
        question=question,
        answer=text.rstrip() + "\n\n" + footer,
        citations=citations,
        sources=sources,
        model=model_name,
        backend=backend_name(chat_model),
        fallback=fallback,
        warnings=warnings + [f"retrieval: {n}" for n in result.notes],
        timings=timings,
        prompt=prompt.text if prompt is not None else "",
        model_text=text,
        footer=footer,
        context=packed.report() if packed is not None else {},
    )
    yield AnswerEvent("done", answer)


def answer_question(
    repo: Repository,
    question: str,
    *,
    k: int | None = None,
    llm: LLM | str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    strict: bool = False,
    timeout: float | None = None,
) -> Answer:
    """The verified :class:`Answer` to ``question`` (``stream_answer`` without the streaming)."""
    for event in stream_answer(
        repo, question, k=k, llm=llm, base_url=base_url, model=model, strict=strict, timeout=timeout
    ):
        if event.kind == "done":
            return event.data
    raise RuntimeError("stream_answer ended without an answer")
