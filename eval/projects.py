"""Real projects used for the index/search benchmarks, fetched from package registries at run time.

Never committed: sources are downloaded into the user cache (PyPI sdist, npm tarball, Debian
source-carrying package) and extracted there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from repo_rag.config import default_cache_dir


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    source: str  # 'pypi:NAME==VER', 'npm:NAME@VER', 'deb:PACKAGE'
    root: str  # folder inside the extracted archive that is the repository root

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


PROJECTS = {
    "django": Project("Django", "4.2.16", "pypi:Django==4.2.16", "."),
    "rxjs": Project("rxjs", "7.8.1", "npm:rxjs@7.8.1", "package"),
    "cobra": Project(
        "cobra", "1.6.1", "deb:golang-github-spf13-cobra-dev", "usr/share/gocode/src/github.com/spf13/cobra"
    ),
}


def _safe_extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tf:
        tf.extractall(dest, filter="data")  # refuses absolute paths, '..' and device files


def _pypi_sdist(name: str, ver: str, dl: Path) -> Path:
    """The sdist of ``name==ver``: from PyPI's simple index as JSON (sha256 checked), else ``pip download``.

    The index is preferred because ``pip download --no-binary :all:`` prepares metadata, which
    can mean building Cython from source (minutes) for a project such as SQLAlchemy.
    """
    # sdists are saved under the project's normalised, often lower-case name (Jinja2 -> jinja2)
    wanted = {f"{n}-{ver}.tar.gz".lower() for n in (name, name.replace("-", "_"), name.replace("_", "-"))}
    have = [p for p in sorted(dl.iterdir()) if p.name.lower() in wanted]
    if have:
        return have[0]
    try:
        accept = {"Accept": "application/vnd.pypi.simple.v1+json"}  # PEP 691: the simple index as JSON
        request = urllib.request.Request(f"https://pypi.org/simple/{name.lower()}/", headers=accept)
        with urllib.request.urlopen(request, timeout=60) as resp:
            files = json.load(resp)["files"]
        (sdist,) = [f for f in files if f["filename"].lower() in wanted]
        with urllib.request.urlopen(sdist["url"], timeout=180) as resp:
            data = resp.read()
        if hashlib.sha256(data).hexdigest() != sdist["hashes"]["sha256"]:
            raise ValueError(f"sha256 mismatch for {sdist['filename']}")
        target = dl / sdist["filename"]
        target.write_bytes(data)
        return target
    except (OSError, ValueError, KeyError) as exc:
        print(f"PyPI simple index failed for {name}=={ver} ({exc}); trying pip download", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", f"{name}=={ver}", "-d", str(dl)],
        check=True,
        capture_output=True,
    )
    return next(p for p in sorted(dl.iterdir()) if p.name.lower() in wanted)


def fetch_project(project: Project, cache: Path | None = None) -> Path:
    """Download (once) and extract a project; returns its repository root."""
    base = (cache or default_cache_dir()) / "projects"
    dest = base / project.key
    root = (dest / project.root).resolve()
    if root.is_dir():
        return root
    dl = base / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    tmp = base / f".{project.key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    kind, spec = project.source.split(":", 1)
    if kind == "pypi":
        name, ver = spec.split("==")
        archive = _pypi_sdist(name, ver, dl)
        _safe_extract(archive, tmp)
        (top,) = [p for p in tmp.iterdir() if p.is_dir()]
        for child in top.iterdir():
            child.rename(tmp / child.name)
        top.rmdir()
    elif kind == "npm":
        subprocess.run(["npm", "pack", spec, "--pack-destination", str(dl)], check=True, capture_output=True)
        name, ver = spec.rsplit("@", 1)
        archive = dl / f"{name.lstrip('@').replace('/', '-')}-{ver}.tgz"
        _safe_extract(archive, tmp)
    elif kind == "deb":
        subprocess.run(["apt-get", "download", spec], check=True, capture_output=True, cwd=dl)
        deb = sorted(dl.glob(f"{spec}_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
    else:
        raise ValueError(f"unknown source kind: {project.source}")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return root
