"""`retrieval_mode = "bm25"`: searching and answering never run the embedder (no model loads)."""

from __future__ import annotations

import pytest

from zhibu_qa.config import load_settings
from zhibu_qa.indexing.embedders import HashingEmbedder
from zhibu_qa.pipeline import Pipeline

TEXT = ("社区党组织工作规则\n\n一、吹哨报到\n\n街道启动了“吹哨报到”机制，各职能部门接到哨声后半小时内到场解决问题。\n\n"
        "二、减负\n\n清理各类挂牌和考核事项，社区共清理规范外部牌子169块。\n")


class UnusableEmbedder(HashingEmbedder):
    """The hashing model's id and size, but any use fails: stands for a model that must not load."""

    def _encode(self, texts, *, show_progress):
        raise AssertionError("the embedder was used")


def _settings(tmp_path, mode):
    doc = tmp_path / "rules.txt"
    doc.write_text(TEXT, encoding="utf-8")
    return load_settings(env={}, index_dir=str(tmp_path / "index"), corpus_paths=str(doc),
                         user_dict=str(tmp_path / "none.txt"), retrieval_mode=mode)


def test_bm25_mode_searches_and_answers_without_the_embedder(tmp_path):
    Pipeline(_settings(tmp_path, "hybrid"), embedder=HashingEmbedder(64)).ensure_ready()
    pipe = Pipeline(_settings(tmp_path, "bm25"), embedder=UnusableEmbedder(64))
    assert pipe.index_status() == "ok"
    hits, _ = pipe.search("外部牌子清理了多少块", 3)
    assert "169块" in hits[0].chunk.text
    answer = pipe.ask("社区清理规范外部牌子多少块？")
    assert answer.text  # answered or refused, but without running the model
    with pytest.raises(AssertionError, match="the embedder was used"):  # the fake does catch a use
        pipe.ask("社区清理规范外部牌子多少块？", mode="hybrid")
