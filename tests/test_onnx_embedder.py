"""The ONNX embedding backends: one-time offline export recorded in the manifest, and vectors that
match torch fp32 (real m3e-small); plus the `embedding_backend` setting and its old `embedding_quantize`."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from conftest import MODEL_DIR

from zhibu_qa.config import load_settings
from zhibu_qa.errors import ConfigError, ModelError
from zhibu_qa.indexing.embedders import EMBEDDING_BACKENDS, SentenceTransformerEmbedder, make_embedder

needs_model = pytest.mark.skipif(not (MODEL_DIR / "config.json").is_file(), reason="m3e-small not fetched")
TEXTS = ["和平区赋予街道吹哨调度权", "党务公开的主体有哪些", "李季达把党员名单存进保险柜",
         "推动基层党组织全面进步、全面过硬，以高质量党建引领基层治理现代化。"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A copy of m3e-small (hard links, without onnx/) exported here with the hub switched off."""
    from zhibu_qa.indexing.onnx_backend import export_onnx

    target = tmp_path_factory.mktemp("model") / "m3e-small"
    shutil.copytree(MODEL_DIR, target, copy_function=os.link, ignore=shutil.ignore_patterns("onnx", ".zhibu-*"))
    manifest = target / "zhibu_manifest.json"  # as fetch-model leaves it before exporting: no onnx/ entries
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = {k: v for k, v in data.get("files", {}).items() if not k.startswith("onnx/")}
    manifest.unlink()  # a new inode: the hard-linked original stays intact
    manifest.write_text(json.dumps(data), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    try:
        written = export_onnx(target)
    finally:
        mp.undo()
    return target, written


def linked_copy_with(target, tmp_path, rel: str, data: bytes):
    """A hard-linked copy of the exported model directory whose file `rel` holds `data` instead."""
    copy = tmp_path / "m3e-small"
    shutil.copytree(target, copy, copy_function=os.link)
    (copy / rel).unlink()  # a new inode: the shared export stays intact
    (copy / rel).write_bytes(data)
    return copy


@pytest.fixture(scope="module")
def torch_vectors():
    return SentenceTransformerEmbedder(str(MODEL_DIR)).embed_passages(TEXTS)


@needs_model
@pytest.mark.integration
def test_export_writes_both_onnx_files_once_and_the_manifest_verifies_them(exported):
    from zhibu_qa.indexing.models import verify_model_dir
    from zhibu_qa.indexing.onnx_backend import ONNX_FILES, PROBE_FILE, export_onnx

    target, written = exported
    assert sorted(written) == sorted([*ONNX_FILES.values(), PROBE_FILE])
    files = verify_model_dir(target)["files"]
    assert all(name in files for name in [*ONNX_FILES.values(), PROBE_FILE])
    assert export_onnx(target) == []  # already there: nothing is written again
    assert not list((target / "onnx").glob(".export-*"))  # the temp dir is gone


@needs_model
@pytest.mark.integration
def test_a_corrupted_onnx_file_fails_verification(exported, tmp_path):
    from zhibu_qa.indexing.models import verify_model_dir
    from zhibu_qa.indexing.onnx_backend import ONNX_FILES

    target, _ = exported
    data = (target / ONNX_FILES["onnx-int8"]).read_bytes()
    copy = linked_copy_with(target, tmp_path, ONNX_FILES["onnx-int8"], data[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="corrupted"):
        verify_model_dir(copy)


@needs_model
@pytest.mark.integration
def test_the_model_check_can_skip_weights_the_backend_does_not_read_but_never_configs(exported, tmp_path):
    from zhibu_qa.indexing.models import verify_model_dir
    from zhibu_qa.indexing.onnx_backend import ONNX_FILES, OnnxEmbedder

    target, _ = exported
    copy = tmp_path / "m3e-small"
    shutil.copytree(target, copy, copy_function=os.link)
    used = OnnxEmbedder(copy, quantized=True).weight_files
    assert used == (ONNX_FILES["onnx-int8"],)
    for name in (ONNX_FILES["onnx"], "model.safetensors"):  # weights the int8 backend never reads
        (copy / name).unlink()
        (copy / name).write_bytes(b"damaged")
    verify_model_dir(copy, used)
    with pytest.raises(ModelError, match="corrupted"):
        verify_model_dir(copy)
    (copy / "tokenizer.json").unlink()
    (copy / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="tokenizer.json"):
        verify_model_dir(copy, used)


@needs_model
@pytest.mark.integration
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_vectors_are_deterministic_and_close_to_torch_fp32(exported, torch_vectors, backend):
    target, _ = exported
    emb = make_embedder(str(target), backend=backend)
    first = emb.embed_passages(TEXTS)
    again = make_embedder(str(target), backend=backend).embed_passages(TEXTS)
    np.testing.assert_array_equal(first, again)
    cos = np.sum(first * torch_vectors, axis=1)
    assert cos.min() > 0.98, cos
    # a single query takes the one-thread session: the same vector as in a batch (int8 scales its
    # activations per batch, so padding moves it a little)
    assert float(emb.embed_queries([TEXTS[3]])[0] @ first[3]) > 0.99
    assert emb.dim == 512 and first.dtype == np.float32


@needs_model
@pytest.mark.integration
def test_int8_vectors_unlike_the_fp32_probe_fail_loudly_with_the_fp32_hint(exported, tmp_path):
    from zhibu_qa.indexing.onnx_backend import PROBE_FILE

    target, _ = exported
    probe = json.loads((target / PROBE_FILE).read_text(encoding="utf-8"))
    assert len(probe["vectors"]) == len(probe["texts"]) == 3
    probe["vectors"] = [list(reversed(v)) for v in probe["vectors"]]  # what saturating kernels look like
    copy = linked_copy_with(target, tmp_path, PROBE_FILE, json.dumps(probe).encode("utf-8"))
    emb = make_embedder(str(copy), backend="onnx-int8")
    for _ in range(2):  # a retry checks again: it never embeds with the diverging file
        with pytest.raises(ModelError, match='embedding_backend = "onnx"'):
            emb.embed_passages(TEXTS[:1])
    assert make_embedder(str(copy), backend="onnx").embed_passages(TEXTS[:1]).shape == (1, 512)


@needs_model
@pytest.mark.integration
def test_concurrent_batches_on_one_session_give_the_vectors_of_one_batch_at_a_time(exported):
    import threading

    from zhibu_qa.indexing.onnx_backend import OnnxEmbedder

    target, _ = exported
    texts = [f"{t}（第{i}段）" * (1 + i % 3) for i, t in enumerate(TEXTS * 3)]
    serial = OnnxEmbedder(target, batch_size=2, workers=1, threads=1).embed_passages(texts)
    pooled = OnnxEmbedder(target, batch_size=4, workers=2)  # 4 texts in flight: 2 batches of 2 at once
    session = pooled._session(1)
    ran_on = set()

    class Recording:  # onnxruntime's session, noting which thread each batch ran on
        def __getattr__(self, name):
            return getattr(session, name)

        def run(self, *args):
            ran_on.add(threading.current_thread().name)
            return session.run(*args)

    pooled._sessions[1] = Recording()
    np.testing.assert_allclose(pooled.embed_passages(texts), serial, rtol=0, atol=1e-6)
    assert ran_on and all(name.startswith("onnx-embed") for name in ran_on), ran_on
    # queries share the one-thread session: no second copy of the model
    pooled.embed_queries([TEXTS[0]])
    assert list(pooled._sessions) == [1]


def test_negative_workers_or_threads_are_rejected():
    from zhibu_qa.indexing.onnx_backend import OnnxEmbedder

    with pytest.raises(ConfigError, match="workers and threads"):
        OnnxEmbedder("/nonexistent", workers=-1)


@needs_model
def test_each_backend_has_its_own_model_id_and_the_export_leaves_torch_ids_alone(exported):
    target, _ = exported
    ids = {b: make_embedder(str(target), backend=b).model_id for b in EMBEDDING_BACKENDS}
    assert len(set(ids.values())) == len(EMBEDDING_BACKENDS)
    base = ids["torch"]
    assert ids["onnx-int8"] == base + "+onnx-qint8rr" and ids["torch-int8"] == base + "+int8"
    # the same directory before the export (onnx/ is not part of the base id)
    assert base.split("@")[1] == SentenceTransformerEmbedder(str(MODEL_DIR)).model_id.split("@")[1]


def test_an_onnx_backend_needs_a_local_directory():
    with pytest.raises(ConfigError, match="local model directory"):
        make_embedder("moka-ai/m3e-small", backend="onnx")
    with pytest.raises(ModelError, match="no config.json"):
        _ = make_embedder("/nonexistent/dir/model", backend="onnx-int8").model_id


def test_unknown_backend_names_the_valid_ones():
    with pytest.raises(ConfigError, match="torch, torch-int8, onnx, onnx-int8"):
        make_embedder("hashing", backend="tensorrt")
    with pytest.raises(ConfigError, match="embedding_backend"):
        load_settings(env={"ZHIBU_EMBEDDING_BACKEND": "gpu"})


def test_embedding_quantize_still_selects_torch_int8_and_conflicts_are_reported():
    assert load_settings(env={"ZHIBU_EMBEDDING_QUANTIZE": "1"}).embedding_backend == "torch-int8"
    assert load_settings(env={}, embedding_quantize=True, embedding_backend="torch-int8").embedding_backend == "torch-int8"
    with pytest.raises(ConfigError, match="conflicts"):
        load_settings(env={"ZHIBU_EMBEDDING_QUANTIZE": "true", "ZHIBU_EMBEDDING_BACKEND": "onnx"})


def fake_model_dir(tmp_path):
    """A directory with a model manifest (the ONNX steps themselves are replaced in these tests)."""
    import json

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "zhibu_manifest.json").write_text(json.dumps({"files": {}}))
    return tmp_path


def test_concurrent_first_uses_export_once_under_the_lock(tmp_path, monkeypatch):
    import threading
    import time

    from zhibu_qa.indexing import onnx_backend

    calls = []

    def slow_export(model_dir, target):
        calls.append("fp32")
        time.sleep(0.2)  # long enough for the other thread to reach the lock
        target.write_bytes(b"fp32")

    monkeypatch.setattr(onnx_backend, "_export_fp32", slow_export)
    monkeypatch.setattr(onnx_backend, "_quantize", lambda src, target: calls.append("int8") or target.write_bytes(b"q"))
    monkeypatch.setattr(onnx_backend, "_write_probe", lambda src, target: target.write_text("{}"))
    model_dir = fake_model_dir(tmp_path)
    results = []
    threads = [threading.Thread(target=lambda: results.append(onnx_backend.export_onnx(model_dir)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["fp32", "int8"]
    assert sorted(map(len, results)) == [0, 3]
    from zhibu_qa.indexing.models import verify_model_dir

    assert set(verify_model_dir(model_dir)["files"]) == {*onnx_backend.ONNX_FILES.values(), onnx_backend.PROBE_FILE}


def test_a_failed_export_leaves_no_partial_file(tmp_path, monkeypatch):
    from zhibu_qa.indexing import onnx_backend

    def broken(model_dir, target):
        target.write_bytes(b"half")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_backend, "_export_fp32", broken)
    model_dir = fake_model_dir(tmp_path)
    with pytest.raises(ModelError, match="exporter crashed"):
        onnx_backend.export_onnx(model_dir)
    assert [p.name for p in (model_dir / "onnx").iterdir()] == []
    assert "onnx/model.onnx" not in (model_dir / "zhibu_manifest.json").read_text()
