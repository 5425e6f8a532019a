"""Localisation metrics for SWE-bench Lite, and the function-level gold they are scored against.

File level (as in LocAgent and SweRank), over the ranked list of DISTINCT files a method returns:

* strict Acc@k: 1 when every gold file is within the top k, else 0;
* Recall@k: the share of gold files within the top k;
* MRR: 1 / rank of the best-ranked gold file, 0 when none was returned.

Function level, over the ranked list of distinct definitions (functions, methods, classes; module
chunks, doc sections and line windows are skipped, so every rank position is a definition):

* the gold *entities* of an instance come from its gold patch. Each edited span (``gold_hunks``,
  line numbers at ``base_commit``) is first moved onto the sdist's copy of the file by finding the
  hunk's old lines there (exact, then with up to two context lines trimmed from each end as
  ``patch``'s fuzz does, then ignoring indentation). Every non-blank edited line then maps to its
  entity: the OUTERMOST function or method enclosing it (nested helpers belong to their function),
  else the innermost class enclosing it (class attributes), else nothing (module-level code). A
  pure insertion maps to where the new code goes: a method added to a class gives the class (a
  retriever cannot return a method that does not exist yet), a line added to a function gives the
  function, new top-level code gives nothing. When the old lines are not in the sdist, the hunk
  header (``def __call__(self, value):``, git's python funcname) names the definition, by its line
  or else by its name; an empty header means the hunk sits above every definition (module level);
  otherwise the hunk is *unplaced* and the instance's function-level gold is incomplete;
* a retrieved definition ``(path, qualname)`` matches a gold entity ``(path, G)`` when ``qualname``
  is ``G`` or lies inside it (``G.inner``; for a class entity, any of its members);
* function Acc@k: 1 when every gold entity is matched within the top k definitions. Instances
  without gold entity (module-level edits only) or with an unplaced hunk are left out of
  function-level means; the number scored is reported as ``func_n``.

All scores are plain means over instances (no bootstrap); n is always reported with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from repo_rag.parsing import CLASS, FUNCTION, METHOD, Definition

KS = (1, 3, 5, 10)
FUNCTION_KINDS = frozenset({FUNCTION, METHOD})
DEFINITION_KINDS = frozenset({FUNCTION, METHOD, CLASS})


# -- ranks ---------------------------------------------------------------------------------------
def distinct(items: Iterable[str]) -> list[str]:
    """``items`` in order with repeats dropped (rank = position in this list, 1-based)."""
    return list(dict.fromkeys(items))


def gold_ranks(ranked: Sequence[str], gold: Sequence[str]) -> list[int | None]:
    """1-based rank of each gold item in ``ranked`` (distinct items), None where it is absent."""
    position = {item: i for i, item in reversed(list(enumerate(distinct(ranked), 1)))}
    return [position.get(g) for g in gold]


def symbol_matches(symbol: tuple[str, str], entity: tuple[str, str]) -> bool:
    """A retrieved definition hits a gold entity when it is the entity or is nested inside it."""
    (path, qualname), (gold_path, gold_qualname) = symbol, entity
    return path == gold_path and (qualname == gold_qualname or qualname.startswith(gold_qualname + "."))


def entity_ranks(ranked: Sequence[tuple[str, str]], gold: Sequence[tuple[str, str]]) -> list[int | None]:
    """1-based rank of the first retrieved definition matching each gold entity (None: not retrieved)."""
    ranked = list(dict.fromkeys(ranked))
    out: list[int | None] = []
    for entity in gold:
        out.append(next((i for i, s in enumerate(ranked, 1) if symbol_matches(s, entity)), None))
    return out


# -- per-instance scores -------------------------------------------------------------------------
def acc_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Strict: every gold item within the top k (an instance without gold scores 0)."""
    return float(bool(ranks) and all(r is not None and r <= k for r in ranks))


def recall_at_k(ranks: Sequence[int | None], k: int) -> float:
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def reciprocal_rank(ranks: Sequence[int | None]) -> float:
    found = [r for r in ranks if r is not None]
    return 1.0 / min(found) if found else 0.0


# -- aggregates ----------------------------------------------------------------------------------
@dataclass
class Summary:
    """Means over n instances (fractions in 0..1); function-level means over func_n of them."""

    n: int
    acc: dict[int, float] = field(default_factory=dict)
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    func_n: int = 0
    func_acc: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "acc": {str(k): v for k, v in self.acc.items()},
            "recall": {str(k): v for k, v in self.recall.items()},
            "mrr": self.mrr,
            "func_n": self.func_n,
            "func_acc": {str(k): v for k, v in self.func_acc.items()},
        }


def summarize(
    file_ranks: Sequence[Sequence[int | None]],
    func_ranks: Sequence[Sequence[int | None] | None],
    ks: Sequence[int] = tuple(range(1, 11)),
) -> Summary:
    """Aggregate per-instance ranks; ``func_ranks[i]`` is None (or empty) when instance i has no gold entity."""
    n = len(file_ranks)
    s = Summary(n=n)
    if not n:
        return s
    for k in ks:
        s.acc[k] = sum(acc_at_k(r, k) for r in file_ranks) / n
        s.recall[k] = sum(recall_at_k(r, k) for r in file_ranks) / n
    s.mrr = sum(reciprocal_rank(r) for r in file_ranks) / n
    scored = [r for r in func_ranks if r]
    s.func_n = len(scored)
    if scored:
        for k in ks:
            s.func_acc[k] = sum(acc_at_k(r, k) for r in scored) / len(scored)
    return s


# -- function-level gold -------------------------------------------------------------------------
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_DEF_NAME = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)")


@dataclass
class PatchHunk:
    """One hunk of a unified diff: the old file's lines from ``old_start`` on, and what was added where."""

    path: str
    old_start: int
    old_count: int
    old_lines: list[str]
    removed: list[bool] = field(default_factory=list)  # per old line: '-' (True) or context (False)
    added: list[tuple[int, str]] = field(default_factory=list)  # (old lines before it, added line)

    def context_run(self, from_end: bool) -> int:
        """How many context lines the old side starts (or ends) with."""
        flags = self.removed or [False] * len(self.old_lines)
        run = 0
        for flag in reversed(flags) if from_end else flags:
            if flag:
                break
            run += 1
        return run

    @property
    def pure_insertion(self) -> bool:
        return bool(self.added) and not any(self.removed)


@dataclass
class GoldEntities:
    """Gold entities of one file and how each hunk was placed on the sdist: 'exact', 'trimmed',
    'indent' (old lines found), 'header' (by hunk header), 'module-top' (not found, but before any
    definition), 'unplaced' (unknown: the derivation is incomplete)."""

    entities: list[str]
    placement: list[str]

    @property
    def complete(self) -> bool:
        return "unplaced" not in self.placement


def parse_patch(patch: str) -> list[PatchHunk]:
    """Hunks of a unified diff, in order."""
    hunks: list[PatchHunk] = []
    path = ""
    current: PatchHunk | None = None
    for line in patch.splitlines():
        if line.startswith("--- "):
            current = None
            continue
        if line.startswith("+++ "):
            target = line[4:].split("\t")[0].strip()
            path = target[2:] if target.startswith("b/") else target
            continue
        m = _HUNK_HEADER.match(line)
        if m:
            count = int(m.group(2)) if m.group(2) is not None else 1
            current = PatchHunk(path, int(m.group(1)), count, [])
            hunks.append(current)
            continue
        if current is None or line.startswith("\\"):
            continue
        if line.startswith("+"):
            current.added.append((len(current.old_lines), line[1:]))
        elif line.startswith((" ", "-")) or line == "":
            current.old_lines.append(line[1:])
            current.removed.append(line.startswith("-"))
    return hunks


def locate_hunk(file_lines: Sequence[str], hunk: PatchHunk) -> tuple[int, str] | None:
    """Offset (sdist line - base_commit line) at which the hunk's old lines occur, and how it was found."""
    block = [x.rstrip() for x in hunk.old_lines]
    if not any(x.strip() for x in block):
        return None
    lines = [x.rstrip() for x in file_lines]
    stripped = [x.strip() for x in lines]
    lead, tail = hunk.context_run(False), hunk.context_run(True)
    for how, hay, needle_of in (
        ("exact", lines, lambda b: b),
        ("indent", stripped, lambda b: [x.strip() for x in b]),
    ):
        for fuzz in range(0, 3):
            top, bottom = min(fuzz, lead), min(fuzz, tail)
            if fuzz and top + bottom == 0:
                break
            part = block[top : len(block) - bottom]
            if not any(x.strip() for x in part):
                break
            needle = needle_of(part)
            expected = hunk.old_start - 1 + top  # 0-based index where it sits at base_commit
            hits = [i for i in range(len(hay) - len(needle) + 1) if hay[i : i + len(needle)] == needle]
            if hits:
                best = min(hits, key=lambda i: abs(i - expected))
                label = how if how == "indent" else ("exact" if fuzz == 0 else "trimmed")
                return best - expected, label
    return None


def _lift(d: Definition, definitions: Sequence[Definition]) -> str:
    """A definition's entity: the outermost function enclosing a function; a class stays itself."""
    if d.kind not in FUNCTION_KINDS:
        return d.qualname
    return entity_at(d.start_line, definitions) or d.qualname


def entity_at(line: int, definitions: Sequence[Definition]) -> str | None:
    """Outermost function/method enclosing ``line``, else innermost enclosing class, else None."""
    enclosing = [d for d in definitions if d.start_line <= line <= d.end_line]
    functions = [d for d in enclosing if d.kind in FUNCTION_KINDS]
    if functions:
        return max(functions, key=lambda d: (d.end_line - d.start_line, -d.start_line)).qualname
    classes = [d for d in enclosing if d.kind == CLASS]
    if classes:
        return min(classes, key=lambda d: d.end_line - d.start_line).qualname
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def insertion_entity(lines: Sequence[str], definitions: Sequence[Definition], after: int, added: str) -> str | None:
    """Entity receiving code inserted after line ``after``: the innermost definition around the last
    code line before it whose header is indented less than the added code (a method added to a class
    belongs to the class; a line added to a function to the function; unindented code to nothing)."""
    depth = _indent(added)
    anchor = after
    while anchor >= 1 and not lines[anchor - 1].strip():
        anchor -= 1
    if depth == 0 or anchor < 1:
        return None
    around = [
        d for d in definitions
        if d.start_line <= anchor <= d.end_line and _indent(lines[d.start_line - 1]) < depth
    ]
    if not around:
        return None
    return _lift(min(around, key=lambda d: d.end_line - d.start_line), definitions)


def _header_definition(
    file_lines: Sequence[str], definitions: Sequence[Definition], header: str, near: int
) -> Definition | None:
    """The definition the hunk header (``def f(...):``) names, nearest ``near``: by its first lines,
    else by name alone (the signature may have changed between the sdist and base_commit)."""
    header = header.strip()
    if not header:
        return None
    found = []
    for d in definitions:
        head = [file_lines[i].strip() for i in range(d.start_line - 1, min(d.start_line + 5, len(file_lines)))]
        if any(h == header or (h and h.startswith(header)) for h in head):
            found.append(d)
    if not found:
        m = _DEF_NAME.match(header)
        found = [d for d in definitions if m and d.name == m.group(1)]
    return min(found, key=lambda d: abs(d.start_line - near)) if found else None


def gold_entities(
    file_text: str,
    definitions: Sequence[Definition],
    gold_hunks: Sequence[dict],
    patch_hunks: Sequence[PatchHunk],
) -> GoldEntities:
    """Gold entities (qualnames, in order of first edit) of one gold file at the sdist version.

    ``gold_hunks`` are the dataset's records for this file (``edited_old_span``, ``header_context``);
    ``patch_hunks`` the same file's hunks from the gold patch: their old lines place the spans on the
    sdist, and for pure insertions their added lines tell where the new code goes (see
    :func:`insertion_entity`).
    """
    lines = file_text.split("\n")
    entities: list[str] = []
    placement: list[str] = []
    for gh in gold_hunks:
        start, end = gh["edited_old_span"]
        ph = _pair(start, patch_hunks)
        where = locate_hunk(lines, ph) if ph is not None else None
        header = gh.get("header_context", "") or ""
        found: list[str | None] = []
        if where is not None and ph is not None:
            offset, how = where
            if ph.pure_insertion:
                before, text = next(((b, t) for b, t in ph.added if t.strip()), ph.added[0])
                found = [insertion_entity(lines, definitions, ph.old_start - 1 + before + offset, text)]
            else:
                found = _span_entities(lines, definitions, start + offset, end + offset)
        elif not header.strip():
            how = "module-top"  # git's python funcname saw no def/class above the hunk
        elif (d := _header_definition(lines, definitions, header, start)) is not None:
            how = "header"
            found = [_lift(d, definitions)]
        else:
            how = "unplaced"
        placement.append(how)
        entities += [e for e in found if e is not None]
    return GoldEntities(distinct(entities), placement)


def _pair(start: int, patch_hunks: Sequence[PatchHunk]) -> PatchHunk | None:
    """The patch hunk whose old range holds ``start`` (else the nearest one)."""
    if not patch_hunks:
        return None
    inside = [h for h in patch_hunks if h.old_start <= start <= h.old_start + max(h.old_count, 1)]
    if inside:
        return inside[0]
    return min(patch_hunks, key=lambda h: abs(h.old_start - start))


def _span_entities(lines: Sequence[str], definitions: Sequence[Definition], start: int, end: int) -> list[str | None]:
    """Entities of the non-blank lines of [start, end] (of every line when all are blank)."""
    numbers = [n for n in range(start, end + 1) if 1 <= n <= len(lines) and lines[n - 1].strip()]
    if not numbers:
        numbers = list(range(start, end + 1))
    return [entity_at(n, definitions) for n in numbers]
