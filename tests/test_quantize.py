"""The optional int8 embedder: its own model id (so indexes are not mixed) and near-identical vectors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MODEL_DIR

from zhibu_qa.indexing.embedders import SentenceTransformerEmbedder


def test_quantized_embedder_has_its_own_model_id():
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip("m3e-small not fetched")
    plain = SentenceTransformerEmbedder(str(MODEL_DIR))
    quant = SentenceTransformerEmbedder(str(MODEL_DIR), quantize=True)
    assert quant.model_id == plain.model_id + "+int8"


@pytest.mark.integration
def test_quantized_vectors_stay_close_to_float32():
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip("m3e-small not fetched")
    texts = ["和平区赋予街道吹哨调度权", "党务公开的主体有哪些", "李季达把党员名单存进保险柜"]
    a = SentenceTransformerEmbedder(str(MODEL_DIR)).embed_passages(texts)
    b = SentenceTransformerEmbedder(str(MODEL_DIR), quantize=True).embed_passages(texts)
    cos = np.sum(a * b, axis=1)
    assert cos.min() > 0.9
    # and the ranking of a query against these passages is unchanged
    qa = SentenceTransformerEmbedder(str(MODEL_DIR)).embed_queries(["街道有哪些权力"])[0]
    assert int(np.argmax(a @ qa)) == int(np.argmax(b @ qa))
