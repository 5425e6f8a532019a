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
