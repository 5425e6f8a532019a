"""Claim checking: every name the model's prose mentions must exist, or the sentence is removed.

Citations are checked by :mod:`repo_rag.verify`; this module checks everything else the prose
names. The decision order for one sentence of model text:

1. a sentence equal (after normalising case and spaces) to an earlier one is cut as a repetition;
2. its *mentions* are collected: every backticked span's identifiers, code-like words outside
   backticks (``snake_case``, ``CamelCase`` with an inner capital, ``__dunder__``, ``name()``),
   dotted names (``Session.send``), file paths (``src/app.py``, ``sessions.py``) and the paths of
   its citations; prose words (``request``, ``Python``) are never mentions;
3. a mention is *known* when it occurs in the text the model was given (packed code, the grounded
   part, the question), is a name the repository's index holds (a chunk, a definition or a
   reference, see :meth:`~repo_rag.store.Store.known_names`), or is a keyword or builtin of a
   language the index covers; a dotted name is known when each part is; a path is known when it
   names an indexed file;
4. a sentence with an unknown mention is removed; the names go into ``invented_names``.

The filter works on the stream: :meth:`ProseFilter.feed` returns only text whose sentences have
passed, so a reader never sees a removed sentence, and a repetition loop stops generation early
(:attr:`ProseFilter.looping`). A fenced code block is checked as one unit.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .verify import CITATION_RE

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_BACKTICK = re.compile(r"`([^`\n]+)`")
_DOTTED = re.compile(r"(?<![\w.$/])[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:\(\))?(?![\w/])")
_CALL = re.compile(r"(?<![\w.$])([A-Za-z_$][\w$]*)\(\)")
_PATHLIKE = re.compile(r"(?<![\w.$/])(?:[\w.\-]+/)+[\w.\-]+\.[A-Za-z0-9]{1,8}\b|(?<![\w./$])[\w\-]+\.(?:"
                       r"py|pyi|js|jsx|mjs|cjs|ts|tsx|go|rs|rb|php|java|kt|c|h|cc|cpp|hpp|cs|swift|scala|lua|"
                       r"sh|toml|yaml|yml|json|cfg|ini|md|rst|txt|html|css|sql)\b")
_URL = re.compile(r"\b(?:https?|ftp)://\S+")
_NUMBERISH = re.compile(r"^\d[\d.]*$")
_FENCE = "```"
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+(?=\S)|\n")
_MIN_REPEAT_CHARS = 12
LOOP_SENTENCE_REPEATS = 2  # a sentence cut this many times means the model is looping: stop it

# Words that read as code but name no project symbol: language keywords, builtins and the
# handful of common globals a correct explanation uses without the packed code showing them.
_COMMON = {
    *keyword.kwlist, *keyword.softkwlist, *dir(builtins), "self", "cls", "args", "kwargs",
    # JavaScript / TypeScript
    "this", "undefined", "null", "true", "false", "console", "Promise", "Object", "Array", "JSON", "Map", "Set",
    "String", "Number", "Boolean", "Error", "TypeError", "Symbol", "require", "module", "exports", "async",
    "await", "function", "const", "let", "var", "new", "typeof", "instanceof", "prototype", "constructor",
    "setTimeout", "process", "Buffer", "window", "document", "fetch", "interface", "type", "enum",
    # Go / Rust / Ruby / PHP / Java
    "nil", "err", "func", "struct", "go", "defer", "chan", "make", "append", "len", "ctx", "context",
    "fmt", "Option", "Result", "Some", "Ok", "Err", "Vec", "Box", "Self", "impl", "trait", "fn", "mut",
    "unwrap", "puts", "attr_accessor", "initialize", "__construct", "__init__", "__call__", "main",
    # tech words written in CamelCase in prose
    "JavaScript", "TypeScript", "GitHub", "GitLab", "PyPI", "NumPy", "SciPy", "PostgreSQL", "MySQL",
    "SQLite", "MongoDB", "OAuth", "WebSocket", "WebSockets", "GraphQL", "NodeJS", "macOS", "iOS", "IPv4",
    "IPv6", "YAML", "HTML", "HTTP", "HTTPS", "UTF", "ASCII", "URL", "URLs", "API", "APIs", "CLI",
}


# Dotted words of ordinary prose (abbreviations, product names written like files).
_PROSE_DOTTED = {"e.g", "i.e", "etc", "vs", "node.js", "vue.js", "next.js", "express.js", "d3.js", "three.js",
                 "asp.net", "socket.io", "ruby.rb"}


def is_code_word(word: str) -> bool:
    """``snake_case``, ``__dunder__``, ``CamelCase`` with an inner capital and a lower-case letter."""
    if len(word) < 3:
        return False
    core = word.strip("_$")
    if "_" in core or word.startswith("__") or word.startswith("$"):
        return bool(core)
    return any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)


@dataclass
class Mentions:
    """What one piece of prose names: identifiers, dotted names and paths."""

    names: list[str] = field(default_factory=list)
    dotted: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def mentions(text: str) -> Mentions:
    """Every identifier, dotted name and path that ``text`` puts forward as code (see module docstring)."""
    found = Mentions()
    text = _URL.sub(" ", text)
    for m in CITATION_RE.finditer(text):
        found.paths.append(m.group("path"))
    text = CITATION_RE.sub(" ", text)
    for m in _PATHLIKE.finditer(text):
        if m.group(0).lower() not in _PROSE_DOTTED:
            found.paths.append(m.group(0))
    text = _PATHLIKE.sub(" ", text)
    for span in _BACKTICK.findall(text):
        span = span.strip()
        if not span or _NUMBERISH.match(span):
            continue
        if "/" in span and " " not in span and not span.startswith(("http:", "https:")):
            found.paths.append(span)  # `src/app`, `/etc/shadow`: a path, checked as one
            continue
        for d in _DOTTED.findall(span):
            found.dotted.append(d.removesuffix("()"))
        found.names += [w for w in _IDENT.findall(_DOTTED.sub(" ", span)) if len(w) >= 2]
    outside = _BACKTICK.sub(" ", text)
    for d in _DOTTED.findall(outside):
        d = d.removesuffix("()")
        if d.lower() not in _PROSE_DOTTED and any(len(p) >= 3 for p in d.split(".")):  # not "e.g", "i.e"
            found.dotted.append(d)
    plain = _DOTTED.sub(" ", outside)
    found.names += _CALL.findall(plain)
    found.names += [w for w in _IDENT.findall(plain) if is_code_word(w)]
    found.names = list(dict.fromkeys(found.names))
    found.dotted = list(dict.fromkeys(found.dotted))
    found.paths = list(dict.fromkeys(p.rstrip(".") for p in found.paths))
    return found


class ClaimChecker:
    """Decides which mentioned names exist, from the given text, the index and the file list.

    ``known_text`` is everything the model was shown (and the question); ``lookup(names)`` returns
    the subset the repository's index holds; ``path_exists(path)`` says whether a mentioned path
    names an indexed file. Lookups are cached for the life of the checker (one answer).
    """

    def __init__(
        self,
        known_text: str,
        lookup: Callable[[set[str]], set[str]],
        path_exists: Callable[[str], bool],
    ) -> None:
        self.shown = set(_IDENT.findall(known_text))
        self.lookup = lookup
        self.path_exists = path_exists
        self._cache: dict[str, bool] = {}

    def _known_names(self, names: Iterable[str]) -> dict[str, bool]:
        todo = {n for n in names if n not in self._cache}
        quick = {n for n in todo if n in self.shown or n in _COMMON or n.lstrip("$") in self.shown}
        for n in quick:
            self._cache[n] = True
        rest = todo - quick
        if rest:
            held = self.lookup(rest)
            for n in rest:
                self._cache[n] = n in held
        return {n: self._cache[n] for n in names}

    def invented(self, text: str) -> list[str]:
        """The mentions in ``text`` that exist nowhere (in order, each once)."""
        m = mentions(text)
        parts = {p for d in m.dotted for p in d.split(".") if p}
        known = self._known_names(set(m.names) | parts)
        out = [n for n in m.names if not known[n]]
        out += [d for d in m.dotted if not all(known[p] for p in d.split(".") if p)]
        for path in m.paths:
            key = "path:" + path
            if key not in self._cache:
                self._cache[key] = self.path_exists(path)
            if not self._cache[key]:
                out.append(path)
        return list(dict.fromkeys(out))


@dataclass
class ClaimReport:
    """What the filter did to the model's prose (goes to the answer's JSON as ``checks``)."""

    invented_names: list[str] = field(default_factory=list)
    removed_sentences: int = 0
    repeated_sentences: int = 0
    removed: list[str] = field(default_factory=list)  # the removed sentences, for audit

    def to_dict(self) -> dict:
        return {
            "invented_names": list(self.invented_names),
            "removed_sentences": self.removed_sentences,
            "repeated_sentences": self.repeated_sentences,
            "removed": list(self.removed),
        }


def _normal(sentence: str) -> str:
    return " ".join(sentence.lower().split()).strip(" -*.")


class ProseFilter:
    """Streams the model's prose one checked sentence at a time (see module docstring)."""

    def __init__(self, checker: ClaimChecker) -> None:
        self.checker = checker
        self.report = ClaimReport()
        self.buffer = ""
        self.kept = ""
        self._seen: set[str] = set()

    @property
    def looping(self) -> bool:
        return self.report.repeated_sentences >= LOOP_SENTENCE_REPEATS

    def feed(self, delta: str) -> str:
        """Add streamed text; return the part that is now checked and may be shown."""
        self.buffer += delta
        out = []
        while True:
            unit = self._next_unit()
            if unit is None:
                break
            out.append(self._check(unit))
        return "".join(out)

    def flush(self) -> str:
        """Check and return whatever is left (the end of the stream)."""
        unit, self.buffer = self.buffer, ""
        return self._check(unit) if unit else ""

    def _next_unit(self) -> str | None:
        buf = self.buffer
        fence = buf.find(_FENCE)
        if fence == -1:
            end = self._boundary(buf, 0)
        elif fence > 0:  # the prose before a fence ends at the fence at the latest
            end = self._boundary(buf[:fence], 0) or fence
        else:  # a fenced block is one unit: wait for its closing fence and the end of that line
            close = buf.find(_FENCE, len(_FENCE))
            nl = buf.find("\n", close) if close != -1 else -1
            end = nl + 1 if nl != -1 else None
        return None if end is None else self._take(end)

    @staticmethod
    def _boundary(buf: str, start: int) -> int | None:
        for m in _SENTENCE_END.finditer(buf, start):
            if buf[: m.start()].count("`") % 2 == 0:  # never inside a backticked span
                return m.end()
        return None

    def _take(self, end: int) -> str:
        unit, self.buffer = self.buffer[:end], self.buffer[end:]
        return unit

    def _check(self, unit: str) -> str:
        body = unit.strip()
        if not body:
            self.kept += unit
            return unit
        norm = _normal(body)
        if len(norm) >= _MIN_REPEAT_CHARS and norm in self._seen:
            self.report.repeated_sentences += 1
            return self._drop(unit)
        self._seen.add(norm)
        invented = self.checker.invented(body)
        if invented:
            self.report.removed_sentences += 1
            self.report.removed.append(body)
            self.report.invented_names += [n for n in invented if n not in self.report.invented_names]
            return self._drop(unit)
        self.kept += unit
        return unit

    def _drop(self, unit: str) -> str:
        tail = "\n" if unit.endswith("\n") and self.kept and not self.kept.endswith("\n") else ""
        self.kept += tail
        return tail
