"""Answer evaluation: are grounded answers citing the right files, and how fast are they?

For a question set (JSON Lines of ``{"question": ..., "gold_files": [...]}``) and each backend,
reports:

* ``first_citation_gold``: share of answers whose first *verified* citation is in a gold file;
* ``citation_precision``: verified citations / all citations (over every answer);
* ``no_verified_citation``: share of answers without any verified citation;
* ``not_found_rate``: share of answers saying "not found in this repository";
* ``fallback_rate``: share answered retrieval-only because the model was unavailable;
* first-token and total latency, p50 and p95 (ms).

    python -m repo_rag.eval.answers --repo REPO --questions eval/data/devset.jsonl --backend local --backend none
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from repo_rag.answer import Answer
from repo_rag.repository import Repository


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


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    rank = max(1, math.ceil(q / 100 * len(vals)))
    return round(vals[rank - 1], 1)


def in_gold(path: str, gold: Sequence[str]) -> bool:
    return any(path == g or path.endswith("/" + g.lstrip("/")) for g in gold)


def score_answer(answer: Answer, gold: Sequence[str]) -> dict:
    verified = answer.verified_citations
    return {
        "question": answer.question,
        "first_verified": verified[0].location if verified else None,
        "first_citation_gold": bool(verified) and in_gold(verified[0].path, gold),
        "citations": len(answer.citations),
        "verified": len(verified),
        "not_found": answer.not_found,
        "fallback": answer.fallback,
        "first_token_ms": answer.timings.get("first_token_ms"),
        "total_ms": answer.timings.get("total_ms"),
        "model": answer.model,
        "warnings": answer.warnings,
        "answer_text": answer.model_text[:2000],
        "unverified": [f"{c.raw or c.location}: {c.reason}" for c in answer.citations if not c.verified],
    }


def summarise(rows: list[dict]) -> dict:
    n = len(rows) or 1
    cited = sum(r["citations"] for r in rows)
    first = [r["first_token_ms"] for r in rows]
    total = [r["total_ms"] for r in rows]
    return {
        "questions": len(rows),
        "first_citation_gold": round(sum(r["first_citation_gold"] for r in rows) / n, 3),
        "citation_precision": round(sum(r["verified"] for r in rows) / cited, 3) if cited else None,
        "no_verified_citation": round(sum(r["verified"] == 0 for r in rows) / n, 3),
        "not_found_rate": round(sum(r["not_found"] for r in rows) / n, 3),
        "fallback_rate": round(sum(r["fallback"] for r in rows) / n, 3),
        "first_token_ms_p50": percentile(first, 50),
        "first_token_ms_p95": percentile(first, 95),
        "total_ms_p50": percentile(total, 50),
        "total_ms_p95": percentile(total, 95),
    }


def markdown_table(summary: dict[str, dict]) -> str:
    cols = [
        ("first cit. in gold", "first_citation_gold"),
        ("cit. precision", "citation_precision"),
        ("no verified cit.", "no_verified_citation"),
        ("not found", "not_found_rate"),
        ("fallback", "fallback_rate"),
        ("1st token p50 ms", "first_token_ms_p50"),
        ("1st token p95 ms", "first_token_ms_p95"),
        ("total p50 ms", "total_ms_p50"),
        ("total p95 ms", "total_ms_p95"),
    ]
    lines = ["| backend | n | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for backend, s in summary.items():
        cells = ["-" if s[key] is None else str(s[key]) for _, key in cols]
        lines.append(f"| {backend} | {s['questions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_answer_eval(
    repo_path: str | Path,
    questions_jsonl: str | Path,
    backends: Sequence[str] = ("none", "local"),
    out_dir: str | Path | None = None,
    *,
    k: int | None = None,
    base_url: str | None = None,
    model: str | None = None,
    index_dir: str | Path | None = None,
    limit: int | None = None,
    project: str | None = None,
) -> dict:
    """Answer every question with every backend; returns (and writes) summary plus per-question rows."""
    questions = load_questions(questions_jsonl, project)[:limit]
    if not questions:
        raise ValueError(f"no questions in {questions_jsonl}" + (f" for project {project!r}" if project else ""))
    repo = Repository.open(repo_path, index_dir=index_dir)
    results: dict = {"repo": str(repo.root), "questions": str(questions_jsonl), "backends": {}}
    try:
        for backend in backends:
            rows = []
            for item in questions:
                answer = repo.ask(item["question"], k=k, llm=backend, base_url=base_url, model=model)
                row = score_answer(answer, item["gold_files"])
                row["gold_files"] = item["gold_files"]
                rows.append(row)
            results["backends"][backend] = {"summary": summarise(rows), "rows": rows}
    finally:
        repo.close()
    results["table"] = markdown_table({b: r["summary"] for b, r in results["backends"].items()})
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "answers.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        (out / "answers.md").write_text(results["table"] + "\n", encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m repo_rag.eval.answers", description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", required=True, help="indexed repository")
    p.add_argument("--index-dir", help="index directory (default: REPO/.repo-rag)")
    p.add_argument("--questions", required=True, help="JSON Lines with question and gold_files")
    p.add_argument("--backend", action="append", choices=["local", "openai", "none"], help="repeatable")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for --backend openai")
    p.add_argument("--model", help="model name on the endpoint")
    p.add_argument("-k", type=int, help="hits per question")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--project", help="only questions whose 'project' field matches (multi-project sets)")
    p.add_argument("--out", default="eval/out", help="directory for answers.json and answers.md")
    args = p.parse_args(argv)
    results = run_answer_eval(
        args.repo,
        args.questions,
        backends=args.backend or ["none", "local"],
        out_dir=args.out,
        k=args.k,
        base_url=args.base_url,
        model=args.model,
        index_dir=args.index_dir,
        limit=args.limit,
        project=args.project,
    )
    print(results["table"])
    print(f"\nwrote {Path(args.out) / 'answers.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
