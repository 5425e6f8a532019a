"""Issue-like reports (eval/reports.py): which tests become queries, their gold, and the tree left to search."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo_rag.eval import reports

CLI = '''\
def parse_args(argv):
    return list(argv)


def format_help(parser):
    return "usage"


def parse(value):
    return value


class Parser:
    def add_option(self, name):
        return name
'''

TESTS_CLI = '''\
import pytest


def test_parse_args_keeps_order():
    """Arguments come back in the order given."""
    result = parse_args(["a", "b"])
    assert format_help(result) == "usage"
    assert parse(result)


def test_add_option_twice():
    p = Parser()
    p.add_option("x")


def test_nothing_named():
    assert format_help(None)


def helper_not_a_test():
    return parse_args([])
'''

TESTS_OTHER = '''\
def test_format_help_text():
    assert format_help(object())
'''


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pkg" / "cli.py").write_text(CLI, encoding="utf-8")
    (root / "tests" / "test_cli.py").write_text(TESTS_CLI, encoding="utf-8")
    (root / "tests" / "test_other.py").write_text(TESTS_OTHER, encoding="utf-8")
    (root / "tests" / "test_empty.py").write_text("X = 1\n", encoding="utf-8")
    return root


def test_name_words() -> None:
    assert reports.name_words("parse_args") == ("parse", "args")
    assert reports.name_words("ParseHTTPArgs2x") == ("parse", "http", "args", "x")
    assert reports.name_words("testAddOption") == ("test", "add", "option")


def test_gold_is_the_called_definition_the_test_is_named_after(tree: Path) -> None:
    found, n_test_files = reports.reports_of_tree(tree)
    assert n_test_files == 3
    by_test = {r.test_qualname: r for rs in found.values() for r in rs}
    # parse_args beats parse (more of the test name's words); format_help is called but not named
    assert by_test["test_parse_args_keeps_order"].gold_qualname == "parse_args"
    assert by_test["test_parse_args_keeps_order"].gold_path == "pkg/cli.py"
    assert by_test["test_add_option_twice"].gold_qualname == "Parser.add_option"
    assert by_test["test_format_help_text"].gold_path == "pkg/cli.py"
    # named after nothing it calls; not a test by name
    assert "test_nothing_named" not in by_test and "helper_not_a_test" not in by_test


def test_query_is_a_title_and_the_body_without_the_signature(tree: Path) -> None:
    found, _ = reports.reports_of_tree(tree)
    r = next(r for r in found["tests/test_cli.py"] if r.test_qualname == "test_parse_args_keeps_order")
    title, _, body = r.query.partition("\n\n")
    assert title == "parse args keeps order"
    assert "def test_parse_args_keeps_order" not in r.query
    assert body.startswith('"""Arguments come back')  # dedented
    assert 'result = parse_args(["a", "b"])' in body


def test_a_tie_between_two_named_definitions_drops_the_test(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "m.py").write_text("def load(x):\n    return x\n\n\ndef save(x):\n    return x\n", encoding="utf-8")
    (root / "tests" / "test_m.py").write_text("def test_load_save():\n    save(load(1))\n", encoding="utf-8")
    found, _ = reports.reports_of_tree(root)
    assert found == {}


def test_a_name_defined_twice_outside_tests_is_ambiguous(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "a.py").write_text("def load(x):\n    return x\n", encoding="utf-8")
    (root / "b.py").write_text("def load(x):\n    return x\n", encoding="utf-8")
    (root / "tests" / "test_m.py").write_text("def test_load():\n    load(1)\n", encoding="utf-8")
    assert reports.reports_of_tree(root)[0] == {}


def test_choose_takes_whole_files_up_to_half_of_the_test_files(tree: Path) -> None:
    found, n_test_files = reports.reports_of_tree(tree)
    chosen = reports.choose(found, n_test_files, per_project=100)
    assert len({r.test_path for r in chosen}) == 1  # 3 test files: at most one (half, rounded down) left out
    path = chosen[0].test_path
    assert chosen == found[path]  # a taken file gives all its reports
    assert reports.choose(found, 10, per_project=1) == found[sorted(found, key=reports._order)[0]]


def test_build_leaves_the_query_files_out_of_the_tree(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    project = reports.Project("proj", "1.0", "pypi:proj==1.0", ".")
    meta = reports.build_project(project, tree, per_project=100, cache=cache)
    out = cache / "bench" / "reports" / "proj-1.0"
    rows = (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert meta["pairs"] == len(rows) > 0 and meta["left_out_files"] == 1
    kept = {p.relative_to(out / "src").as_posix() for p in (out / "src").rglob("*.py")}
    left_out = {"tests/test_cli.py", "tests/test_other.py"} - kept
    assert len(left_out) == 1 and "pkg/cli.py" in kept and "tests/test_empty.py" in kept
    # cached: a second build does not mine again
    (out / "meta.json").write_text('{"pairs": -1}', encoding="utf-8")
    assert reports.build_project(project, tree, per_project=100, cache=cache)["pairs"] == -1


def test_the_extra_report_projects_are_train_projects_outside_swe_bench() -> None:
    from repo_rag.eval.splits import split_of

    assert reports.EXTRA_PROJECTS
    splits = {p.name: split_of(p.name) for p in reports.EXTRA_PROJECTS}
    assert splits == dict.fromkeys(splits, "train")
