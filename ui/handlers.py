"""The page's handlers and per-session state, as plain Python (unit-testable without a browser).

Security model of the handlers:

* the LLM endpoint (URL, model, API key) is server configuration: a client picks a backend name
  (local | openai | none) and nothing else, so no request can point the server at another host;
* a question longer than ``search.max_query_chars`` is refused with a message in the chat;
* the source panel reads only through ``Repository.files`` (see ui.source);
* repository content never goes to the log at INFO (only sizes, counts and timings).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from repo_rag.feedback import FeedbackStore
from repo_rag.grounded import CALL_SITE_REASON
from repo_rag.llm import BACKENDS
from repo_rag.query import QueryTooLongError, check_question
from repo_rag.repository import Repository, repository_names
from repo_rag.workspace import Workspace

from .graphview import GRAPH_MAX_CITED, NO_GRAPH, most_called_function, neighbourhood, render_graph_svg
from .render import format_answer, plain_text_html, routed_html, streaming_html, thinking_html, warning_html
from .source import SourceRefused, refused_html, render_source
from .status import index_status_html, progress_html, short_error, status_warn_html

log = logging.getLogger("repo_rag.ui")
ALL_REPOS = "All repositories"  # menu entry: each question goes to the repository that matches it best

GENERIC_EXAMPLES = ["What are the main modules and what do they do?", "Where are errors handled?"]
STREAM_INTERVAL_S = 0.08  # at most one partial-answer update per interval
QUESTION_PREVIEW_CHARS = 300


@dataclass
class ServedRepo:
    """One repository behind the chat, with its display key and a lock serialising re-indexing."""

    key: str
    repo: Repository
    index_lock: threading.Lock = field(default_factory=threading.Lock)
    progress: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnswerSettings:
    """What a client may choose for one answer: how many locations, and which configured backend."""

    k: int
    backend: str
    retrieval_only: bool

    @property
    def llm(self) -> str:
        """The backend name handed to ``Repository.ask`` (which builds it from the configuration)."""
        backend = "none" if self.retrieval_only else (self.backend or "local")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")
        return backend


def _locations(answer) -> list:
    """The verified locations an answer cites (the grounded part's and the model's), not call-site lines."""
    return [c for c in answer.citations if c.verified and c.reason != CALL_SITE_REASON]


def _snapshot(history: list[dict]) -> list[dict]:
    """A copy of the chat history to yield (the streamed message keeps changing after the yield)."""
    return [dict(m) for m in history]


class ChatApp:
    """Handlers (plain Python, unit-testable); ``ui.app.build_blocks`` wires them into the page."""

    def __init__(self, repos: list[Repository], feedback: FeedbackStore, *, concurrency: int = 4,
                 queue_size: int = 64) -> None:  # fmt: skip
        if not repos:
            raise ValueError("serve at least one repository")
        self.served = {k: ServedRepo(k, r) for k, r in zip(repository_names(repos), repos, strict=True)}
        self.default_key = next(iter(self.served))
        self.feedback = feedback
        self.concurrency = concurrency
        self.queue_size = queue_size
        first = repos[0].config
        self.default_settings = AnswerSettings(
            k=first.search.top_k,
            backend=first.llm.backend if first.llm.backend in BACKENDS else "local",
            retrieval_only=first.llm.backend == "none",
        )

    @property
    def choices(self) -> list[str]:
        """The repository menu: every served repository, then "all" when there are several."""
        return [*self.served, ALL_REPOS] if len(self.served) > 1 else list(self.served)

    # -- lookups ----------
    def route(self, question: str, repo_key: str | None) -> ServedRepo:
        """The repository that answers: the chosen one, or with "all" the one whose best hit is
        strongest for the question (:meth:`repo_rag.workspace.Workspace.route`)."""
        if repo_key != ALL_REPOS:
            return self.served_repo(repo_key)
        indexed = [sr for sr in self.served.values() if sr.repo.is_indexed]
        if not indexed:
            raise SourceRefused("no repository has an index yet")
        ws = Workspace([sr.repo for sr in indexed])
        chosen = ws.repos[ws.route(question)]
        return next(sr for sr in indexed if sr.repo is chosen)

    def served_repo(self, key: str | None) -> ServedRepo:
        sr = self.served.get(key or self.default_key)
        if sr is None:
            raise SourceRefused("unknown repository")
        return sr

    def examples(self, repo_key: str | None) -> list[str]:
        """Example questions: two generic ones and 'What calls X?' for the most-called function."""
        out = list(GENERIC_EXAMPLES)
        try:
            graph = self.served_repo(repo_key).repo.graph
        except Exception:  # not indexed yet: generic examples only
            graph = None
        name = most_called_function(graph) if graph is not None else None
        if name:
            out.append(f"What calls {name}?")
        return out

    # -- chat ----------
    def respond(
        self,
        question: str,
        history: list[dict] | None,
        repo_key: str,
        k: float,
        backend: str,
        retrieval_only: bool,
        answers: dict | None,
    ) -> Iterator[tuple]:
        """Stream one answer: yields (history, question box, answers state, graph html, status)."""
        history = list(history or [])
        answers = dict(answers or {})
        question = (question or "").strip()
        if not question:
            yield _snapshot(history), "", answers, gr.skip(), gr.skip()
            return
        try:
            check_question(question, self.served_repo(None if repo_key == ALL_REPOS else repo_key)
                           .repo.config.search.max_query_chars)
            sr = self.route(question, repo_key)
        except (SourceRefused, QueryTooLongError) as exc:
            preview = question[:QUESTION_PREVIEW_CHARS] + ("…" if len(question) > QUESTION_PREVIEW_CHARS else "")
            history.append({"role": "user", "content": plain_text_html(preview)})
            history.append({"role": "assistant", "content": warning_html(f"Not asked: {exc}.")})
            yield _snapshot(history), gr.skip(), answers, gr.skip(), gr.skip()  # the question stays to edit
            return
        settings = AnswerSettings(int(k or 0) or self.default_settings.k, backend, bool(retrieval_only))
        history.append({"role": "user", "content": plain_text_html(question)})
        history.append({"role": "assistant", "content": thinking_html("Searching the code…")})
        yield _snapshot(history), "", answers, gr.skip(), gr.skip()
        t0 = time.perf_counter()
        answer = yield from self._stream(sr, question, settings, history, answers)
        if answer is None:
            return
        history[-1]["content"] = format_answer(answer, sr.key)
        if repo_key == ALL_REPOS:
            history[-1]["content"] = routed_html(sr.key) + history[-1]["content"]
        answers[str(len(history) - 1)] = {
            "answer_id": uuid.uuid4().hex,
            "repo": str(sr.repo.root),
            "question": question,
            "answer": answer.answer,
            "citations": [c.location for c in _locations(answer)],
            "backend": answer.backend,
            "model": answer.model,
        }
        cited = [(c.path, c.start_line, c.end_line, c.symbol) for c in _locations(answer)]
        if not cited:
            cited = [(h.path, h.start_line, h.end_line, h.symbol) for h in answer.sources[:GRAPH_MAX_CITED]]
        graph_html = self.graph_html(sr, cited)
        log.info(
            "answered repo=%s backend=%s sources=%d citations=%d fallback=%s in %.0f ms",
            sr.key, answer.backend, len(answer.sources), len(cited), answer.fallback,
            (time.perf_counter() - t0) * 1000,
        )  # fmt: skip
        yield _snapshot(history), "", answers, graph_html, gr.skip()

    def _stream(
        self, sr: ServedRepo, question: str, s: AnswerSettings, history: list[dict], answers: dict
    ) -> Generator[tuple, None, Any]:
        """Yield chat updates while the answer streams in; return the final Answer (None on failure)."""

        def update(content: str) -> tuple:
            history[-1]["content"] = content
            return _snapshot(history), "", answers, gr.skip(), gr.skip()

        text, last_yield = "", 0.0
        try:
            for event in sr.repo.ask(question, stream=True, k=s.k, llm=s.llm):
                if event.kind == "sources":
                    yield update(thinking_html(f"Found {len(event.data)} relevant locations, writing the answer…"))
                elif event.kind == "token":
                    text += event.data
                    if time.perf_counter() - last_yield > STREAM_INTERVAL_S:
                        last_yield = time.perf_counter()
                        yield update(streaming_html(text, sr.key))
                elif event.kind == "done":
                    return event.data
        except Exception as exc:  # the page shows a one-line error instead of a broken stream
            log.warning("answer failed: %s", type(exc).__name__)
            yield update(warning_html(short_error(exc)))
            return None
        yield update(warning_html("no answer was produced"))
        return None

    def graph_html(self, sr: ServedRepo, cited: list[tuple[str, int, int, str]]) -> str:
        try:
            graph = sr.repo.graph
        except Exception as exc:
            log.warning("graph unavailable: %s", type(exc).__name__)
            graph = None
        if graph is None:
            return NO_GRAPH
        nodes, edges = neighbourhood(graph, cited)
        return render_graph_svg(nodes, edges, sr.key)

    # -- source panel ----------
    def show_source(self, payload: str) -> str:
        """The source panel for a clicked citation (JSON: repo, path, start, end)."""
        path = ""
        try:
            data = json.loads(payload or "{}")
            if not isinstance(data, dict):
                raise ValueError
            path = str(data.get("path", ""))
            start, end = int(data.get("start") or 1), int(data.get("end") or 0)
            sr = self.served_repo(str(data.get("repo") or "") or None)
            return render_source(sr.repo, path, start, end or start)
        except SourceRefused as exc:
            log.warning("source panel refused a path")
            return refused_html(str(exc), path)
        except (ValueError, TypeError):
            return refused_html("malformed citation", path)
        except OSError:
            return refused_html("the file could not be read", path)

    # -- feedback ----------
    def on_like(self, answers: dict | None, data: gr.LikeData) -> str:
        """Record 👍/👎 for the answer at ``data.index`` (a second click on the same thumb withdraws it)."""
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        meta = (answers or {}).get(str(index))
        if meta is None:
            return '<span class="fb">Feedback is recorded for answers only.</span>'
        liked = data.liked
        if liked is True or liked == "Like":
            vote = 1
        elif liked is False or liked == "Dislike":
            vote = -1
        else:
            self.feedback.clear(meta["answer_id"])
            return '<span class="fb" id="feedback-status">Feedback withdrawn.</span>'
        self.feedback.record(
            meta["answer_id"], vote, repo=meta["repo"], question=meta["question"], answer_text=meta["answer"],
            citations=meta["citations"], backend=meta["backend"], model=meta["model"],
        )  # fmt: skip
        log.info("feedback %s recorded", "up" if vote > 0 else "down")
        word = "👍 Thanks — recorded as helpful." if vote > 0 else "👎 Thanks — recorded as not helpful."
        return f'<span class="fb" id="feedback-status" data-vote="{vote}">{word}</span>'

    # -- index status and re-indexing ----------
    def index_status(self, repo_key: str | None) -> str:
        if repo_key == ALL_REPOS:
            return "".join(self.index_status(key) for key in self.served)
        sr = self.served_repo(repo_key)
        if sr.index_lock.locked():
            return progress_html(sr.key, sr.progress)
        return index_status_html(sr.key, sr.repo)

    def reindex(self, repo_key: str) -> Iterator[str]:
        """(Re-)index the selected repository in the background, yielding status HTML with progress
        ("all": each in turn)."""
        if repo_key == ALL_REPOS:
            for key in self.served:
                yield from self.reindex(key)
            yield self.index_status(ALL_REPOS)
            return
        sr = self.served_repo(repo_key)
        if not sr.index_lock.acquire(blocking=False):
            yield progress_html(sr.key, sr.progress)
            return
        result: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int, info: str) -> None:
            sr.progress.update(stage=stage, done=done, total=total, info=info)

        def work() -> None:
            try:
                result["report"] = sr.repo.index(progress)
            except Exception as exc:
                result["error"] = exc

        sr.progress.clear()
        thread = threading.Thread(target=work, name=f"index-{sr.key}", daemon=True)
        try:
            thread.start()
            while thread.is_alive():
                yield progress_html(sr.key, sr.progress)
                thread.join(0.4)
        finally:
            sr.index_lock.release()
        if "error" in result:
            log.warning("re-index of %s failed: %s", sr.key, type(result["error"]).__name__)
            yield status_warn_html(f"Indexing failed: {short_error(result['error'])}")
            return
        report = result["report"]
        log.info("re-indexed %s: %d files, %d chunks", sr.key, report.files_seen, report.chunks_total)
        yield self.index_status(repo_key).replace(
            "</div>", f" · re-indexed in {report.seconds.get('total', 0):.1f} s</div>", 1
        )

    # -- HTTP API (load tests, scripts) ----------
    def api_ask(self, question: str, repo: str = "", k: int = 0, backend: str = "") -> dict:
        """Answer ``question`` (backend: local|openai|none, '' = configured) and return Answer.to_dict()."""
        try:
            sr = self.served_repo(repo or None)
            question = check_question((question or "").strip(), sr.repo.config.search.max_query_chars)
            s = AnswerSettings(int(k or 0) or self.default_settings.k, backend or sr.repo.config.llm.backend, False)
            llm = s.llm
        except (SourceRefused, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        t0 = time.perf_counter()
        answer = sr.repo.ask(question, k=s.k, llm=llm)
        log.info(
            "answered repo=%s backend=%s sources=%d citations=%d fallback=%s in %.0f ms (api)",
            sr.key, answer.backend, len(answer.sources), len(answer.citations), answer.fallback,
            (time.perf_counter() - t0) * 1000,
        )  # fmt: skip
        return answer.to_dict()
