"""Reciprocal-rank fusion: combine ranked lists whose scores are not comparable.

bm25 scores, cosine similarities and PageRank mass live on different scales; ranks do not.
Each channel contributes ``weight / (k + rank)`` and keeps the reasons it had for each item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Ranked:
    """One channel's ranked list: item id -> (raw score, reason text), best first.

    ``tags`` carry what a channel knows about an item beyond its rank (the kind of path anchor, the
    graph edge that reached it) for the learned ranker's features.
    """

    channel: str
    weight: float
    items: list[tuple[int, float, str]] = field(default_factory=list)
    tags: dict[int, str] = field(default_factory=dict)


def rrf(lists: list[Ranked], k: int = 60) -> tuple[dict[int, float], dict[int, list[str]]]:
    scores: dict[int, float] = defaultdict(float)
    reasons: dict[int, list[str]] = defaultdict(list)
    for ranked in lists:
        for rank, (item, _raw, reason) in enumerate(ranked.items):
            scores[item] += ranked.weight / (k + rank + 1)
            if reason:
                reasons[item].append(reason)
    return dict(scores), dict(reasons)
