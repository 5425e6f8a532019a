"""Turn the definitions found in a file into retrievable chunks.

Rules (all line numbers 1-based, inclusive):

* one chunk per function/method; its text is the exact source of its span (decorators,
  annotations and the doc comment above included);
* one outline chunk per class: header, docstring and member signature/field lines only,
  so a class is findable by its shape without duplicating every method body;
* one MODULE chunk per file with the lines outside every definition (imports, constants,
  top-level code);
* anything longer than ``max_lines`` is split at statement boundaries into parts 1, 2, ...
  whose text repeats the signature first, so every part still says what it belongs to;
* runs of two or more tiny (<= 2 lines) sibling functions separated only by blank lines
  become one chunk named after the first, with every member's signature in ``signature``.

This module works on plain lines and :class:`DefSite` records, never on syntax trees, so
the rules can be tested and changed without a parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from .model import CLASS, MODULE, WINDOW, Chunk

TINY_LINES = 2  # functions this short are merged with tiny neighbours
MEMBER_LINES = 6  # class-level statements longer than this show only their first line in outlines
WINDOW_LINES = 60
WINDOW_OVERLAP = 5
_CLOSERS = frozenset({"}", "};", "end", "})", "});"})  # block ends kept at the bottom of class outlines


@dataclass
class DefSite:
    """A definition as located by the parser, with what chunking needs to know about its layout."""

    name: str
    qualname: str
    parent: str
    kind: str
    start_line: int  # first line of the span (doc comment / decorators included)
    end_line: int
    head_line: int  # first line of the definition itself (decorators included, doc comment not)
    sig_end_line: int  # last line of the signature
    signature: str
    docstring: str = ""
    doc_lines: tuple[int, int] | None = None  # lines of a docstring inside the body (Python)
    members: list[tuple[int, int, bool]] = field(default_factory=list)  # (start, end, is_def) of body items
    split_lines: tuple[int, ...] = ()  # lines where a statement starts: allowed part boundaries


@dataclass
class ModulePlan:
    """What is left of a file outside its definitions: kept lines and statement starts."""

    lines: list[int]
    boundaries: frozenset[int]
    docstring: str = ""


def build_chunks(
    path: str,
    language: str,
    lines: Sequence[str],
    sites: Sequence[DefSite],
    module: ModulePlan,
    max_lines: int = 80,
) -> list[Chunk]:
    """All chunks of a parsed code file, ordered by start line."""
    max_lines = max(max_lines, 4)
    chunks: list[Chunk] = list(_module_chunks(path, language, lines, module, max_lines))
    functions = sorted((s for s in sites if s.kind != CLASS), key=lambda s: (s.start_line, -s.end_line))
    for group in _tiny_runs(functions, lines, max_lines):
        if len(group) > 1:
            chunks.append(_merged_chunk(path, language, lines, group))
        else:
            chunks.extend(_function_chunks(path, language, lines, group[0], max_lines))
    for site in sites:
        if site.kind == CLASS:
            chunks.extend(_class_chunks(path, language, lines, site, max_lines))
    chunks.sort(key=lambda c: (c.start_line, -c.end_line, c.part))
    return chunks


def window_chunks(
    path: str, language: str, lines: Sequence[str], size: int = WINDOW_LINES, overlap: int = WINDOW_OVERLAP
) -> list[Chunk]:
    """Overlapping line windows for files nothing better is known about."""
    name = PurePosixPath(path).name
    total = len(lines)
    while total and not lines[total - 1].strip():
        total -= 1
    chunks: list[Chunk] = []
    step = max(size - overlap, 1)
    start = 0
    while start < total:
        end = min(start + size, total)
        text = _join(lines, range(start + 1, end + 1))
        if text.strip():
            chunks.append(
                Chunk(path=path, start_line=start + 1, end_line=end, language=language, kind=WINDOW,
                      name=name, qualname=f"L{start + 1}-{end}", text=text)
            )
        if end == total:
            break
        start += step
    return chunks


def _line(lines: Sequence[str], number: int) -> str:
    """Line ``number`` (1-based) without its carriage return; '' past the end."""
    if 1 <= number <= len(lines):
        return lines[number - 1].rstrip("\r")
    return ""


def _join(lines: Sequence[str], numbers: Iterable[int]) -> str:
    return "\n".join(_line(lines, n) for n in numbers)


def _function_chunks(
    path: str, language: str, lines: Sequence[str], site: DefSite, max_lines: int
) -> list[Chunk]:
    """The chunk of one function, or its parts when it is too long."""
    parts = _split_span(site.start_line, site.end_line, site.split_lines, site.signature, max_lines)
    chunks = []
    for index, (start, end) in enumerate(parts, 1):
        body = _join(lines, range(start, end + 1))
        text = body if index == 1 else f"{site.signature}\n{body}"
        chunks.append(_site_chunk(path, language, site, start, end, text, index if len(parts) > 1 else 0))
    return chunks


def _site_chunk(
    path: str, language: str, site: DefSite, start: int, end: int, text: str, part: int
) -> Chunk:
    return Chunk(path=path, start_line=start, end_line=end, language=language, kind=site.kind,
                 name=site.name, qualname=site.qualname, signature=site.signature,
                 docstring=site.docstring, parent=site.parent, text=text, part=part)


def _split_span(
    start: int, end: int, boundaries: Sequence[int], signature: str, max_lines: int
) -> list[tuple[int, int]]:
    """Cut [start, end] at statement boundaries into pieces of at most ``max_lines`` lines.

    Parts after the first also carry the signature, so their budget is smaller. A single
    statement longer than the budget is cut into plain line windows as a last resort.
    """
    if end - start + 1 <= max_lines:
        return [(start, end)]
    later_budget = max(max_lines - signature.count("\n") - 1, 1)
    cuts = sorted({b for b in boundaries if start < b <= end})
    units = list(zip([start, *cuts], [c - 1 for c in cuts] + [end], strict=True))
    parts: list[tuple[int, int]] = []
    part_start, size = start, 0
    for unit_start, unit_end in units:
        budget = max_lines if not parts else later_budget
        length = unit_end - unit_start + 1
        if size and size + length > budget:
            parts.append((part_start, unit_start - 1))
            part_start, size = unit_start, 0
        size += length
    parts.append((part_start, end))
    return _hard_split(parts, max_lines, later_budget)


def _hard_split(parts: list[tuple[int, int]], first_budget: int, budget: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in parts:
        limit = first_budget if not out else budget
        while end - start + 1 > limit:
            out.append((start, start + limit - 1))
            start += limit
            limit = budget
        out.append((start, end))
    return out


def _tiny_runs(functions: Sequence[DefSite], lines: Sequence[str], max_lines: int) -> list[list[DefSite]]:
    """Group functions into runs of tiny siblings separated by blank lines only."""
    groups: list[list[DefSite]] = []
    for site in functions:
        tiny = site.end_line - site.start_line + 1 <= TINY_LINES
        if groups and tiny:
            group = groups[-1]
            last = group[-1]
            if (
                last.end_line - last.start_line + 1 <= TINY_LINES
                and last.parent == site.parent
                and last.kind == site.kind
                and site.start_line > last.end_line
                and site.end_line - group[0].start_line < max_lines
                and all(not _line(lines, n).strip() for n in range(last.end_line + 1, site.start_line))
            ):
                group.append(site)
                continue
        groups.append([site])
    return groups


def _merged_chunk(path: str, language: str, lines: Sequence[str], group: Sequence[DefSite]) -> Chunk:
    first, last = group[0], group[-1]
    text = _join(lines, range(first.start_line, last.end_line + 1))
    signature = "\n".join(s.signature for s in group)
    return Chunk(path=path, start_line=first.start_line, end_line=last.end_line, language=language,
                 kind=first.kind, name=first.name, qualname=first.qualname, signature=signature,
                 parent=first.parent, text=text)


def _class_chunks(
    path: str, language: str, lines: Sequence[str], site: DefSite, max_lines: int
) -> list[Chunk]:
    """Outline of a class: header, docstring, fields and member signatures, plus its closing line."""
    numbers: set[int] = set(range(site.start_line, site.sig_end_line + 1))
    if site.doc_lines:
        numbers.update(range(site.doc_lines[0], site.doc_lines[1] + 1))
    for start, end, is_def in site.members:
        if not is_def and end - start + 1 > MEMBER_LINES:
            end = start
        numbers.update(range(start, end + 1))
    if _line(lines, site.end_line).strip() in _CLOSERS:
        numbers.add(site.end_line)
    ordered = [n for n in sorted(numbers) if site.start_line <= n <= site.end_line]
    groups = pack_lines(ordered, frozenset(), max_lines, site.signature)
    chunks = []
    for index, group in enumerate(groups, 1):
        text = _join(lines, group)
        if index > 1:
            text = f"{site.signature}\n{text}"
        start, end = (site.start_line, site.end_line) if len(groups) == 1 else (group[0], group[-1])
        chunks.append(_site_chunk(path, language, site, start, end, text, index if len(groups) > 1 else 0))
    return chunks


def pack_lines(
    numbers: Sequence[int], boundaries: frozenset[int], max_lines: int, header: str = ""
) -> list[list[int]]:
    """Pack sorted line numbers into groups of at most ``max_lines`` (fewer when ``header`` is repeated).

    With ``boundaries``, lines are packed by statement (a statement starts at a boundary line);
    a statement that alone exceeds the budget is cut anyway.
    """
    if len(numbers) <= max_lines:
        return [list(numbers)] if numbers else []
    later = max(max_lines - (header.count("\n") + 1 if header else 0), 1)
    units: list[list[int]] = []
    for n in numbers:
        if not units or not boundaries or n in boundaries:
            units.append([n])
        else:
            units[-1].append(n)
    groups: list[list[int]] = []
    current: list[int] = []
    for unit in units:
        limit = max_lines if not groups else later
        if current and len(current) + len(unit) > limit:
            groups.append(current)
            current, limit = [], later
        current.extend(unit)
        while len(current) > limit:
            groups.append(current[:limit])
            current, limit = current[limit:], later
    if current:
        groups.append(current)
    return groups


def _module_chunks(
    path: str, language: str, lines: Sequence[str], module: ModulePlan, max_lines: int
) -> list[Chunk]:
    """The module chunk(s): everything outside definitions, blank runs collapsed."""
    kept: list[int] = []
    previous_blank = True
    for n in module.lines:
        blank = not _line(lines, n).strip()
        if blank and (previous_blank or (kept and n != kept[-1] + 1)):
            continue
        kept.append(n)
        previous_blank = blank
    while kept and not _line(lines, kept[-1]).strip():
        kept.pop()
    if not kept:
        return []
    name = PurePosixPath(path).stem
    groups = pack_lines(kept, module.boundaries, max_lines)
    chunks = []
    for index, group in enumerate(groups, 1):
        chunks.append(
            Chunk(path=path, start_line=group[0], end_line=group[-1], language=language, kind=MODULE,
                  name=name, qualname="<module>", docstring=module.docstring, text=_join(lines, group),
                  part=index if len(groups) > 1 else 0)
        )
    return chunks

