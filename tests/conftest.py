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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ui_server(built_settings, pipeline, tmp_path_factory):
    """The real Gradio app served on 127.0.0.1 (one server per session, shared by UI and browser tests).

    Yields a namespace with url, settings, pipeline and work_dir.
    """
    pytest.importorskip("gradio")
    from types import SimpleNamespace

    from zhibu_qa.app.ui import create_app, launch

    settings = built_settings.replace(host="127.0.0.1", port=free_port())
    work_dir = tmp_path_factory.mktemp("ui-work")
    app = create_app(settings, pipeline=pipeline, work_dir=work_dir, log=lambda s: None)
    assert app.startup.wait(600), "the UI startup thread did not finish"
    assert app.startup.ready, f"UI startup failed: {app.startup.error}"
    server = launch(app.demo, settings, app.work_dir, pipeline=app.pipeline, startup=app.startup,
                    answers=app.answers, block=False)
    yield SimpleNamespace(url=server.url, settings=settings, pipeline=app.pipeline, work_dir=app.work_dir,
                          startup=app.startup, answers=app.answers)
    server.close()
