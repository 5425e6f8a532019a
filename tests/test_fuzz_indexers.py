"""Property tests: hostile bytes and text never crash the indexers, and their results stay consistent.

Random bytes go through ``read_text``; random Unicode and code-shaped token soup go through
``parse_source`` for several languages, the chunker and ``redact_secrets``. Each example has a
deadline, so a pathological input (a regex that backtracks, a quadratic loop) fails the test
instead of hanging an indexer.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from repo_rag.indexers.chunk import DefSite, ModulePlan, build_chunks, pack_lines, window_chunks  # noqa: E402
from repo_rag.indexers.discover import read_text  # noqa: E402
from repo_rag.indexers.model import CLASS, FUNCTION, METHOD, ParsedFile  # noqa: E402
from repo_rag.indexers.parse import parse_source  # noqa: E402
from repo_rag.indexers.secrets import REDACTED, redact_secrets, scan_secrets  # noqa: E402

# Deterministic and quick by default (~20 s on 2 cores); REPO_RAG_FUZZ_EXAMPLES=2000 explores further
# with fresh random examples.
_EXAMPLES = int(os.environ.get("REPO_RAG_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_EXAMPLES or 100, deadline=2000, suppress_health_check=[HealthCheck.too_slow],
                derandomize=not _EXAMPLES, database=None)
LANGUAGES = ["python", "javascript", "go", "java", "rust", "markdown", "rst", "text", "unknown"]
EXTENSIONS = {"python": "py", "javascript": "js", "go": "go", "java": "java", "rust": "rs", "markdown": "md",
              "rst": "rst", "text": "txt", "unknown": "dat"}
BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# Pieces of code in every fuzzed language, so the soup reaches definitions, classes, imports and
# calls, not only the parser's error recovery.
TOKENS = [
    "\n", "\n", "\n", "    ", "\t", " ", "\r\n", "\r", "def ", "class ", "func ", "fn ", "function ", "impl ",
    "struct ", "interface ", "public ", "static ", "void ", "return ", "import ", "from ", "package ", "use ",
    "module ", "export ", "const ", "let ", "var ", "self", "this", "super", "async ", "await ", "if ", "else",
    "for ", "while ", "pass", "(", ")", "{", "}", "[", "]", "<", ">", ":", ";", ",", ".", "->", "=>", "::", "=",
    "@decorator\n", '"""doc"""', "'s'", '"str"', "`tpl ${x}`", "# comment", "// comment", "/* c */", "/** doc */",
    "foo", "Bar", "baz_qux", "x", "T", "0", "42", "3.14", "#", "##", "=====", "-----", "```", "~~~", ".. code::",
    "`ref`", ":func:`f`", "```python", "- item", "* ", "> quote", "\\", "\x00", "\ufeff", "\u2028", "é", "🙂",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7canaryKEYqP3xWv9s",
    "AKIA", "ghp_", "sk-", "eyJ", "password = '", "://u:", "@h",
]
code_soup = st.lists(st.sampled_from(TOKENS), max_size=300).map("".join)
# Well-formed definitions per language, mixed with soup and cut anywhere: reaches symbol extraction,
# class outlines, imports, calls and the splitting of long bodies, not only the error recovery.
SNIPPETS = {
    "python": ["def {n}({a}):\n    return {m}({a})\n", "class {N}({M}):\n    \"\"\"Doc.\"\"\"\n    x = 1\n\n"
               "    def {n}(self, {a}):\n        self.{m}({a})\n", "import {n}\nfrom .{m} import {N} as {M}\n",
               "@{m}\nasync def {n}():\n    await {m}()\n", "if {a}:\n    {n}()\nelse:\n    pass\n"],
    "javascript": ["function {n}({a}) {{ return {m}({a}); }}\n",
                   "class {N} extends {M} {{\n  {n}() {{ this.{m}(); }}\n}}\n", "import {{ {N} }} from './{m}';\n",
                   "export const {n} = ({a}) => {m}.{n}({a});\n", "/** {N} */\nexport default function* {n}() {{}}\n"],
    "go": ["package {n}\n", 'import (\n\t"fmt"\n\t{m} "x/{m}"\n)\n',
           "func {n}({a} int) int {{\n\treturn {m}({a})\n}}\n", "type {N} struct {{\n\t{M}\n\tx int\n}}\n",
           "func (r *{N}) {n}() {{ fmt.Println(r.{m}) }}\n", "type {N} interface {{ {n}() }}\n"],
    "java": ["import java.util.{N};\n", "public class {N} extends {M} implements Runnable {{\n  private int {a};\n"
             "  public void {n}(int {a}) {{ {m}({a}); }}\n}}\n", "interface {N} {{ void {n}(); }}\n", "@Override\n",
             "enum {N} {{ A, B; void {n}() {{}} }}\n"],
    "rust": ["use std::{m}::{N};\n", "fn {n}({a}: i32) -> i32 {{ {m}({a}) }}\n", "struct {N} {{ {a}: {M} }}\n",
             "impl {M} for {N} {{\n    fn {n}(&self) {{ self.{m}(); }}\n}}\n", "mod {n} {{ pub trait {N} {{}} }}\n",
             "/// doc\n#[derive(Debug)]\nenum {N} {{ A }}\n"],
    "markdown": ["# {N}\n", "## {n} `{m}`\n", "{N}\n===\n", "```python\ndef {n}(): pass\n```\n", "- `{M}.{n}`\n"],
    "rst": ["{N}\n====\n", "{n}\n----\n", ":func:`{m}`\n", ".. code:: python\n\n   {n}()\n"],
}
identifiers = st.sampled_from(["f", "foo", "Bar", "_x", "a1", "self", "ñame", "Ünï", "x" * 50, "if", "T"])


@st.composite
def code_for(draw: st.DrawFn, language: str) -> str:
    snippets = SNIPPETS.get(language, SNIPPETS["python"])
    piece = st.one_of(
        st.builds(lambda t, n, m, a, big_n, big_m: t.format(n=n, m=m, a=a, N=big_n, M=big_m),
                  st.sampled_from(snippets), identifiers, identifiers, identifiers, identifiers, identifiers),
        st.sampled_from(TOKENS),
    )
    text = "".join(draw(st.lists(piece, max_size=60)))
    cut = draw(st.integers(0, len(text)))
    return text if draw(st.booleans()) else text[:cut]


# Any code point except surrogates (which no decoder produces), with line breaks of every kind.
unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=2000)
any_text = st.one_of(unicode_text, code_soup, st.text(alphabet="\n\r\t {}()[]:;=#*-`'\"\\", max_size=500))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_parsed(parsed: ParsedFile, path: str, text: str, max_lines: int) -> None:
    """Chunks and facts point inside the file; a function chunk (or part) fits the line budget."""
    n_lines = len(text.split("\n"))
    assert isinstance(parsed, ParsedFile) and parsed.path == path
    for chunk in parsed.chunks:
        assert chunk.path == path
        assert 1 <= chunk.start_line <= chunk.end_line <= n_lines, (chunk.start_line, chunk.end_line, n_lines)
        assert chunk.part >= 0 and isinstance(chunk.text, str)
        if chunk.kind in (FUNCTION, METHOD):
            assert chunk.end_line - chunk.start_line + 1 <= max(max_lines, 4)
    for definition in parsed.definitions:
        assert 1 <= definition.start_line <= definition.end_line <= n_lines
    for ref in parsed.references:
        assert 1 <= ref.line <= n_lines
    for imp in parsed.imports:
        assert 0 <= imp.line <= n_lines


@FUZZ
@given(data=st.binary(max_size=4096))
def test_read_text_never_fails_on_any_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "blob.bin"
    path.write_bytes(data)
    text, note = read_text(path)
    assert isinstance(text, str) and isinstance(note, str)
    assert "\r\n" not in text
    if not data.startswith(BOMS):
        assert text.count("\n") == data.count(b"\n")  # UTF-8 with replacement: line numbers never move
        try:
            data.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        assert note == ("" if valid else "decoded with replacement")


@FUZZ
@given(text=any_text)
def test_read_text_round_trips_utf8_and_utf16(scratch: Path, text: str) -> None:
    for name, data in (("u8.txt", text.encode("utf-8")), ("u16.txt", text.encode("utf-16"))):
        if data.startswith(codecs.BOM_UTF32_LE):
            continue  # UTF-16-LE text starting with U+0000: its bytes *are* a UTF-32-LE BOM (ambiguous)
        path = scratch / name
        path.write_bytes(data)
        got, _note = read_text(path)
        assert got == text.removeprefix("\ufeff").replace("\r\n", "\n")  # one BOM is dropped


@pytest.mark.parametrize("language", LANGUAGES)
@settings(FUZZ, max_examples=_EXAMPLES or 120)
@given(data=st.data())
def test_parse_source_survives_anything(language: str, data: st.DataObject) -> None:
    text = data.draw(st.one_of(any_text, code_for(language)), label="text")
    path = f"pkg/mod.{EXTENSIONS[language]}"
    parsed = parse_source(path, text, language)
    check_parsed(parsed, path, text, 80)
    small = parse_source(path, text, language, max_chunk_lines=5)  # forces splitting into parts
    check_parsed(small, path, text, 5)


@FUZZ
@given(lines=st.lists(st.sampled_from(["", " ", "x = 1", "\r", "def f():", "    return 1", "}"]), max_size=400),
       size=st.integers(1, 100), overlap=st.integers(0, 120))
def test_window_chunks_cover_every_line(lines: list[str], size: int, overlap: int) -> None:
    chunks = window_chunks("f.txt", "unknown", lines, size=size, overlap=overlap)
    covered: set[int] = set()
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        assert chunk.end_line - chunk.start_line + 1 <= size
        assert chunk.text.strip()
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    non_blank = {i + 1 for i, line in enumerate(lines) if line.strip()}
    assert non_blank <= covered


@FUZZ
@given(numbers=st.lists(st.integers(1, 500), max_size=300, unique=True).map(sorted),
       boundaries=st.frozensets(st.integers(1, 500), max_size=100), max_lines=st.integers(1, 90),
       header_lines=st.integers(0, 5))
def test_pack_lines_partitions_in_order_within_budget(numbers: list[int], boundaries: frozenset[int],
                                                      max_lines: int, header_lines: int) -> None:
    header = "\n".join(["sig"] * header_lines)
    groups = pack_lines(numbers, boundaries, max_lines, header)
    assert [n for group in groups for n in group] == numbers
    later = max(max_lines - (header.count("\n") + 1 if header else 0), 1)
    for index, group in enumerate(groups):
        assert group and len(group) <= (max_lines if index == 0 else later)


@st.composite
def module_layout(draw: st.DrawFn) -> tuple[list[str], list[DefSite], ModulePlan]:
    """A file of n lines with well-nested definitions, the way the parser reports them."""
    n = draw(st.integers(1, 300))
    lines = draw(st.lists(st.sampled_from(["", "  x = 1", "def f():", "}", "    return y", "# c"]),
                          min_size=n, max_size=n))
    sites: list[DefSite] = []
    inside: set[int] = set()
    cursor = 1
    while cursor <= n and draw(st.booleans()):
        start = draw(st.integers(cursor, n))
        end = draw(st.integers(start, min(n, start + 150)))
        kind = draw(st.sampled_from([FUNCTION, CLASS]))
        head = draw(st.integers(start, end))
        sig_end = draw(st.integers(head, end))
        splits = tuple(sorted(draw(st.sets(st.integers(start, end), max_size=20))))
        name = f"s{len(sites)}"
        members: list[tuple[int, int, bool]] = []
        if kind == CLASS and sig_end < end:
            m_start = draw(st.integers(sig_end + 1, end))
            m_end = draw(st.integers(m_start, end))
            members.append((m_start, m_end, True))
            sites.append(DefSite(f"m{len(sites)}", f"{name}.m", name, METHOD, m_start, m_end, m_start, m_start,
                                 "def m(self):", split_lines=splits))
        sites.append(DefSite(name, name, "", kind, start, end, head, sig_end, f"def {name}():",
                             members=members, split_lines=splits))
        inside.update(range(start, end + 1))
        cursor = end + 1
    plan = ModulePlan([i for i in range(1, n + 1) if i not in inside], frozenset(draw(st.sets(st.integers(1, n)))))
    return lines, sites, plan


@FUZZ
@given(layout=module_layout(), max_lines=st.integers(1, 100))
def test_build_chunks_stay_inside_their_definitions(layout: tuple[list[str], list[DefSite], ModulePlan],
                                                    max_lines: int) -> None:
    lines, sites, plan = layout
    chunks = build_chunks("m.py", "python", lines, sites, plan, max_lines=max_lines)
    spans = {s.qualname: (s.start_line, s.end_line) for s in sites}
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        if chunk.qualname in spans:
            start, end = spans[chunk.qualname]
            if "\n" in chunk.signature:  # tiny siblings merged into one chunk, named after the first
                assert chunk.start_line == start
            else:
                assert start <= chunk.start_line <= chunk.end_line <= end
        if chunk.kind in (FUNCTION, METHOD):  # a function, a part of one or a run of tiny ones fits the budget
            assert chunk.end_line - chunk.start_line + 1 <= max(max_lines, 4)
    for site in sites:
        if site.kind == CLASS:
            continue
        parts = sorted((c.start_line, c.end_line) for c in chunks if c.qualname == site.qualname and c.part)
        if parts:  # a long function: parts in order, without gaps or overlaps
            assert [start for start, _ in parts] == [site.start_line] + [end + 1 for _, end in parts[:-1]]
            assert parts[-1][1] == site.end_line
        else:  # whole, or merged with tiny siblings
            assert any(c.start_line <= site.start_line <= site.end_line <= c.end_line for c in chunks)


@FUZZ
@given(text=any_text)
def test_redaction_keeps_lines_and_is_stable(text: str) -> None:
    out, count = redact_secrets(text)
    assert out.count("\n") == text.count("\n")
    assert count == sum(scan_secrets(text).values())
    assert (count == 0) == (out == text)
    assert out.count(REDACTED) >= count
    for old, new in zip(text.split("\n"), out.split("\n"), strict=True):
        # a changed line holds the marker, or is what is left after the end of a multi-line secret
        assert new == old or REDACTED in new or old.endswith(new)
    assert redact_secrets(out) == (out, 0)


CANARY_LINES = [
    ("AKIA" + "QX7Z2MBKLP4WJ3TE", "AKIAQX7Z2MBKLP4WJ3TE"),
    ("token = 'ghp_" + "x9Kq2LmN4pR7sT1vW3yZ5aB8cD0eF6gH2jK4'", "x9Kq2LmN4pR7sT1vW3yZ5aB8cD0eF6gH2jK4"),
    ("aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARY0042", "bPxRfiCYCANARY0042"),
    ("KEY = '-----BEGIN PRIVATE KEY-----\\nMIIEowIBAAKCAQEA7canaryKEYqP3x\\n-----END PRIVATE KEY-----'",
     "7canaryKEYqP3x"),
]


@FUZZ
@given(before=any_text, after=any_text, canary=st.sampled_from(CANARY_LINES))
def test_canary_on_its_own_line_is_redacted_in_any_surroundings(before: str, after: str,
                                                                canary: tuple[str, str]) -> None:
    line, secret = canary
    text = f"{before}\n{line}\n{after}"
    out, count = redact_secrets(text)
    assert secret not in out.split("\n")[before.count("\n") + 1]
    assert count >= 1 and out.count("\n") == text.count("\n")
