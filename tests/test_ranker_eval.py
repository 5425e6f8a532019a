"""The ranking benchmark's bookkeeping: labels, per-query ranks, dataset weights, split by project."""

from __future__ import annotations

import numpy as np
import pytest
from repo_rag.eval.retrieval_data import EvalQuery, label
from repo_rag.eval.splits import split_of
from repo_rag.eval.train_ranker import Corpus, _stack, query_metrics, summarise

from repo_rag.rank import FEATURES


def _q(files=("a.py",), symbols=("Cls.meth",)) -> EvalQuery:
    return EvalQuery("paraphrased", "p", "1", "python", "where", "q", tuple(files), tuple(symbols))


def test_labels_grade_definition_file_and_rest() -> None:
    q = _q()
    assert label("a.py", "Cls.meth", q) == 2
    assert label("a.py", "Cls.meth.inner", q) == 2  # nested inside the gold definition
    assert label("a.py", "Cls.method", q) == 1  # a name that merely starts the same is not inside
    assert label("a.py", "other", q) == 1
    assert label("b.py", "Cls.meth", q) == 0


def _corpus(dataset: str = "paraphrased", n_queries: int = 2) -> Corpus:
    # query 0: candidates (file, symbol, is_def, label) in row order
    rows = [(0, 0, 0, True, 0), (0, 1, 1, True, 1), (0, 1, 2, True, 2), (0, 2, 3, False, 0),
            (1, 3, 4, True, 0), (1, 4, 5, True, 0)][: 4 + 2 * (n_queries - 1)]
    qid, file_id, sym, is_def, lab = (np.asarray(c) for c in zip(*rows, strict=True))
    a = {"x": np.zeros((len(rows), len(FEATURES)), np.float32), "qid": qid, "file_id": file_id,
         "symbol_id": sym, "is_def": is_def.astype(bool), "label": lab,
         "lex_rank": np.arange(1, len(rows) + 1), "dense_rank": np.zeros(len(rows), int), "rrf": np.ones(len(rows))}
    queries = [{"language": "python", "kind": "where"}] * n_queries
    return Corpus("k", dataset, "p", "train", queries, a)


def test_query_ranks_count_distinct_files_and_definitions() -> None:
    c = _corpus()
    scores = np.array([4.0, 3.0, 2.0, 1.0, 1.0, 0.5])
    first, second = query_metrics(c, scores)
    # files in order: 0, 1 (gold, rank 2); definitions: sym 0, sym 1 (file-level only), sym 2 gold -> rank 3
    assert (first["file_rank"], first["symbol_rank"]) == (2, 3)
    assert second["file_rank"] is None and second["symbol_rank"] is None  # gold never proposed: a miss
    # a method that does not rank a candidate (-inf) skips it
    scores[0] = -np.inf
    first, _ = query_metrics(c, scores)
    assert (first["file_rank"], first["symbol_rank"]) == (1, 2)
    s = summarise([first, second])
    assert s["file_hit@1"] == 0.5 and s["symbol_hit@1"] == 0.0 and s["symbol_hit@5"] == 0.5


def test_each_dataset_weighs_the_same_and_unanswerable_queries_are_dropped() -> None:
    small, big = _corpus("paraphrased", 1), _corpus("mined", 2)
    big.queries = big.queries * 2  # 4 queries of the mined dataset against 1 question
    _, _, groups, w = _stack([small, big])
    assert list(groups) == [4, 4]  # the second mined query has no positive candidate: dropped
    # 5 queries in all, 2 datasets: the 1 question weighs 5/2, each of the 4 mined queries 5/8
    assert w[:4] == pytest.approx([2.5] * 4) and w[4:] == pytest.approx([0.625] * 4)


def test_split_is_by_project_and_swebench_projects_are_never_trained_on() -> None:
    for project in ("django", "Django", "sympy", "requests", "flask", "scikit-learn"):
        assert split_of(project) == "validation"
    assert split_of("click") == "train"
    assert split_of("serde_json") == split_of("serde-json") == "validation"


def test_forms_name_their_answer_as_users_do() -> None:
    from repo_rag.eval.mined import MinedPair
    from repo_rag.eval.retrieval_data import _form_query

    from repo_rag.query import analyze_query

    p = MinedPair("p", "1", "python", "train", "Parse the header block of a message.", "pkg/mail/parse.py",
                  "Parser.read_headers", 40, 60, "/x")
    assert _form_query("name", p, ["pkg/cli.py"]) == "read_headers"
    assert _form_query("path", p, ["pkg/cli.py"]).endswith("(in pkg/mail/parse.py)")
    trace = analyze_query(_form_query("traceback", p, ["pkg/cli.py"]))
    frames = {path: line for path, line, _ in trace.frames}
    assert 40 <= frames["pkg/mail/parse.py"] <= 60 and "read_headers" in trace.names


def test_training_labels_put_the_named_definition_above_its_members() -> None:
    from repo_rag.eval.train_ranker import _training_labels

    meta = {"symbols": ["a.py\0Cls", "a.py\0Cls.meth", "a.py\0other", "b.py\0Cls"],
            "queries": [{"gold_files": ["a.py"], "gold_symbols": ["Cls"]}]}
    a = {"symbol_id": np.array([0, 1, 2, 3]), "qid": np.zeros(4, int), "label": np.array([2, 2, 1, 0])}
    assert _training_labels(a, meta).tolist() == [3, 2, 1, 0]
