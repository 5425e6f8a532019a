"""The unit of parsing work an indexing engine runs: one file's text -> chunks, facts and FTS rows.

Pure functions of their arguments, so any engine can run them anywhere: the local engine's worker
processes call :func:`parse_batch` (each reads its files), the Ray engine sends texts the driver read
to :func:`parse_texts` on cluster workers (which need not see the repository's filesystem). In both,
high-confidence secrets are redacted from the text before it is parsed (``indexers.secrets``).
"""

from __future__ import annotations

from dataclasses import dataclass

from repo_rag.indexers.discover import read_text
from repo_rag.indexers.model import ParsedFile, SourceFile, content_hash
from repo_rag.indexers.parse import parse_source
from repo_rag.indexers.secrets import redact_secrets

from .lexical import fts_row


@dataclass
class Parsed:
    source: SourceFile
    file_hash: str
    n_lines: int
    parsed: ParsedFile | None  # None: content unchanged since last index
    fts_rows: list[tuple[str, str, str, str]]
    redacted: int = 0


def read_for_parse(source: SourceFile, old_hash: str | None) -> Parsed | tuple[str, str]:
    """The file's text and hash to parse, or the finished result (unreadable, or unchanged content)."""
    try:
        text, _note = read_text(source.abs_path)
    except OSError as exc:
        parsed = ParsedFile(source.path, source.language, error=f"unreadable: {exc.strerror or exc}")
        return Parsed(source, "", 0, parsed, [])
    file_hash = content_hash(text)
    if file_hash == old_hash:
        return Parsed(source, file_hash, 0, None, [])
    return text, file_hash


def parse_text(source: SourceFile, file_hash: str, text: str, max_chunk_lines: int) -> Parsed:
    text, redacted = redact_secrets(text)
    parsed = parse_source(source.path, text, source.language, max_chunk_lines=max_chunk_lines)
    return Parsed(source, file_hash, text.count("\n") + 1, parsed, [fts_row(c) for c in parsed.chunks], redacted)


def parse_file(source: SourceFile, old_hash: str | None, max_chunk_lines: int) -> Parsed:
    """Read, hash and parse one file."""
    got = read_for_parse(source, old_hash)
    return got if isinstance(got, Parsed) else parse_text(source, got[1], got[0], max_chunk_lines)


def parse_batch(items: list[tuple[SourceFile, str | None]], max_chunk_lines: int) -> list[Parsed]:
    return [parse_file(s, h, max_chunk_lines) for s, h in items]


def parse_texts(items: list[tuple[SourceFile, str, str]], max_chunk_lines: int) -> list[Parsed]:
    """(source, hash, text) triples read elsewhere, parsed here."""
    return [parse_text(s, h, t, max_chunk_lines) for s, h, t in items]
