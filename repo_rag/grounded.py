"""The grounded part of an answer: what the index alone says, assembled from it, never generated.

Every answer starts with this part, so its first lines cannot be wrong about what exists: each
location is a retrieved chunk or a graph node, each summary is that code's own first docstring line
(else its signature, else its first line), each "called by" is a graph edge. The decision order:

1. a graph question ("what calls X", "who uses X", "callers of X" → callers; "what does X call" →
   callees; "what breaks if X changes", "impact of X", "what depends on X" → impact) whose X the
   code graph resolves gets the graph answer: X's location, then each related symbol with where
   the link is (the call site for callers, the definition for callees);
2. every other question, and a graph question whose X the graph does not know, gets the
   where-part: the top :data:`WHERE_ITEMS` retrieval hits, in retrieval order and with exactly
   their spans, each with a one-line summary and how it is reached (up to :data:`REACH_CALLERS`
   callers from the graph, production code before tests, with the call site).

The text is Markdown for a reader who skims: one numbered line per location, the location in
backticks first (the web chat turns it into a source link). Stored text is redacted before it is
shown (``repo_rag.pack.redact``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from .hits import SearchHit
from .pack import redact
from .store import Store
from .verify import Citation

if TYPE_CHECKING:
    from .graph import CodeGraph, Related

WHERE_ITEMS = 5
GRAPH_ITEMS = 12
REACH_CALLERS = 2
SUMMARY_CHARS = 160
GROUNDED_REASON = "retrieved location"
GRAPH_REASON = "code graph"
CALL_SITE_REASON = "call site (code graph)"  # a line where a listed location is used, not a location itself

_TARGET = r"`?(?P<target>[A-Za-z_$][\w$.:/\\-]*[\w$])(?:\(\))?`?"
_INTENTS: list[tuple[str, re.Pattern]] = [
    ("callees", re.compile(rf"\bwhat\s+(?:functions\s+|methods\s+)?does\s+{_TARGET}\s+call\b", re.I)),
    ("callees", re.compile(rf"\bcallees\s+of\s+{_TARGET}", re.I)),
    ("callers", re.compile(rf"\b(?:what|who|which(?:\s+\w+)?)\s+(?:calls|invokes|uses)\s+{_TARGET}", re.I)),
    ("callers", re.compile(rf"\bcallers\s+of\s+{_TARGET}", re.I)),
    ("callers", re.compile(rf"\bwhere\s+is\s+{_TARGET}\s+(?:called|used|invoked)\b", re.I)),
    ("impact", re.compile(
        rf"\bwhat\s+(?:would\s+|will\s+|could\s+)?(?:breaks?|is\s+affected|depends\s+on)\b.*?"
        rf"\b(?:change|changes|changing|modify|remove|rename|edit)\s+{_TARGET}", re.I)),
    ("impact", re.compile(
        rf"\bwhat\s+(?:would\s+|will\s+|could\s+)?(?:breaks?|is\s+affected)\b.*?\bif\s+{_TARGET}\s+"
        r"(?:changes|is\s+changed|is\s+removed|is\s+renamed)", re.I)),
    ("impact", re.compile(rf"\bwhat\s+depends\s+on\s+{_TARGET}", re.I)),
    ("impact", re.compile(rf"\bimpact\s+of\s+(?:changing\s+|removing\s+|renaming\s+)?{_TARGET}", re.I)),
]
_TITLES = {
    "where": "**Where to look** (from the index, best first):",
    "callers": "**Callers of {target}** (from the code graph):",
    "callees": "**What {target} calls** (from the code graph):",
    "impact": "**What depends on {target}** (from the code graph: calls, imports, inheritance, references):",
}


@dataclass
class GroundedItem:
    """One location of the grounded part: where, what, and how it is reached."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    summary: str = ""
    reached: list[str] = field(default_factory=list)
    is_test: bool = False

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GroundedPart:
    """The assembled part: ``kind`` is 'where', 'callers', 'callees' or 'impact'."""

    kind: str
    items: list[GroundedItem]
    target: GroundedItem | None = None
    more: int = 0
    note: str = ""
    citations: list[Citation] = field(default_factory=list)

    @property
    def text(self) -> str:
        if not self.items and self.target is None:
            return self.note or "Nothing relevant was retrieved."
        target = ""
        if self.target is not None:
            target = f"`{self.target.symbol or self.target.path}` (`{self.target.location}`)"
        lines = [_TITLES[self.kind].format(target=target)]
        if self.note:
            lines.append(self.note)
        for i, it in enumerate(self.items, 1):
            name = f" {it.symbol}" if it.symbol and it.symbol != "<module>" else ""
            test = " (test)" if it.is_test else ""
            lines.append(f"{i}. `{it.location}`{name}{test}" + (f": {it.summary}" if it.summary else ""))
            for r in it.reached:
                lines.append(f"   {r}")
        if self.kind != "where" and not self.items:
            lines.append("(none found in the code graph)")
        if self.more:
            lines.append(f"… {self.more} more " + ("in Sources below." if self.kind == "where" else "in the graph."))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "target": self.target.to_dict() if self.target else None,
            "items": [it.to_dict() for it in self.items],
            "more": self.more,
            "note": self.note,
        }


def graph_intent(question: str) -> tuple[str, str] | None:
    """``(kind, target)`` for a callers / callees / impact question, else None."""
    for kind, pattern in _INTENTS:
        m = pattern.search(question)
        if m:
            target = m.group("target").strip("`").removesuffix("()").rstrip(".?:,")
            if target:
                return kind, target
    return None


def first_line(text: str) -> str:
    """The first non-blank line without comment or quote marks, cut to :data:`SUMMARY_CHARS`."""
    for line in text.split("\n"):
        line = line.strip().strip("\"'#/*").strip()
        if line:
            return line[:SUMMARY_CHARS]
    return ""


class GroundedBuilder:
    """Builds the grounded part for one question from the index and (when loaded) the code graph."""

    def __init__(self, store: Store, graph: Callable[[], CodeGraph | None]) -> None:
        self.store = store
        self.graph = graph

    def build(self, question: str, hits: list[SearchHit]) -> GroundedPart:
        graph = self.graph()
        intent = graph_intent(question)
        if intent is not None and graph is not None:
            part = self._graph_answer(graph, *intent)
            if part is not None:
                return part
        part = self._where(hits, graph)
        if intent is not None:
            part.note = f"`{intent[1]}` is not a symbol or file the code graph knows; closest code instead:"
        return part

    # -- where ----------------------------------------------------------------------------------
    def _where(self, hits: list[SearchHit], graph: CodeGraph | None) -> GroundedPart:
        shown = hits[:WHERE_ITEMS]
        chunks = self.store.chunks_by_ids([h.chunk_id for h in shown if h.chunk_id])
        items, citations = [], []
        for h in shown:
            chunk = chunks.get(h.chunk_id)
            doc = chunk.docstring if chunk is not None else ""
            summary = redact(first_line(doc) or first_line(h.signature) or first_line(h.text))
            item = GroundedItem(h.path, h.start_line, h.end_line, h.symbol, h.kind, summary,
                                is_test=bool(chunk.is_test) if chunk is not None else False)
            citations.append(Citation(h.path, h.start_line, h.end_line, h.symbol, True, GROUNDED_REASON, h.location))
            if graph is not None:
                node = graph.node_for_chunk(h.path, h.symbol if h.symbol != "<module>" else "")
                if node is not None and node != h.path:
                    item.reached, sites = self._reach(graph, node)
                    citations += sites
            items.append(item)
        return GroundedPart("where", items, more=max(0, len(hits) - len(shown)), citations=citations)

    def _reach(self, graph: CodeGraph, node: str) -> tuple[list[str], list[Citation]]:
        callers = graph.callers(node, depth=1, limit=200)
        if not callers:
            return [], []
        callers.sort(key=lambda r: (bool(graph.attrs(r.node).get("is_test")), r.depth, -r.confidence, r.path, r.line))
        shown = callers[:REACH_CALLERS]
        parts, sites = [], []
        for r in shown:
            site = f"{r.path}:{r.line}"
            parts.append(f"`{r.qualname or r.path}` at `{site}`")
            sites.append(Citation(r.path, r.line, r.line, "", True, CALL_SITE_REASON, site))
        rest = len(callers) - len(shown)
        return ["called by " + ", ".join(parts) + (f" and {rest} more" if rest else "")], sites

    # -- graph questions ------------------------------------------------------------------------
    def _graph_answer(self, graph: CodeGraph, kind: str, target: str) -> GroundedPart | None:
        nodes = [n for n in graph.find(target) if not graph.attrs(n).get("is_test")] or graph.find(target)
        nodes = [n for n in nodes if graph.node_type(n) != "dir"]
        if not nodes:
            return None
        node = nodes[0]
        related = graph.related(kind, node, limit=1000 if kind == "impact" else 500)
        related.sort(key=lambda r: (bool(graph.attrs(r.node).get("is_test")), r.depth, -r.confidence, r.path, r.line))
        target_item = self._item(graph.record(node))
        citations = [Citation(target_item.path, target_item.start_line, target_item.end_line, target_item.symbol,
                              True, GRAPH_REASON, target_item.location)]
        items = []
        for r in related[:GRAPH_ITEMS]:
            item = self._item(r)
            item.reached = [_how(kind, r)]
            items.append(item)
            citations.append(Citation(item.path, item.start_line, item.end_line, item.symbol, True, GRAPH_REASON,
                                      item.location))
        note = "" if len(nodes) == 1 else f"`{target}` names {len(nodes)} symbols; this is the first."
        return GroundedPart(kind, items, target_item, max(0, len(related) - GRAPH_ITEMS), note, citations)

    def _item(self, r: Related) -> GroundedItem:
        symbol = r.qualname or ""
        summary = ""
        if symbol:
            for chunk in self.store.chunks_for_path(r.path):
                if chunk.qualname == symbol:
                    summary = redact(first_line(chunk.docstring) or first_line(chunk.signature))
                    break
        graph = self.graph()
        is_test = bool(graph.attrs(r.node).get("is_test")) if graph is not None else False
        return GroundedItem(r.path, r.start_line, r.end_line, symbol, r.kind, summary, is_test=is_test)


def _how(kind: str, r: Related) -> str:
    via = f" (through `{r.via.split('::')[-1]}`)" if r.depth > 1 and r.via else ""
    if kind == "callers":
        return f"calls it at line {r.line}{via}"
    if kind == "callees":
        return f"called by it{via}"
    return f"{r.edge} it" + (f" at line {r.line}" if r.line else "") + via
