"""Parsing and chunking of the polyglot fixture repo, checked against hand-written known facts."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from repo_rag.indexers.chunk import WINDOW_LINES, WINDOW_OVERLAP
from repo_rag.indexers.languages import CODE_LANGUAGES, get_parser, is_doc_language, language_for_path
from repo_rag.indexers.model import (
    CALL,
    CLASS,
    FUNCTION,
    INHERIT,
    METHOD,
    MODULE,
    REFERENCE,
    SECTION,
    WINDOW,
    ParsedFile,
)
from repo_rag.indexers.parse import get_query, parse_source
from test_languages_more import MORE_LANGUAGES

FIXTURE = Path(__file__).parent / "fixtures" / "polyglot"
EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "polyglot_expected.json").read_text())


@cache
def parsed(path: str, max_chunk_lines: int = 80) -> ParsedFile:
    text = (FIXTURE / path).read_text(encoding="utf-8")
    return parse_source(path, text, language_for_path(path), max_chunk_lines)


def fixture_files() -> list[str]:
    return sorted(p.relative_to(FIXTURE).as_posix() for p in FIXTURE.rglob("*") if p.is_file())


def chunk_for(result: ParsedFile, qualname: str, start_line: int, end_line: int):
    """The chunk holding a definition: its own, or the merged chunk of tiny siblings that covers it."""
    for chunk in result.chunks:
        if chunk.qualname == qualname and chunk.part in (0, 1):
            return chunk
    name = qualname.rsplit(".", 1)[-1]
    for chunk in result.chunks:
        if chunk.start_line <= start_line and end_line <= chunk.end_line and name in chunk.signature:
            return chunk
    return None


def lines_of(path: str, start: int, end: int) -> str:
    lines = (FIXTURE / path).read_text(encoding="utf-8").split("\n")
    return "\n".join(lines[start - 1: end])


# -- languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b.py", "python"), ("x.pyi", "python"), ("web/app.tsx", "tsx"), ("web/app.ts", "typescript"),
        ("web/app.jsx", "javascript"), ("lib.mjs", "javascript"), ("Main.java", "java"), ("main.go", "go"),
        ("lib.rs", "rust"), ("x.c", "c"), ("x.h", "c"), ("x.hpp", "cpp"), ("x.cc", "cpp"), ("A.cs", "csharp"),
        ("Gemfile", "ruby"), ("a.rb", "ruby"), ("a.php", "php"), ("a.kt", "kotlin"), ("a.scala", "scala"),
        ("a.swift", "swift"), ("a.lua", "lua"), ("deploy.sh", "bash"), ("README.md", "markdown"),
        ("docs/guide.rst", "rst"), ("notes.txt", "text"), ("LICENSE", "text"), ("Makefile", "unknown"),
        ("data.bin", "unknown"), ("C:\\repo\\Mod.PY", "python"),
    ],
)
def test_language_for_path(path: str, language: str) -> None:
    assert language_for_path(path) == language


def test_doc_languages_and_grammars() -> None:
    assert is_doc_language("markdown") and is_doc_language("rst") and is_doc_language("text")
    assert not is_doc_language("python") and not is_doc_language("unknown")
    for language in CODE_LANGUAGES:
        assert get_parser(language) is not None, language
        assert get_query(language) is not None, language
    assert get_parser("cobol") is None and get_query("cobol") is None


# -- known symbols -----------------------------------------------------------------------------


def test_every_fixture_language_is_parsed_with_symbols() -> None:
    seen: dict[str, int] = {}
    for path in fixture_files():
        language = language_for_path(path)
        if language in CODE_LANGUAGES:
            result = parsed(path)
            seen[language] = seen.get(language, 0) + len(result.definitions)
            if path != EXPECTED["syntax_error_file"]:
                assert result.error == "", (path, result.error)
    # the languages added later have their known-answer fixtures in test_languages_more.py
    assert set(seen) | MORE_LANGUAGES == set(CODE_LANGUAGES)
    assert all(count > 0 for count in seen.values()), seen


@pytest.mark.parametrize("symbol", EXPECTED["symbols"], ids=lambda s: f"{s['path']}::{s['qualname']}")
def test_known_symbol(symbol: dict) -> None:
    result = parsed(symbol["path"])
    definitions = [d for d in result.definitions if d.qualname == symbol["qualname"]]
    assert definitions, [d.qualname for d in result.definitions]
    definition = definitions[0]
    assert definition.kind == symbol["kind"]
    assert (definition.start_line, definition.end_line) == (symbol["start_line"], symbol["end_line"])
    assert definition.name == symbol["qualname"].rsplit(".", 1)[-1]

    chunk = chunk_for(result, symbol["qualname"], symbol["start_line"], symbol["end_line"])
    assert chunk is not None
    assert chunk.kind == symbol["kind"]
    if chunk.qualname == symbol["qualname"]:
        assert (chunk.start_line, chunk.end_line) == (symbol["start_line"], symbol["end_line"])
        if "signature" in symbol:
            assert chunk.signature == symbol["signature"]
        if "docstring_startswith" in symbol:
            assert chunk.docstring.startswith(symbol["docstring_startswith"]), chunk.docstring
        assert chunk.parent == symbol.get("parent", "")
        if symbol["kind"] != CLASS:  # function text is the exact span, doc comment and decorators included
            assert chunk.text == lines_of(symbol["path"], symbol["start_line"], symbol["end_line"])
    else:  # merged with tiny siblings: the whole run is the text, every signature is listed
        assert symbol["kind"] in (FUNCTION, METHOD)
        assert chunk.text == lines_of(symbol["path"], chunk.start_line, chunk.end_line)


def test_python_signature_docstring_and_decorators() -> None:
    result = parsed("bookstore/auth.py")
    check = next(c for c in result.chunks if c.qualname == "check_password")
    assert check.signature == 'def check_password(password, encoded, setter=None, preferred="default"):'
    assert check.docstring.startswith("Return True if the raw password matches the encoded hash.\n\nWhen")
    assert '"""' not in check.docstring
    book = next(c for c in parsed("bookstore/models.py").chunks if c.qualname == "Book")
    assert book.start_line == 31 and book.text.startswith("@dataclass\nclass Book(Model):")
    module = next(c for c in result.chunks if c.kind == MODULE)
    assert module.docstring == "Password hashing and validation for staff accounts."


def test_methods_get_owner_qualnames_across_languages() -> None:
    by_path = {
        "go/store/timestamps.go": ("Timestamps.Touch", "Timestamps"),
        "cpp/cart.cpp": ("Cart.cents", "Cart"),
        "rust/src/lib.rs": ("Item.restock", "Item"),
        "lua/discount.lua": ("Discount.apply", "Discount"),
        "swift/Wishlist.swift": ("Wishlist.add", "Wishlist"),
        "bookstore/views.py": ("AdminBookView.change_password", "AdminBookView"),
    }
    for path, (qualname, parent) in by_path.items():
        chunk = next(c for c in parsed(path).chunks if c.qualname == qualname)
        assert chunk.kind == METHOD and chunk.parent == parent, (path, chunk)
    nested = {d.qualname: d.kind for d in parsed("ruby/catalog.rb").definitions}
    assert nested["Bookstore"] == CLASS and nested["Bookstore.Catalog.each"] == METHOD


def test_python_nesting_decorators_and_async() -> None:
    source = (
        "def outer(x):\n"
        "    def inner(y):\n"
        "        return helper(y)\n"
        "\n"
        "    class Local(Base):\n"
        "        def m(self):\n"
        "            return inner(1)\n"
        "    return inner(x)\n"
        "\n"
        "\n"
        "@decorator(arg=1)\n"
        "async def fetch(url):\n"
        "    return await get(url)\n"
    )
    result = parse_source("nested.py", source, "python")
    assert [(d.kind, d.qualname, d.start_line, d.end_line) for d in result.definitions] == [
        (FUNCTION, "outer", 1, 8),
        (FUNCTION, "outer.inner", 2, 3),
        (CLASS, "outer.Local", 5, 7),
        (METHOD, "outer.Local.m", 6, 7),
        (FUNCTION, "fetch", 11, 13),
    ]
    facts = {(r.kind, r.source, r.name) for r in result.references if r.kind != REFERENCE}
    assert facts == {
        (CALL, "outer.inner", "helper"), (CALL, "outer.Local.m", "inner"), (CALL, "outer", "inner"),
        (INHERIT, "outer.Local", "Base"), (CALL, "fetch", "get"), (CALL, "", "decorator"),
    }
    fetch = next(c for c in result.chunks if c.qualname == "fetch")
    assert fetch.signature == "async def fetch(url):" and fetch.text.startswith("@decorator(arg=1)\n")


def test_jsx_components_count_as_calls() -> None:
    source = (
        "export function List({ items }) {\n"
        "  return <div>{items.map((i) => <Row item={i} />)}<Ui.Bar /></div>;\n"
        "}\n"
    )
    result = parse_source("List.tsx", source, "tsx")
    calls = {(r.receiver, r.name) for r in result.references if r.kind == CALL}
    assert {("", "Row"), ("Ui", "Bar"), ("items", "map")} <= calls
    assert ("", "div") not in calls


# -- chunking rules ----------------------------------------------------------------------------


def test_class_chunk_is_an_outline() -> None:
    cls = next(c for c in parsed("bookstore/auth.py").chunks if c.qualname == "PasswordValidator")
    assert (cls.start_line, cls.end_line) == (39, 49)
    assert cls.text.splitlines() == [
        "class PasswordValidator:",
        '    """Base class for password validation rules."""',
        '    message = "The password is invalid."',
        "    def validate(self, password: str) -> None:",
        "    def is_valid(self, password: str) -> bool:",
    ]
    java = next(c for c in parsed("java/src/main/java/com/example/bookstore/service/BookService.java").chunks
                if c.qualname == "BookService" and c.kind == CLASS)
    assert "public boolean addBook(Book book) {" in java.text
    assert "protected final BookDao dao;" in java.text
    assert "dao.insert(book);" not in java.text and "return total;" not in java.text
    assert java.text.startswith("/**\n * Business rules") and java.text.endswith("\n}")
    go = next(c for c in parsed("go/store/repo.go").chunks if c.qualname == "MemoryRepo")
    assert "\tTimestamps\n" in go.text and "books map[string]Book" in go.text


def test_module_chunk_holds_top_level_code_only() -> None:
    module = [c for c in parsed("bookstore/views.py").chunks if c.kind == MODULE]
    assert len(module) == 1
    chunk = module[0]
    assert (chunk.name, chunk.qualname, chunk.start_line, chunk.end_line) == ("views", "<module>", 1, 11)
    assert "import json" in chunk.text and "repository = BookRepository()" in chunk.text
    assert "def render" not in chunk.text and "class BookView" not in chunk.text
    java_file = parsed("java/src/main/java/com/example/bookstore/Book.java")
    java = [c for c in java_file.chunks if c.kind == MODULE]
    assert java[0].text == "package com.example.bookstore;\n\nimport java.util.Objects;"


def test_long_function_is_split_with_repeated_signature() -> None:
    path = "bookstore/reports.py"
    result = parse_source(path, (FIXTURE / path).read_text(), "python", max_chunk_lines=12)
    parts = sorted((c for c in result.chunks if c.qualname == "sales_summary"), key=lambda c: c.part)
    assert len(parts) >= 3
    assert [c.part for c in parts] == list(range(1, len(parts) + 1))
    signature = "def sales_summary(repo: BookRepository, sales: list[tuple[str, int]]) -> dict:"
    assert parts[0].start_line == 8 and parts[-1].end_line == 37
    for previous, current in pairwise(parts):
        assert current.start_line == previous.end_line + 1  # contiguous, no overlap, nothing lost
    for chunk in parts:
        assert chunk.signature == signature
        assert len(chunk.text.split("\n")) <= 12
        own_lines = lines_of(path, chunk.start_line, chunk.end_line)
        assert chunk.text == (own_lines if chunk.part == 1 else f"{signature}\n{own_lines}")
        first = lines_of(path, chunk.start_line, chunk.start_line)
        assert first.startswith(("def ", "    ")) and not first.startswith("        "), first  # a statement
    unsplit = next(c for c in result.chunks if c.qualname == "format_summary")
    assert unsplit.part == 0


def test_tiny_siblings_are_merged_but_keep_their_definitions() -> None:
    path = "java/src/main/java/com/example/bookstore/Book.java"
    result = parsed(path)
    merged = [c for c in result.chunks if c.qualname == "Book.getIsbn"]
    assert len(merged) == 1
    assert merged[0].signature.splitlines() == [
        "public String getIsbn()", "public String getTitle()", "public long getPriceCents()",
    ]
    assert (merged[0].start_line, merged[0].end_line) == (17, 19)
    assert not [c for c in result.chunks if c.qualname in ("Book.getTitle", "Book.getPriceCents")]
    assert {"Book.getIsbn", "Book.getTitle", "Book.getPriceCents"} <= {d.qualname for d in result.definitions}
    constructor = next(c for c in result.chunks if c.qualname == "Book.Book")
    assert constructor.signature == "public Book(String isbn, String title, long priceCents)"


def test_chunks_stay_within_the_file() -> None:
    for path in fixture_files():
        result = parsed(path)
        total = len((FIXTURE / path).read_text().split("\n"))
        assert result.chunks, path
        for chunk in result.chunks:
            assert 1 <= chunk.start_line <= chunk.end_line <= total, (path, chunk.qualname)
            assert chunk.text.strip() and chunk.path == path and chunk.language == result.language


# -- robustness --------------------------------------------------------------------------------


def test_syntax_error_file_still_yields_symbols() -> None:
    result = parsed(EXPECTED["syntax_error_file"])
    assert result.error and "12" in result.error
    names = {d.qualname for d in result.definitions}
    assert {"parse_price", "broken_total", "PriceList", "PriceList.__init__", "PriceList.total"} <= names
    calls = {(r.source, r.name) for r in result.references if r.kind == CALL}
    assert ("PriceList.total", "parse_price") in calls
    assert not [c for c in result.chunks if c.kind == WINDOW]


def test_unknown_language_gets_line_windows() -> None:
    text = "\n".join(f"line {n}" for n in range(1, 151)) + "\n"
    result = parse_source("data/notes.weird", text, "unknown")
    assert result.error == "" and not result.definitions
    spans = [(c.start_line, c.end_line) for c in result.chunks]
    step = WINDOW_LINES - WINDOW_OVERLAP
    assert spans == [(1, WINDOW_LINES), (1 + step, step + WINDOW_LINES), (1 + 2 * step, 150)]
    assert all(c.kind == WINDOW for c in result.chunks)
    assert result.chunks[1].text.startswith(f"line {1 + step}\n")
    missing = parse_source("x.cob", "IDENTIFICATION DIVISION.\n", "cobol")
    assert "no tree-sitter grammar" in missing.error and missing.chunks[0].kind == WINDOW


def garbage_texts() -> Iterable[str]:
    rng = random.Random(7)
    yield ""
    yield "\n\n\n"
    yield bytes(rng.randrange(256) for _ in range(5000)).decode("utf-8", "surrogateescape")
    yield bytes(rng.randrange(256) for _ in range(5000)).decode("latin-1")
    yield "\x00\x01\x02 def f(:\n\x00 class {{{{ ]]]] \ufffd \udcff"
    yield "def f():\r\n    return 1\r\n\r\nclass A:\r\n    pass\r\n"
    yield "x = [" * 3000
    yield "a" * 100_000


@pytest.mark.parametrize("language", sorted(CODE_LANGUAGES | {"unknown", "markdown", "rst", "text"}))
def test_garbage_never_raises(language: str) -> None:
    for text in garbage_texts():
        result = parse_source("junk/file", text, language)
        assert isinstance(result, ParsedFile)
        for chunk in result.chunks:
            assert chunk.start_line <= chunk.end_line


def test_crlf_lines_are_clean() -> None:
    result = parse_source("m.py", "def f():\r\n    return 1\r\n\r\n\r\nclass A:\r\n    x = 1\r\n", "python")
    f = next(c for c in result.chunks if c.qualname == "f")
    assert f.text == "def f():\n    return 1" and f.signature == "def f():"


# -- facts -------------------------------------------------------------------------------------


def test_call_receivers_and_constructors() -> None:
    def calls(path: str) -> set[tuple[str, str, str]]:
        return {(r.source, r.receiver, r.name) for r in parsed(path).references if r.kind == CALL}

    assert ("BookView.show", "self.repo", "find_by_isbn") in calls("bookstore/views.py")
    assert ("AdminBookView.__init__", "super()", "__init__") in calls("bookstore/views.py")
    assert ("BookApi.list", "this.http", "get") in calls("web/api.ts")
    assert ("createBookApi", "", "Client") in calls("web/api.ts")  # new Client(...)
    assert ("main", "store", "Book") in calls("go/cmd/server/main.go")  # struct literal
    assert ("main", "", "server") in calls("go/cmd/server/main.go")
    assert ("Cart.cents", "pricing", "lookup") in calls("cpp/cart.cpp")
    assert ("Checkout.pay", "$this->gateway", "charge") in calls("php/Checkout.php")
    assert ("total", "discount", "apply") in calls("lua/discount.lua")
    assert ("main", "", "build_release") in calls("scripts/deploy.sh")


def test_inheritance_facts_outside_the_main_languages() -> None:
    def bases(path: str) -> set[tuple[str, str]]:
        return {(r.source, r.name) for r in parsed(path).references if r.kind == INHERIT}

    assert bases("rust/src/lib.rs") == {("Item", "Stocked"), ("Item", "Display")}
    assert bases("cpp/cart.cpp") == {("Cart", "Priced")}
    assert bases("csharp/Orders.cs") == {("Order", "Entity"), ("Order", "IShippable")}
    assert bases("ruby/catalog.rb") == {
        ("Bookstore.Catalog", "BaseCatalog"), ("Bookstore.Catalog", "Enumerable"),
    }
    assert bases("php/Checkout.php") == {("Checkout", "BaseService"), ("Checkout", "Finalizable")}
    assert bases("kotlin/Shipping.kt") == {("FlatRatePolicy", "ShippingPolicy")}
    assert bases("scala/Pricing.scala") == {("MemberDiscount", "Discount")}
    assert bases("swift/Wishlist.swift") == {
        ("Wishlist", "Codable"), ("Wishlist", "Persistable"), ("Wishlist", "CustomStringConvertible"),
    }


IMPORT_CASES = [
    ("python", "import a.b as c\n", ("a.b", (), 0, "c")),
    ("python", "from ..x.y import z as w, v\n", ("x.y", (("z", "w"), ("v", "v")), 2, "")),
    ("python", "from . import *\n", ("", (("*", "*"),), 1, "")),
    ("javascript", "import x, {a as b} from './y';\n", ("./y", (("a", "b"), ("default", "x")), 0, "")),
    ("javascript", "export * from './all';\n", ("./all", (("*", "*"),), 0, "")),
    ("javascript", "const m = require('m');\n", ("m", (), 0, "m")),
    ("typescript", "import * as ns from '../lib/ns';\n", ("../lib/ns", (), 0, "ns")),
    ("java", "import static java.util.Objects.requireNonNull;\n",
     ("java.util.Objects.requireNonNull", (), 0, "")),
    ("java", "import java.util.*;\n", ("java.util.*", (("*", "*"),), 0, "")),
    ("go", 'import f "fmt"\n', ("fmt", (), 0, "f")),
    ("rust", "use a::b::{c, d as e};\n", ("a::b", (("c", "c"), ("d", "e")), 0, "")),
    ("rust", "use std::io::*;\n", ("std::io::*", (("*", "*"),), 0, "")),
    ("kotlin", "import a.b.*\n", ("a.b.*", (("*", "*"),), 0, "")),
    ("scala", "import a.b._\n", ("a.b.*", (("*", "*"),), 0, "")),
    ("c", "#include <stdio.h>\n", ("stdio.h", (), 0, "")),
    ("cpp", '#include "cart.hpp"\n', ("cart.hpp", (), 0, "")),
    ("csharp", "using Col = System.Collections;\n", ("System.Collections", (), 0, "Col")),
    ("ruby", "require_relative 'lib/pricing'\n", ("lib/pricing", (), 0, "")),
    ("php", "<?php\nuse App\\Model\\Cart as C;\n", ("App\\Model\\Cart", (), 0, "C")),
    ("kotlin", "import a.b.C as D\n", ("a.b.C", (), 0, "D")),
    ("scala", "import a.b.{C, D => E}\n", ("a.b", (("C", "C"), ("D", "E")), 0, "")),
    ("lua", 'local json = require("dkjson")\n', ("dkjson", (), 0, "json")),
    ("bash", "source ./lib.sh\n", ("./lib.sh", (), 0, "")),
    ("swift", "import UIKit\n", ("UIKit", (), 0, "")),
]


@pytest.mark.parametrize(("language", "source", "expected"), IMPORT_CASES)
def test_import_forms(language: str, source: str, expected: tuple) -> None:
    result = parse_source("snippet", source, language)
    imports = {(i.module, tuple(sorted(i.names)), i.level, i.alias) for i in result.imports}
    module, names, level, alias = expected
    assert (module, tuple(sorted(names)), level, alias) in imports, imports


def fact_files() -> list[str]:
    return [p for p in fixture_files() if language_for_path(p) in EXPECTED["fact_languages"]]


def precision_recall(kind: str, raw: set, expected: set) -> tuple[float, float]:
    hits = raw & expected
    precision = len(hits) / len(raw) if raw else 1.0
    recall = len(hits) / len(expected) if expected else 1.0
    print(f"{kind}: raw={len(raw)} expected={len(expected)} precision={precision:.3f} recall={recall:.3f}")
    for fact in sorted(raw - expected):
        print("  unexpected", fact)
    for fact in sorted(expected - raw):
        print("  missing   ", fact)
    return precision, recall


def test_raw_facts_match_expected_for_main_languages() -> None:
    files = fact_files()
    assert len(files) >= 20
    results = [parsed(p) for p in files]
    # Calls are compared on each language's project vocabulary: names it defines or calls across files.
    family = {"tsx": "typescript"}
    vocabulary: dict[str, set[str]] = {}
    for result in results:
        vocabulary.setdefault(family.get(result.language, result.language), set()).update(
            d.name for d in result.definitions
        )
    for call in EXPECTED["calls"]:
        language = language_for_path(call["path"])
        vocabulary[family.get(language, language)].add(call["callee"])
    raw_calls = {
        (r.path, ref.source, ref.name)
        for r in results
        for ref in r.references
        if ref.kind == CALL and ref.name in vocabulary[family.get(r.language, r.language)]
    }
    raw_imports = {(r.path, i.module, i.level) for r in results for i in r.imports}
    raw_inherits = {
        (r.path, ref.source, ref.name) for r in results for ref in r.references if ref.kind == INHERIT
    }
    expected_calls = {(c["path"], c["caller"], c["callee"]) for c in EXPECTED["calls"]}
    expected_imports = {(i["path"], i["module"], i["level"]) for i in EXPECTED["imports"]}
    expected_inherits = {(i["path"], i["class"], i["base"]) for i in EXPECTED["inherits"]}
    for kind, raw, expected in (
        ("calls", raw_calls, expected_calls),
        ("imports", raw_imports, expected_imports),
        ("inherits", raw_inherits, expected_inherits),
    ):
        precision, recall = precision_recall(kind, raw, expected)
        assert precision >= 0.9 and recall >= 0.9, kind


def test_type_references_are_recorded() -> None:
    refs = {(r.source, r.name) for r in parsed("bookstore/views.py").references if r.kind == REFERENCE}
    assert ("AdminBookView.__init__", "BookRepository") in refs
    ts_refs = {(r.source, r.name) for r in parsed("web/api.ts").references if r.kind == REFERENCE}
    assert ("BookApi.list", "HttpResponse") in ts_refs
    assert ("createBookApi", "BookApi") in ts_refs
    assert ("BookApi", "BookApi") not in ts_refs  # a definition's own name is not a reference
    assert not any(name == "T" for _, name in ts_refs)  # nor a type parameter


# -- docs --------------------------------------------------------------------------------------


def sections(path: str) -> dict[str, object]:
    return {c.qualname: c for c in parsed(path).chunks if c.kind == SECTION}


def test_markdown_sections_and_references() -> None:
    found = sections("README.md")
    assert list(found) == [
        "Bookstore",
        "Bookstore > Python package",
        "Bookstore > Python package > Views",
        "Bookstore > Web client",
        "Bookstore > Go server",
    ]
    views = found["Bookstore > Python package > Views"]
    assert views.name == "Views" and views.parent == "Bookstore > Python package"
    assert views.text.startswith("### Views\n") and "repo = BookRepository()" in views.text
    assert "# code blocks are not headings" in views.text
    go = found["Bookstore > Go server"]
    assert go.signature == "Go server\n---------" and go.start_line == 25
    refs = {(r.source, r.receiver, r.name) for r in parsed("README.md").references}
    assert ("Bookstore > Python package", "", "check_password") in refs
    assert ("Bookstore > Python package > Views", "BookView", "show") in refs
    assert ("Bookstore > Python package > Views", "BookRepository", "find_by_isbn") in refs
    assert ("Bookstore > Go server", "", "MemoryRepo") in refs
    assert not any(" " in name for _, _, name in refs)  # 'go run ./cmd/server' is not an identifier
    assert all(r.kind == REFERENCE for r in parsed("README.md").references)


def test_rst_sections_and_roles() -> None:
    found = sections("docs/guide.rst")
    assert list(found) == [
        "Bookstore guide",
        "Bookstore guide > Installation",
        "Bookstore guide > Installation > Passwords",
        "Bookstore guide > Reports",
    ]
    refs = {(r.source, r.receiver, r.name) for r in parsed("docs/guide.rst").references}
    assert ("Bookstore guide > Installation", "", "BookRepository") in refs
    assert ("Bookstore guide > Installation > Passwords", "bookstore.auth", "check_password") in refs
    assert ("Bookstore guide > Installation > Passwords", "bookstore.auth", "MinimumLengthValidator") in refs
    assert ("Bookstore guide > Reports", "", "sales_summary") in refs


def test_plain_text_paragraph_groups() -> None:
    result = parsed("notes.txt")
    assert [c.kind for c in result.chunks] == [SECTION]
    assert result.chunks[0].name == "Release checklist"
    assert [(r.name, r.line) for r in result.references] == [("BookApi", 6)]
    long_text = "\n\n".join("\n".join(f"p{p} line {n}" for n in range(12)) for p in range(10))
    groups = parse_source("long.txt", long_text, "text").chunks
    assert len(groups) > 1 and all(c.end_line - c.start_line + 1 <= 40 for c in groups)
    starts = [long_text.split("\n")[c.start_line - 1] for c in groups]
    assert all(line.endswith("line 0") for line in starts)  # cut where paragraphs start


def test_long_markdown_section_is_split_on_paragraphs() -> None:
    body = "\n\n".join(f"Paragraph {n} mentions `Thing{n}`.\nSecond line." for n in range(40))
    result = parse_source("big.md", f"# Big\n\n{body}\n", "markdown", max_chunk_lines=20)
    parts = [c for c in result.chunks if c.qualname == "Big"]
    assert len(parts) > 1 and [c.part for c in parts] == list(range(1, len(parts) + 1))
    assert all(c.text.startswith("# Big\n") for c in parts)
    assert len({r.name for r in result.references}) == 40
