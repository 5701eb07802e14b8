"""Write a benchmark result to disk: results.jsonl, report.json, report.md and chart.png.

Owns the output formats, the "what went wrong" diagnosis of the worst questions and the chart
(matplotlib, Agg canvas, a CJK font when one is installed). Files are written into a temporary
directory next to `out_dir` and moved in only when all of them succeeded. Scoring is `runner`'s job.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import metrics as m
from .runner import PARAPHRASES, BenchmarkResult, CaseResult, paraphrase_gap, ranked_hits

log = logging.getLogger(__name__)

RESULTS_FILE, REPORT_JSON, REPORT_MD, CHART_FILE = "results.jsonl", "report.json", "report.md", "chart.png"
REPORT_FILES: tuple[str, ...] = (RESULTS_FILE, REPORT_JSON, REPORT_MD, CHART_FILE)
TOP_HITS = 10  # hits kept per question in results.jsonl
N_WORST = 10
# Columns of the per-type tables in report.md.
TYPE_METRICS: tuple[str, ...] = (
    "hit@3", "mrr", "evidence_hit@5", "key_fact_recall", "char_f1", "rouge_l", "cites_gold",
    "quote_validity", "refusal_recall", "false_refusal_rate", "latency_p50_ms",
)
# Rows of the tuning / test / paraphrases table in report.md.
GENERALISATION_METRICS: tuple[str, ...] = (
    "n", "key_fact_recall", "hit@3", "cites_gold", "refusal_recall", "false_refusal_rate", "answered_note_rate",
    "answer_chars_p50", "latency_p50_ms",
)
# Bars of chart.png: aggregate key -> Chinese label.
CHART_METRICS: tuple[tuple[str, str], ...] = (
    ("hit@3", "检索命中@3"), ("mrr", "MRR"), ("key_fact_recall", "要点召回"), ("char_f1", "字符F1"),
    ("cites_gold", "引用正确文章"), ("quote_validity", "引文有效率"), ("refusal_f1", "拒答F1"),
)
# Preferred CJK font families (Debian fonts-noto-cjk first), tried in order.
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC",
)


def write_report(
    result: BenchmarkResult,
    out_dir: Path,
    *,
    dataset_path: Path | str | None = None,
    settings: Mapping[str, Any] | None = None,
    default_config: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Path]:
    """Write the four report files into `out_dir` (created if needed) atomically; return their paths."""
    default = default_config or result.configs[0]
    result.results_for(default)  # raises ConfigError for an unknown name
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        summary = report_summary(result, dataset_path=dataset_path, settings=settings,
                                 default_config=default, timestamp=timestamp)
        with open(tmp / RESULTS_FILE, "w", encoding="utf-8") as fh:
            for record in result_records(result):
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        (tmp / REPORT_JSON).write_text(
            json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        (tmp / REPORT_MD).write_text(render_markdown(result, summary), encoding="utf-8")
        draw_chart(result.aggregates, tmp / CHART_FILE, n_questions=summary["n_questions"])
        if out_dir.exists():
            for name in REPORT_FILES:
                os.replace(tmp / name, out_dir / name)
            tmp.rmdir()
        else:
            os.chmod(tmp, 0o755)
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {name: out_dir / name for name in REPORT_FILES}


def report_summary(
    result: BenchmarkResult,
    *,
    dataset_path: Path | str | None,
    settings: Mapping[str, Any] | None,
    default_config: str,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The content of report.json: run facts plus `metrics.aggregate` output per configuration."""
    stamp = timestamp or datetime.now(UTC)
    return {
        "dataset": str(dataset_path) if dataset_path is not None else None,
        "n_questions": len({r.case.id for r in result.results}),
        "timestamp": stamp.isoformat(timespec="seconds"),
        "settings": dict(settings or {}),
        "default_config": default_config,
        "configs": result.aggregates,
        "paraphrase_gap": paraphrase_gap(result.aggregates, default_config),
    }


def result_records(result: BenchmarkResult) -> list[dict[str, Any]]:
    """One JSON-ready record per question and configuration (the lines of results.jsonl)."""
    return [_record(r) for r in result.results]


def _record(r: CaseResult) -> dict[str, Any]:
    a, case = r.answer, r.case
    metric_values = {k: v for k, v in r.row.items() if k not in ("id", "type", "answerable", "refused", "partial")}
    return {
        "id": case.id,
        "config": r.config,
        "question": case.question,
        "type": case.type,
        "answerable": case.answerable,
        "history": [{"question": t.question, "answer": t.answer} for t in case.history],
        "gold_article": list(case.gold_article),
        "gold_section": list(case.gold_section),
        "reference_answer": case.answer,
        "answer": a.text,
        "refused": a.refused,
        "refusal_kind": a.refusal_kind,
        "partial": r.row.get("partial", False),
        "backend": a.backend,
        "search_query": a.search_query,
        "citations": [
            {"n": c.n, "article": c.article_title, "section": c.section, "quote": c.quote,
             "char_start": c.char_start, "char_end": c.char_end}
            for c in a.citations
        ],
        "hits": [
            {"rank": h.rank, "article": h.meta.article_title, "section": h.meta.section,
             "text": h.chunk.text, "score": h.score}
            for h in ranked_hits(a)[:TOP_HITS]
        ],
        "latency_ms": a.latency_ms,
        "metrics": metric_values,
    }


# --- diagnosis of single questions -----------------------------------------------------------

def case_quality(row: Mapping[str, Any]) -> float:
    """0..1 quality of one row for ranking the worst questions (not a reported metric).

    Unanswerable: 1 if refused else 0. Answerable: 0 if refused, else the mean of hit@5,
    key_fact_recall, cites_gold, rouge_l and quote_validity where present.
    Example: case_quality({"answerable": False, "refused": False}) == 0.0
    """
    if not row["answerable"] or row["refused"]:
        return float(row["refused"] and not row["answerable"])
    keys = ("hit@5", "key_fact_recall", "cites_gold", "rouge_l", "quote_validity")
    value = m.mean(row.get(k) for k in keys)
    return 0.0 if value is None else value


def diagnose(r: CaseResult) -> list[str]:
    """Short English phrases saying what went wrong with one answer ([] when nothing did)."""
    row, case, answer = r.row, r.case, r.answer
    found: list[str] = []
    if case.answerable and answer.refused:
        found.append("wrongly refused")
    if not case.answerable and not answer.refused:
        partly = " (flagged as partly covered)" if answer.refusal_kind == "partial" else ""
        found.append("answered an unanswerable question" + partly)
    if case.answerable and case.gold_article:
        rank = m.first_gold_rank([h.meta.article_title for h in ranked_hits(answer)], case.gold_article)
        if rank is None:
            found.append("gold article not retrieved")
        elif rank > 3:
            found.append(f"gold article only at rank {rank}")
        elif row.get("section_hit@5") == 0.0:
            found.append("gold section not in the top 5")
    if row.get("evidence_hit@5") == 0.0 and "gold article not retrieved" not in found:
        found.append("no evidence passage in the top 5")
    if case.answerable and not answer.refused:
        missing = m.missing_key_facts(answer.text, case.key_facts)
        if missing:
            found.append("key facts missing: " + "、".join(f"“{f}”" for f in missing))
        if row.get("cites_gold") == 0.0:
            found.append("does not cite the gold article" if answer.citations else "no citations")
    if row.get("quote_validity") is not None and row["quote_validity"] < 1.0:
        bad = round((1 - row["quote_validity"]) * len(answer.citations))
        found.append(f"{bad} of {len(answer.citations)} quotes do not match the source")
    if row.get("groundedness") is not None and row["groundedness"] < 0.5:
        found.append(f"weakly grounded ({row['groundedness']:.2f})")
    return found


def worst_cases(results: Sequence[CaseResult], n: int = N_WORST) -> list[CaseResult]:
    """The n lowest-quality imperfect results, worst first.

    Ties go round-robin over question types (then dataset order), so one type cannot fill the list.
    """
    seen: dict[tuple[float, str], int] = {}
    keyed = []
    for i, r in enumerate(results):
        quality = case_quality(r.row)
        if quality < 1.0 or diagnose(r):
            tie = (quality, r.case.type)
            seen[tie] = seen.get(tie, 0) + 1
            keyed.append(((quality, seen[tie], i), r))
    return [r for _, r in sorted(keyed, key=lambda t: t[0])][:n]


# --- markdown --------------------------------------------------------------------------------

def fmt(key: str, value: Any) -> str:
    """A metric value for a table: '—' for None, whole ms for latencies, else three decimals.

    Example: fmt("hit@3", 0.5) == "0.500" and fmt("latency_p50_ms", 812.4) == "812"
    """
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.0f}" if key.endswith("_ms") or key.startswith("answer_chars") else f"{value:.3f}"


def _cell(text: str, limit: int = 0) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text[:limit] + "…" if limit and len(text) > limit else text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_markdown(result: BenchmarkResult, summary: Mapping[str, Any]) -> str:
    """report.md: run facts, configurations side by side, per-type tables, the worst questions."""
    default = summary["default_config"]
    configs = result.configs
    lines = ["# zhibu-qa benchmark report", ""]
    lines.append(f"- Dataset: `{summary['dataset']}` ({summary['n_questions']} questions)")
    lines.append(f"- Generated: {summary['timestamp']}")
    lines.append(f"- Configurations: {', '.join(f'`{c}`' for c in configs)} (default `{default}`)")
    lines += ["", "![metrics by configuration](chart.png)", "", "## Configurations (all questions)", ""]
    counts = ("n", "n_answerable", "n_unanswerable", "n_refused")
    rows = [[k] + [fmt(k, result.aggregates[c]["overall"][k]) for c in configs]
            for k in counts + m.AGGREGATE_METRICS]
    lines += _table(["metric", *configs], rows)
    parts = result.aggregates[default].get("by_part", {})
    if parts:
        columns = [(name, parts[name]) for name in ("tuning", "test") if name in parts]
        if PARAPHRASES in result.aggregates:
            columns.append((PARAPHRASES, result.aggregates[PARAPHRASES]["overall"]))
        lines += ["", f"## Generalisation — `{default}` (tune on the tuning part; floors apply to the test part)", ""]
        lines += _table(["metric", *(n for n, _ in columns)],
                        [[k] + [fmt(k, agg[k]) for _, agg in columns] for k in GENERALISATION_METRICS])
        gap = summary.get("paraphrase_gap")
        if gap is not None:
            lines += ["", f"Paraphrase gap (key-fact recall, test part − paraphrases): {gap:+.3f}"]
    for config in configs:
        agg = result.aggregates[config]
        lines += ["", f"## Per question type — `{config}`", ""]
        type_rows = [[t, str(s["n"])] + [fmt(k, s[k]) for k in TYPE_METRICS] for t, s in agg["by_type"].items()]
        type_rows.append(["**all**", str(agg["overall"]["n"])]
                         + [fmt(k, agg["overall"][k]) for k in TYPE_METRICS])
        lines += _table(["type", "n", *TYPE_METRICS], type_rows)
    lines += ["", f"## Worst questions — `{default}`", ""]
    worst = worst_cases(result.results_for(default))
    if not worst:
        lines.append("No question went wrong.")
    for i, r in enumerate(worst, start=1):
        gold = " / ".join(f"《{t}》" for t in r.case.gold_article) or "(none)"
        answer = "(refused) " + r.answer.text if r.answer.refused else r.answer.text
        lines += [
            f"{i}. **{r.case.id}** ({r.case.type}, quality {case_quality(r.row):.2f}): {_cell(r.case.question)}",
            f"   - gold: {gold}; reference: {_cell(r.case.answer, 120) or '—'}",
            f"   - answer: {_cell(answer, 160) or '—'}",
            f"   - what went wrong: {'; '.join(diagnose(r)) or 'partial overlap with the reference'}",
        ]
    if settings := summary.get("settings"):
        lines += ["", "## Settings", "", "```json",
                  json.dumps(settings, ensure_ascii=False, indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"


# --- chart -----------------------------------------------------------------------------------

def cjk_font_family() -> str | None:
    """The first installed family of CJK_FONTS, or None (with a warning) when there is none."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in installed:
            return family
    log.warning("no CJK font found (tried %s); Chinese chart labels will not render", ", ".join(CJK_FONTS))
    return None


def draw_chart(aggregates: Mapping[str, Mapping[str, Any]], path: Path, *, n_questions: int) -> None:
    """Grouped bars of CHART_METRICS (overall), one colour per configuration, saved as PNG."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = cjk_font_family()
    rc = {"axes.unicode_minus": False}
    if family:
        rc.update({"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"]})
    configs = list(aggregates)
    width = 0.8 / len(configs)
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(max(10.0, 0.45 * len(CHART_METRICS) * len(configs)), 5.0))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for i, config in enumerate(configs):
            overall = aggregates[config]["overall"]
            values = [overall.get(key) for key, _ in CHART_METRICS]
            xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(CHART_METRICS))]
            bars = ax.bar(xs, [v or 0.0 for v in values], width, label=config)
            labels = ["n/a" if v is None else f"{v:.2f}" for v in values]
            ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        ax.set_xticks(range(len(CHART_METRICS)), [label for _, label in CHART_METRICS])
        ax.set_ylim(0, 1.25)  # headroom above 1.0 for the bar labels and the legend
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_ylabel("得分")
        ax.set_title(f"各配置主要指标对比（{n_questions} 题）")
        ax.legend(fontsize=8, loc="upper center", ncols=min(6, len(configs)), frameon=False)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
