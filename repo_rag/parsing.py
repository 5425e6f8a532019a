"""The indexers' vocabulary, as the faces (eval, ui) may use it: languages, parsing, definition kinds.

Faces depend on the core only (faces -> core -> indexers, checked by the import contract), so what
a benchmark needs from the parsing floor, such as parsing a file the way the indexer does for a
baseline or naming definition kinds in a metric, is re-exported here rather than imported from
``repo_rag.indexers`` directly.
"""

from __future__ import annotations

from repo_rag.indexers.languages import CODE_LANGUAGES, get_parser, language_for_path
from repo_rag.indexers.model import CLASS, FUNCTION, METHOD, Definition
from repo_rag.indexers.parse import parse_source
from repo_rag.indexers.testpaths import is_test_path

__all__ = [
    "CLASS",
    "CODE_LANGUAGES",
    "FUNCTION",
    "METHOD",
    "Definition",
    "get_parser",
    "is_test_path",
    "language_for_path",
    "parse_source",
]
