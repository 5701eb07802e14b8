"""Issues as first-class values, unit level: issue names and dates, filters, recency order, recurring
chunks, the learned dictionary and relative-time notes (deterministic, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from zhibu_qa.answer.timeref import annotate, relative_words, resolve, time_note
from zhibu_qa.errors import InputError
from zhibu_qa.indexing.userdict import learn_terms, unoverlapped_texts
from zhibu_qa.ingest.archive import (
    IssueFilter,
    apply_issue_filter,
    by_recency,
    collapse_recurring,
    content_key,
    date_bound,
    issue_choices,
    spec_matches,
)
from zhibu_qa.ingest.issuemeta import IssueName, issue_date, name_issue, publication_day
from zhibu_qa.recency import (
    NAMED_BOOST,
    NamedTime,
    RecencyOrder,
    absent_issue,
    absent_issue_note,
    named_issues,
    named_time,
)
from zhibu_qa.types import Chunk, ChunkMeta, Filters, Issue, Segment


def issue(iid, year, number, half=None, day=None, kind="magazine"):
    return Issue(iid, "天津支部生活", f"{iid}.txt", iid, kind, year, number, half, None,
                 issue_date(year, number, half, day))


ISSUES = {i.id: i for i in (issue("zbsh-2024-09b", 2024, 9, "下半月", 15), issue("zbsh-2024-09a", 2024, 9, "上半月"),
                            issue("zbsh-2023-05a", 2023, 5, "上半月"),
                            Issue("doc-1", "中国共产党章程", "c.txt", "s", "document"))}


def test_issue_names_come_from_file_names_in_three_spellings():
    assert name_issue("corpus/tianjin-zhibu-shenghuo-2024-09b.txt") == IssueName(2024, 9, "下半月")
    assert name_issue("扫描/2023年第5期（上半月）.pdf") == IssueName(2023, 5, None)
    assert name_issue("下半月2023年第11期.txt") == IssueName(2023, 11, "下半月")
    assert name_issue("2024-03-01 通知.md") == IssueName(2024, month=3, day=1)
    assert name_issue("cpc-constitution-2017-zh.txt") is None


def test_issue_date_uses_the_masthead_day_else_the_half_month():
    assert publication_day("下半月 2024年第9期\n 每月15日出版") == 15
    assert issue_date(2024, 9, "下半月", 15) == "2024-09-15"
    assert issue_date(2024, 9, "下半月") == "2024-09-16" and issue_date(2024, 9, "上半月") == "2024-09-01"
    assert issue_date(2024, 18) == "2024-09-01"  # numbered 1-24 through the year
    assert issue_date(2024, None) is None and issue_date(None, 9) is None


def test_the_shipped_issue_knows_its_date(parsed_issue):
    i = parsed_issue.issue
    assert (i.id, i.year, i.number, i.half, i.date) == ("zbsh-2024-09b", 2024, 9, "下半月", "2024-09-15")


@pytest.mark.parametrize("text, end, want", [
    ("2024", False, "2024-01-01"), ("2024", True, "2024-12-31"), ("2024-02", True, "2024-02-29"),
    ("2024年9月", False, "2024-09-01"), ("2024-09-15", True, "2024-09-15"), ("2024/9/3", False, "2024-09-03")])
def test_date_bounds_are_inclusive(text, end, want):
    assert date_bound(text, end=end) == want


@pytest.mark.parametrize("bad", ["昨天", "2024-13", "2023-02-30", "24-09"])
def test_bad_dates_are_input_errors(bad):
    with pytest.raises(InputError):
        date_bound(bad, end=False)


def test_issue_filter_checks_its_values():
    with pytest.raises(InputError, match="起始日期"):
        IssueFilter.checked(date_from="2024-10", date_to="2024-09")
    with pytest.raises(InputError, match="年份"):
        IssueFilter.checked(years=["2024"])
    with pytest.raises(InputError, match="期次"):
        IssueFilter.checked(issues=[1])
    assert IssueFilter.checked().empty


def test_issue_names_match_by_id_year_number_and_half():
    target = ISSUES["zbsh-2024-09b"]
    assert all(spec_matches(s, target) for s in ("zbsh-2024-09b", "2024-09b", "2024年第9期", "2024-9", "下半月2024年第9期"))
    assert spec_matches("2024-09-15", target) and not spec_matches("2024-09-01", target)
    assert not any(spec_matches(s, target) for s in ("2024-09a", "2023年第9期", "2024年第10期", "胡乱"))


def test_filters_resolve_to_issue_ids_newest_first_and_intersect():
    f = apply_issue_filter(Filters(columns=("卷首",)), IssueFilter(years=(2024,)), ISSUES)
    assert f.issue_ids == ("zbsh-2024-09b", "zbsh-2024-09a") and f.columns == ("卷首",)
    f = apply_issue_filter(Filters(), IssueFilter.checked(date_from="2023", date_to="2024-09-10"), ISSUES)
    assert f.issue_ids == ("zbsh-2024-09a", "zbsh-2023-05a")  # the undated document never matches a date
    f = apply_issue_filter(Filters(issue_ids=("zbsh-2023-05a",)), IssueFilter(issues=("2023-05a", "2024-09b")), ISSUES)
    assert f.issue_ids == ("zbsh-2023-05a",)
    assert apply_issue_filter(Filters(), IssueFilter(), ISSUES) == Filters()


def test_a_filter_that_selects_no_issue_is_one_clear_error():
    with pytest.raises(InputError, match="没有符合筛选条件.*2030"):
        apply_issue_filter(Filters(), IssueFilter(years=(2030,)), ISSUES)


def test_issues_sort_newest_first_and_documents_last():
    assert [i.id for i in by_recency(ISSUES.values())] == ["zbsh-2024-09b", "zbsh-2024-09a", "zbsh-2023-05a", "doc-1"]
    choices = issue_choices(ISSUES)
    assert choices[0] == ("天津支部生活 2024年第9期（下半月） · 2024-09-15", "zbsh-2024-09b")
    assert choices[-1] == ("中国共产党章程", "doc-1")


@pytest.mark.parametrize("question, named", [
    ("2023年河东区清理了多少块牌子？", NamedTime(2023)),
    ("二〇二三年第五期讲了什么", NamedTime(2023, None, 5)),
    ("9月的要闻有哪些", NamedTime(None, 9)),
    ("下半月刊登了什么", NamedTime(half="下半月")),
    ("河东区清理了多少块牌子？", None),
    ("三个月以来，岁月如歌", None),
])
def test_named_time_finds_years_months_issue_numbers_and_halves(question, named):
    assert named_time(question) == named


def test_named_issues_fit_every_named_part():
    issues = list(ISSUES.values())
    assert named_issues(NamedTime(2024), issues) == {"zbsh-2024-09b", "zbsh-2024-09a"}
    assert named_issues(NamedTime(2024, None, 9, "下半月"), issues) == {"zbsh-2024-09b"}
    assert named_issues(NamedTime(None, 5), issues) == {"zbsh-2023-05a"}


@pytest.mark.parametrize("question, absent", [
    ("2022年第3期讲了什么？", True),  # no such issue in the archive
    ("本刊第11期的特别关注是什么？", True),
    ("2024年第9期的卷首说了什么？", False),  # held
    ("2023年第5期有哪些文章？", False),
    ("2022年第3期培训班有多少人参加？", False),  # a training course, not an issue of the magazine
    ("河东区清理了多少块牌子？", False),
])
def test_a_question_about_an_issue_the_archive_lacks_is_recognised(question, absent):
    assert (absent_issue(question, list(ISSUES.values())) is not None) is absent


def test_the_absent_issue_note_says_what_the_archive_holds():
    note = absent_issue_note(NamedTime(2022, None, 3), list(ISSUES.values()))
    assert "2022年第3期" in note and "共3期" in note and "2023年第5期" in note
    documents_only = [i for i in ISSUES.values() if not i.number]
    assert absent_issue("2022年第3期讲了什么？", documents_only) is None  # no magazine issues: nothing to check


def test_recency_order_puts_the_newest_issue_first_among_close_scores_only():
    order = RecencyOrder(["zbsh-2023-05a", "zbsh-2024-09b", "zbsh-2023-05a"], ISSUES)
    rows, scores = np.array([0, 1, 2]), np.array([0.0330, 0.0328, 0.0200])
    perm, boosted = order.reorder("河东区清理了多少块牌子", rows, scores)
    assert perm.tolist() == [1, 0, 2] and boosted[0] > boosted[1]
    far = np.array([0.0330, 0.0290, 0.0200])  # a clearly better older passage stays first
    assert order.reorder("河东区清理了多少块牌子", rows, far)[0].tolist() == [0, 1, 2]


def test_a_named_time_keeps_that_issue_first():
    order = RecencyOrder(["zbsh-2024-09b", "zbsh-2023-05a"], ISSUES)
    rows, scores = np.array([0, 1]), np.array([0.0330, 0.0328])
    perm, boosted = order.reorder("2023年河东区清理了多少块牌子", rows, scores)
    assert perm.tolist() == [1, 0]
    assert boosted[0] == pytest.approx(0.0328 * (1 + NAMED_BOOST))
    assert order.reorder("2030年的情况", rows, scores)[0].tolist() == [0, 1]  # names no issue: no change


def test_one_dated_issue_changes_nothing():
    order = RecencyOrder(["zbsh-2024-09b", "doc-1"], ISSUES)
    perm, boosted = order.reorder("问题", np.array([1, 0]), np.array([0.5, 0.4]))
    assert perm.tolist() == [0, 1] and boosted.tolist() == [0.5, 0.4] and not order.active


def chunk(cid, text, issue_id, start=0):
    return Chunk(cid, f"{issue_id}-a", issue_id, 0, text, text, (Segment(0, start, len(text)),), len(text))


def meta(day):
    return ChunkMeta("刊物信息", "刊物信息", None, (), "label", day)


def test_recurring_chunks_collapse_to_the_latest_issue():
    chunks = [chunk("a", "编辑部电话 022-23020102", "old"), chunk("b", "编辑部电话\n０２２-23020102", "new"),
              chunk("c", "只在旧刊", "old"), chunk("d", "编辑部电话 022-23020102", "new2")]
    kept, metas, dropped = collapse_recurring(chunks, [meta("2023-05-15"), meta("2024-09-15"), meta("2023-05-15"),
                                                       meta("2024-01-01")])
    assert [c.id for c in kept] == ["b", "c"] and dropped == 2 and metas[0].issue_date == "2024-09-15"
    assert content_key("甲 乙") == content_key("甲乙") != content_key("甲丙")


def test_copies_within_one_issue_all_stay():
    chunks = [chunk("a", "图片说明", "x"), chunk("b", "图片说明", "x")]
    assert collapse_recurring(chunks, [meta("2024-01-01")] * 2)[2] == 0


def test_the_dictionary_learns_quoted_terms_that_recur_within_bounds():
    texts = ["启动“红旗小岗哨”。", "“红旗小岗哨”再次上岗，“蓝衫哨兵队”只出现一次。", "“这是一个超过八个字的长引语啊”“这是一个超过八个字的长引语啊”"]
    assert learn_terms(texts, min_count=2) == ["红旗小岗哨"]
    assert learn_terms(texts)[:2] == ["红旗小岗哨", "蓝衫哨兵队"]
    assert learn_terms([], ["减牌子 挑担子"]) == ["减牌子", "挑担子"]


def test_a_quote_in_the_overlap_of_two_chunks_counts_once():
    first = chunk("a", "甲乙“红旗小岗哨”", "i", 0)
    second = chunk("b", "“红旗小岗哨”丙丁", "i", 2)  # starts inside the first chunk's span
    assert list(unoverlapped_texts([first, second])) == ["甲乙“红旗小岗哨”", "丙丁"]
    assert learn_terms(unoverlapped_texts([first, second]), min_count=2) == []


def test_relative_times_are_resolved_against_the_issue_date():
    assert resolve("今年", __import__("datetime").date(2024, 9, 15)) == "2024年"
    assert relative_words("2023年4月，今年，近日，上个月") == ["今年", "近日", "上个月"]
    assert time_note("今年4月又到了考核的时间", "2024-09-15") == "本期出版于2024年9月：文中“今年”指2024年"
    assert time_note("上月，目前", "2024-01-01") == "本期出版于2024年1月：文中“上月”指2023年12月；“目前”以出版时间为准"
    assert time_note("2023年4月的一天", "2024-09-15") == "" and time_note("今年", "") == ""
    assert annotate("今年4月、去年", "2024-09-15") == "今年（2024年）4月、去年（2023年）"


def test_cli_and_ui_views_name_the_issue_and_explain_relative_times():
    from zhibu_qa.app.formatting import citation_json, format_answer
    from zhibu_qa.app.views import answer_markdown
    from zhibu_qa.types import Answer, Citation

    quote = "今年4月，又到了一年一度绩效考核评估的时间"
    c = Citation(1, "c1", "a1", "群众评议", "特别关注", None, ("张婉妮",), "天津支部生活 2024年第9期（下半月）", quote,
                 10, 10 + len(quote), "zbsh-2024-09b", "2024-09-15", time_note(quote, "2024-09-15"))
    answer = Answer("问", quote + "[1]", False, None, (c,), (), (), "extractive")
    text = format_answer(answer)
    assert "群众评议 · 特别关注 · 张婉妮 · 天津支部生活 2024年第9期（下半月）" in text
    assert "（本期出版于2024年9月：文中“今年”指2024年）" in text
    md = answer_markdown({"question": "问", "answer": answer.text, "refused": False, "citations": [citation_json(c)]})
    assert "2024年第9期" in md and "“今年”指2024年" in md


def test_ui_options_carry_issue_and_date_filters_resolved_against_the_catalogue():
    from types import SimpleNamespace

    from zhibu_qa.app.ui_actions import AskOptions

    catalogue = SimpleNamespace(issues={"zbsh-2024-09b": issue("zbsh-2024-09b", 2024, 9, "b", 15),
                                        "zbsh-2023-05a": issue("zbsh-2023-05a", 2023, 5, "a", 1)})
    opts = AskOptions.checked("extractive", 5, "hybrid", ["特别关注"], None, ["zbsh-2023-05a"], "", "")
    assert opts.filters_in(catalogue) == Filters(("zbsh-2023-05a",), ("特别关注",))
    by_date = AskOptions.checked("extractive", 5, "hybrid", None, None, None, " 2024 ", "2024-12")
    assert by_date.filters_in(catalogue).issue_ids == ("zbsh-2024-09b",)
    assert AskOptions.checked("extractive", 5, "hybrid").filters_in(catalogue) == Filters()
    assert by_date.as_dict()["date_from"] == "2024-01-01"
    with pytest.raises(InputError):
        AskOptions.checked("extractive", 5, "hybrid", None, None, None, "2025", "2024")  # from after to
    with pytest.raises(InputError):
        AskOptions.checked("extractive", 5, "hybrid", None, None, None, "下周", None)
    with pytest.raises(InputError):  # a range no issue falls in
        AskOptions.checked("extractive", 5, "hybrid", None, None, None, "2020", "2021").filters_in(catalogue)
