"""Grounded answers: retrieve, pack, prompt, stream the model, verify its citations, list sources.

An :class:`Answerer` is built from its collaborators (a search function, the repository's
:class:`~repo_rag.files.FileGate`, the index :class:`~repo_rag.store.Store` and the
:class:`~repo_rag.config.LLMConfig`); :meth:`Repository.ask <repo_rag.repository.Repository.ask>`
owns one and delegates to it::

    answer = repo.ask("where is password validation")
    for event in repo.ask("what calls make_password?", stream=True):
        ...  # 'sources' first, then 'token' many, 'warning' any time, finally 'done' (the Answer)

One answer runs through five phases, each a method: :meth:`~Answerer.retrieve` →
:meth:`~Answerer.pack_and_prompt` → :meth:`~Answerer.generate` (stream, with fallback) →
:meth:`~Answerer.verify` → :meth:`~Answerer.assemble`.

The answer text always ends with a citation check and a Sources list of the retrieved locations,
so a reader can check every claim even when the model cited nothing or cited badly. When the model
cannot be reached or loaded, the answer degrades to a retrieval-only one (the top hits, each with
its location) with a one-line warning and ``fallback=True``; ``strict=True`` raises
:class:`LLMUnavailableError` instead.

What the pipeline guarantees about repository content: the question is checked
(:func:`repo_rag.query.check_question`, ``search.max_query_chars``) before any work; a retrieved
location whose file the gate refuses (secret by name or link target, outside the root, not
indexed) is dropped before anything sees it; every file is read through the gate; stored chunk text
and signatures are redacted (``indexers.secrets.redact_secrets``) before they reach a prompt, the
sources or the retrieval-only answer. An API key is sent only to the configured endpoint (see
:func:`repo_rag.llm.build_llm`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.llms import LLM

from .config import LLMConfig
from .files import FileAccessError, FileGate
from .hits import SearchHit, SearchResult
from .llm import LLMUnavailableError, backend_name, build_llm, describe_endpoint
from .pack import PackedContext, TokenCounter, pack_context, redact, redacted_hit, token_counter
from .prompt import NOT_FOUND, Prompt, build_prompt, prompt_overhead
from .query import MAX_QUESTION_CHARS, check_question
from .store import Store
from .verify import Citation, CitationVerifier, verify_answer

__all__ = [
    "Answer",
    "AnswerEvent",
    "Answerer",
    "Citation",
    "LLMUnavailableError",
    "retrieval_only_text",
]

RETRIEVAL_ONLY_HITS = 8
MIN_CONTEXT_TOKENS = 256
LOOP_REPEATS = 3
_SAFETY_TOKENS = 48  # chat-template tokens around the messages

SearchFn = Callable[..., SearchResult]  # search(question, k=k) -> SearchResult


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
        what = redact(_describe(h, docstrings or {}))
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


@dataclass
class _Run:
    """One answer on its way through the phases: what each phase found, and the clock."""

    question: str
    chat_model: LLM | None
    t0: float = field(default_factory=time.perf_counter)
    timings: dict[str, float | None] = field(
        default_factory=lambda: {"retrieve_ms": None, "first_token_ms": None, "total_ms": None}
    )
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[SearchHit] = field(default_factory=list)
    packed: PackedContext | None = None
    prompt: Prompt | None = None
    text: str = ""
    fallback: bool = False

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 1)

    def token(self, piece: str) -> AnswerEvent:
        if self.timings["first_token_ms"] is None:
            self.timings["first_token_ms"] = self.elapsed_ms()
        self.text += piece
        return AnswerEvent("token", piece)

    def warn(self, message: str) -> AnswerEvent:
        self.warnings.append(message)
        return AnswerEvent("warning", message)


class Answerer:
    """Grounded answers for one repository, from its collaborators (no back-reference to the facade).

    ``search(question, k=k)`` returns a :class:`SearchResult`; ``files`` is the repository's gate,
    ``store`` its index, ``llm_config`` the trusted model configuration, and ``max_query_chars``
    the longest question accepted.
    """

    def __init__(
        self,
        search: SearchFn,
        files: FileGate,
        store: Store,
        llm_config: LLMConfig,
        *,
        max_query_chars: int = MAX_QUESTION_CHARS,
    ) -> None:
        self.search = search
        self.files = files
        self.store = store
        self.llm_config = llm_config
        self.max_query_chars = max_query_chars

    # -- entry points ------------------------------------------------------------------------
    def stream(
        self,
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
        local backend ``model`` is a GGUF path); the configured API key only ever goes to the
        configured ``base_url``. The question and the backend are checked here, at the call; the
        model itself is only loaded or contacted while streaming.
        """
        check_question(question, self.max_query_chars)
        chat_model = self.resolve_llm(llm, base_url, model, timeout)
        return self._events(_Run(question, chat_model), k, strict)

    def answer(self, question: str, **options: Any) -> Answer:
        """The verified :class:`Answer` to ``question`` (:meth:`stream` without the streaming)."""
        for event in self.stream(question, **options):
            if event.kind == "done":
                return event.data
        raise RuntimeError("the answer stream ended without an answer")

    def resolve_llm(self, llm: LLM | str | None, base_url=None, model=None, timeout=None) -> LLM | None:
        """An LLM instance as given, else the named (or configured) backend built lazily."""
        if isinstance(llm, LLM):
            return llm
        return build_llm(self.llm_config, llm, base_url=base_url, model=model, timeout=timeout)

    def _events(self, run: _Run, k: int | None, strict: bool) -> Iterator[AnswerEvent]:
        self.retrieve(run, k)
        yield AnswerEvent("sources", run.sources)
        if run.chat_model is not None:
            self.pack_and_prompt(run)
            yield from self.generate(run, strict)
        # What the model said (possibly cut short) is checked like any answer; a fallback adds the
        # retrieved locations, which are verified by construction.
        model_answered = bool(run.text.strip())
        citations = self.verify(run)
        if run.chat_model is None or run.fallback:
            yield from self.fall_back(run, citations)
        yield AnswerEvent("done", self.assemble(run, citations, retrieval_only=not model_answered))

    # -- phases ------------------------------------------------------------------------------
    def retrieve(self, run: _Run, k: int | None) -> None:
        """Search, keep only locations the gate accepts, redact their stored text."""
        result = self.search(run.question, k=k)
        allowed = [h for h in result.hits if self._readable(h.path)]
        run.sources = [redacted_hit(h) for h in allowed]
        run.notes = list(result.notes)
        if len(allowed) < len(result.hits):
            withheld = len(result.hits) - len(allowed)
            run.notes.append(
                f"{withheld} retrieved location(s) withheld: secret, outside the repository or not indexed"
            )
        run.timings["retrieve_ms"] = run.elapsed_ms()

    def _readable(self, path: str) -> bool:
        try:
            self.files.resolve(path)
        except FileAccessError:
            return False
        return True

    def pack_and_prompt(self, run: _Run) -> None:
        """Pack the sources into the model's context budget and build the fenced prompt."""
        assert run.chat_model is not None
        counter = token_counter(run.chat_model)
        budget = self._context_budget(run.chat_model, run.question, counter)
        run.packed = pack_context(run.sources, budget, counter, self.files)
        run.prompt = build_prompt(run.question, run.packed)

    def _context_budget(self, llm: LLM, question: str, counter: TokenCounter) -> int:
        """The configured budget, shrunk so prompt + context + answer fit the model's window."""
        cfg = self.llm_config
        window = llm.metadata.context_window
        room = window - cfg.max_tokens - counter(prompt_overhead(question)) - _SAFETY_TOKENS
        return max(MIN_CONTEXT_TOKENS, min(cfg.context_tokens, room))

    def generate(self, run: _Run, strict: bool) -> Iterator[AnswerEvent]:
        """Stream the model's tokens; any failure (or silence) marks the run for the fallback."""
        assert run.chat_model is not None and run.prompt is not None
        endpoint = describe_endpoint(run.chat_model)
        stream = None
        try:
            stream = run.chat_model.stream_chat(run.prompt.messages())
            for part in stream:
                delta = part.delta or ""
                if not delta:
                    continue
                yield run.token(delta)
                if is_looping(run.text):
                    yield run.warn("the model started repeating itself: generation stopped")
                    break
        except Exception as exc:  # any model or transport failure degrades to a retrieval-only answer
            if strict:
                if isinstance(exc, LLMUnavailableError):
                    raise
                raise LLMUnavailableError(f"LLM at {endpoint} unreachable ({_short(exc)})") from exc
            what = "unavailable" if isinstance(exc, LLMUnavailableError) else "unreachable"
            what = "failed mid-answer" if run.text else what
            yield run.warn(f"LLM at {endpoint} {what} ({_short(exc)}): retrieval-only answer")
            run.fallback = True
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        if not run.fallback and not run.text.strip():
            yield run.warn(f"LLM at {endpoint} returned an empty answer: retrieval-only answer")
            run.fallback = True

    def verify(self, run: _Run) -> list[Citation]:
        """Verdicts on the citations in what the model wrote (none without a model text)."""
        if not run.text.strip() or run.packed is None:
            return []
        spans = run.packed.spans() + [(h.path, h.start_line, h.end_line) for h in run.sources]
        return verify_answer(run.text, CitationVerifier(self.files, self.store, spans))

    def fall_back(self, run: _Run, citations: list[Citation]) -> Iterator[AnswerEvent]:
        """Append the retrieval-only summary and its (verified by construction) locations."""
        summary = retrieval_only_text(run.sources, self._docstrings(run.sources))
        yield run.token(("\n\n" if run.text.strip() else "") + summary)
        citations += [
            Citation(h.path, h.start_line, h.end_line, h.symbol, True, "retrieved location", h.location)
            for h in run.sources[:RETRIEVAL_ONLY_HITS]
        ]

    def _docstrings(self, hits: list[SearchHit]) -> dict[int, str]:
        chunks = self.store.chunks_by_ids([h.chunk_id for h in hits[:RETRIEVAL_ONLY_HITS] if h.chunk_id])
        return {cid: c.docstring for cid, c in chunks.items()}

    def assemble(self, run: _Run, citations: list[Citation], *, retrieval_only: bool) -> Answer:
        """The final :class:`Answer`: text, citation check and Sources footer, timings, context report."""
        footer = _footer(citations, run.sources, retrieval_only)
        run.timings["total_ms"] = run.elapsed_ms()
        chat_model = run.chat_model
        return Answer(
            question=run.question,
            answer=run.text.rstrip() + "\n\n" + footer,
            citations=citations,
            sources=run.sources,
            model=chat_model.metadata.model_name if chat_model is not None else "",
            backend=backend_name(chat_model),
            fallback=run.fallback,
            warnings=run.warnings + [f"retrieval: {n}" for n in run.notes],
            timings=run.timings,
            prompt=run.prompt.text if run.prompt is not None else "",
            model_text=run.text,
            footer=footer,
            context=run.packed.report() if run.packed is not None else {},
        )

