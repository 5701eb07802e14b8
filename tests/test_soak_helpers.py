"""The pure helpers of benchmarks/soak.py (the soak itself is not run in tests: it takes minutes)."""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"
_spec = importlib.util.spec_from_file_location("benchmarks_soak", SCRIPT)
soak = importlib.util.module_from_spec(_spec)
sys.modules["benchmarks_soak"] = soak  # dataclasses look their module up while the script loads
_spec.loader.exec_module(soak)


def test_percentile_is_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 9.0, 8.0, 7.0, 6.0]
    assert soak.percentile(values, 50) == 5.0
    assert soak.percentile(values, 95) == 10.0
    assert soak.percentile(values, 10) == 1.0
    assert soak.percentile([1, 2, 3, 4], 50) == 2
    assert soak.percentile([7.5], 95) == 7.5
    assert math.isnan(soak.percentile([], 50))


def test_summary_counts_statuses_and_times_only_successful_replies():
    S = soak.Sample
    samples = [S("chat", "200", 1.0), S("chat", "200", 3.0), S("chat", "200-refused", 2.0),
               S("chat", "429", 0.001), S("search", "ReadTimeout", 120.0), S("search", "200", 0.5)]
    summary = soak.summarise(samples)
    assert list(summary) == ["chat", "search"]
    chat = summary["chat"]
    assert (chat["requests"], chat["errors"]) == (4, 1)
    assert chat["statuses"] == {"200": 2, "200-refused": 1, "429": 1}
    assert (chat["p50"], chat["p95"]) == (2.0, 3.0)
    assert summary["search"]["errors"] == 1 and summary["search"]["p95"] == 0.5
    table = soak.format_summary(summary)
    assert "429:1" in table and table.splitlines()[1].startswith("chat")


def test_vmrss_is_read_from_a_proc_status_text():
    text = "Name:\tpython\nVmPeak:\t  900000 kB\nVmRSS:\t  362148 kB\nThreads:\t12\n"
    assert soak.vmrss_kb(text) == 362148
    assert soak.vmrss_kb("Name:\tzombie\n") is None
    assert soak.rss_mb(os.getpid()) > 0
