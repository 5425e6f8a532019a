"""Read a query the way a developer writes it: prose mixed with identifiers, paths and tracebacks.

Whole issue texts are long and noisy; what localises them are the concrete anchors they contain.
This module pulls those anchors out so retrieval can use them as strong, explainable signals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import RepoRagError

# Every pattern here must run in time linear in the question: a pasted issue can be 20 kB and the
# question cap is a setting, so nothing may backtrack over the text more than a bounded number of times.
# Where a quantifier is possessive (``*+``, ``++``) giving characters back could never let the rest
# match, so the results are those of the plain greedy pattern; tests/test_query.py checks both.
_FRAME_PY = re.compile(r'File "([^"]++)", line (\d++)(?:, in ([A-Za-z_<>][\w<>]*+))?')
# "at path.ext:12" / "(path.ext(12)" frames (JS, Java, Go, Rust, C#...). The path must end right before
# ":" or "(", i.e. at the end of a run of path characters, so frames are found by walking those runs
# once (see _generic_frames) instead of retrying a regex at every character of a long token, which is
# quadratic: 8 kB of "a.a.a." took seconds, 100 kB minutes.
_FRAME_RUN = re.compile(r"[\w./\\-]++")
_FRAME_LINE = re.compile(r"[:(](\d++)")
_FRAME_EXTS = frozenset("py js jsx ts tsx java go rs rb php kt scala c h cc cpp cs".split())
# A path is tried once per run of path characters (the look-behind), and each try is linear in the run.
_PATH = re.compile(
    r"(?<![\w/.-])((?:[\w.-]++/)+[\w.-]+\.[A-Za-z]{1,5}|[\w-]++\.(?:py|js|jsx|ts|tsx|java|go|rs|rb|php|kt|scala|c|h|cc|cpp|cs|swift|lua|sh))\b"
)
_DOTTED = re.compile(r"\b([A-Za-z_]\w*+(?:\.[A-Za-z_]\w*+)+)\b")
_IDENT = re.compile(r"\b[A-Za-z_]\w*+\b")
_CODE_SPAN = re.compile(r"`([^`\n]{1,200}+)`")
_CODE_BLOCK = re.compile(r"```.*?```", re.S)  # lazy, and each opener scans only to the next ```
# Dotted names that are file names or hosts rather than code references.
_NOT_DOTTED = tuple(f".{ext}" for ext in "py js ts java go rs rb php txt md html com org io".split())


MAX_QUESTION_CHARS = 20_000  # default cap; SearchConfig.max_query_chars is the setting


class QuestionError(RepoRagError, ValueError):
    """A question that cannot be searched (empty, too long); the message says what to do."""


class QueryTooLongError(QuestionError):
    """A question longer than the configured maximum; refused before any work is done."""


def check_question(text: str, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """``text`` if it is a usable question, else a clear error (empty, or over ``max_chars``)."""
    if not isinstance(text, str) or not text.strip():
        raise QuestionError("the question is empty")
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
        return list(
            dict.fromkeys(
                self.identifiers
                + [d.rsplit(".", 1)[-1] for d in self.dotted]
                + [f[2] for f in self.frames if f[2] and not f[2].startswith("<")]
            )
        )


def _generic_frames(text: str) -> list[tuple[str, str]]:
    r"""``(path, line)`` for every ``path.ext:LINE`` / ``path.ext(LINE`` frame, in order, in linear time.

    Exactly what ``findall`` of ``(?:at |\()?([\w./\\-]+\.(?:py|js|...))[:(](\d+)`` gives, without its
    retry at every character of a long token: a match's path is a whole run of path characters (the
    ":" or "(" after it is not one), cut at the end of the previous match, whose line number may start
    the next run; the earliest start of a run is the only one that can match.
    """
    out: list[tuple[str, str]] = []
    resume = 0  # where findall would resume: the end of the previous match
    for run in _FRAME_RUN.finditer(text):
        start, end = max(run.start(), resume), run.end()
        if end - start < 3:  # at least "x.c"
            continue
        line = _FRAME_LINE.match(text, end)
        if line is None:
            continue
        path = text[start:end]
        dot = path.rfind(".")
        if dot < 1 or path[dot + 1 :] not in _FRAME_EXTS:
            continue
        out.append((path, line.group(1)))
        resume = line.end()
    return out


def analyze_query(text: str) -> QueryAnalysis:
    """The anchors in ``text``; linear in its length (every pattern above is), so any size is safe."""
    qa = QueryAnalysis(text=text, is_long=len(text) > 300 or text.count("\n") > 3)
    for path, line, func in _FRAME_PY.findall(text):
        qa.frames.append((path.replace("\\", "/"), int(line), func or ""))
    frame_paths = {f[0] for f in qa.frames}
    for path, line in _generic_frames(text):
        path = path.replace("\\", "/")
        if path not in frame_paths:
            frame_paths.add(path)
            qa.frames.append((path, int(line), ""))
    seen_paths: set[str] = set()
    for p in [f[0] for f in qa.frames] + _PATH.findall(text):
        p = p.strip("./") if not p.startswith("/") else p
        if p and p not in seen_paths and not p.startswith(("http", "www.")):
            seen_paths.add(p)
            qa.paths.append(p)
    code_text = " ".join(_CODE_SPAN.findall(text)) + " " + " ".join(_CODE_BLOCK.findall(text))
    words = _IDENT.findall(text)
    counts: dict[str, int] = {}
    for word in words:
        if is_code_identifier(word):
            counts[word] = counts.get(word, 0) + 1
    for word in _IDENT.findall(code_text):  # names inside code spans count even if plain
        if (len(word) >= 3 and not word.islower()) or word in counts:
            counts[word] = counts.get(word, 0) + 1
    qa.identifiers = sorted(counts, key=lambda w: -counts[w])
    qa.words = list(dict.fromkeys(w for w in words if len(w) >= 5))
    qa.dotted = list(dict.fromkeys(d for d in _DOTTED.findall(text) if not d.endswith(_NOT_DOTTED)))
    return qa
