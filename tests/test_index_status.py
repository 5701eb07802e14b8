"""`zhibu-qa index --status`: the index names its vector backend, model, vector count and version, and
goes stale when the embedding model (or backend, which is part of the model id) changes."""

from __future__ import annotations

import json

from conftest import CORPUS, ROOT
from test_cli import run

from zhibu_qa.config import load_settings
from zhibu_qa.indexing.embedders import HashingEmbedder
from zhibu_qa.pipeline import Pipeline


def settings_for(tmp_path, **kw):
    return load_settings(env={}, index_dir=str(tmp_path / "index"), corpus_paths=str(CORPUS),
                         user_dict=str(ROOT / "corpus" / "userdict.txt"), **kw)


def test_a_changed_embedder_marks_the_index_stale(tmp_path):
    settings = settings_for(tmp_path)
    assert Pipeline(settings, embedder=HashingEmbedder(64)).ensure_ready() == "ok"
    status = Pipeline(settings, embedder=HashingEmbedder(32)).index_status()
    assert status.startswith("stale:") and "hashing-32" in status


def test_the_summary_names_backend_model_count_and_version(tmp_path):
    pipe = Pipeline(settings_for(tmp_path, vector_index="hnsw"), embedder=HashingEmbedder(64))
    assert pipe.index_summary() == "no index built"
    pipe.ensure_ready()
    manifest = json.loads((tmp_path / "index" / "store" / "manifest.json").read_text(encoding="utf-8"))
    assert pipe.index_summary() == (f"backend=hnsw model=hashing-64 vectors={manifest['n_chunks']} dim=64 "
                                    f"version={manifest['built_at']}")


def test_index_status_on_the_command_line_prints_both_lines(tmp_path):
    env = {"ZHIBU_INDEX_DIR": str(tmp_path / "index"), "ZHIBU_EMBEDDING_MODEL": "hashing:48"}
    assert run("ingest", str(CORPUS), env=env).returncode == 0
    assert run("index", "--quiet", env=env).returncode == 0
    out = run("index", "--status", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "ok" and lines[1].startswith("backend=flat model=hashing-48 vectors=")
