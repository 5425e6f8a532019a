"""Decide which files of a repository get indexed, and say why every other file does not.

The walk mirrors git's own: a directory is tested before anything inside it is read, so an
ignored ``node_modules/`` costs one entry, not thousands. Ignore patterns are matched with
``pathspec`` against the path itself only (ancestors were already decided by the walk), which
is what git does and what makes ``!`` re-includes in ``.repo-ragignore`` behave predictably.

Order of decisions for each path, first match wins:

1. secrets (never overridable, not even by ``!`` in ``.repo-ragignore``), VCS and index dirs;
2. symlinks: refused when their resolved target is secret (``notes.txt -> .env``), else
   skipped, or followed with loop and escape checks;
3. ``.gitignore`` files (every level) and ``.git/info/exclude``, then the default skip list
   (``node_modules/``, ``build/``, virtualenvs, ...);
4. ``extra_ignore``, else ``.repo-ragignore`` at the root (same syntax, matched from the
   root): a pattern ignores, a ``!pattern`` re-includes what step 3 or the file policies
   (lockfile, minified, generated, data file) excluded. Inside a re-included directory the
   usual rules apply again. To reach into a directory skipped whole, the ``!`` pattern must
   name a path in it (``!vendor/mylib/``); ``!mylib/`` alone does not make the walk search
   every skipped directory;
5. file facts that no pattern overrides: binary, too large, unreadable, not a regular file.

A kept file's language comes from its path (``language_for_path``); an extension-less file the
path says nothing about (``bin/tool``) gets the language its ``#!`` line names, if any.

Skipped directories are reported once, with a trailing ``/`` (``node_modules/``); their
contents are not listed.
"""

from __future__ import annotations

import codecs
import errno
import fnmatch
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pathspec import GitIgnoreSpec

from .model import SkippedFile, SourceFile

LanguageFn = Callable[[str], str]

# Reasons shown to the user (SkippedFile.reason).
SECRET = "secret"
VCS = "vcs"
INDEX_DIR = "index dir"
SYMLINK = "symlink"
SYMLINK_LOOP = "symlink loop"
SYMLINK_OUTSIDE = "symlink outside repo"
SYMLINK_BROKEN = "broken symlink"
SYMLINK_DUPLICATE = "symlink duplicate"
SYMLINK_SECRET = "symlink to secret"
NOT_REGULAR = "not a regular file"
UNREADABLE = "unreadable"
GITIGNORE = "gitignore"
REPO_RAGIGNORE = "repo-ragignore"
EXTRA_IGNORE = "extra ignore"
VENDORED = "vendored/build dir"
LOCKFILE = "lockfile"
MINIFIED = "minified"
GENERATED = "generated"
BINARY = "binary"
TOO_LARGE = "too large"
DATA_FILE = "data file"

RAGIGNORE_FILE = ".repo-ragignore"
INDEX_DIR_NAME = ".repo-rag"
SNIFF_BYTES = 8192
DATA_FILE_MAX_BYTES = 200_000
MINIFIED_AVG_LINE = 500

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})

DEFAULT_SKIP_DIRS = frozenset({
    "node_modules", "bower_components", "jspm_packages", "vendor", "third_party", "third-party",
    ".venv", "venv", "env", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
    ".nox", ".hypothesis", ".pytype", ".ipynb_checkpoints", "dist", "build", "target", "out",
    ".next", ".nuxt", ".svelte-kit", ".turbo", ".parcel-cache", ".angular", "coverage", "htmlcov",
    ".nyc_output", ".idea", ".vscode", "site-packages", ".eggs", ".gradle", ".dart_tool",
    ".terraform",
})
DEFAULT_SKIP_DIR_SUFFIXES = (".egg-info",)

BINARY_EXTENSIONS = frozenset({
    # images
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".icns", ".tif", ".tiff", ".webp", ".avif",
    ".heic", ".heif", ".psd", ".xcf", ".raw", ".cr2", ".nef", ".svgz",
    # fonts
    ".ttf", ".otf", ".ttc", ".woff", ".woff2", ".eot",
    # archives and packages
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".7z", ".rar", ".lz",
    ".lzma", ".lz4", ".cab", ".jar", ".war", ".ear", ".aar", ".whl", ".egg", ".deb", ".rpm",
    ".dmg", ".iso", ".apk", ".ipa", ".msi", ".nupkg", ".gem", ".snap",
    # media
    ".mp3", ".mp4", ".m4a", ".m4v", ".wav", ".flac", ".ogg", ".oga", ".ogv", ".opus", ".webm",
    ".mov", ".avi", ".mkv", ".wmv", ".flv", ".aac", ".mid", ".midi", ".swf",
    # compiled code and objects
    ".so", ".dylib", ".dll", ".exe", ".o", ".a", ".lib", ".obj", ".ko", ".pyc", ".pyo", ".pyd",
    ".class", ".wasm", ".bin", ".elf", ".pdb", ".idb", ".node", ".beam", ".dex", ".mo",
    # documents
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".epub",
    ".pages", ".numbers",
    # databases
    ".db", ".sqlite", ".sqlite3", ".db3", ".mdb", ".accdb", ".dbf",
    # data and model blobs
    ".npy", ".npz", ".pkl", ".pickle", ".joblib", ".h5", ".hdf5", ".parquet", ".feather",
    ".arrow", ".avro", ".orc", ".onnx", ".pt", ".pth", ".ckpt", ".safetensors", ".pb", ".tflite",
    ".mlmodel", ".gguf", ".ggml", ".lockb",
    # 3D / design
    ".blend", ".fbx", ".glb", ".stl", ".3ds", ".dwg", ".sketch", ".fig",
})
BINARY_NAMES = frozenset({".DS_Store", "Thumbs.db"})

LOCKFILE_NAMES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
    "poetry.lock", "Pipfile.lock", "pdm.lock", "uv.lock", "Cargo.lock", "go.sum", "composer.lock",
    "Gemfile.lock", "Podfile.lock", "mix.lock", "flake.lock", "packages.lock.json",
})
MINIFIED_SUFFIXES = (".min.js", ".min.mjs", ".min.css", ".bundle.js", ".map")
MINIFIED_SNIFF_EXTENSIONS = frozenset({".js", ".mjs", ".cjs", ".css"})
GENERATED_SUFFIXES = (
    "_pb2.py", "_pb2.pyi", "_pb2_grpc.py", ".pb.go", ".pb.cc", ".pb.h", ".g.dart", ".freezed.dart",
    ".designer.cs",
)
GENERATED_INFIX = ".generated."
DATA_EXTENSIONS = frozenset({".csv", ".tsv", ".psv", ".jsonl", ".ndjson", ".log", ".dat", ".arff"})

# Secrets: matched case-insensitively on the file name (and directory names for SECRET_DIRS).
# Only names that hold credentials by convention: a false positive hides a file from the index,
# so ordinary code (``credentials.py``, ``secrets_manager.py``, ``tokens.go``) stays in.
SECRET_DIRS = frozenset({".aws", ".ssh", ".gnupg", ".env"})
_SECRET_NAME_GLOBS = (
    # dotenv and shell environments
    ".env", ".env.*", ".envrc", ".dev.vars",
    # private keys, keystores, password safes
    "*.pem", "*.key", "*.p8", "*.p12", "*.pfx", "*.pkcs12", "*.keystore", "*.jks", "*.keytab",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.kdbx", "*.ppk", "*.gpg", "secring.*",
    "*private*.asc", "*secret*.asc", "*.ovpn",
    # package registries, VCS and tools with tokens in their rc files
    ".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", ".netrc", "_netrc", ".pgpass", ".my.cnf",
    ".git-credentials", ".vault-token", ".terraformrc", "terraform.rc", ".s3cfg", ".boto",
    ".passwd-s3fs", "passwd-s3fs", ".dockercfg", "htpasswd", ".htpasswd", "*.htpasswd",
    # cloud credentials and infrastructure state (terraform state holds every secret it created)
    "credentials", "*credentials*.json", "client_secret*.json", "service-account*.json",
    "accesstokens.json", "kubeconfig", "*.kubeconfig", "*.tfstate", "*.tfstate.*", "*.tfvars",
    "*.tfvars.json",
    # secret stores by name
    "secrets.yaml", "secrets.yml", "secrets.json", "secrets.toml", "*.secret", "*.secrets",
)
_SECRET_NAME_RE = re.compile("|".join(fnmatch.translate(g) for g in _SECRET_NAME_GLOBS))
# 'credentials.<ext>' is secret (credentials.yml, credentials.xml, credentials.yml.enc, ...) unless
# the extension says it is source code or documentation: 'auth/credentials.py' is code.
_CREDENTIALS_STEM = "credentials."
_CODE_OR_DOC_EXTENSIONS = frozenset({
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".java", ".go", ".rs",
    ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".rb", ".php", ".kt", ".kts", ".scala",
    ".swift", ".lua", ".dart", ".ex", ".exs", ".erl", ".clj", ".hs", ".ml", ".fs", ".vue", ".svelte",
    ".m", ".mm", ".r", ".jl", ".pl", ".pm", ".groovy", ".md", ".rst", ".adoc",
})
# Files secret only at a well-known place: matched on the end of the lower-cased path.
_SECRET_PATH_SUFFIXES = ("/.docker/config.json", "/.kube/config", "/.config/gh/hosts.yml")

_GENERATED_MARK_RE = re.compile(rb"@generated\b")
_GENERATED_WORD_RE = re.compile(rb"(?i)\bgenerated\b")
_DO_NOT_EDIT_RE = re.compile(rb"(?i)\bdo not (?:edit|modify)\b")

_DIR_MARK = "ps_d"  # pathspec's regex group for a matched directory separator
_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def is_secret_path(path: str) -> bool:
    """True when ``path`` looks like it holds credentials; such files are never indexed or sent.

    Accepts repo-relative or absolute paths, POSIX or Windows separators. Deliberately broad:
    a false positive costs one unindexed file, a false negative can leak a key to a model.
    """
    norm = path.replace("\\", "/").lower().rstrip("/")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if not parts:
        return False
    return any(p in SECRET_DIRS for p in parts[:-1]) or _is_secret_name(parts[-1], norm)


def _is_secret_name(lower_name: str, path: str) -> bool:
    """The file-name part of is_secret_path (the walk has already refused secret directories)."""
    if lower_name in SECRET_DIRS or _SECRET_NAME_RE.match(lower_name):
        return True
    if lower_name.startswith(_CREDENTIALS_STEM) and os.path.splitext(lower_name)[1] not in _CODE_OR_DOC_EXTENSIONS:
        return True
    return ("/" + path.replace("\\", "/").lower()).endswith(_SECRET_PATH_SUFFIXES)


def _is_secret_target(path: str, is_dir: bool) -> bool:
    """Whether a symlink's resolved target is secret: by its directories, and by its name for a file.

    A directory is secret by name only (``.ssh``), as in the walk: a package ``credentials/`` is code.
    """
    if not is_dir:
        return is_secret_path(path)
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p not in ("", ".")]
    return any(p in SECRET_DIRS for p in parts)


def read_text(abs_path: str | os.PathLike[str]) -> tuple[str, str]:
    """Read a source file as text for parsing; never fails on encoding, only on I/O (OSError).

    Returns ``(text, note)``: the BOM is dropped, UTF-16/32 (with BOM) is decoded, invalid
    UTF-8 is replaced with U+FFFD (note 'decoded with replacement'), and CRLF becomes LF so
    line numbers stay those an editor shows. Lone CRs are left alone: split lines with
    ``text.split('\\n')``, not ``str.splitlines()`` (which also breaks on \\f, \\x1c, ...).
    """
    with open(abs_path, "rb") as fh:
        data = fh.read()
    notes: list[str] = []
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
        notes.append("decoded from UTF-32")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
        notes.append("decoded from UTF-16")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="replace")
        notes.append("decoded with replacement")
    if encoding != "utf-8" and text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n"), "; ".join(notes)


@dataclass
class DiscoveryResult:
    """Files to index plus every path left out with its reason (directories end with '/')."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        """Reason -> number of skipped entries (a skipped directory counts once), most first."""
        return dict(Counter(s.reason for s in self.skipped).most_common())


def format_report(result: DiscoveryResult, *, examples: int = 3) -> str:
    """Human summary for ``repo-rag index PATH --dry-run``: what is included and why the rest is not."""
    lines = [f"Included: {len(result.files):,} files"]
    by_lang = Counter(f.language for f in result.files).most_common()
    width = max((len(lang) for lang, _ in by_lang), default=0)
    lines += [f"  {lang:<{width}}  {count:>7,}" for lang, count in by_lang]
    lines.append(f"Excluded: {len(result.skipped):,} paths (a skipped directory counts once)")
    grouped: dict[str, list[str]] = {}
    for s in result.skipped:
        grouped.setdefault(s.reason, []).append(s.path)
    width = max((len(r) for r in grouped), default=0)
    for reason, count in result.reasons().items():
        paths = grouped[reason]
        n_dirs = sum(1 for p in paths if p.endswith("/"))
        dirs = f" ({n_dirs:,} dirs)" if n_dirs else ""
        shown = ", ".join(paths[:examples]) + (", ..." if len(paths) > examples else "")
        lines.append(f"  {reason:<{width}}  {count:>7,}{dirs}  e.g. {shown}")
    return "\n".join(lines)


class _IgnoreRules:
    """The patterns of one ignore file, matched git-style against the path itself.

    ``base`` is the directory holding the file, relative to the discovery root ('' = root);
    ``prefix`` is prepended for ignore files that live *above* the root (a parent .gitignore).
    """

    __slots__ = ("_any_name", "_any_path", "_name_cache", "base", "name_rules", "path_rules", "prefix")

    def __init__(self, lines: Sequence[str], base: str = "", prefix: str = "") -> None:
        self.base = base
        self.prefix = prefix
        # (position, regex, include). A pattern without an inner '/' can only match the last
        # component, so it is tested on that short string and its verdict cached per name.
        self.name_rules: list[tuple[int, re.Pattern[str], bool]] = []
        self.path_rules: list[tuple[int, re.Pattern[str], bool]] = []
        self._name_cache: dict[str, tuple[int, bool] | None] = {}
        for position, line in enumerate(lines):
            stripped = line.rstrip()
            if stripped.endswith("/**/"):
                # 'x/**/' means directories strictly below x/, but pathspec compiles it like 'x/'.
                line = stripped[:-1] + "*/"
            try:
                patterns = GitIgnoreSpec.from_lines([line]).patterns
            except (ValueError, TypeError):  # GitIgnorePatternError is a ValueError; git skips it too
                continue
            target = self.path_rules if "/" in stripped.lstrip("!").rstrip("/") else self.name_rules
            target += [(position, p.regex, p.include) for p in patterns
                       if p.include is not None and p.regex is not None]
        # Combined regexes answer the common case (no pattern matches at all) in one call each.
        self._any_name = _combine([rx for _, rx, _ in self.name_rules])
        self._any_path = _combine([rx for _, rx, _ in self.path_rules])

    def __bool__(self) -> bool:
        return bool(self.name_rules or self.path_rules)

    def decide(self, rel: str, is_dir: bool) -> bool | None:
        """True = ignored, False = re-included by '!', None = no pattern matches this path.

        As in git, the last pattern in the file that matches wins.
        """
        slash = "/" if is_dir else ""
        name = rel.rsplit("/", 1)[-1] + slash
        try:
            best = self._name_cache[name]
        except KeyError:
            best = self._name_cache[name] = _last_self_match(self.name_rules, self._any_name, name)
        if self.path_rules:
            if self.base:
                rel = rel[len(self.base) + 1:]
            by_path = _last_self_match(self.path_rules, self._any_path, self.prefix + rel + slash)
            if by_path is not None and (best is None or by_path[0] > best[0]):
                best = by_path
        return None if best is None else best[1]


def _last_self_match(rules: list[tuple[int, re.Pattern[str], bool]], prefilter: re.Pattern[str] | None,
                     text: str) -> tuple[int, bool] | None:
    """(position, include) of the last rule matching ``text`` itself, or None."""
    if prefilter is not None and prefilter.search(text) is None:
        return None
    for position, rx, include in reversed(rules):
        m = rx.search(text)
        if m is not None and _matches_itself(m, text):
            return position, include
    return None


_NEVER = re.compile(r"(?!)")


def _combine(regexes: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One alternation of ``regexes`` for prefiltering; None when it cannot be built (test each)."""
    if not regexes:
        return _NEVER
    combined = "|".join(f"(?:{rx.pattern})" for rx in regexes)
    try:
        return re.compile(combined.replace(f"(?P<{_DIR_MARK}>", "(?:"))  # group names must be unique
    except re.error:
        return None


def _matches_itself(m: re.Match[str], path: str) -> bool:
    """Whether a pathspec match is on ``path`` itself rather than on one of its directories.

    pathspec also reports a match when only an ancestor matches ('build/' matches
    'build/x.py'); during a walk the ancestor was already decided, so only self-matches count.
    Directory paths end with '/'.
    """
    source = m.re.pattern
    if not source.startswith("^"):
        # pathspec's unanchored shortcuts: '.' for '*' / '**', a bare directory marker for
        # '*/' / '**/' (any directory), '/' for '*/**' at any depth (anything below the top).
        if source == ".":
            return True
        if source == f"(?P<{_DIR_MARK}>/)":
            return path.endswith("/")
        return "/" in path.rstrip("/")
    try:
        dir_mark_end = m.end(_DIR_MARK)
    except IndexError:  # pattern without a directory marker group
        dir_mark_end = -1
    if dir_mark_end != -1:
        return dir_mark_end == len(path)
    # '$' branch (a file), or a trailing '**' pattern ('foo/**' matches below foo/, not foo/).
    return m.end() < len(path) or not path.endswith("/")


def _read_lines(path: str) -> list[str]:
    """Lines of an ignore file; an unreadable one counts as empty (the walk reports the file)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()
    except OSError:
        return []


def _negation_prefixes(lines: Sequence[str]) -> list[list[str]]:
    """Segments of anchored '!' patterns: they name paths *inside* dirs that would be skipped whole.

    Unanchored ones ('!build/') re-include wherever the walk meets them, but are not a reason
    to descend into every excluded directory (that would scan all of node_modules).
    """
    out = []
    for raw in lines:
        line = raw.rstrip()
        if not line.startswith("!"):
            continue
        pat = line[1:]
        body = pat.strip("/")
        if not body or not (pat.startswith("/") or "/" in body):
            continue
        out.append(body.split("/"))
    return out


def _could_match_below(segments_list: list[list[str]], rel_dir: str) -> bool:
    """Whether some anchored '!' pattern could match a path strictly inside ``rel_dir``."""
    dir_segs = rel_dir.split("/")
    for segs in segments_list:
        for i, d in enumerate(dir_segs):
            if i >= len(segs):
                break
            if segs[i] == "**":
                return True
            if not fnmatch.fnmatchcase(d, segs[i]):
                break
        else:
            if len(segs) > len(dir_segs):
                return True
    return False


def _find_git_root(start: str) -> str | None:
    """Nearest directory at or above ``start`` holding a .git entry (dir or worktree file)."""
    cur = start
    while True:
        if os.path.lexists(os.path.join(cur, ".git")):
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        cur = parent


def _git_dir(git_root: str) -> str | None:
    """The git directory of a worktree: '.git' itself, or where a '.git' file points."""
    dot_git = os.path.join(git_root, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    for line in _read_lines(dot_git):
        if line.startswith("gitdir:"):
            target = line[len("gitdir:"):].strip()
            return target if os.path.isabs(target) else os.path.join(git_root, target)
    return None


class _Dir(NamedTuple):
    """A path being classified (or a directory scheduled for scanning) with its ignore context."""

    abs_path: str
    rel: str  # '' for the root
    rules: tuple[_IgnoreRules, ...]  # gitignore files, outermost first
    excluded: str | None = None  # reason inherited from a skipped ancestor ('!' re-includes inside)
    explicit: bool = False  # re-included by a '!' pattern: heuristics like pyvenv.cfg do not apply
    via_link: bool = False  # inside a followed directory symlink: names alone do not say what a file is


class _Walker:
    """One discovery run: holds the options, the result lists and the symlink bookkeeping."""

    def __init__(self, root: str, max_file_bytes: int, extra_ignore: Sequence[str],
                 follow_symlinks: bool, language_for_path: LanguageFn) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.root_prefix = self.real_root.rstrip(os.sep) + os.sep
        self.max_file_bytes = max_file_bytes
        self.follow = follow_symlinks
        self.language_for_path = language_for_path
        self.files: list[SourceFile] = []
        self.skipped: list[SkippedFile] = []
        self.visited_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[tuple[int, int]] = set()
        self.deferred: list[tuple[_Dir, os.stat_result]] = []
        rag_lines = _read_lines(os.path.join(root, RAGIGNORE_FILE))
        extra_lines = list(extra_ignore)
        # Checked in this order; the first with an opinion on a path decides.
        self.overrides: list[tuple[_IgnoreRules, str]] = [
            (_IgnoreRules(extra_lines), EXTRA_IGNORE),
            (_IgnoreRules(rag_lines), REPO_RAGIGNORE),
        ]
        self.reinclude_segments = _negation_prefixes(rag_lines) + _negation_prefixes(extra_lines)

    def outer_rules(self) -> tuple[_IgnoreRules, ...]:
        """info/exclude and the .gitignore files of enclosing dirs, when root is inside a worktree."""
        git_root = _find_git_root(self.root)
        if git_root is None:
            return ()
        rules: list[_IgnoreRules] = []
        rel_to_root = os.path.relpath(self.root, git_root).replace(os.sep, "/")
        prefix = "" if rel_to_root == "." else rel_to_root + "/"
        git_dir = _git_dir(git_root)
        if git_dir is not None:
            rules.append(_IgnoreRules(_read_lines(os.path.join(git_dir, "info", "exclude")), "", prefix))
        if prefix:
            parts = rel_to_root.split("/")
            for i in range(len(parts)):  # from the git root down to the root's parent
                here = os.path.join(git_root, *parts[:i])
                below = "/".join(parts[i:]) + "/"
                rules.append(_IgnoreRules(_read_lines(os.path.join(here, ".gitignore")), "", below))
        return tuple(r for r in rules if r)

    def run(self) -> DiscoveryResult:
        stack = [_Dir(self.root, "", self.outer_rules())]
        while stack or self.deferred:
            if stack:
                self.scan_dir(stack.pop(), stack)
            else:
                # Symlinks are resolved only once every real directory and file has been seen,
                # so the real path always wins over an alias, whatever the scan order.
                self.deferred.sort(key=lambda item: item[0].rel, reverse=True)
                self.resolve_symlink(*self.deferred.pop(), stack)
        self.files.sort(key=lambda f: f.path)
        self.skipped.sort(key=lambda s: s.path)
        return DiscoveryResult(self.files, self.skipped)

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(SkippedFile(path, reason))

    def scan_dir(self, d: _Dir, stack: list[_Dir]) -> None:
        try:
            if self.follow:
                st = os.stat(d.abs_path)
                self.visited_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(d.abs_path) as it:
                entries = list(it)  # order is irrelevant: results are sorted once at the end
        except OSError:
            if not d.rel:
                raise
            self.skip(d.rel + "/", UNREADABLE)
            return
        names = {e.name for e in entries}
        if d.rel and d.excluded is None and not d.explicit and "pyvenv.cfg" in names:
            self.skip(d.rel + "/", VENDORED)  # a virtualenv, whatever its name
            return
        rules = d.rules
        if ".gitignore" in names:
            gi = _IgnoreRules(_read_lines(os.path.join(d.abs_path, ".gitignore")), d.rel)
            if gi:
                rules = (*rules, gi)
        for entry in entries:
            rel = f"{d.rel}/{entry.name}" if d.rel else entry.name
            try:
                self.scan_entry(entry, _Dir(entry.path, rel, rules, d.excluded, d.explicit, d.via_link), stack)
            except OSError:  # vanished or denied between listing and stat/open
                self.skip(rel, UNREADABLE)

    def scan_entry(self, entry: os.DirEntry[str], ctx: _Dir, stack: list[_Dir]) -> None:
        """Classify one directory entry; ``ctx`` carries its path and the ignore context around it."""
        name, rel = entry.name, ctx.rel
        is_link = entry.is_symlink()
        is_dir = not is_link and entry.is_dir(follow_symlinks=False)
        # Directories are secret by name only (.ssh/, .aws/): a package called 'credentials/' is code.
        if (name.lower() in SECRET_DIRS) if is_dir else _is_secret_name(name.lower(), rel):
            self.skip(rel + "/" if is_dir else rel, SECRET)
        elif ctx.via_link and not is_link and self.points_at_secret(entry.path):
            # reached through a directory symlink ('k/config' for '.kube/config'): judged by its real path
            self.skip(rel + "/" if is_dir else rel, SECRET)
        elif name in VCS_DIRS:
            self.skip(rel + "/" if is_dir else rel, VCS)
        elif is_link:
            self.symlink_entry(ctx)
        elif is_dir:
            self.dir_entry(ctx, stack)
        elif entry.is_file(follow_symlinks=False):
            self.file_entry(ctx, entry.stat(follow_symlinks=False))
        else:
            self.skip(rel, NOT_REGULAR)

    def symlink_entry(self, ctx: _Dir) -> None:
        if self.points_at_secret(ctx.abs_path):
            self.skip(ctx.rel, SYMLINK_SECRET)
            return
        if not self.follow:
            self.skip(ctx.rel, SYMLINK)
            return
        try:
            st = os.stat(ctx.abs_path)
        except FileNotFoundError:
            self.skip(ctx.rel, SYMLINK_BROKEN)
            return
        except OSError as exc:
            self.skip(ctx.rel, SYMLINK_LOOP if exc.errno == errno.ELOOP else UNREADABLE)
            return
        target = os.path.realpath(ctx.abs_path)
        if target != self.real_root and not target.startswith(self.root_prefix):
            self.skip(ctx.rel, SYMLINK_OUTSIDE)
        elif stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
            self.deferred.append((ctx, st))
        else:
            self.skip(ctx.rel, NOT_REGULAR)

    def points_at_secret(self, abs_path: str) -> bool:
        """Whether a symlink (followed or not) resolves to a secret: a link named ``notes.txt`` that
        points at ``.env`` is refused like ``.env``. The target is judged by its path relative to
        the repository, or by its absolute path when it leads outside (also broken links)."""
        target = os.path.realpath(abs_path)
        if target == self.real_root:
            return False
        is_dir = os.path.isdir(target)
        if target.startswith(self.root_prefix):
            return _is_secret_target(os.path.relpath(target, self.real_root), is_dir)
        return _is_secret_target(target, is_dir)

    def resolve_symlink(self, ctx: _Dir, st: os.stat_result, stack: list[_Dir]) -> None:
        """Follow a symlink found in the walk, unless it loops or aliases something already seen."""
        try:
            if stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in self.visited_dirs:
                    target = os.path.realpath(ctx.abs_path)
                    here = os.path.realpath(os.path.dirname(ctx.abs_path))
                    loop = here == target or here.startswith(target.rstrip(os.sep) + os.sep)
                    self.skip(ctx.rel, SYMLINK_LOOP if loop else SYMLINK_DUPLICATE)
                else:
                    self.dir_entry(ctx._replace(via_link=True), stack)
            elif (st.st_dev, st.st_ino) in self.seen_files:
                self.skip(ctx.rel, SYMLINK_DUPLICATE)
            else:
                self.file_entry(ctx, st)
        except OSError:
            self.skip(ctx.rel, UNREADABLE)

    def override(self, rel: str, is_dir: bool) -> tuple[bool | None, str]:
        """extra_ignore, else .repo-ragignore: (True = ignore, False = re-include, None), reason."""
        for rules, reason in self.overrides:
            if rules:
                decision = rules.decide(rel, is_dir)
                if decision is not None:
                    return decision, reason
        return None, ""

    @staticmethod
    def gitignored(rules: tuple[_IgnoreRules, ...], rel: str, is_dir: bool) -> bool:
        """The deepest ignore file with an opinion wins, as in git (later patterns override earlier)."""
        for r in reversed(rules):
            decision = r.decide(rel, is_dir)
            if decision is not None:
                return decision
        return False

    def dir_entry(self, d: _Dir, stack: list[_Dir]) -> None:
        name = d.rel.rsplit("/", 1)[-1]
        if name == INDEX_DIR_NAME:
            self.skip(d.rel + "/", INDEX_DIR)
            return
        reason = d.excluded
        if reason is None:
            if self.gitignored(d.rules, d.rel, True):
                reason = GITIGNORE
            elif name in DEFAULT_SKIP_DIRS or name.endswith(DEFAULT_SKIP_DIR_SUFFIXES):
                reason = VENDORED
        decision, why = self.override(d.rel, True)
        explicit = d.explicit
        if decision is True:
            reason, explicit = why, False
        elif decision is False:
            reason, explicit = None, True
        if reason is None:
            stack.append(d._replace(excluded=None, explicit=explicit))
        elif decision is not True and _could_match_below(self.reinclude_segments, d.rel):
            # Skipped, but a '!' pattern names something inside: look, excluding the rest.
            stack.append(d._replace(excluded=reason, explicit=False))
        else:
            self.skip(d.rel + "/", reason)

    def file_entry(self, d: _Dir, st: os.stat_result) -> None:
        rel = d.rel
        reason = d.excluded
        if reason is None and self.gitignored(d.rules, rel, False):
            reason = GITIGNORE
        decision, why = self.override(rel, False)
        if decision is True:
            reason = why
        elif decision is False:
            reason = None
        if reason is not None:
            self.skip(rel, reason)
            return
        reincluded = decision is False
        name = rel.rsplit("/", 1)[-1]
        lower = name.lower()
        ext = os.path.splitext(lower)[1]
        policy = None if reincluded else _name_policy(name, lower)
        if policy is None and (ext in BINARY_EXTENSIONS or name in BINARY_NAMES):
            policy = BINARY
        if policy is None and not stat.S_ISREG(st.st_mode):
            policy = NOT_REGULAR
        if policy is None and st.st_size > self.max_file_bytes:
            policy = TOO_LARGE
        if policy is None and not reincluded and ext in DATA_EXTENSIONS and st.st_size > DATA_FILE_MAX_BYTES:
            policy = DATA_FILE
        if policy is None and st.st_size:
            policy = _sniff(d.abs_path, ext, check_policy=not reincluded)
        if policy is not None:
            self.skip(rel, policy)
            return
        if self.follow:
            self.seen_files.add((st.st_dev, st.st_ino))
        language = self.language_for_path(rel)
        if language == "unknown" and not ext and st.st_size:  # 'bin/tool': its '#!' line may say
            language = _shebang_language(d.abs_path)
        self.files.append(SourceFile(
            path=rel, abs_path=d.abs_path, size=st.st_size, mtime_ns=st.st_mtime_ns, language=language,
        ))


def _name_policy(name: str, lower: str) -> str | None:
    """Exclusions decided by the file name alone, which a '!' pattern may override."""
    if name in LOCKFILE_NAMES:
        return LOCKFILE
    if lower.endswith(MINIFIED_SUFFIXES):
        return MINIFIED
    if lower.endswith(GENERATED_SUFFIXES) or GENERATED_INFIX in lower:
        return GENERATED
    return None


def _sniff(abs_path: str, ext: str, *, check_policy: bool) -> str | None:
    """Look at the first 8 KiB: NUL bytes mean binary; very long lines in js/css mean minified;
    a 'generated ... do not edit' banner in the first lines means generated code."""
    with open(abs_path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(_UTF16_32_BOMS):
        return None  # UTF-16/32 text: NULs are expected, read_text decodes it
    if b"\0" in head:
        return BINARY
    if not check_policy:
        return None
    if ext in MINIFIED_SNIFF_EXTENSIONS:
        lines = head.count(b"\n") + (0 if head.endswith(b"\n") else 1)
        if len(head) / lines > MINIFIED_AVG_LINE:
            return MINIFIED
    banner = b"\n".join(head.split(b"\n", 5)[:5])
    if _GENERATED_MARK_RE.search(banner) or (
        _GENERATED_WORD_RE.search(banner) and _DO_NOT_EDIT_RE.search(banner)
    ):
        return GENERATED
    return None


def _shebang_language(abs_path: str) -> str:
    """Language named by the ``#!`` line of an extension-less file (its first 256 bytes are read)."""
    from .languages import SHEBANG_BYTES, language_for_shebang

    try:
        with open(abs_path, "rb") as fh:
            head = fh.read(SHEBANG_BYTES)
    except OSError:
        return "unknown"
    return language_for_shebang(head)


class _PathEntry:
    """An ``os.DirEntry`` look-alike for one path (from ``lstat``), so a single changed path is
    classified by exactly the code the walk uses."""

    def __init__(self, abs_path: str) -> None:
        self.path = abs_path
        self.name = os.path.basename(abs_path)
        self._st = os.lstat(abs_path)

    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self._st.st_mode)

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return stat.S_ISDIR(self._st.st_mode)  # the walk asks only with follow_symlinks=False

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return stat.S_ISREG(self._st.st_mode)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return self._st


# A change to one of these files can change what is indexed anywhere below it: walk everything.
RULE_FILES = frozenset({".gitignore", RAGIGNORE_FILE, "pyvenv.cfg"})


@dataclass
class PathsDiscovery:
    """What :func:`discover_paths` decided for the changed paths it was given."""

    files: list[SourceFile]  # changed paths that are indexable files now
    skipped: list[SkippedFile]  # changed paths that exist and are not indexed, with the reason
    gone: list[str]  # changed paths that no longer exist


def discover_paths(root: str | Path, paths: Sequence[str], *, max_file_bytes: int = 1_000_000,
                   extra_ignore: Sequence[str] = (), follow_symlinks: bool = False,
                   language_for_path: LanguageFn | None = None) -> PathsDiscovery | None:
    """Classify only ``paths`` (repo-relative, e.g. from a file watcher) as :func:`discover` would.

    Each path is judged by the walk's own code along its ancestor chain: every ancestor directory
    is tested (ignore files, skip lists, secrets, virtualenv marker), then the path itself. The
    result equals what a full walk says about those paths. Returns None when a path-by-path answer
    could be wrong and the caller must walk everything: followed symlinks (aliases and duplicates
    are decided across the whole tree), a changed ignore file or virtualenv marker, a path that is
    a directory now, a path under a symlinked directory, or a path outside the root.
    """
    root_str = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root_str):
        raise NotADirectoryError(f"not a directory: {root_str}")
    if follow_symlinks:
        return None
    if language_for_path is None:
        from .languages import language_for_path as default_language_for_path

        language_for_path = default_language_for_path
    walker = _Walker(root_str, max_file_bytes, extra_ignore, follow_symlinks, language_for_path)
    top = _Dir(root_str, "", walker.outer_rules())
    dirs: dict[str, _Dir | str] = {"": top}  # rel -> context to scan inside it, or the skip reason
    gone: list[str] = []
    for rel in sorted(set(paths)):
        parts = rel.split("/")
        if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            return None
        if parts[-1] in RULE_FILES:
            return None
        abs_path = os.path.join(root_str, *parts)
        try:
            entry = _PathEntry(abs_path)
        except FileNotFoundError:
            gone.append(rel)
            continue
        except OSError:
            walker.skip(rel, UNREADABLE)
            continue
        if entry.is_dir(follow_symlinks=False):
            return None
        ctx = _ancestor(walker, dirs, parts[:-1])
        if ctx is None:
            return None
        if isinstance(ctx, str):
            walker.skip(rel, ctx)
            continue
        stack: list[_Dir] = []
        try:
            walker.scan_entry(entry, _Dir(abs_path, rel, _rules_inside(ctx), ctx.excluded, ctx.explicit), stack)
        except OSError:  # vanished or denied between lstat and open
            walker.skip(rel, UNREADABLE)
    return PathsDiscovery(sorted(walker.files, key=lambda f: f.path), sorted(walker.skipped, key=lambda s: s.path),
                          gone)


def _rules_inside(d: _Dir) -> tuple[_IgnoreRules, ...]:
    """The ignore rules that apply to entries of directory ``d`` (its own .gitignore last)."""
    gi = _IgnoreRules(_read_lines(os.path.join(d.abs_path, ".gitignore")), d.rel)
    return (*d.rules, gi) if gi else d.rules


def _ancestor(walker: _Walker, dirs: dict[str, _Dir | str], parts: list[str]) -> _Dir | str | None:
    """The scan context of directory ``parts`` (a skip reason when the walk would not enter it),
    deciding each ancestor as :meth:`_Walker.scan_dir` would; None when one is not a real directory."""
    rel = "/".join(parts)
    if rel in dirs:
        return dirs[rel]
    parent = _ancestor(walker, dirs, parts[:-1])
    if parent is None or isinstance(parent, str):
        if parent is not None:
            dirs[rel] = parent
        return parent
    abs_path = os.path.join(parent.abs_path, parts[-1])
    try:
        entry = _PathEntry(abs_path)
    except OSError:
        return None
    if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
        return None
    stack: list[_Dir] = []
    before = len(walker.skipped)
    walker.scan_entry(entry, _Dir(abs_path, rel, _rules_inside(parent), parent.excluded, parent.explicit), stack)
    result: _Dir | str
    if stack:
        result = stack.pop()
        if result.excluded is None and not result.explicit and os.path.exists(os.path.join(abs_path, "pyvenv.cfg")):
            result = VENDORED  # scan_dir skips a virtualenv once it lists the directory
    else:
        result = walker.skipped[before].reason if len(walker.skipped) > before else UNREADABLE
        del walker.skipped[before:]  # the directory's own entry is not one of the changed paths
    dirs[rel] = result
    return result


def discover(root: str | Path, *, max_file_bytes: int = 1_000_000, extra_ignore: Sequence[str] = (),
             follow_symlinks: bool = False, language_for_path: LanguageFn | None = None) -> DiscoveryResult:
    """Walk ``root`` and split its files into those to index and those skipped, with reasons.

    ``extra_ignore`` holds gitignore-style patterns relative to the root, applied after
    ``.repo-ragignore`` (so a '!' there re-includes too). Paths are repo-relative POSIX,
    sorted. Problems with individual files or directories are reported as skip reasons and
    never raised; only an unusable ``root`` raises (NotADirectoryError / OSError).
    """
    root_str = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root_str):
        raise NotADirectoryError(f"not a directory: {root_str}")
    if language_for_path is None:
        from .languages import language_for_path as default_language_for_path

        language_for_path = default_language_for_path
    return _Walker(root_str, max_file_bytes, extra_ignore, follow_symlinks, language_for_path).run()
