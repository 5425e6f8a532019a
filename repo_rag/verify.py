"""Find the citations in a model's answer and check each one against the index.

A citation is verified when, after normalisation, (1) its file is an indexed, non-secret file
inside the repository that the repository's :class:`~repo_rag.files.FileGate` accepts (resolved
link target inside the root and not secret either), (2) its line span lies inside that file,
(3) the span overlaps code the model was actually shown (a packed block or retrieved hit), and
(4) a symbol named after it, ``path:12-30 (name)``, is defined in that file at a span
overlapping the cited one.

Small models write sloppy citations, so normalisation is forgiving about form (backticks,
``./``, an absolute or repo-name prefix, ``L12-L30``, ``#L12``, ``lines 12-30``, an end line before
the start) but never invents content: a path is only completed from a bare file name when
exactly one file shown to the model has that name. Backticked or absolute paths written without
lines are flagged when they do not name an indexed file (``/etc/passwd``) and otherwise left
alone as plain mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from repo_rag.indexers.discover import is_secret_path

from .files import FileAccessError, FileGate
from .store import Store

_PATH = r"(?:[A-Za-z]:)?[\w.\-/\\~@+]*[\w\-]"
_LINES = (
    r"(?:[:#][ \t]*L?|,?[ \t]*\(?[ \t]*lines?[ \t]+|:[ \t]*lines?[ \t]+)"
    r"(?P<start>\d{1,7})(?:[ \t]*(?:-|–|—|\.\.|to)[ \t]*L?(?P<end>\d{1,7}))?\)?"
)
_NAME = r"[A-Za-z_$][\w$.:<>]*(?:\(\))?"
# One name or a label's list of names: ``(hash_password)``, ``(BookView.__init__, BookView.show)``.
_SYMBOL = rf"(?:`?[ \t]*\([ \t]*`?(?P<symbol>{_NAME}(?:[ \t]*,[ \t]*{_NAME})*)`?[ \t]*\))?"
CITATION_RE = re.compile(rf"(?<![\w./\\\-])(?P<path>{_PATH}){_LINES}{_SYMBOL}")
# Paths mentioned without lines: backticked ones, and absolute or parent-relative ones anywhere.
MENTION_RE = re.compile(rf"`(?P<path>{_PATH})`|(?<![\w.:/])(?P<bare>(?:/|\.\./|~/)[\w.\-/]+)")


@dataclass
class Citation:
    """One citation as normalised from the answer, with the verdict and its reason."""

    path: str
    start_line: int
    end_line: int
    symbol: str = ""
    verified: bool = False
    reason: str = ""
    raw: str = ""

    @property
    def location(self) -> str:
        if self.start_line <= 0:
            return self.path
        return f"{self.path}:{self.start_line}" + (f"-{self.end_line}" if self.end_line != self.start_line else "")

    def to_dict(self) -> dict:
        return asdict(self)


def _looks_like_path(path: str) -> bool:
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return bool(re.search(r"[A-Za-z]", path)) and ("/" in path or "." in name.rstrip("."))


def _looks_like_file(path: str) -> bool:
    """A line-less mention worth checking: a path with a directory that is absolute, escapes, or has an extension.

    Keeps dotted names (`self.password_hash`, `bookstore.auth`) and bare file names out.
    """
    norm = path.replace("\\", "/")
    if "/" not in norm.strip("/"):
        return norm.startswith(("/", "~/", "../")) and len(norm) > 1
    return norm.startswith(("/", "~/", "../")) or bool(re.search(r"\.[A-Za-z0-9]{1,8}$", norm.rsplit("/", 1)[-1]))


def parse_citations(text: str) -> list[Citation]:
    """Every ``path:lines`` citation plus line-less path mentions (start_line 0), in answer order."""
    found: list[tuple[int, Citation]] = []
    covered: list[tuple[int, int]] = []
    for m in CITATION_RE.finditer(text):
        path = m.group("path").rstrip(".")
        if not _looks_like_path(path):
            continue
        start = int(m.group("start"))
        end = int(m.group("end")) if m.group("end") else start
        found.append((m.start(), Citation(path, start, end, m.group("symbol") or "", raw=m.group(0).strip())))
        covered.append((m.start(), m.end()))
    for m in MENTION_RE.finditer(text):
        if any(s <= m.start() < e or s < m.end() <= e for s, e in covered):
            continue
        path = (m.group("path") or m.group("bare") or "").rstrip(".,;:")
        if path and _looks_like_file(path):
            found.append((m.start(), Citation(path, 0, 0, raw=m.group(0))))
    found.sort(key=lambda x: x[0])
    return [c for _, c in found]


class CitationVerifier:
    """Checks citations against one repository's index, its file gate and the code shown to the model."""

    def __init__(self, files: FileGate, store: Store, context_spans: Iterable[tuple[str, int, int]]) -> None:
        if not isinstance(files, FileGate):
            raise TypeError(
                f"CitationVerifier needs the repository's FileGate (Repository.files), not {type(files).__name__}"
            )
        self.files = files
        self.root = files.root
        self.store = store
        self.spans: dict[str, list[tuple[int, int]]] = {}
        for path, start, end in context_spans:
            self.spans.setdefault(path, []).append((start, end))

    def normalise_path(self, raw: str) -> tuple[str | None, str]:
        """Repo-relative POSIX path for ``raw``, or (None, reason) when it points outside the repo."""
        path = raw.strip().strip("`'\"<>[]").replace("\\", "/")
        if not path:
            return None, "empty path"
        if path.startswith("~"):
            return None, "outside the repository"
        root = self.root.as_posix()
        if path.startswith("/") or re.match(r"^[A-Za-z]:/", path):
            if path == root or path.startswith(root + "/"):
                path = path[len(root) :].lstrip("/")
            else:
                return None, "outside the repository"
        while path.startswith("./"):
            path = path[2:]
        if path.startswith(self.root.name + "/") and self.store.file(path) is None:
            path = path[len(self.root.name) + 1 :]
        parts: list[str] = []
        for part in PurePosixPath(path).parts:
            if part == "..":
                if not parts:
                    return None, "outside the repository"
                parts.pop()
            elif part != ".":
                parts.append(part)
        if not parts:
            return None, "outside the repository"
        return "/".join(parts), ""

    def _complete(self, path: str) -> str | None:
        """The one context file whose name ends with ``path`` (a model that dropped the directory)."""
        matches = [p for p in self.spans if ("/" + p).endswith("/" + path)]
        return matches[0] if len(matches) == 1 else None

    def verify(self, citation: Citation) -> Citation:
        c = citation
        path, why = self.normalise_path(c.path)
        if path is None:
            return _verdict(c, c.path, False, why)
        if is_secret_path(path):
            return _verdict(c, path, False, "secret file: never indexed or shown")
        stored = self.store.file(path)
        if stored is None:
            completed = self._complete(path)
            if completed is None:
                return _verdict(c, path, False, "not an indexed file of this repository")
            path, stored = completed, self.store.file(completed)
            if stored is None:
                return _verdict(c, path, False, "not an indexed file of this repository")
        try:
            self.files.resolve(path)
        except FileAccessError as exc:
            return _verdict(c, path, False, f"file refused: {exc}")
        if c.start_line <= 0:
            return _verdict(c, path, False, "no line range given")
        start, end = c.start_line, max(c.end_line, c.start_line)
        if end > stored.n_lines:
            return _verdict(c, path, False, f"lines {start}-{end} outside the file ({stored.n_lines} lines)")
        if not any(s <= end and start <= e for s, e in self.spans.get(path, ())):
            return _verdict(c, path, False, "not in the code retrieved for this question")
        if c.symbol:
            chunks = self.store.chunks_for_path(path)
            for symbol in (n.strip() for n in c.symbol.split(",")):
                name = symbol.replace("::", ".").removesuffix("()").split(".")[-1]
                defined = [
                    ch for ch in chunks
                    if ch.name == name or ch.qualname == symbol or ch.qualname.endswith("." + name)
                ]
                if not defined:
                    return _verdict(c, path, False, f"symbol {symbol} is not defined in {path}")
                if not any(ch.start_line <= end and start <= ch.end_line for ch in defined):
                    return _verdict(c, path, False, f"symbol {symbol} is not defined in lines {start}-{end}")
        return _verdict(c, path, True, "verified")

    def verify_all(self, citations: Sequence[Citation]) -> list[Citation]:
        """Verdicts for ``citations``, dropping duplicates and line-less mentions of indexed files."""
        out: list[Citation] = []
        seen: set[tuple[str, int, int, str]] = set()
        for c in citations:
            v = self.verify(c)
            if v.start_line <= 0 and v.reason == "no line range given":
                continue  # a plain mention of a real file, not a citation
            key = (v.path, v.start_line, v.end_line, v.symbol)
            if key not in seen:
                seen.add(key)
                out.append(v)
        return out


def _verdict(c: Citation, path: str, ok: bool, reason: str) -> Citation:
    return Citation(path, c.start_line, max(c.end_line, c.start_line), c.symbol, ok, reason, c.raw)


def verify_answer(text: str, verifier: CitationVerifier) -> list[Citation]:
    return verifier.verify_all(parse_citations(text))
