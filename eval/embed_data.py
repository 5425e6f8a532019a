"""Training pairs for the code-tuned embedder: mined query -> the code the index embeds for it.

``python -m repo_rag.eval embed-data`` builds ``<cache>/bench/embed-train/pairs.jsonl`` (one row per
pair: project, language, licence, query, positive) and ``summary.json`` (projects, licences, counts).

Decision order, per project (first failing step drops the project or the pair):

1. split: only ``train`` projects (:func:`repo_rag.eval.splits.split_of`); a validation or SWE-bench
   project in the list is an error, never silently used;
2. licence: the package's own licence must be permissive (MIT, BSD, Apache, ISC, Expat, PSF, ...);
   a project whose first stated licence is not is skipped and listed in the summary;
3. pairs: :func:`repo_rag.eval.mined.mine_tree` (same query rules and masking as the mined dev set),
   with a larger cap (``--per-project``, 1500), keeping pairs whose sentence is also copied in
   another file (lodash's per-method modules): no search is run on this tree;
4. positive: the chunk the indexer makes of the masked definition (its docstring or doc comment
   blanked), as :func:`repo_rag.embed.embedding_text` writes it for the dense channel, so training
   sees exactly what search embeds and cannot learn to match a query against its own sentence;
5. query form: half of the queries that open with a verb ("Returns ...", by hash) are asked the way
   a user asks ("where is the code that returns ...?", "which function returns ...?"); the rest
   stay the docstring sentence.

No SWE-bench instance, paraphrased question or validation project is ever read here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from repo_rag.config import Config, default_cache_dir
from repo_rag.embed import embedding_text
from repo_rag.parsing import parse_source

from .mined import _GEMS, _GO, _LANGUAGE, _PHP, _RUST, PROJECTS, licence_of, mine_tree
from .mined import gather as gather_built
from .projects import Project, fetch_project
from .splits import TRAIN, split_of

_PYPI = (
    "sqlalchemy==2.0.36 tornado==6.4.1 httpx==0.27.2 rich==13.9.4 werkzeug==3.1.3 babel==2.16.0 "
    "jsonschema==4.23.0 python-dateutil==2.9.0.post0 arrow==1.3.0 toolz==1.0.0 scrapy==2.11.2 celery==5.4.0 "
    "kombu==5.4.2 aiohttp==3.10.10 sqlparse==0.5.1 openpyxl==3.1.5 pydantic==2.9.2 alembic==1.13.3 "
    "fsspec==2024.10.0 tqdm==4.66.5 starlette==0.41.2 tenacity==9.0.0 cachetools==5.5.0 sortedcontainers==2.4.0"
)
_NPM = "lodash@4.17.21 async@3.2.6 yargs@17.7.2 axios@1.7.7 underscore@1.13.7 moment@2.30.1"
_DEB = (
    ("testify", "1.8.1", "golang-github-stretchr-testify-dev", _GO + "stretchr/testify"),
    ("websocket", "1.5.0", "golang-github-gorilla-websocket-dev", _GO + "gorilla/websocket"),
    ("go-cmp", "0.5.9", "golang-github-google-go-cmp-dev", _GO + "google/go-cmp"),
    ("cli", "1.22.9", "golang-github-urfave-cli-dev", _GO + "urfave/cli"),
    ("rand", "0.8.5", "librust-rand-dev", _RUST + "rand-0.8.5"),
    ("nom", "7.1.1", "librust-nom-dev", _RUST + "nom-7.1.1"),
    ("clap", "4.0.32", "librust-clap-dev", _RUST + "clap-4.0.32"),
    ("bytes", "1.2.1", "librust-bytes-dev", _RUST + "bytes-1.2.1"),
    ("indexmap", "1.9.2", "librust-indexmap-dev", _RUST + "indexmap-1.9.2"),
    ("smallvec", "1.9.0", "librust-smallvec-dev", _RUST + "smallvec-1.9.0"),
    ("mime-types", "3.4.1", "ruby-mime-types", _GEMS + "mime-types-3.4.1"),
    ("rake", "13.0.6", "rake", _GEMS + "rake-13.0.6"),
    ("sinatra", "3.0.5", "ruby-sinatra", _GEMS + "sinatra-3.0.5"),
    ("httparty", "0.21.0", "ruby-httparty", _GEMS + "httparty-0.21.0"),
    ("rspec-core", "3.12.0", "ruby-rspec-core", _GEMS + "rspec-core-3.12.0"),
    ("symfony-yaml", "5.4.53", "php-symfony-yaml", _PHP + "Symfony/Component/Yaml"),
    ("doctrine-dbal", "3.6.1", "php-doctrine-dbal", _PHP + "Doctrine/DBAL"),
    ("carbon", "2.65.0", "php-nesbot-carbon", _PHP + "Carbon"),
)
# The mined dev set's train projects, then projects only this training set reads.
EMBED_PROJECTS: tuple[Project, ...] = (
    *(p for p in PROJECTS if split_of(p.name) == TRAIN),
    *(Project(n, v, f"pypi:{n}=={v}", ".") for n, v in (x.split("==") for x in _PYPI.split())),
    *(Project(n, v, f"npm:{n}@{v}", "package") for n, v in (x.split("@") for x in _NPM.split())),
    Project("rxjs", "7.8.1", "npm:rxjs@7.8.1", "package/src"),
    *(Project(n, v, f"deb:{pkg}", root) for n, v, pkg, root in _DEB),
)
DEFAULT_PER_PROJECT = 1500
_PERMISSIVE = re.compile(r"\b(mit|bsd|apache|isc|expat|psf|python|zlib|public[- ]domain|unlicense|0bsd)", re.I)
_NOT_PERMISSIVE = re.compile(r"\b(a?gpl|lgpl|mpl|epl|cc-by-sa|sspl)", re.I)
_TEMPLATES = ("where is the code that {s}?", "which function {s}?")


def is_permissive(licence: str) -> bool:
    """The first licence a package states is a permissive one (Debian lists the package's first)."""
    first = licence.split(";")[0].split(" and ")[0]
    return bool(_PERMISSIVE.search(first)) and not _NOT_PERMISSIVE.search(first)


def user_form(query: str, key: str) -> str:
    """Half the queries that open with a verb ("Returns ...") asked as a question; a hash of ``key`` picks."""
    slot = hashlib.blake2b(key.encode("utf-8"), digest_size=4).digest()[0] % 4
    first = query.split(" ", 1)[0]
    if slot >= len(_TEMPLATES) or not re.fullmatch(r"[A-Z]?[a-z]+[^s]s", first):
        return query
    return _TEMPLATES[slot].format(s=first.lower() + query[len(first):].rstrip(" ."))


def positives(masked: dict[str, str], pairs: Sequence, body_chars: int) -> list[tuple[object, str]]:
    """(pair, embedding text of its masked chunk) for every pair whose chunk the parser finds."""
    by_file: dict[str, list] = {}
    for p in pairs:
        by_file.setdefault(p.path, []).append(p)
    out = []
    for path, items in by_file.items():
        parsed = parse_source(path, masked[path], items[0].language)
        chunks = {(c.qualname, c.start_line): c for c in parsed.chunks if c.part <= 1}
        for p in items:
            c = chunks.get((p.qualname, p.start_line))
            if c is not None:
                out.append((p, embedding_text(c.path, c.qualname, c.signature, c.docstring, c.text, body_chars)))
    return out


def build_project(project: Project, per_project: int, cache: Path, body_chars: int, fresh: bool = False) -> dict:
    """Fetch, mine and write one project's pairs (skipped when built); returns its meta."""
    if split_of(project.name) != TRAIN:
        raise ValueError(f"{project.name} is not a train project: the embedder never trains on it")
    out = cache / "bench" / "embed-train" / project.key
    if (out / "meta.json").is_file() and not fresh:
        return json.loads((out / "meta.json").read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    root = fetch_project(project, cache)
    licence = licence_of(project, cache)
    meta = {"project": project.name, "version": project.version, "source": project.source, **licence}
    rows = []
    if is_permissive(licence["licence"]):
        pairs, masked, counts = mine_tree(root, per_project, keep_copied=True)
        meta.update(counts)
        for p, text in positives(masked, pairs, body_chars):
            key = f"{project.name}\0{p.path}\0{p.qualname}\0{p.start_line}"
            rows.append({"project": project.name, "language": _LANGUAGE.get(p.language, p.language),
                         "query": user_form(p.query, key), "positive": text, "path": p.path,
                         "qualname": p.qualname})
    else:
        meta["skipped"] = "licence not permissive"
    meta.update(pairs=len(rows), languages=dict(Counter(r["language"] for r in rows)),
                seconds=round(time.perf_counter() - t0, 1))
    out.mkdir(parents=True, exist_ok=True)
    (out / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def gather(cache: Path, projects: Sequence[Project] = EMBED_PROJECTS) -> list[dict]:
    """Write ``pairs.jsonl`` and ``summary.json`` from every built project; returns their metas."""
    return gather_built(cache, projects, "embed-train")


def load_rows(path: Path | None = None) -> list[dict]:
    path = path or default_cache_dir() / "bench" / "embed-train" / "pairs.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: Sequence[str] | None = None, prog: str = "python -m repo_rag.eval embed-data") -> int:
    ap = argparse.ArgumentParser(prog=prog, description="Build the embedder's training pairs (train projects only).")
    ap.add_argument("--per-project", type=int, default=DEFAULT_PER_PROJECT, help="most pairs per project")
    ap.add_argument("--only", default="", help="comma-separated project names to build (default: all)")
    ap.add_argument("--fresh", action="store_true", help="rebuild projects already built")
    args = ap.parse_args(argv)
    cache = default_cache_dir()
    body_chars = Config().embed.body_chars
    wanted = {x.strip().lower() for x in args.only.split(",") if x.strip()}
    for project in EMBED_PROJECTS:
        if wanted and project.name.lower() not in wanted:
            continue
        try:
            meta = build_project(project, args.per_project, cache, body_chars, args.fresh)
        except Exception as exc:  # one broken download must not lose the others
            print(f"{project.key:32s} FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"{project.key:32s} {meta['pairs']:5d} pairs  {meta.get('licence', '')[:30]:30s} "
              f"{meta.get('skipped', '')} {meta['seconds']}s", flush=True)
    metas = gather(cache)
    by_lang = Counter()
    for m in metas:
        by_lang.update(m.get("languages", {}))
    print(f"{sum(m['pairs'] for m in metas)} pairs from {sum(1 for m in metas if m['pairs'])} projects: "
          + ", ".join(f"{k} {v}" for k, v in sorted(by_lang.items())))
    return 0
