"""Parse one file into chunks and raw facts: definitions, imports, calls, inheritance, references.

The engine is language-agnostic. What to look for lives in ``queries/<language>.scm`` as
tree-sitter queries, and a few layout settings in :data:`indexers.languages.SYNTAX`. The
queries speak this capture vocabulary:

``@definition.function`` / ``.method`` / ``.class`` / ``.scope``
    a definition node; a *scope* (Rust ``impl T``, Swift ``extension T``) prefixes qualnames
    of what it contains but is not itself a symbol.
``@name`` its name; ``@parent`` an explicit owner (Go receiver, C++ ``A::m``, Lua ``M.f``);
``@body`` its body when that is not the node's ``body`` field; ``@header`` where its signature ends
    when no body node follows (the last of the nodes so captured: Julia's ``signature``).
``@doc`` a docstring node; it belongs to the innermost enclosing definition, or the module.
``@import`` an import statement, with ``@import.module``, ``@import.name``, ``@import.alias``,
    ``@import.default`` (a default import's local name), ``@import.level`` (its dots are
    counted), ``@import.wildcard`` (``from m import *``: names get ('*', '*')), ``@import.glob``
    (a wildcard ending the path, ``a.b.*``: kept in the module spec too) and ``@import.segment``
    (module path pieces matched one by one, joined with '.').
``@call.callee`` a called expression, split at its last ``.``, ``->`` or ``::`` into receiver
    and name; or ``@call.name`` with an optional ``@call.receiver`` when the grammar splits them.
``@inherit.base`` a base class, implemented interface, embedded struct or implemented trait.
``@reference.type`` an identifier used as a type.

Captures starting with ``_`` only feed predicates. A query file may start with
``; inherits: <language>`` lines to include another language's queries first.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tree_sitter import Node, Query, QueryCursor

from .chunk import DefSite, ModulePlan, build_chunks, window_chunks
from .docs import parse_doc
from .languages import Syntax, get_language, get_parser, is_doc_language, syntax_for
from .model import (
    CALL,
    CLASS,
    FUNCTION,
    INHERIT,
    METHOD,
    REFERENCE,
    Definition,
    Import,
    ParsedFile,
    Reference,
)

QUERY_DIR = Path(__file__).parent / "queries"
MAX_PARSE_BYTES = 2_000_000  # larger files are generated or data: line windows are enough
MAX_SIGNATURE_LINES = 12

_INHERITS = re.compile(r"^;\s*inherits:\s*([\w, ]+)$", re.MULTILINE)
_SEPARATOR = re.compile(r"\?\.|\.|->|::|:|\\")
_SPACED_SEPARATOR = re.compile(r"\s*(\?\.|\.|->|::)\s*")
_QUALIFIED_NAME = re.compile(r"\w(?:\.|::?|->)~?\w")
_GENERIC_ARGS = re.compile(r"<[^<>]*>")
_IDENTIFIER = re.compile(r"[A-Za-z_$@][\w$]*(?:-[\w$]+)*[!?]?\Z")  # 'Get-Item': PowerShell
_COMMENT_PREFIX = re.compile(
    r"^(?:/\*+!?|\(\*+|<#|\"{3}|\*+(?![/)])|//[/!]?|#+!?(?!>)|!+|--+(?:\[=*\[|\s?[|^](?=\s))?|=begin|=end)\s?"
)
_COMMENT_SUFFIX = re.compile(r"\s*(?:#>|\*+/|\*+\)|\"{3}|\]=*\])\s*$")
_XML_DOC_TAG = re.compile(r"</?(?:summary|remarks|returns|value|para|param|typeparam|see|c|code)\b[^>]*>")
_STRING_PREFIX = re.compile(r"^[rRbBuUfF]{0,2}")


def parse_source(path: str, text: str, language: str, max_chunk_lines: int = 80) -> ParsedFile:
    """Chunks and facts of one file; never raises (falls back to line windows with ``error`` set)."""
    lines = text.split("\n")
    try:
        if is_doc_language(language):
            return parse_doc(path, text, language, max_chunk_lines)
        parser = get_parser(language)
        query = get_query(language)
        if parser is None or query is None:
            error = "" if language == "unknown" else f"no tree-sitter grammar for {language}"
            return ParsedFile(path, language, chunks=window_chunks(path, language, lines), error=error)
        source = text.encode("utf-8", "surrogatepass")
        if len(source) > MAX_PARSE_BYTES:
            return ParsedFile(path, language, chunks=window_chunks(path, language, lines),
                              error=f"not parsed: {len(source)} bytes")
        tree = parser.parse(source)
        return _Extractor(path, language, source, lines, query, max_chunk_lines).run(tree.root_node)
    except Exception as exc:  # one bad file must never stop indexing
        return ParsedFile(path, language, chunks=window_chunks(path, language, lines),
                          error=f"{type(exc).__name__}: {exc}")


@cache
def get_query(language: str) -> Query | None:
    """The compiled extraction query of ``language`` (compiled once), or None without grammar/queries."""
    grammar = get_language(language)
    source = _query_source(language)
    if grammar is None or source is None:
        return None
    return Query(grammar, source)


def _query_source(language: str, seen: frozenset[str] = frozenset()) -> str | None:
    path = QUERY_DIR / f"{language}.scm"
    if language in seen or not path.is_file():
        return None
    own = path.read_text(encoding="utf-8")
    parts = []
    for match in _INHERITS.finditer(own):
        for parent in match.group(1).split(","):
            inherited = _query_source(parent.strip(), seen | {language})
            if inherited:
                parts.append(inherited)
    parts.append(own)
    return "\n".join(parts)


@dataclass
class _Def:
    """A definition match, completed step by step into a DefSite."""

    node: Node
    name: str
    capture: str  # function / method / class / scope
    owner: str  # explicit @parent text, normalised
    body: Node | None
    header: Node | None = None  # the signature ends with this node (when there is no body node)
    qualname: str = ""
    parent: str = ""
    kind: str = ""
    docstring: str = ""
    doc_node: Node | None = None
    head: Node | None = None
    start_row: int = 0
    signature: tuple[str, int, int] | None = None  # text, first row, last row


@dataclass
class _ImportParts:
    line: int
    module: str
    level: int
    alias: str
    names: list[tuple[str, str]]
    segments: list[tuple[int, str]] = field(default_factory=list)  # module path pieces, joined with '.'
    glob: bool = False  # the segments end with a wildcard

    def spec(self) -> str:
        if self.module or not self.segments:
            return self.module
        joined = ".".join(text for _, text in sorted(set(self.segments)))
        return f"{joined}.*" if self.glob else joined


class _Extractor:
    """Runs the language query over one tree and assembles the ParsedFile."""

    def __init__(
        self, path: str, language: str, source: bytes, lines: list[str], query: Query, max_lines: int
    ):
        self.path = path
        self.language = language
        self.source = source
        self.lines = lines
        self.query = query
        self.max_lines = max_lines
        self.syntax: Syntax = syntax_for(language)
        self.defs: list[_Def] = []
        self.docs: list[Node] = []
        self.imports: dict[tuple[int, str, int], _ImportParts] = {}
        self.calls: list[tuple[Node, str, str]] = []
        self.bases: list[Node] = []
        self.type_refs: list[Node] = []
        self.heads: dict[int, _Def] = {}
        self.name_bytes: set[int] = set()  # where definition names start: not references
        self.glob_bases: set[tuple[int, str]] = set()  # (line, module) also matched as 'module.*'

    def run(self, root: Node) -> ParsedFile:
        self._collect(root)
        self._name_definitions()
        owner_of = _OwnerIndex(self.defs)
        module_doc = self._attach_docstrings(owner_of)
        symbols = [d for d in self.defs if d.capture != "scope"]
        comments = {id(d): self._extent(d) for d in symbols}
        self.heads = {d.head.start_byte: d for d in symbols if d.head is not None}
        sites = [self._site(d, comments[id(d)]) for d in symbols]
        references = self._references(owner_of)
        definitions = [
            Definition(s.qualname, s.name, s.kind, s.start_line, s.end_line) for s in sites
        ]
        module = self._module_plan(root, sites, module_doc)
        chunks = build_chunks(self.path, self.language, self.lines, sites, module, self.max_lines)
        imports = [
            Import(module=p.spec(), names=tuple(p.names), level=p.level, alias=p.alias, line=p.line)
            for p in sorted(self.imports.values(), key=lambda p: (p.line, p.module))
            if p.names or (p.line, p.module) not in self.glob_bases
        ]
        error = ""
        if root.has_error:
            rows = _error_lines(root)
            error = "syntax error near line " + ", ".join(map(str, rows)) if rows else "syntax error"
        return ParsedFile(self.path, self.language, chunks=chunks, definitions=definitions,
                          imports=imports, references=references, error=error)

    # -- query ---------------------------------------------------------------------------

    def _collect(self, root: Node) -> None:
        seen_defs: dict[tuple[int, int], _Def] = {}
        for _pattern, caps in QueryCursor(self.query).matches(root):
            if "name" in caps:
                self._add_definition(caps, seen_defs)
            elif "import" in caps:
                self._add_import(caps)
            elif "call.callee" in caps:
                for node in caps["call.callee"]:
                    receiver, name = _split_qualified(_text(node))
                    self.calls.append((node, name, receiver))
            elif "call.name" in caps:
                node = caps["call.name"][0]
                receiver = caps.get("call.receiver")
                self.calls.append((node, _text(node), _squash(_text(receiver[0])) if receiver else ""))
            elif "doc" in caps:
                self.docs.extend(caps["doc"])
            elif "inherit.base" in caps:
                self.bases.extend(caps["inherit.base"])
            elif "reference.type" in caps:
                self.type_refs.extend(caps["reference.type"])

    def _add_definition(self, caps: dict[str, list[Node]], seen: dict[tuple[int, int], _Def]) -> None:
        for key, nodes in caps.items():
            if not key.startswith("definition."):
                continue
            node = nodes[0]
            span = (node.start_byte, node.end_byte)
            body = caps.get("body")
            header = max(caps.get("header", ()), key=lambda n: n.end_byte, default=None)
            known = seen.get(span)
            if known is not None:  # several patterns may match one node; keep the first, fill its body
                if known.body is None and body:
                    known.body = body[0]
                if header is not None and (known.header is None or header.end_byte > known.header.end_byte):
                    known.header = header
                return
            name_node = caps["name"][0]
            self.name_bytes.add(name_node.start_byte)
            name = _text(name_node).strip()
            parent = caps.get("parent")
            owner = _normalise_owner(_text(parent[0])) if parent else ""
            if _QUALIFIED_NAME.search(name):  # 'Cart::add', 'M.f', 'M:f': the prefix is the owner
                prefix, name = _split_qualified(name.replace(":", "::").replace("::::", "::"))
                owner = _normalise_owner(prefix)
            if name:
                definition = _Def(node, name, key.split(".", 1)[1], owner,
                                  body[0] if body else node.child_by_field_name("body"), header)
                seen[span] = definition
                self.defs.append(definition)
            return

    def _add_import(self, caps: dict[str, list[Node]]) -> None:
        statement = caps["import"][0]
        module_nodes = caps.get("import.module")
        module = ".".join(_unquote(_text(n)) for n in module_nodes) if module_nodes else ""
        glob = caps.get("import.glob")
        if glob and module_nodes:  # 'java.util.*', 'std::io::*': the spec as written, '_' read as '*'
            self.glob_bases.add((statement.start_point.row + 1, module))  # the same path without '*'
            written = self.source[module_nodes[0].start_byte: glob[0].end_byte].decode("utf-8", "replace")
            module = "".join(written.split())
            module = module[:-1] + "*" if module.endswith("_") else module
        level_nodes = caps.get("import.level")
        level = _text(level_nodes[0]).count(".") if level_nodes else 0
        key = (statement.start_point.row + 1, module, level)
        parts = self.imports.get(key)
        if parts is None:
            parts = self.imports[key] = _ImportParts(key[0], module, level, "", [])
        for segment in caps.get("import.segment", ()):
            parts.segments.append((segment.start_byte, _text(segment)))
        alias_nodes = caps.get("import.alias")
        alias = _text(alias_nodes[0]) if alias_nodes else ""
        names = [(_squash(_text(n)), "") for n in caps.get("import.name", ())]
        names += [("default", _text(n)) for n in caps.get("import.default", ())]
        if "import.wildcard" in caps or glob:
            names.append(("*", "*"))
        if glob and not module_nodes:
            parts.glob = True
        if not names:
            parts.alias = parts.alias or alias
            return
        if alias and len(names) == 1:
            names = [(names[0][0], alias)]
        for name, local in names:
            entry = (name, local or _last_segment(name))
            if entry not in parts.names:
                parts.names.append(entry)

    # -- definitions ---------------------------------------------------------------------

    def _name_definitions(self) -> None:
        """Qualnames, kinds and parents, from nesting (or an explicit owner such as a Go receiver)."""
        self.defs.sort(key=lambda d: (d.node.start_byte, -d.node.end_byte))
        stack: list[_Def] = []
        for d in self.defs:
            while stack and stack[-1].node.end_byte <= d.node.start_byte:
                stack.pop()
            container = stack[-1] if stack else None
            if d.owner:
                d.parent = d.owner
            elif container is not None:
                d.parent = container.qualname
            d.qualname = f"{d.parent}.{d.name}" if d.parent else d.name
            if d.capture == "class":
                d.kind = CLASS
            elif d.capture == "method" or d.owner or (container and container.capture in ("class", "scope")):
                d.kind = METHOD
            else:
                d.kind = FUNCTION
            stack.append(d)

    def _attach_docstrings(self, owner_of: _OwnerIndex) -> str:
        """Give @doc strings to their definitions; returns the module docstring."""
        module_doc = ""
        for node in self.docs:
            owner = owner_of.definition(node.start_byte)
            doc = _clean_docstring(_text(node))
            if owner is None:
                module_doc = module_doc or doc
            elif owner.doc_node is None:
                owner.docstring, owner.doc_node = doc, node
        return module_doc

    def _site(self, d: _Def, comments: list[Node]) -> DefSite:
        head, start_row = d.head or d.node, d.start_row
        if not d.docstring and comments:
            d.docstring = _clean_comments(comments)
        signature, _sig_start_row, sig_end_row = self._signature(d)
        end_row = _last_row(d.node)
        doc_lines = None
        if d.doc_node is not None:
            doc_lines = (d.doc_node.start_point.row + 1, d.doc_node.end_point.row + 1)
        site = DefSite(
            name=d.name, qualname=d.qualname, parent=d.parent, kind=d.kind,
            start_line=start_row + 1, end_line=end_row + 1, head_line=head.start_point.row + 1,
            sig_end_line=sig_end_row + 1, signature=signature, docstring=d.docstring, doc_lines=doc_lines,
        )
        if d.kind == CLASS:
            site.members = self._members(d)
        elif end_row - start_row + 1 > self.max_lines:
            site.split_lines = _statement_lines(d.body or d.node, self.max_lines)
        return site

    def _extent(self, d: _Def) -> list[Node]:
        """Set the head (node plus wrappers: decorators, export) and span start; return doc comments."""
        syntax = self.syntax
        head = d.node
        while True:
            parent = head.parent
            if parent is None or parent.type not in syntax.wrappers or _has_twin(parent, head):
                break
            head = parent
        start_row = head.start_point.row
        comments: list[Node] = []
        sibling = head.prev_named_sibling
        anchor = head
        while sibling is None and anchor.parent is not None and anchor.parent.start_byte == anchor.start_byte:
            anchor = anchor.parent  # first item of a body node (Ruby): look above the body
            sibling = anchor.prev_named_sibling
        while sibling is not None:
            is_comment = sibling.type in syntax.comments
            if not (is_comment and syntax.doc_comments) and sibling.type not in syntax.attributes:
                break
            if _last_row(sibling) < start_row - 1:
                break  # a blank line separates them
            before = sibling.prev_sibling
            if before is not None and _last_row(before) == sibling.start_point.row:
                break  # a trailing comment of the code before
            start_row = sibling.start_point.row
            if is_comment:
                comments.append(sibling)
            sibling = sibling.prev_named_sibling
        comments.reverse()
        d.head, d.start_row = head, start_row
        return comments

    def _signature(self, d: _Def) -> tuple[str, int, int]:
        """Header text from the definition's first line up to its body, annotations skipped (cached)."""
        if d.signature is None:
            d.signature = self._read_signature(d)
        return d.signature

    def _read_signature(self, d: _Def) -> tuple[str, int, int]:
        node = d.node
        row = node.start_point.row
        line_start = node.start_byte - node.start_point.column
        body = d.body
        end = body.start_byte if body is not None and body.start_byte > node.start_byte else node.end_byte
        if d.header is not None:
            end = d.header.end_byte
        for child in node.children:  # a comment between header and body is not part of the signature
            if node.start_byte < child.start_byte < end and child.type in self.syntax.comments:
                end = child.start_byte
                break
        raw_lines = self.source[line_start:end].decode("utf-8", "replace").split("\n")
        while len(raw_lines) > 1 and raw_lines[0].lstrip().startswith(("@", "#[", "[")):
            raw_lines.pop(0)
            row += 1
        raw_lines = raw_lines[:MAX_SIGNATURE_LINES]
        raw = "\n".join(raw_lines).rstrip()
        end_row = row + raw.count("\n")
        return textwrap.dedent(raw).strip(), row, end_row

    def _members(self, d: _Def) -> list[tuple[int, int, bool]]:
        """Rows of the class body items: signature rows for member definitions, whole rows otherwise."""
        body = d.body
        if body is None:
            return []
        members = []
        for child in body.named_children:
            if child.type in self.syntax.comments:
                continue
            member = self.heads.get(child.start_byte)
            if member is not None and member is not d and member.head is not None:
                sig_end = self._signature(member)[2]
                members.append((member.head.start_point.row + 1, sig_end + 1, True))
            else:
                members.append((child.start_point.row + 1, _last_row(child) + 1, False))
        return members

    # -- facts ---------------------------------------------------------------------------

    def _references(self, owner_of: _OwnerIndex) -> list[Reference]:
        refs: list[Reference] = []
        seen_calls: set[tuple[int, str]] = set()
        for node, name, receiver in self.calls:
            if not _IDENTIFIER.match(name) or (node.start_byte, name) in seen_calls:
                continue
            if node.start_byte in self.name_bytes:  # a definition's head written as a call (Elixir, Julia)
                continue
            seen_calls.add((node.start_byte, name))
            refs.append(Reference(CALL, name, owner_of.qualname(node.start_byte), node.start_point.row + 1,
                                  receiver))
        taken: set[tuple[str, str]] = set()
        for node in self.bases:
            receiver, name = _split_qualified(_text(node))
            if not _IDENTIFIER.match(name):
                continue
            source = owner_of.qualname(node.start_byte)
            taken.add((source, name))
            refs.append(Reference(INHERIT, name, source, node.start_point.row + 1, receiver))
        for node in self.type_refs:
            name = _text(node)
            source = owner_of.qualname(node.start_byte)
            if (source, name) in taken or not _IDENTIFIER.match(name):
                continue
            if node.start_byte in self.name_bytes or _is_type_parameter(node):
                continue
            taken.add((source, name))
            refs.append(Reference(REFERENCE, name, source, node.start_point.row + 1))
        refs.sort(key=lambda r: (r.line, r.kind, r.name))
        return refs

    def _module_plan(self, root: Node, sites: list[DefSite], docstring: str) -> ModulePlan:
        """Lines outside every definition, with the rows where top-level statements start."""
        spans = sorted((s.start_line, s.end_line) for s in sites)
        kept: list[int] = []
        line = 1
        last = len(self.lines)
        for start, end in spans:
            if start > line:
                kept.extend(range(line, start))
            line = max(line, end + 1)
        kept.extend(range(line, last + 1))
        boundaries = frozenset(child.start_point.row + 1 for child in root.named_children)
        return ModulePlan(lines=kept, boundaries=boundaries, docstring=docstring)


class _OwnerIndex:
    """Innermost enclosing definition of a byte offset, by bisection over flattened nesting."""

    def __init__(self, defs: list[_Def]):
        self.starts: list[int] = [0]
        self.owners: list[_Def | None] = [None]
        stack: list[_Def] = []
        for d in defs:  # sorted by (start, -end): properly nested tree nodes
            while stack and stack[-1].node.end_byte <= d.node.start_byte:
                self._mark(stack.pop().node.end_byte, stack[-1] if stack else None)
            stack.append(d)
            self._mark(d.node.start_byte, d)
        while stack:
            self._mark(stack.pop().node.end_byte, stack[-1] if stack else None)

    def _mark(self, offset: int, owner: _Def | None) -> None:
        if self.starts[-1] == offset:
            self.owners[-1] = owner
        else:
            self.starts.append(offset)
            self.owners.append(owner)

    def definition(self, offset: int) -> _Def | None:
        return self.owners[bisect_right(self.starts, offset) - 1]

    def qualname(self, offset: int) -> str:
        owner = self.definition(offset)
        return owner.qualname if owner is not None else ""


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def _squash(text: str) -> str:
    """Whitespace-free qualified name: 'foo\\n  .bar' -> 'foo.bar'."""
    return _SPACED_SEPARATOR.sub(r"\1", " ".join(text.split()))


def _strip_generics(text: str) -> str:
    previous = None
    while previous != text and "<" in text:
        previous, text = text, _GENERIC_ARGS.sub("", text)
    return text.replace("::::", "::")


def _split_qualified(text: str) -> tuple[str, str]:
    """('os.path', 'join') from 'os.path.join'; generic arguments and whitespace dropped."""
    text = _squash(_strip_generics(text))
    last = None
    for match in _SEPARATOR.finditer(text):
        last = match
    if last is None:
        return "", text
    return text[: last.start()], text[last.end():]


def _last_segment(text: str) -> str:
    return _split_qualified(text)[1]


def _normalise_owner(text: str) -> str:
    """Owner type as a qualname: generics, pointers and '::'/'\\' separators removed."""
    text = _squash(_strip_generics(text)).lstrip("*&(").rstrip(")")
    return re.sub(r"::|->|\\|:", ".", text).strip(".")


def _unquote(text: str) -> str:
    return text.strip().strip("\"'`<>")


def _last_row(node: Node) -> int:
    """Last row holding text of ``node`` (some nodes, like Rust line comments, end on the next row)."""
    row = node.end_point.row
    return row - 1 if node.end_point.column == 0 and row > node.start_point.row else row


def _has_twin(parent: Node, child: Node) -> bool:
    """Whether a wrapper holds another node like ``child`` (e.g. two specs in one Go type block)."""
    return any(c.type == child.type and c.start_byte != child.start_byte for c in parent.named_children)


def _is_type_parameter(node: Node) -> bool:
    """Whether ``node`` declares a generic parameter (``T`` in ``<T>``) rather than using a type."""
    parent = node.parent
    return parent is not None and "type_parameter" in parent.type


def _statement_lines(body: Node, max_rows: int) -> tuple[int, ...]:
    """Lines where statements start inside ``body``, descending into statements too long to keep whole."""
    lines: set[int] = set()
    pending = [body]
    while pending:
        node = pending.pop()
        for child in node.named_children:
            lines.add(child.start_point.row + 1)
            if child.end_point.row - child.start_point.row + 1 > max_rows:
                pending.append(child)
    return tuple(sorted(lines))


def _error_lines(root: Node, limit: int = 5) -> list[int]:
    rows: list[int] = []
    pending = [root]
    while pending and len(rows) < limit:
        node = pending.pop()
        if node.is_error or node.is_missing:
            rows.append(node.start_point.row + 1)
        elif node.has_error:
            pending.extend(reversed(node.children))
    return sorted(set(rows))


def _clean_docstring(text: str) -> str:
    """Body of a string-literal docstring, prefix and quotes removed, indentation cleaned."""
    text = _STRING_PREFIX.sub("", text.strip(), count=1)
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote) and text.endswith(quote) and len(text) >= 2 * len(quote):
            text = text[len(quote): -len(quote)]
            break
    return inspect.cleandoc(text)


def _clean_comments(nodes: list[Node]) -> str:
    """Doc comment text without comment markers ('/**', '*', '///', '#', '--')."""
    out: list[str] = []
    for node in nodes:
        for line in _text(node).strip().split("\n"):
            line = _COMMENT_SUFFIX.sub("", _COMMENT_PREFIX.sub("", line.strip()))
            out.append(_XML_DOC_TAG.sub("", line).rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)

