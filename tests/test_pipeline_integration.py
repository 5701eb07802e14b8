"""The whole pipeline with the real m3e-small model, FAISS and jieba/BM25 on the shipped issue."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES

from zhibu_qa.pipeline import Pipeline
from zhibu_qa.text import title_key
from zhibu_qa.types import Turn

pytestmark = pytest.mark.integration

PARAPHRASED = [
    ("和平区给街道放了哪些权力？", "念好放权赋能“治理经”"),
    ("河东区社区门口的牌子减了多少？", "减牌子 挑担子 服务群众有『里子』"),
    ("李季达把党员名单藏在哪里了？", "求志里·于无声处听惊雷"),
    ("党务公开要遵循什么原则？", "准确把握党务公开的内容和范围"),
    ("蓟州山区用无人机巡检电力线路是怎么回事？", "党建融合聚动能 「电」亮大山「蓟」先锋"),
    ("想联系编辑部应该打哪个电话？", "刊物信息"),
]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
@pytest.mark.parametrize(("question", "title"), PARAPHRASED, ids=[p[1][:6] for p in PARAPHRASED])
def test_paraphrased_questions_find_the_article(pipeline, question, title, mode):
    hits, _ms = pipeline.search(question, 3, mode)
    assert title_key(title) in [title_key(h.meta.article_title) for h in hits]


@pytest.mark.parametrize(("question", "facts"), [
    ("和平区给街道放的是哪几项权力？", ["吹哨调度权", "考核评价权", "灵活用人自主权"]),
    ("河东区社区外头挂的牌子清掉了多少？", ["169块"]),
    ("想给编辑部打电话，号码是多少？", ["022-23020102"]),
    ("李季达去世的时候几岁？", ["27岁"]),
])
def test_answers_contain_the_facts_and_cite_exact_spans(pipeline, question, facts):
    answer = pipeline.ask(question)
    assert not answer.refused
    for fact in facts:
        assert fact in answer.text
    assert answer.citations
    for c in answer.citations:
        assert pipeline.source_for(answer.hits[0].chunk.issue_id)[c.char_start:c.char_end] == c.quote


@pytest.mark.parametrize(("question", "column"), [("卷首文章里提出了什么要求？", "卷首"), ("“党风”栏目谈了哪些纪律要求？", "党风")])
def test_a_question_naming_a_column_is_answered_from_that_column(pipeline, question, column):
    answer = pipeline.ask(question)
    assert not answer.refused and answer.citations
    assert {c.column for c in answer.citations} == {column}


@pytest.mark.parametrize(("question", "author"), [("求志里那篇文章是谁写的？", "曹冬梅"), ("“党风”栏目这期的作者是谁？", "管强")])
def test_the_author_is_quoted_from_the_byline(pipeline, question, author):
    answer = pipeline.ask(question)
    assert not answer.refused and author in answer.text
    (c,) = answer.citations
    assert c.quote.startswith("文 / ") and author in c.authors
    assert pipeline.source_for(c.issue_id)[c.char_start:c.char_end] == c.quote


def test_the_points_of_an_article_are_its_subheadings(pipeline):
    answer = pipeline.ask("东风里社区的“微治理”从哪几个“微”入手？")
    assert all(f"“微{x}”" in answer.text for x in ("网格", "平台", "协商", "服务"))
    for c in answer.citations:
        assert pipeline.source_for(c.issue_id)[c.char_start:c.char_end] == c.quote


def test_unanswerable_question_is_refused_with_closest_articles(pipeline):
    answer = pipeline.ask("东丽区的农民合作社去年分红多少钱？")
    assert answer.refused and answer.refusal_kind == "not_covered"
    assert 1 <= len(answer.suggestions) <= 3 and not answer.citations


def test_a_traditional_script_question_is_answered(pipeline):
    answer = pipeline.ask("河東區社區外頭掛的牌子清掉了多少塊？")
    assert not answer.refused and "169块" in answer.text


def test_an_unrelated_english_question_is_refused_with_a_hint_to_ask_in_chinese(pipeline):
    answer = pipeline.ask("What is the capital of France?")
    assert answer.refused and "中文" in answer.text


def test_a_colloquial_question_with_a_typo_is_not_refused(pipeline):
    answer = pipeline.ask("想问下河东区社区门口的牌子清了多少快呀")  # 快 for 块, 想问下 and 呀 are colloquial
    assert not answer.refused and "169块" in answer.text
    assert answer.refusal_kind is None  # no "not in the magazine" note for everyday words


def test_a_complete_question_after_a_turn_is_not_rewritten(pipeline):
    first = "河东区清理了多少块外部牌子？"
    answer = pipeline.ask("李季达是在哪里被捕的？", [Turn(first, pipeline.ask(first).text)])
    assert "河东" not in answer.search_query and "169" not in answer.text
    assert any("求志里" in c.article_title for c in answer.citations)


def test_a_followup_about_another_place_is_answered_from_passages_about_it(pipeline):
    first = "和平区是怎么给基层减负的？"
    answer = pipeline.ask("那河东区呢？", [Turn(first, pipeline.ask(first).text)])
    assert answer.search_query.startswith("河东区")
    assert answer.citations and "河东区" in answer.citations[0].quote + answer.citations[0].article_title


def test_adding_a_source_embeds_only_new_chunks(built_settings, tmp_path):
    index_dir = tmp_path / "index"
    shutil.copytree(built_settings.index_dir, index_dir)
    pipe = Pipeline(built_settings.replace(index_dir=str(index_dir)))
    before = len(pipe.index)
    pipe.ingest([FIXTURES / "cpc-constitution-2017-zh.txt"])
    assert pipe.index_status().startswith("stale")
    stats = pipe.build_index()
    assert stats.n_reused == before and stats.n_embedded == stats.n_chunks - before > 0
    assert pipe.index_status() == "ok"
    hits, _ = pipe.search("党员有哪些权利？", 3)
    assert any("党章" in h.meta.article_title or "章程" in h.meta.article_title for h in hits)
    # removing the source removes its chunks again
    pipe.remove(str(FIXTURES / "cpc-constitution-2017-zh.txt"))
    stats = pipe.build_index()
    assert stats.n_chunks == before and stats.n_removed > 0 and stats.n_embedded == 0
