"""Benchmark metrics: hand-computed worked examples, the docstring examples, and properties."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zhibu_qa.evaluation import metrics as m
from zhibu_qa.types import Citation

# --- retrieval -------------------------------------------------------------------------------


def test_hit_at_k_counts_only_the_first_k_titles():
    ranked = ["甲", "乙", "丙"]
    assert m.hit_at_k(ranked, ["丙"], 2) == 0.0
    assert m.hit_at_k(ranked, ["丙"], 3) == 1.0
    assert m.hit_at_k(ranked, ["丙"], 10) == 1.0


def test_hit_at_k_matches_titles_tolerantly():
    ranked = ["减牌子 挑担子 服务群众有『里子』"]
    assert m.hit_at_k(ranked, ["减牌子挑担子服务群众有“里子”"], 1) == 1.0
    assert m.hit_at_k(["社区治理的 新路径"], ["社区治理的新路径"], 1) == 1.0  # title broken over lines


def test_compare_questions_hit_on_any_gold_title_and_all_hit_needs_every_one():
    ranked = ["甲", "戊", "乙"]
    assert m.hit_at_k(ranked, ["甲", "乙"], 1) == 1.0
    assert m.all_hit_at_k(ranked, ["甲", "乙"], 1) == 0.0
    assert m.all_hit_at_k(ranked, ["甲", "乙"], 2) == 0.0
    assert m.all_hit_at_k(ranked, ["甲", "乙"], 3) == 1.0


def test_reciprocal_rank_is_one_over_the_first_gold_position():
    assert m.reciprocal_rank(["戊", "己", "甲", "甲"], ["甲"]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["戊", "己"], ["甲"]) == 0.0
    assert m.first_gold_rank(["戊", "己", "甲"], ["甲"]) == 3
    assert m.first_gold_rank(["戊"], ["甲"]) is None


def test_metrics_reject_bad_k_and_missing_gold():
    with pytest.raises(ValueError, match="k must be at least 1"):
        m.hit_at_k(["甲"], ["甲"], 0)
    with pytest.raises(ValueError, match="no gold titles"):
        m.reciprocal_rank(["甲"], [])
    with pytest.raises(ValueError, match="no gold key facts"):
        m.key_fact_recall("甲", [])


def test_section_hit_needs_title_and_heading_and_none_means_the_lead():
    ranked = [("甲", None), ("乙", "二、做法"), ("甲", "二、 做法")]
    assert m.section_hit_at_k(ranked, ["甲"], [None], 1) == 1.0
    assert m.section_hit_at_k(ranked, ["甲"], ["二、做法"], 1) == 0.0
    assert m.section_hit_at_k(ranked, ["甲"], ["二、做法"], 2) == 0.0  # right heading, wrong article
    assert m.section_hit_at_k(ranked, ["甲"], ["二、做法"], 3) == 1.0  # tolerant heading match
    assert m.section_hit_at_k([("乙", None)], ["甲"], [None], 1) == 0.0


def test_evidence_hit_uses_normalised_containment_in_the_top_k_texts():
    texts = ["甲乙丙", "党支部坚持“三会一课”制度，共有党员1200名。"]
    evidence = ["坚持「三会一课」\n制度"]
    assert m.evidence_hit_at_k(texts, evidence, 1) == 0.0
    assert m.evidence_hit_at_k(texts, evidence, 2) == 1.0
    assert m.evidence_hit_at_k(texts, ["不在其中", "１２００名"], 2) == 1.0


# --- answers ---------------------------------------------------------------------------------


def test_key_fact_recall_worked_example():
    answer = "党支部共有党员１２００名，坚持三会一课。"
    facts = ["1200名", "“三会一课”", "主题党日"]
    assert m.key_fact_recall(answer, facts) == pytest.approx(2 / 3)
    assert m.missing_key_facts(answer, facts) == ["主题党日"]


def test_char_f1_worked_example_uses_cmrc_longest_common_substring():
    # pred segments 共 有 党 员 1200 名 (6), ref 1200 名 党 员 (4); longest common run = 2
    # P = 2/6, R = 2/4, F1 = 2PR/(P+R) = 0.4
    assert m.char_f1("共有党员1200名", "1200名党员") == pytest.approx(0.4)
    assert m.char_f1("党员大会", "支部党员大会") == pytest.approx(0.8)


def test_numbers_are_single_tokens_in_char_f1():
    assert m.answer_segments("共 12.5 万名党员, GDP") == ["共", "12.5", "万", "名", "党", "员", "gdp"]
    assert m.char_f1("2023", "2024") == 0.0


def test_rouge_l_chars_worked_example():
    # 共有党员1200名 (9 chars) vs 1200名党员 (7); LCS "1200名" = 5; P = 5/9, R = 5/7 -> F1 = 0.625
    assert m.rouge_l_chars("共有党员1200名", "1200名党员") == pytest.approx(0.625)
    assert m.rouge_l_chars("党的大会", "党员大会") == pytest.approx(0.75)


def test_exact_match_ignores_punctuation_whitespace_and_width():
    assert m.exact_match("“三会一课”。", "三会一课") == 1.0
    assert m.exact_match(" 第 ９ 期 ", "第9期") == 1.0
    assert m.exact_match("三会一课制度", "三会一课") == 0.0


def test_empty_answers_follow_the_cmrc_convention():
    assert m.char_f1("", "") == 1.0
    assert m.char_f1("。！", "") == 1.0
    assert m.char_f1("甲", "") == 0.0
    assert m.rouge_l_chars("", "甲") == 0.0


# --- citations, grounding, refusal -----------------------------------------------------------


def _citation(quote: str, start: int, end: int, article_id: str = "a1") -> Citation:
    return Citation(n=1, chunk_id="c", article_id=article_id, article_title="甲", column=None, section=None,
                    authors=(), issue="期", quote=quote, char_start=start, char_end=end)


def test_cites_gold_and_citation_precision():
    assert m.cites_gold(["戊", "甲 文"], ["甲文"]) == 1.0
    assert m.cites_gold([], ["甲"]) == 0.0
    assert m.citation_precision(["甲", "乙", "甲", "丙"], ["甲"]) == 0.5
    assert m.citation_precision([], ["甲"]) == 0.0


def test_quote_validity_checks_exact_offsets_in_the_source():
    sources = {"a1": "甲乙丙丁"}
    citations = [
        _citation("乙丙", 1, 3),  # valid
        _citation("乙丙", 0, 2),  # wrong offsets
        _citation("乙丙", 1, 3, article_id="unknown"),  # no source text
    ]
    assert m.quote_validity(citations, sources) == pytest.approx(1 / 3)
    assert m.quote_validity(citations[:1], lambda c: sources.get(c.article_id)) == 1.0
    assert m.quote_validity([], sources) is None
    assert m.quote_validity([_citation("", 1, 1)], sources) == 0.0


def test_groundedness_is_the_mean_support():
    assert m.groundedness([1.0, 0.5, 0.0]) == 0.5
    assert m.groundedness([]) is None


def test_refusal_scores_worked_example():
    refused = [True, True, False, False, True]
    answerable = [False, True, True, False, False]
    # refusals of unanswerable: items 0 and 4; unanswerable: 0, 3, 4; answerable refused: item 1 of 2
    scores = m.refusal_scores(refused, answerable)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["false_refusal_rate"] == 0.5


def test_refusal_scores_undefined_parts_are_none():
    none_refused = m.refusal_scores([False, False], [True, False])
    assert none_refused == {"precision": None, "recall": 0.0, "f1": 0.0, "false_refusal_rate": 0.0}
    all_answerable = m.refusal_scores([True, False], [True, True])
    assert all_answerable["recall"] is None and all_answerable["f1"] is None
    assert all_answerable["precision"] == 0.0 and all_answerable["false_refusal_rate"] == 0.5
    with pytest.raises(ValueError):
        m.refusal_scores([True], [True, False])


def test_percentile_worked_examples():
    assert m.percentile([10, 20, 30, 40], 50) == 25.0
    assert m.percentile(list(range(1, 21)), 95) == pytest.approx(19.05)
    assert m.percentile([7], 95) == 7.0
    with pytest.raises(ValueError):
        m.percentile([], 50)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0, 100))
def test_percentile_agrees_with_numpy(values, p):
    assert m.percentile(values, p) == pytest.approx(float(np.percentile(values, p)), abs=1e-6)


def test_aggregate_means_skip_none_and_break_down_by_type():
    rows = [
        {"type": "factoid", "answerable": True, "refused": False, "hit@1": 1.0, "key_fact_recall": 0.5,
         "latency_ms": 100.0},
        {"type": "factoid", "answerable": True, "refused": True, "hit@1": 0.0, "key_fact_recall": 0.0,
         "latency_ms": 300.0},
        {"type": "unanswerable", "answerable": False, "refused": True, "hit@1": None,
         "key_fact_recall": None, "latency_ms": 200.0},
    ]
    agg = m.aggregate(rows)
    overall = agg["overall"]
    assert overall["n"] == 3 and overall["n_answerable"] == 2 and overall["n_refused"] == 2
    assert overall["hit@1"] == 0.5
    assert overall["key_fact_recall"] == 0.25
    assert overall["mrr"] is None  # no row has it
    assert overall["refusal_precision"] == 0.5 and overall["refusal_recall"] == 1.0
    assert overall["false_refusal_rate"] == 0.5
    assert overall["latency_p50_ms"] == 200.0 and overall["latency_mean_ms"] == 200.0
    assert list(agg["by_type"]) == ["factoid", "unanswerable"]
    assert agg["by_type"]["unanswerable"]["hit@1"] is None
    assert agg["by_type"]["unanswerable"]["refusal_recall"] == 1.0
    assert set(m.AGGREGATE_METRICS) <= set(overall)


# --- docstring examples and properties -------------------------------------------------------

_EXAMPLE_RE = re.compile(r"Example: (.+)")


def _examples() -> list[tuple[str, str]]:
    found = []
    for name, fn in inspect.getmembers(m, inspect.isfunction):
        if fn.__module__ != m.__name__:
            continue
        for expr in _EXAMPLE_RE.findall(inspect.getdoc(fn) or ""):
            if "..." not in expr:
                found.append((name, expr))
    return found


@pytest.mark.parametrize(("name", "expr"), _examples(), ids=[name for name, _ in _examples()])
def test_docstring_example_holds(name, expr):
    namespace = {n: getattr(m, n) for n in dir(m)}
    assert eval(expr, namespace), f"{name}: {expr}"


_TEXT = st.text(alphabet=st.sampled_from(list("党员支部三会一课制度，。、“”『』 \n０１2３abcXYZ.-")), max_size=30)
_ANY_TEXT = st.one_of(_TEXT, st.text(max_size=20))


@given(_ANY_TEXT, _ANY_TEXT)
def test_f1_and_rouge_are_between_zero_and_one_and_symmetric(a, b):
    for metric in (m.char_f1, m.rouge_l_chars):
        value = metric(a, b)
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(metric(b, a))


@given(_ANY_TEXT)
def test_identical_strings_score_one(text):
    assert m.char_f1(text, text) == 1.0
    assert m.rouge_l_chars(text, text) == 1.0
    assert m.exact_match(text, text) == 1.0


@given(_TEXT, _TEXT)
def test_exact_match_implies_full_f1(a, b):
    if m.exact_match(a, b):
        assert m.char_f1(a, b) == 1.0 and m.rouge_l_chars(a, b) == 1.0


@given(_TEXT, _TEXT, _TEXT)
def test_an_answer_containing_the_fact_recalls_it(before, fact, after):
    if m.normalize_answer(fact):
        assert m.key_fact_recall(before + fact + after, [fact]) == 1.0


@given(st.lists(st.sampled_from("甲乙丙丁戊"), max_size=12), st.sampled_from("甲乙丙"), st.integers(1, 12))
def test_hit_at_k_is_monotone_in_k(ranked, gold, k):
    assert m.hit_at_k(ranked, [gold], k) <= m.hit_at_k(ranked, [gold], k + 1)
    assert m.all_hit_at_k(ranked, [gold], k) == m.hit_at_k(ranked, [gold], k)
