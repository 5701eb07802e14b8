"""eval/check_dataset.py is a thin wrapper over the validator `zhibu-qa eval` uses: they agree."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import CORPUS, ROOT

SCRIPT = ROOT / "eval" / "check_dataset.py"


def _check(dataset) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--dataset", str(dataset), "--corpus", str(CORPUS)],
                          capture_output=True, text=True, timeout=120)


def test_the_script_and_the_package_accept_a_case_without_gold_section(tmp_path):
    from zhibu_qa.evaluation.dataset import load_dataset
    from zhibu_qa.ingest import read_and_parse

    case = json.loads((ROOT / "eval" / "dataset.jsonl").read_text(encoding="utf-8").splitlines()[0])
    case.pop("gold_section")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(case, ensure_ascii=False) + "\n", encoding="utf-8")
    result = _check(data)
    assert result.returncode == 0 and "valid cases: 1" in result.stdout, result.stdout + result.stderr
    ps = read_and_parse(CORPUS)
    assert len(load_dataset(data, source_texts=[ps.text], titles=[a.title for a in ps.articles])) == 1


def test_the_script_lists_line_numbered_problems_and_caps_them(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "x1", "question": ""}\nnot json\n' + "x\n" * 300, encoding="utf-8")
    result = _check(data)
    assert result.returncode == 1
    assert "PROBLEM line 2: invalid JSON" in result.stdout and "more" in result.stdout
    assert len(result.stdout.splitlines()) < 210
