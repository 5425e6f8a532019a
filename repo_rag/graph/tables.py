"""Repo-wide lookup tables over the facts: names, class members, and module paths per language.

Always built in full (well under a second on Django) so an incremental update sees exactly the
tables a full build would.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict

from repo_rag.indexers.model import CLASS, METHOD, Definition
from repo_rag.indexers.testpaths import is_test_path

from .facts import Facts
from .lang import JS_EXTENSIONS, family
from .schema import dir_of, path_of, strip_ext, symbol_id


class Tables:
    """Definitions by file, name and class; module indexes for Python, JS/TS, Java-likes and Go."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.language = facts.language
        self.files = frozenset(facts.language)
        self.is_test = {p: is_test_path(p) for p in self.files}
        # Package-scoped languages (Go, Java, ...) look things up per directory: everything they
        # need is indexed by directory once (``dir_top``, ``package_class``), never by scanning the
        # files of a directory per lookup, which is quadratic in the size of a package.
        self.files_in_dir: dict[str, list[str]] = defaultdict(list)  # sorted
        self.dir_of_file: dict[str, str] = {}
        self.dirs: set[str] = set()
        for path in sorted(self.files):
            d = self.dir_of_file[path] = dir_of(path)
            self.files_in_dir[d].append(path)
            while d:
                self.dirs.add(d)
                d = dir_of(d)
        self.python_dirs = frozenset(self.dir_of_file[p] for p in self.files if self.language[p] == "python")
        self._dir_top: dict[str, dict[str, tuple[str, ...]]] = {}
        self._dir_classes: dict[str, dict[str, str]] = {}
        self.top: dict[str, dict[str, str]] = defaultdict(dict)  # path -> name -> top-level symbol
        self.members: dict[str, dict[str, str]] = defaultdict(dict)  # symbol -> name -> member symbol
        self.kind: dict[str, str] = {}  # symbol -> definition kind (class/function/method)
        self.by_name: dict[str, list[str]] = defaultdict(list)  # name -> symbols, sorted
        self.class_of: dict[str, str] = {}  # method -> its class
        self.file_of: dict[str, str] = {}  # symbol -> its file
        for path in sorted(facts.defs):
            self._index_definitions(path, facts.defs[path])
        for ids in self.by_name.values():
            ids.sort()
        self._index_python()
        self._index_paths()

    # -- definitions ---------------------------------------------------------------------------
    def _index_definitions(self, path: str, defs: dict[str, Definition]) -> None:
        for qual, d in defs.items():
            node = symbol_id(path, qual)
            self.kind[node] = d.kind
            self.file_of[node] = path
            self.by_name[d.name].append(node)
            parent = self.parent_qualname(path, qual)
            if parent is not None:
                owner = symbol_id(path, parent)
                self.members[owner].setdefault(d.name, node)
                if defs[parent].kind == CLASS:
                    self.class_of[node] = owner
            elif "." not in qual:
                self.top[path][d.name] = node
            elif self.language.get(path) == "go":  # a method declared in another file than its type
                owner = self.package_class(path, qual.rsplit(".", 1)[0])
                if owner:
                    self.members[owner].setdefault(d.name, node)
                    self.class_of[node] = owner

    def parent_qualname(self, path: str, qualname: str) -> str | None:
        """Longest proper prefix of ``qualname`` defined in the same file, or None."""
        defs = self.facts.defs.get(path, {})
        while "." in qualname:
            qualname = qualname.rsplit(".", 1)[0]
            if qualname in defs:
                return qualname
        return None

    def package_class(self, path: str, qualname: str) -> str | None:
        """A class of that qualname in the same directory (Go types and their methods may be apart);
        the first file of the directory that defines one wins."""
        d = dir_of(path)
        classes = self._dir_classes.get(d)
        if classes is None:
            classes = self._dir_classes[d] = {}
            for other in self.files_in_dir.get(d, ()):
                for qual, definition in self.facts.defs.get(other, {}).items():
                    if definition.kind == CLASS and qual not in classes:
                        classes[qual] = symbol_id(other, qual)
        return classes.get(qualname)

    def dir_top(self, d: str) -> dict[str, tuple[str, ...]]:
        """name -> the top-level definitions of that name in the files of directory ``d``, in file
        order (one per file): what a package (Go, Java, ...) or a package import sees."""
        found = self._dir_top.get(d)
        if found is None:
            by_name: dict[str, list[str]] = defaultdict(list)
            for path in self.files_in_dir.get(d, ()):
                for name, node in self.top.get(path, {}).items():
                    by_name[name].append(node)
            found = self._dir_top[d] = {name: tuple(nodes) for name, nodes in by_name.items()}
        return found

    def is_method(self, node: str) -> bool:
        return self.kind.get(node) == METHOD or node in self.class_of

    def is_class(self, node: str) -> bool:
        return self.kind.get(node) == CLASS

    def family_of(self, node: str) -> str:
        return family(self.language.get(path_of(node), ""))

    # -- Python modules --------------------------------------------------------------------------
    def _index_python(self) -> None:
        """Module names rooted at the top package (no __init__ above), by full path, and by suffix."""
        self.py_rooted: dict[str, list[str]] = defaultdict(list)
        self.py_full: dict[str, str] = {}
        self.py_suffix: dict[str, list[str]] = defaultdict(list)
        inits = ("__init__.py", "__init__.pyi")
        init_dirs = {dir_of(p) for p in self.files if posixpath.basename(p) in inits}
        py_files = sorted((p for p in self.files if self.language[p] == "python"),
                          key=lambda p: (p.endswith(".pyi"), p))  # .py wins over its stub
        for path in py_files:
            stem = strip_ext(path).split("/")
            is_init = stem[-1] == "__init__"
            parts = stem[:-1] if is_init else stem
            if not parts:
                continue
            self.py_full.setdefault(".".join(parts), path)
            count, d = 0, dir_of(path)
            while d in init_dirs:
                count += 1
                if not d:  # the repository root itself is a package
                    break
                d = dir_of(d)
            keep = count if is_init else count + 1
            if keep:
                self.py_rooted[".".join(parts[len(parts) - keep :])].append(path)
            for k in range(2, len(parts)):
                self.py_suffix[".".join(parts[-k:])].append(path)
        for d in sorted(self.dirs):  # namespace packages (no __init__) by their path from the root
            self.py_full.setdefault(d.rstrip("/").replace("/", "."), d)

    def py_module(self, name: str, from_path: str) -> tuple[str, bool] | None:
        """Repo file (or namespace dir) of absolute Python module ``name``, and whether exactly."""
        rooted = self.py_rooted.get(name)
        if rooted:
            return closest(rooted, from_path), True
        if name in self.py_full:
            return self.py_full[name], True
        sibling = dir_of(from_path) + name.replace(".", "/")  # scripts importing their neighbours
        for cand in (sibling + ".py", sibling + "/__init__.py", sibling + ".pyi"):
            if cand in self.files:
                return cand, True
        if "." in name:
            suffix = self.py_suffix.get(name, ())
            if len(suffix) == 1:
                return suffix[0], False
        return None

    def py_relative(self, from_path: str, level: int, module: str) -> str | None:
        """Target of ``from ..module import x`` (level 2) seen from ``from_path``."""
        d = dir_of(from_path)
        for _ in range(level - 1):
            d = dir_of(d)
        base = d + module.replace(".", "/") if module else d.rstrip("/")
        if not base:
            return None
        for cand in (base + ".py", base + "/__init__.py", base + ".pyi", base + "/__init__.pyi"):
            if cand in self.files:
                return cand
        return base + "/" if base + "/" in self.dirs else None

    def py_submodule(self, package: str, name: str) -> str | None:
        """Submodule ``name`` of a package given by its __init__ file or (namespace) directory."""
        if package.endswith("/"):
            d = package
        elif posixpath.basename(package).startswith("__init__."):
            d = dir_of(package)
        else:
            return None
        for cand in (f"{d}{name}.py", f"{d}{name}/__init__.py", f"{d}{name}.pyi"):
            if cand in self.files:
                return cand
        return f"{d}{name}/" if f"{d}{name}/" in self.dirs else None

    # -- other languages: paths ----------------------------------------------------------------
    def _index_paths(self) -> None:
        self.stems: dict[str, list[str]] = defaultdict(list)  # file name without extension -> paths
        for path in sorted(self.files):
            self.stems[posixpath.basename(strip_ext(path))].append(path)
        self.dirs_by_name: dict[str, list[str]] = defaultdict(list)
        for d in sorted(self.dirs):
            self.dirs_by_name[posixpath.basename(d.rstrip("/"))].append(d)

    def js_module(self, spec: str, from_path: str) -> str | None:
        """'./x' -> x.ts / x.tsx / x.js / x/index.ts ..., relative to the importing file."""
        if spec.startswith("."):
            base = posixpath.normpath(posixpath.join(dir_of(from_path), spec))
        else:
            base = spec.lstrip("/")  # repo-rooted specs (baseUrl '.'); packages simply do not match
        if base == ".." or base.startswith("../"):
            return None
        cands = [base, *(base + e for e in JS_EXTENSIONS), *(f"{base}/index{e}" for e in JS_EXTENSIONS)]
        stem, ext = posixpath.splitext(base)
        if ext in (".js", ".jsx", ".mjs", ".cjs"):  # ESM style './x.js' naming a TypeScript file
            cands += [stem + e for e in (".ts", ".tsx", ".mts", ".cts")]
        return next((c for c in cands if c in self.files), None)

    def suffix_module(self, parts: list[str], fam: str) -> str | None:
        """The file of family ``fam`` whose extension-less path ends with ``parts`` (if unique)."""
        if not parts:
            return None
        tail = "/".join(parts)
        found = [
            p for p in self.stems.get(parts[-1], ())
            if family(self.language[p]) == fam and (strip_ext(p) == tail or strip_ext(p).endswith("/" + tail))
        ]
        return found[0] if len(found) == 1 else None

    def suffix_file(self, spec: str) -> str | None:
        """The file whose path ends with ``spec`` ('util/str.h'), if unique."""
        tail = "/".join(p for p in spec.split("/") if p not in ("", ".", ".."))
        found = [p for p in self.stems.get(posixpath.basename(strip_ext(tail)), ())
                 if p == tail or p.endswith("/" + tail)]
        return found[0] if len(found) == 1 else None

    def suffix_dir(self, parts: list[str]) -> str | None:
        """The directory whose path ends with the longest tail of ``parts`` (if unique)."""
        for k in range(len(parts), 0, -1):
            tail = "/".join(parts[-k:]) + "/"
            found = [d for d in self.dirs_by_name.get(parts[-1], ()) if d == tail or d.endswith("/" + tail)]
            if len(found) == 1:
                return found[0]
            if found:
                return None
        return None

    def go_package(self, spec: str) -> tuple[str, bool] | None:
        """Directory of a Go import path: under a go.mod module, else by unique path suffix."""
        for module, moddir in self.facts.gomods:
            if spec == module or spec.startswith(module + "/"):
                rest = spec[len(module) :].strip("/")
                d = moddir + (rest + "/" if rest else "")
                if d and d in self.files_in_dir:
                    return d, True
        if "." not in spec.split("/", 1)[0]:
            return None  # the standard library has no dot in its first path element
        d = self.suffix_dir(spec.split("/"))
        return (d, False) if d and d in self.files_in_dir else None


def closest(paths: list[str], from_path: str) -> str:
    """The candidate sharing the longest prefix with ``from_path`` (ties: the first)."""
    if len(paths) == 1:
        return paths[0]
    return max(paths, key=lambda p: len(posixpath.commonprefix([p, from_path])))
