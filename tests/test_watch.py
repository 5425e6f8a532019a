"""`repo-rag watch`: an edit, a delete and a rename reach the index without anyone running `index`."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import POLYGLOT

from repo_rag.cli.watch import route_changes, watch_repositories
from repo_rag.config import load_config
from repo_rag.repository import Repository

pytestmark = pytest.mark.slow
WAIT_S = 30  # generous for a loaded CI machine; the speed target is a benchmark, not this test


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"not seen within {WAIT_S} s: {what}"
        time.sleep(0.2)


def test_watch_picks_up_an_edit_a_delete_and_a_rename(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", root / "bookstore")
    cfg = load_config(root, overrides={"embed": {"enabled": False}})
    repo = Repository(root, cfg, tmp_path / "idx")
    repo.index()
    lines: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_repositories, args=([repo],),
                               kwargs={"stop_event": stop, "report": lines.append}, daemon=True)
    watcher.start()
    reader = Repository(root, cfg, tmp_path / "idx")  # a second process's view: only the index on disk

    def has_symbol(name: str) -> bool:
        return any(c.name == name for c in reader.store.chunks_by_name(name))

    try:
        time.sleep(0.5)  # the watcher is listening
        auth = root / "bookstore" / "auth.py"
        auth.write_text(auth.read_text(encoding="utf-8") + "\n\ndef rotate_pepper_keys():\n    return 42\n",
                        encoding="utf-8")
        _until(lambda: has_symbol("rotate_pepper_keys"), "an edit")
        (root / "bookstore" / "reports.py").unlink()
        _until(lambda: reader.store.file("bookstore/reports.py") is None, "a delete")
        (root / "bookstore" / "views.py").rename(root / "bookstore" / "handlers.py")
        _until(lambda: reader.store.file("bookstore/views.py") is None
               and reader.store.file("bookstore/handlers.py") is not None, "a rename")
        assert any("re-indexed repo" in line for line in lines), lines
        hits = reader.search("rotate_pepper_keys", k=3).hits  # searchable, not only stored
        assert "rotate_pepper_keys" in [h.symbol for h in hits]
    finally:
        stop.set()
        watcher.join(timeout=10)
        reader.close()
    assert not watcher.is_alive()


def test_changes_are_routed_to_their_repository_and_index_folders_ignored(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ra = Repository(a, load_config(a), a / ".repo-rag")
    rb = Repository(b, load_config(b), tmp_path / "b-idx")
    routed = route_changes([ra, rb], {str(a / "x.py"), str(a / ".repo-rag" / "index.sqlite"), str(b / "d" / "y.go"),
                                      str(tmp_path / "elsewhere.py")})
    assert routed == {ra: {"x.py"}, rb: {"d/y.go"}}


def _contents(repo: Repository) -> tuple[dict, list, set]:
    """What an index holds, independent of ids: files, chunks, and graph edges."""
    from repo_rag.graph.codegraph import edge_signature

    con = repo.store.con
    files = {r[0]: r[1:] for r in con.execute("SELECT path, size, hash, language, n_lines FROM files")}
    chunks = sorted(con.execute("SELECT path, start_line, end_line, kind, qualname, text FROM chunks"))
    graph = repo._ensure_loaded().graph
    return files, chunks, edge_signature(graph) if graph is not None else set()


def test_indexing_the_changed_paths_equals_walking_the_tree(tmp_path: Path) -> None:
    """The watcher's path list: an edit, an add, a delete, a new secret and a new ignored file are
    judged without a walk, and the index equals one rebuilt from scratch."""
    root = tmp_path / "repo"
    shutil.copytree(POLYGLOT, root)
    cfg = load_config(root, overrides={"embed": {"enabled": False}})
    repo = Repository(root, cfg, tmp_path / "idx")
    repo.index()
    (root / ".gitignore").write_text("*.log\n", encoding="utf-8")
    assert repo.index(changed={".gitignore"}).walked  # an ignore file changed: walk everything

    auth = root / "bookstore" / "auth.py"
    auth.write_text(auth.read_text(encoding="utf-8") + "\n\ndef rotate_pepper_keys():\n    return 42\n",
                    encoding="utf-8")
    (root / "bookstore" / "ledger.py").write_text("def balance_sheet():\n    return 0\n", encoding="utf-8")
    (root / "bookstore" / "reports.py").unlink()
    (root / "bookstore" / ".env").write_text("API_TOKEN=abc\n", encoding="utf-8")
    (root / "bookstore" / "debug.log").write_text("def logged():\n    pass\n", encoding="utf-8")
    (root / "README.md").write_bytes(b"now a binary file \x00\x01\n")  # indexed before, skipped now
    changed = {"bookstore/auth.py", "bookstore/ledger.py", "bookstore/reports.py", "bookstore/.env",
               "bookstore/debug.log", "README.md"}
    report = repo.index(changed=changed)
    assert not report.walked
    assert (report.files_parsed, report.files_removed) == (2, 2)
    assert report.files_unchanged == report.files_seen - 2

    fresh = Repository(root, cfg, tmp_path / "fresh")
    fresh.index()
    try:
        assert _contents(repo) == _contents(fresh)
        assert {"bookstore/.env", "bookstore/debug.log", "bookstore/reports.py", "README.md"}.isdisjoint(
            _contents(repo)[0])
    finally:
        fresh.close()
        repo.close()


def test_a_vanished_directory_makes_the_changed_run_walk(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(POLYGLOT, root)
    repo = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), tmp_path / "idx")
    repo.index()
    shutil.rmtree(root / "bookstore")
    report = repo.index(changed={"bookstore"})  # 'rm -r' may arrive as the directory alone
    assert report.walked
    assert not any(p.startswith("bookstore/") for p in repo.store.files())
    repo.close()


def test_a_served_repository_keeps_answering_while_its_graph_catches_up(tmp_path: Path) -> None:
    """After a watcher's small re-index the new text is searchable at once; the graph follows in the
    background and is swapped in whole (never edited under a running query)."""
    root = tmp_path / "repo"
    shutil.copytree(POLYGLOT, root)
    repo = Repository(root, load_config(root, overrides={"embed": {"enabled": False}}), tmp_path / "idx")
    repo.index()
    before = repo.graph
    assert before is not None and repo.search("check_password").hits
    auth = root / "bookstore" / "auth.py"
    auth.write_text(auth.read_text(encoding="utf-8") + "\n\ndef audit_login(password, encoded):\n"
                    "    return check_password(password, encoded)\n", encoding="utf-8")
    repo.index(changed={"bookstore/auth.py"})
    hits = repo.search("audit_login", k=3).hits  # the reload does not wait for the graph
    assert hits[0].symbol == "audit_login"
    repo._graph_thread.join(timeout=60)
    assert repo.graph_refreshes == 1
    assert repo.graph is not before and repo.retriever.graph is repo.graph
    [target] = [n for n in repo.graph.find("check_password") if n.startswith("bookstore/auth.py")]
    assert "audit_login" in {r.qualname for r in repo.graph.callers(target)}
    assert "audit_login" not in {r.qualname for r in before.callers(target)}  # the old one was not edited

    for i in range(25):  # more files than a deferred graph update covers: loaded before answering
        (root / "bookstore" / f"gen_{i}.py").write_text(f"def gen_{i}():\n    return audit_login('', '')\n",
                                                        encoding="utf-8")
    repo.index(changed={f"bookstore/gen_{i}.py" for i in range(25)})
    graph = repo.graph
    [user] = [n for n in graph.find("audit_login") if n.startswith("bookstore/auth.py")]
    assert len(graph.callers(user)) == 25 and repo.graph_refreshes == 1
    repo.close()
