"""Write a benchmark result to disk: results.jsonl, report.json, report.md and chart.png.

Owns the file formats and the chart (matplotlib, Agg canvas, a CJK font when one is installed);
report.md's text is `report_md`, the per-question diagnosis `diagnosis`. Files are written into a
temporary directory next to `out_dir` and moved in only when all of them succeeded. Scoring is
`runner`'s job. report.json keeps the English metric keys; only report.md and the chart are Chinese.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zhibu_qa.evaluation.diagnosis import N_WORST, case_quality, diagnose, key_facts_split, worst_cases
from zhibu_qa.evaluation.labels import fmt, metric_label
from zhibu_qa.evaluation.report_md import GENERALISATION_METRICS, TYPE_METRICS, render_markdown
from zhibu_qa.evaluation.runner import BenchmarkResult, CaseResult, paraphrase_gap, ranked_hits

__all__ = ["CHART_METRICS", "GENERALISATION_METRICS", "N_WORST", "REPORT_FILES", "TYPE_METRICS", "case_quality",
           "diagnose", "draw_chart", "fmt", "render_markdown", "report_summary", "result_records",
           "worst_cases", "write_report"]

log = logging.getLogger(__name__)

RESULTS_FILE, REPORT_JSON, REPORT_MD, CHART_FILE = "results.jsonl", "report.json", "report.md", "chart.png"
REPORT_FILES: tuple[str, ...] = (RESULTS_FILE, REPORT_JSON, REPORT_MD, CHART_FILE)
TOP_HITS = 10  # hits kept per question in results.jsonl
# Bars of chart.png: aggregate key -> Chinese label.
CHART_METRICS: tuple[tuple[str, str], ...] = tuple(
    (k, metric_label(k)) for k in ("hit@3", "mrr", "key_fact_recall", "char_f1", "cites_gold", "quote_validity",
                                   "refusal_f1"))
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
        records = result_records(result)
        with open(tmp / RESULTS_FILE, "w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        (tmp / REPORT_JSON).write_text(
            json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        (tmp / REPORT_MD).write_text(render_markdown(result, summary, records), encoding="utf-8")
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
    hit_facts, missed_facts = key_facts_split(r)
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
        "key_facts": list(case.key_facts),
        "key_facts_hit": hit_facts,
        "key_facts_missed": missed_facts,
        "quality": case_quality(r.row),
        "diagnosis": diagnose(r),
    }


# --- chart -----------------------------------------------------------------------------------

def cjk_font_family() -> str | None:
    """The first installed family of CJK_FONTS, or None (with a warning) when there is none.

    matplotlib's font cache predates fonts installed after it was built (fonts-noto-cjk in CI), so
    CJK font files on the system are registered once when the cache knows none of the families.
    """
    from matplotlib import font_manager

    for attempt in range(2):
        installed = {f.name for f in font_manager.fontManager.ttflist}
        for family in CJK_FONTS:
            if family in installed:
                return family
        if attempt == 0:
            for path in font_manager.findSystemFonts():
                if any(tag in Path(path).name for tag in ("CJK", "SourceHan", "wqy", "WenQuanYi")):
                    try:
                        font_manager.fontManager.addfont(path)
                    except (OSError, RuntimeError, ValueError):
                        continue  # an unreadable font file: try the next
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
