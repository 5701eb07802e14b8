"""Embedders: the base-class conveniences, the hashing fake, the registry and model loading errors."""

from pathlib import Path

import numpy as np
import pytest

from zhibu_qa.errors import ConfigError, ModelError
from zhibu_qa.indexing.embedders import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    l2_normalize,
    local_model_id,
    make_embedder,
)

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "m3e-small"
needs_model = pytest.mark.skipif(not (MODEL_DIR / "config.json").is_file(), reason="m3e-small not fetched")


class RecordingEmbedder(Embedder):
    """Returns unnormalised fixed vectors and remembers the texts it was given."""

    model_id = "recording"
    dim = 2

    def __init__(self, **prefixes):
        self.__dict__.update(prefixes)
        self.seen: list[str] = []

    def _encode(self, texts, *, show_progress):
        self.seen.extend(texts)
        return np.array([[3.0, 4.0]] * len(texts))


def test_base_class_adds_prefixes_and_normalises_to_float32():
    emb = RecordingEmbedder(query_prefix="Q:", passage_prefix="P:")
    q = emb.embed_queries(["甲"])
    p = emb.embed_passages(["乙", "丙"])
    assert emb.seen == ["Q:甲", "P:乙", "P:丙"]
    assert q.dtype == np.float32 and p.shape == (2, 2)
    np.testing.assert_allclose(p, [[0.6, 0.8], [0.6, 0.8]], rtol=1e-6)


def test_embedding_no_texts_gives_an_empty_matrix_without_encoding():
    emb = RecordingEmbedder()
    assert emb.embed_passages([]).shape == (0, 2)
    assert emb.seen == []


def test_l2_normalize_leaves_zero_rows_at_zero():
    out = l2_normalize(np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-6)


def test_hashing_embedder_is_deterministic_and_similarity_follows_shared_characters():
    emb = HashingEmbedder(128)
    a, b, c = emb.embed_passages(["街道启动吹哨报到机制", "街道吹哨报到机制启动", "农村电商直播带货"])
    again = HashingEmbedder(128).embed_passages(["街道启动吹哨报到机制"])[0]
    np.testing.assert_array_equal(a, again)
    assert a @ b > a @ c
    assert np.isclose(np.linalg.norm(a), 1.0)


def test_hashing_model_id_names_dimension_and_passage_prefix():
    assert HashingEmbedder(64).model_id == "hashing-64"
    assert HashingEmbedder(64, passage_prefix="文：").model_id != "hashing-64"
    assert HashingEmbedder(64, query_prefix="问：").model_id == "hashing-64"  # queries are not stored


def test_make_embedder_parses_hashing_specs_and_defers_model_loading():
    assert make_embedder("hashing").dim == 256
    assert make_embedder("hashing:64", query_prefix="问：").query_prefix == "问："
    emb = make_embedder("/nonexistent/model-dir", batch_size=8)
    assert isinstance(emb, SentenceTransformerEmbedder)  # nothing loaded yet, so no error
    with pytest.raises(ConfigError, match="hashing:DIM"):
        make_embedder("hashing:abc")


def test_missing_model_directory_raises_model_error_with_fetch_hint(tmp_path):
    emb = SentenceTransformerEmbedder(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="fetch-model") as err:
        emb.embed_queries(["问题"])
    assert "missing" in str(err.value)
    with pytest.raises(ModelError, match="does not exist"):
        _ = emb.model_id


def test_directory_that_is_not_a_model_raises_model_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(ModelError, match="not a sentence-transformers"):
        _ = SentenceTransformerEmbedder(str(tmp_path)).dim
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="no model weights"):
        _ = SentenceTransformerEmbedder(str(tmp_path)).dim


def test_broken_weights_raise_model_error_not_a_library_exception(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"not really weights")
    with pytest.raises(ModelError, match="cannot load embedding model"):
        SentenceTransformerEmbedder(str(tmp_path)).embed_queries(["问题"])


def test_uncached_hub_model_name_raises_model_error_without_downloading():
    emb = make_embedder("some-org/not-a-cached-model")
    assert emb.model_id == "some-org/not-a-cached-model"
    with pytest.raises(ModelError, match="offline"):
        emb.embed_queries(["问题"])


def test_local_model_id_is_stable_and_changes_with_config_or_weights(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 8}', encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"x" * 10)
    first = local_model_id(tmp_path)
    assert first == local_model_id(tmp_path) and first.startswith(tmp_path.name + "@")
    (tmp_path / "model.safetensors").write_bytes(b"x" * 11)
    assert local_model_id(tmp_path) != first


@pytest.mark.integration
@needs_model
def test_m3e_small_gives_512_dim_unit_vectors_and_a_stable_id():
    emb = SentenceTransformerEmbedder(str(MODEL_DIR))
    assert emb.model_id.startswith("m3e-small@")
    vecs = emb.embed_passages(["吹哨报到机制", "基层治理"], show_progress=False)
    assert vecs.shape == (2, 512) and emb.dim == 512
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: HashingEmbedder(32), id="hashing"),
    pytest.param(lambda: SentenceTransformerEmbedder(str(MODEL_DIR)), id="sentence-transformers",
                 marks=[pytest.mark.integration, needs_model]),
])
def test_every_embedder_honours_the_contract(make):
    emb = make()
    texts = ["党支部“三会一课”制度", "社区网格员走访", "党支部“三会一课”制度"]
    vecs = emb.embed_passages(texts)
    assert vecs.dtype == np.float32 and vecs.shape == (3, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vecs[0], vecs[2], atol=1e-6)  # same text, same vector
    assert emb.embed_queries(["三会一课"]).shape == (1, emb.dim)
    assert isinstance(emb.model_id, str) and emb.model_id
