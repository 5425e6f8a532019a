"""Terminal progress for indexing: files, chunks, embedding rate and ETA, on stderr."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_LABELS = {
    "discover": "discovering files",
    "parse": "parsing",
    "store": "storing",
    "graph": "graph",
    "embed": "embedding",
}


class IndexProgress:
    """A callable ``progress(stage, done, total, info)`` that renders a bar per stage."""

    def __init__(self, enabled: bool = True) -> None:
        self.quiet = not enabled
        self.enabled = enabled and sys.stderr.isatty()  # a bar on terminals, log lines otherwise
        self._progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not self.enabled,
        )
        self._tasks: dict[str, int] = {}
        self._last_info: dict[str, str] = {}

    def __enter__(self) -> IndexProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int, info: str) -> None:
        if self.quiet:
            return
        if not self.enabled:
            if stage in ("store", "graph") or (stage in ("parse", "embed") and done in (0, total)):
                print(f"[repo-rag] {_LABELS.get(stage, stage)}: {done}/{total} {info}", file=sys.stderr)
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(_LABELS.get(stage, stage), total=total or 1, info="")
        if info:
            self._last_info[stage] = info
        self._progress.update(self._tasks[stage], completed=done, total=total or 1, info=self._last_info.get(stage, ""))
