"""Untrusted text stays inert: Markdown/HTML neutralising, the lesson outline, request checks, feedback.

Pure functions and small objects only (no model, no server); the browser test checks the same in
every tab of the real page.
"""

from __future__ import annotations

import json

import pytest

from zhibu_qa.app.feedback import RecentAnswers, append_feedback, read_feedback
from zhibu_qa.app.ui_actions import AskOptions, checked_history
from zhibu_qa.errors import InputError
from zhibu_qa.lessons import Lesson, LessonPoint, LessonQuote, check_topic, lesson_markdown
from zhibu_qa.markup import escape_md, neutralise_md
from zhibu_qa.types import Citation

HOSTILE = '<img src=x onerror=alert(1)><a href="http://evil.example">点此</a><script>alert(2)</script>'
LIVE = ("<img", "<a ", "<script", "](http", "http://", "www.", "@evil")


def _cite(n: int, title: str, quote: str) -> Citation:
    return Citation(n=n, chunk_id="c", article_id="a", article_title=title, column="专栏" + HOSTILE,
                    section="节" + HOSTILE, authors=("王五" + HOSTILE,), issue="期", quote=quote, char_start=0,
                    char_end=len(quote))


def test_neutralise_md_defuses_tags_links_images_and_autolinks():
    text = neutralise_md(HOSTILE + " ![i](http://e.cn/p.png) [l](https://e.cn) www.e.cn a@b.cn `code`")
    for live in ("<img", "<a ", "<script", "![i](", "[l](", "https://", "http://", "www.", "a@b"):
        assert live not in text, live
    assert "点此" in text and "alert(2)" in text  # the words stay readable


def test_escape_md_stops_autolinks_without_mangling_the_address():
    assert escape_md("https://e.cn/a") == r"https\://e\.cn/a"
    assert escape_md("a@b.cn") == r"a\@b\.cn"


def test_lesson_markdown_neutralises_every_source_and_user_string():
    quote = "紫藤学习社" + HOSTILE + "访问 https://evil.example/join 或 www.evil.example"
    point = LessonPoint("要点" + HOSTILE, (LessonQuote(_cite(1, "题" + HOSTILE, quote), quote),))
    lesson = Lesson(topic="主题" + HOSTILE, points=(point,), related=("延伸" + HOSTILE,),
                    questions=("讨论" + HOSTILE + "？",), date="2024年9月16日", sources=("期" + HOSTILE,),
                    n_articles=1, warning="知识库中与该主题相关的内容较少" + HOSTILE)
    md = lesson_markdown(lesson)
    for live in LIVE:
        assert live not in md, live
    assert md.count("&lt;img") == 12 and "[1]" in md  # our own markers survive


@pytest.mark.parametrize("topic, message", [("", "备课主题为空"), ("  ？ ", "备课主题为空"), ("题" * 101, "备课主题过长")])
def test_lesson_topics_get_lesson_specific_messages(topic, message):
    with pytest.raises(InputError, match=message):
        check_topic(topic)


@pytest.mark.parametrize("args, message", [
    (("extractive", 5, "naive"), "检索方式"), (("extractive", 0, "hybrid"), "参考段落数"),
    (("extractive", 21, "hybrid"), "参考段落数"), (("extractive", -5, "hybrid"), "参考段落数"),
    (("extractive", "5", "hybrid"), "参考段落数"), (("extractive", True, "hybrid"), "参考段落数"),
    (("gpt", 5, "hybrid"), "回答方式"), (("extractive", 5, "hybrid", "栏目"), "栏目"),
    (("extractive", 5, "hybrid", None, [1]), "文章"),
])
def test_ask_options_outside_the_ui_are_refused(args, message):
    with pytest.raises(InputError, match=message):
        AskOptions.checked(*args)


def test_ask_options_the_ui_offers_are_accepted():
    assert AskOptions.checked("openai", 20, "bm25", ["特别关注"], None) == AskOptions("openai", 20, "bm25", ("特别关注",))
    assert AskOptions.checked("extractive", 3.0, "dense").k == 3


def test_history_must_be_pairs_of_text():
    assert checked_history([["q", "a"]])[0].question == "q"
    for bad in ([["q"]], [["q", 1]], "qa", [["q", "a"]] * 21, [["q", "长" * 5000]]):
        with pytest.raises(InputError):
            checked_history(bad)


def test_recent_answers_know_only_what_they_issued_and_forget_the_oldest():
    answers = RecentAnswers(capacity=2)
    first = answers.issue({"question": "一"}, {"mode": "hybrid"})
    second, third = answers.issue({"question": "二"}), answers.issue({"question": "三"})
    assert answers.get(second)[0]["question"] == "二" and answers.get(third)[1] == {}
    for unknown in (first, "0" * 32, None, {"answer_id": second}):
        with pytest.raises(InputError, match="找不到这条回答"):
            answers.get(unknown)


def test_feedback_file_rotates_by_size(tmp_path):
    path = tmp_path / "feedback.jsonl"
    record = {"rating": "up", "question": "问" * 100}
    size = len((json.dumps(record, ensure_ascii=False) + "\n").encode())
    for _ in range(7):
        append_feedback(path, record, max_bytes=size * 3, keep=2)
    assert len(read_feedback(path)) == 1  # 3 + 3 rotated away, 1 in the live file
    assert len(read_feedback(tmp_path / "feedback.jsonl.1")) == 3
    assert len(read_feedback(tmp_path / "feedback.jsonl.2")) == 3
    assert not (tmp_path / "feedback.jsonl.3").exists()


def test_an_oversized_feedback_record_is_refused(tmp_path):
    with pytest.raises(InputError):
        append_feedback(tmp_path / "f.jsonl", {"comment": "长" * 200_000})
    assert not (tmp_path / "f.jsonl").exists()


def test_only_admin_users_manage_the_library_when_login_is_on():
    from zhibu_qa.app.ui_library import is_admin, stored_name
    from zhibu_qa.config import Settings

    assert is_admin(Settings(), None), "without a login the local user manages the knowledge base"
    login = Settings(auth_user="reader", auth_password="p", admin_users=("boss",))
    assert not is_admin(login, "reader") and not is_admin(login, None) and is_admin(login, "boss")
    assert stored_name("../第9期 (下).txt") == "第9期_下.txt" and stored_name("<img>.MD") == "img.md"
