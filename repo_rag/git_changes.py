"""Which paths of a git work tree may differ from what the index holds, asked of git instead of a walk.

After every indexer run the manifest records the commit it saw (``HEAD``) and the paths that differed
from that commit then (modified, added, deleted or untracked: ``dirty``). On the next run, a path can
differ from the index only if git reports it against that commit now, or it was dirty then (a file
edited and later restored is not in today's diff, but the index holds the edit). So the changed set
is ``git diff --name-only RECORDED_HEAD`` ∪ untracked files ∪ the recorded dirty paths, and the
indexer classifies just those (``discover_paths``).

Decision order, first match wins (None: the caller walks the whole tree):

1. ``git`` is not installed, the root is not inside a work tree, or the index recorded no commit;
   or the repository's git configuration could make git run a program of its choosing while
   listing changes (a ``filter.*`` clean/smudge driver, ``core.fsmonitor``, a diff text converter or
   external diff): the repository is untrusted input, and its ``.git/config`` is part of it. Git is
   always run with ``core.fsmonitor=false``, no external diff or text conversion, no optional locks
   (it never rewrites the user's git index) and no terminal prompts;
2. the discovery options changed since the recorded run (an ``extra_ignore`` pattern, the size limit,
   symlink following), or ``.repo-ragignore`` re-includes something with ``!`` (git would not report
   changes in what it ignores), or the repository has submodules (git reports them as one path);
3. a git command fails (the recorded commit is gone after a rebase and gc, a timeout, ...);
4. otherwise: the union above, as paths relative to the repository root.

What git ignores through a global excludes file (``core.excludesFile``) is not reported as
untracked; ``repo-rag index --walk`` walks the tree whatever git says.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class GitState:
    """What the manifest records after a run: the commit and the paths that differed from it."""

    head: str
    dirty: frozenset[str]


_SAFE = ("-c", "core.fsmonitor=false", "-c", "diff.external=", "-c", "core.hooksPath=/dev/null")
_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}
_OFF = frozenset({"", "false", "0", "no", "off"})


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *_SAFE, "-C", str(root), *args], capture_output=True, timeout=GIT_TIMEOUT_S,
                             check=False, stdin=subprocess.DEVNULL, env={**os.environ, **_ENV})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", "surrogateescape") if out.returncode == 0 else None


def _paths(out: str) -> set[str]:
    return {p for p in out.split("\0") if p}


def options_fingerprint(options: dict) -> str:
    """A short digest of the discovery options (a change means git's answer is not enough)."""
    return hashlib.blake2b(json.dumps(options, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def usable(root: Path, rag_ignore_lines: list[str]) -> bool:
    """Whether git can stand in for a walk of ``root`` (rules 1-2 of the module docstring, but the record)."""
    if shutil.which("git") is None:
        return False
    if any(line.strip().startswith("!") for line in rag_ignore_lines):
        return False
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.strip() != "true" or _runs_programs(root):
        return False
    top = _git(root, "rev-parse", "--show-toplevel")
    return top is not None and not (Path(top.strip()) / ".gitmodules").exists()


def _runs_programs(root: Path) -> bool:
    """Whether the effective git configuration names a program git could run while diffing or listing."""
    listing = _git(root, "config", "--list", "-z")
    if listing is None:
        return True
    for entry in listing.split("\0"):
        key, _, value = entry.partition("\n")
        key = key.lower()
        if key.startswith("filter.") or (key.startswith("diff.") and key.endswith((".textconv", ".command"))):
            return True
        if key in ("core.fsmonitor", "diff.external") and value.strip().lower() not in _OFF:
            return True
    return False


def current_state(root: Path) -> GitState | None:
    """HEAD and the paths under ``root`` that differ from it now (None when git cannot say)."""
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    if head is None:
        return None
    head = head.strip()
    changed = _changed_since(root, head)
    return None if changed is None else GitState(head, frozenset(changed))


def _changed_since(root: Path, commit: str) -> set[str] | None:
    diff = _git(root, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", "--relative",
                commit, "--")
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard")
    if diff is None or untracked is None:
        return None
    return _paths(diff) | _paths(untracked)


def changed_since(root: Path, recorded: GitState) -> set[str] | None:
    """Every path that may differ from the index built at ``recorded`` (rule 4), or None (rule 3)."""
    changed = _changed_since(root, recorded.head)
    return None if changed is None else changed | set(recorded.dirty)


def to_manifest(state: GitState | None, fingerprint: str) -> dict[str, str]:
    if state is None:
        return {"git_head": "", "git_dirty": "[]", "git_options": ""}
    return {"git_head": state.head, "git_dirty": json.dumps(sorted(state.dirty)), "git_options": fingerprint}


def from_manifest(manifest: dict[str, str], fingerprint: str) -> GitState | None:
    """The recorded state, unless there is none or it was recorded under other discovery options."""
    head = manifest.get("git_head", "")
    if not head or manifest.get("git_options") != fingerprint:
        return None
    try:
        dirty = json.loads(manifest.get("git_dirty", "[]"))
    except ValueError:
        return None
    if not isinstance(dirty, list) or not all(isinstance(p, str) for p in dirty):
        return None
    return GitState(head, frozenset(dirty))
