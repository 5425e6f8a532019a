"""High-confidence secret patterns inside ordinary text, and their redaction.

File names catch whole secret files (see ``indexers.discover.is_secret_path``); this module
catches secrets pasted into source: private-key blocks, cloud access keys and tokens with a
well-known prefix. Redaction keeps every line break, so line numbers (and citations) are the same
in the redacted text as in the file on disk.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.S
)
_TOKEN_PATTERNS = [
    re.compile(p)
    for p in (
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",  # AWS access key id
        r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",  # GitHub tokens
        r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",
    )
]


def _blank_keep_lines(match: re.Match[str]) -> str:
    return REDACTED + "\n" * match.group(0).count("\n")


def redact_secrets(text: str) -> tuple[str, int]:
    """``text`` with every high-confidence secret replaced by ``[REDACTED]``, and how many there were.

    Line breaks inside a redacted span are kept, so the result has the same number of lines.
    """
    count = 0
    text, n = _PRIVATE_KEY_BLOCK.subn(_blank_keep_lines, text)
    count += n
    for pattern in _TOKEN_PATTERNS:
        text, n = pattern.subn(REDACTED, text)
        count += n
    return text, count
