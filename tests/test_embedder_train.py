"""The code embedder's data, recipe helpers, evaluation ranks and model resolution (no training here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from repo_rag.eval import embed_data, embedder_eval, train_embedder
from repo_rag.eval.retrieval_data import EvalQuery

from repo_rag import embed
from repo_rag.config import EmbedConfig
from repo_rag.embed import CODE_MODEL_DIR, MINILM, EmbeddingModelError, resolve_model

SOURCE = '''"""Ledger."""


def settle(accounts, day):
    """Move every pending transfer of the day into the booked balance of each account.

    :param accounts: the accounts
    """
    for a in accounts:
        a.booked += a.pending
    return accounts


class Vault:
    """A locked store of coins that only opens with the keeper's secret word."""

    def open(self, word):
        """Check the spoken word against the keeper's secret and unlock the door when they match."""
        return word == self.secret
'''


def test_permissive_licences_only():
    assert embed_data.is_permissive("MIT; MIT License")
    assert embed_data.is_permissive("Apache-2.0 or MIT; Apache-2.0; MIT")
    assert embed_data.is_permissive("Expat; Expat and BSD-3-clause")
    assert not embed_data.is_permissive("GPL-2+; Expat")  # the package's own (first) licence decides
    assert not embed_data.is_permissive("LGPL-2.1+; Expat")
    assert not embed_data.is_permissive("Ruby or GPL-2+ or Artistic")
    assert not embed_data.is_permissive("")


def test_user_form_is_fixed_by_the_key_and_keeps_the_sentence():
    query = "Returns the booked balance of an account."
    forms = {embed_data.user_form(query, f"k{i}") for i in range(64)}
    assert query in forms  # half stay as written
    asked = forms - {query}
    assert asked == {"where is the code that returns the booked balance of an account?",
                     "which function returns the booked balance of an account?"}
    assert embed_data.user_form(query, "k1") == embed_data.user_form(query, "k1")
    # a sentence that does not open with a verb is never rewritten
    plain = "A locked store of coins."
    assert {embed_data.user_form(plain, f"k{i}") for i in range(64)} == {plain}


def test_train_projects_only():
    for p in embed_data.EMBED_PROJECTS:
        assert embed_data.split_of(p.name) == "train", p.name
    with pytest.raises(ValueError, match="not a train project"):
        embed_data.build_project(embed_data.Project("requests", "2.32.3", "pypi:requests==2.32.3", "."), 10,
                                 Path("/nonexistent"), 600)


def test_positive_is_the_masked_chunk_as_the_index_embeds_it(tmp_path: Path):
    (tmp_path / "ledger.py").write_text(SOURCE, encoding="utf-8")
    pairs, masked, _ = embed_data.mine_tree(tmp_path, 100, keep_copied=True)
    got = {p.qualname: text for p, text in embed_data.positives(masked, pairs, 600)}
    assert set(got) == {"settle", "Vault", "Vault.open"}
    for qualname, text in got.items():
        pair = next(p for p in pairs if p.qualname == qualname)
        assert pair.query.rstrip(".") not in text  # the sentence that became the query is blanked
        assert text.startswith(f"ledger.py\n{qualname}")  # path, name, signature first, like the index
    assert "a.booked += a.pending" in got["settle"]


def test_select_caps_projects_and_holds_back_pairs():
    rows = [{"project": p, "query": f"q{p}{i}", "positive": f"c{p}{i}"} for p in "ab" for i in range(200)]
    rows += [{"project": "tiny", "query": f"t{i}", "positive": f"t{i}"} for i in range(5)]
    chosen, held = train_embedder.select(rows, per_project=100, max_pairs=150, held_back=2)
    assert set(chosen) == {"a", "b"}  # too small for one batch: dropped
    assert all(len(v) == 75 for v in chosen.values())  # shrunk by the same ratio to fit max_pairs
    assert len(held) == 2
    used = {r["query"] for v in chosen.values() for r in v}
    assert not used & {r["query"] for r in held}


def test_ranks_count_distinct_files_and_definitions():
    meta = [("a.py", "f", "function"), ("a.py", "g", "function"), ("b.py", "<module>", "module"),
            ("b.py", "K.m", "method"), ("c.py", "h", "function")]
    q = EvalQuery("mined", "p", "1", "python", "docstring", "x", ("b.py",), ("K",))
    sims = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    assert embedder_eval.ranks(sims, meta, q) == (2, 3)  # b.py is the 2nd file; K.m the 3rd definition
    q2 = EvalQuery("mined", "p", "1", "python", "docstring", "x", ("z.py",), ("Z",))
    assert embedder_eval.ranks(sims, meta, q2) == (None, None)
    rows = [{"file": 1, "symbol": 2}, {"file": None, "symbol": None}]
    s = embedder_eval.summarise(rows)
    assert (s["file_hit@1"], s["file_mrr@10"], s["symbol_mrr@10"]) == (0.5, 0.5, 0.25)


def test_model_names_resolve_to_the_shipped_models(tmp_path: Path):
    assert resolve_model("minilm") == (MINILM, embed.packaged_model_path())
    assert resolve_model("packaged")[0] == MINILM
    if (CODE_MODEL_DIR / "train.json").is_file():
        stem, path = resolve_model("")
        assert stem.startswith("code-minilm-") and path == str(CODE_MODEL_DIR)
        assert resolve_model("code") == (stem, path)
    with pytest.raises(EmbeddingModelError, match="does not exist"):
        resolve_model(str(tmp_path / "missing" / "model"))
    custom = tmp_path / "mine"
    custom.mkdir()
    assert resolve_model(str(custom)) == (str(custom), str(custom))


@pytest.mark.skipif(not (CODE_MODEL_DIR / "train.json").is_file(), reason="no shipped code model in this checkout")
def test_shipped_code_model_embeds_with_its_own_graph(tmp_path: Path):
    meta = json.loads((CODE_MODEL_DIR / "train.json").read_text())
    code = embed.Embedder(EmbedConfig(), tmp_path)
    assert code.model_id == f"code-minilm-{meta['onnx_sha256'][:12]}@128+onnx-int8"
    assert not (tmp_path / "onnx").exists()  # the shipped graph is used as is, nothing exported
    minilm = embed.Embedder(EmbedConfig(model="minilm"), tmp_path)
    texts = ["def settle(accounts):\n    for a in accounts: a.booked += a.pending", "move pending transfers"]
    a, b = code._encode(texts), minilm._encode(texts)
    assert a.shape == b.shape == (2, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-4)
    assert float((a * b).sum(1).min()) < 0.99  # a different model, not a copy of MiniLM
    with pytest.raises(EmbeddingModelError, match="int8 ONNX graph only"):
        embed.Embedder(EmbedConfig(backend="torch"), tmp_path)._encode(["x"])
