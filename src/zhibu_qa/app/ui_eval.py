"""The 评测 (benchmark) tab: layout and events. Gradio is passed in by `ui.py`.

Offers only the configurations that need no extra index (the naive baseline builds its own index,
so it stays a CLI run: `zhibu-qa eval`); an uploaded dataset is checked first and its problems are
listed with line numbers in the error panel. A question limit takes a sample covering every question
type; 停止评测 sets the running session's cancel event, which the runner checks between questions.
Each question opens in a drill-down (question, reference, answer, key facts hit and missed, citations).
No `from __future__ import annotations`: Gradio reads the gr.Request / gr.SelectData annotations.
"""

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from zhibu_qa.app import ui_actions as actions
from zhibu_qa.app import views
from zhibu_qa.errors import InputError, RunCancelled, ZhibuError
from zhibu_qa.evaluation.labels import type_name

BUILTIN_DATASET = Path(__file__).resolve().parents[3] / "eval" / "dataset.jsonl"
EVAL_CONFIGS = ("hybrid", "dense", "bm25")
PRIVATE = {"api_visibility": "private"}


def eval_tab(gr) -> SimpleNamespace:
    gr.Markdown("用问答评测集检验回答质量：可用内置评测集，或上传同格式的 .jsonl 文件（不超过 5 MB）。"
                "与基线（naive）的对比需另建索引，请在命令行运行 `zhibu-qa eval`。")
    with gr.Row():
        with gr.Column():
            source = gr.Radio([("内置评测集", "builtin"), ("上传文件", "upload")], value="builtin", label="评测集",
                              elem_id="zq-eval-source")
            configs = gr.CheckboxGroup(list(EVAL_CONFIGS), value=["hybrid"], label="检索配置")
            limit = gr.Number(value=20, precision=0, minimum=0, label="题数上限（0 为全部；按题型抽样，每类都有）",
                              elem_id="zq-eval-limit")
        upload = gr.File(label="上传 .jsonl", file_types=[".jsonl"], type="filepath", height=220,
                         elem_id="zq-eval-upload")
    with gr.Row():
        run = gr.Button("开始评测", variant="primary", elem_id="zq-run-eval")
        cancel = gr.Button("停止评测", variant="stop", elem_id="zq-cancel-eval")
    error = gr.HTML(elem_id="zq-eval-error")
    status = gr.Markdown(elem_id="zq-eval-status")
    with gr.Row():
        metrics = gr.Dataframe(type="array", interactive=False, label="总体指标", max_height=360,
                               elem_id="zq-eval-metrics")
        chart = gr.Image(type="filepath", label="指标对比图", interactive=False, height=360,
                         buttons=["download", "fullscreen"])  # no "share": it would need the internet
    results = gr.Dataframe(type="array", interactive=False, wrap=True, max_height=480, label="逐题结果（点击一行查看明细）",
                           elem_id="zq-eval-results")
    records = gr.State([])
    pick = gr.Dropdown(label="逐题明细", choices=[], elem_id="zq-eval-pick")
    detail = gr.HTML(elem_id="zq-eval-detail")
    report = gr.File(label="下载评测报告", file_count="multiple", interactive=False)
    scope = locals()
    return SimpleNamespace(**{n: v for n, v in scope.items() if n != "gr"})


def checked_configs(configs) -> list[str]:
    """The chosen configurations, each one the tab offers. Example: checked_configs(["naive"]) raises"""
    if not isinstance(configs, (list, tuple)) or not configs:
        raise InputError("请至少选择一种检索配置。")
    bad = [str(c)[:20] for c in configs if c not in EVAL_CONFIGS]
    if bad:
        raise InputError(f"检索配置只能是 {'、'.join(EVAL_CONFIGS)}，收到的是 {'、'.join(bad)}。")
    return list(dict.fromkeys(configs))


def checked_limit(limit) -> int:
    try:
        value = int(limit or 0)
    except (TypeError, ValueError):
        raise InputError("题数上限必须是整数。") from None
    if value < 0:
        raise InputError("题数上限不能为负数（0 为全部）。")
    return value


def drilldown_html(rec: Mapping[str, Any]) -> str:
    """One question of results.jsonl: question, reference, answer, key facts hit (✓) and missed (✗),
    citations and what went wrong; every text escaped."""
    esc = views.esc
    answer = ("（拒答）" if rec.get("refused") else "") + str(rec.get("answer") or "")
    facts = "".join(f'<li class="zq-hit">✓ {esc(f)}</li>' for f in rec.get("key_facts_hit", []))
    facts += "".join(f'<li class="zq-miss">✗ {esc(f)}</li>' for f in rec.get("key_facts_missed", []))
    cites = "".join(f"<li>[{esc(str(c.get('n')))}] 《{esc(c.get('article') or '')}》"
                    f"{' · ' + esc(c['section']) if c.get('section') else ''}：“{esc(c.get('quote') or '')}”</li>"
                    for c in rec.get("citations") or [])
    problems = "；".join(rec.get("diagnosis") or []) or "—"
    rows = [("题目", f"{esc(str(rec.get('id', '')))} · {esc(type_name(str(rec.get('type', ''))))} · "
                    f"配置 {esc(str(rec.get('config', '')))} · 质量 {float(rec.get('quality') or 0):.2f}"),
            ("问题", esc(str(rec.get("question", "")))), ("参考答案", esc(str(rec.get("reference_answer") or "—"))),
            ("回答", esc(answer) or "—"), ("关键事实", f"<ul>{facts}</ul>" if facts else "—"),
            ("引用", f"<ol>{cites}</ol>" if cites else "—"), ("问题所在", esc(problems))]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="zq-drill" id="zq-drill-{esc(str(rec.get("id", "")))}">{body}</table>'


def record_choices(records: list[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Dropdown entries (label, index) of the drill-down, one per results.jsonl record."""
    return [(f"{r.get('id')} · {r.get('config')} · {str(r.get('question', ''))[:30]}", i)
            for i, r in enumerate(records)]


def _records(report_md: Path) -> list[dict[str, Any]]:
    lines = (report_md.parent / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wire_eval(gr, e: SimpleNamespace, pipeline, startup, work_dir: Path) -> None:
    running: dict[str, threading.Event] = {}  # session -> cancel event of its run

    def run_eval(source, uploaded, configs, limit, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        empty = ("", None, None, None, None, [], gr.update(choices=[], value=None), "")
        session = getattr(request, "session_hash", None) or "local"
        cancel = running[session] = threading.Event()
        try:
            startup.check()
            chosen, n = checked_configs(configs), checked_limit(limit)
            if source == "upload":
                if not uploaded:
                    raise InputError("请先上传 .jsonl 评测文件，或选择“内置评测集”。")
                dataset = actions.check_upload(uploaded)
            elif source == "builtin":
                dataset = BUILTIN_DATASET
            else:
                raise InputError("评测集只能是内置评测集或上传文件。")
            progress(0, desc="正在评测")
            view = actions.run_benchmark(pipeline, dataset, work_dir, chosen, limit=n, cancel=cancel,
                                         on_progress=lambda done, total: progress((done, total), unit="题"))
        except RunCancelled as exc:
            return ("", f"已停止：答完 {exc.done}/{exc.total} 题后停止，未生成报告。", *empty[1:])
        except ZhibuError as exc:
            return (views.exception_html(exc), *empty)
        finally:
            if running.get(session) is cancel:
                del running[session]
        (mh, mr), (rh, rr) = view.metrics, view.results
        records = _records(view.report_md)
        first = records[0] if records else None
        return ("", f"完成：{view.n_questions} 道题，配置：{'、'.join(chosen)}。",
                gr.Dataframe(value=mr, headers=mh), str(view.chart) if view.chart else None,
                gr.Dataframe(value=rr, headers=rh), [str(view.report_zip), str(view.report_md)], records,
                gr.update(choices=record_choices(records), value=0 if first else None),
                drilldown_html(first) if first else "")

    def stop(request: gr.Request):
        event = running.get(getattr(request, "session_hash", None) or "local")
        if event is None:
            return "当前没有进行中的评测。"
        event.set()
        return "正在停止：当前这道题答完后停止……"

    def show(index, records):
        if not isinstance(index, int) or not 0 <= index < len(records):
            return ""
        return drilldown_html(records[index])

    def pick_row(evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return row if isinstance(row, int) else gr.skip()

    e.run.click(run_eval, [e.source, e.upload, e.configs, e.limit],
                [e.error, e.status, e.metrics, e.chart, e.results, e.report, e.records, e.pick, e.detail],
                concurrency_id="eval", **PRIVATE)
    e.cancel.click(stop, None, e.status, queue=False, **PRIVATE)  # outside the queue: the run holds its slot
    e.pick.change(show, [e.pick, e.records], e.detail, queue=False, **PRIVATE)
    e.results.select(pick_row, None, e.pick, queue=False, **PRIVATE)
