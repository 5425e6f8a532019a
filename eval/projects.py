"""Real projects used for the index/search benchmarks, fetched from package registries at run time.

Never committed: sources are downloaded into the user cache (PyPI sdist, npm tarball, Debian
source-carrying package) and extracted there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
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
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", spec, "-d", str(dl)],
            check=True,
            capture_output=True,
        )
        name, ver = spec.split("==")
        # pip saves sdists under the project's normalised, often lower-case name (Jinja2 -> jinja2)
        wanted = {f"{n}-{ver}.tar.gz".lower() for n in (name, name.replace("-", "_"), name.replace("_", "-"))}
        archive = next(p for p in sorted(dl.iterdir()) if p.name.lower() in wanted)
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
