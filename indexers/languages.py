"""What the indexers know about each language: how files map to it, its grammar, its syntax settings.

Grammars come from the individual ``tree-sitter-<lang>`` wheels and are loaded lazily, so a
missing wheel only turns that language into line windows instead of breaking the indexer.
"""

from __future__ import annotations

import importlib
import threading
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
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".mdx": "markdown",
    ".rst": "rst", ".rest": "rst",
    ".txt": "text", ".text": "text",
}

_FILENAMES: dict[str, str] = {
    "gemfile": "ruby", "rakefile": "ruby", "podfile": "ruby", "vagrantfile": "ruby",
    ".bashrc": "bash", ".bash_profile": "bash", ".profile": "bash", ".zshrc": "bash",
    "readme": "text", "license": "text", "licence": "text", "copying": "text", "authors": "text",
    "changelog": "text", "changes": "text", "contributing": "text", "notice": "text",
    "install": "text", "history": "text", "news": "text",
}


def language_for_path(path: str) -> str:
    """Language name for a repo path, from its extension or well-known file name; 'unknown' otherwise."""
    name = PurePosixPath(path.replace("\\", "/")).name
    lowered = name.lower()
    if lowered in _FILENAMES:
        return _FILENAMES[lowered]
    suffix = PurePosixPath(lowered).suffix
    return _EXTENSIONS.get(suffix, "unknown")


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
        return tree_sitter.Language(getattr(module, attr)())
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
}


_DEFAULT_SYNTAX = Syntax()


def syntax_for(language: str) -> Syntax:
    """Settings for ``language``; defaults suit brace languages with ``comment`` nodes."""
    return SYNTAX.get(language, _DEFAULT_SYNTAX)
