"""Split documentation files into heading sections and note the code identifiers they mention.

Markdown (ATX ``#`` and setext headings) and reStructuredText (underlined or over-and-underlined
titles, levels in order of first appearance) become one SECTION chunk per heading, named by
the heading and qualified by the heading path ('Guide > Install > Linux'). Plain text, and
docs without headings, become groups of paragraphs of about :data:`TEXT_GROUP_LINES` lines.
Inline code spans (```name```, ````name````, ``:func:`name```) that look like identifiers
become REFERENCE facts so the graph can link docs to the symbols they document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from .chunk import pack_lines
from .model import REFERENCE, SECTION, Chunk, ParsedFile, Reference

TEXT_GROUP_LINES = 40

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
_CODE_SPAN = re.compile(r"(`+)([^`\n]+?)\1")
_ROLE_TARGET = re.compile(r"<([^<>]+)>\s*$")
_DOTTED = re.compile(r"[A-Za-z_][\w]*(?:(?:\.|::|#|->)[A-Za-z_]\w*)*\Z")
_LAST_SEPARATOR = re.compile(r"(.*)(?:\.|::|#|->)")


@dataclass(frozen=True)
class _Heading:
    line: int  # 1-based first line of the heading (the overline for rst)
    size: int  # lines the heading occupies
    level: int
    title: str


def parse_doc(path: str, text: str, language: str, max_chunk_lines: int = 80) -> ParsedFile:
    """SECTION chunks and backtick references of a markdown, rst or plain-text file."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    fenced = _fenced_lines(lines) if language == "markdown" else frozenset()
    if language == "markdown":
        headings = _markdown_headings(lines, fenced)
    elif language == "rst":
        headings = _rst_headings(lines)
    else:
        headings = []
    parsed = ParsedFile(path=path, language=language)
    if headings:
        _sections(parsed, lines, headings, fenced, max(max_chunk_lines, 4))
    else:
        _paragraph_groups(parsed, lines, fenced)
    return parsed


def _fenced_lines(lines: Sequence[str]) -> frozenset[int]:
    """1-based numbers of lines inside (or delimiting) fenced code blocks."""
    inside: set[int] = set()
    fence = ""
    for number, line in enumerate(lines, 1):
        match = _FENCE.match(line)
        if fence:
            inside.add(number)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
        elif match:
            fence = match.group(1)
            inside.add(number)
    return frozenset(inside)


def _markdown_headings(lines: Sequence[str], fenced: frozenset[int]) -> list[_Heading]:
    headings: list[_Heading] = []
    for index, line in enumerate(lines):
        number = index + 1
        if number in fenced:
            continue
        atx = _ATX.match(line)
        if atx:
            headings.append(_Heading(number, 1, len(atx.group(1)), (atx.group(2) or "").strip()))
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if (
            line.strip()
            and number + 1 not in fenced
            and _SETEXT.match(following)
            and not line.lstrip().startswith(("-", "*", "+", ">", "|", "#"))
            and (index == 0 or not lines[index - 1].strip() or (headings and headings[-1].line == number - 1))
        ):
            headings.append(_Heading(number, 2, 1 if following.strip()[0] == "=" else 2, line.strip()))
    return _drop_overlaps(headings)


def _rst_headings(lines: Sequence[str]) -> list[_Heading]:
    styles: list[tuple[str, bool]] = []
    headings: list[_Heading] = []
    index = 0
    while index < len(lines) - 1:
        line, following = lines[index], lines[index + 1]
        after = lines[index + 2] if index + 2 < len(lines) else ""
        over = _RST_ADORNMENT.match(line)
        if over and following.strip() and _RST_ADORNMENT.match(after) and after.strip() == line.strip():
            style, size, title = (line.strip()[0], True), 3, following.strip()
        elif (
            line.strip()
            and not line[0].isspace()
            and not _RST_ADORNMENT.match(line)
            and _RST_ADORNMENT.match(following)
            and (index == 0 or not lines[index - 1].strip())
        ):
            style, size, title = (following.strip()[0], False), 2, line.strip()
        else:
            index += 1
            continue
        if style not in styles:
            styles.append(style)
        headings.append(_Heading(index + 1, size, styles.index(style) + 1, title))
        index += size
    return headings


def _drop_overlaps(headings: list[_Heading]) -> list[_Heading]:
    kept: list[_Heading] = []
    for heading in headings:
        if kept and heading.line < kept[-1].line + kept[-1].size:
            continue
        kept.append(heading)
    return kept


def _sections(
    parsed: ParsedFile, lines: Sequence[str], headings: list[_Heading], fenced: frozenset[int], max_lines: int
) -> None:
    """One chunk per heading (parts when long), plus a preamble chunk for text before the first one."""
    stem = PurePosixPath(parsed.path).stem
    if any(line.strip() for line in lines[: headings[0].line - 1]):
        _add_section(parsed, lines, 1, headings[0].line - 1, stem, stem, "", "", fenced, max_lines)
    path: list[tuple[int, str]] = []
    for position, heading in enumerate(headings):
        while path and path[-1][0] >= heading.level:
            path.pop()
        parent = " > ".join(title for _, title in path)
        path.append((heading.level, heading.title or "(untitled)"))
        qualname = " > ".join(title for _, title in path)
        end = headings[position + 1].line - 1 if position + 1 < len(headings) else len(lines)
        body = range(heading.line + heading.size, end + 1)
        if not any(lines[n - 1].strip() for n in body) and len(headings) > 1:
            continue
        signature = "\n".join(lines[heading.line - 1: heading.line - 1 + heading.size])
        _add_section(parsed, lines, heading.line, end, heading.title, qualname, parent, signature,
                     fenced, max_lines)


def _add_section(
    parsed: ParsedFile,
    lines: Sequence[str],
    start: int,
    end: int,
    name: str,
    qualname: str,
    parent: str,
    signature: str,
    fenced: frozenset[int],
    max_lines: int,
) -> None:
    while end > start and not lines[end - 1].strip():
        end -= 1
    numbers = list(range(start, end + 1))
    groups = pack_paragraphs(lines, numbers, fenced, max_lines, signature)
    for index, group in enumerate(groups, 1):
        text = "\n".join(lines[n - 1] for n in group)
        if index > 1 and signature:
            text = f"{signature}\n{text}"
        parsed.chunks.append(
            Chunk(path=parsed.path, start_line=group[0], end_line=group[-1], language=parsed.language,
                  kind=SECTION, name=name, qualname=qualname, signature=signature, parent=parent,
                  text=text, part=index if len(groups) > 1 else 0)
        )
    _add_references(parsed, lines, start, end, qualname, fenced)


def _paragraph_groups(parsed: ParsedFile, lines: Sequence[str], fenced: frozenset[int]) -> None:
    last = len(lines)
    while last and not lines[last - 1].strip():
        last -= 1
    groups = pack_paragraphs(lines, list(range(1, last + 1)), fenced, TEXT_GROUP_LINES)
    for group in groups:
        while group and not lines[group[-1] - 1].strip():
            group.pop()
        if not group:
            continue
        first = next((lines[n - 1].strip() for n in group if lines[n - 1].strip()), "")
        qualname = f"L{group[0]}-{group[-1]}"
        parsed.chunks.append(
            Chunk(path=parsed.path, start_line=group[0], end_line=group[-1], language=parsed.language,
                  kind=SECTION, name=first[:80], qualname=qualname,
                  text="\n".join(lines[n - 1] for n in group))
        )
        _add_references(parsed, lines, group[0], group[-1], qualname, fenced)


def pack_paragraphs(
    lines: Sequence[str], numbers: list[int], fenced: frozenset[int], max_lines: int, header: str = ""
) -> list[list[int]]:
    """Group line numbers into runs of at most ``max_lines``, cutting only where a paragraph starts."""
    boundaries = frozenset(
        n for n in numbers
        if n not in fenced and lines[n - 1].strip() and (n == numbers[0] or not lines[n - 2].strip())
    )
    return pack_lines(numbers, boundaries, max_lines, header)


def _add_references(
    parsed: ParsedFile, lines: Sequence[str], start: int, end: int, source: str, fenced: frozenset[int]
) -> None:
    seen: set[tuple[str, str]] = set()
    for number in range(start, end + 1):
        if number in fenced:
            continue
        for match in _CODE_SPAN.finditer(lines[number - 1]):
            found = _identifier(match.group(2))
            if found is None or found in seen:
                continue
            seen.add(found)
            receiver, name = found
            parsed.references.append(Reference(REFERENCE, name, source, number, receiver))


def _identifier(span: str) -> tuple[str, str] | None:
    """(receiver, name) for code spans like 'pkg.Class.method()', ':func:`~a.b`' targets; None otherwise."""
    span = span.strip()
    target = _ROLE_TARGET.search(span)
    if target:
        span = target.group(1)
    span = span.lstrip("~!").split("(", 1)[0].strip()
    if len(span) < 2 or not _DOTTED.match(span):
        return None
    qualifier = _LAST_SEPARATOR.match(span)
    if qualifier is None:
        return "", span
    return qualifier.group(1), span[qualifier.end():]
