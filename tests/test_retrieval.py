"""Retrievers: RRF worked examples, near-duplicate collapse, filters, scores and the real model."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from zhibu_qa.errors import ConfigError
from zhibu_qa.indexing.embedders import HashingEmbedder, SentenceTransformerEmbedder
from zhibu_qa.indexing.store import build_index, load_index
from zhibu_qa.retrieval import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    collapse_near_duplicates,
    containment,
    make_retriever,
    reciprocal_rank_fusion,
)
from zhibu_qa.types import Chunk, ChunkMeta, Filters, Segment

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "m3e-small"
CHUNKER = {"chunk_size": 256}


def make_chunk(text, article, issue="i1", title="标题"):
    cid = hashlib.sha256(f"{article}\n{text}".encode()).hexdigest()[:16]
    return Chunk(id=cid, article_id=article, issue_id=issue, section_index=0, text=text,
                 embed_text=f"{title}\n{text}", segments=(Segment(0, 0, len(text)),), n_tokens=len(text))


# (text, article, issue, column)
PASSAGES = [
    ("街道启动了“吹哨报到”机制，各职能部门接到哨声后半小时内到场解决问题。", "a1", "i1", "基层治理"),
    ("破解“小马拉大车”难题，为社区减负，清理各类挂牌和考核事项。", "a2", "i1", "基层治理"),
    ("全面推进“两企三新”党建工作，在快递企业和网约车平台建立党组织。", "a3", "i1", "两新党建"),
    ("严格落实“三会一课”制度，党支部每月开展主题党日活动。", "a4", "i2", "组织生活"),
    ("社区网格员每天走访居民，收集社情民意并及时上报处置。", "a5", "i2", "基层治理"),
    ("农村电商直播带货，帮助果农打开销路，村集体经济收入翻番。", "a6", "i2", "乡村振兴"),
    # a near duplicate of the first passage (reprinted in another issue with a small addition)
    ("街道启动了“吹哨报到”机制，各职能部门接到哨声后半小时内到场解决问题。（转）", "a7", "i3", "转载"),
]


def build_and_load(tmp_path, embedder, passages=PASSAGES):
    chunks = [make_chunk(t, a, i) for t, a, i, _ in passages]
    metas = [ChunkMeta(article_title=f"文章{a}", column=c, section=None, authors=(), issue=i)
             for _, a, i, c in passages]
    build_index(tmp_path, chunks, metas, embedder, chunker=CHUNKER, sources={})
    return load_index(tmp_path, model_id=embedder.model_id, chunker=CHUNKER)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return build_and_load(tmp_path_factory.mktemp("index"), HashingEmbedder(128))


@pytest.fixture(scope="module")
def embedder():
    return HashingEmbedder(128)


# ---- reciprocal rank fusion ----------------------------------------------------------------------

def test_rrf_worked_example_with_k_1():
    # b: 1/(1+2) + 1/(1+1) = 5/6; a: 1/(1+1) = 1/2; c: 1/(1+2) = 1/3
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=1)
    assert [item for item, _ in fused] == ["b", "a", "c"]
    np.testing.assert_allclose([s for _, s in fused], [5 / 6, 1 / 2, 1 / 3])


def test_rrf_worked_example_with_default_k_60():
    # a: 1/61 + 1/63, b: 1/62 + 1/61, c: 1/63 + 1/62  ->  b > a > c
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "a"]]))
    assert list(fused) == ["b", "a", "c"]
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)


def test_rrf_weights_scale_each_ranking():
    # dense weight 2: a = 2/61, b = 1/61 + 2/62 (> a), c = 1/62
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], weights=[2.0, 1.0])
    assert [item for item, _ in fused] == ["b", "a", "c"]
    assert dict(fused)["a"] == pytest.approx(2 / 61)
    zero = reciprocal_rank_fusion([["a"], ["b"]], weights=[0.0, 1.0])
    assert zero == [("b", pytest.approx(1 / 61)), ("a", 0.0)]


def test_rrf_ties_keep_first_seen_order_and_repeats_count_once():
    assert [i for i, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert reciprocal_rank_fusion([["a", "a", "b"]], k=0) == [("a", 1.0), ("b", 1 / 3)]
    assert reciprocal_rank_fusion([[], []]) == []
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 1.0])


# ---- near-duplicate collapse ---------------------------------------------------------------------

def test_containment_examples():
    assert containment("党建引领基层治理", "坚持党建引领基层治理。") == 1.0
    assert containment("党建引领基层治理", "农村电商直播带货") == 0.0
    assert containment("党建 引领基层治理", "党建引领基层治理") == 1.0  # whitespace ignored


def test_collapse_drops_contained_texts_but_keeps_overlapping_neighbours():
    first = "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"
    overlap = first[-6:] + "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往"  # chunk overlap: only the tail is shared
    nearly = first[:-1] + "！"
    assert collapse_near_duplicates([first, nearly, overlap]) == [0, 2]
    assert collapse_near_duplicates([first, overlap, "另一段完全不同的文字内容"], limit=2) == [0, 1]
    assert collapse_near_duplicates(["甲乙丙丁戊己", "乙丙丁戊己", "庚辛壬癸子丑"]) == [0, 2]


# ---- retrievers ----------------------------------------------------------------------------------

def test_bm25_ranks_the_chunk_with_the_whole_term_first(index):
    hits = BM25Retriever(index).retrieve("什么是吹哨报到", 3)
    assert hits[0].chunk.article_id in ("a1", "a7")
    assert hits[0].bm25_score > 0 and hits[0].dense_score is None and hits[0].score == hits[0].bm25_score


def test_bm25_returns_nothing_when_no_query_term_is_indexed(index):
    assert BM25Retriever(index).retrieve("量子计算机", 5) == []


def test_near_duplicate_hits_are_collapsed(index, embedder):
    for retriever in (BM25Retriever(index), DenseRetriever(index, embedder),
                      make_retriever("hybrid", index, embedder)):
        hits = retriever.retrieve("吹哨报到 哨声 职能部门", 3)
        articles = [h.chunk.article_id for h in hits]
        assert len({"a1", "a7"} & set(articles)) == 1, articles


def test_dense_hits_carry_cosine_and_bm25_scores(index, embedder):
    hits = DenseRetriever(index, embedder).retrieve("社区网格员走访居民", 3)
    assert hits[0].chunk.article_id == "a5"
    q = embedder.embed_queries(["社区网格员走访居民"])[0]
    row = [c.id for c in index.chunks].index(hits[0].chunk.id)
    assert hits[0].dense_score == pytest.approx(float(index.vectors[row] @ q), abs=1e-5)
    assert hits[0].score == hits[0].dense_score and hits[0].bm25_score > 0


def test_hybrid_hits_carry_fused_score_and_both_raw_scores(index, embedder):
    hits = make_retriever("hybrid", index, embedder).retrieve("两企三新 党组织", 3)
    assert hits[0].chunk.article_id == "a3"
    top = hits[0]
    assert top.score == pytest.approx(2 / 61)  # first in both rankings
    assert top.dense_score is not None and top.bm25_score > 0
    assert all(h.dense_score is not None and h.bm25_score is not None for h in hits)


def test_filters_are_applied_before_cutting_to_k(index, embedder):
    only_i2 = Filters(issue_ids=("i2",))
    for retriever in (BM25Retriever(index), DenseRetriever(index, embedder),
                      make_retriever("hybrid", index, embedder)):
        hits = retriever.retrieve("吹哨报到 三会一课", 1, only_i2)
        assert [h.chunk.article_id for h in hits] == ["a4"]
    dense = DenseRetriever(index, embedder)
    by_column = dense.retrieve("基层", 10, Filters(columns=("基层治理",)))
    assert {h.chunk.article_id for h in by_column} == {"a1", "a2", "a5"}
    both = dense.retrieve("基层", 10, Filters(columns=("基层治理",), issue_ids=("i2",)))
    assert [h.chunk.article_id for h in both] == ["a5"]
    by_article = dense.retrieve("基层", 10, Filters(article_ids=("a6", "a2")))
    assert {h.chunk.article_id for h in by_article} == {"a2", "a6"}
    assert dense.retrieve("基层", 10, Filters(issue_ids=("no-such-issue",))) == []


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_retriever_honours_the_contract(index, embedder, mode):
    retriever = make_retriever(mode, index, embedder)
    hits = retriever.retrieve("党支部 社区 治理 吹哨报到", 4)
    assert 0 < len(hits) <= 4
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.chunk.id for h in hits}) == len(hits)
    filtered = retriever.retrieve("党支部 社区 治理 吹哨报到", 4, Filters(issue_ids=("i1",)))
    assert filtered and all(h.chunk.issue_id == "i1" for h in filtered)
    assert all(h.meta.issue == h.chunk.issue_id for h in hits)  # metas line up with chunks


def test_hnsw_dense_retrieval_matches_flat(tmp_path, embedder, index):
    build_index(tmp_path, index.chunks, index.metas, embedder, chunker=CHUNKER, sources={}, vector_index="hnsw")
    hnsw = load_index(tmp_path, model_id=embedder.model_id, chunker=CHUNKER)
    assert hnsw.manifest.vector_index == "hnsw"
    query = "农村电商直播带货"
    flat_ids = [h.chunk.id for h in DenseRetriever(index, embedder).retrieve(query, 3)]
    assert [h.chunk.id for h in DenseRetriever(hnsw, embedder).retrieve(query, 3)] == flat_ids
    only_i1 = Filters(issue_ids=("i1",))
    filtered = DenseRetriever(hnsw, embedder).retrieve(query, 3, only_i1)
    assert [h.chunk.id for h in filtered] == [h.chunk.id for h in DenseRetriever(index, embedder).retrieve(query, 3, only_i1)]
    assert {h.chunk.issue_id for h in filtered} == {"i1"}


def test_make_retriever_rejects_unknown_modes_listing_the_valid_ones(index, embedder):
    with pytest.raises(ConfigError, match=r"hybrid\|dense\|bm25"):
        make_retriever("sparse", index, embedder)
    with pytest.raises(ConfigError, match="needs an embedder"):
        make_retriever("dense", index)
    hybrid = make_retriever("hybrid", index, embedder, k_rrf=10, weights=(2.0, 1.0))
    assert isinstance(hybrid, HybridRetriever) and hybrid.k_rrf == 10 and hybrid.weights == (2.0, 1.0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        hybrid.retrieve("问题", 0)


# ---- the real model ------------------------------------------------------------------------------

PARAPHRASES = [
    ("群众反映的问题，各部门怎样快速响应到现场处理？", "a1"),
    ("怎么给社区减轻负担，减少挂牌和考核？", "a2"),
    ("快递员和网约车司机所在企业如何建立党的组织？", "a3"),
    ("党支部多久开展一次主题党日？", "a4"),
    ("果农的水果是怎么通过网络卖出去的？", "a6"),
]


@pytest.mark.integration
@pytest.mark.skipif(not (MODEL_DIR / "config.json").is_file(), reason="m3e-small not fetched")
def test_m3e_small_dense_retrieval_ranks_the_paraphrased_passage_first(tmp_path):
    model = SentenceTransformerEmbedder(str(MODEL_DIR))
    index = build_and_load(tmp_path, model, PASSAGES[:-1])
    dense = DenseRetriever(index, model)
    hybrid = make_retriever("hybrid", index, model)
    for query, article in PARAPHRASES:
        assert dense.retrieve(query, 3)[0].chunk.article_id == article, query
        assert hybrid.retrieve(query, 3)[0].chunk.article_id == article, query
