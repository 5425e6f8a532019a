"""Benchmark sources: PyPI sdists fetched with pip, verified by sha256 and unpacked once into the cache.

Layout under ``<cache>/bench`` (``<cache>`` is ``Config.cache_path``; ``REPO_RAG_CACHE_DIR`` moves it):

    sdists/<sdist_filename>      the archive as published (when pip could save it)
    src/<NAME>-<VER>/            its contents with the archive's top folder stripped, so the dataset's
                                 repo-relative ``gold_files`` paths resolve against it
    src/<NAME>-<VER>.json        provenance: archive, sha256, how it was obtained

pip is asked for the exact file with ``--hash=sha256:...`` (hash-checking mode), so pip itself refuses a
mismatching download before doing anything else with it. Very old sdists cannot even build their
metadata on Python 3.11 (``setup.py`` importing removed stdlib names), and pip then saves nothing; with
``--no-clean`` it leaves the unpacked, already hash-checked tree in its temp folder, which is taken
instead. Third-party source is only ever written under the cache, never into the project.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from repo_rag.config import default_cache_dir
from repo_rag.errors import RepoRagError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


class CorpusError(RepoRagError, RuntimeError):
    """A source could not be obtained or failed verification."""


@dataclass(frozen=True)
class SdistSpec:
    """What the dataset says about one source archive."""

    project: str
    version: str
    filename: str
    sha256: str

    @property
    def slug(self) -> str:
        """Folder name of the unpacked tree (and of its index): the archive name without suffix."""
        for suffix in ARCHIVE_SUFFIXES:
            if self.filename.endswith(suffix):
                return self.filename[: -len(suffix)]
        return f"{self.project}-{self.version}"


@dataclass
class Provenance:
    """How a source tree was obtained (written next to it as JSON)."""

    filename: str
    sha256: str
    method: str  # 'archive' (pip saved it, we verified and unpacked) | 'pip-tree' (pip's hash-checked unpack)
    fetched_at: float
    files: int


def bench_cache(cache_dir: str | Path | None = None) -> Path:
    """Root of everything this package downloads or builds."""
    return Path(cache_dir) if cache_dir else default_cache_dir() / "bench"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Corpus:
    """Fetches and unpacks sdists on demand; every step is cached and safe to interrupt."""

    def __init__(self, root: str | Path | None = None, log=None) -> None:
        self.root = bench_cache(root)
        self.log = log or (lambda msg: print(msg, file=sys.stderr))

    @property
    def sdists(self) -> Path:
        return self.root / "sdists"

    def src_dir(self, spec: SdistSpec) -> Path:
        return self.root / "src" / spec.slug

    def source(self, spec: SdistSpec) -> Path:
        """The unpacked tree of ``spec``, fetching and unpacking it first if needed."""
        dest = self.src_dir(spec)
        meta = dest.with_name(dest.name + ".json")
        if dest.is_dir() and meta.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        with _locked(dest.with_name(dest.name + ".lock")):  # two runs fetching the same sdist
            if dest.is_dir() and meta.is_file():
                return dest
            return self._fetch(spec, dest, meta)

    def _fetch(self, spec: SdistSpec, dest: Path, meta: Path) -> Path:
        if dest.exists():  # an unpack that was interrupted before its provenance was written
            shutil.rmtree(dest)
        archive = self.sdists / spec.filename
        if archive.is_file() and sha256_file(archive) != spec.sha256:
            self.log(f"{archive}: sha256 mismatch, fetching again")
            archive.unlink()
        method = "archive"
        if not archive.is_file():
            tree = self._pip_download(spec)
            if tree is not None:
                method = "pip-tree"
                _install_tree(tree, dest)
        if method == "archive":
            digest = sha256_file(archive)
            if digest != spec.sha256:
                raise CorpusError(f"{spec.filename}: sha256 {digest} does not match the dataset's {spec.sha256}")
            unpack_archive(archive, dest)
        files = sum(1 for p in dest.rglob("*") if p.is_file())
        prov = Provenance(spec.filename, spec.sha256, method, time.time(), files)
        meta.write_text(json.dumps(asdict(prov), indent=2), encoding="utf-8")
        return dest

    def _pip_download(self, spec: SdistSpec) -> Path | None:
        """Run pip; returns None when the archive was saved, else pip's hash-checked unpacked tree."""
        self.sdists.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"pip-{spec.slug}-", dir=self.root))
        try:
            req = work / "requirements.txt"
            req.write_text(f"{spec.project}=={spec.version} --hash=sha256:{spec.sha256}\n", encoding="utf-8")
            tmp = work / "tmp"
            tmp.mkdir()
            cmd = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                # Build isolation would compile build requirements (numpy, Cython) from source under
                # --no-binary :all:; metadata only needs the setuptools already installed here.
                "--no-build-isolation", "--no-clean", "--disable-pip-version-check", "--quiet",
                "-r", str(req), "-d", str(self.sdists),
            ]
            self.log(f"fetching {spec.filename} with pip")
            env = {**os.environ, "TMPDIR": str(tmp), "PIP_NO_INPUT": "1"}
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            archive = self.sdists / spec.filename
            if archive.is_file():
                shutil.rmtree(work, ignore_errors=True)
                return None
            if "DO NOT MATCH THE HASHES" in proc.stderr:
                raise CorpusError(f"{spec.filename}: pip reports a sha256 mismatch:\n{_tail(proc.stderr)}")
            tree = _find_pip_tree(tmp, spec.project)
            if tree is None:
                raise CorpusError(
                    f"pip could not fetch {spec.filename} (exit {proc.returncode}):\n{_tail(proc.stderr)}"
                )
            self.log(f"{spec.filename}: metadata build failed; using pip's hash-checked unpacked tree")
            staged = work / "tree"
            tree.rename(staged)
            return staged
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise

    def cleanup_work(self) -> None:
        """Remove leftovers of interrupted pip runs."""
        for p in self.root.glob("pip-*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _find_pip_tree(tmp: Path, project: str) -> Path | None:
    """The source folder pip unpacked into its temp dir (``pip-download-*/<name>_<uuid>``)."""
    norm = re.sub(r"[-_.]+", "_", project).lower()
    candidates = [
        p for p in tmp.glob("pip-*/*")
        if p.is_dir() and re.sub(r"[-_.]+", "_", p.name.rsplit("_", 1)[0]).lower() == norm
    ]
    candidates += [p for p in tmp.glob("pip-req-build-*") if p.is_dir()]
    return candidates[0] if candidates else None


def _install_tree(tree: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(tree), str(dest))
    shutil.rmtree(tree.parent, ignore_errors=True)


def _member_path(name: str) -> PurePosixPath | None:
    """The archive member's path with its top folder stripped; None for the top folder itself.

    Raises CorpusError for absolute paths and ``..`` components (path traversal).
    """
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise CorpusError(f"unsafe path in archive: {name!r}")
    parts = [x for x in p.parts if x not in ("", ".")]
    if len(parts) <= 1:
        return None
    return PurePosixPath(*parts[1:])


def unpack_archive(archive: Path, dest: Path) -> None:
    """Unpack a .tar.* or .zip sdist into ``dest`` with its top folder stripped.

    Only regular files and folders are written (links and devices are skipped); the archive is
    unpacked into a sibling temp folder first so a killed run never leaves a half tree at ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        if archive.name.endswith(".zip"):
            _unzip(archive, stage)
        else:
            _untar(archive, stage)
        if dest.exists():
            shutil.rmtree(dest)
        stage.rename(dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _target(stage: Path, rel: PurePosixPath) -> Path:
    target = (stage / rel).resolve()
    if stage.resolve() not in target.parents:
        raise CorpusError(f"unsafe path in archive: {rel}")
    return target


def _untar(archive: Path, stage: Path) -> None:
    with tarfile.open(archive) as tar:
        for member in tar:
            rel = _member_path(member.name)
            if rel is None or not (member.isfile() or member.isdir()):
                continue
            target = _target(stage, rel)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            if src is None:
                continue
            with src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _unzip(archive: Path, stage: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = _member_path(info.filename)
            if rel is None:
                continue
            mode = (info.external_attr >> 16) & 0o170000
            if mode and mode not in (0o100000, 0o040000):  # symlinks and other non-regular entries
                continue
            target = _target(stage, rel)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
