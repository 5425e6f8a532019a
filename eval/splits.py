"""Train / validation split by project, one rule for every dev set.

Decision order: a project named in ``eval/data/splits.json`` is in that split; any other project
is ``validation`` when ``blake2b(lower-case name) mod 4 == 0`` and ``train`` otherwise. Names are
compared lower-case with PyPI/npm/Debian decorations dropped (``Django`` -> ``django``,
``@scope/name`` -> ``name``, ``golang-github-spf13-cobra-dev`` is named by its project, ``cobra``).
SWE-bench Lite projects are listed as validation: no ranking or embedder is ever trained on them.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

SPLITS_FILE = Path(__file__).resolve().parent / "data" / "splits.json"
TRAIN, VALIDATION = "train", "validation"


@cache
def _table() -> dict[str, str]:
    data = json.loads(SPLITS_FILE.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for split in (TRAIN, VALIDATION):
        for name in data[split]:
            if name in out:
                raise ValueError(f"{SPLITS_FILE}: {name!r} is in two splits")
            out[name] = split
    return out


def split_of(project: str) -> str:
    """``train`` or ``validation`` for ``project`` (see the module docstring)."""
    key = project.strip().lower().rsplit("/", 1)[-1]
    table = _table()
    for candidate in (key, key.replace("_", "-"), key.replace("-", "_")):
        if candidate in table:
            return table[candidate]
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return VALIDATION if int.from_bytes(digest, "big") % 4 == 0 else TRAIN
