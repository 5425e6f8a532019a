"""Pack retrieved code into a token budget as labelled, line-numbered blocks the model can cite.

What goes in, in rank order, until ``budget`` tokens are used:

* full bodies for direct hits, outlines (signature lines) for graph neighbours (hits whose only
  evidence is the graph: every reason starts with ``graph:``);
* hits of one file whose spans overlap or touch are merged into one block;
* each block is labelled ``### path:start-end (symbols)`` and every line carries its real line
  number (chunk text is aligned back to the file, so class outlines and module chunks keep
  their true numbers), which is what makes ``path:start-end`` citations checkable;
* a block that does not fit falls back to its outline, then is dropped; the report says which;
* files for which :func:`indexers.discover.is_secret_path` holds are never packed, whatever
  the index says (defence in depth against a secret indexed by mistake);
* every file is read through the repository's :class:`~repo_rag.files.FileGate` (contained,
  indexed, not secret by name or by link target, redacted): a hit whose file the gate refuses is
  dropped with the gate's reason, never packed from its stored text;
* chunk text and signatures from the store are redacted too (``indexers.secrets.redact_secrets``)
  before they are aligned or shown, so a secret the index kept never reaches a prompt.

Token counts use the local model's tokenizer when one is available, else tiktoken cl100k_base
if its vocabulary is already cached (never downloaded), else a chars/3.5 estimate;
:attr:`TokenCounter.name` says which was used.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from repo_rag.indexers.discover import is_secret_path
from repo_rag.indexers.secrets import redact_secrets

from .files import FileAccessError, FileGate
from .hits import SearchHit

MAX_LINE_CHARS = 240
GAP = "      ..."
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


# -- token counting ------------------------------------------------------------------------------
@dataclass
class TokenCounter:
    """A named token-counting function (the name is reported with every pack)."""

    name: str
    count: Callable[[str], int]

    def __call__(self, text: str) -> int:
        return self.count(text)


def estimate_counter() -> TokenCounter:
    return TokenCounter("estimate (chars/3.5)", lambda text: math.ceil(len(text) / 3.5))


def _tiktoken_cached() -> bool:
    """True when tiktoken can load cl100k_base without a download (mirrors tiktoken.load's cache)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return False
    return os.path.isfile(os.path.join(cache_dir, hashlib.sha1(_CL100K_URL.encode()).hexdigest()))


def token_counter(llm: object | None = None) -> TokenCounter:
    """The most faithful offline counter for ``llm`` (see module docstring for the order)."""
    count = getattr(llm, "count_tokens", None)
    if callable(count):
        try:
            count("probe")
            return TokenCounter(f"{getattr(llm, 'model_name', 'model')} tokenizer", count)
        except Exception:
            pass
    if _tiktoken_cached():
        try:
            import tiktoken

            enc = tiktoken.get_encoding("cl100k_base")
            return TokenCounter("tiktoken cl100k_base", lambda text: len(enc.encode(text, disallowed_special=())))
        except Exception:
            pass
    return estimate_counter()


# -- blocks --------------------------------------------------------------------------------------
@dataclass
class Block:
    """One labelled span of one file; ``lines`` maps real line numbers to their text."""

    path: str
    start_line: int
    end_line: int
    symbols: list[str]
    lines: dict[int, str]
    outline: dict[int, str]
    full: bool
    rank: int
    hits: list[SearchHit] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    @property
    def label(self) -> str:
        names = ", ".join(dict.fromkeys(s for s in self.symbols if s))
        return f"### {self.location}" + (f" ({names})" if names else "")

    @property
    def shown(self) -> dict[int, str]:
        """The lines this block shows as it stands (full body or outline)."""
        return self.lines if self.full else self.outline

    def render(self, full: bool | None = None) -> str:
        body = self.lines if (self.full if full is None else full) else self.outline
        out = [self.label]
        prev = None
        for n in sorted(body):
            if prev is not None and n != prev + 1:
                out.append(GAP)
            text = body[n]
            if len(text) > MAX_LINE_CHARS:
                text = text[:MAX_LINE_CHARS] + " ..."
            out.append(f"{n:>5} | {text}")
            prev = n
        if not body:
            out.append(GAP)
        return "\n".join(out)


@dataclass
class PackedContext:
    """The blocks sent to the model plus an account of what was kept and dropped, and why."""

    blocks: list[Block]
    kept: list[str]
    dropped: list[dict[str, str]]
    tokens: int
    budget: int
    tokenizer: str

    @property
    def text(self) -> str:
        return "\n\n".join(b.render() for b in self.blocks)

    def spans(self) -> list[tuple[str, int, int]]:
        return [(b.path, b.start_line, b.end_line) for b in self.blocks]

    def report(self) -> dict:
        return {
            "tokenizer": self.tokenizer,
            "tokens": self.tokens,
            "budget": self.budget,
            "kept": self.kept,
            "dropped": self.dropped,
        }


def is_graph_only(hit: SearchHit) -> bool:
    """A neighbour reached only through the code graph: worth an outline, not a full body."""
    return bool(hit.reasons) and all(r.startswith("graph:") for r in hit.reasons)


def _align(text_lines: Sequence[str], file_lines: Sequence[str], start: int, end: int) -> dict[int, str]:
    """Give each chunk-text line its line number in the file span (chunk text is made of file lines)."""
    out: dict[int, str] = {}
    j = start
    for raw in text_lines:
        key = raw.rstrip()
        for n in range(j, end + 1):
            if file_lines[n - 1].rstrip() == key:
                out[n] = file_lines[n - 1].rstrip()
                j = n + 1
                break
    return out


def redact(text: str) -> str:
    """``text`` with high-confidence secrets replaced (same number of lines)."""
    return redact_secrets(text)[0] if text else text


def redacted_hit(hit: SearchHit) -> SearchHit:
    """A copy of ``hit`` whose stored code text and signature are redacted."""
    return replace(hit, text=redact(hit.text), signature=redact(hit.signature))


class _Files:
    """Reads repository files through the gate, once per pack; remembers why a file was refused."""

    def __init__(self, gate: FileGate | None) -> None:
        if gate is not None and not isinstance(gate, FileGate):
            raise TypeError(
                f"pack_context reads files only through the repository's FileGate (Repository.files), "
                f"not {type(gate).__name__}"
            )
        self.gate = gate
        self._cache: dict[str, list[str] | None] = {}
        self.refused: dict[str, str] = {}

    def lines(self, path: str) -> list[str] | None:
        """The file's redacted lines; None without a gate or when the gate refuses it."""
        if self.gate is None:
            return None
        if path not in self._cache:
            try:
                self._cache[path] = self.gate.read_text(path).split("\n")
            except FileAccessError as exc:
                self._cache[path] = None
                self.refused[path] = str(exc)
        return self._cache[path]


def _hit_lines(hit: SearchHit, files: _Files) -> tuple[dict[int, str], dict[int, str]]:
    """(full lines, outline lines) of a hit, numbered as in the file."""
    hit = redacted_hit(hit)
    text_lines = hit.text.split("\n") if hit.text else []
    file_lines = files.lines(hit.path)
    end = hit.end_line
    if file_lines is not None and 1 <= hit.start_line <= len(file_lines):
        end = min(end, len(file_lines))
        full = _align(text_lines, file_lines, hit.start_line, end)
        if not full:  # stale index or empty chunk text: show the span as it is on disk now
            full = {n: file_lines[n - 1].rstrip() for n in range(hit.start_line, end + 1)}
        sig_lines = [s for s in hit.signature.split("\n") if s.strip()] if hit.signature else []
        outline = _align(sig_lines, file_lines, hit.start_line, end) if sig_lines else {}
    else:  # no gate given, or a span past the end of the file: number the (redacted) chunk text
        full = {hit.start_line + i: line.rstrip() for i, line in enumerate(text_lines)}
        outline = {}
    if not outline:
        head = [n for n in sorted(full) if full[n].strip()][:2]
        outline = {n: full[n] for n in head}
    return full, outline


def _touching(a: Block, b: Block, files: _Files) -> bool:
    """Same file and overlapping, adjacent, or separated only by blank lines."""
    if a.path != b.path:
        return False
    first, second = (a, b) if a.start_line <= b.start_line else (b, a)
    if second.start_line <= first.end_line + 1:
        return True
    lines = files.lines(a.path)
    if lines is None or second.start_line - first.end_line > 4:
        return False
    return all(not lines[n - 1].strip() for n in range(first.end_line + 1, min(second.start_line, len(lines) + 1)))


def _merge(blocks: list[Block], files: _Files) -> list[Block]:
    """Merge blocks of one file that overlap or touch (transitively), keeping the best rank.

    One block per stretch of code means fewer, larger labels: the model has fewer locations to
    mix up (measured: SmolLM2 paired one block's lines with its neighbour's name).
    """
    merged: list[Block] = []
    for block in sorted(blocks, key=lambda b: b.rank):
        changed = True
        while changed:
            changed = False
            for other in merged:
                if _touching(block, other, files):
                    merged.remove(other)
                    first, second = (other, block) if other.rank <= block.rank else (block, other)
                    block = Block(
                        path=block.path,
                        start_line=min(block.start_line, other.start_line),
                        end_line=max(block.end_line, other.end_line),
                        symbols=first.symbols + second.symbols,
                        lines={**block.shown, **other.shown},
                        outline={**block.outline, **other.outline},
                        full=block.full or other.full,
                        rank=min(block.rank, other.rank),
                        hits=first.hits + second.hits,
                    )
                    changed = True
                    break
        merged.append(block)
    return sorted(merged, key=lambda b: b.rank)


def pack_context(
    hits: Sequence[SearchHit],
    budget: int,
    counter: TokenCounter | None = None,
    files: FileGate | None = None,
) -> PackedContext:
    """Pack ``hits`` (best first) into at most ``budget`` tokens of labelled blocks.

    ``files`` is the repository's :class:`FileGate`; without one, blocks are numbered from the
    (redacted) stored chunk text.
    """
    counter = counter or estimate_counter()
    gate = _Files(files)
    dropped: list[dict[str, str]] = []
    blocks: list[Block] = []
    seen: set[tuple[str, int, int]] = set()
    for rank, hit in enumerate(hits):
        if is_secret_path(hit.path):
            dropped.append({"location": hit.location, "reason": "secret file: never sent to a model"})
            continue
        if gate.gate is not None and gate.lines(hit.path) is None:
            dropped.append({"location": hit.location, "reason": f"file refused: {gate.refused[hit.path]}"})
            continue
        if (hit.path, hit.start_line, hit.end_line) in seen:
            continue
        seen.add((hit.path, hit.start_line, hit.end_line))
        full, outline = _hit_lines(hit, gate)
        blocks.append(
            Block(
                hit.path, hit.start_line, hit.end_line, [hit.symbol], full, outline, not is_graph_only(hit), rank, [hit]
            )
        )
    kept: list[Block] = []
    used = 0
    for block in _merge(blocks, gate):
        sep = 2 if kept else 0  # the blank line between blocks
        cost = counter(block.render()) + sep
        if used + cost <= budget:
            kept.append(block)
            used += cost
            continue
        if block.full:
            cost = counter(block.render(full=False)) + sep
            if used + cost <= budget:
                block.full = False
                kept.append(block)
                used += cost
                dropped.append({"location": block.location, "reason": "body over budget: outline only"})
                continue
        dropped.append({"location": block.location, "reason": f"over budget ({cost} tokens, {budget - used} left)"})
    return PackedContext(
        blocks=kept,
        kept=[b.location for b in kept],
        dropped=dropped,
        tokens=used,
        budget=budget,
        tokenizer=counter.name,
    )
