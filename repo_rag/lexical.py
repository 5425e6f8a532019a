"""Identifier-aware lexical channel over SQLite FTS5 (bm25).

Code and questions use different word forms: ``make_password`` vs "make a password",
``PasswordValidator`` vs "password validation". Both sides are therefore reduced the same way:
identifiers are kept whole and split into snake/camel parts, parts are lower-cased and lightly
stemmed. Long queries (whole issue texts) are cut to their most selective terms by document
frequency so bm25 stays fast and focused.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from repo_rag.indexers.model import Chunk

from .postings import Postings, load_postings
from .store import Store, StoredChunk

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does doesn don for from had has have how i if in
    into is it its just like may me might more most my no not of on or our should so some such than that
    the their them then there these they this those to too very was we were what when where which while
    who why will with would you your also get got use used using want wants work works way ve ll re
    there's it's i'm let us one two any all each other only same new old make made see seems
    """.split()
)
# Words that carry no signal in code either (keywords of common languages).
CODE_STOPWORDS = frozenset(
    "self this def return none true false null nil var let const function class import from".split()
)

_IGNORED = STOPWORDS | CODE_STOPWORDS

_SUFFIXES = (
    "ational",
    "ations",
    "ation",
    "ators",
    "ator",
    "ments",
    "ment",
    "ness",
    "ings",
    "ing",
    "ions",
    "ion",
    "ies",
    "ers",
    "er",
    "ed",
    "es",
    "s",
    "ly",
    "e",
)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light suffix stripper: 'validation', 'validators', 'validate' all become 'valid'."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("at") and len(word) > 5:
        word = word[:-2]
    return word


@lru_cache(maxsize=500_000)
def _identifier_terms(ident: str) -> tuple[str, ...]:
    parts = [p.lower() for p in _CAMEL.findall(ident)] if not ident.isdigit() else []
    terms = [stem(p) for p in parts if len(p) > 1 and p not in _IGNORED]
    if len(parts) > 1 and ident.lower() not in _IGNORED:
        terms.insert(0, ident.lower())
    return tuple(terms)


def tokenize(text: str) -> list[str]:
    """Index/query terms for ``text``: whole identifiers plus their stemmed parts."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        out.extend(_identifier_terms(ident))
    return out


def fts_row(chunk: Chunk) -> tuple[str, str, str, str]:
    """The four FTS columns for a chunk: path, symbol names, signature+docstring, body."""
    return (
        " ".join(tokenize(chunk.path)),
        " ".join(tokenize(f"{chunk.qualname} {chunk.name}")),
        " ".join(tokenize(f"{chunk.signature} {chunk.docstring}")),
        " ".join(tokenize(chunk.text)),
    )


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: int
    score: float
    terms: tuple[str, ...]


@dataclass(frozen=True)
class QueryTerms:
    """Selected query terms with their weights (query frequency x idf)."""

    terms: tuple[str, ...]
    weights: dict[str, float]


# FTS column weights (path, name, doc, body) of the lexical channel; posting builds record them.
COLUMN_WEIGHTS = (3.0, 4.0, 2.0, 1.0)


def select_terms(store: Store, text: str, max_terms: int = 32, extra: dict[str, float] | None = None,
                 postings: Postings | None = None) -> QueryTerms:
    """Pick the query's most informative terms that exist in the index.

    Document frequencies come from ``postings`` where it has the term (FTS5 counts a term's matches
    to report them: slow for common terms at a million chunks), else from FTS5.
    """
    counts = Counter(tokenize(text))
    for term, boost in (extra or {}).items():
        counts[term] += boost
    if not counts:
        return QueryTerms((), {})
    df = postings.doc_frequencies(counts) if postings is not None else {}
    df.update(store.doc_frequencies([t for t in counts if t not in df]))
    n_docs = max(store.fts_stats()[0] or store.chunk_count(), 1)
    weights: dict[str, float] = {}
    for term, tf in counts.items():
        d = df.get(term, 0)
        if d == 0:
            continue
        idf = math.log(1 + (n_docs - d + 0.5) / (d + 0.5))
        weights[term] = (1 + math.log(tf)) * idf
    best = sorted(weights, key=weights.get, reverse=True)[:max_terms]
    return QueryTerms(tuple(best), {t: weights[t] for t in best})


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def lexical_search(
    store: Store,
    query: str,
    k: int = 50,
    max_terms: int = 32,
    extra_terms: dict[str, float] | None = None,
    weights: tuple[float, float, float, float] = COLUMN_WEIGHTS,
    explain: int = 40,
    use_postings: bool = True,
) -> tuple[list[LexicalHit], QueryTerms]:
    """bm25 over identifier terms; the first ``explain`` hits say which query terms they matched
    (re-tokenising every candidate would dominate the latency of large candidate pools).

    A store with a fresh posting build (large stores, repo_rag/postings.py) is searched through it:
    the same bm25 top ``k``, without FTS5 scoring every match of the common terms
    (``use_postings=False``: FTS5 alone, for comparison).
    """
    postings = load_postings(store, weights) if use_postings else None
    qt = select_terms(store, query, max_terms, extra_terms, postings)
    if not qt.terms:
        return [], qt
    if postings is not None:
        def rare_scores(rare: list[str]) -> list[tuple[int, float]]:
            return store.fts_scores(" OR ".join(_quote(t) for t in rare), weights)

        rows = postings.search(qt.terms, k, rare_scores)
    else:
        rows = store.fts_search(" OR ".join(_quote(t) for t in qt.terms), k, weights)
    if not rows:
        return [], qt
    chunks = store.chunks_by_ids(r[0] for r in rows[:explain]) if explain else {}
    hits = []
    for cid, score in rows:
        ch = chunks.get(cid)
        hits.append(LexicalHit(cid, float(score), matched_terms(ch, qt.terms) if ch is not None else ()))
    return hits, qt


def matched_terms(chunk: Chunk | StoredChunk, terms: tuple[str, ...]) -> tuple[str, ...]:
    """Which of the query ``terms`` occur in ``chunk`` (its path, name, signature, docstring or text)."""
    present = set(tokenize(f"{chunk.path} {chunk.qualname} {chunk.signature} {chunk.docstring} {chunk.text}"))
    return tuple(t for t in terms if t in present)
