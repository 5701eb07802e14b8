"""The 评测 (benchmark) tab: layout and events. Gradio is passed in by `ui.py`.

Offers only the configurations that need no extra index (the naive baseline builds its own index,
so it stays a CLI run: `zhibu-qa eval`); an uploaded dataset is checked first and its problems are
listed with line numbers in the error panel.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from . import ui_actions as actions
from . import views
from .errors import InputError, ZhibuError

BUILTIN_DATASET = Path(__file__).resolve().parents[2] / "eval" / "dataset.jsonl"
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
            limit = gr.Number(value=20, precision=0, minimum=0, label="题数上限（0 为全部）", elem_id="zq-eval-limit")
        upload = gr.File(label="上传 .jsonl", file_types=[".jsonl"], type="filepath", height=220,
                         elem_id="zq-eval-upload")
    run = gr.Button("开始评测", variant="primary", elem_id="zq-run-eval")
    error = gr.HTML(elem_id="zq-eval-error")
    status = gr.Markdown(elem_id="zq-eval-status")
    with gr.Row():
        metrics = gr.Dataframe(type="array", interactive=False, label="总体指标", max_height=360)
        chart = gr.Image(type="filepath", label="指标对比图", interactive=False, height=360,
                         buttons=["download", "fullscreen"])  # no "share": it would need the internet
    results = gr.Dataframe(type="array", interactive=False, wrap=True, max_height=480, label="逐题结果",
                           elem_id="zq-eval-results")
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


def wire_eval(gr, e: SimpleNamespace, pipeline, startup, work_dir: Path) -> None:
    def run_eval(source, uploaded, configs, limit, progress=gr.Progress()):  # noqa: B008 (the gradio idiom)
        empty = ("", None, None, None, None)  # status, metrics, chart, results, report
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
            view = actions.run_benchmark(pipeline, dataset, work_dir, chosen, limit=n,
                                         on_progress=lambda done, total: progress((done, total), unit="题"))
        except ZhibuError as exc:
            return (views.exception_html(exc), *empty)
        (mh, mr), (rh, rr) = view.metrics, view.results
        return ("", f"完成：{view.n_questions} 道题，配置：{'、'.join(chosen)}。",
                gr.Dataframe(value=mr, headers=mh), str(view.chart) if view.chart else None,
                gr.Dataframe(value=rr, headers=rh), [str(view.report_zip), str(view.report_md)])

    e.run.click(run_eval, [e.source, e.upload, e.configs, e.limit],
                [e.error, e.status, e.metrics, e.chart, e.results, e.report], concurrency_id="eval", **PRIVATE)
