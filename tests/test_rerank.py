"""The pluggable cross-encoder reranker: loaded from a local folder, reorders the head, explains itself.

No code cross-encoder ships offline, so the test builds a real CrossEncoder folder from the packaged
MiniLM encoder (its scoring head is freshly initialised) and checks the plumbing, not the quality.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from repo_rag.config import load_config
from repo_rag.embed import packaged_model_path
from repo_rag.repository import Repository
from repo_rag.rerank import CrossEncoderReranker, RerankerError


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sentence_transformers import CrossEncoder

    out = tmp_path_factory.mktemp("ce") / "model"
    CrossEncoder(packaged_model_path(), num_labels=1, device="cpu").save(str(out))
    return out


def test_missing_reranker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RerankerError, match="does not exist"):
        CrossEncoderReranker(str(tmp_path / "nope"))


def test_reranker_reorders_head_by_its_scores(polyglot_repo: Repository, cross_encoder_dir: Path) -> None:
    cfg = replace(polyglot_repo.config, search=replace(polyglot_repo.config.search, reranker=str(cross_encoder_dir)))
    repo = Repository(polyglot_repo.root, cfg, polyglot_repo.index_dir)
    result = repo.search("where is password validation", k=5)
    assert "rerank_ms" in result.timings
    reranked = [h for h in result.hits if any(r.startswith("rerank ") for r in h.reasons)]
    assert len(reranked) == len(result.hits)
    ce_scores = [float(next(r for r in h.reasons if r.startswith("rerank ")).split()[1]) for h in result.hits]
    assert ce_scores == sorted(ce_scores, reverse=True)  # hits follow the cross-encoder's order
    assert load_config(polyglot_repo.root).search.reranker == ""  # off by default
