"""`repo-rag stats`: the acceptance rate of answers (👍 / (👍 + 👎)) per day, from local feedback."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import ConfigError, load_config
from ..feedback import DayStats, FeedbackStore, default_feedback_path
from .common import CliError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("stats", help="acceptance rate of answers per day, from 👍/👎 feedback in the web chat")
    p.add_argument("--db", help="feedback database (default: <cache_dir>/feedback.sqlite)")
    p.add_argument("--repo", help="only feedback on this repository (its root path)")
    p.add_argument("--days", type=int, help="only the last N days that have votes")
    p.add_argument("--config", help="TOML configuration file (for cache_dir)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def _rate(s: DayStats) -> str:
    return "-" if s.rate is None else f"{s.rate * 100:.1f}%"


def format_table(days: list[DayStats], total: DayStats) -> str:
    rows = [(d.day, str(d.up), str(d.down), str(d.total), _rate(d)) for d in days]
    rows.append(("total", str(total.up), str(total.down), str(total.total), _rate(total)))
    head = ("day", "up", "down", "votes", "acceptance")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    out = [line(head), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in rows[:-1]]
    if days:
        out.append(line(tuple("-" * w for w in widths)))
    out.append(line(rows[-1]))
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    if args.days is not None and args.days < 1:
        raise CliError("--days must be at least 1")
    if args.db:
        path = Path(args.db)
    else:
        try:
            cfg = load_config(args.repo if args.repo and Path(args.repo).is_dir() else None, args.config)
        except ConfigError as exc:
            raise CliError(str(exc)) from exc
        path = default_feedback_path(cfg)
    repo = str(Path(args.repo).resolve()) if args.repo else None
    if not path.exists():
        days: list[DayStats] = []
    else:
        store = FeedbackStore(path)
        days = store.daily_acceptance(repo, args.days)
    total = DayStats("total", sum(d.up for d in days), sum(d.down for d in days))
    if args.json:
        print(
            json.dumps({"db": str(path), "repo": repo, "days": [d.to_dict() for d in days], "total": total.to_dict()})
        )
        return 0
    if not days:
        print(f"no feedback yet in {path}")
        return 0
    print(format_table(days, total))
    return 0
