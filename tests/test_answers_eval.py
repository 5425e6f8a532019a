"""The answer benchmark (eval/answers.py): per-answer scores, the independent shown-prose check, backends,
dataset selection.

A scripted LlamaIndex LLM stands in for the model (any LLM plugs into the answerer), on the polyglot
fixture indexed without embeddings; nothing here loads a real model or fetches a project.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ScriptedLLM
from repo_rag.eval.answers import (
    main,
    parse_backend,
    repository_tokens,
    resolve_backends,
    run_answer_eval,
    score_answer,
    select_dataset,
    shown_unknown_names,
)
from repo_rag.eval.questions import load_questions as load_paraphrased
from repo_rag.eval.splits import split_of

from repo_rag.answer import Answer
from repo_rag.config import load_config
from repo_rag.repository import Repository

POLYGLOT = Path(__file__).parent / "fixtures" / "polyglot"
PASSWORD_Q = "where is password validation"
GO_Q = "how does the Go server save a book"
INVENTS = (
    "Passwords are checked by `validate_password`, which runs every validator (bookstore/views.py:900-910). "
    "The `session_follows_redirects` function enforces the rules. "
    "Hashing is done in bookstore/auth.py:16-20 (hash_password)."
)
HONEST = "The server keeps the books in a store."


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    root = tmp_path_factory.mktemp("answers-eval") / "bookshop"
    shutil.copytree(POLYGLOT, root)
    cfg = load_config(root, overrides={"embed": {"enabled": False}, "llm": {"max_retries": 0, "timeout_s": 5}})
    r = Repository(root, cfg, tmp_path_factory.mktemp("answers-eval-index"))
    r.index(dense=False)
    return r


@pytest.fixture()
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"question": PASSWORD_Q, "gold_files": ["bookstore/auth.py"], "project": "py"}) + "\n"
        + json.dumps({"question": GO_Q, "gold_files": ["go/store/repo.go"], "project": "go"}) + "\n",
        encoding="utf-8",
    )
    return path


# -- a scripted model through the whole benchmark ------------------------------------------------------
def test_invented_names_are_counted_before_and_after_the_filter(repo: Repository, questions: Path,
                                                               tmp_path: Path) -> None:
    llm = ScriptedLLM(replies={PASSWORD_Q: INVENTS, GO_Q: HONEST})
    result = run_answer_eval(repo.root, questions, backends=["none", llm], out_dir=tmp_path / "out",
                             index_dir=repo.index_dir, log=lambda _: None)
    assert result["backend_list"] == ["none", "scripted"]
    pw, go = result["backends"]["scripted"]["rows"]
    assert pw["had_invented"] and pw["removed_sentences"] == 1
    assert pw["invented_names"] == ["session_follows_redirects"]
    assert "session_follows_redirects" in pw["raw_model_text"]
    assert "session_follows_redirects" not in pw["answer_text"]
    assert pw["shown_unknown_names"] == []  # the filter removed it; the names it kept do exist
    assert not go["had_invented"] and go["shown_unknown_names"] == [] and go["answer_text"] == HONEST
    # model citations: an out-of-file one in another file first (unverified), then a verified gold one
    assert (pw["model_citations"], pw["model_verified"]) == (2, 1)
    assert pw["model_first_verified"] == "bookstore/auth.py:16-20" and pw["model_first_citation_gold"]
    assert go["model_citations"] == 0 and go["model_first_citation_gold"] is False
    assert pw["first_citation_gold"]  # the grounded part's first location
    assert pw["first_model_token_ms"] is not None and pw["first_model_token_ms"] >= pw["first_token_ms"]

    s = result["summary"]["scripted"]
    assert s["invented_rate"] == 0.5 and s["shown_invented_rate"] == 0.0 and s["removed_sentences"] == 1
    assert s["model_citation_precision"] == 0.5 and s["model_first_citation_gold"] == 0.5
    assert s["first_model_token_ms_p50"] is not None and s["first_model_token_ms_p95"] >= s["first_model_token_ms_p50"]
    none = result["summary"]["none"]
    assert none["invented_rate"] == 0.0 and none["model_citation_precision"] is None
    assert none["first_model_token_ms_p50"] is None and none["citation_precision"] == 1.0
    assert set(result["per_project"]["scripted"]) == {"py", "go"}
    assert result["per_project"]["scripted"]["py"]["invented_rate"] == 1.0

    saved = json.loads((tmp_path / "out" / "answers.json").read_text())
    assert saved["summary"] == result["summary"] and saved["question_count"] == 2 and saved["split"] is None
    table = (tmp_path / "out" / "answers.md").read_text()
    for col in ("first cit. in gold", "model 1st cit. in gold", "model cit. precision", "invented (raw)",
                "invented (shown)", "removed sentences", "1st token p50", "1st model token p50", "total p50",
                "total p95"):
        assert col in table.split("\n")[0], col
    assert "| scripted | 2 |" in table and "## Per project" in table


def test_shown_check_is_independent_of_the_filter(repo: Repository) -> None:
    """Prose that slipped past the filter (hand-made here) is reported by the benchmark's own check."""
    known = repository_tokens(repo.store)
    assert {"validate_password", "PasswordValidator", "while", "compare_digest"} <= known  # names, bodies, Python
    text = ("The `session_follows_redirects` helper calls `validate_password` and `hmac.compare_digest`. "
            "`PasswordValidator.validate` and `PasswordValidator.no_such_rule` are methods; see bookstore/nope.py.")
    answer = Answer(question=PASSWORD_Q, answer=text, citations=[], sources=[], model="m", backend="scripted",
                    fallback=False, warnings=[], timings={"first_token_ms": 1.0, "total_ms": 2.0}, prompt="",
                    model_text=text)
    row = score_answer(answer, ["bookstore/auth.py"], known)
    assert row["shown_unknown_names"] == ["session_follows_redirects", "PasswordValidator.no_such_rule"]
    assert not row["had_invented"]  # the filter's count says nothing was removed: the check disagrees
    assert score_answer(answer, [], None)["shown_unknown_names"] is None
    assert shown_unknown_names("Call `$validate_password` then `print()`.", known) == []
    assert shown_unknown_names("Then ZapFrobnicator runs.", frozenset()) == ["ZapFrobnicator"]


def test_fallback_backend_is_keyed_by_its_full_string(repo: Repository, questions: Path) -> None:
    lines: list[str] = []
    result = run_answer_eval(repo.root, questions, backends=["local=/nonexistent/m.gguf"], index_dir=repo.index_dir,
                             limit=1, log=lines.append)
    row = result["backends"]["local=/nonexistent/m.gguf"]["rows"][0]
    assert row["fallback"] and row["backend"] == "local" and "/nonexistent/m.gguf" in row["warnings"][0]
    assert result["summary"]["local=/nonexistent/m.gguf"]["fallback_rate"] == 1.0
    assert re.match(r"py 1/1 local=/nonexistent/m\.gguf: first token \d+ ms, .* total \d+ ms \(fallback\)", lines[0])


# -- backends ------------------------------------------------------------------------------------------
def test_backend_strings() -> None:
    assert parse_backend("none").key == "none"
    local = parse_backend("local=gemma3-270m")
    assert (local.key, local.llm, local.model) == ("local=gemma3-270m", "local", "gemma3-270m")
    assert parse_backend(" local = /models/x.gguf ").model == "/models/x.gguf"
    assert (parse_backend("local").llm, parse_backend("local").model) == ("local", None)
    oa = parse_backend("openai", base_url="http://127.0.0.1:8000/v1", model="qwen")
    assert (oa.key, oa.base_url, oa.model) == ("openai", "http://127.0.0.1:8000/v1", "qwen")
    assert parse_backend(ScriptedLLM(name="tiny")).key == "tiny"
    for bad, message in [("gpt", "unknown backend 'gpt'"), ("local=", "local= needs a model"),
                         ("openai=qwen", "--model NAME"), ("", "unknown backend")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_backend(bad)
    with pytest.raises(ValueError, match="given twice: none"):
        resolve_backends(["none", "none"])
    with pytest.raises(ValueError, match="--backend openai"):
        resolve_backends(["local"], model="/models/x.gguf")


def test_cli_rejects_bad_backends_and_mixed_modes(capsys: pytest.CaptureFixture[str], questions: Path) -> None:
    cases = [
        (["--repo", ".", "--questions", str(questions), "--backend", "gpt"], "unknown backend 'gpt'"),
        (["--dataset", "paraphrased", "--repo", "."], "--repo cannot be used with --dataset"),
        (["--repo", ".", "--questions", str(questions), "--split", "train"], "--split cannot be used without"),
        (["--backend", "none"], "give --repo and --questions, or --dataset paraphrased"),
        (["--dataset", "paraphrased", "--projects", "no-such-project"], "unknown project(s) no-such-project"),
        (["--dataset", "paraphrased", "--split", "test"], "unknown split 'test'"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err, argv


# -- dataset selection -----------------------------------------------------------------------------------
def _q(project: str, n: int) -> SimpleNamespace:
    return SimpleNamespace(project=project, question=f"{project} {n}")


def test_dataset_selection_by_split_project_and_limit() -> None:
    qs = [_q("a", 1), _q("b", 1), _q("a", 2), _q("c", 1), _q("a", 3), _q("b", 2)]
    splits = {"a": "validation", "b": "train", "c": "validation"}.__getitem__
    sel = select_dataset(qs, "validation", split_of=splits)
    assert list(sel) == ["a", "c"] and [q.question for q in sel["a"]] == ["a 1", "a 2", "a 3"]
    assert list(select_dataset(qs, "train", split_of=splits)) == ["b"]
    assert list(select_dataset(qs, "all", split_of=splits)) == ["a", "b", "c"]
    limited = select_dataset(qs, "all", limit_per_project=2, split_of=splits)
    assert {p: len(v) for p, v in limited.items()} == {"a": 2, "b": 2, "c": 1}
    assert list(select_dataset(qs, "validation", ["c"], split_of=splits)) == ["c"]
    assert list(select_dataset(qs, "all", ["c", "b"], split_of=splits)) == ["b", "c"]  # dataset order
    with pytest.raises(ValueError, match=r"b not in the validation split"):
        select_dataset(qs, "validation", ["b"], split_of=splits)
    with pytest.raises(ValueError, match="unknown project"):
        select_dataset(qs, "all", ["zzz"], split_of=splits)
    with pytest.raises(ValueError, match="unknown split"):
        select_dataset(qs, "test", split_of=splits)
    with pytest.raises(ValueError, match="at least 1"):
        select_dataset(qs, "all", limit_per_project=0, split_of=splits)
    with pytest.raises(ValueError, match="no questions"):
        select_dataset([_q("b", 1)], "validation", split_of=splits)


def test_dataset_selection_on_the_paraphrased_questions() -> None:
    questions = load_paraphrased()
    val = select_dataset(questions, "validation")
    train = select_dataset(questions, "train")
    assert val and train and not set(val) & set(train)
    assert set(val) | set(train) == {q.project for q in questions}
    assert all(split_of(p) == "validation" for p in val)
    assert sum(map(len, select_dataset(questions, "all").values())) == len(questions)
    assert all(len(v) <= 3 for v in select_dataset(questions, "validation", limit_per_project=3).values())


def test_dataset_run_goes_project_by_project_on_cached_indexes(repo: Repository, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The dataset glue with the fetch and the cached index stubbed by the fixture repository."""
    import repo_rag.eval.questions as questions_mod
    import repo_rag.eval.retrieval_data as retrieval_data

    def q(project: str, text: str, gold: str) -> SimpleNamespace:
        return SimpleNamespace(project=project, question=text, gold_files=(gold,), kind="where", language="python",
                               version="1.0")

    rows = [q("requests", PASSWORD_Q, "bookstore/auth.py"), q("click", GO_Q, "go/store/repo.go"),
            q("cobra", GO_Q, "go/store/repo.go"), q("requests", GO_Q, "go/store/repo.go")]
    fetched: list[list[str]] = []
    opened: list[tuple[str, bool]] = []

    def paraphrased(projects):
        fetched.append(list(projects))
        return [(SimpleNamespace(project=p), []) for p in projects]

    def open_corpus(corpus, cfg, reuse, log):
        opened.append((corpus.project, reuse))
        return Repository.open(repo.root, index_dir=repo.index_dir), {}

    monkeypatch.setattr(questions_mod, "load_questions", lambda: rows)
    monkeypatch.setattr(retrieval_data, "paraphrased", paraphrased)
    monkeypatch.setattr(retrieval_data, "open_corpus", open_corpus)
    llm = ScriptedLLM(replies={PASSWORD_Q: INVENTS, GO_Q: HONEST})
    assert main(["--dataset", "paraphrased", "--out", str(tmp_path / "out"), "--backend", "none"]) == 0
    assert fetched == [["requests", "cobra"]]  # click is a train project: never fetched
    assert opened == [("requests", True), ("cobra", True)]
    saved = json.loads((tmp_path / "out" / "answers.json").read_text())
    assert saved["split"] == "validation" and saved["question_count"] == 3 and saved["backend_list"] == ["none"]
    assert saved["command"] == f"python -m repo_rag.eval answers --dataset paraphrased --out {tmp_path / 'out'} " \
                               "--backend none"
    assert list(saved["per_project"]["none"]) == ["requests", "cobra"]
    err = capsys.readouterr().err
    assert re.search(r"^requests 2/2 none: first token \d+ ms, first model token - ms, total \d+ ms$", err, re.M)

    from repo_rag.eval.answers import run_dataset_eval

    result = run_dataset_eval("validation", ["none", llm], projects=["requests"], limit_per_project=1,
                              log=lambda _: None)
    assert [r["question"] for r in result["backends"]["scripted"]["rows"]] == [PASSWORD_Q]
    assert result["summary"]["scripted"]["invented_rate"] == 1.0 and result["projects"] == ["requests"]
