"""Grounded answers: retrieve, assemble the grounded part, stream the checked prose, verify, list sources.

An :class:`Answerer` is built from its collaborators (a search function, the repository's
:class:`~repo_rag.files.FileGate`, the index :class:`~repo_rag.store.Store`, a getter for the code
graph and the :class:`~repo_rag.config.LLMConfig`); :meth:`Repository.ask
<repo_rag.repository.Repository.ask>` owns one and delegates to it::

    answer = repo.ask("where is password validation")
    for event in repo.ask("what calls make_password?", stream=True):
        ...  # 'sources' first, then 'token' many, 'warning' any time, finally 'done' (the Answer)

One answer runs through six phases, each a method: :meth:`~Answerer.retrieve` →
:meth:`~Answerer.ground` → :meth:`~Answerer.pack_and_prompt` → :meth:`~Answerer.generate` (stream,
checked sentence by sentence) → :meth:`~Answerer.verify` → :meth:`~Answerer.assemble`.

The answer reads top to bottom as: the grounded part (assembled from the index and the code graph,
never generated: :mod:`repo_rag.grounded`), streamed as soon as retrieval is done; then the model's
explanation, each sentence shown only after :mod:`repo_rag.claims` found every name it mentions in
the code the model was shown or in the index (a sentence naming something that does not exist is
removed and counted in ``checks``; a repeated one is cut, and a loop stops generation); then the
citation check and a Sources list. When the model cannot be reached or loaded, the answer is the
grounded part alone with a one-line warning and ``fallback=True``; ``strict=True`` raises
:class:`LLMUnavailableError` instead.

What the pipeline guarantees about repository content: the question is checked
(:func:`repo_rag.query.check_question`, ``search.max_query_chars``) before any work; a retrieved
location whose file the gate refuses (secret by name or link target, outside the root, not
indexed) is dropped before anything sees it; every file is read through the gate; stored chunk text
and signatures are redacted (``indexers.secrets.redact_secrets``) before they reach a prompt, the
sources or the grounded part. An API key is sent only to the configured endpoint (see
:func:`repo_rag.llm.build_llm`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index.core.llms import LLM

from .claims import ClaimChecker, ClaimReport, ProseFilter
from .config import LLMConfig
from .files import FileAccessError, FileGate
from .grounded import GroundedBuilder, GroundedPart
from .hits import SearchHit, SearchResult
from .llm import LLMUnavailableError, LocalLlamaCppLLM, backend_name, build_llm, describe_endpoint
from .pack import PackedContext, TokenCounter, pack_context, redacted_hit, token_counter
from .prompt import NOT_FOUND, Prompt, build_prompt, explanation_grammar, fixed_messages, prompt_overhead
from .query import MAX_QUESTION_CHARS, check_question
from .store import Store
from .verify import Citation, CitationVerifier, verify_answer

if TYPE_CHECKING:
    from .graph import CodeGraph

__all__ = [
    "Answer",
    "AnswerEvent",
    "Answerer",
    "Citation",
    "LLMUnavailableError",
]

MIN_CONTEXT_TOKENS = 256
LOOP_REPEATS = 3
_SAFETY_TOKENS = 48  # chat-template tokens around the messages

SearchFn = Callable[..., SearchResult]  # search(question, k=k) -> SearchResult
GraphFn = Callable[[], "CodeGraph | None"]


@dataclass
class AnswerEvent:
    """One step of a streamed answer: kind is 'sources', 'token', 'warning' or 'done'."""

    kind: str
    data: Any


@dataclass
class Answer:
    """A checked answer; ``answer`` is the grounded part, the model's prose, the checks and Sources.

    ``citations`` holds the grounded part's locations (verified by construction) followed by the
    model's citations with their verdicts; ``model_citations`` only the latter. ``checks`` says what
    the claim check removed from the model's prose (see :mod:`repo_rag.claims`).
    """

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
    grounded: str = ""
    grounded_part: dict = field(default_factory=dict)
    model_citations: list[Citation] = field(default_factory=list)
    checks: dict = field(default_factory=lambda: ClaimReport().to_dict())
    raw_model_text: str = ""

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
            "grounded": self.grounded_part,
            "explanation": self.model_text,
            "citations": [c.to_dict() for c in self.citations],
            "checks": self.checks,
            "sources": [h.to_dict() for h in self.sources],
            "model": self.model,
            "backend": self.backend,
            "timings": self.timings,
            "warnings": self.warnings,
            "fallback": self.fallback,
            "context": self.context,
        }


# -- pieces --------------------------------------------------------------------------------------
def _footer(run: _Run, model_citations: list[Citation], model_answered: bool) -> str:
    out: list[str] = []
    checks = run.prose.report if run.prose is not None else ClaimReport()
    if model_answered:
        verified = [c for c in model_citations if c.verified]
        bad = [c for c in model_citations if not c.verified]
        if not verified and NOT_FOUND not in run.text.lower():
            out.append(
                "Note: the explanation above cites no checked location; the locations listed first come from "
                "the index."
            )
        else:
            out.append(f"Citations: {len(verified)} verified" + (f", {len(bad)} unverified" if bad else "") + ".")
        out += [f"- UNVERIFIED `{c.raw or c.location}`: {c.reason}" for c in bad]
    if checks.removed_sentences:
        names = ", ".join(f"`{n}`" for n in checks.invented_names[:8])
        out.append(f"Removed {checks.removed_sentences} sentence(s) of the explanation that named what this "
                   f"repository does not have: {names}.")
    if checks.repeated_sentences:
        out.append(f"Cut {checks.repeated_sentences} repeated sentence(s).")
    if out:
        out.append("")
    out.append("Sources:")
    for i, h in enumerate(run.sources, 1):
        symbol = f" {h.symbol}" if h.symbol and h.symbol != "<module>" else ""
        out.append(f"{i}. `{h.location}`{symbol} ({h.kind})")
    if not run.sources:
        out.append("(none retrieved)")
    return "\n".join(out)


def explanation_header(model_name: str) -> str:
    """The line that introduces a model's explanation: who wrote it and what was checked."""
    return (f"**Explanation** ({model_name or 'model'}; every name it mentions was checked against the code, "
            "its statements were not):")


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
        default_factory=lambda: {
            "retrieve_ms": None, "first_token_ms": None, "first_model_token_ms": None, "total_ms": None,
        }
    )
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[SearchHit] = field(default_factory=list)
    grounded: GroundedPart | None = None
    packed: PackedContext | None = None
    prompt: Prompt | None = None
    prose: ProseFilter | None = None
    raw: str = ""  # everything the model wrote
    shown: str = ""  # everything streamed to the reader
    fallback: bool = False

    @property
    def text(self) -> str:
        """The model's prose that passed the claim check."""
        return self.prose.kept if self.prose is not None else ""

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 1)

    def show(self, piece: str) -> AnswerEvent:
        if self.timings["first_token_ms"] is None:
            self.timings["first_token_ms"] = self.elapsed_ms()
        self.shown += piece
        return AnswerEvent("token", piece)

    def warn(self, message: str) -> AnswerEvent:
        self.warnings.append(message)
        return AnswerEvent("warning", message)


class Answerer:
    """Grounded answers for one repository, from its collaborators (no back-reference to the facade).

    ``search(question, k=k)`` returns a :class:`SearchResult`; ``files`` is the repository's gate,
    ``store`` its index, ``graph()`` its code graph (or None), ``llm_config`` the trusted model
    configuration, and ``max_query_chars`` the longest question accepted.
    """

    def __init__(
        self,
        search: SearchFn,
        files: FileGate,
        store: Store,
        llm_config: LLMConfig,
        *,
        graph: GraphFn | None = None,
        max_query_chars: int = MAX_QUESTION_CHARS,
    ) -> None:
        self.search = search
        self.files = files
        self.store = store
        self.llm_config = llm_config
        self.max_query_chars = max_query_chars
        self.grounder = GroundedBuilder(store, graph or (lambda: None))

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
        """The checked :class:`Answer` to ``question`` (:meth:`stream` without the streaming)."""
        for event in self.stream(question, **options):
            if event.kind == "done":
                return event.data
        raise RuntimeError("the answer stream ended without an answer")

    def warm(self, llm: LLM | str | None = None, model: str | None = None) -> bool:
        """Load an embedded model and cache the fixed start of every prompt; False for other backends."""
        chat_model = self.resolve_llm(llm, model=model)
        if not isinstance(chat_model, LocalLlamaCppLLM):
            return False
        chat_model.warm(fixed_messages())
        return True

    def resolve_llm(self, llm: LLM | str | None, base_url=None, model=None, timeout=None) -> LLM | None:
        """An LLM instance as given, else the named (or configured) backend built lazily."""
        if isinstance(llm, LLM):
            return llm
        return build_llm(self.llm_config, llm, base_url=base_url, model=model, timeout=timeout)

    def _events(self, run: _Run, k: int | None, strict: bool) -> Iterator[AnswerEvent]:
        self.retrieve(run, k)
        yield AnswerEvent("sources", run.sources)
        self.ground(run)
        assert run.grounded is not None
        yield run.show(run.grounded.text)
        if run.chat_model is not None:
            self.pack_and_prompt(run)
            yield from self.generate(run, strict)
        model_citations = self.verify(run)
        yield AnswerEvent("done", self.assemble(run, model_citations))

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

    def ground(self, run: _Run) -> None:
        """The grounded part: the where-part or the graph answer (:mod:`repo_rag.grounded`)."""
        run.grounded = self.grounder.build(run.question, run.sources)
        readable = [c for c in run.grounded.citations if self._readable(c.path)]
        run.grounded.citations = readable

    def pack_and_prompt(self, run: _Run) -> None:
        """Pack the sources into the model's context budget and build the fenced prompt."""
        assert run.chat_model is not None
        counter = token_counter(run.chat_model)
        budget = self._context_budget(run.chat_model, run.question, counter)
        run.packed = pack_context(run.sources, budget, counter, self.files)
        run.prompt = build_prompt(run.question, run.packed)
        run.prose = ProseFilter(self._claim_checker(run))

    def _claim_checker(self, run: _Run) -> ClaimChecker:
        assert run.packed is not None and run.grounded is not None
        spans = run.packed.spans() + [(h.path, h.start_line, h.end_line) for h in run.sources]
        verifier = CitationVerifier(self.files, self.store, spans)

        indexed: list[str] = []

        def path_exists(raw: str) -> bool:
            """An indexed file (as citations resolve it) or a folder holding one."""
            if verifier.verify(Citation(raw, 0, 0)).reason == "no line range given":
                return True
            norm, _ = verifier.normalise_path(raw)
            if norm is None:
                return False
            if not indexed:
                indexed.extend("/" + p for p in self.store.files())
            folder = "/" + norm.strip("/") + "/"
            return any(folder in p for p in indexed)

        known = "\n".join([run.packed.text, run.grounded.text, run.question])
        return ClaimChecker(known, self.store.known_names, path_exists)

    def _context_budget(self, llm: LLM, question: str, counter: TokenCounter) -> int:
        """The configured budget, shrunk so prompt + context + answer fit the model's window."""
        cfg = self.llm_config
        window = llm.metadata.context_window
        room = window - cfg.max_tokens - counter(prompt_overhead(question)) - _SAFETY_TOKENS
        return max(MIN_CONTEXT_TOKENS, min(cfg.context_tokens, room))

    def generate(self, run: _Run, strict: bool) -> Iterator[AnswerEvent]:
        """Stream the model's checked prose; any failure (or silence) marks the run as a fallback.

        Tokens go through the claim filter, which releases whole checked sentences; generation
        stops when the model repeats a line (:func:`is_looping`) or a sentence twice.
        """
        assert run.chat_model is not None and run.prompt is not None and run.prose is not None
        endpoint = describe_endpoint(run.chat_model)
        stream = None
        # between the grounded part and the explanation, sent with the first kept sentence
        lead = "\n\n" + explanation_header(run.chat_model.metadata.model_name) + "\n"
        try:
            options = {}
            if isinstance(run.chat_model, LocalLlamaCppLLM) and self.llm_config.grammar and run.packed is not None:
                options["grammar"] = explanation_grammar(run.packed)
            stream = run.chat_model.stream_chat(run.prompt.messages(), **options)
            for part in stream:
                delta = part.delta or ""
                if not delta:
                    continue
                if run.timings["first_model_token_ms"] is None:
                    run.timings["first_model_token_ms"] = run.elapsed_ms()
                run.raw += delta
                shown = run.prose.feed(delta)
                if shown.strip():
                    yield run.show(lead + shown.lstrip("\n") if lead else shown)
                    lead = ""
                if is_looping(run.raw) or run.prose.looping:
                    yield run.warn("the model started repeating itself: generation stopped")
                    break
        except Exception as exc:  # any model or transport failure degrades to the grounded part alone
            if strict:
                if isinstance(exc, LLMUnavailableError):
                    raise
                raise LLMUnavailableError(f"LLM at {endpoint} unreachable ({_short(exc)})") from exc
            what = "unavailable" if isinstance(exc, LLMUnavailableError) else "unreachable"
            what = "failed mid-answer" if run.raw else what
            yield run.warn(f"LLM at {endpoint} {what} ({_short(exc)}): answer from the index only")
            run.fallback = True
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        rest = run.prose.flush()
        if rest.strip():
            yield run.show(lead + rest.lstrip("\n") if lead else rest)
        if not run.fallback and not run.raw.strip():
            yield run.warn(f"LLM at {endpoint} returned an empty answer: answer from the index only")
            run.fallback = True

    def verify(self, run: _Run) -> list[Citation]:
        """Verdicts on the citations in the model's kept prose (none without a model text)."""
        if not run.text.strip() or run.packed is None:
            return []
        spans = run.packed.spans() + [(h.path, h.start_line, h.end_line) for h in run.sources]
        return verify_answer(run.text, CitationVerifier(self.files, self.store, spans))

    def assemble(self, run: _Run, model_citations: list[Citation]) -> Answer:
        """The final :class:`Answer`: grounded part, prose, checks and Sources, timings, context report."""
        assert run.grounded is not None
        model_answered = bool(run.text.strip())
        footer = _footer(run, model_citations, model_answered)
        run.timings["total_ms"] = run.elapsed_ms()
        chat_model = run.chat_model
        prose = run.text.strip()
        model_name = chat_model.metadata.model_name if chat_model is not None else ""
        body = run.grounded.text + (f"\n\n{explanation_header(model_name)}\n{prose}" if prose else "")
        return Answer(
            question=run.question,
            answer=body + "\n\n" + footer,
            citations=run.grounded.citations + model_citations,
            sources=run.sources,
            model=model_name,
            backend=backend_name(chat_model),
            fallback=run.fallback,
            warnings=run.warnings + [f"retrieval: {n}" for n in run.notes],
            timings=run.timings,
            prompt=run.prompt.text if run.prompt is not None else "",
            model_text=prose,
            footer=footer,
            context=run.packed.report() if run.packed is not None else {},
            grounded=run.grounded.text,
            grounded_part=run.grounded.to_dict(),
            model_citations=model_citations,
            checks=(run.prose.report if run.prose is not None else ClaimReport()).to_dict(),
            raw_model_text=run.raw,
        )
