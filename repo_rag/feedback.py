"""Local 👍/👎 feedback on answers, kept in SQLite next to the user's cache (never sent anywhere).

    store = FeedbackStore.open_default(config)      # <cache_dir>/feedback.sqlite
    store.record(answer_id, vote=+1, repo=..., question=..., answer_text=..., citations=[...])
    store.daily_acceptance()                        # [DayStats(day, up, down, rate), ...]

One row per answer: voting again on the same answer replaces the earlier vote and ``clear``
removes it, so the acceptance rate counts each answer once. The answer itself is stored only as a
SHA-256 hash; the question, the repository root and the cited locations (path and lines, not the
code) are stored in clear so a maintainer can see what was asked and what was cited.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .config import Config

FEEDBACK_DB = "feedback.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    answer_id   TEXT PRIMARY KEY,
    ts          TEXT NOT NULL,          -- UTC, ISO 8601
    day         TEXT NOT NULL,          -- UTC date, YYYY-MM-DD
    vote        INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    repo        TEXT NOT NULL,
    question    TEXT NOT NULL,
    answer_hash TEXT NOT NULL,
    citations   TEXT NOT NULL,          -- JSON list of "path:start-end"
    backend     TEXT NOT NULL DEFAULT '',
    model       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_day ON feedback(day);
"""


def answer_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_feedback_path(config: Config | None = None) -> Path:
    return (config or Config()).cache_path / FEEDBACK_DB


@dataclass
class FeedbackRecord:
    answer_id: str
    ts: str
    day: str
    vote: int
    repo: str
    question: str
    answer_hash: str
    citations: list[str]
    backend: str = ""
    model: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DayStats:
    day: str
    up: int
    down: int

    @property
    def total(self) -> int:
        return self.up + self.down

    @property
    def rate(self) -> float | None:
        """Acceptance rate 👍/(👍+👎); None when the day has no votes."""
        return self.up / self.total if self.total else None

    def to_dict(self) -> dict:
        return {"day": self.day, "up": self.up, "down": self.down, "total": self.total, "acceptance": self.rate}


class FeedbackStore:
    """Thread-safe SQLite feedback store (one short-lived connection per call; WAL mode)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @classmethod
    def open_default(cls, config: Config | None = None) -> FeedbackStore:
        return cls(default_feedback_path(config))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success, rolls back on error, and is always closed."""
        con = sqlite3.connect(self.path, timeout=10)
        try:
            with con:
                yield con
        finally:
            con.close()

    def record(
        self,
        answer_id: str,
        vote: int,
        *,
        repo: str,
        question: str,
        answer_text: str,
        citations: Iterable[str] = (),
        backend: str = "",
        model: str = "",
        now: datetime | None = None,
    ) -> FeedbackRecord:
        """Store (or replace) the vote for one answer; ``vote`` is +1 (👍) or -1 (👎)."""
        if vote not in (1, -1):
            raise ValueError(f"vote must be +1 or -1, not {vote!r}")
        if not answer_id:
            raise ValueError("answer_id is required")
        when = (now or datetime.now(UTC)).astimezone(UTC)
        rec = FeedbackRecord(
            answer_id=answer_id,
            ts=when.isoformat(timespec="seconds"),
            day=when.date().isoformat(),
            vote=vote,
            repo=str(repo),
            question=question,
            answer_hash=answer_hash(answer_text),
            citations=list(citations),
            backend=backend,
            model=model,
        )
        with self._lock, self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO feedback (answer_id, ts, day, vote, repo, question, answer_hash, citations,"
                " backend, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.answer_id,
                    rec.ts,
                    rec.day,
                    rec.vote,
                    rec.repo,
                    rec.question,
                    rec.answer_hash,
                    json.dumps(rec.citations),
                    rec.backend,
                    rec.model,
                ),
            )
        return rec

    def clear(self, answer_id: str) -> bool:
        """Withdraw the vote on one answer; True if there was one."""
        with self._lock, self._connect() as con:
            return con.execute("DELETE FROM feedback WHERE answer_id = ?", (answer_id,)).rowcount > 0

    def get(self, answer_id: str) -> FeedbackRecord | None:
        rows = self._select("WHERE answer_id = ?", (answer_id,))
        return rows[0] if rows else None

    def all(self, repo: str | None = None) -> list[FeedbackRecord]:
        if repo is None:
            return self._select("ORDER BY ts", ())
        return self._select("WHERE repo = ? ORDER BY ts", (repo,))

    def _select(self, where: str, params: tuple) -> list[FeedbackRecord]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT answer_id, ts, day, vote, repo, question, answer_hash, citations, backend, model FROM feedback "
                + where,
                params,
            ).fetchall()
        return [FeedbackRecord(*r[:7], json.loads(r[7]), r[8], r[9]) for r in rows]

    def daily_acceptance(self, repo: str | None = None, days: int | None = None) -> list[DayStats]:
        """Votes per UTC day, oldest first (the last ``days`` days that have votes, if given)."""
        sql = "SELECT day, SUM(vote = 1), SUM(vote = -1) FROM feedback"
        params: tuple = ()
        if repo is not None:
            sql += " WHERE repo = ?"
            params = (repo,)
        sql += " GROUP BY day ORDER BY day"
        with self._connect() as con:
            rows = [DayStats(d, int(u or 0), int(n or 0)) for d, u, n in con.execute(sql, params)]
        return rows[-days:] if days else rows

    def totals(self, repo: str | None = None) -> DayStats:
        days = self.daily_acceptance(repo)
        return DayStats("total", sum(d.up for d in days), sum(d.down for d in days))
