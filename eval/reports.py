"""Issue-like reports: a test's name and body as the query, the definition it tests as the gold.

Why: SWE-bench issues are long texts (a title, prose, a reproducer calling several names, sometimes
a traceback) that name many things of which few are the answer. The other training queries are
short and either never name their answer (docstring sentences, paraphrased questions) or name
exactly their answer (``forms``), so a ranker trained on them alone learned that a named symbol,
path or frame IS the answer, and ranked issue texts below the old fusion (benchmarks §16). A test
is the closest honest stand-in for a bug report that the registries hold: it exercises one
definition, calls several others, and is written in the project's own vocabulary.

``python -m repo_rag.eval reports build`` writes, per project (the mined projects' masked trees,
the paraphrased-question projects and :data:`EXTRA_PROJECTS`; each keeps its own split,
:func:`.splits.split_of`):

1. tests: definitions of test files (``is_test_path``, a code language) whose name starts with
   "test" in any case (``test_x``, ``TestX``, ``testX``);
2. gold: among the names the test references (``ParsedFile.references`` inside it), the non-test
   definitions whose leaf name is defined exactly once outside test files and whose name words are
   all words of the test's name (``test_parse_args_defaults`` -> ``parse_args``); the one with the
   most words wins; a tie drops the test;
3. query: the test name's words as a title line, then the test's source after its first line,
   dedented, at most :data:`MAX_BODY_LINES` lines;
4. tree: test files holding usable tests are taken in ``blake2b(path)`` order, and each taken
   file is left out of the indexed copy with all its usable tests kept as queries, until
   ``--per-project`` queries or half of the test files; so a reproducer is never in the index (as
   in SWE-bench, where the failing test arrives with the fix) while the other tests stay as
   distractors. Paths are unchanged, so the copy's chunks hit the embedding cache of the original.

Output: ``<cache>/bench/reports/<project>-<version>/`` (``src/``, ``pairs.jsonl`` in the mined
pairs' format, ``meta.json``); ``<cache>/bench/reports/pairs.jsonl`` gathers every project.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from repo_rag.config import default_cache_dir
from repo_rag.parsing import CLASS, CODE_LANGUAGES, FUNCTION, METHOD, is_test_path, parse_source

from .mined import _LANGUAGE, MinedPair, _indexed_files, _read, build_args, build_each, gather
from .mined import PROJECTS as MINED_PROJECTS
from .projects import Project, fetch_project
from .questions import load_questions
from .splits import split_of

# Python projects whose sdists carry their test suites, all in the train split (eval/splits.py), mined for
# reports only: SWE-bench is Python, and the mined projects hold few Python tests (npm tarballs and most
# Debian packages ship none; JavaScript tests are anonymous callbacks, not named definitions).
EXTRA_PROJECTS: tuple[Project, ...] = tuple(
    Project(n, v, f"pypi:{n}=={v}", ".") for n, v in (x.split("==") for x in (
        "sqlparse==0.5.1 toolz==0.12.1 python-dateutil==2.9.0.post0 jsonschema==4.23.0 tomlkit==0.13.2 "
        "arrow==1.3.0 werkzeug==3.0.4 parso==0.8.4 pint==0.24.3").split())
)
FOLDER = "reports"
MAX_BODY_LINES, DEFAULT_PER_PROJECT = 40, 150
_KINDS = frozenset({FUNCTION, METHOD, CLASS})
_TEST_NAME = re.compile(r"^test", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def name_words(name: str) -> tuple[str, ...]:
    """``parse_args`` / ``parseArgs`` / ``ParseArgs`` -> ("parse", "args"); digits and '_' split."""
    return tuple(w.lower() for part in re.split(r"[^A-Za-z]+", name) for w in _CAMEL.split(part) if w)


@dataclass(frozen=True)
class Report:
    """One usable test: the query it becomes and the definition it tests."""

    test_path: str
    test_qualname: str
    language: str
    query: str
    gold_path: str
    gold_qualname: str
    gold_kind: str
    gold_start_line: int
    gold_end_line: int


def _query(test_name: str, lines: list[str], start: int, end: int) -> str:
    title = " ".join(w for w in name_words(test_name) if w != "test")
    body = textwrap.dedent("\n".join(lines[start:end][:MAX_BODY_LINES])).strip("\n")  # after the first line
    return f"{title}\n\n{body}" if body else title


def reports_of_tree(root: Path) -> tuple[dict[str, list[Report]], int]:
    """Step 1-3: every test file's usable tests, and how many test files the tree has."""
    parsed = {}
    for path, language in _indexed_files(root):
        if language in CODE_LANGUAGES:
            text = _read(root / path)
            if text:
                parsed[path] = (parse_source(path, text, language), text)
    by_name: dict[str, list] = defaultdict(list)
    for path, (pf, _) in parsed.items():
        if not is_test_path(path):
            for d in pf.definitions:
                if d.kind in _KINDS:
                    by_name[d.name].append((path, d))
    test_files = [p for p in parsed if is_test_path(p)]
    out: dict[str, list[Report]] = {}
    for path in test_files:
        pf, text = parsed[path]
        lines = text.split("\n")
        used: dict[str, set[str]] = defaultdict(set)
        for r in pf.references:
            used[r.source].add(r.name)
        for t in pf.definitions:
            if t.kind not in (FUNCTION, METHOD) or not _TEST_NAME.match(t.name):
                continue
            words = set(name_words(t.name)) - {"test"}
            names = set().union(*(v for k, v in used.items() if k == t.qualname or k.startswith(t.qualname + ".")))
            fits = [(len(name_words(n)), n) for n in names
                    if len(by_name.get(n, ())) == 1 and name_words(n) and set(name_words(n)) <= words]
            if not fits:
                continue
            best = max(fits)
            if sum(1 for f in fits if f[0] == best[0]) > 1:
                continue
            gold_path, d = by_name[best[1]][0]
            query = _query(t.name, lines, t.start_line, t.end_line)
            out.setdefault(path, []).append(Report(path, t.qualname, _LANGUAGE.get(pf.language, pf.language), query,
                                                   gold_path, d.qualname, d.kind, d.start_line, d.end_line))
    return out, len(test_files)


def _order(path: str) -> str:
    return hashlib.blake2b(path.encode("utf-8"), digest_size=8).hexdigest()


def choose(found: dict[str, list[Report]], n_test_files: int, per_project: int) -> list[Report]:
    """Step 4: whole test files in hash order until ``per_project`` queries or half the test files."""
    chosen: list[Report] = []
    for i, path in enumerate(sorted(found, key=_order)):
        if len(chosen) >= per_project or i >= n_test_files // 2:
            break
        chosen.extend(found[path])
    return chosen


def copy_without(root: Path, dest: Path, left_out: set[str]) -> None:
    """Copy ``root`` to ``dest`` without symlinks and without the ``left_out`` files (relative paths)."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        rel = os.path.relpath(folder, root)
        return [n for n in names if os.path.islink(os.path.join(folder, n))
                or os.path.normpath(os.path.join(rel, n)) in left_out]

    shutil.copytree(root, dest, ignore=ignore)


def sources() -> list[tuple[Project, Path | None]]:
    """The projects reports are mined from: each mined project (its masked tree, None until built)
    and each paraphrased-question project (its fetched tree)."""
    cache = default_cache_dir()
    out: dict[str, tuple[Project, Path | None]] = {}
    for p in MINED_PROJECTS:
        masked = cache / "bench" / "mined" / p.key / "src"
        out[p.name] = (p, masked if masked.is_dir() else None)
    for q in load_questions():
        if q.project not in out:
            out[q.project] = (Project(q.project, q.version, q.source, q.root), None)
    for p in EXTRA_PROJECTS:
        out.setdefault(p.name, (p, None))
    return list(out.values())


def build_project(project: Project, root: Path | None, per_project: int, cache: Path, fresh: bool = False) -> dict:
    """Mine and copy one project (skipped when already built); returns its meta."""
    out = cache / "bench" / FOLDER / project.key
    if (out / "meta.json").is_file() and not fresh:
        return json.loads((out / "meta.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    root = root or fetch_project(project, cache)
    found, n_test_files = reports_of_tree(root)
    chosen = choose(found, n_test_files, per_project)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    left_out = {r.test_path for r in chosen}
    copy_without(root, tmp / "src", left_out)
    split = split_of(project.name)
    rows = [MinedPair(project.name, project.version, r.language, split, r.query, r.gold_path, r.gold_qualname,
                      r.gold_start_line, r.gold_end_line, str(out / "src"), r.gold_kind) for r in chosen]
    (tmp / "pairs.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows), encoding="utf-8")
    languages = Counter(r.language for r in rows)
    meta = {"project": project.name, "version": project.version, "source": project.source, "root": project.root,
            "split": split, "language": languages.most_common(1)[0][0] if rows else "", "pairs": len(rows),
            "languages": dict(languages), "test_files": n_test_files, "test_files_with_reports": len(found),
            "left_out_files": len(left_out), "seconds": round(time.perf_counter() - t0, 1)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return meta


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval reports") -> int:
    args, wanted = build_args(argv, prog, "Issue-like reports: test name + body -> the tested symbol.",
                              "mine the projects (run `mined build` first; built ones are skipped)",
                              DEFAULT_PER_PROJECT, "reports")
    cache = default_cache_dir()
    failed = build_each(
        ((p, partial(build_project, p, root, args.per_project, cache, args.fresh))
         for p, root in sources() if not wanted or p.name.lower() in wanted),
        lambda p, meta: (f"{p.key} ({meta['split']}): {meta['pairs']} reports from {meta['left_out_files']} of "
                         f"{meta['test_files']} test files"))
    metas = gather(cache, [proj for proj, _ in sources()], folder=FOLDER)
    by_split = Counter()
    for m in metas:
        by_split[m["split"]] += m["pairs"]
    print(f"{sum(by_split.values())} reports ({dict(by_split)}), {sum(1 for m in metas if m['pairs'])} projects "
          f"with reports; failed: {failed or 'none'}")
    return 1 if failed else 0
