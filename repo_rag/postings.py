"""Posting lists of common terms, so the lexical channel answers in milliseconds at a million chunks.

FTS5 scores every chunk that matches any term of an OR query and counts each term's matches on every
query; at 1M chunks a docstring-length question touches hundreds of thousands of chunks through its
common words (``name``, ``value``, ``file``) and takes ~0.5-1.4 s (docs/benchmarks.md §12). bm25 is a
sum over query terms, so it can be computed in parts. Decision order of a search over a fresh build:

1. **Rare terms** (no posting list: document frequency at most ``MIN_DF`` at build time) are scored by
   FTS5 itself, over those terms only: their matches are few, so this is fast and exactly FTS5's bm25.
2. **Common terms** are scored from their posting lists (chunk ids and weighted term frequencies, as
   numpy arrays) with FTS5's formula and its constants, taken by falling idf.
3. **MaxScore**: once the k-th best score so far is larger than what all remaining terms could add
   together (each term's largest contribution is stored with its list), a chunk not yet scored cannot
   reach the top k, so the remaining terms only update the chunks already scored (binary search).
   The top k is therefore bm25's exact top k (up to ties), not an approximation.

A build is used only while it is exact: the store has neither gained nor lost a chunk since it was
made (chunk ids are never reused), and the column weights are the ones asked for; otherwise search
falls back to FTS5. The indexer rebuilds it after every run that changed chunks once the store holds
``[index] postings_above`` chunks (``Indexer._postings``). Everything read back from the index
folder is checked (lengths, order, id range) before use: the folder is untrusted input.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .store import IndexCorruptError

# FTS5's bm25 constants (fts5_aux.c): the parts computed here must add up to its score.
K1 = 1.2
B = 0.75
# Terms matching more chunks than this get a posting list. Below it FTS5 is fast (its cost grows with
# the matches it scores); measured at 1M chunks, 4,212 terms carry 36M of the 49M postings.
MIN_DF = 1000
_CACHE_BYTES = 256 << 20  # decoded posting arrays kept per process (the commonest terms recur)


@dataclass(frozen=True)
class PostingsBuild:
    """What a build writes: per term (df, bound, ids int32, weighted tf float16) and chunk lengths."""

    lists: dict[str, tuple[int, float, bytes, bytes]]
    length_ids: bytes
    lengths: bytes
    rows: int
    avgdl: float


def build_postings(
    rows: Iterable[tuple[int, str, str, str, str]],
    common: set[str],
    weights: Sequence[float],
    avgdl: float,
) -> PostingsBuild:
    """Posting lists for the ``common`` terms from the FTS rows (chunk id and its four term columns).

    The columns hold the terms repo-rag's tokenizer produced, space-joined, which is also how FTS5
    splits them, so counts and lengths here are FTS5's. ``avgdl`` must be FTS5's own (total terms /
    rows), read from the same store: a list's bound is each term's largest bm25 part before idf.
    """
    ids: dict[str, array] = {t: array("i") for t in common}
    tfs: dict[str, array] = {t: array("f") for t in common}
    length_ids, lengths = array("i"), array("i")
    for chunk_id, *columns in rows:
        freq: Counter[str] = Counter()
        length = 0
        for weight, column in zip(weights, columns, strict=True):
            terms = column.split() if column else []
            length += len(terms)
            for term in terms:
                freq[term] += weight
        length_ids.append(chunk_id)
        lengths.append(length)
        for term, f in freq.items():
            got = ids.get(term)
            if got is not None:
                got.append(chunk_id)
                tfs[term].append(f)
    norm_by_id = _norms(np.frombuffer(length_ids, dtype=np.int32), np.frombuffer(lengths, dtype=np.int32), avgdl)
    lists = {}
    for term, term_ids in ids.items():
        if not term_ids:
            continue
        order_ids = np.frombuffer(term_ids, dtype=np.int32)
        f = np.minimum(np.frombuffer(tfs[term], dtype=np.float32), np.float32(65504.0))  # float16 range
        if np.any(np.diff(order_ids) <= 0):  # rows arrive in rowid order; keep the lists sorted anyway
            order = np.argsort(order_ids, kind="stable")
            order_ids, f = order_ids[order], f[order]
        f16 = f.astype(np.float16)
        bound = float(np.max(_part(f16.astype(np.float32), norm_by_id[order_ids])))
        lists[term] = (len(order_ids), bound, order_ids.astype("<i4").tobytes(), f16.astype("<f2").tobytes())
    return PostingsBuild(lists, length_ids.tobytes(), lengths.tobytes(), len(length_ids), avgdl)


def _norms(length_ids: np.ndarray, lengths: np.ndarray, avgdl: float) -> np.ndarray:
    """K1 * (1 - B + B * length / avgdl) indexed by chunk id (0 where there is no chunk)."""
    size = int(length_ids.max()) + 1 if len(length_ids) else 1
    norm = np.zeros(size, dtype=np.float32)
    norm[length_ids] = K1 * (1 - B + B * lengths.astype(np.float64) / max(avgdl, 1e-9))
    return norm


def _part(f: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """One term's bm25 part before idf: f (k1 + 1) / (f + norm)."""
    return f * np.float32(K1 + 1) / (f + norm)


def idf(rows: int, df: int) -> float:
    """FTS5's idf, clamped like FTS5 (a term in more than half the rows still counts a little)."""
    value = math.log((rows - df + 0.5) / (df + 0.5))
    return value if value > 0 else 1e-6


class Postings:
    """One build, loaded: the term table (df and bound per term) and the chunk-length norms.

    Posting arrays are read on demand and kept in a per-process LRU cache of decoded arrays.
    """

    def __init__(self, key: str, terms: dict[str, tuple[int, float]], norm: np.ndarray, rows: int,
                 read_lists: Callable[[list[str]], dict[str, tuple[bytes, bytes]]]) -> None:
        self.key = key
        self.terms = terms
        self.norm = norm
        self.rows = rows
        self._read_lists = read_lists
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def doc_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return {t: self.terms[t][0] for t in terms if t in self.terms}

    def lists(self, terms: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(ids int32, weighted tf float16) per term, as stored (6 bytes a posting, so a whole
        million-chunk build fits the cache), checked against the term table and the norms once."""
        with self._lock:
            out = {t: self._cache[t] for t in terms if t in self._cache}
            for t in out:
                self._cache.move_to_end(t)
        missing = [t for t in terms if t not in out]
        for term, (id_blob, tf_blob) in (self._read_lists(missing) if missing else {}).items():
            df = self.terms[term][0]
            if len(id_blob) != 4 * df or len(tf_blob) != 2 * df:
                raise IndexCorruptError(f"posting list of {term!r} has the wrong size: re-index to rebuild it")
            ids = np.frombuffer(id_blob, dtype="<i4")
            tfs = np.frombuffer(tf_blob, dtype="<f2")
            if df and (ids[0] < 0 or ids[-1] >= len(self.norm) or np.any(np.diff(ids) <= 0)
                       or not np.all(np.isfinite(tfs)) or np.any(tfs <= 0)):
                raise IndexCorruptError(f"posting list of {term!r} is malformed: re-index to rebuild it")
            out[term] = (ids, tfs)
            with self._lock:
                self._cache[term] = (ids, tfs)
                self._cached_bytes += ids.nbytes + tfs.nbytes
                while self._cached_bytes > _CACHE_BYTES and len(self._cache) > 1:
                    _, (old_ids, old_tfs) = self._cache.popitem(last=False)
                    self._cached_bytes -= old_ids.nbytes + old_tfs.nbytes
        return out

    def search(self, terms: Sequence[str], k: int,
               rare_scores: Callable[[list[str]], list[tuple[int, float]]],
               stats: dict[str, int] | None = None) -> list[tuple[int, float]]:
        """bm25's top ``k`` (chunk id, score) over ``terms``, best first; ``rare_scores`` scores the
        terms without a list (FTS5 over those terms only, every match). ``stats`` (if given) gets
        how many listed terms were scored in full and how many only updated candidates."""
        listed = sorted((t for t in terms if t in self.terms),
                        key=lambda t: -idf(self.rows, self.terms[t][0]))
        rare = [t for t in terms if t not in self.terms]
        acc = np.zeros(len(self.norm), dtype=np.float32)
        if rare:
            found = rare_scores(rare)
            if found:
                got = np.asarray(found, dtype=np.float64)
                rare_ids = got[:, 0].astype(np.int64)
                inside = rare_ids < len(acc)  # a chunk newer than the build: the build would be stale
                acc[rare_ids[inside]] += got[inside, 1].astype(np.float32)
        weights = [idf(self.rows, self.terms[t][0]) for t in listed]
        bounds = [w * self.terms[t][1] for t, w in zip(listed, weights, strict=True)]
        rest = [*np.cumsum(bounds[::-1])[::-1].tolist(), 0.0]  # what terms i.. could still add
        arrays = self.lists(listed)
        candidates: np.ndarray | None = None
        full = 0
        for i, (term, weight) in enumerate(zip(listed, weights, strict=True)):
            ids, tfs = arrays[term]
            # the k-th best score so far can beat what is left only if the best one does (cheap test)
            if candidates is None and float(acc.max()) > rest[i]:
                # every chunk scored so far (all parts are > 0); partitioning the zeros of a
                # million-row array as well would cost ~0.1 s a term
                pool = np.flatnonzero(acc)
                scored = acc[pool]
                threshold = _kth(scored, k)
                if threshold > rest[i]:
                    # no chunk outside those scored can reach the top k any more
                    candidates = pool[scored + rest[i] >= threshold].astype(np.int32)
            if candidates is None:
                acc[ids] += weight * _part(tfs.astype(np.float32), self.norm[ids])
                full += 1
            elif len(candidates):
                pos = np.minimum(np.searchsorted(ids, candidates), len(ids) - 1)
                hit = ids[pos] == candidates
                sel = candidates[hit]
                acc[sel] += weight * _part(tfs[pos[hit]].astype(np.float32), self.norm[sel])
        if stats is not None:
            stats.update(listed=len(listed), rare=len(rare), full=full, pruned=len(listed) - full)
        if candidates is None:
            candidates = np.flatnonzero(acc)
        scores = acc[candidates]
        top = _top(scores, k)
        return [(int(candidates[j]), float(scores[j])) for j in top]


def _kth(scores: np.ndarray, k: int) -> float:
    """The k-th largest of ``scores`` (0 while there are fewer than k)."""
    if k <= 0 or k > len(scores):
        return 0.0
    return float(np.partition(scores, len(scores) - k)[len(scores) - k])


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``scores``, best first; ties go to the earlier position (the
    smaller chunk id), also at the k-th place, so the same store always gives the same list."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    above = np.flatnonzero(scores > kth)
    tied = np.flatnonzero(scores == kth)[: k - len(above)]
    part = np.concatenate([above, tied])
    return part[np.argsort(-scores[part], kind="stable")]


MANIFEST_KEY = "lexical_postings"
_LOADED: OrderedDict[tuple[str, str], Postings] = OrderedDict()
_LOADED_LOCK = threading.Lock()


def record_for(store, weights: Sequence[float]) -> dict:
    """The manifest record a build made now would carry (what freshness is checked against)."""
    rows, avgdl = store.fts_stats()
    return {"chunk_seq": store.chunk_sequence(), "rows": rows, "weights": [float(w) for w in weights],
            "avgdl": avgdl}


def is_fresh(record: dict | None, store, weights: Sequence[float]) -> bool:
    """True when ``record`` describes the store as it is (no chunk added or removed) and ``weights``."""
    if not isinstance(record, dict):
        return False
    now = record_for(store, weights)
    return all(record.get(key) == now[key] for key in ("chunk_seq", "rows", "weights"))


def load_postings(store, weights: Sequence[float]) -> Postings | None:
    """The store's build, if there is one and it is exact for the store as it is; else None (FTS5)."""
    import json

    raw = store.get_manifest().get(MANIFEST_KEY)
    if not raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise IndexCorruptError(f"{MANIFEST_KEY} record is unreadable: re-index to rebuild it") from exc
    if not is_fresh(record, store, weights):
        return None
    key = (str(store.db_path), raw)
    with _LOADED_LOCK:
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
    lengths = store.posting_lengths()
    if lengths is None or len(lengths[0]) != len(lengths[1]) or len(lengths[0]) % 4:
        raise IndexCorruptError("posting lengths are missing or malformed: re-index to rebuild them")
    length_ids = np.frombuffer(lengths[0], dtype="<i4")
    counts = np.frombuffer(lengths[1], dtype="<i4")
    if len(length_ids) != record.get("rows") or (len(length_ids) and (length_ids.min() < 0 or counts.min() < 0)):
        raise IndexCorruptError("posting lengths do not match the index: re-index to rebuild them")
    avgdl = float(record.get("avgdl") or 0.0)
    if not math.isfinite(avgdl) or avgdl <= 0:
        raise IndexCorruptError("posting build has no average length: re-index to rebuild it")
    loaded = Postings(raw, store.posting_terms(), _norms(length_ids, counts, avgdl), int(record["rows"]),
                      store.posting_lists)
    with _LOADED_LOCK:
        _LOADED[key] = loaded
        while len(_LOADED) > 4:
            _LOADED.popitem(last=False)
    return loaded


def rebuild_postings(store, weights: Sequence[float], min_df: int | None = None) -> int:
    """Build the posting lists of the store's common terms and record the build; returns the list count."""
    min_df = MIN_DF if min_df is None else min_df
    avgdl = store.fts_stats()[1]
    build = build_postings(store.fts_rows(), store.terms_above(min_df), weights, avgdl)
    with store.transaction() as con:
        store.replace_postings(con, build.lists, build.length_ids, build.lengths)
        store.set_manifest(con, {MANIFEST_KEY: {**record_for(store, weights), "min_df": min_df}})
    return len(build.lists)


def drop_postings(store) -> bool:
    """Remove a build (a store that shrank below the size that needs one); True if there was one."""
    if not store.get_manifest().get(MANIFEST_KEY):
        return False
    with store.transaction() as con:
        store.drop_postings(con)
        store.set_manifest(con, {MANIFEST_KEY: ""})
    return True
