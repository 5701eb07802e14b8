"""The benchmark end to end: dataset validation, all outputs, and the regression gate (eval/floors.json)."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from zhibu_qa.benchmark import run_eval
from zhibu_qa.errors import DatasetError
from zhibu_qa.evaluation.runner import compare_to_floors, load_floors
from zhibu_qa.pipeline import Pipeline

DATASET = ROOT / "eval" / "dataset.jsonl"
PARAPHRASES = ROOT / "eval" / "paraphrases.jsonl"
FLOORS = ROOT / "eval" / "floors.json"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report_dir(pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "out"
    run_eval(pipeline, DATASET, out, ["hybrid", "naive"], paraphrases=PARAPHRASES, progress=False)
    return out


def test_eval_writes_all_outputs(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert {"results.jsonl", "report.json", "report.md", "chart.png"} <= names
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert set(report["configs"]) == {"hybrid", "naive", "paraphrases"}
    rows = [json.loads(x) for x in (report_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    n_para = len(PARAPHRASES.read_text(encoding="utf-8").splitlines())
    assert len(rows) == 2 * 185 + n_para
    assert set(report["configs"]["hybrid"]["by_part"]) == {"tuning", "test"}
    assert report["paraphrase_gap"] is not None
    assert "## 泛化 — `hybrid`" in (report_dir / "report.md").read_text(encoding="utf-8")
    assert "| 指标 | hybrid | naive | paraphrases |" in (report_dir / "report.md").read_text(encoding="utf-8")


def test_regression_gate(report_dir):
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    failures = compare_to_floors(report["configs"], load_floors(FLOORS))
    assert failures == [], "metrics below eval/floors.json: " + "; ".join(failures)


def test_hybrid_beats_the_naive_baseline(report_dir):
    configs = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))["configs"]
    hybrid, naive = configs["hybrid"]["overall"], configs["naive"]["overall"]
    assert hybrid["hit@3"] > naive["hit@3"]
    assert hybrid["section_hit@5"] > naive["section_hit@5"]


def test_malformed_dataset_is_rejected_and_nothing_written(pipeline, tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = DATASET.read_text(encoding="utf-8").splitlines()[0]
    broken = json.loads(good)
    broken["evidence"] = ["这句话不在语料里出现过的证据文本"]
    missing = json.loads(good)
    del missing["answer"]
    missing["id"] = "other"
    bad.write_text("\n".join([good, "{not json", json.dumps(broken, ensure_ascii=False),
                              json.dumps(missing, ensure_ascii=False)]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(DatasetError) as err:
        run_eval(pipeline, bad, out, ["hybrid"], progress=False)
    text = "\n".join(err.value.problems)
    assert "line 2" in text and "line 3" in text and "line 4" in text
    assert not out.exists()


def test_every_citation_quote_is_exact(pipeline):
    cases = [json.loads(x) for x in DATASET.read_text(encoding="utf-8").splitlines()][:60]
    for case in cases:
        answer = Pipeline.ask(pipeline, case["question"])
        for c in answer.citations:
            issue = next(a.issue_id for a in pipeline.catalogue.articles if a.id == c.article_id)
            assert pipeline.sources[issue][c.char_start:c.char_end] == c.quote
