"""Mined queries: the first sentence of a docstring as the query, the symbol it documents as the gold.

``python -m repo_rag.eval mined build`` fetches each project of :data:`PROJECTS`, mines its pairs and
writes a copy of its tree in which the documentation of every kept pair is blanked, so a search of
that copy cannot simply match the query against the text it was taken from.

Decision order, per project (first failing step drops the pair):

1. files: what the indexer's discovery keeps (``Indexer.discover``), in a code language, not a test
   file (``is_test_path``);
2. definitions: functions, methods and classes whose chunk carries a docstring or doc comment;
3. query: the first paragraph up to its first tag line (``@param``, ``:param``, ``Args:``, ...),
   markup made plain words (``{@link X}``, ``:class:`X```, ``[text](url)``, backticks, tags), then
   its first sentence; a leading copy of the symbol's own name (Go's ``Foo returns ...``) is cut;
4. drops: under 4 or over 30 words, generic (``Constructor.``, ``Deprecated ...``, inheritdoc),
   code-like (under half plain words), naming its own symbol (:func:`questions.leaks`), or the
   same query text for two symbols of the project (both dropped);
5. sample: candidates ordered by ``blake2b(path, qualname, line)``; masking is checked on every
   file first, then the first ``--per-project`` (300) that mask cleanly are kept;
6. mask: a Python docstring keeps its quotes and newlines only; a doc comment keeps its comment
   markers only; every line number stays. The masked file is parsed again and must yield the
   same definitions (qualname, kind, lines) with the kept pairs' docstrings empty, else the
   file's pairs are dropped and the file is copied unchanged. Last, a pair whose sentence is
   still written in a file of the masked tree that the indexer reads (a copy of the doc in
   code, docs or tests) is dropped.

Each project is built into ``<cache>/bench/mined/<project>-<version>/`` (``src/`` the masked tree,
``pairs.jsonl``, ``meta.json`` with licence and counts) and skipped on the next run unless
``--fresh``; ``<cache>/bench/mined/pairs.jsonl`` and ``summary.json`` gather every built project.
The split is the project's (:func:`repo_rag.eval.splits.split_of`).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from repo_rag.config import Config, default_cache_dir
from repo_rag.indexer import Indexer
from repo_rag.parsing import CLASS, CODE_LANGUAGES, FUNCTION, METHOD, get_parser, is_test_path, parse_source

from .projects import Project, fetch_project
from .questions import Question, leaks
from .splits import split_of

if TYPE_CHECKING:
    from tree_sitter import Node

_GO, _RUST, _PHP = "usr/share/gocode/src/github.com/", "usr/share/cargo/registry/", "usr/share/php/"
_GEMS = "usr/share/rubygems-integration/all/gems/"
# About five medium, well-documented projects per language, each language with train and validation projects
# (the split is fixed by the name: see eval/splits.py). Debian packages are bookworm's.
PROJECTS: tuple[Project, ...] = (
    *(Project(n, v, f"pypi:{n}=={v}", ".") for n, v in (x.split("==") for x in (
        "attrs==26.1.0 marshmallow==4.4.0 more-itertools==11.2.1 boltons==26.2.0 pyparsing==3.3.3".split()))),
    *(Project(n, v, f"npm:{n}@{v}", "package") for n, v in (x.split("@") for x in (
        "mongoose@9.12.1 knex@3.3.0 ws@8.23.0 eslint@10.15.0 fastify@5.12.8".split()))),
    # TypeScript: packages that ship their src/ (the root), so compiled copies of the docs are not in the tree
    Project("query-core", "5.108.4", "npm:@tanstack/query-core@5.108.4", "package/src"),
    Project("prosemirror-model", "1.25.13", "npm:prosemirror-model@1.25.13", "package/src"),
    Project("toolkit", "2.15.0", "npm:@reduxjs/toolkit@2.15.0", "package/src"),
    Project("prosemirror-transform", "1.12.7", "npm:prosemirror-transform@1.12.7", "package/src"),
    Project("gin", "1.8.1", "deb:golang-github-gin-gonic-gin-dev", _GO + "gin-gonic/gin"),
    Project("chi", "5.0.7", "deb:golang-github-go-chi-chi-dev", _GO + "go-chi/chi"),
    Project("viper", "1.10.1", "deb:golang-github-spf13-viper-dev", _GO + "spf13/viper"),
    Project("pflag", "1.0.6", "deb:golang-github-spf13-pflag-dev", _GO + "spf13/pflag"),
    Project("logrus", "1.9.0", "deb:golang-github-sirupsen-logrus-dev", _GO + "sirupsen/logrus"),
    *(Project(n, v, f"deb:librust-{n}-dev", f"{_RUST}{n}-{v}") for n, v in (x.split("-") for x in (
        "regex-1.7.1 itertools-0.10.3 chrono-0.4.23 hashbrown-0.12.3 rayon-1.6.1".split()))),
    *(Project(n, v, f"deb:ruby-{n}", f"{_GEMS}{n}-{v}") for n, v in (x.split("-") for x in (
        "activesupport-6.1.7.10 tzinfo-2.0.5 addressable-2.8.1 mustermann-3.0.0 i18n-1.10.0".split()))),
    Project("symfony-console", "5.4.53", "deb:php-symfony-console", _PHP + "Symfony/Component/Console"),
    Project("twig", "3.5.1", "deb:php-twig", _PHP + "Twig"),
    Project("psr7", "2.4.5", "deb:php-guzzlehttp-psr7", _PHP + "GuzzleHttp/Psr7"),
    Project("commonmark", "2.3.9", "deb:php-league-commonmark", _PHP + "League/CommonMark"),
    Project("htmlpurifier", "4.11.0", "deb:php-htmlpurifier", "usr/share/php"),
)

MIN_WORDS, MAX_WORDS, DEFAULT_PER_PROJECT = 4, 30, 300
_KINDS = (FUNCTION, METHOD, CLASS)
_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment", "multiline_comment"})
_TAG_LINE = re.compile(
    r"^\s*(@[\w!]|:(param|parameter|arg|argument|key|keyword|type|raises?|returns?|rtype|yields?|ivar|cvar|var)\b"
    r"|\.\. |>>>|```|~~~|#+ |(Args|Arguments|Parameters|Params|Returns?|Raises|Yields|Examples?|Notes?"
    r"|Usage|Example usage|See also|Attributes|Throws)\s*:?\s*$|-{3,}|={3,}|\* @)"
)
_INLINE_TAG = re.compile(r"\{@\w+\s+([^}|]*?)(?:[|\s]\s*([^}]*))?\}")
_RST_ROLE = re.compile(r":[\w:.-]+:`(~?)([^`<]+?)(?:\s*<[^>]*>)?`")
_MD_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_{1,2}")
_YARD_LINK, _RDOC_CODE = re.compile(r"\{([\w:#.]+)\}"), re.compile(r"(?<!\w)\+([\w.#:]+)\+(?!\w)")
_LIST_START = re.compile(r":\s+(?:1[.)]|[-*•])\s")  # 'does this: 1. ...': the sentence ends at the colon
_HTML_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_EMPHASIS = re.compile(r"(\*{1,2}|_{2})(?=\S)(.+?)(?<=\S)\1")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "approx", "resp", "incl", "esp", "no", "mr", "dr", "ca", "al"}
_GENERIC = re.compile(
    r"^(constructor|default constructor|creates? (a |an )?(new )?instance( of)?\b|initiali[sz]es? (a |an |the )?"
    r"(new )?(instance|object)\b|returns? the value\.?$|getters?\b|setters?\b|todo\b|fixme\b|xxx\b|deprecated\b"
    r"|see\b|inherit|overrides?\b|implementation of\b|implements\b|alias (for|of)\b|copied from\b"
    r"|(auto-?)?generated\b|not implemented\b|no-?op\b|placeholder\b|@)", re.IGNORECASE,
)
_CONSTRUCTORS = frozenset({"constructor", "__init__", "__new__", "initialize", "new", "New", "__construct"})
_WORD = re.compile(r"[A-Za-z][a-z']*[a-z]?[.,;:!?]?\Z")
_Edit, _LANGUAGE = tuple[int, int, bytes], {"tsx": "typescript"}
_MARKER = re.compile(r"(\s*)(/\*+!?|//[/!]?|#+!?|\*+(?!/)|=begin|=end)?")


@dataclass(frozen=True)
class MinedPair:
    """One row of ``pairs.jsonl``: the query, its gold definition, and the masked tree to search."""

    project: str
    version: str
    language: str
    split: str
    query: str
    gold_path: str
    gold_qualname: str
    gold_start_line: int
    gold_end_line: int
    masked_root: str
    gold_kind: str = ""


@dataclass(frozen=True)
class _Candidate:
    path: str
    language: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    query: str

    @property
    def order(self) -> str:
        key = f"{self.path}\0{self.qualname}\0{self.start_line}"
        return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


# -- queries ---------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Markup made plain words: inline tags, rst roles and links, Markdown links, HTML, backticks."""
    text = _INLINE_TAG.sub(lambda m: (m.group(2) or m.group(1)).strip(), text)
    text = _RST_ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text)
    text = _RST_LINK.sub(r"\1", text)
    text = _RDOC_CODE.sub(r"\1", _YARD_LINK.sub(r"\1", _MD_LINK.sub(r"\1", text)))
    text = html.unescape(_HTML_TAG.sub("", text))
    text = _EMPHASIS.sub(r"\2", text.replace("``", "`")).replace("`", "")
    return " ".join(text.split()).lstrip("\\ ")


def _first_sentence(text: str) -> str:
    for m in _SENTENCE_END.finditer(text):
        word = text[: m.start()].rsplit(" ", 1)[-1]
        if word.lower() not in _ABBREVIATIONS and not (len(word) == 1 and word.isupper()):  # not an initial
            return text[: m.end()]
    return text


def _without_own_name(text: str, name: str, qualname: str) -> str:
    """Drop a leading copy of the symbol's name (``Foo returns a bar.`` -> ``Returns a bar.``)."""
    head, _, rest = text.partition(" ")
    bare = head.strip("`'\"*").removesuffix("()").strip("`'\"*")
    owners = {name, qualname, ".".join(qualname.split(".")[-2:])}
    if rest and (bare in owners or bare.replace("#", ".").replace("::", ".") in owners):
        return rest[:1].upper() + rest[1:]
    return text


def query_of(docstring: str, name: str, qualname: str = "") -> str:
    """The cleaned first sentence of ``docstring``; '' when it has none worth asking."""
    lines: list[str] = []
    for line in docstring.strip().splitlines():
        if not line.strip() or _TAG_LINE.match(line):
            break
        lines.append(line.strip())
    text = _first_sentence(_LIST_START.split(_plain(" ".join(lines)), maxsplit=1)[0])
    return _without_own_name(text, name, qualname or name).rstrip(":;, ")


def keep_query(query: str, qualname: str) -> bool:
    """Step 4 of the module docstring, without the per-project duplicate check."""
    words = query.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or _GENERIC.match(query):
        return False
    if "inheritdoc" in query.lower() or "://" in query:
        return False
    if sum(1 for w in words if _WORD.match(w)) < len(words) / 2:
        return False
    owner, _, name = qualname.rpartition(".")
    names = (qualname, owner) if owner and name in _CONSTRUCTORS else (qualname,)  # a constructor: its class
    return not leaks(Question("", "", "", "", "", "where", query, (), names))


def file_candidates(path: str, text: str, language: str) -> list[_Candidate]:
    """Documented definitions of one file whose query passes :func:`keep_query`."""
    parsed = parse_source(path, text, language)
    docs = {(c.qualname, c.start_line): c.docstring for c in parsed.chunks if c.part <= 1 and c.docstring}
    out = []
    for d in parsed.definitions:
        doc = docs.get((d.qualname, d.start_line), "")
        if d.kind not in _KINDS or not doc:
            continue
        query = query_of(doc, d.name, d.qualname)
        if keep_query(query, d.qualname):
            out.append(_Candidate(path, language, d.qualname, d.kind, d.start_line, d.end_line, query))
    return out


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def drop_duplicates(candidates: Iterable[_Candidate], keep_one: bool = False) -> list[_Candidate]:
    """Candidates whose query text no other symbol of the project shares (``keep_one``: one of each)."""
    items = [(_words(c.query), c) for c in candidates]
    seen = Counter(text for text, _ in items)
    if keep_one:  # the first in hash order (lodash.js and its per-method modules copy the same doc)
        return list({text: c for text, c in sorted(items, key=lambda i: i[1].order, reverse=True)}.values())
    return [c for text, c in items if seen[text] == 1]


# -- masking ---------------------------------------------------------------------------------


def _blank_comment(text: str) -> str:
    """A comment with its markers only (``/** */``, ``///``, ``#``), the same number of lines."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        m = _MARKER.match(line)
        kept = m.group(1) + (m.group(2) or "") if m else ""
        if i == len(lines) - 1 and line.rstrip().endswith("*/") and not kept.endswith("*/"):
            kept += " */" if m and m.group(2) else "*/"
        out.append(kept if kept.strip() else "")
    return "\n".join(out)


def _doc_nodes(root: Node, source: bytes, python: bool) -> dict:
    """Python: (definition end line, name) -> docstring content span; else first row -> comment node there."""
    found: dict = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if not python and node.type in _COMMENT_TYPES:
            found.setdefault(node.start_point.row, node)
            continue
        stack.extend(node.children)
        body, name = node.child_by_field_name("body"), node.child_by_field_name("name")
        if not python or node.type not in ("function_definition", "class_definition") or not (body and name):
            continue
        first = body.named_children[0] if body.named_children else None
        string = first.named_children[0] if first and first.type == "expression_statement" else None
        parts = {child.type: child for child in string.children} if string and string.type == "string" else {}
        if "string_start" in parts and "string_end" in parts:
            key = (node.end_point.row + 1, source[name.start_byte: name.end_byte].decode("utf-8", "replace"))
            found[key] = (parts["string_start"].end_byte, parts["string_end"].start_byte)
    return found


def _doc_comments(spans: dict[int, Node], lines: list[str], start_line: int) -> list[Node]:
    """The comment nodes from ``start_line`` down to the definition, attribute lines stepped over."""
    out, row = [], start_line - 1
    while row < len(lines):
        node = spans.get(row)
        if node is not None:
            out.append(node)
            end = node.end_point
            row = end.row if end.column == 0 and end.row > row else end.row + 1
        elif lines[row].lstrip().startswith(("#[", "@")):
            row += 1
        else:
            break
    return out


def _edits(text: str, language: str, chosen: Sequence[_Candidate]) -> tuple[list[_Edit], list[_Candidate]]:
    """Byte edits blanking the docs of ``chosen`` in one file, and the candidates whose docs were found."""
    parser = get_parser(language)
    if parser is None:
        return [], []
    source, python = text.encode("utf-8", "surrogatepass"), language == "python"
    found, lines = _doc_nodes(parser.parse(source).root_node, source, python), text.split("\n")
    edits: list[_Edit] = []
    located = []
    for c in chosen:
        if python and (c.end_line, c.qualname.rsplit(".", 1)[-1]) in found:
            lo, hi = found[(c.end_line, c.qualname.rsplit(".", 1)[-1])]
            edits.append((lo, hi, b"\n" * source[lo:hi].count(b"\n")))
            located.append(c)
        nodes = [] if python else _doc_comments(found, lines, c.start_line)
        for node in nodes:
            blank = _blank_comment(source[node.start_byte: node.end_byte].decode("utf-8", "surrogatepass"))
            edits.append((node.start_byte, node.end_byte, blank.encode("utf-8", "surrogatepass")))
        located.extend([c] if nodes else [])
    return edits, located


def mask_file(path: str, text: str, language: str, chosen: Sequence[_Candidate]) -> tuple[str, set[_Candidate]]:
    """The file with the docs of ``chosen`` blanked, and those whose masking checked out (step 6)."""
    edits, located = _edits(text, language, chosen)
    if not located:
        return text, set()
    source = text.encode("utf-8", "surrogatepass")
    for lo, hi, new in sorted(set(edits), reverse=True):
        source = source[:lo] + new + source[hi:]
    masked = source.decode("utf-8", "surrogatepass")
    before, after = parse_source(path, text, language), parse_source(path, masked, language)
    shape = [(d.qualname, d.kind, d.start_line, d.end_line) for d in before.definitions]
    if shape != [(d.qualname, d.kind, d.start_line, d.end_line) for d in after.definitions] or (
        after.error and not before.error
    ):
        if len(located) == 1:
            return text, set()
        ok = {c for c in located if mask_file(path, text, language, [c])[1]}  # find the one that breaks it
        return mask_file(path, text, language, sorted(ok, key=lambda c: c.start_line)) if ok else (text, set())
    docs = {(c.qualname, c.start_line): c.docstring for c in after.chunks if c.part <= 1}
    ok = {c for c in located if (c.qualname, c.start_line) in docs and not docs[(c.qualname, c.start_line)]}
    return masked, ok


# -- one project -----------------------------------------------------------------------------


def _indexed_files(root: Path) -> list[tuple[str, str]]:
    """(path, language) of the files the indexer would index (code, docs and tests)."""
    return [(f.path, f.language) for f in Indexer(root, Config()).discover().files]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _by_file(candidates: Iterable[_Candidate]) -> dict[str, list[_Candidate]]:
    out: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        out[c.path].append(c)
    return out


def mine_tree(root: Path, per_project: int = DEFAULT_PER_PROJECT, keep_copied: bool = False) -> tuple:
    """Steps 1-6 on a source tree: the kept pairs, the masked text of each changed file, and counts.

    ``keep_copied`` (training data: no search runs on it) keeps one of each duplicated query in step 4
    and skips step 6's last check."""
    texts: dict[str, tuple[str, str]] = {}
    candidates: list[_Candidate] = []
    for path, language in _indexed_files(root):
        texts[path] = (_read(root / path), language)
        if language in CODE_LANGUAGES and not is_test_path(path) and texts[path][0]:
            candidates.extend(file_candidates(path, *texts[path]))
    unique = drop_duplicates(candidates, keep_one=keep_copied)
    maskable = [c for path, chosen in _by_file(unique).items() for c in mask_file(path, *texts[path], chosen)[1]]
    masked: dict[str, str] = {}
    pairs: list[_Candidate] = []
    for path, chosen in _by_file(sorted(maskable, key=lambda c: c.order)[:per_project]).items():
        text, ok = mask_file(path, *texts[path], chosen)
        if ok:
            masked[path] = text
            pairs.extend(ok)
    blob = "\n".join(_words(masked.get(path, text)) for path, (text, _) in texts.items())
    kept = [c for c in pairs if keep_copied or _words(c.query) not in blob]  # still written in an indexed file
    counts = {"candidates": len(candidates), "duplicates_dropped": len(candidates) - len(unique),
              "mask_failed": len(unique) - len(maskable), "still_in_tree": len(pairs) - len(kept)}
    return sorted(kept, key=lambda c: c.order), masked, counts


def copy_masked(root: Path, dest: Path, masked: dict[str, str]) -> None:
    """Copy ``root`` to ``dest`` (symlinks skipped), writing the masked text where there is one."""
    def links(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if os.path.islink(os.path.join(folder, n))]

    shutil.copytree(root, dest, ignore=links)
    for path, text in masked.items():
        (dest / path).write_bytes(text.encode("utf-8", "surrogatepass"))


def licence_of(project: Project, cache: Path) -> dict[str, str]:
    """Licence as the package metadata states it, with the file it was read from."""
    base = cache / "projects" / project.key
    kind, spec = project.source.split(":", 1)
    if kind == "npm":
        data = json.loads(_read(base / "package" / "package.json") or "{}")
        value = data.get("license") or (data.get("licenses") or [{}])[0].get("type", "")
        return {"licence": str(value), "licence_from": "package/package.json"}
    if kind == "pypi":
        text = _read(base / "PKG-INFO")
        heads = re.findall(r"^License(?:-Expression)?: *(\S.*)$", text, re.MULTILINE)
        heads += re.findall(r"^Classifier: License :: (?:OSI Approved :: )?(.+)$", text, re.MULTILINE)
        short = [h for h in heads if len(h) < 80]
        return {"licence": "; ".join(dict.fromkeys(short)) or "see LICENSE", "licence_from": "PKG-INFO"}
    where = f"usr/share/doc/{spec}/copyright"
    names = dict.fromkeys(m.strip() for m in re.findall(r"^License: *(\S[^\n]*)$", _read(base / where), re.MULTILINE))
    return {"licence": "; ".join(names), "licence_from": where}


def build_project(project: Project, per_project: int, cache: Path, fresh: bool = False) -> dict:
    """Fetch, mine and mask one project (skipped when already built); returns its meta."""
    out = cache / "bench" / "mined" / project.key
    if (out / "meta.json").is_file() and not fresh:
        return json.loads((out / "meta.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    root = fetch_project(project, cache)
    pairs, masked, counts = mine_tree(root, per_project)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    copy_masked(root, tmp / "src", masked)
    split = split_of(project.name)
    rows = [MinedPair(project.name, project.version, _LANGUAGE.get(c.language, c.language), split, c.query,
                      c.path, c.qualname, c.start_line, c.end_line, str(out / "src"), c.kind) for c in pairs]
    (tmp / "pairs.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows), encoding="utf-8")
    languages = Counter(r.language for r in rows)
    meta = {"project": project.name, "version": project.version, "source": project.source, "root": project.root,
            "split": split, "language": languages.most_common(1)[0][0] if rows else "", "pairs": len(rows),
            "languages": dict(languages), "masked_files": len(masked), **counts,
            "seconds": round(time.perf_counter() - t0, 1), **licence_of(project, cache)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return meta


# -- the dataset -----------------------------------------------------------------------------


def gather(cache: Path, projects: Sequence[Project] = PROJECTS, folder: str = "mined") -> list[dict]:
    """Write ``pairs.jsonl`` and ``summary.json`` of every project built under ``<cache>/bench/<folder>``."""
    base = cache / "bench" / folder
    metas, lines = [], []
    for project in projects:
        if (base / project.key / "meta.json").is_file():
            metas.append(json.loads((base / project.key / "meta.json").read_text(encoding="utf-8")))
            lines.append((base / project.key / "pairs.jsonl").read_text(encoding="utf-8"))
    base.mkdir(parents=True, exist_ok=True)
    (base / "pairs.jsonl").write_text("".join(lines), encoding="utf-8")
    (base / "summary.json").write_text(json.dumps({"projects": metas}, indent=1), encoding="utf-8")
    return metas


def load_pairs(path: Path | None = None) -> list[MinedPair]:
    """Every pair of the gathered dataset (``<cache>/bench/mined/pairs.jsonl``)."""
    path = path or default_cache_dir() / "bench" / "mined" / "pairs.jsonl"
    return [MinedPair(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def masked_roots(path: Path | None = None) -> dict[str, Path]:
    """Project name -> its masked tree (beside ``pairs.jsonl``, so a moved cache still works)."""
    path = path or default_cache_dir() / "bench" / "mined" / "pairs.jsonl"
    return {p.project: path.parent / f"{p.project}-{p.version}" / "src" for p in load_pairs(path)}


def summary(metas: Sequence[dict]) -> str:
    """Per language of the pairs and split: projects with pairs in it, and pairs (a Markdown table)."""
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for m in metas:
        for language, n in m["languages"].items():
            rows[(language, m["split"])][0] += 1
            rows[(language, m["split"])][1] += n
    lines = ["| language | split | projects | pairs |", "|---|---|---|---|"]
    lines += [f"| {lang} | {split} | {p} | {n} |" for (lang, split), (p, n) in sorted(rows.items())]
    return "\n".join(lines) + (f"\n\n{sum(m['pairs'] for m in metas)} pairs, {len(metas)} projects, "
                               f"{len({lang for lang, _ in rows})} languages")


def build_args(argv: Sequence[str] | None, prog: str, description: str, build_help: str, per_project: int,
               rows: str) -> tuple[argparse.Namespace, set[str]]:
    """The ``build`` command line shared by the per-project dataset builders: the parsed arguments and
    the lower-case project names asked for (empty: all)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help=build_help)
    b.add_argument("--projects", default="", help="comma-separated project names (default: all)")
    b.add_argument("--per-project", type=int, default=per_project, help=f"most {rows} per project")
    b.add_argument("--fresh", action="store_true", help="rebuild projects already built")
    args = p.parse_args(argv)
    return args, {n.strip().lower() for n in args.projects.split(",") if n.strip()}


def build_each(jobs: Iterable[tuple[Project, Callable[[], dict]]],
               describe: Callable[[Project, dict], str]) -> list[str]:
    """Run each project's build, printing ``describe``'s line or why it failed; one failed download
    does not stop the others. Returns the names that failed."""
    failed = []
    for project, build in jobs:
        try:
            meta = build()
        except Exception as exc:
            failed.append(project.name)
            print(f"FAILED {project.name}: {type(exc).__name__}: {exc}", flush=True)
            continue
        print(describe(project, meta), flush=True)
    return failed


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval mined") -> int:
    args, wanted = build_args(argv, prog, "Mine (docstring sentence -> symbol) pairs, docs masked.",
                              "fetch, mine and mask the projects (built ones are skipped)", DEFAULT_PER_PROJECT,
                              "pairs")
    cache = default_cache_dir()
    failed = build_each(
        ((p, partial(build_project, p, args.per_project, cache, args.fresh))
         for p in PROJECTS if not wanted or p.name.lower() in wanted),
        lambda p, meta: (f"{p.name} {p.version} [{meta['split']}] {meta['language']}: {meta['pairs']} pairs of "
                         f"{meta['candidates']} candidates, {meta['seconds']} s, licence {meta['licence']}"))
    print(summary(gather(cache)))
    return 1 if failed else 0
