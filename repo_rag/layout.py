"""Where a repository's index lives, which files it holds, and whether they may be read.

An index directory is derived data that this tool alone writes; a repository, however, is
untrusted input and may ship a folder that looks like an index (``.repo-rag/`` inside a clone).
Nothing in an index directory is ever unpickled or executed: the store is SQLite (opened with
``trusted_schema=OFF``) and the graph is a numpy archive read with ``allow_pickle=False``. On top
of that, before any reader touches an index directory, :meth:`IndexLayout.check` decides, in order:

1. **location**: the directory given explicitly (``--index-dir``, the library's ``index_dir``
   argument) or, by default, one in the user's cache keyed by the repository's real path
   (``<cache>/indexes/<name>-<sha256(real path)[:16]>``), so a folder shipped inside a clone is
   never even looked at;
2. **ownership**: the directory and every index file in it belong to the current user, the
   directory is not writable by group or others, and index files are regular files (not symlinks);
3. **stamp**: ``repo-rag-index.json`` names this tool, the index format, and the repository's
   real path, and carries an HMAC-SHA256 of those under a per-user key
   (``~/.config/repo-rag/index.key``, mode 0600, created on first use).

A directory that fails is refused with :class:`UntrustedIndexError` (readers), or, for the
indexer (:meth:`IndexLayout.claim`), emptied of the index file names below (never following
links) and stamped afresh, i.e. rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import RepoRagError

INDEX_FORMAT = 4  # bump when the files below change meaning; older indexes are rebuilt
STAMP_NAME = "repo-rag-index.json"
DB_NAME = "index.sqlite"
GRAPH_NAME = "graph.npz"
LOCK_NAME = "index.lock"
# Every name the indexer may replace. Older releases' files (a pickled graph, a FAISS file) are
# listed so a rebuild removes them; they are never read.
INDEX_FILES = (
    DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", GRAPH_NAME,
    "graph.pickle", "vectors.faiss", "vectors.json", STAMP_NAME,
)
KEY_ENV = "REPO_RAG_KEY_FILE"
TOOL = "repo-rag"


class UntrustedIndexError(RepoRagError, PermissionError):
    """An index directory this tool did not write for this repository; it is never read."""


def user_key_path() -> Path:
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "repo-rag" / "index.key"


def user_key() -> bytes:
    """The per-user key that signs index stamps (32 random bytes, created 0600 on first use)."""
    path = user_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UntrustedIndexError(f"{path}: the index signing key must be a file of yours with mode 0600")
    key = path.read_bytes()
    if len(key) < 32:
        raise UntrustedIndexError(f"{path}: the index signing key is truncated; delete it to make a new one")
    return key


def default_index_dir(repo_root: Path, cache: Path) -> Path:
    """``<cache>/indexes/<name>-<hash>``: one directory per repository real path."""
    real = str(repo_root.resolve())
    name = re.sub(r"[^A-Za-z0-9._-]", "_", repo_root.resolve().name)[:40] or "root"
    return cache / "indexes" / f"{name}-{hashlib.sha256(real.encode()).hexdigest()[:16]}"


def _signature(key: bytes, fields: dict[str, object]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IndexLayout:
    """The index directory of one repository and the files in it."""

    repo: Path  # resolved repository root
    dir: Path

    @classmethod
    def for_repo(cls, repo: str | Path, config: Config, index_dir: str | Path | None = None) -> IndexLayout:
        root = Path(repo).resolve()
        chosen = Path(index_dir) if index_dir else default_index_dir(root, config.cache_path)
        return cls(root, chosen.absolute())

    @property
    def db(self) -> Path:
        return self.dir / DB_NAME

    @property
    def graph(self) -> Path:
        return self.dir / GRAPH_NAME

    @property
    def lock(self) -> Path:
        return self.dir / LOCK_NAME

    @property
    def stamp(self) -> Path:
        return self.dir / STAMP_NAME

    @property
    def exists(self) -> bool:
        return self.db.exists() or self.db.is_symlink()

    def inside_repo(self) -> bool:
        return self.dir.resolve() == self.repo or self.repo in self.dir.resolve().parents

    def _stamp_fields(self) -> dict[str, object]:
        return {"tool": TOOL, "format": INDEX_FORMAT, "repo": str(self.repo)}

    # -- checks ------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why this directory may not be read (None when it may)."""
        try:
            info = self.dir.lstat()
        except FileNotFoundError:
            return "it does not exist"
        if not stat.S_ISDIR(info.st_mode):
            return "it is not a directory"
        if info.st_uid != os.getuid():
            return "it belongs to another user"
        if info.st_mode & 0o022:
            return "it is writable by group or others"
        for name in INDEX_FILES:
            path = self.dir / name
            try:
                f = path.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(f.st_mode):
                return f"{name} is not a regular file"
            # File modes follow the umask (0664 under a 002 umask); nobody else can reach them
            # through a directory that only its owner may write to, so ownership is what counts.
            if f.st_uid != os.getuid():
                return f"{name} belongs to another user"
        try:
            stamp = json.loads(self.stamp.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return "it has no repo-rag stamp (not written by this version of repo-rag)"
        except (OSError, ValueError):
            return "its stamp is unreadable"
        if not isinstance(stamp, dict):
            return "its stamp is malformed"
        fields = {k: stamp.get(k) for k in self._stamp_fields()}
        if fields["format"] != INDEX_FORMAT:
            return f"it has index format {fields['format']!r}, this version writes {INDEX_FORMAT}"
        if fields["repo"] != str(self.repo):
            return f"it was written for another repository ({fields['repo']!r})"
        if not isinstance(stamp.get("mac"), str) or not hmac.compare_digest(
            stamp["mac"], _signature(user_key(), fields)
        ):
            return "its stamp was not signed with your key (copied from elsewhere or shipped with the repository)"
        return None

    def check(self) -> None:
        """Raise :class:`UntrustedIndexError` unless this directory may be read."""
        why = self.problem()
        if why is not None:
            raise UntrustedIndexError(
                f"refusing to read the index at {self.dir}: {why}. "
                f"Run `repo-rag index {self.repo}` to rebuild it (only repo-rag's own files there are replaced)."
            )

    # -- claiming (indexer) ------------------------------------------------------------------
    def claim(self) -> list[str]:
        """Make the directory ours: created 0700, foreign index files removed, stamp written.

        Returns notes for the index report (what was replaced and why).
        """
        notes: list[str] = []
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = self.dir.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise UntrustedIndexError(f"{self.dir} is not a directory of yours: choose another --index-dir")
        if info.st_mode & 0o022:
            os.chmod(self.dir, 0o700)
        why = self.problem()  # the directory exists now: anything wrong is about its contents
        if why is not None:
            removed = [name for name in INDEX_FILES if (self.dir / name).is_symlink() or (self.dir / name).exists()]
            for name in removed:
                (self.dir / name).unlink()  # unlink never follows a link
            if removed:
                notes.append(f"rebuilt the index at {self.dir}: {why}")
        if self.inside_repo():
            gitignore = self.dir / ".gitignore"
            if not gitignore.is_symlink() and not gitignore.exists():
                gitignore.write_text("# repo-rag index: derived data, never commit it\n*\n", encoding="utf-8")
        if why is not None:
            fields = self._stamp_fields()
            tmp = self.stamp.with_name(self.stamp.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({**fields, "mac": _signature(user_key(), fields)}), encoding="utf-8")
            os.replace(tmp, self.stamp)
        return notes
