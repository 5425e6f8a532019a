"""Acc@k curves (k = 1..10), one line per method, written as a PNG with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .metrics import Summary


def plot_acc_at_k(summaries: Mapping[str, Summary], path: str | Path, title: str, max_k: int = 10) -> Path:
    """Strict file-level Acc@k per method; the legend carries each method's n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = list(range(1, max_k + 1))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for method, s in summaries.items():
        if not s.n:
            continue
        ax.plot(ks, [100 * s.acc.get(k, 0.0) for k in ks], marker="o", markersize=3, label=f"{method} (n={s.n})")
    ax.set_xlabel("k (distinct files)")
    ax.set_ylabel("strict Acc@k (%)")
    ax.set_xticks(ks)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
