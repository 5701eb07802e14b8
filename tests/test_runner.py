"""Benchmark runner: per-question rows from hand-built answers, aggregation, progress, floors.

The fakes here (hand-built Chunk/Hit/Citation/Answer objects and two answer functions, "good" and
"bad") are also used by test_report.py.
"""

from __future__ import annotations

import json

import pytest

from zhibu_qa.errors import ConfigError
from zhibu_qa.evaluation import metrics as m
from zhibu_qa.evaluation.runner import (
    ROW_KEYS,
    BenchmarkResult,
    compare_to_floors,
    load_floors,
    run_benchmark,
    score_case,
)
from zhibu_qa.types import Answer, AnswerSentence, Chunk, ChunkMeta, Citation, EvalCase, Hit, Segment

SOURCE = (
    "甲文\n社区党委坚持“三会一课”制度，共有党员1200名。\n二、做法\n每月开展主题党日活动。\n"
    "乙文\n乙文讲述志愿服务。\n"
)
ARTICLE_IDS = {"甲文": "a1", "乙文": "a2"}
LOOKUP = {"a1": SOURCE, "a2": SOURCE}

CASES = (
    EvalCase(id="c1", question="社区有多少党员？", type="factoid", answerable=True, gold_article=("甲文",),
             gold_section=(None,), evidence=("共有党员1200名",), answer="1200名", key_facts=("1200名",), line=1),
    EvalCase(id="c2", question="社区有几个食堂？", type="unanswerable", answerable=False, gold_article=(),
             gold_section=(), evidence=(), answer="", key_facts=(), line=2),
    EvalCase(id="c3", question="两篇文章分别讲什么？", type="compare", answerable=True,
             gold_article=("甲文", "乙文"), gold_section=(), evidence=("志愿服务",), answer="三会一课和志愿服务",
             key_facts=("三会一课", "志愿服务"), line=3),
)


def hit(title: str, text: str, rank: int, section: str | None = None) -> Hit:
    start = SOURCE.index(text)
    chunk = Chunk(id=f"{title}-{rank}", article_id=ARTICLE_IDS.get(title, "x"), issue_id="i1", section_index=0,
                  text=text, embed_text=f"{title}\n{text}", segments=(Segment(0, start, len(text)),),
                  n_tokens=len(text))
    meta = ChunkMeta(article_title=title, column=None, section=section, authors=(), issue="测试期")
    return Hit(chunk=chunk, meta=meta, score=1.0 / rank, rank=rank)


def citation(n: int, title: str, quote: str, shift: int = 0) -> Citation:
    start = SOURCE.index(quote) + shift
    return Citation(n=n, chunk_id="c", article_id=ARTICLE_IDS[title], article_title=title, column=None,
                    section=None, authors=(), issue="测试期", quote=quote, char_start=start,
                    char_end=start + len(quote))


def answer(text: str, hits=(), citations=(), supports=(), refused=False, latency_ms=0.0, kind=None) -> Answer:
    sentences = tuple(AnswerSentence(text=text, citations=(), support=s) for s in supports)
    kind = kind or ("not_covered" if refused else None)
    return Answer(question="q", text=text, refused=refused, refusal_kind=kind,
                  citations=tuple(citations), sentences=sentences, hits=tuple(hits), backend="fake",
                  latency_ms=latency_ms)


LEAD = "社区党委坚持“三会一课”制度，共有党员1200名。"
METHOD = "每月开展主题党日活动。"
OTHER = "乙文讲述志愿服务。"


def good(case: EvalCase) -> Answer:
    if case.id == "c1":
        return answer("该社区共有党员1200名。", [hit("甲文", LEAD, 1), hit("乙文", OTHER, 2)],
                      [citation(1, "甲文", "共有党员1200名")], [1.0], latency_ms=100.0)
    if case.id == "c2":
        return answer("资料中没有相关内容。", [hit("乙文", OTHER, 1)], refused=True, latency_ms=50.0)
    return answer("甲文强调三会一课，乙文讲述志愿服务。", [hit("甲文", LEAD, 1), hit("乙文", OTHER, 2)],
                  [citation(1, "甲文", "三会一课"), citation(2, "乙文", "志愿服务")], [1.0, 0.5], latency_ms=150.0)


def bad(case: EvalCase) -> Answer:
    if case.id == "c1":  # latency 0: the runner measures it
        return answer("资料中没有相关内容。", [hit("乙文", OTHER, 1)], refused=True)
    if case.id == "c2":
        return answer("有100个。", [hit("甲文", LEAD, 1)], [citation(1, "甲文", "三会一课", shift=1)], [0.0],
                      latency_ms=300.0, kind="partial")
    many = [hit("乙文", OTHER, 1), hit("甲文", METHOD, 2, section="二、做法")]
    many += [hit("乙文", OTHER, r) for r in range(3, 13)]  # 12 hits; reports keep 10
    return answer("乙文讲述志愿服务。", many, [citation(1, "乙文", "志愿服务")], [1.0], latency_ms=200.0)


def fake_result(**kwargs) -> BenchmarkResult:
    return run_benchmark(CASES, {"good": good, "bad": bad}, source_text_lookup=LOOKUP, progress=False, **kwargs)


# --- score_case ------------------------------------------------------------------------------


def test_score_case_of_a_good_factoid_answer():
    row = score_case(CASES[0], good(CASES[0]), LOOKUP)
    assert list(row) == list(ROW_KEYS)
    assert row["id"] == "c1" and row["type"] == "factoid" and row["answerable"] and not row["refused"]
    for key in ("hit@1", "hit@3", "hit@5", "hit@10", "all_hit@5", "mrr", "section_hit@5", "evidence_hit@5",
                "key_fact_recall", "cites_gold", "citation_precision", "quote_validity", "groundedness"):
        assert row[key] == 1.0, key
    # pred 该 社 区 共 有 党 员 1200 名 (9 segments) vs ref 1200 名: common run 2 -> P 2/9, R 1
    assert row["char_f1"] == pytest.approx(4 / 11)
    # 12 characters vs 5, LCS 5 -> P 5/12, R 1 -> F 10/17
    assert row["rouge_l"] == pytest.approx(10 / 17)
    assert row["em"] == 0.0 and row["latency_ms"] == 100.0


def test_score_case_of_a_wrongly_refused_answerable_question_scores_zero():
    row = score_case(CASES[0], bad(CASES[0]), LOOKUP)
    assert row["refused"]
    for key in ("hit@1", "hit@10", "mrr", "section_hit@5", "evidence_hit@5", "key_fact_recall", "char_f1",
                "em", "rouge_l", "cites_gold", "citation_precision"):
        assert row[key] == 0.0, key
    assert row["quote_validity"] is None and row["groundedness"] is None


def test_score_case_of_an_unanswerable_question_has_no_retrieval_or_answer_metrics():
    answered = score_case(CASES[1], bad(CASES[1]), LOOKUP)
    for key in ("hit@1", "mrr", "evidence_hit@5", "key_fact_recall", "char_f1", "cites_gold"):
        assert answered[key] is None, key
    assert answered["quote_validity"] == 0.0  # the quote is shifted by one character
    assert answered["groundedness"] == 0.0
    assert answered["partial"] and not answered["refused"]
    refused = score_case(CASES[1], good(CASES[1]), LOOKUP)
    assert refused["refused"] and refused["quote_validity"] is None and refused["groundedness"] is None
    assert not refused["partial"]  # a refusal is never "partial"


def test_score_case_of_a_compare_question():
    row = score_case(CASES[2], bad(CASES[2]), LOOKUP)
    assert row["hit@1"] == 1.0 and row["all_hit@5"] == 1.0 and row["mrr"] == 1.0
    assert row["section_hit@5"] is None  # gold section unknown
    assert row["key_fact_recall"] == 0.5
    assert row["cites_gold"] == 1.0 and row["citation_precision"] == 1.0


def test_hits_are_ranked_by_rank_not_by_tuple_order():
    shuffled = answer("x", [hit("乙文", OTHER, 2), hit("甲文", LEAD, 1)])
    row = score_case(CASES[0], shuffled, LOOKUP)
    assert row["hit@1"] == 1.0 and row["mrr"] == 1.0


# --- run_benchmark ---------------------------------------------------------------------------


def test_run_benchmark_aggregates_each_configuration():
    calls = []
    result = fake_result(on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(7)]
    assert result.configs == ("good", "bad")
    assert [(r.config, r.case.id) for r in result.results] == [
        ("good", "c1"), ("good", "c2"), ("good", "c3"), ("bad", "c1"), ("bad", "c2"), ("bad", "c3")]
    g, b = result.aggregates["good"]["overall"], result.aggregates["bad"]["overall"]
    assert g["hit@1"] == 1.0 and g["key_fact_recall"] == 1.0 and g["quote_validity"] == 1.0
    assert g["groundedness"] == pytest.approx(0.875)
    assert (g["refusal_precision"], g["refusal_recall"], g["refusal_f1"], g["false_refusal_rate"]) == (1, 1, 1, 0)
    assert g["latency_p50_ms"] == 100.0
    assert b["hit@1"] == 0.5 and b["mrr"] == 0.5 and b["key_fact_recall"] == 0.25
    assert b["quote_validity"] == 0.5 and b["groundedness"] == 0.5
    assert (b["refusal_precision"], b["refusal_recall"], b["refusal_f1"], b["false_refusal_rate"]) == (0, 0, 0, 0.5)
    # bad answers the unanswerable c2 but flags it as partly covered
    assert b["partial_rate"] == pytest.approx(1 / 3) and b["refusal_or_partial_recall"] == 1.0
    assert g["partial_rate"] == 0.0 and g["refusal_or_partial_recall"] == 1.0
    assert set(result.aggregates["bad"]["by_type"]) == {"factoid", "unanswerable", "compare"}
    assert result.aggregates["bad"]["by_type"]["compare"]["key_fact_recall"] == 0.5
    assert len(result.rows) == 6 and result.rows[0]["config"] == "good"


def test_zero_latency_is_replaced_by_the_measured_time():
    result = fake_result()
    bad_c1 = result.results_for("bad")[0]
    assert bad_c1.answer.latency_ms > 0 and bad_c1.row["latency_ms"] == bad_c1.answer.latency_ms


def test_an_answer_function_error_propagates_with_the_case_named():
    def broken(case: EvalCase) -> Answer:
        raise RuntimeError("backend down")

    with pytest.raises(RuntimeError, match="backend down") as info:
        run_benchmark(CASES, {"broken": broken}, source_text_lookup=LOOKUP, progress=False)
    assert any("'c1'" in note and "'broken'" in note for note in info.value.__notes__)


def test_run_benchmark_rejects_empty_inputs_and_non_answers():
    with pytest.raises(ConfigError):
        run_benchmark(CASES, {}, source_text_lookup=LOOKUP, progress=False)
    with pytest.raises(ConfigError):
        run_benchmark([], {"good": good}, source_text_lookup=LOOKUP, progress=False)
    with pytest.raises(TypeError, match="expected Answer"):
        run_benchmark(CASES, {"x": lambda case: "text"}, source_text_lookup=LOOKUP, progress=False)
    with pytest.raises(ConfigError, match="valid: good, bad"):
        fake_result().results_for("nope")


def test_progress_bar_can_be_shown(capsys):
    run_benchmark(CASES[:1], {"good": good}, source_text_lookup=LOOKUP, progress=True)
    assert "benchmark" in capsys.readouterr().err


# --- regression gate -------------------------------------------------------------------------


def test_compare_to_floors_lists_metrics_below_floor_and_above_ceiling():
    aggregates = fake_result().aggregates
    floors = {"config": "bad", "metrics": {"hit@1": 0.9, "mrr": 0.5}, "ceilings": {"false_refusal_rate": 0.1}}
    assert compare_to_floors(aggregates, floors) == [
        "bad: hit@1 = 0.500 < floor 0.900",
        "bad: false_refusal_rate = 0.500 > ceiling 0.100",
    ]
    assert compare_to_floors(aggregates, {"config": "good", "metrics": {"hit@1": 0.9}}) == []


def test_compare_to_floors_fails_unmeasured_metrics_and_rejects_unknown_names():
    aggregates = {"hybrid": m.aggregate([{"type": "factoid", "answerable": True, "refused": False,
                                          "latency_ms": 1.0}])}
    assert compare_to_floors(aggregates, {"config": "hybrid", "metrics": {"hit@3": 0.5}}) == [
        "hybrid: hit@3 was not measured (floor 0.500)"]
    with pytest.raises(ConfigError, match="benchmarked: hybrid"):
        compare_to_floors(aggregates, {"config": "dense", "metrics": {}})
    with pytest.raises(ConfigError, match="unknown metric 'hit@4'"):
        compare_to_floors(aggregates, {"config": "hybrid", "metrics": {"hit@4": 0.5}})


def test_load_floors_reads_the_file_format(tmp_path):
    path = tmp_path / "floors.json"
    path.write_text(json.dumps({"config": "hybrid", "metrics": {"hit@3": 0.9}}), encoding="utf-8")
    assert load_floors(path) == {"config": "hybrid", "metrics": {"hit@3": 0.9}}
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="floors"):
        load_floors(path)
