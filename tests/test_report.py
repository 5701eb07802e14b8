"""Report writing: the four output files, their contents, atomicity, diagnosis and the chart font."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import UTC, datetime

import pytest
from test_runner import CASES, bad, fake_result, good  # shared hand-built fakes

from zhibu_qa.errors import ConfigError
from zhibu_qa.evaluation import report
from zhibu_qa.evaluation.runner import CaseResult, score_case

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STAMP = datetime(2024, 9, 16, 8, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def result():
    return fake_result()


def _write(result, out_dir, **kwargs):
    return report.write_report(result, out_dir, dataset_path="eval/dataset.jsonl",
                               settings={"retrieval_mode": "hybrid", "top_k": 5}, default_config="bad",
                               timestamp=STAMP, **kwargs)


def test_write_report_writes_all_four_files(result, tmp_path):
    out = tmp_path / "out" / "run1"
    paths = _write(result, out)
    assert sorted(p.name for p in out.iterdir()) == ["chart.png", "report.json", "report.md", "results.jsonl"]
    assert paths["report.md"] == out / "report.md"
    assert (out / "chart.png").read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in out.parent.iterdir()] == ["run1"]  # no temporary directory left behind


def test_results_jsonl_has_one_record_per_question_and_configuration(result, tmp_path):
    _write(result, tmp_path / "out")
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text("utf-8").splitlines()]
    assert [(r["config"], r["id"]) for r in records] == [
        ("good", "c1"), ("good", "c2"), ("good", "c3"), ("bad", "c1"), ("bad", "c2"), ("bad", "c3")]
    first = records[0]
    assert first["question"] == "社区有多少党员？" and first["type"] == "factoid"
    assert first["answer"] == "该社区共有党员1200名。" and first["refused"] is False
    assert first["citations"] == [{"n": 1, "article": "甲文", "section": None, "quote": "共有党员1200名",
                                   "char_start": 18, "char_end": 27}]
    assert first["hits"][0] == {"rank": 1, "article": "甲文", "section": None,
                                "text": "社区党委坚持“三会一课”制度，共有党员1200名。", "score": 1.0}
    assert first["latency_ms"] == 100.0
    assert first["metrics"]["hit@1"] == 1.0 and first["metrics"]["char_f1"] == pytest.approx(4 / 11)
    assert records[1]["refusal_kind"] == "not_covered" and records[1]["metrics"]["hit@1"] is None
    assert len(records[5]["hits"]) == 10  # 12 hits, top 10 kept
    assert records[5]["hits"][1]["section"] == "二、做法"


def test_report_json_holds_run_facts_and_aggregates(result, tmp_path):
    _write(result, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert data["dataset"] == "eval/dataset.jsonl" and data["n_questions"] == 3
    assert data["timestamp"] == "2024-09-16T08:30:00+00:00"
    assert data["settings"] == {"retrieval_mode": "hybrid", "top_k": 5}
    assert data["default_config"] == "bad"
    assert set(data["configs"]) == {"good", "bad"}
    assert data["configs"]["good"]["overall"]["hit@1"] == 1.0
    assert data["configs"]["bad"]["by_type"]["compare"]["key_fact_recall"] == 0.5


def test_report_md_compares_configurations_and_explains_the_worst_questions(result, tmp_path):
    _write(result, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text("utf-8")
    assert md.startswith("# zhibu-qa 评测报告\n")
    assert "| 指标 | good | bad |" in md
    assert "| 检索命中率@1 (hit@1) | 1.000 | 0.500 |" in md
    assert "| 关键事实召回率 (key_fact_recall) | 1.000 | 0.250 |" in md
    assert "| 误拒率 (false_refusal_rate) | 0.000 | 0.500 |" in md
    assert "| 延迟中位数（毫秒） (latency_p50_ms) | 100 |" in md
    assert "## 按题型 — `good`" in md and "## 按题型 — `bad`" in md
    assert "| 不可回答 (unanswerable) | 1 |" in md
    worst = md.split("## 问题最多的题目 — `bad`")[1].split("## 逐题明细")[0]
    c1, c2, c3 = (worst.index(f"**{i}**") for i in ("c1", "c2", "c3"))
    assert c1 < c2 < c3  # c1 and c2 score 0 (dataset order), c3 (0.5 recall) last
    assert "误拒：可回答的问题被拒答" in worst and "未检索到标准文章" in worst
    assert "不可回答的问题却作了回答（已提示仅部分覆盖）" in worst
    assert "1 条引文中有 1 条与原文不符" in worst
    assert "缺少关键事实：“三会一课”" in worst
    assert '"top_k": 5' in md  # settings block


def test_every_metric_row_of_report_md_has_a_chinese_name_and_its_key(result, tmp_path):
    import re

    from zhibu_qa.evaluation.metrics import AGGREGATE_METRICS

    _write(result, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text("utf-8")
    overall = md.split("## 各配置总体指标")[1].split("\n## ")[0]
    for key in AGGREGATE_METRICS:
        row = next(line for line in overall.splitlines() if f"({key}) |" in line)
        assert re.match(r"^\| [^|(]*[\u4e00-\u9fff][^|(]* \(" + re.escape(key) + r"\) \|", row), row
    data = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert set(AGGREGATE_METRICS) <= set(data["configs"]["good"]["overall"])  # the keys stay English


def test_report_md_drills_down_into_every_question_of_the_default_config(result, tmp_path):
    _write(result, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text("utf-8")
    drill = md.split("## 逐题明细 — `bad`")[1].split("## 设置")[0]
    blocks = {b.split(" ")[0]: b for b in drill.split("### ")[1:]}
    assert set(blocks) == {"c1", "c2", "c3"}
    c3 = blocks["c3"]
    assert "- 问题：两篇文章分别讲什么？" in c3 and "- 参考答案：三会一课和志愿服务" in c3
    assert "- 回答：乙文讲述志愿服务。" in c3
    assert "- 关键事实：✓ 志愿服务；✗ 三会一课" in c3
    assert "  - [1] 《乙文》：“志愿服务”" in c3
    assert "缺少关键事实：“三会一课”" in c3
    assert "- 回答：（拒答）资料中没有相关内容。" in blocks["c1"] and "✗ 1200名" in blocks["c1"]
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text("utf-8").splitlines()]
    bad_c3 = next(r for r in records if (r["config"], r["id"]) == ("bad", "c3"))
    assert (bad_c3["key_facts_hit"], bad_c3["key_facts_missed"]) == (["志愿服务"], ["三会一课"])
    assert bad_c3["quality"] == pytest.approx(report.case_quality({**bad_c3["metrics"], "answerable": True,
                                                                    "refused": False}))


def test_write_report_rejects_an_unknown_default_config(result, tmp_path):
    with pytest.raises(ConfigError, match="unknown configuration 'nope'"):
        report.write_report(result, tmp_path / "out", default_config="nope")
    assert not (tmp_path / "out").exists()


def test_a_failure_leaves_no_output(result, tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "draw_chart", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        _write(result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_keeps_an_earlier_report_untouched(result, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _write(result, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(report, "render_markdown", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        _write(result, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_rewriting_into_an_existing_directory_replaces_the_files(result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("old", encoding="utf-8")
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    _write(result, out)
    assert (out / "report.md").read_text("utf-8").startswith("# zhibu-qa 评测报告")
    assert (out / "keep.txt").read_text("utf-8") == "mine"


def test_diagnose_and_case_quality_of_single_answers():
    ok = CaseResult("good", CASES[0], good(CASES[0]), score_case(CASES[0], good(CASES[0]), {}))
    assert report.case_quality({"answerable": False, "refused": True}) == 1.0
    assert report.case_quality({"answerable": False, "refused": False}) == 0.0
    # no source texts given: the quote cannot be checked, which the diagnosis reports
    assert report.diagnose(ok) == ["1 条引文中有 1 条与原文不符"]
    refused = CaseResult("bad", CASES[0], bad(CASES[0]), score_case(CASES[0], bad(CASES[0]), {}))
    assert report.diagnose(refused) == ["误拒：可回答的问题被拒答", "未检索到标准文章"]
    assert report.case_quality(refused.row) == 0.0


def test_worst_cases_take_tied_types_in_turn():
    unanswered = [CaseResult("bad", CASES[1], bad(CASES[1]), {"answerable": False, "refused": False})] * 12
    refused = CaseResult("bad", CASES[0], bad(CASES[0]), score_case(CASES[0], bad(CASES[0]), {}))
    perfect = CaseResult("good", CASES[1], good(CASES[1]), score_case(CASES[1], good(CASES[1]), {}))
    worst = report.worst_cases([*unanswered, perfect, refused], n=10)
    assert len(worst) == 10 and perfect not in worst
    assert worst[0] is unanswered[0] and worst[1] is refused  # both quality 0: one per type first


def test_fmt_formats_metric_values():
    assert report.fmt("hit@3", 0.5) == "0.500"
    assert report.fmt("latency_p50_ms", 812.4) == "812"
    assert report.fmt("mrr", None) == "—"
    assert report.fmt("n", 7) == "7"


def test_chart_renders_chinese_labels_with_a_cjk_font(result, tmp_path):
    if report.cjk_font_family() is None:
        pytest.skip("no CJK font installed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report.draw_chart(result.aggregates, tmp_path / "chart.png", n_questions=3)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_MAGIC)


def test_chart_falls_back_with_a_warning_without_a_cjk_font(result, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(report, "CJK_FONTS", ("No Such Font 123",))
    with caplog.at_level(logging.WARNING, logger="zhibu_qa.evaluation.report"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib warns about each missing glyph
        report.draw_chart(result.aggregates, tmp_path / "chart.png", n_questions=3)
    assert "no CJK font found" in caplog.text
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_MAGIC)
