"""Recognise test code by path, across languages (tests get their own graph edges and scope)."""

from __future__ import annotations

import re

_TEST_DIR = re.compile(r"(^|/)(tests?|testing|__tests__|spec|specs|test_?data|testcases)(/|$)", re.IGNORECASE)
_TEST_FILE = re.compile(
    r"(^|/)(test_[^/]*|[^/]*_test\.[a-z]+|[^/]*\.(test|spec)\.[jt]sx?|Test[A-Z][^/]*\.(java|kt|scala|cs)"
    r"|[^/]*Tests?\.(java|kt|scala|cs|swift)|conftest\.py|[^/]*_spec\.rb)$"
)


def is_test_path(path: str) -> bool:
    """True for files that hold tests (by directory or file-name convention)."""
    return bool(_TEST_DIR.search(path) or _TEST_FILE.search(path))
