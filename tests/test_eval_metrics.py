"""Hand-computed cases for the SWE-bench localisation metrics, the function-level gold, the sample
order and archive safety of the eval package."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from repo_rag.eval.corpus import CorpusError, SdistSpec, unpack_archive
from repo_rag.eval.metrics import (
    PatchHunk,
    acc_at_k,
    entity_at,
    entity_ranks,
    gold_entities,
    gold_ranks,
    locate_hunk,
    parse_patch,
    recall_at_k,
    reciprocal_rank,
    summarize,
)
from repo_rag.eval.swebench import Instance, select
from repo_rag.indexers.model import Definition


# -- file level ----------------------------------------------------------------------------------
def test_gold_ranks_count_distinct_files():
    # a.py repeats: c.py is the 3rd distinct file, not the 4th entry
    assert gold_ranks(["a.py", "b.py", "a.py", "c.py"], ["c.py"]) == [3]
    assert gold_ranks(["a.py"], ["z.py"]) == [None]


def test_strict_accuracy_needs_every_gold_file():
    assert acc_at_k([3], 1) == 0.0
    assert acc_at_k([3], 3) == 1.0
    assert acc_at_k([1, 4], 3) == 0.0  # one of two gold files missing from the top 3
    assert acc_at_k([1, 4], 5) == 1.0
    assert acc_at_k([None], 10) == 0.0
    assert acc_at_k([], 10) == 0.0


def test_recall_and_reciprocal_rank():
    assert recall_at_k([1, None], 5) == 0.5
    assert recall_at_k([2, 7], 5) == 0.5
    assert reciprocal_rank([4, 2]) == 0.5  # best-ranked gold file
    assert reciprocal_rank([None]) == 0.0


def test_summarize_means_by_hand():
    # files: ranks 1, 4, missing; functions: [2], no gold entity, [1, 12]
    s = summarize([[1], [4], [None]], [[2], None, [1, 12]])
    assert s.n == 3
    assert s.acc[1] == pytest.approx(1 / 3)
    assert s.acc[3] == pytest.approx(1 / 3)
    assert s.acc[5] == pytest.approx(2 / 3)
    assert s.recall[5] == pytest.approx(2 / 3)
    assert s.mrr == pytest.approx((1 + 0.25 + 0) / 3)
    assert s.func_n == 2  # the instance without gold entity is left out
    assert s.func_acc[1] == 0.0
    assert s.func_acc[5] == pytest.approx(0.5)  # [2] hit, [1, 12] misses its second entity
    assert s.func_acc[10] == pytest.approx(0.5)


def test_summarize_empty():
    assert summarize([], []).n == 0


# -- function level ------------------------------------------------------------------------------
def test_entity_ranks_accept_nested_definitions():
    ranked = [("a.py", "f"), ("a.py", "C.m.inner"), ("a.py", "C.m"), ("b.py", "C.m")]
    assert entity_ranks(ranked, [("a.py", "C.m")]) == [2]  # C.m.inner lies inside C.m
    assert entity_ranks(ranked, [("b.py", "C.m")]) == [4]
    assert entity_ranks(ranked, [("a.py", "C.mx")]) == [None]  # a prefix, not a parent
    assert entity_ranks(ranked, [("a.py", "f"), ("c.py", "g")]) == [1, None]


DEFS = [
    Definition("C", "C", "class", 3, 12),
    Definition("C.m", "m", "method", 6, 10),
    Definition("C.m.inner", "inner", "function", 7, 8),
    Definition("f", "f", "function", 14, 16),
]


def test_entity_at_prefers_outermost_function_then_class():
    assert entity_at(8, DEFS) == "C.m"  # nested helper belongs to its method
    assert entity_at(4, DEFS) == "C"  # class attribute
    assert entity_at(15, DEFS) == "f"
    assert entity_at(1, DEFS) is None  # module level


BASE = """import os


def helper(x):
    return x + 1


class Box:
    size = 3

    def grow(self, n):
        total = self.size
        total += n
        return total
"""

# The sdist's copy has two extra lines at the top: every span moves by +2.
SDIST = "# sdist header\n# another line\n" + BASE

PATCH = "\n".join([
    "diff --git a/pkg/box.py b/pkg/box.py",
    "--- a/pkg/box.py",
    "+++ b/pkg/box.py",
    "@@ -10,5 +10,5 @@ class Box:",
    " ",
    "     def grow(self, n):",
    "         total = self.size",
    "-        total += n",
    "+        total += 2 * n",
    "         return total",
    "",
])


def _defs_of(text: str) -> list[Definition]:
    from repo_rag.indexers.parse import parse_source

    return parse_source("pkg/box.py", text, "python").definitions


def test_parse_patch_old_side():
    (hunk,) = parse_patch(PATCH)
    assert (hunk.path, hunk.old_start, hunk.old_count) == ("pkg/box.py", 10, 5)
    assert hunk.old_lines == ["", "    def grow(self, n):", "        total = self.size", "        total += n",
                              "        return total"]


def test_locate_hunk_finds_offset():
    (hunk,) = parse_patch(PATCH)
    assert locate_hunk(SDIST.split("\n"), hunk) == (2, "exact")
    assert locate_hunk(BASE.split("\n"), hunk) == (0, "exact")
    # context lines changed in the sdist: found after trimming one line from each end
    changed = SDIST.replace("return total", "return int(total)").replace("\n\n    def grow", "\n    def grow")
    assert locate_hunk(changed.split("\n"), hunk) == (1, "trimmed")
    assert locate_hunk(["nothing", "here"], PatchHunk("x", 1, 1, ["        total += n"])) is None


def test_gold_entities_map_edit_to_method_at_sdist_lines():
    defs = _defs_of(SDIST)
    hunks = [{"file": "pkg/box.py", "edited_old_span": [13, 13], "header_context": "class Box:"}]
    g = gold_entities(SDIST, defs, hunks, parse_patch(PATCH))
    assert g.entities == ["Box.grow"]
    assert g.placement == ["exact"]


def test_gold_entities_fall_back_to_header_when_code_moved():
    rewritten = SDIST.replace("total += n", "total = total + n")  # the hunk's old lines are gone
    defs = _defs_of(rewritten)
    hunks = [{"file": "pkg/box.py", "edited_old_span": [13, 13], "header_context": "def grow(self, n):"}]
    g = gold_entities(rewritten, defs, hunks, parse_patch(PATCH.replace("-        total += n\n", "-        x = 1\n")))
    assert g.entities == ["Box.grow"]
    assert g.placement == ["header"]


def test_gold_entities_module_level_edit_has_no_entity():
    patch = "\n".join(["--- a/pkg/box.py", "+++ b/pkg/box.py", "@@ -1,3 +1,4 @@", " import os", "+import sys", " ", ""])
    hunks = [{"file": "pkg/box.py", "edited_old_span": [1, 1], "header_context": ""}]
    g = gold_entities(BASE, _defs_of(BASE), hunks, parse_patch(patch))
    assert g.entities == []
    assert g.complete


def test_gold_entities_method_added_to_class_gives_the_class():
    # a new method after `grow`: it does not exist in the sdist, so the class is the entity
    patch = "\n".join([
        "--- a/pkg/box.py", "+++ b/pkg/box.py", "@@ -13,2 +13,5 @@ def grow(self, n):",
        "         total += n", "         return total", "+", "+    def shrink(self):", "+        return 0", "",
    ])
    hunks = [{"file": "pkg/box.py", "edited_old_span": [14, 14], "header_context": "def grow(self, n):"}]
    g = gold_entities(SDIST, _defs_of(SDIST), hunks, parse_patch(patch))
    assert g.entities == ["Box"]
    # the same code added at top level belongs to no definition
    top = patch.replace("+    def shrink(self):", "+def shrink():").replace("+        return 0", "+    return 0")
    assert gold_entities(SDIST, _defs_of(SDIST), hunks, parse_patch(top)).entities == []
    # a line added inside the method belongs to the method
    inner = "\n".join([
        "--- a/pkg/box.py", "+++ b/pkg/box.py", "@@ -12,2 +12,3 @@ def grow(self, n):",
        "         total = self.size", "+        total = max(total, 0)", "         total += n", "",
    ])
    hunks = [{"file": "pkg/box.py", "edited_old_span": [12, 12], "header_context": "def grow(self, n):"}]
    assert gold_entities(SDIST, _defs_of(SDIST), hunks, parse_patch(inner)).entities == ["Box.grow"]


def test_gold_entities_header_by_name_and_unplaced():
    renamed = SDIST.replace("total += n", "total = total + n").replace("def grow(self, n):", "def grow(self, n, k=1):")
    patch = PATCH.replace("-        total += n\n", "-        x = 1\n")
    hunks = [{"file": "pkg/box.py", "edited_old_span": [13, 13], "header_context": "def grow(self, n):"}]
    g = gold_entities(renamed, _defs_of(renamed), hunks, parse_patch(patch))
    assert (g.entities, g.placement) == (["Box.grow"], ["header"])  # matched by name: the signature changed
    hunks = [{"file": "pkg/box.py", "edited_old_span": [13, 13], "header_context": "def vanished(self):"}]
    g = gold_entities(renamed, _defs_of(renamed), hunks, parse_patch(patch))
    assert (g.entities, g.placement, g.complete) == ([], ["unplaced"], False)


# -- sample order --------------------------------------------------------------------------------
def _inst(iid: str, project: str, version: str) -> Instance:
    spec = SdistSpec(project, version, f"{project}-{version}.tar.gz", "0" * 64)
    return Instance(iid, f"{project.lower()}/{project.lower()}", spec, "q", "", ["a.py"], [], False, "exact")


def test_select_keeps_the_largest_sdists_and_runs_them_by_project_and_release():
    data = [
        _inst("1", "sympy", "1.0"), _inst("2", "Django", "4.0"), _inst("3", "Django", "4.0"),
        _inst("4", "flask", "2.0"), _inst("5", "astropy", "5.0"), _inst("6", "Django", "3.10"),
        _inst("7", "Django", "3.9"), _inst("8", "Django", "3.9"),
    ]
    assert [s.filename for s, _ in select(data, sample=None)] == [
        "astropy-5.0.tar.gz", "Django-3.9.tar.gz", "Django-3.10.tar.gz", "Django-4.0.tar.gz",
        "flask-2.0.tar.gz", "sympy-1.0.tar.gz",
    ]
    assert [s.filename for s, _ in select(data, sample=2)] == ["Django-3.9.tar.gz", "Django-4.0.tar.gz"]
    assert [s.filename for s, _ in select(data, sample=None, projects=["django", "FLASK"])] == [
        "Django-3.9.tar.gz", "Django-3.10.tar.gz", "Django-4.0.tar.gz", "flask-2.0.tar.gz"
    ]
    assert [[i.instance_id for i in g] for _, g in select(data, sample=None, instance_ids=["3"])] == [["3"]]


# -- archives ------------------------------------------------------------------------------------
def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_unpack_strips_top_folder(tmp_path):
    archive = _tar(tmp_path / "pkg-1.0.tar.gz", {"pkg-1.0/setup.py": b"x", "pkg-1.0/pkg/mod.py": b"y"})
    unpack_archive(archive, tmp_path / "src")
    assert (tmp_path / "src" / "pkg" / "mod.py").read_bytes() == b"y"
    assert (tmp_path / "src" / "setup.py").is_file()


@pytest.mark.parametrize("name", ["pkg-1.0/../../evil.py", "/etc/evil.py"])
def test_unpack_refuses_path_traversal(tmp_path, name):
    archive = _tar(tmp_path / "bad.tar.gz", {"pkg-1.0/ok.py": b"x", name: b"evil"})
    with pytest.raises(CorpusError):
        unpack_archive(archive, tmp_path / "src")
    assert not (tmp_path / "src").exists()
    assert not (tmp_path / "evil.py").exists()


def test_unpack_zip_refuses_traversal(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg-1.0/ok.py", "x")
        zf.writestr("pkg-1.0/../../evil.py", "evil")
    with pytest.raises(CorpusError):
        unpack_archive(path, tmp_path / "src")
    assert not (tmp_path / "src").exists()
