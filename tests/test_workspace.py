"""Several repositories as one ranked list: `Workspace`, `repo-rag search --repo A --repo B`, MCP `search`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import POLYGLOT

from repo_rag.config import load_config
from repo_rag.repository import Repository
from repo_rag.workspace import Workspace


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repository, Repository, dict]:
    """`shop`: the Python bookstore; `store`: the Go store and the Ruby code (different answers)."""
    base = tmp_path_factory.mktemp("ws")
    shop, store = base / "shop", base / "store"
    shutil.copytree(POLYGLOT / "bookstore", shop / "bookstore")
    shutil.copytree(POLYGLOT / "go", store / "go")
    shutil.copytree(POLYGLOT / "ruby", store / "ruby")
    # with embeddings: the merge compares the learned ranker's scores, which need every channel
    env = dict(os.environ, REPO_RAG_CACHE_DIR=str(base / "cache"))
    repos = []
    for root in (shop, store):
        r = Repository(root, load_config(root, environ=env))
        r.index()
        repos.append(r)
    return repos[0], repos[1], env


def test_one_list_by_score_and_every_hit_names_its_repository(two) -> None:
    shop, store, _ = two
    ws = Workspace([shop, store])
    for question, repo, path in (("where is password validation", "shop", "bookstore/auth.py"),
                                 ("how does the Go server save a book", "store", "go/")):
        hits = ws.search(question, k=6).hits
        assert hits[0].repo == repo and hits[0].path.startswith(path), [(h.repo, h.path, h.score) for h in hits]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert {h.repo for h in hits} <= {"shop", "store"} and len(hits) == 6
        alone = {"shop": shop, "store": store}[repo].search(question, k=6).hits
        assert (alone[0].path, alone[0].start_line) == (hits[0].path, hits[0].start_line)  # same top, merged or not
    assert all(h.repo == "shop" for h in shop.search("hash a password", k=3).hits)  # a lone repository names itself


def test_same_directory_names_are_numbered(tmp_path: Path, two) -> None:
    shop, _, env = two
    other = tmp_path / "shop"
    shutil.copytree(shop.root, other)
    r = Repository(other, load_config(other, environ=env), tmp_path / "shop-2-index")
    r.index()
    ws = Workspace([shop, r])
    assert list(ws.repos) == ["shop", "shop-2"]
    assert {h.repo for h in ws.search("where is password validation", k=10).hits} == {"shop", "shop-2"}


def _cli_both(two, *args: str) -> subprocess.CompletedProcess:
    """``repo-rag ARGS --repo shop --repo store`` with the fixture's environment."""
    shop, store, env = two
    return subprocess.run([sys.executable, "-m", "repo_rag.cli", *args, "--repo", str(shop.root), "--repo",
                           str(store.root)], capture_output=True, text=True, env=env)


def test_cli_search_several_repos(two) -> None:
    shop, store, env = two
    r = _cli_both(two, "search", "how does the Go server save a book", "-k", "4", "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert hits[0]["repo"] == "store" and hits[0]["path"].startswith("go/") and len(hits) == 4
    r = subprocess.run([sys.executable, "-m", "repo_rag.cli", "search", "x", "--repo", str(shop.root), "--repo",
                        str(store.root), "--index-dir", "/tmp/nowhere"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "take one --repo" in r.stderr


def test_a_question_goes_to_the_repository_that_answers_it(two) -> None:
    """`Workspace.route` and the MCP `ask` without `repo`: the answer comes from the best-matching repository."""
    from repo_rag.cli.mcp import RepoTools

    shop, store, _ = two
    ws = Workspace([shop, store])
    assert ws.route("where is password validation") == "shop"
    assert ws.route("how does the Go server save a book") == "store"
    tools = RepoTools([shop, store])
    answer = tools.ask("how does the Go server save a book")
    assert (answer["repo"], answer["routed"]) == ("store", True)
    assert answer["citations"] and all(c["path"].startswith(("go/", "ruby/")) for c in answer["citations"])
    pinned = tools.ask("how does the Go server save a book", repo="shop")  # an explicit repo is obeyed
    assert (pinned["repo"], pinned["routed"]) == ("shop", False)


def test_cli_ask_several_repos_answers_from_the_best_match(two) -> None:
    r = _cli_both(two, "ask", "how does the Go server save a book", "--llm", "none", "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["repo"] == "store" and "answering from store" in r.stderr
    assert answer["citations"] and all(c["path"].startswith(("go/", "ruby/")) for c in answer["citations"])
