"""The 文章 tab lists articles by issue: newest issue first, each under its name and date (no Gradio)."""

from __future__ import annotations

from types import SimpleNamespace

from zhibu_qa.app.ui_actions import article_choices, catalogue_table, reader_order
from zhibu_qa.app.ui_links import filter_rows
from zhibu_qa.app.views import catalogue_rows
from zhibu_qa.ingest.archive import articles_by_issue, issue_heading
from zhibu_qa.ingest.issuemeta import issue_date
from zhibu_qa.types import Article, Issue, Paragraph, Section, Segment


def _issue(iid, year, number, half):
    return Issue(iid, "天津支部生活", f"{iid}.txt", iid, "magazine", year, number, half, None,
                 issue_date(year, number, half))


OLD, NEW = _issue("zbsh-2024-09a", 2024, 9, "上半月"), _issue("zbsh-2024-09b", 2024, 9, "下半月")


def _article(aid, issue_id, title, column=None, authors=()):
    para = Paragraph("正文。", (Segment(0, 0, 3),))
    return Article(aid, issue_id, title, column, tuple(authors), (Section(None, (para,)),), 0, 3)


# catalogue order: the older issue was ingested first
ARTICLES = (_article("o1", OLD.id, "旧刊卷首", "卷首"), _article("o2", OLD.id, "旧刊专题", "特别关注", ["张三"]),
            _article("n1", NEW.id, "新刊卷首", "卷首"), _article("n2", NEW.id, "新刊专题", "特别关注", ["李四"]),
            _article("x1", "gone", "无期次的文章"))


def _pipeline():
    return SimpleNamespace(catalogue=SimpleNamespace(articles=ARTICLES, issues={OLD.id: OLD, NEW.id: NEW}))


def test_articles_group_by_issue_newest_first_and_unknown_issues_last():
    groups = articles_by_issue(ARTICLES, {OLD.id: OLD, NEW.id: NEW})
    assert [(i.id if i else None, [a.id for a in arts]) for i, arts in groups] == [
        (NEW.id, ["n1", "n2"]), (OLD.id, ["o1", "o2"]), (None, ["x1"])]
    assert issue_heading(NEW) == "天津支部生活 2024年第9期（下半月） · 2024-09-16"


def test_the_reader_table_has_an_issue_heading_row_above_each_issue():
    rows = catalogue_table(_pipeline())
    assert rows == [
        ["", "期次", "天津支部生活 2024年第9期（下半月） · 2024-09-16（2 篇）", ""],
        [1, "卷首", "新刊卷首", "—"], [2, "特别关注", "新刊专题", "李四"],
        ["", "期次", "天津支部生活 2024年第9期（上半月） · 2024-09-01（2 篇）", ""],
        [3, "卷首", "旧刊卷首", "—"], [4, "特别关注", "旧刊专题", "张三"],
        ["", "期次", "其他（1 篇）", ""], [5, "—", "无期次的文章", "—"]]
    # a row's 编号 n opens article n - 1 of the reader's order (what a click on the row opens)
    order = reader_order(_pipeline())
    assert [order[r[0] - 1].title for r in rows if r[0] != ""] == [r[2] for r in rows if r[0] != ""]
    labels = [label for label, _ in article_choices(_pipeline())]
    assert labels[0] == "天津支部生活 2024年第9期（下半月）｜卷首｜新刊卷首" and labels[-1] == "—｜无期次的文章"


def test_search_keeps_the_heading_of_an_issue_with_a_match_and_an_issue_name_keeps_the_issue():
    rows = catalogue_table(_pipeline())
    assert filter_rows(rows, "张三") == [rows[3], rows[5]]
    assert filter_rows(rows, "专题") == [rows[0], rows[2], rows[3], rows[5]]
    assert filter_rows(rows, "上半月") == rows[3:6]  # the issue's name: all its articles
    assert filter_rows(rows, "") == rows
    assert filter_rows(rows, "没有这个词") == []


def test_one_issue_needs_no_issue_in_the_picker_labels():
    one = SimpleNamespace(catalogue=SimpleNamespace(articles=ARTICLES[2:4], issues={NEW.id: NEW}))
    assert [label for label, _ in article_choices(one)] == ["卷首｜新刊卷首", "特别关注｜新刊专题"]
    assert catalogue_rows([]) == []
