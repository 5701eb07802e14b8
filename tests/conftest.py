"""Shared fixtures: paths of the shipped corpus and model, and one real index built per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt"
MODEL_DIR = ROOT / "models" / "m3e-small"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return CORPUS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def parsed_issue():
    from zhibu_qa.ingest import read_and_parse

    return read_and_parse(CORPUS)


def _require_model() -> None:
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip(f"m3e-small not found at {MODEL_DIR}: run `make model` (or `zhibu-qa fetch-model`)")


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory):
    """Settings whose index dir holds the shipped issue, ingested and indexed with the real model."""
    _require_model()
    from zhibu_qa.config import load_settings
    from zhibu_qa.pipeline import Pipeline

    index_dir = tmp_path_factory.mktemp("index")
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    settings = load_settings(
        env={}, index_dir=str(index_dir), embedding_model=str(MODEL_DIR), corpus_paths=str(CORPUS),
        user_dict=str(ROOT / "corpus" / "userdict.txt"), feedback_path=str(feedback),
    )
    Pipeline(settings).ensure_ready()
    return settings


@pytest.fixture(scope="session")
def pipeline(built_settings):
    """A loaded pipeline over the session index (model and index loaded once)."""
    from zhibu_qa.pipeline import Pipeline

    return Pipeline(built_settings)
