"""Citation markers and support scores: worked examples and properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhibu_qa.answer.citations import (
    content_chars,
    is_supported,
    parse_markers,
    split_answer_sentences,
    strip_markers,
    support_score,
    validate_markers,
)

# from the shipped issue (和平区 article on street "五权")
PASSAGE = (
    "为了强化街道的统筹协调能力，解决好服务群众的“最后一公里”问题，和平区赋予街道对区直部门的吹哨调度权，"
    "建立问题收集、呼叫启动、分级响应、报到处置、公众反馈、分析研判、考核评价7项机制，明确矛盾排查、服务群众、"
    "综合执法、重点工作和应急处置五个方面43项呼叫情形，创新“红黄蓝”分级响应机制。"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("甲[1]。", [1]),
        ("甲[2]，乙【1】[2, 3]。", [2, 1, 3]),
        ("甲[1,2]乙[1，3]丙[4、5]", [1, 2, 3, 4, 5]),
        ("范围[2-4]和［７］", [2, 3, 4, 7]),
        ("【 3 】", [3]),
        ("没有标注。", []),
        ("不是标注：[a]、[1a]、[]、(1)、2024年", []),
        ("超大范围[1-999]", [1, 999]),
    ],
)
def test_parse_markers_reads_each_marker_style(text, expected):
    assert parse_markers(text) == expected


def test_strip_markers_removes_markers_and_the_space_before_them():
    assert strip_markers("甲是乙 [1]。丙【2】[3,4]。") == "甲是乙。丙。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("甲是乙[1]。丙是丁[2][3]！", [("甲是乙。", (1,)), ("丙是丁！", (2, 3))]),
        # markers after the end punctuation belong to the sentence before them
        ("甲是乙。[1]丙是丁。[2]", [("甲是乙。", (1,)), ("丙是丁。", (2,))]),
        ("甲[1]。[2]乙。", [("甲。", (1, 2)), ("乙。", ())]),
        # a marker in the middle of a sentence belongs to that sentence
        ("和平区[1]赋予街道五权[2]。", [("和平区赋予街道五权。", (1, 2))]),
        ("要点：\n1. 吹哨调度权[1]；\n2. 考核评价权【2】。", [("要点：", ()), ("1. 吹哨调度权；", (1,)), ("2. 考核评价权。", (2,))]),
        ("[3]开头的标注[1]。", [("开头的标注。", (3, 1))]),
        ("重复[1][1]。", [("重复。", (1,))]),
        ("", []),
        ("[1]。", []),
    ],
)
def test_split_answer_sentences_attributes_markers(text, expected):
    assert split_answer_sentences(text) == expected


def test_validate_markers_removes_numbers_without_an_excerpt():
    assert validate_markers("甲[1]乙 [7]。", {1, 2}) == ("甲[1]乙。", [7])
    assert validate_markers("甲[1,9]乙【9、2】。", {1, 2}) == ("甲[1]乙【2】。", [9])
    assert validate_markers("甲[0][3-5]。", {4}) == ("甲[4]。", [0, 3, 5])
    assert validate_markers("甲[1]。", {1}) == ("甲[1]。", [])
    assert validate_markers("甲[1]。", set()) == ("甲。", [1])


def test_content_chars_normalises_width_and_drops_punctuation():
    assert content_chars("２０２４年， 第９期！") == "2024年第9期"
    assert content_chars("“ABC”　ｄｅｆ。") == "abcdef"
    assert content_chars("，。！？ \n") == ""


def test_support_score_worked_examples():
    # copied from the passage (quotes and punctuation differ): fully supported
    assert support_score("和平区赋予街道对区直部门的“吹哨调度权”。", [PASSAGE]) == 1.0
    # close paraphrase: most characters in order
    para = "和平区建立了问题收集、呼叫启动等7项机制，明确了43项呼叫情形。"
    assert 0.8 <= support_score(para, [PASSAGE]) < 1.0
    # fabricated numbers and facts on the same topic: poorly supported
    # (和平区, 街道, 综合执法 are in the passage: 9 of 23 characters)
    assert support_score("和平区在2023年共设立了12个街道综合执法队。", [PASSAGE]) == pytest.approx(9 / 23)
    # nothing cited: no support; no content: no claim
    assert support_score("和平区赋予街道吹哨调度权。", []) == 0.0
    assert support_score("。", []) == 1.0


def test_support_score_ignores_isolated_single_character_matches():
    # every character of the sentence occurs in order in the passage, but never two in a row
    assert support_score("甲乙丙", ["甲x乙x丙"]) == 0.0
    assert support_score("甲乙丙丁", ["甲乙x丙丁"]) == 1.0
    assert support_score("甲", ["x甲x"]) == 1.0  # a one-character sentence needs only itself


def test_support_score_takes_the_union_over_cited_passages():
    sentence = "吹哨调度权和考核评价权"
    one, two = "赋予街道吹哨调度权。", "以及和考核评价权。"
    assert support_score(sentence, [one]) == pytest.approx(5 / 11)
    assert support_score(sentence, [two]) == pytest.approx(6 / 11)
    assert support_score(sentence, [one, two]) == pytest.approx(11 / 11)


def test_support_score_is_order_sensitive_like_a_subsequence():
    assert support_score("丙丁甲乙", ["甲乙丙丁"]) == 0.5


def test_is_supported_threshold():
    assert is_supported(0.5) and is_supported(1.0)
    assert not is_supported(0.49)
    assert is_supported(0.3, threshold=0.3) and not is_supported(0.3, threshold=0.31)


# --- properties ---

CHARS = "的是党员工作基层治理和平区街道权力吹哨报到一二三2024AbＣ"
PUNCT = "，。！？、“” "
texts = st.text(alphabet=CHARS + PUNCT, max_size=60)


@settings(max_examples=200, deadline=None)
@given(passage=texts, data=st.data())
def test_a_sentence_taken_from_a_passage_is_fully_supported(passage, data):
    i = data.draw(st.integers(0, len(passage)))
    j = data.draw(st.integers(i, len(passage)))
    others = data.draw(st.lists(texts, max_size=2))
    assert support_score(passage[i:j], [*others, passage]) == 1.0


@settings(max_examples=200, deadline=None)
@given(sentence=texts, passages=st.lists(texts, max_size=3), extra=texts)
def test_support_score_is_in_unit_interval_and_citing_more_never_lowers_it(sentence, passages, extra):
    score = support_score(sentence, passages)
    assert 0.0 <= score <= 1.0
    assert support_score(sentence, [*passages, extra]) >= score


pieces = st.sampled_from(["甲是乙", "丙", "党员", "。", "！", "？", "；", "\n", "，", " ", "“", "”", "】", "（"])
markers = st.lists(st.integers(0, 12), min_size=1, max_size=3).flatmap(
    lambda ns: st.sampled_from([
        "[" + ",".join(map(str, ns)) + "]",
        "【" + "、".join(map(str, ns)) + "】",
        " [" + ", ".join(map(str, ns)) + "]",
    ])
)
answers = st.lists(st.one_of(pieces, markers), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(answers)
def test_split_answer_sentences_keeps_every_marker_and_removes_them_from_text(text):
    sentences = split_answer_sentences(text)
    for sentence, cited in sentences:
        assert parse_markers(sentence) == []
        assert sentence.strip() == sentence and sentence
        assert len(set(cited)) == len(cited)
    if sentences:
        assert {n for _, cited in sentences for n in cited} == set(parse_markers(text))


@settings(max_examples=300, deadline=None)
@given(answers, st.sets(st.integers(0, 12)))
def test_validate_markers_leaves_only_valid_numbers(text, valid):
    cleaned, removed = validate_markers(text, valid)
    assert set(parse_markers(cleaned)) == set(parse_markers(text)) & valid
    assert set(removed) == set(parse_markers(text)) - valid
    assert strip_markers(cleaned) == strip_markers(text)
    if not removed:
        assert cleaned == text
