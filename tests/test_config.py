"""Settings: defaults < file < ZHIBU_* environment < overrides; unknown names are errors."""

from __future__ import annotations

import pytest

from zhibu_qa.config import load_settings
from zhibu_qa.errors import ConfigError


def test_defaults():
    s = load_settings(env={})
    assert (s.host, s.port, s.retrieval_mode, s.backend) == ("127.0.0.1", 7860, "hybrid", "extractive")


def test_file_then_env_then_overrides(tmp_path):
    f = tmp_path / "zhibu_qa.toml"
    f.write_text('top_k = 7\nport = 9000\nretrieval_mode = "bm25"\n', encoding="utf-8")
    s = load_settings(f, env={"ZHIBU_PORT": "9100"}, top_k=3)
    assert (s.top_k, s.port, s.retrieval_mode) == (3, 9100, "bm25")


def test_unknown_setting_names_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting 'topk'.*top_k"):
        load_settings(env={"ZHIBU_TOPK": "3"})
    f = tmp_path / "c.toml"
    f.write_text("colour = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="colour"):
        load_settings(f, env={})


def test_bad_values_and_choices():
    with pytest.raises(ConfigError, match="top_k"):
        load_settings(env={"ZHIBU_TOP_K": "many"})
    with pytest.raises(ConfigError, match="hybrid, dense, bm25"):
        load_settings(env={"ZHIBU_RETRIEVAL_MODE": "magic"})


def test_secrets_only_from_environment(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('llm_api_key = "sk-123"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="secret"):
        load_settings(f, env={})
    s = load_settings(env={"ZHIBU_LLM_API_KEY": "sk-123"})
    assert s.llm_api_key == "sk-123" and s.redacted()["llm_api_key"] == "***"


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})
