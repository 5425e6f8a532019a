"""Result types shared by the retriever, the answerer, the CLI, the UI and the library."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class SearchHit:
    """One retrieved location with the reasons it was chosen (shown to users as-is)."""

    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    language: str
    score: float
    reasons: list[str] = field(default_factory=list)
    text: str = ""
    signature: str = ""
    chunk_id: int = 0
    repo: str = ""  # the repository's name (its directory name; numbered in a workspace when two share it)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def to_dict(self, with_text: bool = False) -> dict:
        d = asdict(self)
        if not with_text:
            d.pop("text")
        d["score"] = round(self.score, 6)
        return d


@dataclass
class SearchResult:
    """Hits plus how the search went (timings in ms, notes such as 'dense index still building')."""

    query: str
    hits: list[SearchHit]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
