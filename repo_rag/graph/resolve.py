"""Resolve the names a file uses into graph nodes, one file at a time.

Static and name based (no type inference). A call is tried, with decreasing confidence, against:
the enclosing class and its bases (``self.m()``, ``super().m()``, Java's implicit ``this``); a
function nested in the caller; the file's own top-level definitions; the names it imports (alias
aware, through re-exports and ``import *``); its package (Go, Java, ...); for ``obj.m()`` the
classes the caller itself names (parameter annotations, constructors, its callees' signatures),
then methods of classes the file can see; finally a repo-wide name index (one candidate: low
confidence, up to :data:`MAX_CANDIDATES`: split confidence, more: recorded as unresolved).

Every answer records what it depended on: the files whose facts it read, and the names it looked
up in the repo-wide name index. Memoised answers carry their own record, so a file's dependencies
are exact however the memo was filled: that is what lets an incremental update re-resolve only the
files a change can affect.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from repo_rag.indexers.languages import DOC_LANGUAGES
from repo_rag.indexers.model import CALL, FUNCTION, INHERIT, REFERENCE, Import

from .facts import Ref
from .lang import (
    CONSTRUCTOR_NAMES,
    IMPLICIT_THIS,
    PACKAGE_SCOPE,
    SELF_RECEIVERS,
    SUPER_CONSTRUCTOR,
    SUPER_RECEIVERS,
    default_import_name,
    family,
    is_builtin,
)
from .schema import (
    AMBIGUOUS,
    CONFIDENCE,
    DOC_UNIQUE_CONFIDENCE,
    EDGE_CALLS,
    EDGE_DOCUMENTS,
    EDGE_IMPORTS,
    EDGE_INHERITS,
    EDGE_REFERENCES,
    EDGE_TESTS,
    IMPORT_RESOLVED,
    IMPORT_SUFFIX,
    IMPORTED_NAME,
    MAX_CANDIDATES,
    MODULE_ATTRIBUTE,
    QUALIFIED_NAME,
    RECEIVER_METHOD,
    RECEIVER_TYPE,
    SAME_FILE,
    SAME_PACKAGE,
    SELF_METHOD,
    SUBCLASS_METHOD,
    SUPER_METHOD,
    TEST_CALL,
    UNIQUE_GLOBAL,
    dir_dependency,
    dir_of,
    path_of,
    qualified_match,
    section_id,
    symbol_id,
)
from .tables import Tables

_MAX_CHAIN = 32  # attribute/re-export steps followed per lookup
_NAME = "\x00"  # marks a name-index lookup among the consulted file paths
_MAX_ANCESTORS = 64
T = TypeVar("T")


@dataclass(frozen=True)
class Hit:
    """Where a name resolved to (node ids), how, and how sure."""

    targets: tuple[str, ...]
    provenance: str
    confidence: float


EXTERNAL = Hit((), "external", 0.0)  # bound to code outside the repo: never guessed further
_NONE: tuple[str, ...] = ()

# What a local name stands for, resolved lazily:
#   ("node", id)          a repo file, dir or symbol
#   ("attr", id, name)    attribute ``name`` of a repo module/package/class (from x import name)
#   ("pymod", dotted)     a Python module by absolute name (``import a.b`` binds 'a')
#   ("external", spec)    something outside the repo
Binding = tuple[str, ...]


@dataclass
class FileEdges:
    """What resolving one file produced; every edge's source node lies in that file."""

    edges: dict[tuple[str, str, str], dict] = field(default_factory=dict)
    unresolved: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    deps: frozenset[str] = frozenset()  # other files whose facts were consulted
    names: frozenset[str] = frozenset()  # names looked up in the repo-wide index

    def add(self, u: str, v: str, etype: str, provenance: str, confidence: float, line: int) -> None:
        """One edge per (u, v, type): best confidence (earliest line on ties), first line, use count."""
        if u == v:
            return
        confidence = round(confidence, 4)
        old = self.edges.get((u, v, etype))
        if old is None:
            self.edges[(u, v, etype)] = {
                "type": etype, "confidence": confidence, "provenance": provenance, "line": line, "count": 1,
            }
            return
        old["count"] += 1
        if (confidence, -line) > (old["confidence"], -old["line"]):
            old["confidence"], old["provenance"] = confidence, provenance
        old["line"] = min(old["line"], line)


def receiver_parts(receiver: str) -> list[str]:
    """'self.repo' -> ['self', 'repo']; call results and literals ('f(x)', '"a"') -> []."""
    if not receiver:
        return []
    parts = receiver.strip().replace("?.", ".").replace("->", ".").replace("::", ".").split(".")
    if all(p.isidentifier() or (p[:1] == "$" and p[1:].isidentifier()) for p in parts):
        return parts
    return []


class Resolver:
    """Name lookups over :class:`Tables`, memoised together with the files each answer consulted."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables
        self.facts = tables.facts
        self._consulted: set[str] = set()
        self._cycles = 0
        self._busy: set[tuple] = set()
        self._memo: dict[tuple, tuple[object, frozenset[str]]] = {}
        self._bindings: dict[str, tuple[dict[str, Binding], list[Binding]]] = {}
        self._refs_by_source: dict[str, dict[str, list[Ref]]] = {}
        self._candidates: dict[tuple[str, str, str, bool], tuple[str, ...]] = {}
        self._docs: dict[str, tuple[str, ...]] = {}
        self._sections: dict[str, set[str]] = {}
        self._receivers: dict[str, list[str]] = {}

    # -- dependency tracking -------------------------------------------------------------------
    def _touch(self, path: str) -> None:
        self._consulted.add(path)

    def _touch_dir(self, d: str) -> None:
        """Depend on every file of directory ``d`` (a package): one entry, not one per file."""
        self._consulted.add(dir_dependency(d))

    def _uses_name(self, name: str) -> None:
        self._consulted.add(_NAME + name)

    def _memoised(self, key: tuple, default: T, compute: Callable[..., T], *args: object) -> T:
        """``compute(*args)`` once per key, remembering the files it consulted; cycles give ``default``.

        A result computed while a cycle was cut depends on where the cycle was entered, so it is
        not stored (recomputing keeps full and incremental builds identical).
        """
        hit = self._memo.get(key)
        if hit is None:
            if key in self._busy:
                self._cycles += 1
                return default
            outer, self._consulted = self._consulted, set()
            cycles = self._cycles
            self._busy.add(key)
            try:
                value = compute(*args)
            finally:
                self._busy.discard(key)
                inner, self._consulted = self._consulted, outer
            hit = (value, frozenset(inner))
            if self._cycles == cycles:
                self._memo[key] = hit
        self._consulted |= hit[1]
        return hit[0]

    def _refs_of(self, path: str) -> dict[str, list[Ref]]:
        self._touch(path)
        grouped = self._refs_by_source.get(path)
        if grouped is None:
            grouped = defaultdict(list)
            for ref in self.facts.refs.get(path, ()):
                grouped[ref.source].append(ref)
            self._refs_by_source[path] = grouped
        return grouped

    def _parts(self, receiver: str) -> list[str]:
        parts = self._receivers.get(receiver)
        if parts is None:
            parts = self._receivers[receiver] = receiver_parts(receiver)
        return parts

    # -- bindings: what each local name of a file stands for -----------------------------------
    def bindings(self, path: str) -> tuple[dict[str, Binding], list[Binding]]:
        """(local name -> binding, star-imported targets) from the file's imports."""
        self._touch(path)
        cached = self._bindings.get(path)
        if cached is None:
            cached = self._bindings[path] = self._compute_bindings(path)
        return cached

    def _compute_bindings(self, path: str) -> tuple[dict[str, Binding], list[Binding]]:
        names: dict[str, Binding] = {}
        stars: list[Binding] = []
        lang = self.t.language.get(path, "")
        for imp in self.facts.imports.get(path, ()):
            base, _exact = self.import_base(path, imp)
            base_b: Binding = ("node", base) if base else ("external", imp.module)
            if lang == "python" and not imp.names:
                if imp.alias:
                    names[imp.alias] = base_b
                elif imp.module and not imp.level:
                    names.setdefault(imp.module.split(".")[0], ("pymod", imp.module.split(".")[0]))
                continue
            if not imp.names:
                local = imp.alias or default_import_name(lang, imp.module)
                if local == ".":  # Go dot-import
                    stars.append(base_b)
                elif local and local != "_":
                    names[local] = base_b
                continue
            for name, alias in imp.names:
                if name == "*":
                    if alias and alias != "*":
                        names[alias] = base_b
                    else:
                        stars.append(base_b)
                    continue
                local = alias or name
                if not base:
                    names[local] = ("external", imp.module)
                elif name == "default":  # JS default export: usually named like its local name
                    names[local] = ("attr", base, local)
                else:
                    names[local] = ("attr", base, name)
        return names, stars

    def import_base(self, path: str, imp: Import) -> tuple[str | None, bool]:
        """The repo node an import statement names (file, dir or symbol) and whether exactly."""
        lang = self.t.language.get(path, "")
        fam = family(lang)
        module = imp.module
        if lang == "python":
            if imp.level:
                return self.t.py_relative(path, imp.level, module.lstrip(".")), True
            found = self.t.py_module(module, path)
            return found if found else (None, False)
        if fam == "js":
            return self.t.js_module(module, path), True
        if lang == "go":
            found = self.t.go_package(module)
            return found if found else (None, False)
        if fam == "c":  # #include "x.h": next to the file, else a unique path suffix
            target = posixpath.normpath(posixpath.join(dir_of(path), module))
            if target in self.t.files:
                return target, True
            return self.t.suffix_file(module), False
        return self._dotted_base(path, imp, fam)

    def _dotted_base(self, path: str, imp: Import, fam: str) -> tuple[str | None, bool]:
        """Java-like 'a.b.C' / 'a.b.C.member' / 'a.b.*', and path-like specs of other languages."""
        spec = imp.module.strip().rstrip(";")
        if spec.startswith("."):
            return self.t.js_module(spec, path), True
        wildcard = any(n == "*" for n, _ in imp.names) or spec.endswith(("*", ".*"))
        parts = [p for p in spec.replace("::", ".").replace("\\", ".").replace("/", ".").split(".") if p]
        if wildcard:
            parts = [p for p in parts if p != "*"]
            d = self.t.suffix_dir(parts) if parts else None
            return (d, True) if d else (None, False)
        for k in range(len(parts), min(2, len(parts)) - 1, -1):
            target = self.t.suffix_module(parts[:k], fam)
            if target is None:
                continue
            node = self.t.top.get(target, {}).get(parts[k - 1]) or target
            for member in parts[k:]:
                nxt = self.t.members.get(node, {}).get(member) if node != target else None
                if nxt is None:
                    break
                node = nxt
            return node, True
        return None, False

    # -- scope lookup ----------------------------------------------------------------------------
    def scope(self, path: str, name: str) -> Hit | None:
        """What ``name`` means at the top level of ``path``: own definitions, imports, package."""
        hit = self._memo.get(("scope", path, name))
        if hit is not None:
            self._consulted |= hit[1]
            return hit[0]
        return self._memoised(("scope", path, name), None, self._scope, path, name)

    def _scope(self, path: str, name: str) -> Hit | None:
        self._touch(path)
        own = self.t.top.get(path, {}).get(name)
        if own:
            return Hit((own,), SAME_FILE, CONFIDENCE[SAME_FILE])
        names, stars = self.bindings(path)
        binding = names.get(name)
        if binding is not None:
            targets = self._binding_targets(path, binding, set())
            if targets is None:
                return EXTERNAL
            if targets:
                return Hit(targets, IMPORTED_NAME, CONFIDENCE[IMPORTED_NAME])
        for star in stars:
            if star[0] == "node":
                found = self.attr(star[1], name, set())
                if found:
                    return Hit(found, IMPORTED_NAME, CONFIDENCE[IMPORTED_NAME] - 0.1)
        if self.t.language.get(path) in PACKAGE_SCOPE:
            found = self._package_lookup(path, name)
            if found:
                return Hit(found, SAME_PACKAGE, CONFIDENCE[SAME_PACKAGE])
        return None

    def _package_lookup(self, path: str, name: str) -> tuple[str, ...]:
        """Top-level ``name`` in the other files of the package (same directory and language family;
        test files only for tests). Depends on every file of the directory: one entry records that."""
        language, is_test, file_of = self.t.language, self.t.is_test, self.t.file_of
        fam = family(language.get(path, ""))
        caller_test = is_test[path]
        d = self.t.dir_of_file[path]
        self._touch_dir(d)
        out = []
        for node in self.t.dir_top(d).get(name, ()):
            other = file_of[node]
            if other != path and family(language[other]) == fam and (caller_test or not is_test[other]):
                out.append(node)
        return tuple(out)

    def _binding_targets(self, path: str, binding: Binding, seen: set) -> tuple[str, ...] | None:
        """Nodes a binding stands for; None when it leads outside the repo."""
        kind = binding[0]
        if kind == "node":
            return (binding[1],)
        if kind == "attr":
            return self.attr(binding[1], binding[2], seen)
        if kind == "pymod":
            found = self.t.py_module(binding[1], path)
            return (found[0],) if found else None
        return None

    def attr(self, target: str, name: str, seen: set) -> tuple[str, ...]:
        """Nodes named ``name`` inside ``target`` (a module file, a package dir or a class)."""
        if (target, name) in seen or len(seen) > _MAX_CHAIN:
            return _NONE
        seen.add((target, name))
        if "::" in target:
            member = self.member(target, name)
            return (member,) if member else _NONE
        if target.endswith("/"):
            return self._dir_attr(target, name)
        self._touch(target)
        own = self.t.top.get(target, {}).get(name)
        if own:
            return (own,)
        names, stars = self.bindings(target)
        binding = names.get(name)
        if binding is not None:  # re-export: 'from .x import y' in a package __init__ / index.ts
            found = self._binding_targets(target, binding, seen)
            if found:
                return found
        if self.t.language.get(target) == "python":
            sub = self.t.py_submodule(target, name)
            if sub:
                return (sub,)
        for star in stars:
            if star[0] == "node":
                found = self.attr(star[1], name, seen)
                if found:
                    return found
        return _NONE

    def _dir_attr(self, d: str, name: str) -> tuple[str, ...]:
        """A package directory's member: Python submodule, or a top-level definition of its (non-test)
        files."""
        if d in self.t.python_dirs or d not in self.t.files_in_dir:
            sub = self.t.py_submodule(d, name)
            return (sub,) if sub else _NONE
        self._touch_dir(d)
        is_test, file_of = self.t.is_test, self.t.file_of
        return tuple(node for node in self.t.dir_top(d).get(name, ()) if not is_test[file_of[node]])

    def walk(self, path: str, parts: list[str]) -> Hit | None:
        """Resolve a dotted expression ('mod.Class', 'pkg.sub.f', 'Class.method') from ``path``."""
        names, _ = self.bindings(path)
        binding = names.get(parts[0])
        if binding is not None and binding[0] == "pymod" and parts[0] not in self.t.top.get(path, {}):
            # import a.b.c binds 'a': take the longest dotted prefix that is a repo module
            for k in range(len(parts), 0, -1):
                found = self.t.py_module(".".join(parts[:k]), path)
                if found:
                    return self._walk_from(Hit((found[0],), MODULE_ATTRIBUTE, CONFIDENCE[MODULE_ATTRIBUTE]),
                                           parts[k:])
            return EXTERNAL
        head = self.scope(path, parts[0])
        if head is None or head is EXTERNAL:
            return head
        return self._walk_from(head, parts[1:])

    def _walk_from(self, hit: Hit, rest: list[str]) -> Hit | None:
        targets = hit.targets
        for part in rest:
            found: dict[str, None] = {}
            for target in targets:
                found.update(dict.fromkeys(self.attr(target, part, set())))
            if not found:
                return None
            targets = tuple(found)
        if not rest:
            return hit
        return Hit(targets, MODULE_ATTRIBUTE, min(hit.confidence, CONFIDENCE[MODULE_ATTRIBUTE]))

    # -- classes -----------------------------------------------------------------------------------
    def bases(self, class_id: str) -> tuple[str, ...]:
        """Resolved direct bases of a class node."""
        return self._memoised(("bases", class_id), _NONE, self._bases, class_id)

    def _bases(self, class_id: str) -> tuple[str, ...]:
        path, qual = class_id.split("::", 1)
        out: list[str] = []
        for ref in self._refs_of(path).get(qual, ()):
            if ref.kind == INHERIT:
                hit = self.resolve_type(path, ref)
                if hit:
                    out.extend(t for t in hit.targets if t != class_id and t not in out)
        return tuple(out)

    def ancestors(self, class_id: str) -> tuple[str, ...]:
        """The class and its bases, breadth first."""
        return self._memoised(("ancestors", class_id), (class_id,), self._ancestors, class_id)

    def _ancestors(self, class_id: str) -> tuple[str, ...]:
        out, queue, seen = [], deque([class_id]), {class_id}
        while queue and len(out) < _MAX_ANCESTORS:
            cls = queue.popleft()
            out.append(cls)
            path = self.t.file_of[cls]
            self._touch(path)  # member() reads the members of each; Go methods may sit in any package file
            if self.t.language.get(path) == "go":
                self._touch_dir(self.t.dir_of_file[path])
            for base in self.bases(cls):
                if base not in seen:
                    seen.add(base)
                    queue.append(base)
        return tuple(out)

    def member(self, class_id: str, name: str) -> str | None:
        """``name`` defined in the class or, breadth first, in its bases."""
        members = self.t.members
        for cls in self.ancestors(class_id):
            found = members.get(cls, {}).get(name) if cls in members else None
            if found:
                return found
        return None

    def enclosing_class(self, path: str, source: str) -> str | None:
        """The innermost class around ``source`` (for Go: the receiver type, maybe in another file)."""
        return self._memoised(("class", path, source), None, self._enclosing_class, path, source)

    def _enclosing_class(self, path: str, source: str) -> str | None:
        defs = self.facts.defs.get(path, {})
        qual = source
        while qual:
            d = defs.get(qual)
            if d is not None and self.t.is_class(symbol_id(path, qual)):
                return symbol_id(path, qual)
            if d is None and "." not in qual and self.t.language.get(path) == "go":
                self._touch_dir(self.t.dir_of_file[path])
                owner = self.t.package_class(path, qual)
                if owner:
                    return owner
            qual = qual.rsplit(".", 1)[0] if "." in qual else ""
        return None

    def _constructor(self, class_id: str) -> str:
        members = self.t.members.get(class_id, {})
        short = class_id.split("::", 1)[1].rsplit(".", 1)[-1]
        return next((members[n] for n in (*CONSTRUCTOR_NAMES, short) if n in members), class_id)

    # -- candidates by name ------------------------------------------------------------------------
    def _named(self, name: str, fam: str, want: str, with_tests: bool) -> tuple[str, ...]:
        """Definitions called ``name`` in a language family: 'method', or top-level 'callable' / 'class'."""
        self._uses_name(name)
        key = (name, fam, want, with_tests)
        found = self._candidates.get(key)
        if found is None:
            t = self.t
            test = t.is_test
            if want == "method":
                keep = t.is_method
            else:  # a bare name reaches only top-level definitions of other files
                def keep(n: str) -> bool:
                    return "." not in n.split("::", 1)[1] and (want != "class" or t.is_class(n))
            found = self._candidates[key] = tuple(
                n for n in t.by_name.get(name, ())
                if keep(n) and t.family_of(n) == fam and (with_tests or not test[path_of(n)])
            )
        return found

    def _global(self, path: str, name: str, want: str) -> Hit | None:
        """Repo-wide fallback by name within the caller's language family."""
        cands = self._named(name, family(self.t.language[path]), want, self.t.is_test[path])
        return _split(cands, UNIQUE_GLOBAL)

    # -- references --------------------------------------------------------------------------------
    def resolve_type(self, path: str, ref: Ref) -> Hit | None:
        """A base-class name: scoped lookup, then class names of the language family."""
        hit = self._scoped(path, ref)
        if hit is EXTERNAL:
            return None
        if hit is not None:
            classes = tuple(t for t in hit.targets if self.t.is_class(t))
            return Hit(classes, hit.provenance, hit.confidence) if classes else None
        if is_builtin(self.t.language[path], ref.name) or (ref.receiver and not self._parts(ref.receiver)):
            return None
        return self._global(path, ref.name, "class")

    def resolve_reference(self, path: str, ref: Ref) -> Hit | None:
        """A name used without a call (mostly a type): scoped lookup, then a unique global name."""
        hit = self._scoped(path, ref)
        if hit is EXTERNAL:
            return None
        if hit is not None or is_builtin(self.t.language[path], ref.name) or ref.receiver:
            return hit
        hit = self._global(path, ref.name, "callable")
        return hit if hit and hit.provenance == UNIQUE_GLOBAL else None

    def _scoped(self, path: str, ref: Ref) -> Hit | None:
        if not ref.receiver:
            return self.scope(path, ref.name)
        parts = self._parts(ref.receiver)
        if not parts or parts[0] in SELF_RECEIVERS:
            return None
        return self.walk(path, [*parts, ref.name])

    def resolve_call(self, path: str, ref: Ref, caller: str, visible: frozenset[str]) -> Hit | None:
        """Targets of a call; None when nothing in the repo can be meant, no targets when too many.

        ``visible``: the files, and the directories ('pkg/') all of whose files, the caller can see."""
        lang = self.t.language[path]
        receiver, name = ref.receiver, ref.name
        cls = self.enclosing_class(path, ref.source) if ref.source else None
        if receiver in SELF_RECEIVERS or (not receiver and cls and lang in IMPLICIT_THIS):
            if cls:
                found = self.member(cls, name)
                if found:
                    return Hit((found,), SELF_METHOD, CONFIDENCE[SELF_METHOD])
                if receiver:
                    return self._subclass_method(path, cls, name, caller)
            elif receiver:
                return self._method_by_name(path, name, caller, visible)
        bare_super = not receiver and name in ("super", "base") and lang in SUPER_CONSTRUCTOR
        if receiver in SUPER_RECEIVERS or bare_super:
            for base in self.bases(cls) if cls else ():
                found = self.member(base, name) if receiver else self._constructor(base)
                if found:
                    return Hit((found,), SUPER_METHOD, CONFIDENCE[SUPER_METHOD])
            return None
        if receiver:
            return self._receiver_call(path, ref, caller, cls, visible)
        # a bare name: a function nested in an enclosing function, then the file scope
        defs = self.facts.defs.get(path, {})
        qual = ref.source
        while qual:
            inner = f"{qual}.{name}"
            if inner in defs and not self.t.is_class(symbol_id(path, qual)):
                return Hit((symbol_id(path, inner),), SAME_FILE, CONFIDENCE[SAME_FILE])
            qual = qual.rsplit(".", 1)[0] if "." in qual else ""
        hit = self.scope(path, name)
        if hit is EXTERNAL or (hit is None and is_builtin(lang, name)):
            return None
        return hit if hit is not None else self._global(path, name, "callable")

    def _receiver_call(self, path: str, ref: Ref, caller: str, cls: str | None,
                       visible: frozenset[str]) -> Hit | None:
        """``x.m()``: a module/class prefix we can resolve, else ``x``'s likely class, else by name."""
        parts = self._parts(ref.receiver)
        if parts and parts[0] not in SELF_RECEIVERS:
            hit = self.walk(path, parts)
            if hit is EXTERNAL:
                return None
            if hit is not None:
                found: dict[str, None] = {}
                for target in hit.targets:
                    found.update(dict.fromkeys(self.attr(target, ref.name, set())))
                if found:
                    confidence = min(hit.confidence, CONFIDENCE[MODULE_ATTRIBUTE])
                    return Hit(tuple(found), MODULE_ATTRIBUTE, confidence)
                return None
        go_receiver = self.t.language[path] == "go" and cls is not None and len(parts) >= 1
        if cls is not None and go_receiver and len(parts) == 1:  # probably the method's receiver variable
            found_m = self.member(cls, ref.name)
            if found_m:
                return Hit((found_m,), RECEIVER_TYPE, CONFIDENCE[RECEIVER_TYPE])
        on_self = bool(parts) and (parts[0] in SELF_RECEIVERS or go_receiver) and len(parts) > 1
        typed: dict[str, None] = {}
        for klass in self._evidence(path, ref.source, cls, on_self):
            found_e = self.member(klass, ref.name)
            if found_e and found_e != caller:
                typed[found_e] = None
        if typed and len(typed) <= MAX_CANDIDATES:
            return Hit(tuple(typed), RECEIVER_TYPE, CONFIDENCE[RECEIVER_TYPE] / len(typed))
        return self._method_by_name(path, ref.name, caller, visible)

    def _evidence(self, path: str, source: str, cls: str | None, on_self: bool) -> tuple[str, ...]:
        """Classes the caller names (annotations, constructor calls, signature types of the functions it
        calls), those its class body names (fields) and, for ``self.x.m()``, those its class's other
        members name."""
        out = dict.fromkeys(self._named_classes(path, source))
        if cls and path_of(cls) == path:
            out.update(dict.fromkeys(self._named_classes(path, cls.split("::", 1)[1])))
            if on_self:
                out.update(dict.fromkeys(self._member_classes(cls)))
                out.pop(cls, None)
        return tuple(out)

    def _named_classes(self, path: str, source: str) -> tuple[str, ...]:
        return self._memoised(("named", path, source), _NONE, self._compute_named, path, source)

    def _compute_named(self, path: str, source: str) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for ref in self._refs_of(path).get(source, ()):
            if ref.kind == INHERIT:
                continue
            hit = self._scoped(path, ref)
            if hit is None and ref.kind == REFERENCE and not is_builtin(self.t.language[path], ref.name):
                # a type named without its package ('Repository' for store.Repository): a unique class
                # name will do (a name of this file, so a change to its definitions re-resolves us)
                hit = self._global(path, ref.name, "class")
                hit = hit if hit and len(hit.targets) == 1 else None
            for target in hit.targets if hit else ():
                if self.t.is_class(target):
                    out[target] = None
                elif ref.kind == CALL and self.t.kind.get(target) == FUNCTION:
                    out.update(dict.fromkeys(self._signature_classes(target)))
        return tuple(out)

    def _member_classes(self, class_id: str) -> tuple[str, ...]:
        return self._memoised(("members", class_id), _NONE, self._compute_member_classes, class_id)

    def _compute_member_classes(self, class_id: str) -> tuple[str, ...]:
        path, qual = class_id.split("::", 1)
        out: dict[str, None] = {}
        for source in self._refs_of(path):
            if source.startswith(qual + "."):
                out.update(dict.fromkeys(self._named_classes(path, source)))
        return tuple(out)

    def _signature_classes(self, function: str) -> tuple[str, ...]:
        """Classes a function names in its signature or constructs (its likely return types)."""
        return self._memoised(("signature", function), _NONE, self._compute_signature, function)

    def _compute_signature(self, function: str) -> tuple[str, ...]:
        path, qual = function.split("::", 1)
        out: dict[str, None] = {}
        for ref in self._refs_of(path).get(qual, ()):
            if ref.kind == REFERENCE or (ref.kind == CALL and not ref.receiver):
                hit = self._scoped(path, ref)
                out.update((t, None) for t in (hit.targets if hit else ()) if self.t.is_class(t))
        return tuple(out)

    def _method_by_name(self, path: str, name: str, caller: str, visible: frozenset[str]) -> Hit | None:
        """A method call on a receiver we cannot type: prefer methods in files the caller can see."""
        cands = [m for m in self._named(name, family(self.t.language[path]), "method", self.t.is_test[path])
                 if m != caller]
        file_of, dir_of_file = self.t.file_of, self.t.dir_of_file
        seen = tuple(m for m in cands if file_of[m] in visible or dir_of_file[file_of[m]] in visible)
        if seen:
            return _split(seen, RECEIVER_METHOD)
        return _split(tuple(cands), UNIQUE_GLOBAL)

    def _subclass_method(self, path: str, cls: str, name: str, caller: str) -> Hit | None:
        """``self.m()`` with ``m`` defined only below the class (template method pattern)."""
        cands = self._named(name, family(self.t.language[path]), "method", self.t.is_test[path])
        below = tuple(m for m in cands if m != caller and m in self.t.class_of
                      and cls in self.ancestors(self.t.class_of[m])[1:])
        hit = _split(below, SUBCLASS_METHOD)
        return hit if hit and hit.targets else None

    # -- documentation -------------------------------------------------------------------------------
    def resolve_doc(self, dotted: str) -> Hit | None:
        """A symbol named in prose: a qualified name must match one symbol, a bare name be unique."""
        dotted = dotted.strip().lstrip("~").removesuffix("()").strip(".")
        if not dotted:
            return None
        parts = dotted.split(".")
        self._uses_name(parts[-1])
        cached = self._docs.get(dotted)
        if cached is None:
            test = self.t.is_test
            cached = self._docs[dotted] = tuple(
                n for n in self.t.by_name.get(parts[-1], ())
                if not test[path_of(n)] and (len(parts) == 1 or qualified_match(n, dotted))
            )
        if len(cached) != 1:
            return None
        if len(parts) > 1:
            return Hit(cached, QUALIFIED_NAME, CONFIDENCE[QUALIFIED_NAME])
        return Hit(cached, UNIQUE_GLOBAL, DOC_UNIQUE_CONFIDENCE)

    # -- one file --------------------------------------------------------------------------------------
    def resolve_file(self, path: str) -> FileEdges:
        """All resolved (non-structural) edges whose source lies in ``path``."""
        out = FileEdges()
        self._consulted = set()
        visible = self._import_edges(path, out)
        lang = self.t.language[path]
        if lang in PACKAGE_SCOPE:
            visible.add(self.t.dir_of_file[path])  # the whole package
        frozen = frozenset(visible)
        is_doc = lang in DOC_LANGUAGES
        in_test = self.t.is_test[path]
        for ref in self.facts.refs.get(path, ()):
            if is_doc:
                doc = self.resolve_doc(f"{ref.receiver}.{ref.name}" if ref.receiver else ref.name)
                if doc is not None:
                    source = self._section_node(path, ref.source)
                    for target in doc.targets:
                        out.add(source, target, EDGE_DOCUMENTS, doc.provenance, doc.confidence, ref.line)
                continue
            source = self._source_node(path, ref.source)
            if ref.kind == INHERIT:
                if not self.t.is_class(source):
                    continue
                hit, etype = self.resolve_type(path, ref), EDGE_INHERITS
            elif ref.kind == CALL:
                hit, etype = self.resolve_call(path, ref, source, frozen), EDGE_CALLS
            else:
                hit, etype = self.resolve_reference(path, ref), EDGE_REFERENCES
            if hit is None:
                continue
            if not hit.targets:
                out.unresolved[source].add(ref.name)
                continue
            for target in hit.targets:
                out.add(source, target, etype, hit.provenance, hit.confidence, ref.line)
                if (etype == EDGE_CALLS and in_test and "::" in source and "::" in target
                        and not self.t.is_class(source) and not self.t.is_test[path_of(target)]):
                    out.add(source, target, EDGE_TESTS, TEST_CALL, hit.confidence, ref.line)
        out.deps = frozenset(p for p in self._consulted if p[:1] != _NAME and p != path)
        out.names = frozenset(p[1:] for p in self._consulted if p[:1] == _NAME)
        return out

    def _import_edges(self, path: str, out: FileEdges) -> set[str]:
        """imports edges (to the module a statement names, its submodules and named symbols);
        returns what the importing file can see: files, and directories ('pkg/') all of whose files
        it sees."""
        visible = {path}

        def see(node: str) -> None:
            visible.add(node if node.endswith("/") else path_of(node))

        for imp in self.facts.imports.get(path, ()):
            base, exact = self.import_base(path, imp)
            if not base:
                continue
            provenance = IMPORT_RESOLVED if exact else IMPORT_SUFFIX
            conf = CONFIDENCE[provenance]
            named = [n for n, _ in imp.names if n != "*"]
            to_base = not named
            for name in named:
                found = self.attr(base, name, set()) if "::" not in base else _NONE
                to_base = to_base or not found or any("::" in t for t in found)
                for target in found:
                    out.add(path, target, EDGE_IMPORTS, provenance, conf, imp.line)
                    see(target)
            if to_base:
                if "::" in base:
                    out.add(path, path_of(base), EDGE_IMPORTS, provenance, conf, imp.line)
                out.add(path, base, EDGE_IMPORTS, provenance, conf, imp.line)
                see(base)
        return visible

    def _source_node(self, path: str, source: str) -> str:
        defs = self.facts.defs.get(path, {})
        qual = source
        while qual:
            if qual in defs:
                return symbol_id(path, qual)
            qual = qual.rsplit(".", 1)[0] if "." in qual else ""
        return path

    def _section_node(self, path: str, source: str) -> str:
        known = self._sections.get(path)
        if known is None:
            known = self._sections[path] = {q for q, *_ in self.facts.sections.get(path, ())}
        qual = source
        while qual:
            if qual in known:
                return section_id(path, qual)
            qual = qual.rsplit(" > ", 1)[0] if " > " in qual else ""
        return path


def _split(cands: tuple[str, ...], provenance: str) -> Hit | None:
    """One candidate: ``provenance``; up to MAX_CANDIDATES: shared confidence; more: unresolved."""
    if not cands:
        return None
    if len(cands) == 1:
        return Hit(cands, provenance, CONFIDENCE[provenance])
    if len(cands) <= MAX_CANDIDATES:
        shared = provenance if provenance in (RECEIVER_METHOD, RECEIVER_TYPE, SUBCLASS_METHOD) else AMBIGUOUS
        return Hit(cands, shared, CONFIDENCE[provenance] / len(cands))
    return Hit(_NONE, AMBIGUOUS, 0.0)
