"""What the indexers know about each language: how files map to it, its grammar, its syntax settings.

Grammars come from the individual ``tree-sitter-<lang>`` wheels and are loaded lazily, so a
missing wheel only turns that language into line windows instead of breaking the indexer.

A file's language is decided in this order, first match wins:

1. its whole name, case-insensitively (``Gemfile``, ``Dockerfile``, ``README``);
2. its last extension, case-insensitively (``.py``, ``.tf``);
3. a ``Dockerfile.<variant>`` / ``Containerfile.<variant>`` name with an unknown extension;
4. for a file without an extension, a ``#!`` first line naming a known interpreter
   (``#!/usr/bin/env python3``, ``#!/bin/bash``, ``#!/usr/bin/env -S node --flag``): see
   :func:`language_for_shebang`, which discovery calls with the file's first bytes;
5. otherwise ``'unknown'`` (line windows).
"""

from __future__ import annotations

import importlib
import re
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

import tree_sitter

DOC_LANGUAGES = frozenset({"markdown", "rst", "text"})

# language -> (python module of the grammar wheel, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "java": ("tree_sitter_java", "language"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "scala": ("tree_sitter_scala", "language"),
    "swift": ("tree_sitter_swift", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "bash": ("tree_sitter_bash", "language"),
    "haskell": ("tree_sitter_haskell", "language"),
    "elixir": ("tree_sitter_elixir", "language"),
    "zig": ("tree_sitter_zig", "language"),
    "ocaml": ("tree_sitter_ocaml", "language_ocaml"),
    "julia": ("tree_sitter_julia", "language"),
    "perl": ("tree_sitter_perl", "language"),
    "objc": ("tree_sitter_objc", "language"),
    "groovy": ("tree_sitter_groovy", "language"),
    "solidity": ("tree_sitter_solidity", "language"),
    "powershell": ("tree_sitter_powershell", "language"),
    "sql": ("tree_sitter_sql", "language"),
    "hcl": ("tree_sitter_hcl", "language"),
    "dockerfile": ("tree_sitter_dockerfile", "language"),
    "fortran": ("tree_sitter_fortran", "language"),
    "verilog": ("tree_sitter_verilog", "language"),
    "nix": ("tree_sitter_nix", "language"),
}
CODE_LANGUAGES = frozenset(_GRAMMARS)

_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".inl": "cpp",
    ".cs": "csharp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
    ".php": "php", ".phtml": "php",
    ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".sc": "scala",
    ".swift": "swift",
    ".lua": "lua",
    ".sh": "bash", ".bash": "bash", ".zsh": "bash",
    ".hs": "haskell",
    ".ex": "elixir", ".exs": "elixir",
    ".zig": "zig",
    ".ml": "ocaml",
    ".jl": "julia",
    ".pl": "perl", ".pm": "perl", ".t": "perl",
    ".m": "objc", ".mm": "objc",
    ".groovy": "groovy", ".gvy": "groovy", ".gradle": "groovy",
    ".sol": "solidity",
    ".ps1": "powershell", ".psm1": "powershell",
    ".sql": "sql",
    ".tf": "hcl", ".tfvars": "hcl", ".hcl": "hcl",
    ".dockerfile": "dockerfile",
    ".f90": "fortran", ".f95": "fortran", ".f03": "fortran", ".f08": "fortran",  # free form only
    ".v": "verilog", ".sv": "verilog", ".svh": "verilog", ".vh": "verilog",
    ".nix": "nix",
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".mdx": "markdown",
    ".rst": "rst", ".rest": "rst",
    ".txt": "text", ".text": "text",
}

_FILENAMES: dict[str, str] = {
    "gemfile": "ruby", "rakefile": "ruby", "podfile": "ruby", "vagrantfile": "ruby",
    "jenkinsfile": "groovy", "dockerfile": "dockerfile", "containerfile": "dockerfile",
    ".bashrc": "bash", ".bash_profile": "bash", ".profile": "bash", ".zshrc": "bash",
    "readme": "text", "license": "text", "licence": "text", "copying": "text", "authors": "text",
    "changelog": "text", "changes": "text", "contributing": "text", "notice": "text",
    "install": "text", "history": "text", "news": "text",
}

# names that keep their language with any unknown extension ('Dockerfile.prod')
_NAME_VARIANTS: dict[str, str] = {"dockerfile": "dockerfile", "containerfile": "dockerfile"}


def language_for_path(path: str) -> str:
    """Language name for a repo path, from its well-known file name or extension; 'unknown' otherwise."""
    name = PurePosixPath(path.replace("\\", "/")).name
    lowered = name.lower()
    if lowered in _FILENAMES:
        return _FILENAMES[lowered]
    suffix = PurePosixPath(lowered).suffix
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    return _NAME_VARIANTS.get(lowered.split(".", 1)[0], "unknown")


# interpreter named by a '#!' line (version digits dropped: python3.12 -> python) -> language
_INTERPRETERS: dict[str, str] = {
    "python": "python", "pypy": "python",
    "node": "javascript", "nodejs": "javascript", "ts-node": "typescript", "tsx": "typescript",
    "sh": "bash", "bash": "bash", "zsh": "bash", "dash": "bash", "ksh": "bash", "ash": "bash",
    "ruby": "ruby", "perl": "perl", "php": "php", "lua": "lua", "luajit": "lua",
    "elixir": "elixir", "julia": "julia", "pwsh": "powershell", "groovy": "groovy",
    "runghc": "haskell", "runhaskell": "haskell", "ocaml": "ocaml", "swift": "swift",
    "kotlin": "kotlin", "scala": "scala",
}
SHEBANG_BYTES = 256  # how much of a file's start language_for_shebang needs
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def language_for_shebang(head: bytes) -> str:
    """Language of a script from its first bytes (only the first line, at most 256 bytes, is read):
    the interpreter of a ``#!`` line, after ``env`` and its options (``env -S python3 -u``).
    'unknown' without a ``#!`` line, for binary bytes, or for an interpreter not listed."""
    line = head[:SHEBANG_BYTES].split(b"\n", 1)[0]
    if not line.startswith(b"#!") or b"\0" in line:
        return "unknown"
    words = line[2:].decode("utf-8", "replace").split()
    if words and words[0].rsplit("/", 1)[-1] == "env":  # '-S', '-i', 'NAME=value' come before the command
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    if not words:
        return "unknown"
    interpreter = words[0].rsplit("/", 1)[-1].lower()
    interpreter = _INTERPRETERS.get(interpreter) or _INTERPRETERS.get(_VERSION_SUFFIX.sub("", interpreter), "")
    return interpreter or "unknown"


def is_doc_language(language: str) -> bool:
    """Docs are chunked by heading rather than parsed with a grammar."""
    return language in DOC_LANGUAGES


@cache
def get_language(language: str) -> tree_sitter.Language | None:
    """The tree-sitter grammar for ``language``, or None when its wheel is not installed."""
    entry = _GRAMMARS.get(language)
    if entry is None:
        return None
    module_name, attr = entry
    try:
        module = importlib.import_module(module_name)
        pointer = getattr(module, attr)()
        with warnings.catch_warnings():  # older wheels (perl, solidity, dockerfile) hand out an int
            warnings.simplefilter("ignore", DeprecationWarning)
            return tree_sitter.Language(pointer)
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


_local = threading.local()


def get_parser(language: str) -> tree_sitter.Parser | None:
    """A parser for ``language`` (one per thread: parsers are not thread-safe), or None without grammar."""
    parsers: dict[str, tree_sitter.Parser | None] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    if language not in parsers:
        grammar = get_language(language)
        parsers[language] = tree_sitter.Parser(grammar) if grammar is not None else None
    return parsers[language]


@dataclass(frozen=True)
class Syntax:
    """Per-language settings the generic extraction engine cannot read off the query captures.

    wrappers: node types that wrap a definition and belong to its span (decorators, ``export``);
    attributes: sibling nodes above a definition that belong to it (Rust ``#[derive]``);
    comments: comment node types; doc_comments: whether comments right above a definition are its
    docstring.
    """

    wrappers: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()
    comments: frozenset[str] = frozenset({"comment"})
    doc_comments: bool = True


_ECMA = Syntax(wrappers=frozenset({"export_statement", "lexical_declaration", "variable_declaration"}))
SYNTAX: dict[str, Syntax] = {
    "python": Syntax(wrappers=frozenset({"decorated_definition"}), doc_comments=False),
    "javascript": _ECMA,
    "typescript": _ECMA,
    "tsx": _ECMA,
    "java": Syntax(comments=frozenset({"line_comment", "block_comment"})),
    "go": Syntax(wrappers=frozenset({"type_declaration"})),
    "rust": Syntax(
        attributes=frozenset({"attribute_item"}), comments=frozenset({"line_comment", "block_comment"})
    ),
    "c": Syntax(wrappers=frozenset({"type_definition"})),
    "cpp": Syntax(wrappers=frozenset({"template_declaration", "type_definition"})),
    "csharp": Syntax(),
    "ruby": Syntax(),
    "php": Syntax(),
    "kotlin": Syntax(comments=frozenset({"line_comment", "multiline_comment", "block_comment"})),
    "scala": Syntax(comments=frozenset({"comment", "block_comment"})),
    "swift": Syntax(comments=frozenset({"comment", "multiline_comment"})),
    "lua": Syntax(),
    "bash": Syntax(),
    "elixir": Syntax(attributes=frozenset({"unary_operator"})),
    "ocaml": Syntax(wrappers=frozenset({"value_definition", "type_definition", "module_definition",
                                        "class_definition"})),
    "julia": Syntax(comments=frozenset({"line_comment", "block_comment", "string_literal"})),
    "groovy": Syntax(comments=frozenset({"line_comment", "block_comment"})),
    "haskell": Syntax(attributes=frozenset({"signature"}), comments=frozenset({"comment", "haddock"})),
}


_DEFAULT_SYNTAX = Syntax()


def syntax_for(language: str) -> Syntax:
    """Settings for ``language``; defaults suit brace languages with ``comment`` nodes."""
    return SYNTAX.get(language, _DEFAULT_SYNTAX)
