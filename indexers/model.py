"""Plain data produced by the indexers: what a file contains, before any storage or resolution.

Everything here is a value object so the indexers package stays free of repo_rag imports
(dependencies point one way: repo_rag -> indexers).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# Chunk kinds
FUNCTION = "function"
METHOD = "method"
CLASS = "class"
MODULE = "module"
SECTION = "section"  # a heading-delimited part of a doc file
WINDOW = "window"  # a line window (unknown language or parse failure)

# Raw fact kinds (resolved into graph edges by repo_rag.graph)
CALL = "call"
REFERENCE = "reference"
INHERIT = "inherit"


def content_hash(text: str) -> str:
    """Stable short hash used for change detection and embedding-cache keys."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class SkippedFile:
    """A file discovery left out, with the reason shown to the user (e.g. 'binary', 'secret')."""

    path: str
    reason: str


@dataclass(frozen=True)
class SourceFile:
    """A file discovery kept: repo-relative POSIX path plus what is needed to detect change."""

    path: str
    abs_path: str
    size: int
    mtime_ns: int
    language: str  # 'python', 'typescript', ..., 'markdown', 'rst', 'text', or 'unknown'


@dataclass
class Chunk:
    """One retrievable unit: a symbol, a module header, a doc section or a line window.

    Lines are 1-based and inclusive. ``text`` is the exact source of the span (for class
    chunks: header plus member signatures, see indexers.chunk).
    """

    path: str
    start_line: int
    end_line: int
    language: str
    kind: str
    name: str
    qualname: str
    signature: str = ""
    docstring: str = ""
    parent: str = ""  # qualname of the enclosing symbol, '' for top level
    text: str = ""
    part: int = 0  # >0 when a long body was split: 1, 2, ... (signature repeated in text)

    @property
    def content_hash(self) -> str:
        return content_hash(f"{self.path}\0{self.qualname}\0{self.part}\0{self.text}")


@dataclass(frozen=True)
class Definition:
    """A named definition found in a file (used to resolve references into graph edges)."""

    qualname: str  # e.g. 'UserManager._create_user' (file-local, no module prefix)
    name: str
    kind: str  # FUNCTION / METHOD / CLASS
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Import:
    """One import statement's target as written in the source.

    ``module`` is the imported module spec exactly as written ('os.path', './utils',
    'github.com/x/y/pkg', 'java.util.List'); ``level`` counts leading dots of Python relative
    imports; ``names`` are (imported name, local alias) pairs, empty for 'import x'.
    """

    module: str
    names: tuple[tuple[str, str], ...] = ()
    level: int = 0
    alias: str = ""  # 'import numpy as np' -> 'np'
    line: int = 0


@dataclass(frozen=True)
class Reference:
    """A use of a name inside a definition: a call, an inherited base or a plain reference.

    ``name`` is the referenced identifier; ``receiver`` is what precedes it in an attribute
    access ('self', 'models', 'os.path'), '' when bare. ``source`` is the qualname of the
    enclosing definition ('' for module level).
    """

    kind: str  # CALL / INHERIT / REFERENCE
    name: str
    source: str
    line: int
    receiver: str = ""


@dataclass
class ParsedFile:
    """Everything the indexers extract from one file."""

    path: str
    language: str
    chunks: list[Chunk] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    error: str = ""  # non-empty on a syntax error (symbols still extracted) or a parse failure (line windows)
