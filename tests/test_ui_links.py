"""Shareable links, follow-up suggestions, the rewritten-question note and the linked chat markup."""

from __future__ import annotations

import html
from types import SimpleNamespace

import pytest

from zhibu_qa.app.ui_links import (
    Link,
    filter_rows,
    followup_questions,
    link_query,
    parse_link,
    suggested_articles,
    understood_as,
)
from zhibu_qa.app.views import answer_markdown, citation_labels, hits_html, linked_markers
from zhibu_qa.markup import escape_md, unescape_md
from zhibu_qa.types import Article, Paragraph, Section, Segment


@pytest.mark.parametrize("query, link", [
    ("article=a1&section=2", Link("a1", 2)),
    ("?article=a1&start=10&end=20&_n=3", Link("a1", None, 10, 20)),
    ("article=a1&start=20&end=10", Link("a1")),  # an empty or reversed span is dropped
    ("article=a1&section=-1&start=x", Link("a1")),
    ("q=%E9%97%AE%E9%A2%98", Link(q="问题")),
    ("", Link()),
])
def test_parse_link_keeps_the_valid_parts(query, link):
    assert parse_link(query) == link


def test_link_query_round_trips_and_caps_a_long_question():
    for link in (Link("a1", 3), Link("a1", None, 5, 9), Link(q="河东区 清理？&x=1")):
        assert parse_link(link_query(link)) == link
    assert len(parse_link({"q": "问" * 900}).q) == 500


def test_understood_as_only_for_a_rewritten_follow_up():
    rewritten = {"question": "这些权力是怎么落实的？", "search_query": "这些权力是怎么落实的 五权 和平区"}
    assert understood_as(rewritten, True) == "这些权力是怎么落实的 五权 和平区"
    assert understood_as(rewritten, False) == ""  # no history, nothing was understood from it
    assert understood_as({"question": "河东区？", "search_query": "河东区?"}, True) == ""  # punctuation only


def _article(aid, title, headings):
    para = Paragraph("正文。", (Segment(0, 0, 3),))
    return Article(aid, "i1", title, None, (), tuple(Section(h, (para,)) for h in headings), 0, 3)


def _catalogue(*arts):
    by_id = {a.id: a for a in arts}

    def article(aid):
        return by_id[aid]

    return SimpleNamespace(articles=list(arts), article=article)


def test_follow_ups_come_from_the_cited_articles_other_headings():
    cat = _catalogue(_article("a1", "甲文", [None, "一、松绑", "二、“合力”干", "三、放手干"]),
                     _article("a2", "乙文", [None, "四、别的"]))
    answer = {"refused": False, "citations": [{"article_id": "a1", "section": "一、松绑"}],
              "hits": [{"article_id": "a2"}]}
    asks = followup_questions(cat, answer)
    assert asks == ["《甲文》中「二、“合力”干」一节讲了什么？", "《甲文》中“三、放手干”一节讲了什么？",
                    "《乙文》中“四、别的”一节讲了什么？"]
    assert followup_questions(cat, answer, asked=[asks[0]])[0] == asks[1]  # not one already asked
    assert followup_questions(cat, {**answer, "refused": True}) == []
    # only questions the knowledge base answers are offered, and only so many are tried
    checked = []
    kept = followup_questions(cat, answer, answers=lambda q: checked.append(q) or "合力" not in q)
    assert kept == asks[1:] and checked == asks
    assert followup_questions(cat, answer, answers=lambda q: False, tries=2) == []


def test_suggested_titles_map_to_article_ids_and_rows_filter_by_every_word():
    cat = _catalogue(_article("a1", "甲文", [None]), _article("a2", "乙文", [None]))
    assert suggested_articles(cat, ["乙文", "没有这篇"]) == [("乙文", "a2")]
    rows = [[1, "特别关注", "减牌子", "张婉妮、田珊珊"], [2, "—", "刊物信息", "—"]]
    assert filter_rows(rows, "张婉妮 牌子") == [rows[0]]
    assert filter_rows(rows, "") == rows


def _cite(n, section="一", quote="截至目前，河东区共清理规范外部牌子169块"):
    return {"n": n, "chunk_id": "c", "article_id": "a1", "article_title": "甲文", "column": None,
            "section": section, "authors": [], "issue": "", "quote": quote, "char_start": 10 * n,
            "char_end": 10 * n + 5}


def test_two_citations_of_one_section_are_told_apart():
    a, b = _cite(1), _cite(2, quote="另一句话")
    labels = citation_labels([a, b, _cite(3, section="二")])
    assert len(set(labels)) == 3 and "截至目前" in labels[0] and "另一句话" in labels[1]
    assert "“" not in labels[2]  # alone in its section: the plain label


def test_markers_link_to_the_reader_and_hostile_quotes_stay_text():
    hostile = _cite(1, quote='"><img src=x onerror=alert(1)>')
    out = linked_markers("甲<b>。[1]乙。[9]", [hostile])
    assert '<a class="zq-cite" href="?article=a1&amp;start=10&amp;end=15"' in out
    assert "<img" not in out and "&lt;img" in out and "&lt;b&gt;" in out
    assert "\\[9\\]" in out  # an unknown number is left as text
    title = out.split('title="', 1)[1].split('"', 1)[0]
    assert "<" not in title and html.unescape(title).endswith('"><img src=x onerror=alert(1)>')


def test_answer_markdown_shows_the_note_and_links_suggestions():
    refusal = {"refused": True, "answer": "没有。", "suggestions": ["甲文", "丙<文>"], "citations": []}
    md = answer_markdown(refusal, "这些 五权", [("甲文", "a1")])
    assert md.startswith('<span class="zq-rewritten">按上下文理解为：这些 五权</span>')
    assert '<a class="zq-suggest" href="?article=a1">《甲文》</a>' in md and "- 《丙&lt;文&gt;》" in md


def test_hits_show_rank_and_relative_bar_with_raw_scores_in_a_detail():
    hits = [{"score": 0.04, "dense_score": 0.8, "bm25_score": 5.0, "text": "t", "article_id": "a1",
             "char_start": 0, "char_end": 9}, {"score": 0.01, "text": "u"}]
    out = hits_html(hits)
    assert "第 1 名" in out and "width:100%" in out and "width:25%" in out
    assert '<details class="zq-score"><summary>得分明细</summary>综合 0.0400' in out


@pytest.mark.parametrize("text", ["1. <b>", r"a\b [1] http://x.cn", "河东区？", "*_#"])
def test_unescape_md_inverts_escape_md(text):
    assert unescape_md(escape_md(text)) == text
