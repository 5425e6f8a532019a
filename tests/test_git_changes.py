"""In a git work tree, a re-index asks git what changed since the last run instead of walking the tree,
and the index it leaves equals one built from scratch (edits, additions, deletions, a restored file,
commits, a changed ignore rule)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import POLYGLOT

from repo_rag.config import load_config
from repo_rag.repository import Repository

pytestmark = pytest.mark.slow


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   check=True, capture_output=True)


def _contents(repo: Repository) -> tuple[dict, list]:
    con = repo.store.con
    files = {r[0]: r[1:] for r in con.execute("SELECT path, size, hash, language FROM files")}
    return files, sorted(con.execute("SELECT path, start_line, end_line, qualname, text FROM chunks"))


def _fresh(root: Path, where: Path) -> tuple[dict, list]:
    fresh = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), where)
    fresh.index()
    try:
        return _contents(fresh)
    finally:
        fresh.close()


def test_git_says_what_changed_and_the_index_equals_a_fresh_one(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(POLYGLOT, root)
    (root / ".gitignore").write_text("*.log\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "start")
    repo = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), tmp_path / "idx")
    assert repo.index().changes_from == "walk"  # nothing recorded yet
    again = repo.index()
    assert (again.changes_from, again.walked, again.files_parsed) == ("git", False, 0)

    auth = root / "bookstore" / "auth.py"
    original = auth.read_text(encoding="utf-8")
    auth.write_text(original + "\n\ndef rotate_pepper_keys():\n    return 42\n", encoding="utf-8")
    (root / "bookstore" / "ledger.py").write_text("def balance_sheet():\n    return 0\n", encoding="utf-8")
    (root / "bookstore" / "reports.py").unlink()
    (root / "bookstore" / "debug.log").write_text("def logged():\n    pass\n", encoding="utf-8")  # git-ignored
    report = repo.index()
    assert (report.changes_from, report.files_parsed, report.files_removed) == ("git", 2, 1)
    assert any("git reports as changed" in note for note in report.notes)
    assert _contents(repo) == _fresh(root, tmp_path / "fresh-1")

    _git(root, "checkout", "--", "bookstore/auth.py")  # restored: no longer in git's diff, still in the index
    report = repo.index()
    assert report.changes_from == "git" and report.files_parsed == 1
    assert "rotate_pepper_keys" not in str(_contents(repo)[1])
    assert _contents(repo) == _fresh(root, tmp_path / "fresh-2")

    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "ledger")
    _git(root, "mv", "bookstore/ledger.py", "bookstore/books_ledger.py")
    _git(root, "commit", "-qm", "rename")
    report = repo.index()
    assert report.changes_from == "git"
    assert _contents(repo) == _fresh(root, tmp_path / "fresh-3")

    # a watcher's run on the paths it saw, then the file restored: the next git run still re-reads it
    views = root / "bookstore" / "views.py"
    saved = views.read_text(encoding="utf-8")
    views.write_text(saved + "\n\ndef audit_trail():\n    return []\n", encoding="utf-8")
    assert repo.index(changed={"bookstore/views.py"}).changes_from == "caller"
    views.write_text(saved, encoding="utf-8")
    report = repo.index()
    assert report.changes_from == "git" and report.files_parsed == 1
    assert _contents(repo) == _fresh(root, tmp_path / "fresh-4")

    assert repo.index(walk=True).changes_from == "walk"  # `index --walk`
    other = Repository(root, load_config(root, overrides={"embed": {"enabled": False},
                                                          "index": {"extra_ignore": ["go/"]}}), tmp_path / "idx")
    report = other.index()  # other discovery options: git's list is not enough, walk
    assert report.changes_from == "walk" and not any(p.startswith("go/") for p in other.store.files())
    other.close()
    repo.close()


def test_outside_git_every_run_walks(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    shutil.copytree(POLYGLOT / "bookstore", root / "bookstore")
    repo = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), tmp_path / "idx")
    assert repo.index().changes_from == "walk"
    assert repo.index().changes_from == "walk"
    repo.close()


@pytest.mark.parametrize("config", [
    ("filter.evil.clean", "touch {mark}"),
    ("core.fsmonitor", "touch {mark}; echo"),
    ("diff.evil.textconv", "touch {mark}; cat"),
])
def test_a_repository_whose_git_config_runs_programs_is_walked(tmp_path: Path, config: tuple[str, str]) -> None:
    """The repository's .git/config is untrusted: with a filter driver, an fsmonitor hook or a text
    converter configured, git is not asked (it could run them); the tree is walked instead."""
    root = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", root / "bookstore")
    mark = tmp_path / "RAN"
    (root / ".gitattributes").write_text("* filter=evil diff=evil\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "start")
    key, value = config
    _git(root, "config", key, value.format(mark=mark))
    repo = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), tmp_path / "idx")
    repo.index()
    auth = root / "bookstore" / "auth.py"
    auth.write_text(auth.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    report = repo.index()
    assert report.changes_from == "walk" and report.files_parsed == 1
    assert not mark.exists(), "git ran a program named by the repository's configuration"
    repo.close()
