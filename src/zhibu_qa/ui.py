"""The Gradio web app — the only module that imports gradio: tabs 问答, 文章, 备课, 评测.

Lays out components, wires events to `ui_actions` (the 评测 tab lives in `ui_eval`, 备课 in `ui_lesson`,
the named API endpoints /ask, /lesson, /feedback, /articles in `ui_endpoints`), and mounts the Blocks on the one
FastAPI server of `server.py`, next to the OpenAI-compatible API (`api.py`), on settings.host
(127.0.0.1 by default) with system CJK fonts, no analytics and no external URLs. No retrieval or
answering logic lives here; all text reaches the page through `views`, which escapes it.
"""

import functools
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from . import ui_actions as actions
from . import views
from .answer.analysis import check_question
from .config import Settings
from .errors import ZhibuError
from .feedback import MAX_COMMENT_CHARS, RecentAnswers
from .ui_endpoints import add_endpoints
from .ui_eval import BUILTIN_DATASET, eval_tab, wire_eval
from .ui_lesson import lesson_tab, wire_lesson
from .ui_library import is_admin, library_tab, wire_library

__all__ = ["BUILTIN_DATASET", "build_app", "create_app", "launch", "serve"]

EXAMPLES = ("和平区下放给街道的“五权”是哪五项？", "河东区清理了多少块外部牌子？", "编辑部电话是多少？",
            "东丽区是怎么减负的？")
BACKENDS = [("摘录式（本地，无需联网）", "extractive"), ("大模型（OpenAI 兼容接口）", "openai")]
MODES = [("混合检索（推荐）", "hybrid"), ("向量检索", "dense"), ("关键词检索（BM25）", "bm25")]
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei",
         "DejaVu Sans", "sans-serif"]  # installed system fonts only: nothing is downloaded
MONO_FONTS = ["Noto Sans Mono CJK SC", "DejaVu Sans Mono", "monospace"]
CSS_FILE = Path(__file__).with_name("data") / "ui.css"
QUEUE_SIZE = 16  # requests waiting beyond this are told the server is busy
MAX_UPLOAD = "5mb"
SCROLL_JS = """() => { setTimeout(() => { const el = document.getElementById('zq-target');
  if (el) el.scrollIntoView({block: 'center', behavior: 'smooth'}); }, 400); }"""
COPY_JS = """(text) => { if (!text) return;
  if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text); return; }
  const ta = document.createElement('textarea'); ta.value = text; document.body.appendChild(ta);
  ta.select(); document.execCommand('copy'); ta.remove(); }"""
PRIVATE = {"api_visibility": "private"}  # UI-only events; the public API is the gr.api endpoints


def _gradio():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before the import: no telemetry, no version check
    import gradio as gr

    return gr


def make_theme():
    return _gradio().themes.Soft(primary_hue="red", font=FONTS, font_mono=MONO_FONTS)


def _index(evt) -> int:
    return evt.index if isinstance(evt.index, int) else evt.index[0]


# ---- layout --------------------------------------------------------------------------------------

def _chat_tab(gr, settings: Settings) -> SimpleNamespace:
    with gr.Row():
        with gr.Column(scale=3):
            error = gr.HTML(elem_id="zq-chat-error")
            chatbot = gr.Chatbot(label="对话", height=440, elem_id="zq-chat", sanitize_html=True,
                                 render_markdown=True, latex_delimiters=[], allow_tags=False, buttons=[],
                                 placeholder="请在下方输入问题，或点击示例问题。")
            with gr.Row():
                question = gr.Textbox(show_label=False, placeholder="输入问题，按回车或点“提问”", scale=5,
                                      max_length=settings.max_question_chars, elem_id="zq-question")
                send = gr.Button("提问", variant="primary", scale=1, elem_id="zq-send")
            examples = gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES], label="示例问题（点击即问）",
                                  elem_id="zq-examples")
            with gr.Row():
                clear = gr.Button("清空对话", size="sm", elem_id="zq-clear")
                copy = gr.Button("复制最新回答", size="sm")
            answer_text = gr.Textbox(visible="hidden")
            cite = gr.Radio(label="引用（点击查看原文中的出处）", choices=[], elem_id="zq-cites")
            passage = gr.HTML(elem_id="zq-passage")
            goto = gr.Button("在文章中查看", size="sm", interactive=False, elem_id="zq-goto")
            with gr.Row():
                comment = gr.Textbox(label="意见（可选）", max_length=MAX_COMMENT_CHARS, scale=4,
                                     elem_id="zq-comment")
                up = gr.Button("✓ 有帮助", scale=1, elem_id="zq-up")
                down = gr.Button("✗ 没帮助", scale=1, elem_id="zq-down")
            fb_status = gr.Markdown(elem_id="zq-feedback-status")
        with gr.Column(scale=2):
            with gr.Accordion("检索到的段落", open=True):
                hits = gr.HTML(views.hits_html([]), elem_id="zq-hits")
            with gr.Accordion("筛选范围（栏目 / 文章）", open=False):
                columns = gr.Dropdown(label="栏目", multiselect=True, choices=[])
                articles = gr.Dropdown(label="文章", multiselect=True, choices=[])
            with gr.Accordion("回答设置", open=False):
                backend = gr.Radio(BACKENDS, value=settings.backend, label="回答方式")
                k = gr.Slider(1, 10, value=settings.top_k, step=1, label="参考段落数")
                mode = gr.Radio(MODES, value=settings.retrieval_mode, label="检索方式")
    scope = locals()
    return SimpleNamespace(**{n: v for n, v in scope.items() if n not in ("gr", "settings")})


def _reader_tab(gr) -> SimpleNamespace:
    with gr.Row():
        with gr.Column(scale=2):
            table = gr.Dataframe(headers=views.CATALOGUE_HEADERS, type="array", interactive=False, wrap=True,
                                 max_height=640, column_widths=["12%", "22%", "46%", "20%"],
                                 elem_id="zq-table", label="本刊文章（点击一行打开）")
        with gr.Column(scale=3):
            picker = gr.Dropdown(label="打开文章", choices=[], elem_id="zq-picker")
            article = gr.HTML('<p class="zq-muted">在左侧表格或上方列表中选择一篇文章。</p>', elem_id="zq-article-view")
    return SimpleNamespace(table=table, picker=picker, article=article)


# ---- events --------------------------------------------------------------------------------------

def _wire_chat(gr, c: SimpleNamespace, conv, turn_state, tabs, reader, pipeline, settings, startup) -> None:
    def cite_choices(conversation, turn):
        return gr.update(choices=actions.citation_choices(conversation, turn), value=None)

    out = [c.chatbot, conv, c.question, c.error, c.cite, c.passage, c.goto, c.hits, c.fb_status, turn_state,
           c.answer_text]

    def respond(q, conversation, backend, k, mode, columns, articles):
        try:
            startup.check()
            check_question(q, settings.max_question_chars)
            q = q.strip()
            opts = actions.AskOptions.checked(backend, k, mode, columns, articles)
        except ZhibuError as exc:
            yield {c.error: views.exception_html(exc)}
            return
        yield {c.chatbot: views.chat_messages(conversation, (q, "")), c.question: "", c.error: "",
               c.fb_status: ""}
        final = None
        try:
            for event in actions.stream_answer(pipeline, q, conversation, opts):
                if isinstance(event, str):
                    yield {c.chatbot: views.chat_messages(conversation, (q, event))}
                else:
                    final = event
        except ZhibuError as exc:
            yield {c.chatbot: views.chat_messages(conversation), c.question: q,
                   c.error: views.exception_html(exc)}
            return
        conversation = [*conversation, {"question": q, "answer": final, "options": opts.as_dict()}]
        turn = len(conversation) - 1
        yield {c.chatbot: views.chat_messages(conversation), conv: conversation, turn_state: turn,
               c.cite: cite_choices(conversation, turn), c.passage: "", c.goto: gr.update(interactive=False),
               c.hits: views.hits_html(final["hits"]), c.answer_text: actions.plain_answer(final)}

    inputs = [c.question, conv, c.backend, c.k, c.mode, c.columns, c.articles]
    ask_kw = dict(concurrency_id="pipeline", show_progress_on=c.chatbot, **PRIVATE)
    for trigger in (c.question.submit, c.send.click):
        trigger(respond, inputs, out, **ask_kw)
    c.examples.click(lambda s: s[0], c.examples, c.question, queue=False, **PRIVATE).then(
        respond, inputs, out, **ask_kw)

    def clear_chat():
        return ([], [], "", "", gr.update(choices=[], value=None), "", gr.update(interactive=False),
                views.hits_html([]), "", -1, "")

    c.clear.click(clear_chat, None, out, queue=False, **PRIVATE)
    c.chatbot.clear(clear_chat, None, out, queue=False, **PRIVATE)
    c.copy.click(None, c.answer_text, None, js=COPY_JS)

    def show_citation(value, conversation):
        cit = actions.find_citation(conversation, value)
        if cit is None:
            return "", gr.update(interactive=False)
        return actions.citation_passage(pipeline, cit), gr.update(interactive=True)

    c.cite.change(show_citation, [c.cite, conv], [c.passage, c.goto], queue=False, **PRIVATE)

    def pick_turn(conversation, evt: gr.SelectData):
        turn = _index(evt) // 2
        if not 0 <= turn < len(conversation):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        ans = conversation[turn]["answer"]
        return cite_choices(conversation, turn), views.hits_html(ans["hits"]), turn, actions.plain_answer(ans)

    c.chatbot.select(pick_turn, conv, [c.cite, c.hits, turn_state, c.answer_text], queue=False, **PRIVATE)

    def open_citation(value, conversation):
        cit = actions.find_citation(conversation, value)
        if cit is None:
            return gr.skip(), gr.skip(), gr.skip()
        view = actions.article_view(pipeline, cit["article_id"], cit["char_start"], cit["char_end"])
        return gr.Tabs(selected="reader"), cit["article_id"], view

    c.goto.click(open_citation, [c.cite, conv], [tabs, reader.picker, reader.article], queue=False,
                 **PRIVATE).then(None, js=SCROLL_JS)

    def give_feedback(rating, note, conversation, turn):
        message, ok = actions.feedback_on_turn(settings.feedback_path, rating, note, conversation, turn)
        return message, "" if ok else gr.skip()

    for button, rating in ((c.up, "up"), (c.down, "down")):
        button.click(functools.partial(give_feedback, rating), [c.comment, conv, turn_state],
                     [c.fb_status, c.comment], queue=False, **PRIVATE)  # light: no queue slot

    def like(conversation, note, evt: gr.LikeData):
        return give_feedback("up" if evt.liked else "down", note, conversation, _index(evt) // 2)

    c.chatbot.like(like, [conv, c.comment], [c.fb_status, c.comment], queue=False, **PRIVATE)


def _wire_reader(gr, r: SimpleNamespace, pipeline) -> None:
    def open_row(evt: gr.SelectData):
        try:
            art = pipeline.catalogue.articles[int(evt.row_value[0]) - 1]
        except (TypeError, ValueError, IndexError):
            return gr.skip(), gr.skip()
        return art.id, actions.article_view(pipeline, art.id)

    r.table.select(open_row, None, [r.picker, r.article], queue=False, **PRIVATE)
    r.picker.input(lambda a: actions.article_view(pipeline, a) if a else "", r.picker, r.article, queue=False,
                   **PRIVATE)


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
        with gr.Tabs() as tabs:
            with gr.Tab("问答", id="chat"):
                chat = _chat_tab(gr, settings)
            with gr.Tab("文章", id="reader"):
                reader = _reader_tab(gr)
            with gr.Tab("备课", id="lesson"):
                lesson = lesson_tab(gr)
            with gr.Tab("评测", id="eval"):
                evaluation = eval_tab(gr)
            with gr.Tab("资料库", id="library", visible=not settings.auth_user) as library_page:
                library = library_tab(gr)

        def refresh(request: gr.Request):
            """Startup banner; once ready, fill the catalogue table, the filters and (for administrators)
            the 资料库 tab, then stop polling."""
            admin = is_admin(settings, getattr(request, "username", None))
            if startup.state == "error":
                return (startup.error_panel(), gr.Timer(active=False), *[gr.skip()] * 7)
            if not startup.ready:
                return (views.status_html("preparing", startup.message, startup.elapsed), *[gr.skip()] * 8)
            arts = actions.article_choices(pipeline)
            rows, picks = library.listing() if admin else (gr.skip(), gr.skip())
            return ("", gr.Timer(active=False), actions.catalogue_table(pipeline), gr.update(choices=arts),
                    gr.update(choices=actions.column_choices(pipeline)), gr.update(choices=arts),
                    gr.Tab(visible=admin), rows, picks)

        filled = [status, timer, reader.table, reader.picker, chat.columns, chat.articles, library_page,
                  library.table, library.pick]
        demo.load(refresh, None, filled, queue=False, show_progress="hidden", **PRIVATE)
        timer.tick(refresh, None, filled, queue=False, show_progress="hidden", **PRIVATE)
        _wire_chat(gr, chat, conv, turn_state, tabs, reader, pipeline, settings, startup)
        _wire_reader(gr, reader, pipeline)
        wire_lesson(gr, lesson, pipeline, startup, work_dir)
        wire_eval(gr, evaluation, pipeline, startup, work_dir)
        wire_library(gr, library, pipeline, settings, startup, [reader.table, reader.picker, chat.columns,
                                                                chat.articles])
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
                        theme=make_theme(), css=CSS_FILE.read_text(encoding="utf-8"), footer_links=["api"],
                        run_history=False, ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                        show_error=False, app_kwargs={"openapi_url": None, "docs_url": None, "redoc_url": None})


def launch(demo, settings: Settings, work_dir: Path, *, pipeline, startup, answers: RecentAnswers,
           block: bool = True, on_ready=None):
    """Serve the UI and the OpenAI-compatible API on one server; returns a `server.RunningServer`
    (block=False) or serves until stopped."""
    from .api import Api, add_routes
    from .server import run, web_app

    app = web_app(settings)
    keys = tuple(k.strip() for k in settings.api_keys.split(",") if k.strip())
    add_routes(app, Api(pipeline, startup, settings, answers, keys=keys))
    mount(app, demo, settings, work_dir)
    return run(app, settings, block=block, on_ready=on_ready)


def create_app(settings: Settings, *, pipeline=None, log=print, work_dir: Path | None = None):
    """SimpleNamespace(demo, pipeline, startup, work_dir, answers), with the startup thread already
    preparing the pipeline."""
    from .pipeline import Pipeline

    pipeline = pipeline or Pipeline(settings, log=log)
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="zhibu-ui-"))
    startup = actions.Startup(pipeline, log).start()
    answers = RecentAnswers()
    demo = build_app(pipeline, settings, startup, work_dir, answers)
    return SimpleNamespace(demo=demo, pipeline=pipeline, startup=startup, work_dir=work_dir, answers=answers)


def start_warnings(settings: Settings) -> list[str]:
    """What an operator must know before the server starts (exposure without login or API keys)."""
    from .server import is_loopback

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
    from .server import check_port_free

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
