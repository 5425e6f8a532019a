"""Discovery against a hostile corpus built at test time: every exclusion must carry its reason."""

from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_rag.indexers import discover as disc
from repo_rag.indexers.discover import DiscoveryResult, discover, format_report, is_secret_path, read_text

LANGS = {".py": "python", ".js": "javascript", ".md": "markdown", ".go": "go", ".txt": "text"}


def lang(path: str) -> str:
    return LANGS.get(os.path.splitext(path)[1], "unknown")


def write(root: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def by_path(result: DiscoveryResult) -> dict[str, str]:
    return {s.path: s.reason for s in result.skipped}


CAP = 300_000

INCLUDED = {
    ".gitignore", ".repo-ragignore", "Makefile", "small.csv",
    "build/out.py",  # default-skipped dir re-included by '!build/'
    "docs/readme.md",
    "src/.gitignore", "src/__init__.py", "src/app.py", "src/broken.py", "src/crlf.py",
    "src/auth/credentials/__init__.py",  # a package named 'credentials' is code, not a secret
    "src/keep.log",  # '*.log' at the root, '!keep.log' in src/.gitignore
    "src/latin1.txt", "src/only_root.txt", "src/utf16.txt",
    "static/app.js", "static/legacy.min.js",  # the latter re-included by name in .repo-ragignore
    "tmp/y.py",  # src/.gitignore's 'tmp/' applies below src/ only
    "vendor/mylib/lib.py",  # '!vendor/mylib/' opens one path through a default-skipped dir
    ".docker/README.md",
}

SKIPPED = {
    ".git/": "vcs",
    ".repo-rag/": "index dir",
    "excluded_by_info.py": "gitignore",  # .git/info/exclude
    "debug.log": "gitignore",
    "only_root.txt": "gitignore",  # '/only_root.txt' is anchored
    "src/other.log": "gitignore",
    "src/tmp/": "gitignore",
    "docs/draft.md": "gitignore",  # 'docs/**/draft.md': ** matches zero dirs too
    "docs/x/y/draft.md": "gitignore",
    "notes/": "repo-ragignore",
    # secrets: never indexed; '!.env' in .repo-ragignore must not bring it back
    ".env": "secret", ".env.production": "secret", ".env.example": "secret", "server.pem": "secret",
    "id_rsa": "secret", "id_ed25519.pub": "secret", "credentials.json": "secret",
    "config/secrets.yaml": "secret", "deploy/gcp-credentials.json": "secret", ".aws/": "secret",
    ".docker/config.json": "secret", ".npmrc": "secret",
    "node_modules/": "vendored/build dir",
    "dist/": "vendored/build dir",
    "src/__pycache__/": "vendored/build dir",
    "myenv/": "vendored/build dir",  # a virtualenv by its pyvenv.cfg, whatever the name
    "pkg.egg-info/": "vendored/build dir",
    "vendor/README.md": "vendored/build dir",
    "vendor/other/": "vendored/build dir",
    "logo.png": "binary",
    "mystery": "binary",  # NUL bytes, no extension
    "src/native.so": "binary",
    "huge.py": "too large",
    "big.csv": "data file",
    "static/app.min.js": "minified",
    "static/app.js.map": "minified",
    "static/packed.js": "minified",  # by content: one 20 KB line
    "package-lock.json": "lockfile",
    "poetry.lock": "lockfile",
    "api_pb2.py": "generated",
    "gen/client.go": "generated",  # '// Code generated ... DO NOT EDIT.'
    "pipe": "not a regular file",
    "src/loop": "symlink", "src/here": "symlink", "escape": "symlink", "src/alias.py": "symlink",
    "dangling": "symlink", "selfref": "symlink",
    "src/locked.py": "unreadable",
    "private/": "unreadable",
}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    write(outside, "leak.py", "SECRET = 1\n")

    write(root, ".git/info/exclude", "# local excludes\nexcluded_by_info.py\n")
    write(root, ".git/HEAD", "ref: refs/heads/main\n")
    write(root, "excluded_by_info.py")
    write(root, ".gitignore", "*.log\n/only_root.txt\ndocs/**/draft.md\n")
    write(root, "src/.gitignore", "!keep.log\ntmp/\n")
    write(root, ".repo-ragignore", "# index our build output\n!build/\n!.env\nnotes/\n!vendor/mylib/\n"
                                   "!static/legacy.min.js\n")

    write(root, "src/app.py", "def f():\n    return 1\n")
    write(root, "src/broken.py", "def f(:\n    return\n")
    write(root, "src/__init__.py", "")
    write(root, "src/latin1.txt", b"caf\xe9 au lait\n")
    write(root, "src/crlf.py", b"a = 1\r\nb = 2\r\n")
    write(root, "src/utf16.txt", "hello\nworld\n".encode("utf-16"))
    write(root, "src/auth/credentials/__init__.py")
    write(root, "src/keep.log", "kept\n")
    write(root, "src/other.log", "dropped\n")
    write(root, "src/tmp/x.py")
    write(root, "tmp/y.py")
    write(root, "only_root.txt", "root\n")
    write(root, "src/only_root.txt", "nested\n")
    write(root, "debug.log", "log\n")
    write(root, "docs/readme.md", "# Docs\n")
    write(root, "docs/draft.md", "draft\n")
    write(root, "docs/x/y/draft.md", "draft\n")
    write(root, "notes/todo.md", "todo\n")
    write(root, "Makefile", "all:\n\techo hi\n")
    write(root, "small.csv", "a,b\n1,2\n")
    write(root, "big.csv", "a,b\n" + "1,2\n" * 60_000)

    for rel in (".env", ".env.production", ".env.example", "server.pem", "id_rsa", "id_ed25519.pub",
                "credentials.json", "config/secrets.yaml", "deploy/gcp-credentials.json",
                ".aws/credentials", ".docker/config.json", ".npmrc"):
        write(root, rel, "token=hunter2\n")
    write(root, ".docker/README.md", "# how we build images\n")

    write(root, "node_modules/pkg/index.js", "module.exports = 1;\n")
    write(root, "dist/bundle.js", "x\n")
    write(root, "build/out.py")
    write(root, "src/__pycache__/app.cpython-311.pyc", b"\x00\x01")
    write(root, "myenv/pyvenv.cfg", "home = /usr/bin\n")
    write(root, "myenv/lib/site.py")
    write(root, "pkg.egg-info/PKG-INFO", "Name: pkg\n")
    write(root, "vendor/README.md", "vendored\n")
    write(root, "vendor/mylib/lib.py")
    write(root, "vendor/other/x.py")
    write(root, ".repo-rag/index.db", b"SQLite format 3\x00")

    write(root, "logo.png", b"\x89PNG\r\n\x1a\n")
    write(root, "mystery", b"text then \x00\x01\x02 binary\n")
    write(root, "src/native.so", b"\x7fELF")
    write(root, "huge.py", "x = 1\n" * 60_000)  # 360 KB > CAP

    write(root, "static/app.js", "function f() {\n  return 1;\n}\n")
    write(root, "static/app.min.js", "function f(){return 1}\n")
    write(root, "static/legacy.min.js", "function g(){return 2}\n")
    write(root, "static/app.js.map", '{"version":3}\n')
    write(root, "static/packed.js", "var a=1;" * 2500 + "\n")
    write(root, "package-lock.json", "{}\n")
    write(root, "poetry.lock", "# lock\n")
    write(root, "api_pb2.py", "DESCRIPTOR = None\n")
    write(root, "gen/client.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage gen\n")

    os.mkfifo(root / "pipe")
    os.symlink("..", root / "src/loop")  # dir symlink to its parent
    os.symlink(".", root / "src/here")  # dir symlink to itself
    os.symlink(outside, root / "escape")
    os.symlink("app.py", root / "src/alias.py")
    os.symlink("does-not-exist", root / "dangling")
    os.symlink("selfref", root / "selfref")

    locked = write(root, "src/locked.py")
    locked.chmod(0)
    write(root, "private/plan.py")
    return root


@pytest.fixture()
def unreadable(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make src/locked.py and private/ unreadable for real, even as root (where chmod 000 is no bar)."""
    locked = str(corpus / "src/locked.py")
    private = str(corpus / "private")
    real_open, real_scandir = builtins.open, os.scandir

    def guarded_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(file) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(file, *args, **kwargs)

    def guarded_scandir(path="."):  # type: ignore[no-untyped-def]
        if os.fspath(path) == private:
            raise PermissionError(13, "Permission denied", private)
        return real_scandir(path)

    if os.geteuid() == 0:
        monkeypatch.setattr(builtins, "open", guarded_open)
    else:
        (corpus / "private").chmod(0)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    yield corpus
    (corpus / "private").chmod(0o755)


def test_exact_included_set_and_reasons(unreadable: Path) -> None:
    result = discover(unreadable, max_file_bytes=CAP, language_for_path=lang)
    paths = [f.path for f in result.files]
    assert paths == sorted(INCLUDED)
    assert by_path(result) == SKIPPED
    assert [s.path for s in result.skipped] == sorted(SKIPPED)


def test_source_file_fields(corpus: Path) -> None:
    result = discover(corpus, max_file_bytes=CAP, language_for_path=lang)
    files = {f.path: f for f in result.files}
    app = files["src/app.py"]
    st = os.stat(corpus / "src/app.py")
    assert app.abs_path == str(corpus / "src" / "app.py")
    assert (app.size, app.mtime_ns, app.language) == (st.st_size, st.st_mtime_ns, "python")
    assert files["Makefile"].language == "unknown"  # unknown but text: kept
    assert files["src/__init__.py"].size == 0


def test_never_indexes_secrets_even_when_reincluded(corpus: Path) -> None:
    result = discover(corpus, max_file_bytes=CAP, extra_ignore=["!.env", "!*.pem", "!.aws/"],
                      language_for_path=lang)
    indexed = {f.path for f in result.files}
    assert not any(is_secret_path(p) for p in indexed)
    assert by_path(result)[".env"] == "secret"
    assert by_path(result)[".aws/"] == "secret"


def test_follow_symlinks_detects_loops_escapes_and_aliases(corpus: Path) -> None:
    os.symlink("src/auth", corpus / "auth_link")  # alias of a directory that is walked anyway
    write(corpus, "generated_src/mod.py")
    with (corpus / ".gitignore").open("a") as fh:
        fh.write("/generated_src/\n")
    os.symlink("generated_src", corpus / "gen_link")  # the link is its own path: walked there

    result = discover(corpus, max_file_bytes=CAP, follow_symlinks=True, language_for_path=lang)
    reasons = by_path(result)
    assert reasons["src/loop"] == "symlink loop"
    assert reasons["src/here"] == "symlink loop"
    assert reasons["selfref"] == "symlink loop"
    assert reasons["escape"] == "symlink outside repo"
    assert reasons["dangling"] == "broken symlink"
    assert reasons["src/alias.py"] == "symlink duplicate"
    assert reasons["auth_link"] == "symlink duplicate"
    assert reasons["generated_src/"] == "gitignore"
    indexed = {f.path for f in result.files}
    assert "gen_link/mod.py" in indexed
    assert not any(p.startswith(("escape/", "src/loop/", "src/here/")) for p in indexed)
    assert all(os.path.realpath(f.abs_path).startswith(os.path.realpath(corpus)) for f in result.files)


def test_file_vanishing_during_walk_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "a.py")
    victim = write(tmp_path, "b.py")
    real_scandir = os.scandir

    def racing_scandir(path="."):  # type: ignore[no-untyped-def]
        with real_scandir(path) as it:
            entries = list(it)
        if os.fspath(path) == str(tmp_path):
            victim.unlink()  # deleted after listing, before stat/open
        return contextlib.nullcontext(entries)

    monkeypatch.setattr(os, "scandir", racing_scandir)
    result = discover(tmp_path, language_for_path=lang)
    assert [f.path for f in result.files] == ["a.py"]
    assert by_path(result) == {"b.py": "unreadable"}


def test_extra_ignore_ignores_and_reincludes(corpus: Path) -> None:
    write(corpus, "node_modules/other/y.js")
    result = discover(corpus, max_file_bytes=CAP, extra_ignore=["docs/", "!node_modules/pkg/"],
                      language_for_path=lang)
    reasons = by_path(result)
    indexed = {f.path for f in result.files}
    assert reasons["docs/"] == "extra ignore"
    assert "node_modules/pkg/index.js" in indexed
    assert reasons["node_modules/other/"] == "vendored/build dir"


def test_reincluded_dir_keeps_normal_rules_inside(tmp_path: Path) -> None:
    """'!build/' re-includes the directory; what is inside is judged as anywhere else."""
    write(tmp_path, ".gitignore", "build/\n*.o\n")
    write(tmp_path, ".repo-ragignore", "!build/\n")
    write(tmp_path, "build/gen.py")
    write(tmp_path, "build/obj.o", "text object\n")
    write(tmp_path, "build/node_modules/m.js")
    write(tmp_path, "build/yarn.lock", "# lock\n")
    result = discover(tmp_path, language_for_path=lang)
    assert [f.path for f in result.files] == [".gitignore", ".repo-ragignore", "build/gen.py"]
    assert by_path(result) == {
        "build/obj.o": "gitignore",
        "build/node_modules/": "vendored/build dir",
        "build/yarn.lock": "lockfile",
    }


def test_gitignore_semantics_match_git(tmp_path: Path) -> None:
    """Tricky patterns, checked against git itself when it is installed."""
    ignore = {
        ".gitignore": "*.tmp\n/docs/*\n!/docs/api/\nfoo/**\n!foo/keep.txt\na/**/\n*/cache/\n\\!bang.txt\n"
                      "[ab]?.txt\nnested/deep/\n",
        "nested/.gitignore": "!*.tmp\n/local.txt\n",
    }
    files = ["docs/api/x.md", "docs/api/a.tmp", "docs/guide.md", "foo/keep.txt", "foo/drop.txt",
             "a/top.txt", "a/sub/inner.txt", "x/cache/c.txt", "cache/top.txt", "!bang.txt", "ab.txt",
             "b1.txt", "abc.txt", "nested/n.tmp", "nested/local.txt", "nested/x/local.txt",
             "nested/deep/d.txt", "ok.txt"]
    for rel, text in ignore.items():
        write(tmp_path, rel, text)
    for rel in files:
        write(tmp_path, rel, "t\n")
    got = {f.path for f in discover(tmp_path, language_for_path=lang).files}
    expected = {".gitignore", "nested/.gitignore", "docs/api/x.md", "foo/keep.txt", "a/top.txt",
                "cache/top.txt", "abc.txt", "nested/n.tmp", "nested/x/local.txt", "ok.txt"}
    assert got == expected
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        out = subprocess.run(["git", "ls-files", "-o", "--exclude-standard"], cwd=tmp_path, check=True,
                             capture_output=True, text=True).stdout
        assert set(out.split("\n")) - {""} == expected


def test_parent_gitignore_applies_when_indexing_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, ".git/info/exclude", "*.bak\n")
    write(tmp_path, ".gitignore", "sub/gen/\n*.out\n")
    write(tmp_path, "sub/gen/g.py")
    write(tmp_path, "sub/main.py")
    write(tmp_path, "sub/run.out", "o\n")
    write(tmp_path, "sub/old.bak", "b\n")
    result = discover(tmp_path / "sub", language_for_path=lang)
    assert [f.path for f in result.files] == ["main.py"]
    assert by_path(result) == {"gen/": "gitignore", "run.out": "gitignore", "old.bak": "gitignore"}


def test_reasons_and_report(corpus: Path) -> None:
    result = discover(corpus, max_file_bytes=CAP, language_for_path=lang)
    reasons = result.reasons()
    assert reasons["secret"] == 12
    assert reasons["vendored/build dir"] == 7
    assert sum(reasons.values()) == len(result.skipped)
    assert list(reasons.values()) == sorted(reasons.values(), reverse=True)
    report = format_report(result)
    assert f"Included: {len(result.files):,} files" in report
    assert "python" in report and "secret" in report and "(6 dirs)" in report
    assert "e.g. .aws/, .docker/config.json, .env, ..." in report


@pytest.mark.parametrize(("path", "secret"), [
    (".env", True), ("app/.env.local", True), (".env.example", True), ("keys/server.PEM", True),
    ("tls.key", True), ("cert.p12", True), ("id_rsa", True), ("home/u/.ssh/config", True),
    (".aws/credentials", True), ("credentials", True), ("gcp-credentials-prod.json", True),
    ("service-account-ci.json", True), ("k8s/secrets.yml", True), (".docker/config.json", True),
    ("C:\\Users\\me\\.ssh\\id_ed25519", True), ("vault.kdbx", True), ("backup.tar.gpg", True),
    (".netrc", True), (".pypirc", True), (".htpasswd", True), ("release.keystore", True),
    ("src/env.py", False), ("docs/environment.md", False), ("auth/credentials.py", False),
    ("auth/credentials/__init__.py", False), ("config.json", False), ("docker/config.json", False),
    ("keyboard.py", False), ("secrets_manager.py", False), ("", False),
    ("infra/terraform.tfstate", True), ("prod.tfvars.json", True), ("credentials.yaml", True),
    ("client_secret_42.json", True), ("/home/u/.kube/config", True), ("C:\\Users\\me\\.kube\\config", True),
    ("vpn.ovpn", True), ("http.keytab", True), (".vault-token", True), ("auth/credentials.go", False),
    ("charts/kube/config", False), ("terraform/outputs.tf", False), ("KEYS.asc", False),
])
def test_is_secret_path(path: str, secret: bool) -> None:
    assert is_secret_path(path) is secret


SECRET_CANARIES = [
    "terraform.tfstate", "infra/terraform.tfstate.backup", "prod.tfvars", "envs/prod.auto.tfvars",
    "vars.tfvars.json", "credentials", "credentials.yml", "config/credentials.yaml", "credentials.xml",
    "config/credentials.yml.enc", "credentials.toml", "client_secret.json",
    "client_secret_1234-abcd.apps.googleusercontent.com.json", ".pypirc", ".netrc", "_netrc", ".npmrc", ".yarnrc",
    ".yarnrc.yml", "id_ed25519", "id_ed25519.pub", "id_ecdsa_sk", ".kube/config", "home/.kube/config",
    ".vault-token", "krb5.keytab", ".s3cfg", ".boto", ".dockercfg", ".docker/config.json", "vpn/office.ovpn",
    ".git-credentials", "htpasswd", ".htpasswd", "conf/users.htpasswd", "keys/private-key.asc",
    "secret-subkeys.asc", "secring.gpg", ".terraformrc", "terraform.rc", ".my.cnf", "AuthKey_ABC123XYZ.p8",
    "kubeconfig", "ci.kubeconfig", ".config/gh/hosts.yml", "accessTokens.json", ".dev.vars", "db.secret",
    "server.pem", "tls.key", ".env.local",
]


@pytest.mark.parametrize("rel", SECRET_CANARIES)
def test_secret_canary_files_are_refused_even_when_reincluded(tmp_path: Path, rel: str) -> None:
    write(tmp_path, rel, "token = CANARY-0123456789abcdef\n")
    write(tmp_path, "app.py")
    write(tmp_path, ".repo-ragignore", f"!{rel}\n!*\n")
    result = discover(tmp_path, extra_ignore=[f"!{rel}", "!**"], language_for_path=lang)
    assert [f.path for f in result.files] == [".repo-ragignore", "app.py"]
    assert by_path(result) == {rel: "secret"}
    assert is_secret_path(rel)


@pytest.mark.parametrize("rel", [
    "auth/credentials.py", "pkg/credentials.go", "src/credentials.ts", "docs/credentials.md", "credentials/__init__.py",
    "terraform/main.tf", "terraform/variables.tf", "KEYS.asc", "release-1.0.tar.gz.asc", "kube/config",
    "config.yml", "tokens.py", "secrets.py", "app/secret_views.py", "client_secret.py", "htpasswd.go",
    "docs/ovpn.md", "keytab.c", ".yarnrc.example.md",
])
def test_ordinary_files_near_secret_names_are_indexed(tmp_path: Path, rel: str) -> None:
    write(tmp_path, rel)
    result = discover(tmp_path, language_for_path=lang)
    assert [f.path for f in result.files] == [rel]
    assert not is_secret_path(rel)


@pytest.mark.parametrize("follow", [False, True])
def test_symlink_to_a_secret_is_refused_whatever_its_name(tmp_path: Path, follow: bool) -> None:
    root = tmp_path / "repo"
    outside = tmp_path / "home"
    write(outside, ".aws/credentials", "aws_secret_access_key = x\n")
    write(outside, "id_rsa", "key\n")
    write(outside, "notes.md", "# fine\n")
    write(root, ".env", "API_KEY=CANARY\n")
    write(root, "deploy/prod.tfvars", 'db_password = "CANARY"\n')
    write(root, ".ssh/id_rsa", "key\n")
    write(root, "real.txt", "fine\n")
    os.symlink(".env", root / "notes.txt")
    os.symlink("deploy/prod.tfvars", root / "readme.txt")
    write(root, "docs/index.md", "# docs\n")
    os.symlink("../deploy/prod.tfvars", root / "docs/vars.md")  # relative, from a subdirectory
    os.symlink(".ssh", root / "keys")  # a directory link to a secret directory
    os.symlink("notes.txt", root / "chained.txt")  # a link to a link to .env
    os.symlink(outside / ".aws" / "credentials", root / "aws.txt")  # leads outside, to a secret
    os.symlink(outside / "id_rsa", root / "key.txt")
    os.symlink(outside / "notes.md", root / "outside.md")  # leads outside, not secret
    os.symlink("real.txt", root / "alias.txt")
    with (root / ".repo-ragignore").open("w") as fh:
        fh.write("!notes.txt\n!keys/\n")
    result = discover(root, follow_symlinks=follow, language_for_path=lang)
    reasons = by_path(result)
    for link in ("notes.txt", "readme.txt", "docs/vars.md", "keys", "chained.txt", "aws.txt", "key.txt"):
        assert reasons[link] == "symlink to secret", link
    assert reasons["outside.md"] == ("symlink outside repo" if follow else "symlink")
    assert reasons["alias.txt"] == ("symlink duplicate" if follow else "symlink")
    assert {f.path for f in result.files} == {".repo-ragignore", "docs/index.md", "real.txt"}


def test_files_in_a_followed_directory_link_are_judged_by_their_real_path(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", ".kube/\n")  # the real directory is never walked: no duplicate check
    write(tmp_path, ".kube/config", "users:\n- user:\n    token: CANARY\n")
    write(tmp_path, ".kube/notes.md", "# cluster notes\n")
    os.symlink(".kube", tmp_path / "k8s")
    result = discover(tmp_path, follow_symlinks=True, language_for_path=lang)
    assert by_path(result) == {".kube/": "gitignore", "k8s/config": "secret"}
    assert [f.path for f in result.files] == [".gitignore", "k8s/notes.md"]


def test_read_text_normalises_without_moving_lines(tmp_path: Path) -> None:
    assert read_text(write(tmp_path, "crlf.py", b"a\r\nb\r\n\r\nc")) == ("a\nb\n\nc", "")
    assert read_text(write(tmp_path, "bom.py", b"\xef\xbb\xbfx = 1\r\n")) == ("x = 1\n", "")
    text, note = read_text(write(tmp_path, "latin1.py", b"s = 'caf\xe9'\nt = 2\n"))
    assert (text, note) == ("s = 'caf\ufffd'\nt = 2\n", "decoded with replacement")
    assert read_text(write(tmp_path, "u16.txt", "h\u00e9\r\nx\n".encode("utf-16"))) == ("h\u00e9\nx\n",
                                                                                      "decoded from UTF-16")
    assert read_text(write(tmp_path, "cr.txt", b"a\rb\n")) == ("a\rb\n", "")  # lone CR: untouched
    with pytest.raises(OSError):
        read_text(tmp_path / "missing.py")


def test_syntax_error_and_invalid_utf8_files_are_kept(corpus: Path) -> None:
    result = discover(corpus, max_file_bytes=CAP, language_for_path=lang)
    files = {f.path: f for f in result.files}
    assert files["src/broken.py"].language == "python"
    text, note = read_text(files["src/latin1.txt"].abs_path)
    assert text == "caf\ufffd au lait\n" and note == "decoded with replacement"


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        discover(tmp_path / "missing", language_for_path=lang)
    with pytest.raises(NotADirectoryError):
        discover(write(tmp_path, "f.py"), language_for_path=lang)


def test_default_language_detection(tmp_path: Path) -> None:
    write(tmp_path, "m.py")
    assert [f.language for f in discover(tmp_path).files] == ["python"]


def test_module_does_not_import_repo_rag() -> None:
    source = Path(disc.__file__).read_text(encoding="utf-8")
    assert "repo_rag" not in source


# -- discover_paths: the changed paths only, judged as the full walk judges them ----------------


def _walk_all(root: Path) -> list[str]:
    """Every non-directory entry under root (symlinks and fifos included), not following links."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            out.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    return sorted(out)


def _expected(full: DiscoveryResult, rel: str) -> tuple[str, object]:
    files = {f.path: f for f in full.files}
    skips = by_path(full)
    if rel in files:
        return "file", files[rel]
    if rel in skips:
        return "skip", skips[rel]
    parts = rel.split("/")
    for i in range(len(parts) - 1, 0, -1):  # the nearest skipped ancestor directory decides
        if "/".join(parts[:i]) + "/" in skips:
            return "skip", skips["/".join(parts[:i]) + "/"]
    raise AssertionError(f"the full walk says nothing about {rel}")


def test_discover_paths_agrees_with_the_full_walk_on_every_path(corpus: Path) -> None:
    full = discover(corpus, max_file_bytes=CAP, language_for_path=lang)
    paths = [p for p in _walk_all(corpus) if p.rsplit("/", 1)[-1] not in disc.RULE_FILES]
    assert len(paths) > 60
    together = disc.discover_paths(corpus, paths, max_file_bytes=CAP, language_for_path=lang)
    assert together is not None and together.gone == []
    got = {f.path: ("file", f) for f in together.files} | {s.path: ("skip", s.reason) for s in together.skipped}
    assert set(got) == set(paths)
    for rel in paths:
        assert got[rel] == _expected(full, rel), rel
        one = disc.discover_paths(corpus, [rel], max_file_bytes=CAP, language_for_path=lang)
        assert one is not None
        alone = {f.path: ("file", f) for f in one.files} | {s.path: ("skip", s.reason) for s in one.skipped}
        assert alone == {rel: got[rel]}, rel


def test_discover_paths_asks_for_a_walk_when_a_path_alone_cannot_say(corpus: Path) -> None:
    def judge(paths: list[str], **kw: object) -> disc.PathsDiscovery | None:
        return disc.discover_paths(corpus, paths, max_file_bytes=CAP, language_for_path=lang, **kw)

    for rule_file in (".gitignore", "src/.gitignore", ".repo-ragignore", "myenv/pyvenv.cfg"):
        assert judge(["src/app.py", rule_file]) is None, rule_file
    assert judge(["src"]) is None  # a directory (created, or renamed into place)
    assert judge(["src/app.py"], follow_symlinks=True) is None  # aliases are decided across the tree
    assert judge(["src/here/app.py"]) is None  # under a directory symlink
    assert judge(["../outside/leak.py"]) is None
    got = judge(["src/app.py", "src/deleted.py", "nowhere/x.py"])
    assert got is not None
    assert got.gone == ["nowhere/x.py", "src/deleted.py"]
    assert [f.path for f in got.files] == ["src/app.py"]
