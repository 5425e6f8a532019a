"""Configuration: one typed place, TOML files, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_rag.config import ConfigError, RepoConfigWarning, load_config


def test_defaults_are_offline_and_loopback() -> None:
    cfg = load_config(environ={})
    assert cfg.serve.host == "127.0.0.1"
    assert cfg.llm.backend == "none"  # answers from the index; a model is opt-in (docs/answers.md)
    assert cfg.embed.model == ""  # the shipped code-minilm


def test_repo_toml_then_env_override(tmp_path: Path) -> None:
    (tmp_path / ".repo-rag.toml").write_text("[search]\ntop_k = 7\ngraph = true\n[index]\nmax_chunk_lines = 50\n")
    cfg = load_config(tmp_path, environ={"REPO_RAG_EMBED_BATCH_SIZE": "16", "REPO_RAG_SEARCH_GRAPH": "false"})
    assert cfg.embed.batch_size == 16
    assert cfg.search.top_k == 7 and cfg.index.max_chunk_lines == 50  # repository-safe settings apply
    assert cfg.search.graph is False  # the environment wins over the repository file


def test_repo_toml_may_not_set_endpoints_models_or_paths(tmp_path: Path) -> None:
    (tmp_path / ".repo-rag.toml").write_text(
        '[llm]\nbackend = "openai"\n[embed]\nbatch_size = 8\n[index]\nmax_file_bytes = 999999999\n'
        'follow_symlinks = true\ncache_dir = "/tmp/x"\n'
    )
    with pytest.warns(RepoConfigWarning, match="llm, embed, index.max_file_bytes, index.follow_symlinks"):
        cfg = load_config(tmp_path, environ={})
    assert cfg.llm.backend == "none" and cfg.embed.batch_size == 32
    assert cfg.index.max_file_bytes == 1_000_000 and cfg.index.follow_symlinks is False


def test_malformed_repo_toml_is_ignored_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / ".repo-rag.toml").write_text("[search\ntop_k = ")
    with pytest.warns(RepoConfigWarning, match="invalid TOML"):
        cfg = load_config(tmp_path, environ={})
    assert cfg.search.top_k == 10
    (tmp_path / ".repo-rag.toml").write_text("[search]\ntop_k = 'many'\n")
    with pytest.warns(RepoConfigWarning, match="search.top_k"):
        assert load_config(tmp_path, environ={}).search.top_k == 10


def test_unknown_key_and_bad_value_are_reported(tmp_path: Path) -> None:
    (tmp_path / "user.toml").write_text("[embed]\nbatch = 8\n")
    with pytest.raises(ConfigError, match="unknown setting 'batch'"):
        load_config(path=tmp_path / "user.toml", environ={})
    with pytest.raises(ConfigError, match="REPO_RAG_EMBED_BATCH_SIZE"):
        load_config(environ={"REPO_RAG_EMBED_BATCH_SIZE": "many"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(path=tmp_path / "missing.toml", environ={})
