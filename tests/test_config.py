"""Configuration: one typed place, TOML files, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_rag.config import ConfigError, load_config


def test_defaults_are_offline_and_loopback() -> None:
    cfg = load_config(environ={})
    assert cfg.serve.host == "127.0.0.1"
    assert cfg.llm.backend == "local"
    assert cfg.embed.model == ""  # packaged MiniLM


def test_repo_toml_then_env_override(tmp_path: Path) -> None:
    (tmp_path / ".repo-rag.toml").write_text('[embed]\nbatch_size = 8\n[llm]\nbackend = "openai"\n')
    cfg = load_config(tmp_path, environ={"REPO_RAG_EMBED_BATCH_SIZE": "16", "REPO_RAG_SEARCH_GRAPH": "false"})
    assert cfg.embed.batch_size == 16
    assert cfg.llm.backend == "openai"
    assert cfg.search.graph is False


def test_unknown_key_and_bad_value_are_reported(tmp_path: Path) -> None:
    (tmp_path / ".repo-rag.toml").write_text("[embed]\nbatch = 8\n")
    with pytest.raises(ConfigError, match="unknown setting 'batch'"):
        load_config(tmp_path, environ={})
    with pytest.raises(ConfigError, match="REPO_RAG_EMBED_BATCH_SIZE"):
        load_config(environ={"REPO_RAG_EMBED_BATCH_SIZE": "many"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(path=tmp_path / "missing.toml", environ={})
