"""Answer evaluation: do grounded answers cite the right files, does the model invent names, how fast?

    python -m repo_rag.eval answers --repo REPO --questions QUESTIONS.jsonl --backend none --backend local
    python -m repo_rag.eval answers --dataset paraphrased --split validation --limit-per-project 5 \\
        --backend none --backend local=/models/gemma-3-270m-it-Q4_K_M.gguf
    python -m repo_rag.eval answers --dataset paraphrased --projects requests,cobra \\
        --backend openai --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-Coder-1.5B-Instruct

Questions: JSON Lines of ``{"question": ..., "gold_files": [...]}`` asked of one indexed ``--repo``,
or (``--dataset paraphrased``) the paraphrased questions of the projects in ``--split``
(``validation`` by default, ``train``, ``all``; :func:`repo_rag.eval.splits.split_of`), optionally
only ``--projects a,b`` and the first ``--limit-per-project N`` of each, each project on its cached
eval index (``<cache>/bench/retrieval/index``, see ``retrieval-data``), project by project so a
long-lived model process reuses its prompt cache; progress goes to stderr, a line per answer.
Backends (``--backend``, repeatable; default ``none`` and ``local``): ``none`` (grounded part
alone), ``local`` (configured embedded GGUF model), ``local=NAME_OR_GGUF_PATH`` (the embedded
runtime with that model; key: the whole string), ``openai`` (any OpenAI-compatible endpoint, e.g.
``vllm serve`` or ``llama-server``, at ``--base-url`` with ``--model``; those apply to it only).
From Python, LlamaIndex ``LLM`` instances too (key: ``llm.metadata.model_name``).

Per answer (``rows``; *verified* as :mod:`repo_rag.verify` decides):

* ``first_citation_gold``: the answer's first verified citation (the grounded part's first
  location) is in a gold file; ``model_first_citation_gold``: so is the first verified one among
  the model's own citations (False when none); ``citations``/``verified`` count the whole
  answer's, ``model_citations``/``model_verified`` the model's;
* ``removed_sentences``, ``repeated_sentences``, ``invented_names``: what the claim filter
  (:mod:`repo_rag.claims`) cut from the prose; ``had_invented``: the model wrote at least one
  sentence naming something that does not exist (``removed_sentences > 0``);
* ``shown_unknown_names``: an independent check of the prose *shown* (``model_text``), reusing
  none of the filter's lookups: the names and dotted names :func:`repo_rag.claims.mentions`
  extracts that have an identifier token (``[A-Za-z_$][\\w$]*``; any part of a dotted name)
  found in no chunk text, signature, name or qualname of the index (``Store.iter_chunks()``) and
  not a Python keyword or builtin. Paths are skipped (the filter checks them against the file
  list). Stricter than the filter: a name only the question supplies counts as unknown here;
* ``first_token_ms`` (first visible token: the grounded part), ``first_model_token_ms`` (first
  token from the model; None without one), ``total_ms``; ``fallback``, ``not_found``, ``warnings``;
  ``answer_text`` (shown prose) and ``raw_model_text`` (all the model wrote), 2000 chars each.

Per backend (``summary`` over all questions, ``per_project`` per project; rates are shares of all
the backend's answers): ``first_citation_gold`` and ``model_first_citation_gold`` (rates of the
flags); ``citation_precision`` (verified / all citations) and ``model_citation_precision`` (the
same over the model's citations, None when it made none); ``no_verified_citation`` (rate without
any verified citation); ``not_found_rate`` (rate saying "not found in this repository");
``fallback_rate`` (rate answered from the index alone, the model being unavailable);
``invented_rate`` (rate of ``had_invented``: before the filter) and ``shown_invented_rate`` (rate
of a non-empty ``shown_unknown_names``: what readers saw); ``removed_sentences`` and
``repeated_sentences`` (totals); p50 and p95 (nearest rank) of the three latencies, ms.

Written under ``--out`` (default ``eval/out/answers``): ``answers.json`` (command line, mode, split,
question count, backend list, ``summary`` and ``per_project`` per backend, and under ``backends``
each one's summary, per-project summaries and rows) and ``answers.md`` (the table, also printed,
plus a per-project table when there are several projects).
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import json
import keyword
import math
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.llms import LLM

from repo_rag.claims import mentions
from repo_rag.llm import LLMUnavailableError
from repo_rag.repository import Repository

from .splits import split_of as project_split

PROG = "python -m repo_rag.eval answers"
DATASETS = ("paraphrased",)
SPLITS = ("validation", "train", "all")
TEXT_CHARS = 2000
BACKEND_HELP = "none, local, local=NAME_OR_GGUF_PATH or openai (with --base-url URL and --model NAME)"
Log = Callable[[str], None]


def _stderr(line: str) -> None:  # progress lines
    print(line, file=sys.stderr, flush=True)


# -- questions ---------------------------------------------------------------------------------
def load_questions(path: str | Path, project: str | None = None) -> list[dict]:
    """Questions of ``path`` (only those whose ``project`` field matches, when one is given)."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not isinstance(item, dict) or "question" not in item:
            raise ValueError(f"{path}:{n}: expected an object with 'question' and 'gold_files'")
        item.setdefault("gold_files", [])
        if project is None or item.get("project", "").lower() == project.lower():
            out.append(item)
    return out


def select_dataset(
    questions: Iterable[Any],
    split: str = "validation",
    projects: Sequence[str] = (),
    limit_per_project: int | None = None,
    split_of: Callable[[str], str] = project_split,
) -> dict[str, list[Any]]:
    """The questions to ask, by project, projects in the order they first appear (a pure function).

    ``questions`` have a ``project`` attribute (:class:`repo_rag.eval.questions.Question`). A project
    is kept when ``split_of(project)`` is ``split`` (any, for ``all``) and it is one of ``projects``
    when those are named; each keeps its first ``limit_per_project`` questions. ValueError for an
    unknown split or project, a named project of another split, or an empty selection.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    if limit_per_project is not None and limit_per_project < 1:
        raise ValueError(f"--limit-per-project must be at least 1, not {limit_per_project}")
    grouped: dict[str, list[Any]] = {}
    for q in questions:
        grouped.setdefault(q.project, []).append(q)
    wanted = list(dict.fromkeys(p.strip() for p in projects if p.strip()))
    unknown = [p for p in wanted if p not in grouped]
    if unknown:
        raise ValueError(f"unknown project(s) {', '.join(unknown)}: the dataset has {', '.join(sorted(grouped))}")
    other = [p for p in wanted if split != "all" and split_of(p) != split]
    if other:
        raise ValueError(f"project(s) {', '.join(other)} not in the {split} split (use --split all or theirs)")
    out = {p: qs[:limit_per_project] for p, qs in grouped.items()
           if (not wanted or p in wanted) and (split == "all" or split_of(p) == split)}
    if not out:
        raise ValueError(f"no questions in the {split} split")
    return out


# -- backends ----------------------------------------------------------------------------------
@dataclass
class Backend:
    """One backend as the benchmark asks it; ``key`` names it in rows, summaries and tables."""

    key: str
    llm: Any  # 'none' | 'local' | 'openai' | a LlamaIndex LLM instance
    model: str | None = None
    base_url: str | None = None

    warmed: bool = False

    def ask(self, repo: Repository, question: str, k: int | None):
        if not self.warmed and isinstance(self.llm, str) and self.llm == "local":
            self.warmed = True
            with contextlib.suppress(LLMUnavailableError):  # then every answer records the fallback
                repo.warm("local", self.model)  # as a long-lived process would: load, cache the prompt start
        return repo.ask(question, k=k, llm=self.llm, model=self.model, base_url=self.base_url)


def parse_backend(spec: str | LLM, *, base_url: str | None = None, model: str | None = None) -> Backend:
    """``none``, ``local``, ``local=NAME_OR_GGUF_PATH``, ``openai`` (with base_url/model), an LLM; else ValueError."""
    if isinstance(spec, LLM):
        return Backend(spec.metadata.model_name, spec)
    if not isinstance(spec, str):
        raise ValueError(f"a backend is {BACKEND_HELP}, or a LlamaIndex LLM; not a {type(spec).__name__}")
    name, sep, arg = (s.strip() for s in spec.strip().partition("="))
    name = name.lower()
    if name in ("none", "local", "openai") and not sep:
        endpoint = {"model": model, "base_url": base_url} if name == "openai" else {}
        return Backend(name, name, **endpoint)
    if name == "local" and arg:
        return Backend(f"local={arg}", "local", model=arg)
    if name == "local":
        raise ValueError(f"backend {spec!r}: local= needs a model name or GGUF path, e.g. local=/models/m.gguf")
    if name == "openai":
        raise ValueError(f"backend {spec!r}: name the endpoint's model with --model NAME and --base-url URL")
    raise ValueError(f"unknown backend {spec!r}: use {BACKEND_HELP}")


def resolve_backends(specs: Sequence[str | LLM], *, base_url: str | None = None,
                     model: str | None = None) -> list[Backend]:
    """Parsed backends; ValueError for a bad one, a repeated key, or endpoint options without ``openai``."""
    if not specs:
        raise ValueError(f"no backend given: use {BACKEND_HELP}")
    out = [parse_backend(s, base_url=base_url, model=model) for s in specs]
    keys = [b.key for b in out]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"backend(s) given twice: {', '.join(repeated)}")
    if (base_url or model) and "openai" not in keys:
        raise ValueError("--base-url and --model name the endpoint of --backend openai; for the embedded "
                         "model use --backend local=NAME_OR_GGUF_PATH")
    return out


# -- scoring -----------------------------------------------------------------------------------
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
BASE_TOKENS = frozenset({*keyword.kwlist, *keyword.softkwlist, *dir(builtins)})


def repository_tokens(store) -> frozenset[str]:
    """Identifier tokens of the indexed code (chunk text, signature, name, qualname), Python's keywords and
    builtins; a ``$name`` (PHP, shell) also counts as ``name``."""
    tokens: set[str] = set(BASE_TOKENS)
    for ch in store.iter_chunks():
        for text in (ch.text, ch.signature, ch.name, ch.qualname):
            tokens.update(_IDENT.findall(text or ""))
    tokens.update([t.lstrip("$") for t in tokens if t.startswith("$")])
    return frozenset(tokens)


def shown_unknown_names(text: str, known: Iterable[str]) -> list[str]:
    """The names and dotted names ``text`` mentions with an identifier token not in ``known`` (paths skipped)."""
    known = known if isinstance(known, set | frozenset) else set(known)
    m = mentions(text)
    out = [name for name in [*m.names, *m.dotted]
           if any(t not in known and t.lstrip("$") not in known for t in _IDENT.findall(name))]
    return list(dict.fromkeys(out))


def percentile(values: Sequence[float | None], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    rank = max(1, math.ceil(q / 100 * len(vals)))
    return round(vals[rank - 1], 1)


def in_gold(path: str, gold: Sequence[str]) -> bool:
    return any(path == g or path.endswith("/" + g.lstrip("/")) for g in gold)


def score_answer(answer, gold: Sequence[str], known: Iterable[str] | None = None) -> dict:
    """One row for ``answer`` (a :class:`repo_rag.answer.Answer`, or any object with its fields).

    ``known``: :func:`repository_tokens` of its repository; without it ``shown_unknown_names`` is None.
    """
    verified = [c for c in answer.citations if c.verified]
    model_verified = [c for c in answer.model_citations if c.verified]
    checks, timings = answer.checks or {}, answer.timings or {}
    removed = int(checks.get("removed_sentences", 0))
    return {
        "question": answer.question,
        "first_verified": verified[0].location if verified else None,
        "first_citation_gold": bool(verified) and in_gold(verified[0].path, gold),
        "model_first_verified": model_verified[0].location if model_verified else None,
        "model_first_citation_gold": bool(model_verified) and in_gold(model_verified[0].path, gold),
        "citations": len(answer.citations),
        "verified": len(verified),
        "model_citations": len(answer.model_citations),
        "model_verified": len(model_verified),
        "removed_sentences": removed,
        "repeated_sentences": int(checks.get("repeated_sentences", 0)),
        "invented_names": list(checks.get("invented_names", [])),
        "had_invented": removed > 0,
        "shown_unknown_names": None if known is None else shown_unknown_names(answer.model_text, known),
        "not_found": answer.not_found,
        "fallback": answer.fallback,
        "first_token_ms": timings.get("first_token_ms"),
        "first_model_token_ms": timings.get("first_model_token_ms"),
        "total_ms": timings.get("total_ms"),
        "backend": answer.backend,
        "model": answer.model,
        "warnings": list(answer.warnings),
        "answer_text": answer.model_text[:TEXT_CHARS],
        "raw_model_text": (answer.raw_model_text or "")[:TEXT_CHARS],
        "unverified": [f"{c.raw or c.location}: {c.reason}" for c in answer.citations if not c.verified],
    }


def _rate(rows: Sequence[dict], flag: Callable[[dict], Any]) -> float:
    return round(sum(bool(flag(r)) for r in rows) / (len(rows) or 1), 3)


def _ratio(rows: Sequence[dict], part: str, whole: str) -> float | None:
    total = sum(r.get(whole, 0) for r in rows)
    return round(sum(r.get(part, 0) for r in rows) / total, 3) if total else None


def summarise(rows: list[dict]) -> dict:
    checked = [r for r in rows if r.get("shown_unknown_names") is not None]
    out = {
        "questions": len(rows),
        "first_citation_gold": _rate(rows, lambda r: r["first_citation_gold"]),
        "model_first_citation_gold": _rate(rows, lambda r: r.get("model_first_citation_gold")),
        "citation_precision": _ratio(rows, "verified", "citations"),
        "model_citation_precision": _ratio(rows, "model_verified", "model_citations"),
        "no_verified_citation": _rate(rows, lambda r: r["verified"] == 0),
        "not_found_rate": _rate(rows, lambda r: r["not_found"]),
        "fallback_rate": _rate(rows, lambda r: r["fallback"]),
        "invented_rate": _rate(rows, lambda r: r.get("had_invented")),
        "shown_invented_rate": _rate(checked, lambda r: r["shown_unknown_names"]) if checked else None,
        "removed_sentences": sum(r.get("removed_sentences", 0) for r in rows),
        "repeated_sentences": sum(r.get("repeated_sentences", 0) for r in rows),
    }
    for key in ("first_token_ms", "first_model_token_ms", "total_ms"):
        values = [r.get(key) for r in rows]
        out[f"{key}_p50"], out[f"{key}_p95"] = percentile(values, 50), percentile(values, 95)
    return out


TABLE_COLUMNS = (
    ("first cit. in gold", "first_citation_gold"), ("cit. precision", "citation_precision"),
    ("model 1st cit. in gold", "model_first_citation_gold"), ("model cit. precision", "model_citation_precision"),
    ("invented (raw)", "invented_rate"), ("invented (shown)", "shown_invented_rate"),
    ("removed sentences", "removed_sentences"), ("no verified cit.", "no_verified_citation"),
    ("not found", "not_found_rate"), ("fallback", "fallback_rate"),
    ("1st token p50 ms", "first_token_ms_p50"), ("1st token p95 ms", "first_token_ms_p95"),
    ("1st model token p50 ms", "first_model_token_ms_p50"),
    ("total p50 ms", "total_ms_p50"), ("total p95 ms", "total_ms_p95"),
)

def markdown_table(summary: Mapping[str, dict], label: str = "backend") -> str:
    """One line per entry of ``summary`` (backend, or any label, -> summary)."""
    lines = [f"| {label} | n | " + " | ".join(c for c, _ in TABLE_COLUMNS) + " |",
             "|---" * (len(TABLE_COLUMNS) + 2) + "|"]
    for name, s in summary.items():
        cells = ["-" if s.get(key) is None else str(s[key]) for _, key in TABLE_COLUMNS]
        lines.append(f"| {name} | {s['questions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- running -----------------------------------------------------------------------------------
@dataclass
class Group:
    """One project's questions; ``open()`` returns its Repository, closed after use when ``close``."""

    project: str
    open: Callable[[], Repository]
    items: list[dict]  # question, gold_files, optionally kind/language/version
    close: bool = True


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _evaluate(groups: Iterable[Group], backends: Sequence[Backend], k: int | None, log: Log) -> dict[str, list[dict]]:
    """Rows per backend key: project by project, each backend answers all of a project's questions."""
    rows: dict[str, list[dict]] = {b.key: [] for b in backends}
    warned: set[str] = set()
    known: dict[str, frozenset[str]] = {}  # index dir -> repository_tokens, built once, when first needed
    for group in groups:
        repo = group.open()
        try:
            for backend in backends:
                for i, item in enumerate(group.items, 1):
                    answer = backend.ask(repo, item["question"], k)
                    if answer.model_text.strip() and str(repo.index_dir) not in known:
                        known[str(repo.index_dir)] = repository_tokens(repo.store)
                    row = score_answer(answer, item["gold_files"], known.get(str(repo.index_dir), frozenset()))
                    row.update({"project": group.project, "gold_files": list(item["gold_files"])})
                    row.update({f: item[f] for f in ("kind", "language", "version") if f in item})
                    rows[backend.key].append(row)
                    t = answer.timings
                    log(f"{group.project} {i}/{len(group.items)} {backend.key}: first token "
                        f"{_ms(t.get('first_token_ms'))} ms, first model token {_ms(t.get('first_model_token_ms'))}"
                        f" ms, total {_ms(t.get('total_ms'))} ms" + (" (fallback)" if answer.fallback else ""))
                    if answer.fallback and backend.key not in warned:
                        warned.add(backend.key)
                        log(f"  {backend.key}: {answer.warnings[0] if answer.warnings else 'fallback'}")
        finally:
            if group.close:
                repo.close()
    return rows


def _results(rows: dict[str, list[dict]], meta: dict, out_dir: str | Path | None) -> dict:
    """Summaries, per-project summaries and the table; written to ``out_dir`` when one is given."""
    backends = {key: {"summary": summarise(rs),
                      "per_project": {p: summarise([r for r in rs if r["project"] == p])
                                      for p in dict.fromkeys(r["project"] for r in rs)},
                      "rows": rs} for key, rs in rows.items()}
    results = {**meta, "question_count": len(next(iter(rows.values()), [])), "backend_list": list(rows),
               "summary": {k: v["summary"] for k, v in backends.items()},
               "per_project": {k: v["per_project"] for k, v in backends.items()}, "backends": backends}
    results["table"] = markdown_table(results["summary"])
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "answers.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        md = results["table"] + "\n"
        per_project = {f"{p} / {b}": s for b, ps in results["per_project"].items() for p, s in ps.items()}
        if len({p for ps in results["per_project"].values() for p in ps}) > 1:
            md += "\n## Per project\n\n" + markdown_table(per_project, "project / backend") + "\n"
        (out / "answers.md").write_text(md, encoding="utf-8")
    return results


def run_answer_eval(
    repo_path: str | Path, questions_jsonl: str | Path, backends: Sequence[str | LLM] = ("none", "local"),
    out_dir: str | Path | None = None, *, k: int | None = None, base_url: str | None = None,
    model: str | None = None, index_dir: str | Path | None = None, limit: int | None = None,
    project: str | None = None, log: Log = _stderr, command: str | None = None,
) -> dict:
    """Every backend answers every question of a JSON Lines file on one repository (results also written)."""
    parsed = resolve_backends(backends, base_url=base_url, model=model)
    questions = load_questions(questions_jsonl, project)[:limit]
    if not questions:
        raise ValueError(f"no questions in {questions_jsonl}" + (f" for project {project!r}" if project else ""))
    root = Path(repo_path).resolve()
    by_project: dict[str, list[dict]] = {}
    for item in questions:
        by_project.setdefault(item.get("project") or root.name, []).append(item)
    repo = Repository.open(repo_path, index_dir=index_dir)
    try:  # one repository for every project the file names
        rows = _evaluate([Group(p, lambda: repo, items, False) for p, items in by_project.items()], parsed, k, log)
    finally:
        repo.close()
    meta = {"mode": "questions", "command": command, "repo": str(root), "questions": str(questions_jsonl),
            "split": None}
    return _results(rows, meta, out_dir)


def run_dataset_eval(
    split: str = "validation", backends: Sequence[str | LLM] = ("none", "local"),
    out_dir: str | Path | None = None, *, dataset: str = "paraphrased", projects: Sequence[str] = (),
    limit_per_project: int | None = None, k: int | None = None, base_url: str | None = None,
    model: str | None = None, log: Log = _stderr, command: str | None = None,
) -> dict:
    """Answer the paraphrased questions of ``split`` on each project's cached eval index."""
    from repo_rag.config import load_config

    from .questions import load_questions as load_paraphrased
    from .retrieval_data import open_corpus, paraphrased

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    parsed = resolve_backends(backends, base_url=base_url, model=model)
    selected = select_dataset(load_paraphrased(), split, projects, limit_per_project)
    corpora = {corpus.project: corpus for corpus, _ in paraphrased(list(selected))}  # fetched (cached) trees
    cfg = load_config(None, overrides={"embed": {"enabled": True}})
    groups = [Group(p, lambda c=corpora[p]: open_corpus(c, cfg, True, log)[0],
                    [{"question": q.question, "gold_files": list(q.gold_files), "kind": q.kind,
                      "language": q.language, "version": q.version} for q in qs])
              for p, qs in selected.items()]
    log(f"{dataset} {split}: {sum(len(g.items) for g in groups)} questions, {len(groups)} projects, "
        f"backends {', '.join(b.key for b in parsed)}")
    meta = {"mode": "dataset", "command": command, "dataset": dataset, "split": split,
            "projects": list(selected), "limit_per_project": limit_per_project}
    return _results(_evaluate(groups, parsed, k, log), meta, out_dir)


# -- command line ------------------------------------------------------------------------------
def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    one = p.add_argument_group("one repository")
    one.add_argument("--repo", help="indexed repository")
    one.add_argument("--index-dir", help="index directory (default: REPO/.repo-rag)")
    one.add_argument("--questions", help="JSON Lines with question and gold_files")
    one.add_argument("--limit", type=int, help="only the first N questions")
    one.add_argument("--project", help="only questions whose 'project' field matches (multi-project sets)")
    ds = p.add_argument_group("dataset")
    ds.add_argument("--dataset", choices=DATASETS, help="the paraphrased questions, on cached eval indexes")
    ds.add_argument("--split", help=f"{', '.join(SPLITS)} (default: validation)")
    ds.add_argument("--limit-per-project", type=int, help="only the first N questions of each project")
    ds.add_argument("--projects", help="comma list of project names (default: every project of the split)")
    p.add_argument("--backend", action="append", metavar="BACKEND", help=f"repeatable: {BACKEND_HELP}")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for --backend openai")
    p.add_argument("--model", help="model name on the endpoint of --backend openai")
    p.add_argument("-k", type=int, help="hits per question")
    p.add_argument("--out", default="eval/out/answers", help="directory for answers.json and answers.md")
    return p


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = _parser(prog)
    args = p.parse_args(argv)
    command = f"{prog} {shlex.join(argv)}".strip()
    common = {"k": args.k, "base_url": args.base_url, "model": args.model, "command": command}
    backends = args.backend or ["none", "local"]
    mode_options = {"--repo": args.repo, "--questions": args.questions, "--index-dir": args.index_dir,
                    "--limit": args.limit, "--project": args.project} if args.dataset else {
                    "--split": args.split, "--limit-per-project": args.limit_per_project, "--projects": args.projects}
    wrong = [o for o, v in mode_options.items() if v is not None]
    if wrong:
        p.error(f"{', '.join(wrong)} cannot be used {'with' if args.dataset else 'without'} --dataset")
    if not args.dataset and not (args.repo and args.questions):
        p.error("give --repo and --questions, or --dataset paraphrased")
    projects = [x for x in (args.projects or "").split(",") if x.strip()]
    try:  # bad backends, splits and projects are usage errors, found before anything runs
        resolve_backends(backends, base_url=args.base_url, model=args.model)
        if args.dataset:
            from .questions import load_questions as load_paraphrased

            select_dataset(load_paraphrased(), args.split or "validation", projects, args.limit_per_project)
    except ValueError as exc:
        p.error(str(exc))
    if args.dataset:
        results = run_dataset_eval(args.split or "validation", backends, args.out, dataset=args.dataset,
                                   projects=projects, limit_per_project=args.limit_per_project, **common)
    else:
        results = run_answer_eval(args.repo, args.questions, backends, args.out, index_dir=args.index_dir,
                                  limit=args.limit, project=args.project, **common)
    print(results["table"])
    print(f"\nwrote {Path(args.out) / 'answers.json'} and answers.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
