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


@pytest.mark.parametrize(("name", "raw", "words"), [
    ("PORT", "99999", "port=99999 is out of range; valid: 1..65535"),
    ("PORT", "0", "out of range"),
    ("PORT", "80.5", "whole number"),
    ("CHUNK_SIZE", "0", "chunk_size=0 is out of range"),
    ("CHUNK_SIZE", "8", "out of range"),
    ("EMBEDDING_QUANTIZE", "maybe", "embedding_quantize='maybe' is invalid"),
    ("DENSE_WEIGHT", "nan", "finite"),
    ("BM25_WEIGHT", "inf", "finite"),
    ("BM25_WEIGHT", "-1", "out of range"),
    ("MAX_QUESTION_CHARS", "-1", "out of range"),
    ("TOP_K", "0", "out of range"),
    ("TOP_K", "21", "valid: 1..20"),
    ("TOP_K", "2.5", "whole number"),
    ("LLM_TIMEOUT", "0", "out of range"),
    ("REFUSE_THRESHOLD", "1.5", "out of range"),
    ("LOCK_TIMEOUT", "-3", "out of range"),
    ("HOST", " ", "must not be empty"),
])
def test_values_are_checked_by_type_and_range(name, raw, words):
    with pytest.raises(ConfigError, match="setting") as info:
        load_settings(env={f"ZHIBU_{name}": raw})
    assert words in str(info.value)


@pytest.mark.parametrize(("raw", "value"), [("on", True), ("OFF", False), ("1", True), ("no", False)])
def test_booleans_accept_the_usual_words(raw, value):
    assert load_settings(env={"ZHIBU_EMBEDDING_QUANTIZE": raw}).embedding_quantize is value


def test_toml_values_are_checked_too(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("top_k = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="whole number"):
        load_settings(f, env={})
    f.write_text("dense_weight = nan\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="finite"):
        load_settings(f, env={})
    f.write_text("top_k = 7.0\nport = 8000\n", encoding="utf-8")
    assert load_settings(f, env={}).top_k == 7


def test_cross_field_rules_and_replace_are_validated():
    with pytest.raises(ConfigError, match="chunk_overlap"):
        load_settings(env={"ZHIBU_CHUNK_SIZE": "64", "ZHIBU_CHUNK_OVERLAP": "64"})
    with pytest.raises(ConfigError, match="both 0"):
        load_settings(env={"ZHIBU_DENSE_WEIGHT": "0", "ZHIBU_BM25_WEIGHT": "0"})
    with pytest.raises(ConfigError, match="port=70000"):
        load_settings(env={}).replace(port=70000)


def test_every_numeric_setting_has_a_range():
    from zhibu_qa.config import RANGES, Settings, setting_names

    numeric = {n for n in setting_names() if type(getattr(Settings(), n)) in (int, float)}
    assert numeric == set(RANGES)
