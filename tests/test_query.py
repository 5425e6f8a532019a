"""The query analyser: results pinned on realistic questions, linear time on hostile ones.

``analyze_query`` runs on every question, and a question can be a whole pasted issue, so its patterns
must not backtrack over the text: 8 kB of dots used to take ~2 s and 100 kB several minutes, stalling a
worker (issue #8). These tests pin what it finds on realistic inputs (captured from the regex version
before the rewrite), compare it with that version on random short inputs, and time it on long inputs
built to make a backtracking pattern retry at every character.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repo_rag.query import (
    MAX_QUESTION_CHARS,
    QueryAnalysis,
    QueryTooLongError,
    analyze_query,
    check_question,
)

# ---------------------------------------------------------------------------------------------------
# The analyser as it was before the linear-time rewrite (quadratic on long tokens): the oracle for
# the differential property test below, run only on short inputs.

_OLD_FRAME_PY = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>]*))?')
_OLD_FRAME_GENERIC = re.compile(
    r"(?:at |\()?([\w./\\-]+\.(?:py|js|jsx|ts|tsx|java|go|rs|rb|php|kt|scala|c|h|cc|cpp|cs))[:(](\d+)"
)
_OLD_PATH = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.[A-Za-z]{1,5}|[\w-]+\.(?:py|js|jsx|ts|tsx|java|go|rs|rb|php|kt|scala|c|h|cc|cpp|cs|swift|lua|sh))\b"
)
_OLD_DOTTED = re.compile(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")
_OLD_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_OLD_CODE_SPAN = re.compile(r"`([^`\n]{1,200})`")
_OLD_CODE_BLOCK = re.compile(r"```.*?```", re.S)


def _old_is_code_identifier(word: str) -> bool:
    if len(word) < 3:
        return False
    if "_" in word.strip("_") or word.startswith("__"):
        return True
    inner_upper = any(c.isupper() for c in word[1:])
    return inner_upper and any(c.islower() for c in word)


@dataclass
class _OldAnalysis:
    text: str
    identifiers: list[str] = field(default_factory=list)
    dotted: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    frames: list[tuple[str, int, str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    is_long: bool = False

    @property
    def names(self) -> list[str]:
        out: list[str] = []
        for name in (
            self.identifiers
            + [d.rsplit(".", 1)[-1] for d in self.dotted]
            + [f[2] for f in self.frames if f[2] and not f[2].startswith("<")]
        ):
            if name not in out:
                out.append(name)
        return out


def _old_analyze_query(text: str) -> _OldAnalysis:
    qa = _OldAnalysis(text=text, is_long=len(text) > 300 or text.count("\n") > 3)
    for path, line, func in _OLD_FRAME_PY.findall(text):
        qa.frames.append((path.replace("\\", "/"), int(line), func or ""))
    for path, line in _OLD_FRAME_GENERIC.findall(text):
        path = path.replace("\\", "/")
        if not any(f[0] == path for f in qa.frames):
            qa.frames.append((path, int(line), ""))
    seen_paths: set[str] = set()
    for p in [f[0] for f in qa.frames] + _OLD_PATH.findall(text):
        p = p.strip("./") if not p.startswith("/") else p
        if p and p not in seen_paths and not p.startswith(("http", "www.")):
            seen_paths.add(p)
            qa.paths.append(p)
    code_text = " ".join(_OLD_CODE_SPAN.findall(text)) + " " + " ".join(_OLD_CODE_BLOCK.findall(text))
    counts: dict[str, int] = {}
    for word in _OLD_IDENT.findall(text):
        if _old_is_code_identifier(word):
            counts[word] = counts.get(word, 0) + 1
    for word in _OLD_IDENT.findall(code_text):
        if (len(word) >= 3 and not word.islower()) or word in counts:
            counts[word] = counts.get(word, 0) + 1
    qa.identifiers = sorted(counts, key=lambda w: -counts[w])
    qa.words = list(dict.fromkeys(w for w in _OLD_IDENT.findall(text) if len(w) >= 5))
    dotted = []
    for d in _OLD_DOTTED.findall(text):
        if not re.search(r"\.(py|js|ts|java|go|rs|rb|php|txt|md|html|com|org|io)$", d) and d not in dotted:
            dotted.append(d)
    qa.dotted = dotted
    return qa


def _result(qa: QueryAnalysis | _OldAnalysis) -> dict:
    return {
        "identifiers": qa.identifiers,
        "dotted": qa.dotted,
        "paths": qa.paths,
        "frames": [tuple(f) for f in qa.frames],
        "words": qa.words,
        "is_long": qa.is_long,
        "names": qa.names,
    }


# ---------------------------------------------------------------------------------------------------
# Characterisation: realistic questions and what the analyser found in them before the rewrite.

CORPUS = {
    "plain_question": "where is password validation?",
    "identifier_question": "what calls make_password and how does PasswordHasher.encode salt it?",
    "python_traceback": (
        "I get this when saving a user:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/home/me/proj/app/views.py", line 42, in create_user\n'
        "    user.save()\n"
        '  File "/home/me/.venv/lib/python3.11/site-packages/django/db/models/base.py", line 812, in save\n'
        "    self.save_base(using=using, force_insert=force_insert)\n"
        '  File "app/models.py", line 17, in <module>\n'
        "    from .hashers import make_password\n"
        '  File "C:\\\\Users\\\\dev\\\\proj\\\\hashers.py", line 5, in _check\n'
        "ValueError: invalid salt\n"
    ),
    "js_stack": (
        "TypeError: Cannot read properties of undefined (reading 'map')\n"
        "    at renderList (src/components/List.jsx:23:15)\n"
        "    at Object.render (/app/node_modules/react-dom/cjs/react-dom.development.js:14985:18)\n"
        "    at processTicksAndRejections (node:internal/process/task_queues:96:5)\n"
        "    at async main (./lib/index.ts:7:3)\n"
    ),
    "java_stack": (
        'Exception in thread "main" java.lang.NullPointerException: name is null\n'
        "\tat com.example.users.UserService.register(UserService.java:58)\n"
        "\tat com.example.web.SignupController.post(SignupController.java:31)\n"
        "\tat sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n"
        "Caused by: org.hibernate.exception.ConstraintViolationException at db/Dao.kt:12\n"
    ),
    "go_panic": (
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n\n"
        "goroutine 1 [running]:\n"
        "main.(*Server).handle(0x0, 0xc000010000)\n"
        "\t/home/u/go/src/example.com/srv/server.go:88 +0x2c\n"
        "main.main()\n"
        "\t/home/u/go/src/example.com/srv/main.go:15 +0x45\n"
    ),
    "rust_and_c": (
        "thread 'main' panicked at 'index out of bounds', src/parser/lexer.rs:120:9\n"
        "and the C side crashes in vendor/zlib/inflate.c:455 (inflate_fast), also see include/util.h(33)\n"
    ),
    "issue_with_paths": (
        "## Bug\n\n"
        "After upgrading, `repo_rag/retrieve.py` no longer ranks tests. The config in docs/config.md says "
        "`search.max_query_chars` defaults to 20000 but settings.toml ignores it. See also "
        "https://example.com/docs/guide.html and www.example.org/a/b.php for the upstream notes. "
        "The helper scripts/demo.sh and ./tools/bench_run.py behave the same; ../shared/data.json too.\n"
    ),
    "dotted_names": (
        "Calling os.path.join from utils.paths.normalize_path breaks when self.config.root is None; "
        "np.linalg.norm and torch.nn.functional.softmax are fine. Version 1.2.3 vs v2.0.1. "
        "Also check e.g. the README.md and setup.py, and foo.bar.baz.py."
    ),
    "code_spans": (
        "The function `parse_args` returns `None` when `--verbose` is set, and `Config.load()` "
        "then fails; `x` and `` and `a b c` are ignored. An unterminated `backtick stays open\n"
        "and `HTTPServer` is involved."
    ),
    "fenced_block": (
        "Minimal repro:\n\n"
        "```python\n"
        "from repo_rag import Repository\n"
        "repo = Repository.open('.')\n"
        "hits = repo.search('where is validate_token', k=5)\n"
        "print(hits.hits[0].location)\n"
        "```\n\n"
        "Expected `tokens.py` to be first. Second block:\n"
        "```\nclass UserManager(BaseManager):\n    def create(self): ...\n```\n"
        "and an unclosed one ```js\nconst x = require('./lib/x.js');\n"
    ),
    "windows_paths": (
        'File "C:\\repo\\pkg\\mod.py", line 3, in run\nat D:\\src\\app\\Main.cs:44 and at lib\\helper.ts:9\n'
    ),
    "mixed_long_issue": (
        "When I run `repo-rag index .` on a monorepo, indexing stalls on packages/web/src/App.tsx.\n"
        "Log:\n"
        "  2024-05-01 12:00:01 INFO repo_rag.indexer.walk: skipping node_modules/left-pad/index.js (vendored)\n"
        "  2024-05-01 12:00:02 ERROR repo_rag.indexer.parse: tree-sitter failed on packages/api/handler.go:12\n"
        '  File "repo_rag/indexer/parse.py", line 210, in parse_file\n'
        "    tree = parser.parse(source)\n"
        "RecursionError: maximum recursion depth exceeded\n\n"
        "Versions: Python 3.11.7, tree_sitter 0.21.3, repo-rag 0.4.0.\n"
        "Maybe related to IndexWriter.flush_batch or GraphBuilder._add_edges? "
        "I also tried REPO_RAG_CACHE_DIR=/tmp/cache and max_file_bytes=2_000_000.\n"
    ),
    "frames_duplicate": (
        'File "a/b.py", line 1, in f\n'
        "a/b.py:2 and a/b.py:3 and c/d.js:4 and c/d.js(5)\n"
        "(src/x.go:10) at y.rs:11 .py:3 ..py:4 a.pyc:5\n"
    ),
    "unicode_text": (
        "Ошибка в модуле données/fichier.py à la ligne 12: naïve_datetime ist ungültig; "
        "see 例え/パス.py:7 and `日本語Name` in straße.Strasse.value\n"
    ),
    "numbers_and_urls": (
        "See http://localhost:8000/api/v1/users.json:80 and https://github.com/org/repo/blob/main/src/app.py#L10, "
        "127.0.0.1:5000, ratio 3.14:1, file.py:0x1f, archive.tar.gz and a.b.c.d.e.f.\n"
    ),
}

# Captured from the regex version (git 05b8117) before the rewrite; must not change.
EXPECTED: dict[str, dict] = {
    "plain_question": {
        "identifiers": [],
        "dotted": [],
        "paths": [],
        "frames": [],
        "words": ["where", "password", "validation"],
        "is_long": False,
        "names": [],
    },
    "identifier_question": {
        "identifiers": ["make_password", "PasswordHasher"],
        "dotted": ["PasswordHasher.encode"],
        "paths": [],
        "frames": [],
        "words": ["calls", "make_password", "PasswordHasher", "encode"],
        "is_long": False,
        "names": ["make_password", "PasswordHasher", "encode"],
    },
    "python_traceback": {
        "identifiers": ["force_insert", "create_user", "save_base", "make_password", "ValueError"],
        "dotted": ["user.save", "self.save_base"],
        "paths": [
            "/home/me/proj/app/views.py",
            "/home/me/.venv/lib/python3.11/site-packages/django/db/models/base.py",
            "app/models.py",
            "C://Users//dev//proj//hashers.py",
            "hashers.py",
        ],
        "frames": [
            ("/home/me/proj/app/views.py", 42, "create_user"),
            ("/home/me/.venv/lib/python3.11/site-packages/django/db/models/base.py", 812, "save"),
            ("app/models.py", 17, "<module>"),
            ("C://Users//dev//proj//hashers.py", 5, "_check"),
        ],
        "words": [
            "saving",
            "Traceback",
            "recent",
            "views",
            "create_user",
            "python3",
            "packages",
            "django",
            "models",
            "save_base",
            "using",
            "force_insert",
            "module",
            "hashers",
            "import",
            "make_password",
            "Users",
            "_check",
            "ValueError",
            "invalid",
        ],
        "is_long": True,
        "names": ["force_insert", "create_user", "save_base", "make_password", "ValueError", "save", "_check"],
    },
    "js_stack": {
        "identifiers": ["TypeError", "renderList", "node_modules", "processTicksAndRejections", "task_queues"],
        "dotted": ["List.jsx", "Object.render"],
        "paths": [
            "src/components/List.jsx",
            "/app/node_modules/react-dom/cjs/react-dom.development.js",
            "lib/index.ts",
        ],
        "frames": [
            ("src/components/List.jsx", 23, ""),
            ("/app/node_modules/react-dom/cjs/react-dom.development.js", 14985, ""),
            ("./lib/index.ts", 7, ""),
        ],
        "words": [
            "TypeError",
            "Cannot",
            "properties",
            "undefined",
            "reading",
            "renderList",
            "components",
            "Object",
            "render",
            "node_modules",
            "react",
            "development",
            "processTicksAndRejections",
            "internal",
            "process",
            "task_queues",
            "async",
            "index",
        ],
        "is_long": True,
        "names": [
            "TypeError",
            "renderList",
            "node_modules",
            "processTicksAndRejections",
            "task_queues",
            "jsx",
            "render",
        ],
    },
    "java_stack": {
        "identifiers": [
            "UserService",
            "SignupController",
            "NullPointerException",
            "NativeMethodAccessorImpl",
            "ConstraintViolationException",
        ],
        "dotted": [
            "java.lang.NullPointerException",
            "com.example.users.UserService.register",
            "com.example.web.SignupController.post",
            "sun.reflect.NativeMethodAccessorImpl.invoke0",
            "org.hibernate.exception.ConstraintViolationException",
            "Dao.kt",
        ],
        "paths": ["UserService.java", "SignupController.java", "db/Dao.kt"],
        "frames": [("UserService.java", 58, ""), ("SignupController.java", 31, ""), ("db/Dao.kt", 12, "")],
        "words": [
            "Exception",
            "thread",
            "NullPointerException",
            "example",
            "users",
            "UserService",
            "register",
            "SignupController",
            "reflect",
            "NativeMethodAccessorImpl",
            "invoke0",
            "Native",
            "Method",
            "Caused",
            "hibernate",
            "exception",
            "ConstraintViolationException",
        ],
        "is_long": True,
        "names": [
            "UserService",
            "SignupController",
            "NullPointerException",
            "NativeMethodAccessorImpl",
            "ConstraintViolationException",
            "register",
            "post",
            "invoke0",
            "kt",
        ],
    },
    "go_panic": {
        "identifiers": [],
        "dotted": ["main.main"],
        "paths": ["/home/u/go/src/example.com/srv/server.go", "/home/u/go/src/example.com/srv/main.go"],
        "frames": [
            ("/home/u/go/src/example.com/srv/server.go", 88, ""),
            ("/home/u/go/src/example.com/srv/main.go", 15, ""),
        ],
        "words": [
            "panic",
            "runtime",
            "error",
            "invalid",
            "memory",
            "address",
            "pointer",
            "dereference",
            "signal",
            "SIGSEGV",
            "segmentation",
            "violation",
            "goroutine",
            "running",
            "Server",
            "handle",
            "example",
            "server",
        ],
        "is_long": True,
        "names": ["main"],
    },
    "rust_and_c": {
        "identifiers": ["inflate_fast"],
        "dotted": ["inflate.c", "util.h"],
        "paths": ["src/parser/lexer.rs", "vendor/zlib/inflate.c", "include/util.h"],
        "frames": [("src/parser/lexer.rs", 120, ""), ("vendor/zlib/inflate.c", 455, ""), ("include/util.h", 33, "")],
        "words": [
            "thread",
            "panicked",
            "index",
            "bounds",
            "parser",
            "lexer",
            "crashes",
            "vendor",
            "inflate",
            "inflate_fast",
            "include",
        ],
        "is_long": False,
        "names": ["inflate_fast", "c", "h"],
    },
    "issue_with_paths": {
        "identifiers": ["repo_rag", "max_query_chars", "bench_run"],
        "dotted": ["search.max_query_chars", "settings.toml", "demo.sh", "data.json"],
        "paths": [
            "repo_rag/retrieve.py",
            "docs/config.md",
            "scripts/demo.sh",
            "tools/bench_run.py",
            "shared/data.json",
        ],
        "frames": [],
        "words": [
            "After",
            "upgrading",
            "repo_rag",
            "retrieve",
            "longer",
            "ranks",
            "tests",
            "config",
            "search",
            "max_query_chars",
            "defaults",
            "settings",
            "ignores",
            "https",
            "example",
            "guide",
            "upstream",
            "notes",
            "helper",
            "scripts",
            "tools",
            "bench_run",
            "behave",
            "shared",
        ],
        "is_long": True,
        "names": ["repo_rag", "max_query_chars", "bench_run", "toml", "sh", "json"],
    },
    "dotted_names": {
        "identifiers": ["normalize_path"],
        "dotted": [
            "os.path.join",
            "utils.paths.normalize_path",
            "self.config.root",
            "np.linalg.norm",
            "torch.nn.functional.softmax",
            "e.g",
        ],
        "paths": ["setup.py"],
        "frames": [],
        "words": [
            "Calling",
            "utils",
            "paths",
            "normalize_path",
            "breaks",
            "config",
            "linalg",
            "torch",
            "functional",
            "softmax",
            "Version",
            "check",
            "README",
            "setup",
        ],
        "is_long": False,
        "names": ["normalize_path", "join", "root", "norm", "softmax", "g"],
    },
    "code_spans": {
        "identifiers": ["parse_args", "HTTPServer", "None", "Config"],
        "dotted": ["Config.load"],
        "paths": [],
        "frames": [],
        "words": [
            "function",
            "parse_args",
            "returns",
            "verbose",
            "Config",
            "fails",
            "ignored",
            "unterminated",
            "backtick",
            "stays",
            "HTTPServer",
            "involved",
        ],
        "is_long": False,
        "names": ["parse_args", "HTTPServer", "None", "Config", "load"],
    },
    "fenced_block": {
        "identifiers": ["repo_rag", "validate_token", "UserManager", "BaseManager", "Repository"],
        "dotted": ["Repository.open", "repo.search", "hits.hits"],
        "paths": ["tokens.py", "lib/x.js"],
        "frames": [],
        "words": [
            "Minimal",
            "repro",
            "python",
            "repo_rag",
            "import",
            "Repository",
            "search",
            "where",
            "validate_token",
            "print",
            "location",
            "Expected",
            "tokens",
            "first",
            "Second",
            "block",
            "class",
            "UserManager",
            "BaseManager",
            "create",
            "unclosed",
            "const",
            "require",
        ],
        "is_long": True,
        "names": ["repo_rag", "validate_token", "UserManager", "BaseManager", "Repository", "open", "search", "hits"],
    },
    "windows_paths": {
        "identifiers": [],
        "dotted": ["Main.cs"],
        "paths": ["C:/repo/pkg/mod.py", "/src/app/Main.cs", "lib/helper.ts", "mod.py", "Main.cs", "helper.ts"],
        "frames": [("C:/repo/pkg/mod.py", 3, "run"), ("/src/app/Main.cs", 44, ""), ("lib/helper.ts", 9, "")],
        "words": ["helper"],
        "is_long": False,
        "names": ["cs", "run"],
    },
    "mixed_long_issue": {
        "identifiers": [
            "repo_rag",
            "node_modules",
            "parse_file",
            "RecursionError",
            "tree_sitter",
            "IndexWriter",
            "flush_batch",
            "GraphBuilder",
            "_add_edges",
            "REPO_RAG_CACHE_DIR",
            "max_file_bytes",
        ],
        "dotted": [
            "App.tsx",
            "repo_rag.indexer.walk",
            "repo_rag.indexer.parse",
            "parser.parse",
            "IndexWriter.flush_batch",
            "GraphBuilder._add_edges",
        ],
        "paths": [
            "repo_rag/indexer/parse.py",
            "packages/api/handler.go",
            "packages/web/src/App.tsx",
            "node_modules/left-pad/index.js",
        ],
        "frames": [("repo_rag/indexer/parse.py", 210, "parse_file"), ("packages/api/handler.go", 12, "")],
        "words": [
            "index",
            "monorepo",
            "indexing",
            "stalls",
            "packages",
            "repo_rag",
            "indexer",
            "skipping",
            "node_modules",
            "vendored",
            "ERROR",
            "parse",
            "sitter",
            "failed",
            "handler",
            "parse_file",
            "parser",
            "source",
            "RecursionError",
            "maximum",
            "recursion",
            "depth",
            "exceeded",
            "Versions",
            "Python",
            "tree_sitter",
            "Maybe",
            "related",
            "IndexWriter",
            "flush_batch",
            "GraphBuilder",
            "_add_edges",
            "tried",
            "REPO_RAG_CACHE_DIR",
            "cache",
            "max_file_bytes",
        ],
        "is_long": True,
        "names": [
            "repo_rag",
            "node_modules",
            "parse_file",
            "RecursionError",
            "tree_sitter",
            "IndexWriter",
            "flush_batch",
            "GraphBuilder",
            "_add_edges",
            "REPO_RAG_CACHE_DIR",
            "max_file_bytes",
            "tsx",
            "walk",
            "parse",
        ],
    },
    "frames_duplicate": {
        "identifiers": [],
        "dotted": ["a.pyc"],
        "paths": ["a/b.py", "c/d.js", "src/x.go", "y.rs", "py"],
        "frames": [("a/b.py", 1, "f"), ("c/d.js", 4, ""), ("src/x.go", 10, ""), ("y.rs", 11, ""), ("..py", 4, "")],
        "words": [],
        "is_long": False,
        "names": ["pyc", "f"],
    },
    "unicode_text": {
        "identifiers": ["naïve_datetime"],
        "dotted": ["straße.Strasse.value"],
        "paths": ["例え/パス.py", "données/fichier.py"],
        "frames": [("例え/パス.py", 7, "")],
        "words": ["données", "fichier", "ligne", "naïve_datetime", "ungültig", "straße", "Strasse", "value"],
        "is_long": False,
        "names": ["naïve_datetime", "value"],
    },
    "numbers_and_urls": {
        "identifiers": [],
        "dotted": ["users.json", "archive.tar.gz", "a.b.c.d.e.f"],
        "paths": ["file.py", "8000/api/v1/users.json"],
        "frames": [("file.py", 0, "")],
        "words": ["localhost", "users", "https", "github", "ratio", "archive"],
        "is_long": False,
        "names": ["json", "gz", "f"],
    },
}


def test_corpus_is_covered() -> None:
    assert set(CORPUS) == set(EXPECTED)


@pytest.mark.parametrize("name", list(CORPUS))
def test_results_on_realistic_questions_are_unchanged(name: str) -> None:
    got = _result(analyze_query(CORPUS[name]))
    assert got == EXPECTED[name]
    assert got == _result(_old_analyze_query(CORPUS[name]))


def test_realistic_anchors_spot_checks() -> None:
    """A few anchors spelled out, so a wrong EXPECTED above cannot hide a regression."""
    tb = analyze_query(CORPUS["python_traceback"])
    assert ("app/models.py", 17, "<module>") in tb.frames
    assert tb.frames[0] == ("/home/me/proj/app/views.py", 42, "create_user")
    assert "make_password" in tb.identifiers and "create_user" in tb.names and "<module>" not in tb.names
    js = analyze_query(CORPUS["js_stack"])
    assert js.frames[0][:2] == ("src/components/List.jsx", 23)
    assert "lib/index.ts" in js.paths
    java = analyze_query(CORPUS["java_stack"])
    assert ("UserService.java", 58, "") in java.frames
    assert "com.example.users.UserService.register" in java.dotted
    go = analyze_query(CORPUS["go_panic"])
    assert ("/home/u/go/src/example.com/srv/main.go", 15, "") in go.frames
    assert analyze_query(CORPUS["frames_duplicate"]).frames[:2] == [("a/b.py", 1, "f"), ("c/d.js", 4, "")]
    spans = analyze_query(CORPUS["code_spans"])
    assert {"parse_args", "HTTPServer", "Config"} <= set(spans.identifiers)


# ---------------------------------------------------------------------------------------------------
# Hostile inputs: long runs that make a backtracking pattern retry at every character.

_BACKTICK_SOUP = "".join("`a \n"[(i * 7 + i // 3) % 4] for i in range(200))
_MIXED = (
    'Traceback:\n  File "pkg/mod.py", line 12, in f\n    at g (src/a.js:3:1) `code` a.b.c ```x``` '
    "see docs/x.md and C:\\dir\\f.cs:9 ..//--__ (( )) :: "
)

ADVERSARIAL: dict[str, str] = {
    "letters without extension": "a",
    "path segments": "a/",
    "dots": ".",
    "dotted letters": "a.",
    "dash dot": "-.",
    "digit letter": "1a",
    "backslashes": "a\\",
    "extension then slash": "a.py/",
    "frame-like without line": "a.py:x",
    "repeated frames": "a.py:1a",
    "File quote": 'File "',
    "File quote line": 'File "a", line ',
    "at paren": "at (",
    "paren path": "(a.",
    "backticks": "`",
    "backtick soup": _BACKTICK_SOUP,
    "fences": "```a",
    "word then digit": "ab.1",
    "mixed text": _MIXED,
}


def _long(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _seconds(text: str) -> float:
    start = time.perf_counter()
    analyze_query(text)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_long_hostile_questions_finish_quickly(name: str) -> None:
    # 8 kB first: a quadratic pattern already takes 0.2-2 s there (this fails fast instead of hanging
    # for minutes on 100 kB); linear code takes a few milliseconds. Bounds are generous for slow CI.
    for size, bound in ((8_000, 0.15), (100_000, 2.0)):
        text = _long(ADVERSARIAL[name], size)
        elapsed = _seconds(text)
        assert elapsed < bound, f"{name}: {size:,} chars took {elapsed:.2f} s (bound {bound} s)"


def test_long_questions_with_a_tail_finish_quickly() -> None:
    """A long token that only fails (or succeeds) at its very end, and many distinct anchors."""
    cases = {
        "letters then extension": "a" * 100_000 + ".py:1",
        "letters then bad extension": "a" * 100_000 + ".pyx:1",
        "segments then no extension": "a/" * 50_000 + "b",
        "unclosed quote": 'File "' + "a" * 100_000,
        "unclosed fence": "```" + "a`" * 50_000,
        "distinct frames": " ".join(f"f{i}.py:{i}" for i in range(10_000)),
        "distinct dotted names": " ".join(f"mod{i}.fn{i}" for i in range(10_000)),
        "distinct python frames": "\n".join(f'File "p{i}.py", line {i}, in f{i}' for i in range(3_000)),
    }
    for name, text in cases.items():
        elapsed = _seconds(text)
        assert elapsed < 2.0, f"{name}: {len(text):,} chars took {elapsed:.2f} s"
    qa = analyze_query(cases["distinct frames"])
    assert len(qa.frames) == 10_000 and qa.frames[-1] == ("f9999.py", 9999, "")
    assert analyze_query(cases["letters then extension"]).frames == [("a" * 100_000 + ".py", 1, "")]
    assert analyze_query(cases["letters then bad extension"]).frames == []


# ---------------------------------------------------------------------------------------------------
# Properties on random text.

_TOKENS = [
    "/", ".", "_", "-", ":", "(", ")", '"', "\\", "`", "```", "a", "Z", "1", "\n", " ", "\t",
    "File", 'File "', '", line ', ", in ", "line", "at ", ".py", ".js", ".jsx", ".c", ".cc", ".pyc",
    ".md", "<module>", "<", "x_y", "CamelCase", "http", "www.", "é", "ß", "٣", "例",
]  # fmt: skip
_token_text = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)
# Frames and near-misses built from parts, glued together with noise, so that frames abut each other
# (a line number that runs on into the next path) and almost-frames are common.
_frame_path = st.lists(
    st.sampled_from(["a", "src/", "x/", "C:\\", "\\", ".", "..", "/", "-", "_", "1", "٣", "é", "at "]), max_size=5
).map("".join)
_generic_frame = st.tuples(
    st.sampled_from(["", "at ", "(", " "]),
    _frame_path,
    st.sampled_from([".py", ".js", ".tsx", ".cc", ".c", ".h", ".pyc", ".txt", "."]),
    st.sampled_from([":", "(", ":x", ""]),
    st.sampled_from(["12", "3", "٣", "", "4:5"]),
    st.sampled_from(["", "x/", " ", "\n", "7x/", ")", ".py:1"]),
).map("".join)
_python_frame = st.tuples(
    st.sampled_from(['File "', 'File "', "File '"]),
    _frame_path,
    st.sampled_from(['.py", line ', '", line ', '.py", lin ', '"']),
    st.sampled_from(["7", "٣", ""]),
    st.sampled_from(["", ", in f", ", in <module>", ", in 1", ", in _x1\n"]),
).map("".join)
_frame_text = st.lists(st.one_of(_generic_frame, _python_frame, st.sampled_from(_TOKENS)), max_size=10).map("".join)
_any_text = st.text(max_size=300)
_questions = st.one_of(_token_text, _frame_text, _any_text, st.tuples(_token_text, _any_text, _token_text).map("".join))


def _check_invariants(text: str, qa: QueryAnalysis) -> None:
    slashed = text.replace("\\", "/")
    assert qa.text == text
    assert qa.is_long == (len(text) > 300 or text.count("\n") > 3)
    for path, line, func in qa.frames:
        assert path and path in slashed
        assert line >= 0
        assert func == "" or func in text
    for lst in (qa.paths, qa.identifiers, qa.dotted, qa.words, qa.names):
        assert len(lst) == len(set(lst))
    # Python frames are kept as they come (a recursion repeats them); other frames add new paths only.
    if 'File "' not in text:
        assert len({f[0] for f in qa.frames}) == len(qa.frames)
    for p in qa.paths:
        assert p in slashed and not p.startswith(("http", "www."))
    for name in qa.identifiers + qa.words:
        assert name in text and re.fullmatch(r"[A-Za-z_]\w*", name)
    assert all(len(w) >= 5 for w in qa.words)
    for d in qa.dotted:
        assert d in text and "." in d
    names = set(qa.identifiers) | {d.rsplit(".", 1)[-1] for d in qa.dotted} | {f[2] for f in qa.frames}
    assert set(qa.names) <= names


@settings(max_examples=400, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(_questions)
def test_same_results_as_the_regex_version(text: str) -> None:
    qa = analyze_query(text)
    assert _result(qa) == _result(_old_analyze_query(text))
    _check_invariants(text, qa)


@settings(max_examples=150, deadline=500)
@given(st.text(min_size=0, max_size=2_000))
def test_random_unicode_never_fails(text: str) -> None:
    _check_invariants(text, analyze_query(text))


@settings(max_examples=50, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=6).map("".join), st.integers(2_000, 20_000))
def test_long_repetitions_stay_fast(unit: str, size: int) -> None:
    """Any short unit repeated to 20 kB (the default question cap): the per-example deadline is the
    timing assertion (linear code takes ~30 ms on the worst unit; a quadratic pattern takes seconds)."""
    text = _long(unit, size)
    _check_invariants(text, analyze_query(text))


# ---------------------------------------------------------------------------------------------------
# check_question


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_check_question_refuses_empty(text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        check_question(text)


def test_check_question_refuses_non_text() -> None:
    with pytest.raises(ValueError):
        check_question(None)  # type: ignore[arg-type]


def test_check_question_limit() -> None:
    assert check_question("x" * 50, max_chars=50) == "x" * 50
    with pytest.raises(QueryTooLongError, match="the limit is 50") as err:
        check_question("x" * 51, max_chars=50)
    assert isinstance(err.value, ValueError)
    assert "51" in str(err.value)
    at_default = "y" * MAX_QUESTION_CHARS
    assert check_question(at_default) is at_default
    with pytest.raises(QueryTooLongError, match=f"{MAX_QUESTION_CHARS:,}"):
        check_question(at_default + "y")
