"""Index damage is detected: per-file sha256 and the model fingerprint in the manifest, checked at load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import MODEL_DIR, ROOT

from zhibu_qa.config import load_settings
from zhibu_qa.indexing.embedders import HashingEmbedder
from zhibu_qa.pipeline import Pipeline

CORPUS_DOC = ROOT / "tests" / "fixtures" / "branch-guide.md"


class CountingEmbedder(HashingEmbedder):
    def __init__(self, dim=64):
        super().__init__(dim)
        self.embedded = 0

    def _encode(self, texts, *, show_progress):
        self.embedded += len(texts)
        return super()._encode(texts, show_progress=show_progress)


@pytest.fixture
def built(tmp_path):
    settings = load_settings(env={}, index_dir=str(tmp_path / "index"), user_dict=str(tmp_path / "none.txt"),
                             corpus_paths=str(CORPUS_DOC))
    pipe = Pipeline(settings, embedder=CountingEmbedder())
    assert pipe.ensure_ready() == "ok"
    return settings, tmp_path / "index" / "store"


def fresh(settings, dim=64):
    return Pipeline(settings, embedder=CountingEmbedder(dim))


def test_manifest_records_the_sha256_of_every_store_file(built):
    _, store = built
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    files = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["files"]) == files and {"vectors.npy", "chunks.jsonl", "userdict.txt"} <= files
    assert any(f.startswith("bm25/") for f in files)


def test_noise_of_the_same_shape_in_the_vectors_is_detected(built):
    settings, store = built
    vectors = np.load(store / "vectors.npy")
    noise = np.random.default_rng(0).standard_normal(vectors.shape).astype(np.float32)
    np.save(store / "vectors.npy", noise / np.linalg.norm(noise, axis=1, keepdims=True))
    pipe = fresh(settings)
    assert pipe.index_status() == "damaged: vectors.npy fails its sha256 check"
    from zhibu_qa.errors import IndexDamagedError

    with pytest.raises(IndexDamagedError, match="vectors.npy fails its sha256 check.*zhibu-qa index"):
        pipe.index  # noqa: B018 - loading is the check
    stats = pipe.build_index()
    assert stats.n_embedded == stats.n_chunks  # damaged vectors are never reused
    assert fresh(settings).index_status() == "ok"


def test_zero_byte_vectors_give_a_status_and_a_one_line_cli_error(built):
    settings, store = built
    (store / "vectors.npy").write_bytes(b"")
    assert fresh(settings).index_status() == "damaged: vectors.npy is empty"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env.update(PYTHONPATH=str(ROOT / "src"), ZHIBU_EMBEDDING_MODEL="hashing:64", ZHIBU_USER_DICT=settings.user_dict)
    r = subprocess.run([sys.executable, "-m", "zhibu_qa.cli", "--index-dir", settings.index_dir, "search", "党员"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "vectors.npy is empty" in r.stderr and "Traceback" not in r.stderr


def test_deleted_bm25_files_are_rebuilt_without_re_embedding(built):
    settings, store = built
    shutil.rmtree(store / "bm25")
    pipe = fresh(settings)
    status = pipe.index_status()
    assert status.startswith("damaged: bm25/") and "is missing" in status
    stats = pipe.build_index()
    assert stats.n_embedded == 0 and stats.n_reused == stats.n_chunks
    assert pipe.embedder.embedded == 0
    assert fresh(settings).index_status() == "ok" and len(fresh(settings).index) == stats.n_chunks


def test_a_model_of_another_dimension_is_stale_not_ok(built):
    settings, _ = built
    status = fresh(settings, dim=32).index_status()
    assert status.startswith("stale: built with embedding model hashing-64")


def test_a_tampered_manifest_or_chunks_file_is_damaged(built):
    settings, store = built
    with open(store / "chunks.jsonl", "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert fresh(settings).index_status() == "damaged: chunks.jsonl fails its sha256 check"
    (store / "manifest.json").write_text("{", encoding="utf-8")
    assert fresh(settings).index_status().startswith("damaged: index manifest")


def _fake_model(path, weights: bytes):
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"hidden_size": 8}')
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_model_fingerprint_follows_the_files_not_the_folder_name(tmp_path):
    from zhibu_qa.indexing.embedders import local_model_id
    from zhibu_qa.indexing.models import model_dim, model_fingerprint

    a = _fake_model(tmp_path / "a" / "m3e-small", b"\x01" * 64)
    b = _fake_model(tmp_path / "b" / "m3e-small", b"\x02" * 64)  # same name, same size, other weights
    c = _fake_model(tmp_path / "c" / "renamed", b"\x01" * 64)
    assert local_model_id(a) == local_model_id(b)  # why the folder-based id alone is not enough
    assert model_fingerprint(a) != model_fingerprint(b)
    assert model_fingerprint(a) == model_fingerprint(c)
    assert model_dim(a) == 8


def test_load_refuses_an_index_built_from_other_model_files(tmp_path):
    from zhibu_qa.errors import IndexMismatchError
    from zhibu_qa.indexing.store import build_index, load_index
    from zhibu_qa.types import Chunk, ChunkMeta, Segment

    chunk = Chunk(id="c1", article_id="a1", issue_id="i1", section_index=0, text="党员", embed_text="党员",
                  segments=(Segment(0, 0, 2),), n_tokens=1)
    meta = ChunkMeta(article_title="t", column=None, section=None, authors=(), issue="i")
    emb = HashingEmbedder(16)
    build_index(tmp_path, [chunk], [meta], emb, chunker={}, sources={}, model_fingerprint="aaaa")
    assert len(load_index(tmp_path, model_id=emb.model_id, chunker={}, model_fingerprint="aaaa")) == 1
    with pytest.raises(IndexMismatchError, match="other files"):
        load_index(tmp_path, model_id=emb.model_id, chunker={}, model_fingerprint="bbbb")


@pytest.mark.skipif(not (MODEL_DIR / "config.json").exists(), reason="m3e-small not fetched")
def test_the_real_model_identity_needs_no_model_load():
    code = ("import sys; from zhibu_qa.config import load_settings; from zhibu_qa.pipeline import Pipeline\n"
            f"mid, fp, dim = Pipeline(load_settings(env={{}}, embedding_model={str(MODEL_DIR)!r})).model_identity()\n"
            "print(mid.split('@')[0], len(fp), dim, 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.stdout.split() == ["m3e-small", "64", "512", "False"], r.stderr


def test_start_up_reports_a_damaged_index_instead_of_rebuilding_it_silently(built):
    from zhibu_qa.errors import IndexDamagedError

    settings, store = built
    (store / "vectors.npy").write_bytes(b"")
    with pytest.raises(IndexDamagedError, match=r"vectors.npy is empty.*run `zhibu-qa index`"):
        fresh(settings).ensure_ready()
