"""Sentence cosines for answerability: cached, batched, and read into the feature row."""

import numpy as np

from zhibu_qa.answer.similarity import SentenceSimilarity
from zhibu_qa.indexing.embedders import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    def __init__(self):
        super().__init__(64)
        self.calls = 0

    def _encode(self, texts, *, show_progress):
        self.calls += 1
        return super()._encode(texts, show_progress=show_progress)


def test_cosines_are_of_unit_vectors_and_cached():
    emb = CountingEmbedder()
    sim = SentenceSimilarity(lambda: emb)
    same, other = sim("河东区清理了多少块牌子", ["河东区清理了多少块牌子", "完全无关的句子内容"])
    assert same > 0.99 and other < same
    calls = emb.calls
    again = sim("河东区清理了多少块牌子", ["完全无关的句子内容"])
    assert emb.calls == calls and np.isclose(again[0], other)  # both vectors came from the cache


def test_prefetch_embeds_in_one_batch_per_kind():
    emb = CountingEmbedder()
    sim = SentenceSimilarity(lambda: emb, cache_size=100)
    sim.prefetch(["问一", "问二"], ["句一", "句二", "句三"])
    assert emb.calls == 2
    sim("问二", ["句三", "句一"])
    assert emb.calls == 2


def test_cache_is_bounded():
    sim = SentenceSimilarity(lambda: HashingEmbedder(32), cache_size=4)
    first = sim("问", [f"句子{i}" for i in range(10)])
    assert len(first) == 10 and len(sim._cache) <= 4
    assert sim("问", ["另一句"]).shape == (1,) and len(sim._cache) <= 4
    assert sim("问", []).shape == (0,)
