"""Asked answer shapes: what a question wants and whether a passage holds it."""

from __future__ import annotations

import re

import pytest

from zhibu_qa.extractive import _unglue, quantity_pattern, question_terms
from zhibu_qa.shapes import ADDRESS_ASK_RE, PERSON_ASK_RE, focus, missing_shape, shape_test


@pytest.mark.parametrize(("question", "text", "missing"), [
    ("建了多少套人才公寓？", "人才公寓环境很好。", "数字"),
    ("建了多少套人才公寓？", "共建成人才公寓 120 套。", None),
    ("陶艺研学每人收费多少？", "研学很受欢迎，来了3000余人。", "金额"),
    ("陶艺研学每人收费多少？", "每人收费80元。", None),
    ("民宿住一晚多少钱？", "民宿生意很好。", "金额"),
    ("纪念馆在哪里？", "地委机关设在南京路义庆里 20 号。", "地址"),
    ("纪念馆在哪里？", "纪念馆位于南京路义庆里 20 号。", None),
    ("盒子花的传承人叫什么名字？", "“盒子花”已有260余年的历史。", "人名"),
    ("盒子花的传承人叫什么名字？", "“盒子花”传承人王某介绍。", None),
    ("这篇文章的作者是谁？", "文 / 本刊记者 李圆圆", None),
    ("和平区怎么给基层减负？", "随便一句话。", None),  # nothing specific asked
])
def test_missing_shape(question, text, missing):
    assert missing_shape(question, text) == missing


def test_asked_about_word_skips_demonstratives():
    assert focus("这个社区的党委书记叫什么名字？", PERSON_ASK_RE) == "党委书记"
    assert focus("李季达烈士纪念馆在哪里？", ADDRESS_ASK_RE) == "纪念馆"
    assert focus("北辰区“网约车司机之家”的具体地址在哪？", ADDRESS_ASK_RE) == "具体地址"
    assert focus("这篇是哪位部长写的？", PERSON_ASK_RE) is None


def test_shape_test_is_none_when_nothing_specific_is_asked():
    assert shape_test("为什么要给基层减负？") is None
    test = shape_test("服务了多少位老人？")
    assert test("已为3900余名老人提供服务") and not test("老人很满意")


def test_a_lone_yi_is_not_a_quantity():
    pattern = re.compile(quantity_pattern("个"))
    assert not pattern.search("打造出一个个过硬支部")
    assert pattern.search("打造105个项目") and pattern.search("十一个社区") and pattern.search("三个区分开来")


def test_jieba_glued_function_characters_are_stripped():
    assert _unglue("傅茂公是") == "傅茂公"
    assert _unglue("减负") == "减负"  # dictionary words are left alone
    assert "傅茂公" in question_terms("文中提到的傅茂公是谁？")


def test_where_of_an_event_does_not_ask_for_an_address():
    assert missing_shape("李季达被捕后关在哪里？", "两人分别被关进男囚室和女囚室。") is None
    assert missing_shape("纪念馆在哪里？", "纪念馆很受欢迎。") == "地址"
