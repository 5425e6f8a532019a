"""Read a query the way a developer writes it: prose mixed with identifiers, paths and tracebacks.

Whole issue texts are long and noisy; what localises them are the concrete anchors they contain.
This module pulls those anchors out so retrieval can use them as strong, explainable signals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FRAME_PY = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>]*))?')
_FRAME_GENERIC = re.compile(
    r"(?:at |\()?([\w./\\-]+\.(?:py|js|jsx|ts|tsx|java|go|rs|rb|php|kt|scala|c|h|cc|cpp|cs))[:(](\d+)"
)
_PATH = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.[A-Za-z]{1,5}|[\w-]+\.(?:py|js|jsx|ts|tsx|java|go|rs|rb|php|kt|scala|c|h|cc|cpp|cs|swift|lua|sh))\b"
)
_DOTTED = re.compile(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_CODE_SPAN = re.compile(r"`([^`\n]{1,200})`")
_CODE_BLOCK = re.compile(r"```.*?```", re.S)


MAX_QUESTION_CHARS = 20_000  # default cap; SearchConfig.max_query_chars is the setting


class QueryTooLongError(ValueError):
    """A question longer than the configured maximum; refused before any work is done."""


def check_question(text: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """``text`` if it is a usable question, else a clear error (empty, or over ``max_chars``)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the question is empty")
    if len(text) > max_chars:
        raise QueryTooLongError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,} "
            "(search.max_query_chars): paste the relevant part of the traceback or issue"
        )
    return text


def is_code_identifier(word: str) -> bool:
    """CamelCase, snake_case, dunder or mixed-digit words look like code, plain words do not."""
    if len(word) < 3:
        return False
    if "_" in word.strip("_") or word.startswith("__"):
        return True
    inner_upper = any(c.isupper() for c in word[1:])
    return inner_upper and any(c.islower() for c in word)


@dataclass
class QueryAnalysis:
    text: str
    identifiers: list[str] = field(default_factory=list)  # code-like names, most frequent first
    dotted: list[str] = field(default_factory=list)  # a.b.c references
    paths: list[str] = field(default_factory=list)  # file paths mentioned
    frames: list[tuple[str, int, str]] = field(default_factory=list)  # (path, line, function)
    words: list[str] = field(default_factory=list)  # distinct words (for file-name anchors)
    is_long: bool = False

    @property
    def names(self) -> list[str]:
        """Every symbol name worth an exact lookup: identifiers, dotted tails, frame functions."""
        out: list[str] = []
        for name in (
            self.identifiers
            + [d.rsplit(".", 1)[-1] for d in self.dotted]
            + [f[2] for f in self.frames if f[2] and not f[2].startswith("<")]
        ):
            if name not in out:
                out.append(name)
        return out


def analyze_query(text: str) -> QueryAnalysis:
    qa = QueryAnalysis(text=text, is_long=len(text) > 300 or text.count("\n") > 3)
    for path, line, func in _FRAME_PY.findall(text):
        qa.frames.append((path.replace("\\", "/"), int(line), func or ""))
    for path, line in _FRAME_GENERIC.findall(text):
        path = path.replace("\\", "/")
        if not any(f[0] == path for f in qa.frames):
            qa.frames.append((path, int(line), ""))
    seen_paths: set[str] = set()
    for p in [f[0] for f in qa.frames] + _PATH.findall(text):
        p = p.strip("./") if not p.startswith("/") else p
        if p and p not in seen_paths and not p.startswith(("http", "www.")):
            seen_paths.add(p)
            qa.paths.append(p)
    code_text = " ".join(_CODE_SPAN.findall(text)) + " " + " ".join(_CODE_BLOCK.findall(text))
    counts: dict[str, int] = {}
    for word in _IDENT.findall(text):
        if is_code_identifier(word):
            counts[word] = counts.get(word, 0) + 1
    for word in _IDENT.findall(code_text):  # names inside code spans count even if plain
        if (len(word) >= 3 and not word.islower()) or word in counts:
            counts[word] = counts.get(word, 0) + 1
    qa.identifiers = sorted(counts, key=lambda w: -counts[w])
    qa.words = list(dict.fromkeys(w for w in _IDENT.findall(text) if len(w) >= 5))
    dotted = []
    for d in _DOTTED.findall(text):
        if not re.search(r"\.(py|js|ts|java|go|rs|rb|php|txt|md|html|com|org|io)$", d) and d not in dotted:
            dotted.append(d)
    qa.dotted = dotted
    return qa
