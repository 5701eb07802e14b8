"""report.md: the benchmark report for evaluators, in Chinese with the English metric keys.

Run facts, configurations side by side, the generalisation table, per-type tables, the worst
questions and a per-question drill-down (question, reference, answer, key facts hit and missed,
citations, what went wrong). Built from a `BenchmarkResult` and the records of results.jsonl;
writing files is `report`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from zhibu_qa.evaluation import metrics as m
from zhibu_qa.evaluation.diagnosis import case_quality, diagnose, worst_cases
from zhibu_qa.evaluation.labels import fmt, metric_name, type_name
from zhibu_qa.evaluation.runner import PARAPHRASES, BenchmarkResult

# Columns of the per-type tables.
TYPE_METRICS: tuple[str, ...] = (
    "hit@3", "mrr", "evidence_hit@5", "key_fact_recall", "char_f1", "rouge_l", "cites_gold",
    "quote_validity", "refusal_recall", "false_refusal_rate", "latency_p50_ms",
)
# Rows of the tuning / test / paraphrases table.
GENERALISATION_METRICS: tuple[str, ...] = (
    "n", "key_fact_recall", "hit@3", "cites_gold", "refusal_recall", "false_refusal_rate", "answered_note_rate",
    "answer_chars_p50", "latency_p50_ms",
)
PART_NAMES = {"tuning": "调参部分 (tuning)", "test": "测试部分 (test)", PARAPHRASES: "改写题 (paraphrases)"}
QUOTE_CHARS = 80  # of a citation's quote in the drill-down


def cell(text: str, limit: int = 0) -> str:
    """One line of table- and list-safe text. Example: cell("a|b\\nc") == "a\\\\|b c" """
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text[:limit] + "…" if limit and len(text) > limit else text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_markdown(result: BenchmarkResult, summary: Mapping[str, Any],
                    records: Sequence[Mapping[str, Any]] = ()) -> str:
    """report.md; `records` (results.jsonl lines) of the default configuration feed the drill-down."""
    default = summary["default_config"]
    configs = result.configs
    lines = ["# zhibu-qa 评测报告", ""]
    lines.append(f"- 评测集：`{summary['dataset']}`（{summary['n_questions']} 题）")
    lines.append(f"- 生成时间：{summary['timestamp']}")
    lines.append(f"- 检索配置：{'、'.join(f'`{c}`' for c in configs)}（默认 `{default}`）")
    lines += ["", "![各配置主要指标对比](chart.png)", "", "## 各配置总体指标（全部题目）", ""]
    counts = ("n", "n_answerable", "n_unanswerable", "n_refused")
    rows = [[metric_name(k)] + [fmt(k, result.aggregates[c]["overall"][k]) for c in configs]
            for k in counts + m.AGGREGATE_METRICS]
    lines += _table(["指标", *configs], rows)
    parts = result.aggregates[default].get("by_part", {})
    if parts:
        columns = [(name, parts[name]) for name in ("tuning", "test") if name in parts]
        if PARAPHRASES in result.aggregates:
            columns.append((PARAPHRASES, result.aggregates[PARAPHRASES]["overall"]))
        lines += ["", f"## 泛化 — `{default}`（只在调参部分调优；指标下限只用于测试部分）", ""]
        lines += _table(["指标", *(PART_NAMES[n] for n, _ in columns)],
                        [[metric_name(k)] + [fmt(k, agg[k]) for _, agg in columns] for k in GENERALISATION_METRICS])
        gap = summary.get("paraphrase_gap")
        if gap is not None:
            lines += ["", f"改写差距（关键事实召回率，测试部分 − 改写题）：{gap:+.3f}"]
    for config in configs:
        agg = result.aggregates[config]
        lines += ["", f"## 按题型 — `{config}`", ""]
        type_rows = [[type_name(t), str(s["n"])] + [fmt(k, s[k]) for k in TYPE_METRICS]
                     for t, s in agg["by_type"].items()]
        type_rows.append(["**全部**", str(agg["overall"]["n"])] + [fmt(k, agg["overall"][k]) for k in TYPE_METRICS])
        lines += _table(["题型", metric_name("n"), *(metric_name(k) for k in TYPE_METRICS)], type_rows)
    lines += ["", f"## 问题最多的题目 — `{default}`", ""]
    worst = worst_cases(result.results_for(default))
    if not worst:
        lines.append("没有出错的题目。")
    for i, r in enumerate(worst, start=1):
        gold = " / ".join(f"《{t}》" for t in r.case.gold_article) or "（无）"
        answer = "（拒答）" + r.answer.text if r.answer.refused else r.answer.text
        lines += [
            f"{i}. **{r.case.id}**（{type_name(r.case.type)}，质量 {case_quality(r.row):.2f}）：{cell(r.case.question)}",
            f"   - 标准文章：{gold}；参考答案：{cell(r.case.answer, 120) or '—'}",
            f"   - 回答：{cell(answer, 160) or '—'}",
            f"   - 问题所在：{'；'.join(diagnose(r)) or '与参考答案只部分重合'}",
        ]
    drill = [rec for rec in records if rec.get("config") == default]
    if drill:
        lines += ["", f"## 逐题明细 — `{default}`", ""]
        for rec in drill:
            lines += drilldown_markdown(rec)
    if settings := summary.get("settings"):
        lines += ["", "## 设置", "", "```json", json.dumps(settings, ensure_ascii=False, indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"


def drilldown_markdown(rec: Mapping[str, Any]) -> list[str]:
    """One question of results.jsonl as a Markdown block: question, reference, answer, key facts
    hit (✓) and missed (✗), citations, what went wrong."""
    answer = ("（拒答）" if rec.get("refused") else "") + str(rec.get("answer") or "")
    facts = [f"✓ {cell(f)}" for f in rec.get("key_facts_hit", [])]
    facts += [f"✗ {cell(f)}" for f in rec.get("key_facts_missed", [])]
    lines = [f"### {cell(rec['id'])} · {type_name(str(rec.get('type', '')))} · 质量 {rec.get('quality', 0):.2f}", "",
             f"- 问题：{cell(rec.get('question', ''))}",
             f"- 参考答案：{cell(rec.get('reference_answer') or '') or '—'}",
             f"- 回答：{cell(answer) or '—'}",
             f"- 关键事实：{'；'.join(facts) or '—'}"]
    cites = rec.get("citations") or []
    lines.append("- 引用：" + ("" if cites else "—"))
    for c in cites:
        where = " · ".join(x for x in (f"《{c.get('article')}》", c.get("section") or "") if x)
        lines.append(f"  - [{c.get('n')}] {cell(where)}：“{cell(c.get('quote', ''), QUOTE_CHARS)}”")
    lines += [f"- 问题所在：{'；'.join(rec.get('diagnosis') or []) or '—'}", ""]
    return lines
