"""The house stays in order: module and function sizes, one installed namespace, the import contract.

Sizes are read from the source with ``ast``; the import contract (layers, no cycles) is checked by
``import-linter`` on an installed copy of the package, and a planted violation must make it fail.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import parse_python

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("repo_rag", "indexers", "ui", "eval")
UI_MODULE_LINES = 400
MODULE_LINES = 500
FUNCTION_LINES = 60
LONG_REASON = "Long because"  # a function over FUNCTION_LINES says why in its docstring

# Modules over MODULE_LINES, each holding the one concern its name states.
LARGE_MODULES = {
    "repo_rag/graph/resolve.py": "one resolver: every language's import/call/inherit resolution rules in one pass",
    "repo_rag/graph/codegraph.py": "the graph's whole query API (neighbours, walks, PageRank) over one structure",
    "indexers/discover.py": "file discovery: ignore rules, skip reasons, secret policy of file names",
    "indexers/parse.py": "tree-sitter parsing driven by the query files, for every language",
    "eval/swebench.py": "the SWE-bench localisation harness: fetch, index, run methods, report",
    "repo_rag/graph/persist.py": "one file format: the graph archive's writer and its validating reader",
    "eval/mined.py": "one dataset: the mined queries' sentence rules, masking and build",
    "repo_rag/store.py": "the index database's one access layer: every table's schema, reads and writes",
    "eval/answers.py": "one benchmark: answer scoring, the independent name check, backends and the dataset mode",
}


def _modules() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


def _lines(path: Path) -> int:
    return path.read_text(encoding="utf-8").count("\n")


def test_ui_modules_are_small() -> None:
    ui = (ROOT / "ui").rglob("*.py")
    big = {p.relative_to(ROOT).as_posix(): _lines(p) for p in ui if _lines(p) > UI_MODULE_LINES}
    assert not big, f"UI modules over {UI_MODULE_LINES} lines: {big}"


def test_large_modules_are_declared() -> None:
    big = {p.relative_to(ROOT).as_posix(): _lines(p) for p in _modules() if _lines(p) > MODULE_LINES}
    undeclared = {k: v for k, v in big.items() if k not in LARGE_MODULES}
    assert not undeclared, f"modules over {MODULE_LINES} lines without a stated single concern: {undeclared}"


def test_long_functions_say_why() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(parse_python(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not offenders, f"functions over {FUNCTION_LINES} lines without '{LONG_REASON} ...' in the docstring: " + (
        "; ".join(offenders)
    )


def _install_copy(tree: Path, target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(target), str(tree)],
        check=True, capture_output=True, text=True,
    )


def _copy_tree(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".cache", ".git", "build", "*.egg-info", "__pycache__", "fixtures",
                                    "test-output", "out")
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _lint(installed: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=installed, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )


@pytest.mark.slow
def test_install_adds_one_namespace_and_the_import_contract_holds(tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path / "src")
    installed = tmp_path / "site"
    _install_copy(tree, installed)
    top = sorted(p.name for p in installed.iterdir() if not p.name.endswith((".dist-info", ".egg-info")))
    assert top == ["bin", "repo_rag"] or top == ["repo_rag"], top
    for sub in ("indexers", "ui", "eval"):
        assert (installed / "repo_rag" / sub / "__init__.py").is_file(), sub
    assert list((installed / "repo_rag" / "indexers" / "queries").glob("*.scm")), "package data travels"
    r = _lint(installed)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: " in r.stdout and " broken" not in r.stdout.split("Contracts: ")[-1].split("\n")[0].replace(
        "0 broken", "")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("indexers/model.py", "from repo_rag import store as _planted  # noqa\n"),  # indexers reach up
        ("repo_rag/store.py", "from repo_rag.ui import app as _planted  # noqa\n"),  # core reaches a face
        ("ui/cli.py", "from repo_rag.eval import cli as _planted  # noqa\n"),  # faces are independent
        ("ui/cli.py", "from repo_rag.indexers import model as _planted  # noqa\n"),  # a face skips a floor
        ("repo_rag/errors.py", "def _later():\n    import repo_rag.store  # noqa\n"),  # a loop in a function
        ("repo_rag/graph/schema.py", "from repo_rag.graph import build as _planted  # noqa\n"),  # a loop in a package
    ],
)
def test_a_planted_violation_breaks_the_contract(tmp_path: Path, module: str, planted: str) -> None:
    tree = _copy_tree(tmp_path / "src")
    target = tree / module
    text = target.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    target.write_text(head + sep + planted + rest if sep else planted + text, encoding="utf-8")
    installed = tmp_path / "site"
    _install_copy(tree, installed)
    r = _lint(installed)
    assert r.returncode != 0, f"planting {planted.strip()} in {module} went unnoticed:\n{r.stdout}"
