"""The index-and-search spine end to end: per-language answers, bad input, incremental, crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import astuple
from pathlib import Path

import pytest
from conftest import POLYGLOT, assert_same_vectors

from repo_rag.config import load_config
from repo_rag.graph.codegraph import edge_signature
from repo_rag.repository import Repository
from repo_rag.store import Store

# (query, expected path in the top 3 files) — one or more per language of the fixture.
KNOWN_ANSWERS = [
    ("where is password validation", "bookstore/auth.py"),
    ("hash a password and check it", "bookstore/auth.py"),
    ("how are books saved to the database", "bookstore/repository.py"),
    ("BookApi client that lists and creates books over http", "web/api.ts"),
    ("react component rendering the book list", "web/BookList.tsx"),
    ("load the featured ISBNs from a JSON file", "web/legacy.js"),
    (
        "java service with business rules on top of the DAO",
        "java/src/main/java/com/example/bookstore/service/BookService.java",
    ),
    ("in-memory go repository that stores books", "go/store/repo.go"),
    ("find the slot of a sku on a shelf", "c/inventory.c"),
    ("shopping cart holding quantities per ISBN", "cpp/cart.cpp"),
    ("charge the order total to the customer", "csharp/Orders.cs"),
    ("flat shipping rate per parcel free above a threshold", "kotlin/Shipping.kt"),
    ("discount that takes a percent off every price", "lua/discount.lua"),
    ("turn a cart into a paid order and return the receipt", "php/Checkout.php"),
    ("searchable catalog of books loaded from JSON", "ruby/catalog.rb"),
    ("shelf item that can be counted, created with no stock", "rust/src/lib.rs"),
    ("member discount percentage price rule", "scala/Pricing.scala"),
    ("deploy the bookstore to the staging host", "scripts/deploy.sh"),
    ("books a customer wants to buy later wishlist", "swift/Wishlist.swift"),
]


@pytest.mark.parametrize(("query", "expected"), KNOWN_ANSWERS)
def test_known_answer_per_language(polyglot_repo: Repository, query: str, expected: str) -> None:
    files = [f.path for f in polyglot_repo.search_files(query, k=3)]
    assert expected in files, f"{query!r}: expected {expected} in {files}"


def test_hits_are_symbol_level_with_reasons(polyglot_repo: Repository) -> None:
    result = polyglot_repo.search("where is password validation", k=5)
    top = result.hits[0]
    assert top.path == "bookstore/auth.py"
    assert top.kind in {"class", "function", "method"}
    assert top.symbol and top.start_line >= 1 and top.end_line >= top.start_line
    lines = (polyglot_repo.root / top.path).read_text().splitlines()
    assert top.text.splitlines()[0].strip() in "\n".join(lines[top.start_line - 1 : top.end_line])
    assert any(r.startswith("lexical: ") and "password" in r for r in top.reasons)  # the terms it matched
    assert any(r.startswith("dense") for r in top.reasons)
    assert result.notes == []


def test_symbol_and_traceback_anchors(polyglot_repo: Repository) -> None:
    trace = 'Traceback (most recent call last):\n  File "bookstore/views.py", line 20, in post\nValueError'
    hits = polyglot_repo.search(trace, k=5).hits
    assert hits[0].path == "bookstore/views.py"
    assert any("traceback" in r for r in hits[0].reasons)
    hits = polyglot_repo.search("what does check_password do?", k=3).hits
    assert hits[0].symbol == "check_password"
    assert any(r == "symbol: check_password" for r in hits[0].reasons)


def test_secrets_and_binaries_never_indexed(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo_dir)
    (repo_dir / ".env").write_text("API_TOKEN=sk-live-secret-value-123\n")
    (repo_dir / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\nabc\n")
    (repo_dir / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (repo_dir / "blob.dat").write_bytes(b"abc\x00def" * 100)
    (repo_dir / "latin1.py").write_bytes("def caf\xe9():\n    return 'd\xe9j\xe0 vu'\n".encode("latin-1"))
    (repo_dir / "bad_syntax.py").write_text("def broken(:\n    pass\n\ndef fine():\n    return 1\n")
    (repo_dir / "huge.py").write_text("x = 1\n" * 300_000)
    os.symlink(repo_dir, repo_dir / "loop")
    unreadable = repo_dir / "secretless_unreadable.py"
    unreadable.write_text("def hidden():\n    pass\n")
    repo = Repository(repo_dir, load_config(repo_dir, overrides={"embed": {"enabled": False}}), tmp_path / "idx")
    report = repo.index()
    indexed = set(repo.store.files())
    assert ".env" not in indexed and "server.pem" not in indexed
    assert "logo.png" not in indexed and "blob.dat" not in indexed and "huge.py" not in indexed
    assert not any(p.startswith("loop/") for p in indexed)
    assert {"latin1.py", "bad_syntax.py"} <= indexed
    assert report.skipped.get("secret", 0) >= 2
    assert repo.store.file("bad_syntax.py").error  # syntax error recorded, file still searchable
    assert any(h.path == "bad_syntax.py" for h in repo.search("fine", k=10).hits)
    assert not any("sk-live-secret-value-123" in c.text for c in repo.store.iter_chunks())
    assert not any("sk-live-secret" in h.text for h in repo.search("sk-live-secret-value-123 API_TOKEN", k=20).hits)


def _snapshot(store: Store) -> tuple:
    chunks = sorted((c.path, c.start_line, c.end_line, c.kind, c.qualname, c.part, c.hash) for c in store.iter_chunks())
    fts = sorted(store.con.execute("SELECT path, name, doc, body FROM chunk_fts"))
    defs = sorted((p, *astuple(d)) for p, d in store.definitions())
    refs = sorted((p, *astuple(r)) for p, r in store.references())
    return chunks, fts, defs, refs


def test_incremental_equals_full_rebuild(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo_dir)
    cfg = load_config(repo_dir)
    inc = Repository(repo_dir, cfg, tmp_path / "inc")
    inc.index()
    # 1. edit only the file whose chunks were stored last: its freed chunk ids are exactly the ones
    # SQLite would hand straight back to its new chunks (the id-reuse case)
    last = inc.store.con.execute("SELECT path FROM chunks ORDER BY id DESC LIMIT 1").fetchone()[0]
    last_file = repo_dir / last
    last_file.write_text(last_file.read_text().replace("book", "parcel").replace("Book", "Parcel"))
    assert inc.index().files_parsed == 1
    # 2. modify, add, delete
    auth = repo_dir / "bookstore/auth.py"
    auth.write_text(auth.read_text() + '\n\ndef audit_login(user):\n    """Record a login."""\n    return user\n')
    (repo_dir / "bookstore/coupons.py").write_text("def apply_coupon(price, code):\n    return price - 1\n")
    (repo_dir / "lua/discount.lua").unlink()
    report = inc.index()
    assert report.files_parsed == 2 and report.files_removed == 1
    assert report.embedded <= 10, "only the changed chunks are re-embedded"
    full = Repository(repo_dir, cfg, tmp_path / "full")
    full.index()
    assert _snapshot(inc.store) == _snapshot(full.store)
    assert inc.graph is not None and full.graph is not None
    assert edge_signature(inc.graph) == edge_signature(full.graph)
    # dense: every chunk has the vector a fresh build gives it (none kept from old text)
    assert_same_vectors(inc.store, full.store)
    assert inc.search("apply a coupon code", k=3).hits[0].symbol == "apply_coupon"
    # unchanged tree: nothing re-parsed
    again = inc.index()
    assert again.files_parsed == 0 and again.embedded == 0


def test_kill_during_indexing_keeps_previous_index(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo_dir)
    index_dir = tmp_path / "idx"
    cfg = load_config(repo_dir, overrides={"embed": {"enabled": False}})
    Repository(repo_dir, cfg, index_dir).index()
    before = Repository(repo_dir, cfg, index_dir).search("where is password validation", k=3).hits
    assert before
    # A large change so the second run is still busy when it is killed.
    for i in range(400):
        (repo_dir / f"gen_{i}.py").write_text("\n".join(f"def f_{i}_{j}(x):\n    return x + {j}\n" for j in range(60)))
    env = dict(os.environ, REPO_RAG_EMBED_ENABLED="false")
    # Kill it at several moments of the run (inside the write transaction, and later), each time
    # on a fresh copy of the committed index: the result must be the old index or the complete new
    # one, never a half-written pass, and always searchable.
    baseline = tmp_path / "baseline"
    shutil.copytree(index_dir, baseline)
    # The complete new index, built without a kill: a pass that committed must search exactly like it
    # (400 new files change the lexical statistics, so its ranking may differ from the old one's).
    complete_dir = tmp_path / "complete"
    shutil.copytree(baseline, complete_dir)
    Repository(repo_dir, cfg, complete_dir).index()
    complete_repo = Repository(repo_dir, cfg, complete_dir)
    complete = [(h.path, h.symbol) for h in complete_repo.search("where is password validation", k=3).hits]
    complete_repo.close()
    old_hits = [(h.path, h.symbol) for h in before]
    outcomes = []
    for delay in (0.0, 0.3, 1.0):
        shutil.rmtree(index_dir)
        shutil.copytree(baseline, index_dir)
        proc = subprocess.Popen(
            [sys.executable, "-m", "repo_rag.cli", "index", str(repo_dir), "--index-dir", str(index_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in proc.stderr:  # the store stage announces itself before its transaction starts
            if "storing: 0/" in line:
                break
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after_repo = Repository(repo_dir, cfg, index_dir)
        after = [(h.path, h.symbol) for h in after_repo.search("where is password validation", k=3).hits]
        generated = sum(p.startswith("gen_") for p in after_repo.store.files())
        assert generated in (0, 400), f"half-written pass visible: {generated} of 400 files"
        assert after == (old_hits if generated == 0 else complete)
        outcomes.append(generated)
        after_repo.close()
    assert 0 in outcomes, "no kill landed before the commit; make the change larger"
    # and the next run completes normally
    report = Repository(repo_dir, cfg, index_dir).index()
    assert report.files_parsed + report.files_unchanged >= 400


def test_embedding_model_change_triggers_reembed(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo_dir)
    index_dir = tmp_path / "idx"
    Repository(repo_dir, load_config(repo_dir), index_dir).index()
    other = load_config(repo_dir, overrides={"embed": {"max_seq_length": 64}})
    stale = Repository(repo_dir, other, index_dir)
    from repo_rag.repository import IndexModelMismatchError

    with pytest.raises(IndexModelMismatchError, match="re-embed"):
        stale.search("password")
    report = stale.index()
    assert any("embedding model changed" in n for n in report.notes)
    assert stale.search("password", k=3).hits


def test_new_default_model_reembeds_an_old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index from a release whose default ('' in the config) was another model re-embeds on `index`."""
    from repo_rag import embed
    from repo_rag.repository import IndexModelMismatchError

    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT / "bookstore", repo_dir)
    index_dir = tmp_path / "idx"
    monkeypatch.setattr(embed, "CODE_MODEL_DIR", tmp_path / "no-code-model")  # a release without it: MiniLM
    Repository(repo_dir, load_config(repo_dir), index_dir).index()
    monkeypatch.undo()
    if not (embed.CODE_MODEL_DIR / "train.json").is_file():
        pytest.skip("no shipped code model in this checkout")
    repo = Repository(repo_dir, load_config(repo_dir), index_dir)
    with pytest.raises(IndexModelMismatchError, match="re-embed"):
        repo.search("password")
    report = repo.index()
    assert report.embedded + report.embedded_from_cache == report.dense_chunks > 0
    assert repo.search("password", k=3).hits
    assert Store(index_dir / "index.sqlite").get_manifest()["embed_model"].startswith("code-minilm-")


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "repo_rag.cli", *args], capture_output=True, text=True, env=env or dict(os.environ)
    )


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    r = _cli("search", "x", "--repo", str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = _cli("search", "x", "--repo", str(tmp_path))
    assert r.returncode == 2 and "run `repo-rag index" in r.stderr
    r = _cli("index", str(tmp_path / "nope"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_cli_search_json_and_batch(polyglot_repo: Repository, tmp_path: Path) -> None:
    common = ["--repo", str(polyglot_repo.root), "--index-dir", str(polyglot_repo.index_dir)]
    r = _cli("search", "where is password validation", "--json", "-k", "3", *common)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert hits[0]["path"] == "bookstore/auth.py"
    assert set(hits[0]) >= {"path", "start_line", "end_line", "symbol", "kind", "language", "score", "reasons"}
    batch = tmp_path / "q.jsonl"
    issue = "Crash when saving\nTraceback:\n  File \"bookstore/repository.py\", line 20, in save\nKeyError: 'isbn'"
    batch.write_text(json.dumps("hash a password") + "\n" + json.dumps(issue) + "\n")
    r = _cli("search", "--batch", str(batch), "-k", "2", *common)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])[0]["path"] == "bookstore/auth.py"
    assert json.loads(lines[1])[0]["path"] == "bookstore/repository.py"


def test_cli_search_table_never_breaks_a_location(polyglot_repo: Repository) -> None:
    """Even on a 40-column terminal each hit's `path:start-end` is whole, first on its line (copyable,
    clickable); only the reasons wrap."""
    from repo_rag.cli.search import format_hits

    result = polyglot_repo.search("where is password validation", k=6)
    text = format_hits(result, width=40)
    hit_lines = [ln for ln in text.splitlines() if not ln.startswith(" ") and not ln.startswith("note:")]
    assert len(hit_lines) == len(result.hits)
    for i, (line, h) in enumerate(zip(hit_lines, result.hits, strict=True), 1):
        assert line.startswith(f"{i}. {h.location}  "), line
    reason_lines = [ln for ln in text.splitlines() if ln.startswith(" ")]
    assert reason_lines and all(len(ln) <= 40 or " " not in ln.strip() for ln in reason_lines)
    env = dict(os.environ, COLUMNS="40", REPO_RAG_EMBED_ENABLED="false")
    r = _cli("search", "where is password validation", "-k", "3", "--repo", str(polyglot_repo.root),
             "--index-dir", str(polyglot_repo.index_dir), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(f"1. {result.hits[0].path}:"), r.stdout


def test_cli_index_dry_run_lists_reasons(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo_dir)
    (repo_dir / ".env").write_text("X=1\n")
    (repo_dir / "node_modules" / "pkg").mkdir(parents=True)
    (repo_dir / "node_modules" / "pkg" / "index.js").write_text("module.exports = 1\n")
    r = _cli("index", str(repo_dir), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "secret" in r.stdout and "python" in r.stdout
    assert not (repo_dir / ".repo-rag").exists(), "dry run writes nothing"


def test_cli_index_changed_paths(tmp_path: Path) -> None:
    """`repo-rag index . --changed A B` (e.g. from `git diff --name-only`): relative to the working
    directory, no walk; a path outside the repository is an error."""
    repo_dir = tmp_path / "repo"
    shutil.copytree(POLYGLOT, repo_dir)
    common = ["--index-dir", str(tmp_path / "idx"), "--no-dense", "-q", "--json"]
    assert _cli("index", str(repo_dir), *common).returncode == 0
    (repo_dir / "bookstore" / "ledger.py").write_text("def balance_sheet():\n    return 0\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "repo_rag.cli", "index", ".", *common, "--changed",
                        "bookstore/ledger.py", "bookstore/auth.py"], capture_output=True, text=True, cwd=repo_dir)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert (report["walked"], report["files_parsed"]) == (False, 1)
    r = _cli("index", str(repo_dir), *common, "--changed", str(tmp_path / "elsewhere.py"))
    assert r.returncode == 2 and "outside the repository" in r.stderr


def test_users_of_a_named_definition_are_candidates(polyglot_repo: Repository) -> None:
    """"What calls X" asks for X's callers: the uses channel proposes them, with the call site."""
    from repo_rag.graph_channels import uses_channel
    from repo_rag.query import analyze_query

    retriever = polyglot_repo.retriever
    uses = uses_channel(polyglot_repo.graph, polyglot_repo.store, analyze_query("what calls check_password?"), 1.0)
    assert uses is not None
    chunks = polyglot_repo.store.chunks_by_ids([cid for cid, _, _ in uses.items])
    users = {(chunks[cid].path, chunks[cid].qualname): why for cid, _, why in uses.items}
    assert users.get(("bookstore/views.py", "AdminBookView.delete")) == \
        "graph: calls check_password at bookstore/views.py:47"
    assert uses.tags  # the edge kind travels to the ranker's features
    assert ("bookstore/auth.py", "check_password") not in users  # the callee is not its own user
    # the candidate pool the ranker scores holds the callers, flagged as such
    c = retriever.candidates("what calls check_password?")
    login = next(cid for cid in c.pool.ids if c.pool.chunks[cid].qualname == "AdminBookView.delete")
    assert c.pool.uses[login] >= 1
    from repo_rag.rank.features import FEATURES

    row = c.pool.ids.index(login)
    assert c.features[row, FEATURES.index("uses_rank")] > 0
    assert c.features[row, FEATURES.index("q_about_use")] == 1.0
