"""The benchmark for evaluators: Chinese metric names, a quick run that samples every question type,
a run that stops when cancelled, and the per-question drill-down (escaped, hits and misses).

Unit tests with the hand-built fakes of test_runner; one integration test runs the real pipeline
over the shipped dataset.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from conftest import ROOT
from test_runner import CASES, LOOKUP, bad, fake_result, good

from zhibu_qa.errors import RunCancelled
from zhibu_qa.evaluation.labels import METRIC_NAMES, metric_label, metric_name, type_name
from zhibu_qa.evaluation.metrics import AGGREGATE_METRICS, MEAN_METRICS
from zhibu_qa.evaluation.report import result_records
from zhibu_qa.evaluation.runner import run_benchmark
from zhibu_qa.evaluation.sample import allocate, spread, stratified_sample
from zhibu_qa.types import QUESTION_TYPES

DATASET = ROOT / "eval" / "dataset.jsonl"


# ---- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", AGGREGATE_METRICS + MEAN_METRICS + ("n", "n_answerable", "n_unanswerable", "n_refused"))
def test_every_metric_has_a_chinese_name_with_its_key_in_brackets(key):
    name = metric_name(key)
    assert name.endswith(f" ({key})") and any("\u4e00" <= ch <= "\u9fff" for ch in name[: -len(key) - 3]), name


def test_ranked_metrics_are_named_by_their_cut_off():
    assert metric_label("hit@10") == "检索命中率@10" and metric_label("section_hit@5") == "小节命中率@5"
    assert metric_name("key_fact_recall") == "关键事实召回率 (key_fact_recall)"
    assert metric_name("brand_new") == "brand_new"  # unknown keys pass through unchanged
    assert "n" in METRIC_NAMES


def test_every_question_type_has_a_chinese_name():
    for t in QUESTION_TYPES:
        assert type_name(t) != t and type_name(t).endswith(f"({t})")


# ---- the stratified quick sample ---------------------------------------------------------------

def _dataset_rows():
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("n", [8, 12, 20, 50])
def test_a_quick_sample_covers_every_question_type_of_the_dataset(n):
    rows = _dataset_rows()
    sample = stratified_sample(rows, n, type_of=lambda r: r["type"])
    assert len(sample) == n and len({r["id"] for r in sample}) == n
    assert {r["type"] for r in sample} == {r["type"] for r in rows}
    assert any(not r["answerable"] for r in sample) and any(r["answerable"] for r in sample)
    ids = [r["id"] for r in rows]
    assert [ids.index(r["id"]) for r in sample] == sorted(ids.index(r["id"]) for r in sample)  # dataset order
    assert sample == stratified_sample(rows, n, type_of=lambda r: r["type"])  # deterministic


def test_the_sample_follows_the_type_sizes_and_spreads_over_the_dataset():
    rows = _dataset_rows()
    sample = stratified_sample(rows, 40, type_of=lambda r: r["type"])
    sizes, got = Counter(r["type"] for r in rows), Counter(r["type"] for r in sample)
    for t in sizes:
        assert abs(got[t] - 40 * sizes[t] / len(rows)) <= 2, (t, got[t])
    assert sample[0]["id"] != rows[0]["id"]  # not simply the first questions


def test_allocation_and_spread_edge_cases():
    assert allocate({"a": 8, "b": 1, "c": 1}, 4) == {"a": 2, "b": 1, "c": 1}
    assert allocate({"a": 8, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}
    assert allocate({"a": 3, "b": 2}, 9) == {"a": 3, "b": 2}
    assert spread(10, 2) == [2, 7] and spread(3, 3) == [0, 1, 2]
    assert stratified_sample(list(CASES), 0) == list(CASES)


# ---- cancelling a run ----------------------------------------------------------------------------

def test_a_set_cancel_event_stops_the_run_between_questions():
    cancel = threading.Event()
    answered = []

    def counting(case):
        answered.append(case.id)
        return good(case)

    def progress(done, total):
        if done == 2:
            cancel.set()  # as the 停止评测 button does, from another thread

    with pytest.raises(RunCancelled) as err:
        run_benchmark(CASES, {"good": counting, "bad": bad}, source_text_lookup=LOOKUP, progress=False,
                      on_progress=progress, cancel=cancel)
    assert answered == ["c1", "c2"]  # the third question was never asked
    assert (err.value.done, err.value.total) == (2, 6)


def test_a_cancel_from_another_thread_stops_a_running_benchmark():
    cancel, started = threading.Event(), threading.Event()
    answered = []

    def slow(case):
        started.set()
        answered.append(case.id)
        cancel.wait(5)  # the first answer is still being computed when the button is pressed
        return good(case)

    outcome = {}

    def work():
        try:
            run_benchmark(CASES * 20, {"good": slow}, source_text_lookup=LOOKUP, progress=False, cancel=cancel)
        except RunCancelled as exc:
            outcome["cancelled"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    assert started.wait(5)
    cancel.set()
    thread.join(10)
    assert not thread.is_alive() and "cancelled" in outcome and len(answered) == 1


def test_an_unset_event_changes_nothing():
    def rows(result):  # measured latencies differ from run to run
        return [{k: v for k, v in row.items() if not k.startswith("latency")} for row in result.rows]

    assert rows(fake_result(cancel=threading.Event())) == rows(fake_result())


# ---- drill-down ------------------------------------------------------------------------------------

def test_drilldown_shows_question_reference_answer_key_facts_and_citations_escaped():
    from dataclasses import replace

    from zhibu_qa.app.ui_eval import drilldown_html, record_choices
    from zhibu_qa.evaluation.runner import CaseResult, score_case

    case = replace(CASES[2], question="两篇文章<img src=x onerror=alert(1)>分别讲什么？")
    r = CaseResult("bad", case, bad(case), score_case(case, bad(case), LOOKUP))
    (rec,) = result_records(type("R", (), {"results": (r,)})())
    html = drilldown_html(rec)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "三会一课和志愿服务" in html and "乙文讲述志愿服务。" in html
    assert '<li class="zq-hit">✓ 志愿服务</li>' in html and '<li class="zq-miss">✗ 三会一课</li>' in html
    assert "[1] 《乙文》：“志愿服务”" in html and "缺少关键事实" in html
    assert record_choices([rec]) == [(f"c3 · bad · {case.question[:30]}", 0)]


@pytest.mark.integration
def test_a_quick_run_of_the_real_pipeline_measures_refusal(pipeline, tmp_path):
    from zhibu_qa.benchmark import run_eval

    out = run_eval(pipeline, DATASET, tmp_path / "out", ["bm25"], limit=len(QUESTION_TYPES), progress=False)
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))
    overall = summary["configs"]["bm25"]["overall"]
    assert summary["n_questions"] == len(QUESTION_TYPES)
    assert set(summary["configs"]["bm25"]["by_type"]) == set(QUESTION_TYPES)
    assert overall["refusal_recall"] is not None and overall["false_refusal_rate"] is not None
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "拒答召回率 (refusal_recall) |" in md and "## 逐题明细 — `bm25`" in md
