"""Mined (docstring sentence -> symbol) pairs: queries, drops, masking that keeps every line, the build cache."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from repo_rag.eval import mined
from repo_rag.eval.projects import Project

from repo_rag.parsing import language_for_path, parse_source

GEOMETRY = '''"""Shapes."""


class Polygon:
    """A closed shape made of straight edges between corner points.

    More text that is not part of the query.
    """

    def __init__(self):
        """Constructor."""

    def area(self):
        """Compute the enclosed surface using the shoelace formula."""
        return 0

    def perimeter(self):
        """Return the perimeter of the shape, edge lengths summed."""
        return 1


def scale(points, factor):
    r"""Multiply every coordinate by a `constant` ratio. Then more.

    :param points: the corners
    """
    return points


def shift(points):
    """Move all corners by the same offset vector."""
    return points
'''

PATHS_JS = """/**
 * Normalise the path before it is stored in the cache.
 * @param {string} p
 */
function cleanA(p) { return p; }

/**
 * Normalise the path before it is stored in the cache.
 */
function cleanB(p) { return p; }

/**
 * Join two url segments with exactly one slash between them.
 * See {@link cleanA} for the rules.
 * @param {string} a the first segment
 */
export function joinSegments(a, b) {
  return a + "/" + b;
}
"""

SERVER_GO = """package srv

// Server answers requests on one listening socket until it is closed.
type Server struct {
\taddr string
}

// Listen binds the address and starts accepting connections in the background.
// It returns at once.
func (s *Server) Listen() error {
\treturn nil
}

// helper does things.
func helper() {}
"""

TEST_PY = '''def check_area():
    """Make sure the enclosed surface is computed right for squares."""
'''

README = "# Shapes\n\n`shift`: move all corners by the same offset vector.\n"  # a copy of a doc, also indexed

EXPECTED = {
    ("pkg/geometry.py", "Polygon"): "A closed shape made of straight edges between corner points.",
    ("pkg/geometry.py", "Polygon.area"): "Compute the enclosed surface using the shoelace formula.",
    ("pkg/geometry.py", "scale"): "Multiply every coordinate by a constant ratio.",
    ("web/paths.js", "joinSegments"): "Join two url segments with exactly one slash between them.",
    ("srv/server.go", "Server"): "Answers requests on one listening socket until it is closed.",
    ("srv/server.go", "Server.Listen"): "Binds the address and starts accepting connections in the background.",
}
HIDDEN = ("shoelace", "straight edges", "More text", "constant", "exactly one slash", "{@link", "listening socket",
          "accepting connections", "It returns at once")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel, text in {"pkg/geometry.py": GEOMETRY, "web/paths.js": PATHS_JS, "srv/server.go": SERVER_GO,
                      "tests/test_geometry.py": TEST_PY, "README.md": README}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "link.py").symlink_to(root / "pkg" / "geometry.py")
    return root


def _masked_copy(repo: Path, tmp_path: Path, per_project: int = 300) -> tuple[list, Path]:
    pairs, masked, _counts = mined.mine_tree(repo, per_project)
    dest = tmp_path / "masked"
    mined.copy_masked(repo, dest, masked)
    return pairs, dest


def test_queries_and_golds(repo: Path) -> None:
    pairs, _masked, counts = mined.mine_tree(repo)
    assert {(p.path, p.qualname): p.query for p in pairs} == EXPECTED
    lines = {(p.path, p.qualname): (p.start_line, p.end_line) for p in pairs}
    assert lines[("pkg/geometry.py", "Polygon.area")] == (13, 15)
    assert lines[("srv/server.go", "Server.Listen")] == (8, 12)  # the doc comment is part of the span
    assert counts["duplicates_dropped"] == 2 and counts["mask_failed"] == 0 and counts["still_in_tree"] == 1


def test_self_naming_generic_duplicate_and_test_files_are_dropped(repo: Path) -> None:
    qualnames = {p.qualname for p in mined.mine_tree(repo)[0]}
    assert "Polygon.perimeter" not in qualnames  # names itself
    assert "Polygon.__init__" not in qualnames  # 'Constructor.'
    assert not qualnames & {"cleanA", "cleanB"}  # the same query for two symbols: both dropped
    assert "helper" not in qualnames  # 'Does things.': under 4 words
    assert "check_area" not in qualnames  # a test file
    assert "shift" not in qualnames  # its sentence is still written in the masked tree


def test_masking_keeps_lines_and_definitions_and_hides_the_docs(repo: Path, tmp_path: Path) -> None:
    pairs, dest = _masked_copy(repo, tmp_path)
    assert not (dest / "link.py").exists()
    golds = {(p.path, p.qualname) for p in pairs}
    for rel in ("pkg/geometry.py", "web/paths.js", "srv/server.go"):
        before, after = (repo / rel).read_text(), (dest / rel).read_text()
        assert before != after and before.count("\n") == after.count("\n")
        lang = language_for_path(rel)
        old, new = parse_source(rel, before, lang), parse_source(rel, after, lang)
        shape = [[(d.qualname, d.kind, d.start_line, d.end_line) for d in p.definitions] for p in (old, new)]
        assert shape[0] == shape[1]
        for chunk in new.chunks:
            if (rel, chunk.qualname) in golds:
                assert chunk.docstring == ""
        for phrase in HIDDEN:
            assert phrase not in after
    ast.parse((dest / "pkg/geometry.py").read_text())
    assert "Normalise the path" in (dest / "web/paths.js").read_text()  # dropped pairs keep their docs
    assert (dest / "tests/test_geometry.py").read_text() == TEST_PY


def test_sampling_is_deterministic_and_masks_only_the_sample(repo: Path, tmp_path: Path) -> None:
    everything = mined.mine_tree(repo)[0]
    pairs, dest = _masked_copy(repo, tmp_path, per_project=2)
    assert pairs == everything[:2]
    for p in everything:
        words = " ".join(p.query.lower().split()[1:4])
        assert (words in (dest / p.path).read_text().lower()) == (p not in pairs), p  # only the sample is masked


@pytest.mark.parametrize(("doc", "query"), [
    ("Foo returns a ``bar`` from :class:`~a.b.Baz` and {@link Qux|the qux}. More.",
     "Returns a bar from Baz and the qux."),
    ("Creates a {Timestamp} for +el+ values.\n@!visibility private", "Creates a Timestamp for el values."),
    ("Reconfigure this instance by: 1. Resetting all transports. 2. More", "Reconfigure this instance by"),
    ("See [the docs](https://example.org) e.g. here. Next one.", "See the docs e.g. here."),
    ("@param x the value\nDoes things with values.", ""),
])
def test_query_of(doc: str, query: str) -> None:
    assert mined.query_of(doc, "Foo", "Foo") == query


def test_build_is_cached_and_gathered(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, fetched = tmp_path / "cache", []
    monkeypatch.setattr(mined, "fetch_project", lambda project, cache: fetched.append(project) or repo)
    project = Project("tinyrepo", "1.0", "pypi:tinyrepo==1.0", ".")
    meta = mined.build_project(project, 300, cache)
    assert meta["pairs"] == len(EXPECTED) and meta["split"] in ("train", "validation")
    assert mined.build_project(project, 300, cache) == meta and len(fetched) == 1  # built once
    mined.gather(cache, [project])
    pairs = mined.load_pairs(cache / "bench" / "mined" / "pairs.jsonl")
    assert {(p.gold_path, p.gold_qualname) for p in pairs} == set(EXPECTED)
    assert {p.language for p in pairs} == {"python", "javascript", "go"}
    root = mined.masked_roots(cache / "bench" / "mined" / "pairs.jsonl")["tinyrepo"]
    assert "shoelace" not in (root / "pkg/geometry.py").read_text()
    summary = json.loads((cache / "bench" / "mined" / "summary.json").read_text())
    assert summary["projects"][0]["project"] == "tinyrepo"


def test_build_each_reports_a_failure_and_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> dict:
        raise OSError("no network")

    jobs = [(Project("a", "1", "pypi:a==1", "."), boom), (Project("b", "2", "pypi:b==2", "."), lambda: {"pairs": 3})]
    failed = mined.build_each(jobs, lambda p, meta: f"{p.name}: {meta['pairs']} pairs")
    out = capsys.readouterr().out
    assert failed == ["a"]
    assert "FAILED a: OSError: no network" in out and "b: 3 pairs" in out
