"""Several repositories searched as one: one ranked list, every hit naming its repository.

Each repository is searched for ``k`` hits with its own index. The lists are merged by score and cut
to ``k``; a tie goes to the repository given first. A merge by score is fair because every
repository's hits are scored by the same learned ranker on the same features: the sigmoid of the
model's output for that query and candidate, with no normalisation over the list
(``retrieve.HybridRetriever._learned_order``). A relevant hit scores about 0.9 in any repository,
an unrelated best hit about 0.1–0.4. Measured on requests + Flask: "where does a session follow
redirects" gives 0.915 in requests' `sessions.py` against 0.369 for Flask's best; "how are blueprints
registered on an app" gives 0.983 in Flask against 0.138 for requests' best.

Without the learned ranker (``search.ranking = "rrf"``, or a search with embeddings off, where the
fixture's scores were ~0.01) the scores are reciprocal-rank fusion values, which depend on list
positions. Such a merge interleaves the lists rather than comparing relevance; keep embeddings on for
a workspace.

Repository names come from :func:`repo_rag.repository.repository_names` (directory names, numbered
when two share one), so a hit's ``repo`` is the name the web chat and the MCP server use too.
"""

from __future__ import annotations

import time
from pathlib import Path

from .config import Config
from .hits import SearchHit, SearchResult
from .repository import Repository, repository_names
from .retrieve import CHANNELS


class Workspace:
    """Repositories searched together (``Workspace([repo_a, repo_b]).search(query)``)."""

    def __init__(self, repos: list[Repository]) -> None:
        if not repos:
            raise ValueError("a workspace needs at least one repository")
        self.repos = dict(zip(repository_names(repos), repos, strict=True))

    @classmethod
    def open(cls, roots: list[str | Path], config: Config | None = None) -> Workspace:
        return cls([Repository.open(root, config) for root in roots])

    def search(self, query: str, k: int | None = None, channels: tuple[str, ...] = CHANNELS) -> SearchResult:
        """The top ``k`` hits of all repositories in one list by score (see the module docstring)."""
        t0 = time.perf_counter()
        merged: list[tuple[float, int, SearchHit]] = []
        notes: list[str] = []
        limit = k
        for order, (name, repo) in enumerate(self.repos.items()):
            result = repo.search(query, k=k, channels=channels)
            limit = limit or len(result.hits)
            for hit in result.hits:
                hit.repo = name
                merged.append((-hit.score, order, hit))
            notes += [f"{name}: {note}" for note in result.notes]
        merged.sort(key=lambda item: (item[0], item[1]))
        hits = [hit for _, _, hit in merged[:limit]]
        return SearchResult(query, hits, {"total_ms": round((time.perf_counter() - t0) * 1000, 1)}, notes)

    def route(self, question: str) -> str:
        """The name of the repository that answers ``question`` best: the one holding the top hit of
        :meth:`search` (scores compare across repositories, see the module docstring). An answer comes
        from one repository; a question about two gets the stronger one, and the other is one
        ``search`` away."""
        hits = self.search(question, k=1).hits
        return hits[0].repo if hits else next(iter(self.repos))

    def close(self) -> None:
        for repo in self.repos.values():
            repo.close()
