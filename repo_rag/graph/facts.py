"""The indexers' per-file facts, read from the store once and grouped by file for resolution."""

from __future__ import annotations

import os
import posixpath
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from repo_rag.indexers.model import Definition, Import

from ..store import Store
from .schema import dir_of


class Ref(NamedTuple):
    """A reference fact (same fields as ``indexers.model.Reference``, cheaper to build 200k of)."""

    kind: str
    name: str
    source: str
    line: int
    receiver: str


@dataclass
class Facts:
    """Every indexed file's language, definitions, imports, references and doc sections."""

    language: dict[str, str]
    hashes: dict[str, str]  # content hash per file: what an update compares with the previous graph
    n_lines: dict[str, int]
    defs: dict[str, dict[str, Definition]]  # path -> qualname -> first definition
    imports: dict[str, list[Import]]
    refs: dict[str, list[Ref]]
    sections: dict[str, list[tuple[str, str, int, int]]]  # path -> (qualname, name, start, end)
    gomods: list[tuple[str, str]]  # (module path, its directory), longest module first

    @classmethod
    def load(cls, store: Store) -> Facts:
        intern = sys.intern  # paths repeat in every fact: share one string (memory, saved-graph size)
        files = store.files()
        language = {intern(p): f.language for p, f in files.items()}
        hashes = {p: f.hash for p, f in files.items()}
        n_lines = {p: f.n_lines for p, f in files.items()}
        defs: dict[str, dict[str, Definition]] = defaultdict(dict)
        for path, d in store.definitions():
            defs[intern(path)].setdefault(d.qualname, d)
        imports: dict[str, list[Import]] = defaultdict(list)
        for path, imp in store.imports():
            imports[intern(path)].append(imp)
        # References are the bulk (~200k on Django): read plain rows rather than through
        # Store.references(), which builds a frozen dataclass per row (3x slower).
        by_id = {f.id: intern(p) for p, f in files.items()}
        refs: dict[str, list[Ref]] = defaultdict(list)
        make = Ref._make
        rows = store.con.execute("SELECT file_id, kind, name, source, line, receiver FROM refs")
        for file_id, *row in rows:
            refs[by_id[file_id]].append(make(row))
        sections: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
        rows = store.con.execute(  # doc sections: long ones come in parts, one node per section
            "SELECT path, qualname, name, min(start_line), max(end_line) FROM chunks "
            "WHERE kind = 'section' GROUP BY path, qualname ORDER BY path, min(start_line)"
        )
        for path, qualname, name, start, end in rows:
            sections[intern(path)].append((qualname, name, start, end))
        return cls(language, hashes, n_lines, defs, imports, refs, sections, _go_modules(store, language))


def _go_modules(store: Store, language: Mapping[str, str]) -> list[tuple[str, str]]:
    """(module path, dir) of every go.mod: from the index, or from disk when it was not indexed."""
    texts = {p: "\n".join(c.text for c in store.chunks_for_path(p)) for p in language if p.endswith("go.mod")}
    repo = store.get_manifest().get("repo", "")
    go_dirs = {dir_of(p) for p, lang in language.items() if lang == "go"}
    if repo and go_dirs:
        ancestors = {""}
        for d in go_dirs:
            parts = d.rstrip("/").split("/")
            ancestors.update("/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
        for d in sorted(ancestors):
            path = d + "go.mod"
            if path not in texts and os.path.isfile(os.path.join(repo, path)):
                try:
                    texts[path] = Path(repo, path).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
    out = []
    for path, text in texts.items():
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "module":
                out.append((words[1].strip('"'), dir_of(path)))
                break
    return sorted(out, key=lambda m: (-len(m[0]), m))


def go_mod_paths(paths: list[str] | set[str]) -> list[str]:
    return [p for p in paths if posixpath.basename(p) == "go.mod"]
