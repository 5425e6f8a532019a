"""The one gate for reading repository files: every reader of repository content goes through it.

A repository is untrusted input, and a path arrives from many places (a citation the model wrote,
a click in the web page, a stored chunk). :meth:`FileGate.read_text` decides, in this order:

1. the path is a non-empty, repository-relative path (no NUL, no absolute or drive path, no ``..``);
2. it is not secret by name (``indexers.discover.is_secret_path``);
3. its resolved target (symlinks followed) stays inside the repository root;
4. the resolved target's own path is not secret by name either (a link named ``notes.txt`` that
   points at ``.env`` is refused);
5. the file is in the index (``is_indexed``), so nothing discovery excluded is ever read;
6. the text is decoded like the indexer does and high-confidence secrets in it are redacted
   (``indexers.secrets.redact_secrets``), so line numbers match the index and citations.

A refusal raises :class:`FileAccessError` (a ``PermissionError``) with a message that never
echoes file content.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from pathlib import Path

from repo_rag.indexers.discover import is_secret_path, read_text
from repo_rag.indexers.secrets import redact_secrets

from .errors import RepoRagError

_DRIVE = re.compile(r"^[A-Za-z]:")


class FileAccessError(RepoRagError, PermissionError):
    """A repository file was refused: outside the root, secret, or not indexed."""


class FileGate:
    """Checked, redacted reads of one repository's files.

    ``is_indexed(rel_path)`` says whether a repo-relative POSIX path is in the index; pass
    ``None`` only where no index exists yet (the indexer itself, which discovery already gated).
    """

    def __init__(self, root: str | Path, is_indexed: Callable[[str], bool] | None) -> None:
        self.root = Path(root).resolve()
        self._is_indexed = is_indexed

    def resolve(self, path: str) -> Path:
        """The absolute, resolved file behind repo-relative ``path``, after every check but decoding."""
        if not isinstance(path, str) or not path or "\x00" in path:
            raise FileAccessError("empty or invalid path")
        posix = path.replace("\\", "/")
        if posix.startswith("/") or _DRIVE.match(posix) or ".." in posix.split("/"):
            raise FileAccessError(f"{path!r} is not a repository-relative path")
        if is_secret_path(posix):
            raise FileAccessError(f"{path!r} may hold secrets and is never read")
        target = (self.root / posix).resolve()
        if target == self.root or self.root not in target.parents:
            raise FileAccessError(f"{path!r} is outside the repository")
        rel = target.relative_to(self.root).as_posix()
        if is_secret_path(rel):
            raise FileAccessError(f"{path!r} points at a file that may hold secrets")
        if self._is_indexed is not None and not (self._is_indexed(posixpath.normpath(posix)) or self._is_indexed(rel)):
            raise FileAccessError(f"{path!r} is not an indexed file of this repository")
        if not target.is_file():
            raise FileAccessError(f"{path!r} is not a regular file")
        return target

    def read_text(self, path: str) -> str:
        """The redacted text of an indexed repository file (decoded and split like the indexer)."""
        target = self.resolve(path)
        try:
            text, _note = read_text(target)
        except OSError as exc:
            raise FileAccessError(f"{path!r} cannot be read: {exc.strerror or exc}") from exc
        return redact_secrets(text)[0]

    def read_lines(self, path: str, start: int = 1, end: int | None = None) -> list[str]:
        """Lines ``start..end`` (1-based, inclusive) of :meth:`read_text`."""
        lines = self.read_text(path).split("\n")
        end = len(lines) if end is None else min(end, len(lines))
        return lines[max(start, 1) - 1 : end]
