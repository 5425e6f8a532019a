"""Paraphrased questions: plain-English "where / how / what calls" questions with file and symbol gold.

Each line of ``eval/data/questions/*.jsonl`` is one question::

    {"project": "requests", "version": "2.32.3", "source": "pypi:requests==2.32.3", "root": ".",
     "language": "python", "kind": "where", "question": "where are redirects followed ...",
     "gold_files": ["src/requests/sessions.py"], "gold_symbols": ["SessionRedirectMixin.resolve_redirects"]}

``source``/``root`` are what :func:`repo_rag.eval.projects.fetch_project` fetches (``pypi:``, ``npm:``,
``deb:``); ``gold_symbols`` are qualnames as repo-rag's chunker names them in the gold files (one
gold symbol per gold file at most, in the same order). The split comes from the project
(:mod:`repo_rag.eval.splits`), never from the row.

The check (``python -m repo_rag.eval questions --check``) refuses a question that spells out its
answer: the gold file's stem, or the gold symbol's name (the last qualname part, also with its
``snake_case``/``camelCase`` words joined by spaces), as whole words, case-insensitively. Names
shorter than 3 characters are ignored (``io``, ``f``).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .splits import split_of

QUESTIONS_DIR = Path(__file__).resolve().parent / "data" / "questions"
KINDS = ("where", "how", "calls")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True)
class Question:
    project: str
    version: str
    source: str
    root: str
    language: str
    kind: str
    question: str
    gold_files: tuple[str, ...]
    gold_symbols: tuple[str, ...] = field(default=())
    origin: str = ""  # file:line it was read from

    @property
    def split(self) -> str:
        return split_of(self.project)


def _spellings(name: str) -> set[str]:
    """How a name can appear in prose: as written, and as its words joined by spaces."""
    words = [w for w in re.split(r"[_\-.\s]+", _CAMEL.sub("_", name)) if w]
    out = {name.lower()}
    if len(words) > 1:
        out.add(" ".join(words).lower())
    return {s for s in out if len(s) >= 3}


def leaks(q: Question) -> list[str]:
    """The gold names a question spells out (empty when it is clean)."""
    text = " ".join(re.findall(r"[a-z0-9]+", q.question.lower()))
    found = []
    names = [Path(f).name.split(".", 1)[0] for f in q.gold_files]
    names += [s.rsplit(".", 1)[-1] for s in q.gold_symbols]
    for name in names:
        for spelling in _spellings(name):
            normal = " ".join(re.findall(r"[a-z0-9]+", spelling))
            if normal and re.search(rf"\b{re.escape(normal)}\b", text):
                found.append(name)
                break
    return found


def _row(d: dict, origin: str) -> Question:
    missing = [k for k in ("project", "version", "source", "root", "language", "kind", "question", "gold_files")
               if k not in d]
    if missing:
        raise ValueError(f"{origin}: missing {', '.join(missing)}")
    if d["kind"] not in KINDS:
        raise ValueError(f"{origin}: kind must be one of {', '.join(KINDS)}, not {d['kind']!r}")
    if not d["gold_files"] or not all(isinstance(f, str) and f for f in d["gold_files"]):
        raise ValueError(f"{origin}: gold_files must be a non-empty list of paths")
    return Question(
        project=d["project"], version=d["version"], source=d["source"], root=d["root"], language=d["language"],
        kind=d["kind"], question=d["question"].strip(), gold_files=tuple(d["gold_files"]),
        gold_symbols=tuple(d.get("gold_symbols", ())), origin=origin,
    )


def load_questions(folder: Path = QUESTIONS_DIR) -> list[Question]:
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                out.append(_row(json.loads(line), f"{path.name}:{n}"))
    return out


def check(questions: Sequence[Question], sources: dict[str, Path] | None = None) -> list[str]:
    """Problems found: leaked names, duplicates, and (given fetched sources) gold files that do not exist."""
    problems = []
    seen: Counter[tuple[str, str]] = Counter((q.project, q.question.lower()) for q in questions)
    for (project, text), n in seen.items():
        if n > 1:
            problems.append(f"{project}: {n} copies of {text!r}")
    for q in questions:
        bad = leaks(q)
        if bad:
            problems.append(f"{q.origin}: question names its answer ({', '.join(bad)}): {q.question!r}")
        if sources and q.project in sources:
            for f in q.gold_files:
                if not (sources[q.project] / f).is_file():
                    problems.append(f"{q.origin}: gold file {f} is not in {q.project} {q.version}")
    return problems


def summary(questions: Sequence[Question]) -> str:
    rows = Counter((q.split, q.language, q.project) for q in questions)
    lines = ["| split | language | project | questions |", "|---|---|---|---|"]
    lines += [f"| {s} | {lang} | {p} | {n} |" for (s, lang, p), n in sorted(rows.items())]
    by_split = Counter(q.split for q in questions)
    lines.append(f"\n{len(questions)} questions, {len({q.project for q in questions})} projects, "
                 f"{len({q.language for q in questions})} languages; "
                 + ", ".join(f"{s} {n}" for s, n in sorted(by_split.items())))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval questions") -> int:
    p = argparse.ArgumentParser(prog=prog, description="List and check the paraphrased questions.")
    p.add_argument("--check", action="store_true", help="fail on leaked names and duplicates")
    p.add_argument("--fetch", action="store_true", help="also fetch each project and check gold files exist")
    args = p.parse_args(argv)
    qs = load_questions()
    sources = None
    if args.fetch:
        from .projects import Project, fetch_project

        sources = {}
        for q in {q.project: q for q in qs}.values():
            sources[q.project] = fetch_project(Project(q.project, q.version, q.source, q.root))
    print(summary(qs))
    problems = check(qs, sources) if args.check or args.fetch else []
    for line in problems:
        print("PROBLEM", line)
    return 1 if problems else 0
