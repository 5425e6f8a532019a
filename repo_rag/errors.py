"""The root of every error repo-rag raises on purpose.

Each error class lives with the concept it guards (``store.IndexMissingError``,
``layout.UntrustedIndexError``, ...) and derives from :class:`RepoRagError` (and, where it helps
callers, from the matching built-in: ``FileNotFoundError``, ``PermissionError``, ``ValueError``).
Front-ends catch ``RepoRagError`` once: its message is written for the user, and ``exit_code``
says how the CLI exits. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_ERROR = 2  # the user can fix it: bad input, missing or untrusted index, config, busy
EXIT_UNAVAILABLE = 3  # a needed service (model server) is unavailable


class RepoRagError(Exception):
    """An error with a message for the user; the CLI prints it on one line and exits ``exit_code``."""

    exit_code: int = EXIT_ERROR
