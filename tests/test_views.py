"""Fast unit tests of the UI's pure parts: escaping views, feedback log, small UI actions (no gradio)."""

from __future__ import annotations

import json

import pytest

from zhibu_qa.app.feedback import append_feedback, feedback_record, read_feedback
from zhibu_qa.app.ui_actions import auth_pair, find_citation, history_of, plain_answer, safe_stem
from zhibu_qa.app.views import (
    answer_markdown,
    article_html,
    chat_messages,
    error_html,
    escape_md,
    exception_html,
    hits_html,
    locate,
    passage_html,
)
from zhibu_qa.config import Settings
from zhibu_qa.errors import ConfigError, IndexMismatchError, InputError
from zhibu_qa.types import Article, Paragraph, Section, Segment

CITATION = {"n": 1, "chunk_id": "c1", "article_id": "a1", "article_title": "念好放权赋能“治理经”",
            "column": "特别关注", "section": None, "authors": ["郜敏"], "issue": "天津支部生活 2024年第9期",
            "quote": "五权", "char_start": 3, "char_end": 5}


def answer(**kw):
    base = {"question": "问？", "answer": "甲乙。<script>x</script>[1]", "refused": False, "refusal_kind": None,
            "citations": [CITATION], "sentences": [], "hits": [], "notices": [], "suggestions": []}
    return {**base, **kw}


def test_escape_md_keeps_html_and_markdown_literal():
    assert escape_md("<b>**x**</b>") == r"&lt;b&gt;\*\*x\*\*&lt;/b&gt;"
    assert escape_md("[link](http://evil)") == r"\[link\]\(http\://evil\)"


def test_answer_markdown_escapes_model_text_and_lists_citations():
    md = answer_markdown(answer())
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "【1】念好放权赋能“治理经” · 特别关注 · 郜敏" in md


def test_unsupported_sentences_are_visibly_marked():
    md = answer_markdown(answer(answer="甲句。乙句。", sentences=[
        {"text": "甲句。", "citations": [1], "support": 0.9, "supported": True},
        {"text": "乙句。", "citations": [1], "support": 0.1, "supported": False}]))
    assert '<span class="zq-unsupported"' in md and "（⚠依据不足）" in md
    assert md.index("甲句") < md.index("zq-unsupported")


def test_refusals_show_the_suggested_articles():
    md = answer_markdown(answer(refused=True, answer="没有找到。", citations=[], suggestions=["甲文<i>"]))
    assert "未作答" in md and "《甲文&lt;i&gt;》" in md and "引用来源" not in md


def test_chat_messages_pair_questions_and_answers_and_show_progress():
    msgs = chat_messages([{"question": "问一", "answer": answer()}], ("问二", ""))
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[-1]["content"] == "正在检索……"


def test_passage_html_marks_the_quote_in_escaped_context():
    source = "前文<b>" + "五权" + "后文&" + "x" * 400
    html = passage_html(source, 5, 7, "【1】标题")
    assert "<mark>五权</mark>" in html
    assert "前文&lt;b&gt;" in html and "后文&amp;" in html
    assert html.count("x") < 200  # only ~150 characters of context on each side


def _article() -> Article:
    paras = (Paragraph("第一段。", (Segment(0, 100, 4),)), Paragraph("第二段<含>五权。", (Segment(0, 110, 9),)))
    return Article("a1", "i1", "标题<x>", "栏目", ("作者",), (Section(None, paras[:1]), Section("小节", paras[1:])),
                   100, 119)


def test_locate_and_article_html_anchor_and_mark_the_cited_span():
    art = _article()
    assert locate(art, 116, 118) == (1, 1 - 1, 6, 8)
    html = article_html(art, "某期", locate(art, 116, 118))
    assert '<section id="zq-sec-1">' in html and '<a href="?article=a1&amp;section=1">小节</a>' in html
    assert '<p id="zq-target" class="zq-target">第二段&lt;含&gt;<mark>五权</mark>。</p>' in html
    assert "标题&lt;x&gt;" in html
    assert locate(art, 5000) is None


def test_hits_html_shows_scores_escaped():
    html = hits_html([{"rank": 1, "score": 0.5, "dense_score": 0.8, "bm25_score": None, "article_title": "T<",
                       "column": None, "section": "S", "text": "正文<br>"}])
    assert "综合 0.5000" in html and "向量 0.8000" in html and "BM25 —" in html
    assert "T&lt; · S" in html and "正文&lt;br&gt;" in html


def test_error_panels_are_chinese_and_escaped():
    html = exception_html(IndexMismatchError("built with model X <old>"))
    assert "索引损坏" in html and "&lt;old&gt;" in html and "zhibu-qa index --rebuild" in html
    assert "<li>第 3 行</li>" in error_html("评测数据集有问题", problems=["第 3 行"])


def test_feedback_record_is_appended_as_one_json_line(tmp_path):
    path = tmp_path / "new" / "feedback.jsonl"
    append_feedback(path, feedback_record("up", answer(), " 很好 ", {"backend": "extractive"}))
    append_feedback(path, feedback_record("down", answer(question="问二")))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert (first["rating"], first["comment"], first["settings"]) == ("up", "很好", {"backend": "extractive"})
    assert first["citations"] == [CITATION] and first["time"]
    assert [r["question"] for r in read_feedback(path)] == ["问？", "问二"]


@pytest.mark.parametrize("rating, ans, comment", [("meh", answer(), ""), ("up", {"question": ""}, ""),
                                                  ("up", answer(), "长" * 1001)])
def test_bad_feedback_is_an_input_error(rating, ans, comment):
    with pytest.raises(InputError):
        feedback_record(rating, ans, comment)


def test_small_ui_actions():
    conv = [{"question": "问", "answer": answer()}]
    assert find_citation(conv, "0:1") == CITATION
    assert find_citation(conv, "3:1") is None and find_citation(conv, None) is None
    assert history_of(conv)[0].answer == answer()["answer"]
    assert plain_answer(answer()).endswith("【1】念好放权赋能“治理经” · 特别关注 · 郜敏 · 天津支部生活 2024年第9期")
    assert safe_stem("为基层减负/../党建?") == "为基层减负党建"


def test_login_needs_both_user_and_password():
    assert auth_pair(Settings()) is None
    assert auth_pair(Settings(auth_user="u", auth_password="p")) == ("u", "p")
    with pytest.raises(ConfigError):
        auth_pair(Settings(auth_user="u"))


def test_startup_reports_a_missing_model_as_a_chinese_error_panel(tmp_path):
    from conftest import CORPUS

    from zhibu_qa.app.ui_actions import NotReady, Startup
    from zhibu_qa.errors import ModelError, ZhibuError
    from zhibu_qa.pipeline import Pipeline

    settings = Settings(index_dir=str(tmp_path / "index"), embedding_model=str(tmp_path / "no-model"),
                        corpus_paths=(str(CORPUS),))
    startup = Startup(Pipeline(settings), log_fn=lambda s: None)
    with pytest.raises(NotReady, match="正在准备"):
        startup.check()
    startup.run()
    assert startup.state == "error" and isinstance(startup.error, ModelError)
    assert "无法加载向量模型" in startup.error_panel()
    with pytest.raises(ZhibuError):
        startup.check()


def test_benchmark_tables_from_report_files():
    from zhibu_qa.app.views import metrics_table, results_table

    summary = {"configs": {"hybrid": {"overall": {"n": 2, "hit@3": 0.5, "latency_p50_ms": 812.4, "by": {}}},
                           "bm25": {"overall": {"n": 2, "hit@3": None}}}}
    assert metrics_table(summary) == (["指标", "hybrid", "bm25"], [["题数 (n)", "2", "2"], ["检索命中率@3 (hit@3)", "0.500", "—"],
                                                                  ["延迟中位数（毫秒） (latency_p50_ms)", "812", "—"]])
    headers, rows = results_table([{"id": "q1", "config": "hybrid", "type": "number", "question": "问",
                                    "answer": "答 " * 100, "refused": False, "metrics": {"hit@3": 1.0}}])
    assert headers[:6] == ["编号", "配置", "类型", "问题", "回答", "拒答"] and headers[6] == "检索命中率@3 (hit@3)"
    assert rows[0][5] == "否" and rows[0][4].endswith("…") and rows[0][6] == "1.000"
