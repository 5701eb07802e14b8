"""The Gradio web app — the only module that imports gradio: tabs 问答, 文章, 备课, 评测.

Lays out components, wires events to `ui_actions` (the 问答 tab lives in `ui_chat`, the 文章 tab and
the shareable page links in `ui_reader`, 备课 in `ui_lesson`, 评测 in `ui_eval`, the named API endpoints /ask,
/lesson, /feedback, /articles in `ui_endpoints`; `data/ui.js` routes in-page links), and mounts the Blocks on the one
FastAPI server of `server.py`, next to the OpenAI-compatible API (`api.py`), on settings.host
(127.0.0.1 by default) with system CJK fonts, no analytics and no external URLs. No retrieval or
answering logic lives here; all text reaches the page through `views`, which escapes it.
"""

import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from zhibu_qa.app import ui_actions as actions
from zhibu_qa.app import views
from zhibu_qa.app.feedback import RecentAnswers
from zhibu_qa.app.ui_chat import chat_tab, wire_chat
from zhibu_qa.app.ui_endpoints import add_endpoints
from zhibu_qa.app.ui_eval import BUILTIN_DATASET, eval_tab, wire_eval
from zhibu_qa.app.ui_lesson import lesson_tab, wire_lesson
from zhibu_qa.app.ui_library import is_admin, library_tab, wire_library
from zhibu_qa.app.ui_reader import reader_tab, wire_reader
from zhibu_qa.config import Settings
from zhibu_qa.ingest.archive import issue_choices

__all__ = ["BUILTIN_DATASET", "build_app", "create_app", "launch", "serve"]

FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
         "DejaVu Sans", "sans-serif"]  # installed system fonts only: nothing is downloaded
MONO_FONTS = ["Noto Sans Mono CJK SC", "DejaVu Sans Mono", "monospace"]
CSS_FILE = Path(__file__).resolve().parents[1] / "data" / "ui.css"
QUEUE_SIZE = 16  # requests waiting beyond this are told the server is busy
MAX_UPLOAD = "5mb"
JS_FILE = Path(__file__).resolve().parents[1] / "data" / "ui.js"  # in-page links; Gradio's own strings in Chinese
PRIVATE = {"api_visibility": "private"}  # UI-only events; the public API is the gr.api endpoints


def _gradio():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before the import: no telemetry, no version check
    import gradio as gr

    return gr


def make_theme():
    return _gradio().themes.Soft(primary_hue="red", font=FONTS, font_mono=MONO_FONTS)


def build_app(pipeline, settings: Settings, startup: actions.Startup, work_dir: Path,
              answers: RecentAnswers | None = None):
    """The Blocks app; `startup` says when `pipeline` is ready; downloads are written under `work_dir`;
    `answers` remembers the answers issued (feedback is accepted only for those)."""
    gr = _gradio()
    answers = answers if answers is not None else RecentAnswers()
    with gr.Blocks(title="《天津支部生活》智能问答", analytics_enabled=False) as demo:
        gr.Markdown("## 《天津支部生活》智能问答\n依据本刊文章回答问题，每句回答都标明出处，可点开原文核对。")
        status = gr.HTML("", elem_id="zq-status")  # filled by the first refresh: no stale banner when ready
        timer = gr.Timer(1.0)
        conv, turn_state = gr.State([]), gr.State(-1)
        link = gr.Textbox(visible="hidden", elem_id="zq-link")  # the current view's query string
        with gr.Tabs() as tabs:
            with gr.Tab("问答", id="chat"):
                chat = chat_tab(gr, settings)
            with gr.Tab("文章", id="reader"):
                reader = reader_tab(gr)
            with gr.Tab("备课", id="lesson"):
                lesson = lesson_tab(gr)
            with gr.Tab("评测", id="eval"):
                evaluation = eval_tab(gr)
            with gr.Tab("资料库", id="library", visible=not settings.auth_user) as library_page:
                library = library_tab(gr)
        reader.tabs = tabs

        def refresh(request: gr.Request):
            """Startup banner; once ready, fill the catalogue table, the filters and (for administrators)
            the 资料库 tab, then stop polling."""
            admin = is_admin(settings, getattr(request, "username", None))
            if startup.state == "error":
                return (startup.error_panel(), gr.Timer(active=False), *[gr.skip()] * 8)
            if not startup.ready:
                return (views.status_html("preparing", startup.message, startup.elapsed), *[gr.skip()] * 9)
            arts = actions.article_choices(pipeline)
            rows, picks = library.listing() if admin else (gr.skip(), gr.skip())
            return ("", gr.Timer(active=False), actions.catalogue_table(pipeline), gr.update(choices=arts),
                    gr.update(choices=actions.column_choices(pipeline)), gr.update(choices=arts),
                    gr.Tab(visible=admin), rows, picks,
                    gr.update(choices=issue_choices(pipeline.catalogue.issues)))

        filled = [status, timer, reader.table, reader.picker, chat.columns, chat.articles, library_page,
                  library.table, library.pick, chat.issues]
        demo.load(refresh, None, filled, queue=False, show_progress="hidden", **PRIVATE)
        timer.tick(refresh, None, filled, queue=False, show_progress="hidden", **PRIVATE)
        wire_chat(gr, chat, conv, turn_state, link, reader, pipeline, settings, startup)
        wire_reader(gr, demo, reader, tabs, link, chat.question, pipeline, startup)
        wire_lesson(gr, lesson, pipeline, startup, work_dir)
        wire_eval(gr, evaluation, pipeline, startup, work_dir)
        wire_library(gr, library, pipeline, settings, startup, [reader.table, reader.picker, chat.columns,
                                                                chat.articles, chat.issues])
        add_endpoints(gr, pipeline, settings, startup, answers)
    return demo


# ---- launch --------------------------------------------------------------------------------------

def mount(app, demo, settings: Settings, work_dir: Path) -> None:
    """Queue `demo` and mount it at / of the FastAPI `app` with the safety settings."""
    gr = _gradio()
    blocked = [str(Path(settings.index_dir).resolve()), str(Path(settings.feedback_path).resolve().parent)]
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    gr.mount_gradio_app(app, demo, "/", server_name=settings.host, server_port=settings.port,
                        auth=actions.auth_pair(settings), auth_message="请输入用户名和密码",
                        max_file_size=MAX_UPLOAD, allowed_paths=[str(work_dir)], blocked_paths=blocked,
                        theme=make_theme(), css=CSS_FILE.read_text(encoding="utf-8"), js=JS_FILE.read_text(encoding="utf-8"),
                        footer_links=["api"],
                        run_history=False, ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                        show_error=False, app_kwargs={"openapi_url": None, "docs_url": None, "redoc_url": None})


def launch(demo, settings: Settings, work_dir: Path, *, pipeline, startup, answers: RecentAnswers,
           block: bool = True, on_ready=None):
    """Serve the UI and the OpenAI-compatible API on one server; returns a `server.RunningServer`
    (block=False) or serves until stopped."""
    from zhibu_qa.app.api import Api, add_routes
    from zhibu_qa.app.server import run, web_app

    app = web_app(settings)
    keys = tuple(k.strip() for k in settings.api_keys.split(",") if k.strip())
    add_routes(app, Api(pipeline, startup, settings, answers, keys=keys))
    mount(app, demo, settings, work_dir)
    return run(app, settings, block=block, on_ready=on_ready)


def create_app(settings: Settings, *, pipeline=None, log=print, work_dir: Path | None = None):
    """SimpleNamespace(demo, pipeline, startup, work_dir, answers), with the startup thread already
    preparing the pipeline."""
    from zhibu_qa.pipeline import Pipeline

    pipeline = pipeline or Pipeline(settings, log=log)
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="zhibu-ui-"))
    startup = actions.Startup(pipeline, log).start()
    answers = RecentAnswers()
    demo = build_app(pipeline, settings, startup, work_dir, answers)
    return SimpleNamespace(demo=demo, pipeline=pipeline, startup=startup, work_dir=work_dir, answers=answers)


def start_warnings(settings: Settings) -> list[str]:
    """What an operator must know before the server starts (exposure without login or API keys)."""
    from zhibu_qa.app.server import is_loopback

    out = []
    if not is_loopback(settings.host) and not actions.auth_pair(settings):
        out.append(f"WARNING: listening on {settings.host} (not loopback) WITHOUT a login: anyone who can reach "
                   "this address can use the app. Set ZHIBU_AUTH_USER and ZHIBU_AUTH_PASSWORD.")
    if not settings.api_keys.strip():
        out.append("warning: ZHIBU_API_KEYS is not set: the OpenAI-compatible API (/v1) answers only "
                   "clients on this machine (loopback).")
    return out


def serve(settings: Settings) -> None:
    """`zhibu-qa serve` / app.py: prepare the knowledge base in the background and serve until stopped."""
    from zhibu_qa.app.server import check_port_free

    actions.auth_pair(settings)  # fail before any work when the login is half-configured
    check_port_free(settings.host, settings.port)  # …or when the port is taken or out of range
    for line in start_warnings(settings):
        print(f"zhibu-qa: {line}", file=sys.stderr)
    import shutil

    app = create_app(settings)
    try:
        launch(app.demo, settings, app.work_dir, pipeline=app.pipeline, startup=app.startup, answers=app.answers,
               on_ready=lambda url: print(f"zhibu-qa: serving on {url} (the page shows startup progress)",
                                          flush=True))
    finally:  # lesson downloads and eval reports of this run; nothing else lives there
        shutil.rmtree(app.work_dir, ignore_errors=True)
