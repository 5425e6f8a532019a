"""Node and edge types of the code graph, how edges were resolved, and how node ids are spelled.

Everything that names a part of the graph lives here, once, so builders, queries, the CLI and the
UI agree on it.
"""

from __future__ import annotations

import gc
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager

# What a graph's contents mean (node ids, attributes, file_deps): a graph built by another version is
# rebuilt. 2: file_deps may name a whole directory (``DIR_DEPENDENCY``).
GRAPH_VERSION = 2

# -- node types -----------------------------------------------------------------------------
NODE_DIR = "dir"  # id 'pkg/sub/'
NODE_FILE = "file"  # id 'pkg/sub/mod.py'
NODE_CLASS = "class"  # id 'pkg/sub/mod.py::Outer.Inner'
NODE_FUNCTION = "function"  # functions and methods (attribute ``kind`` tells them apart)
NODE_SECTION = "section"  # a doc section, id 'docs/guide.md#Title > Sub'
NODE_TYPES = (NODE_DIR, NODE_FILE, NODE_CLASS, NODE_FUNCTION, NODE_SECTION)
SYMBOL_NODES = frozenset({NODE_CLASS, NODE_FUNCTION})

# Node attributes: type, kind, path, qualname, name, start_line, end_line, is_test, language, and
# ``unresolved`` (names used there that matched too many definitions to guess).

# -- edge types -----------------------------------------------------------------------------
EDGE_CONTAINS = "contains"  # dir -> dir/file, file -> top-level symbol/section, class -> member
EDGE_IMPORTS = "imports"  # file -> file/dir it imports, file -> symbol it imports by name
EDGE_CALLS = "calls"  # symbol (or file, for module-level code) -> called symbol
EDGE_INHERITS = "inherits"  # class -> base class / implemented interface / embedded struct
EDGE_REFERENCES = "references"  # symbol -> symbol it names without calling (mostly types)
EDGE_DOCUMENTS = "documents"  # doc section -> symbol it names
EDGE_TESTS = "tests"  # test function -> non-test symbol it calls
EDGE_TYPES = (
    EDGE_CONTAINS, EDGE_IMPORTS, EDGE_CALLS, EDGE_INHERITS, EDGE_REFERENCES, EDGE_DOCUMENTS, EDGE_TESTS,
)
DEPENDENCY_EDGES = (EDGE_CALLS, EDGE_IMPORTS, EDGE_INHERITS, EDGE_REFERENCES)

# Edge attributes: type, confidence (0..1), provenance (below), line (first use site, in the
# source node's file; 0 for structure), count (use sites merged into the edge).

# Edge-type weights for personalized PageRank (walked in both directions, each edge's weight times
# its confidence). The one table: retrieval's graph channel spreads relevance with it, and
# ``CodeGraph.personalized_pagerank`` uses it for types a caller does not override. The values are
# the ones retrieval has always used (issue #9 merged a second, test-only table into this one); the
# order is what matters, and the reasons for it:
DEFAULT_PPR_WEIGHTS: dict[str, float] = {
    # A caller and its callee take part in the same behaviour: the strongest evidence that code near
    # a hit is relevant to the same question.
    EDGE_CALLS: 1.0,
    # A subclass overrides or extends its base's methods: questions about one usually need the other.
    EDGE_INHERITS: 0.8,
    # A method's class and siblings, a symbol's file: the enclosing context an answer often needs; a
    # little weaker than a call because a big class or file contains much that is unrelated.
    EDGE_CONTAINS: 0.6,
    # File-level and coarse: an import says two modules work together, not which parts.
    EDGE_IMPORTS: 0.5,
    # Naming a type (annotations, fields, isinstance) is looser than calling into it.
    EDGE_REFERENCES: 0.4,
    # Prose naming a symbol: useful for "how do I" questions, but docs rank below code (retrieval
    # priors), so they should not pull much relevance away from it.
    EDGE_DOCUMENTS: 0.3,
    # Every tests edge doubles a calls edge from the same test, which already carries 1.0: a small
    # extra so tests do not crowd out the code under test.
    EDGE_TESTS: 0.2,
}

# -- provenances: how an edge was resolved, strongest first ----------------------------------
STRUCTURE = "structure"  # contains edges
IMPORT_RESOLVED = "import-resolved"  # import statement mapped to a repo file exactly
IMPORT_SUFFIX = "import-suffix"  # ... mapped by a unique path suffix
SELF_METHOD = "self-method"  # self.m() / this.m() / implicit this: the class or its bases
SUPER_METHOD = "super-method"  # super().m(): the bases
SAME_FILE = "same-file"  # a definition of the same file (or enclosing function)
IMPORTED_NAME = "imported-name"  # a name the file imports (alias aware, through re-exports)
MODULE_ATTRIBUTE = "module-attribute"  # mod.f(), pkg.Class, Class.method via a resolved prefix
SAME_PACKAGE = "same-package"  # Go/Java/...: another file of the same directory
RECEIVER_TYPE = "receiver-type"  # obj.m() where the caller names obj's likely class
RECEIVER_METHOD = "receiver-method"  # obj.m(): a method of a class the file can see
SUBCLASS_METHOD = "subclass-method"  # self.m() defined only in subclasses (template method)
QUALIFIED_NAME = "qualified-name"  # a dotted name in prose matching exactly one symbol
UNIQUE_GLOBAL = "unique-global-name"  # the only definition with that name in the language family
AMBIGUOUS = "ambiguous-name"  # one of up to MAX_CANDIDATES same-named definitions
TEST_CALL = "test-call"  # tests edges, derived from calls
PROVENANCES = (
    STRUCTURE, IMPORT_RESOLVED, IMPORT_SUFFIX, SELF_METHOD, SUPER_METHOD, SAME_FILE, IMPORTED_NAME,
    MODULE_ATTRIBUTE, SAME_PACKAGE, RECEIVER_TYPE, RECEIVER_METHOD, SUBCLASS_METHOD, QUALIFIED_NAME,
    UNIQUE_GLOBAL, AMBIGUOUS, TEST_CALL,
)

CONFIDENCE: dict[str, float] = {
    IMPORT_RESOLVED: 1.0,
    IMPORT_SUFFIX: 0.7,
    SELF_METHOD: 0.95,
    SUPER_METHOD: 0.9,
    SAME_FILE: 0.9,
    IMPORTED_NAME: 0.9,
    MODULE_ATTRIBUTE: 0.9,
    SAME_PACKAGE: 0.85,
    RECEIVER_TYPE: 0.7,
    RECEIVER_METHOD: 0.6,
    SUBCLASS_METHOD: 0.5,
    QUALIFIED_NAME: 0.9,
    UNIQUE_GLOBAL: 0.3,
    AMBIGUOUS: 0.3,  # divided by the number of candidates
}
DOC_UNIQUE_CONFIDENCE = 0.7  # a bare name in prose that only one symbol has
MAX_CANDIDATES = 4  # more same-named candidates than this: left unresolved


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building or loading allocates ~1M long-lived objects (Django): cyclic GC passes over them
    cost a third of the time and free nothing, so they wait until the work is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- ids ------------------------------------------------------------------------------------
def symbol_id(path: str, qualname: str) -> str:
    return f"{path}::{qualname}"


def section_id(path: str, qualname: str) -> str:
    return f"{path}#{qualname}"


def path_of(node: str) -> str:
    """The file (or dir) a node id belongs to."""
    if "::" in node:
        return node.split("::", 1)[0]
    return node.split("#", 1)[0]


DIR_DEPENDENCY = "\x01"  # file_deps entry '\x01pkg/': resolution read every file of 'pkg/' (a package)


def dir_dependency(d: str) -> str:
    """The ``file_deps`` entry for a dependency on all files of directory ``d`` (one entry instead of
    one per file keeps package-scoped languages linear in the size of a package)."""
    return DIR_DEPENDENCY + d


def dir_of(path: str) -> str:
    """'a/b/c.py' -> 'a/b/'; 'a/b/' -> 'a/'; top-level entries -> '' (the root has no node)."""
    head = posixpath.dirname(path.rstrip("/"))
    return head + "/" if head else ""


def strip_ext(path: str) -> str:
    return path[:-5] if path.endswith(".d.ts") else posixpath.splitext(path)[0]


def dotted_module(path: str) -> str:
    """'django/contrib/auth/hashers.py' -> 'django.contrib.auth.hashers' (package inits drop out)."""
    parts = strip_ext(path).split("/")
    if parts[-1] in ("__init__", "index", "mod"):
        parts = parts[:-1]
    return ".".join(parts)


def qualified_match(node: str, dotted: str) -> bool:
    """Whether a symbol id is named by ``dotted`` ('Class.method', 'module.func', 'pkg.mod.Class')."""
    path, qual = node.split("::", 1)
    if qual == dotted or qual.endswith("." + dotted):
        return True
    full = f"{dotted_module(path)}.{qual}"
    return full == dotted or full.endswith("." + dotted)
