"""A hostile repository runs no code, steals no secret, and cannot poison or stall the index (issue #8).

Each test here failed on the code before the fix (a pickled graph loaded from the repository's
``.repo-rag/``; the repository's ``.repo-rag.toml`` obeyed in full; vectors keyed by reusable
rowids; an embedding stage skipped after a kill; a masked disk-full error).
"""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import POLYGLOT, Listener, assert_same_vectors

from repo_rag.config import RepoConfigWarning, load_config
from repo_rag.layout import IndexLayout, UntrustedIndexError
from repo_rag.query import QueryTooLongError
from repo_rag.repository import Repository
from repo_rag.store import IndexWriteError, Store


def _cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "repo_rag.cli", *args],
        capture_output=True, text=True, env=env or dict(os.environ), timeout=timeout,
    )


class _Boom:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant_crafted_index(folder: Path, marker: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(_Boom(marker))
    for name in ("graph.pickle", "graph.npz"):
        (folder / name).write_bytes(payload)
    (folder / "vectors.faiss").write_bytes(b"IxMp" + os.urandom(256))  # corrupt FAISS
    (folder / "vectors.json").write_text('{"dim": 384, "model_id": "x", "count": 3}')
    (folder / "index.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(4000))  # corrupt SQLite
    (folder / "repo-rag-index.json").write_text('{"tool": "repo-rag", "format": 4, "repo": "/x", "mac": "00"}')


@pytest.fixture()
def cloned(tmp_path: Path) -> tuple[Path, Path]:
    """A 'cloned' repository that ships a crafted .repo-rag/ folder; returns (repo, marker)."""
    repo = tmp_path / "clone"
    shutil.copytree(POLYGLOT / "bookstore", repo / "bookstore")
    marker = tmp_path / "PWNED"
    _plant_crafted_index(repo / ".repo-rag", marker)
    return repo, marker


def test_shipped_index_folder_is_never_read_by_default(cloned: tuple[Path, Path]) -> None:
    repo, marker = cloned
    env = dict(os.environ, REPO_RAG_EMBED_ENABLED="false")
    r = _cli("index", str(repo), "-q", env=env)
    assert r.returncode == 0, r.stderr
    for args in (("search", "password", "--repo", str(repo)), ("graph", "callers", "hash", "--repo", str(repo))):
        r = _cli(*args, env=env)
        assert r.returncode in (0, 1), r.stderr
    assert not marker.exists(), "a pickle shipped in the repository was executed"
    layout = IndexLayout.for_repo(repo, load_config(repo))
    assert not layout.inside_repo()  # the default index lives in the user's cache
    assert (repo / ".repo-rag" / "graph.pickle").exists()  # and the shipped folder was left alone


def test_shipped_index_folder_named_explicitly_is_refused_then_rebuilt(cloned: tuple[Path, Path]) -> None:
    repo, marker = cloned
    folder = repo / ".repo-rag"
    env = dict(os.environ, REPO_RAG_EMBED_ENABLED="false")
    for args in (
        ("search", "password"),
        ("ask", "where is the password hashed?", "--llm", "none"),
        ("graph", "callers", "hash_password"),
    ):
        r = _cli(*args, "--repo", str(repo), "--index-dir", str(folder), env=env)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "refusing to read the index" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()
    # `index` rebuilds it: repo-rag's own file names replaced, nothing of the old content read.
    r = _cli("index", str(repo), "--index-dir", str(folder), "-q", env=env)
    assert r.returncode == 0, r.stderr
    assert "rebuilt the index" in r.stdout
    assert not (folder / "graph.pickle").exists() and not (folder / "vectors.faiss").exists()
    assert (folder / ".gitignore").read_text().strip().endswith("*")
    r = _cli("search", "password", "--json", "--repo", str(repo), "--index-dir", str(folder), env=env)
    assert r.returncode == 0 and "bookstore/auth.py" in r.stdout
    assert not marker.exists()


def test_index_copied_from_elsewhere_or_writable_by_others_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo)
    cfg = load_config(repo, overrides={"embed": {"enabled": False}})
    Repository(repo, cfg, tmp_path / "idx").index()
    # the same index presented for another repository
    other = tmp_path / "other"
    shutil.copytree(repo, other)
    with pytest.raises(UntrustedIndexError, match="another repository"):
        Repository(other, cfg, tmp_path / "idx").search("password")
    # a stamp signed with another key (e.g. shipped in a clone)
    key = tmp_path / "other.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    os.environ["REPO_RAG_KEY_FILE"] = str(key)
    try:
        with pytest.raises(UntrustedIndexError, match="not signed with your key"):
            Repository(repo, cfg, tmp_path / "idx").search("password")
    finally:
        del os.environ["REPO_RAG_KEY_FILE"]
    # group/world-writable directory
    (tmp_path / "idx").chmod(0o777)
    with pytest.raises(UntrustedIndexError, match="writable by group or others"):
        Repository(repo, cfg, tmp_path / "idx").search("password")
    (tmp_path / "idx").chmod(0o700)
    # an index file swapped for a symlink
    db = tmp_path / "idx" / "index.sqlite"
    moved = tmp_path / "elsewhere.sqlite"
    shutil.move(db, moved)
    db.symlink_to(moved)
    with pytest.raises(UntrustedIndexError, match="not a regular file"):
        Repository(repo, cfg, tmp_path / "idx").search("password")


def test_repo_config_cannot_send_a_secret_anywhere(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo)
    listener = Listener()
    try:
        (repo / ".repo-rag.toml").write_text(
            "[llm]\n"
            'backend = "openai"\n'
            f'base_url = "http://127.0.0.1:{listener.port}/v1"\n'
            'api_key_env = "CANARY_SECRET"\n'
            'model = "x"\n'
            "[embed]\n"
            'model = "/tmp/evil-model"\n'
            "[index]\n"
            "follow_symlinks = true\n"
            "max_chunk_lines = 60\n"
            "[search]\n"
            'reranker = "/tmp/evil-reranker"\n'
            "top_k = 7\n"
            'cache_dir = "/tmp/evil"\n'
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cfg = load_config(repo, environ={})
        message = " ".join(str(w.message) for w in caught if issubclass(w.category, RepoConfigWarning))
        for key in ("llm", "embed", "index.follow_symlinks", "search.reranker", "search.cache_dir"):
            assert key in message, (key, message)
        assert cfg.llm.backend == "none" and cfg.llm.api_key_env == "OPENAI_API_KEY"  # the default, not "openai"
        assert cfg.embed.model == "" and cfg.index.follow_symlinks is False and cfg.search.reranker == ""
        assert cfg.index.max_chunk_lines == 60 and cfg.search.top_k == 7  # safe settings still apply
        env = dict(os.environ, REPO_RAG_EMBED_ENABLED="false", CANARY_SECRET="canary-0123456789")
        r = _cli("index", str(repo), "-q", env=env)
        assert r.returncode == 0, r.stderr
        assert "ignored settings a repository may not set" in r.stderr
        r = _cli("ask", "where is the password hashed?", "--repo", str(repo), "--llm", "none", env=env)
        assert r.returncode == 0, r.stderr
        time.sleep(0.5)
    finally:
        listener.close()
    assert listener.received == []


def _vector_of(store: Store, path: str, start_line: int) -> np.ndarray:
    row = store.con.execute(
        "SELECT v.vec FROM vectors v JOIN chunks c ON c.id = v.chunk_id WHERE c.path = ? AND c.start_line = ? "
        "ORDER BY c.part LIMIT 1",
        (path, start_line),
    ).fetchone()
    assert row is not None, f"no vector for {path}:{start_line}"
    return np.frombuffer(row[0], dtype="<f4")


def test_edited_last_file_gets_fresh_vectors(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "alpha.py").write_text('def parse_header(line):\n    """Split an HTTP header line."""\n    return line\n')
    last = repo / "zulu.py"
    last.write_text('def bake_bread(flour):\n    """Knead the dough and bake a loaf of bread."""\n    return flour\n')
    cfg = load_config(repo)
    inc = Repository(repo, cfg, tmp_path / "inc")
    inc.index()
    # Same shape (same number of chunks, same lines), different meaning: the freed chunk ids come
    # straight back from SQLite without AUTOINCREMENT.
    last.write_text('def orbit_moon(ship):\n    """Steer the spacecraft into lunar orbit."""\n    return ship\n')
    inc.index()
    hits = inc.search("spacecraft lunar orbit", k=3, channels=("dense",)).hits
    assert hits and hits[0].path == "zulu.py" and hits[0].symbol == "orbit_moon"
    fresh = Repository(repo, cfg, tmp_path / "fresh")
    fresh.index()
    assert_same_vectors(inc.store, fresh.store)
    assert float(_vector_of(inc.store, "zulu.py", 1) @ _vector_of(fresh.store, "zulu.py", 1)) > 0.999


_KILL_DURING_EMBED = """
import os, sys
from repo_rag.config import load_config
from repo_rag.embed import Embedder
from repo_rag.indexer import Indexer
calls = 0
real = Embedder.embed_texts
def dying(self, texts, progress=None, **options):
    global calls
    calls += 1
    if calls == 2:
        os._exit(9)  # killed in the middle of the embedding stage
    return real(self, texts, progress=progress, **options)
Embedder.embed_texts = dying
Indexer.EMBED_GROUP = 8
repo, index_dir = sys.argv[1], sys.argv[2]
Indexer(repo, load_config(repo), index_dir).run()
"""


def test_kill_during_embedding_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo / "bookstore")
    shutil.copytree(POLYGLOT / "go", repo / "go")
    index_dir = tmp_path / "idx"
    r = subprocess.run([sys.executable, "-c", _KILL_DURING_EMBED, str(repo), str(index_dir)], capture_output=True)
    assert r.returncode == 9, r.stderr
    cfg = load_config(repo)
    store = Store(index_dir / "index.sqlite")
    wanted = store.dense_chunk_ids(everything=False)
    have = store.vector_ids()
    assert 0 < len(have) < len(wanted), "the kill should land after one committed group"
    store.close()
    report = Repository(repo, cfg, index_dir).index()  # nothing changed on disk since the kill
    assert report.files_parsed == 0
    assert report.embedded + report.embedded_from_cache == len(wanted) - len(have)
    resumed = Repository(repo, cfg, index_dir)
    assert resumed.store.vector_ids() == wanted
    fresh = Repository(repo, cfg, tmp_path / "fresh")
    fresh.index()
    assert_same_vectors(resumed.store, fresh.store)


def test_long_question_is_refused_fast_or_answered_fast(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo_dir)
    cfg = load_config(repo_dir, overrides={"embed": {"enabled": False}})
    repo = Repository(repo_dir, cfg, tmp_path / "idx")
    repo.index()
    question = ('File "a/b/c.py", line 1 ' + "a/" * 2000 + "x" * 500 + " ") * 20  # ~100 kB, regex-hostile
    question = question[:100_000]
    t0 = time.perf_counter()
    with pytest.raises(QueryTooLongError, match="limit"):
        repo.search(question)
    assert time.perf_counter() - t0 < 1
    r = _cli("search", question[:30_000], "--repo", str(repo_dir), "--index-dir", str(tmp_path / "idx"))
    assert r.returncode == 2 and "the limit is 20,000" in r.stderr
    roomy = Repository(repo_dir, load_config(
        repo_dir, overrides={"embed": {"enabled": False}, "search": {"max_query_chars": 200_000}}), tmp_path / "idx")
    t0 = time.perf_counter()
    roomy.search(question, k=5)
    assert time.perf_counter() - t0 < 10


def test_disk_full_gives_a_clear_error_and_keeps_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo_dir)
    cfg = load_config(repo_dir, overrides={"embed": {"enabled": False}})
    index_dir = tmp_path / "idx"
    Repository(repo_dir, cfg, index_dir).index()
    before = [h.location for h in Repository(repo_dir, cfg, index_dir).search("password", k=3).hits]
    pages = sqlite3.connect(index_dir / "index.sqlite").execute("PRAGMA page_count").fetchone()[0]
    for i in range(50):
        (repo_dir / f"gen_{i}.py").write_text("\n".join(f"def f_{i}_{j}(x):\n    return x + {j}\n" for j in range(80)))
    real_con = Store.con

    def full_disk(self):  # the database may not grow: SQLite answers SQLITE_FULL
        con = real_con.fget(self)
        con.execute(f"PRAGMA max_page_count = {pages + 2}")
        return con

    monkeypatch.setattr(Store, "con", property(full_disk))
    with pytest.raises(IndexWriteError, match="no space left") as info:
        Repository(repo_dir, cfg, index_dir).index()
    assert "no transaction is active" not in str(info.value)
    monkeypatch.undo()
    after = [h.location for h in Repository(repo_dir, cfg, index_dir).search("password", k=3).hits]
    assert after == before


CANARIES = {
    "terraform.tfstate": '{"outputs": {"db_password": {"value": "CANARY-TFSTATE-51b2"}}}',
    "prod.tfvars": 'db_password = "CANARY-TFVARS-9c4e"',
    "credentials.yml": "token: CANARY-CREDS-77aa",
    "client_secret_123.json": '{"installed": {"client_secret": "CANARY-CLIENT-0f0f"}}',
}
AWS_KEY = "AKIA" + "QX7Z2MBKLP4WJ3TE"
GITHUB_TOKEN = "ghp_" + "x9Kq2LmN4pR7sT1vW3yZ5aB8cD0eF6gH2jK4"


def test_canary_secrets_never_reach_the_index_files(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo_dir)
    for name, text in CANARIES.items():
        (repo_dir / name).write_text(text + "\n")
    (repo_dir / "settings.py").write_text(
        "DEBUG = False\n"
        f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'
        f'GITHUB_TOKEN = "{GITHUB_TOKEN}"\n'
        'PRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7canaryKEY\n'
        '-----END RSA PRIVATE KEY-----"""\n'
        "def allowed_hosts():\n    return ['localhost']\n"
    )
    index_dir = tmp_path / "idx"
    report = Repository(repo_dir, load_config(repo_dir), index_dir).index()
    assert report.secrets_redacted >= 3 and report.files_with_secrets == 1
    blob = b"".join(p.read_bytes() for p in index_dir.iterdir() if p.is_file())
    for needle in [*(t.split()[-1].strip('"}') for t in CANARIES.values()), AWS_KEY, GITHUB_TOKEN, "7canaryKEY"]:
        assert needle.encode() not in blob, needle
    repo = Repository(repo_dir, load_config(repo_dir), index_dir)
    assert "settings.py" in repo.store.files()  # the file is indexed, its secrets are not
    assert any(h.path == "settings.py" for h in repo.search("allowed hosts", k=5).hits)


def test_an_automatic_rollback_does_not_mask_the_real_error(tmp_path: Path) -> None:
    """On SQLITE_FULL/IOERR SQLite may roll back by itself; a second ROLLBACK must not replace the error."""
    store = Store(tmp_path / "index.sqlite", create=True)
    with pytest.raises(IndexWriteError, match="no space left"), store.transaction() as con:
        con.execute("INSERT INTO manifest VALUES ('k', 'v')")
        con.execute("ROLLBACK")  # what SQLite does on its own for some disk-full failures
        raise sqlite3.OperationalError("database or disk is full")
    assert "k" not in store.get_manifest()
