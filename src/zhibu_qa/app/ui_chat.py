"""The 问答 tab: layout and events (ask, stop, regenerate, edit/undo, follow-ups, citations, feedback).

Gradio is passed in by `ui.py` (the only module that imports it). Every way of asking (the box, an
example, a suggested follow-up, regenerate, the chat's retry and edit) first puts {"q", "base"} (the
question and the turns before it) into one State, then runs the same streaming `run` step, so the
stop button cancels any of them and puts the conversation back as it was. No answering logic here.
"""

import functools
from types import SimpleNamespace

from zhibu_qa.answer.analysis import check_question
from zhibu_qa.app import ui_actions as actions
from zhibu_qa.app import views
from zhibu_qa.app.feedback import MAX_COMMENT_CHARS
from zhibu_qa.app.ui_links import Link, followup_questions, link_query, suggested_articles, understood_as
from zhibu_qa.config import Settings
from zhibu_qa.errors import ZhibuError
from zhibu_qa.markup import unescape_md

# sample questions written for the page (not taken from the eval dataset)
EXAMPLES = ("和平区赋予街道哪些权力？", "“最美医生”姜楠在哪家医院工作？", "本刊由哪个单位编辑出版？",
            "盆罐庄村的陶艺传承有多少年历史？")
BACKENDS = [("摘录式（本地，无需联网）", "extractive"), ("大模型（OpenAI 兼容接口）", "openai")]
MODES = [("混合检索（推荐）", "hybrid"), ("向量检索", "dense"), ("关键词检索（BM25）", "bm25")]
PRIVATE = {"api_visibility": "private"}  # UI-only events; the public API is the gr.api endpoints
COPY_JS = """(text) => { if (!text) return;
  if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text); return; }
  const ta = document.createElement('textarea'); ta.value = text; document.body.appendChild(ta);
  ta.select(); document.execCommand('copy'); ta.remove(); }"""
COPY_URL_JS = "() => { (" + COPY_JS + ")(location.href); }"
# The counter runs in the page (no request per keystroke); code points, as the server counts them
COUNT_JS = """(q) => { const n = [...(q || '')].length, max = %d;
  return n >= max ? `<span class="zq-count-full">${n} / ${max}（已达上限）</span>` : `${n} / ${max}`; }"""


def event_index(evt) -> int:
    return evt.index if isinstance(evt.index, int) else evt.index[0]


def chat_tab(gr, settings: Settings) -> SimpleNamespace:
    with gr.Row():
        with gr.Column(scale=3):
            error = gr.HTML(elem_id="zq-chat-error")
            chatbot = gr.Chatbot(label="对话", height=440, elem_id="zq-chat", sanitize_html=True,
                                 render_markdown=True, latex_delimiters=[], allow_tags=False, buttons=[],
                                 editable="user", placeholder="请在下方输入问题，或点击示例问题。")
            with gr.Row(elem_id="zq-followups"):
                follow = [gr.Button(visible=False, size="sm", elem_classes="zq-followup", elem_id=f"zq-follow-{i}")
                          for i in range(3)]
            with gr.Row():
                question = gr.Textbox(show_label=False, placeholder="输入问题，按回车或点“提问”", scale=5,
                                      max_length=settings.max_question_chars, elem_id="zq-question")
                send = gr.Button("提问", variant="primary", scale=1, elem_id="zq-send")
                stop = gr.Button("停止", variant="stop", scale=1, visible=False, elem_id="zq-stop")
            counter = gr.HTML(f"0 / {settings.max_question_chars}", elem_id="zq-count")
            examples = gr.Dataset(components=[question], samples=[[q] for q in EXAMPLES], label="示例问题（点击即问）",
                                  elem_id="zq-examples")
            with gr.Row():
                regenerate = gr.Button("重新生成", size="sm", elem_id="zq-regenerate")
                clear = gr.Button("清空对话", size="sm", elem_id="zq-clear")
                copy = gr.Button("复制最新回答", size="sm")
                copy_link = gr.Button("复制本页链接", size="sm", elem_id="zq-copy-link")
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
        with gr.Column(scale=2) as side:  # more filter or settings panels go here
            with gr.Accordion("检索到的段落", open=True):
                hits = gr.HTML(views.hits_html([]), elem_id="zq-hits")
            with gr.Accordion("筛选范围（期次 / 出版日期 / 栏目 / 文章）", open=False):
                issues = gr.Dropdown(label="期次", multiselect=True, choices=[], elem_id="zq-issues")
                with gr.Row():
                    date_from = gr.Textbox(label="出版日期从", placeholder="如 2024 或 2024-09", max_lines=1,
                                           max_length=20, elem_id="zq-date-from")
                    date_to = gr.Textbox(label="到", placeholder="如 2024-12-31", max_lines=1, max_length=20,
                                         elem_id="zq-date-to")
                columns = gr.Dropdown(label="栏目", multiselect=True, choices=[])
                articles = gr.Dropdown(label="文章", multiselect=True, choices=[])
            with gr.Accordion("回答设置", open=False):
                backend = gr.Radio(BACKENDS, value=settings.backend, label="回答方式")
                k = gr.Slider(1, 10, value=settings.top_k, step=1, label="参考段落数")
                mode = gr.Radio(MODES, value=settings.retrieval_mode, label="检索方式")
    pending = gr.State({})  # {"q", "base"} of the question being answered
    scope = locals()
    ns = SimpleNamespace(**{n: v for n, v in scope.items() if n not in ("gr", "settings", "scope")})
    # AskOptions.checked's arguments, in order
    ns.options = [backend, k, mode, columns, articles, issues, date_from, date_to]
    return ns


def wire_chat(gr, c: SimpleNamespace, conv, turn_state, link, reader, pipeline, settings, startup) -> None:
    """`link` is the page's shareable query string (kept in the address bar by ui.py); `reader` the
    文章 tab's namespace (tabs, picker, article) for 在文章中查看."""
    hidden_follow = [gr.Button(visible=False)] * len(c.follow)

    def cite_choices(conversation, turn):
        return gr.update(choices=actions.citation_choices(conversation, turn), value=None)

    def run(job, conversation_now, *values):
        """Answer job["q"] after job["base"], streaming; `conversation_now` is shown again on errors."""
        q, base = job.get("q", ""), job.get("base", [])
        if job.get("error"):
            yield {c.error: views.error_html(job["error"]), c.stop: gr.Button(visible=False)}
            return
        try:
            startup.check()
            check_question(q, settings.max_question_chars)
            q = q.strip()
            opts = actions.AskOptions.checked(*values)
        except ZhibuError as exc:
            yield {c.error: views.exception_html(exc), c.stop: gr.Button(visible=False)}
            return
        yield {c.chatbot: views.chat_messages(base, (q, "")), c.question: "", c.error: "", c.fb_status: "",
               c.stop: gr.Button(visible=True), **dict(zip(c.follow, hidden_follow, strict=True))}
        final = None
        try:
            for event in actions.stream_answer(pipeline, q, base, opts):
                if isinstance(event, str):
                    yield {c.chatbot: views.chat_messages(base, (q, event))}
                else:
                    final = event
        except ZhibuError as exc:
            yield {c.chatbot: views.chat_messages(conversation_now), c.question: q,
                   c.error: views.exception_html(exc), c.stop: gr.Button(visible=False)}
            return
        understood = understood_as(final, bool(base))
        entry = {"question": q, "answer": final, "options": opts.as_dict(), "understood": understood,
                 "suggested": suggested_articles(pipeline.catalogue, final.get("suggestions") or ())}
        conversation = [*base, entry]
        turn = len(conversation) - 1
        filters = opts.filters_in(pipeline.catalogue)
        asks = followup_questions(pipeline.catalogue, final, [t["question"] for t in conversation], answers=lambda s: (
            not pipeline.ask(s, backend="extractive", k=opts.k, mode=opts.mode, filters=filters).refused))
        yield {c.chatbot: views.chat_messages(conversation), conv: conversation, turn_state: turn,
               c.cite: cite_choices(conversation, turn), c.passage: "", c.goto: gr.update(interactive=False),
               c.hits: views.hits_html(final["hits"]), c.answer_text: actions.plain_answer(final),
               c.stop: gr.Button(visible=False), link: link_query(Link(q=understood or q)),
               **{b: gr.Button(value=a, visible=True) for b, a in zip(c.follow, asks, strict=False)}}

    out = [c.chatbot, conv, c.question, c.error, c.cite, c.passage, c.goto, c.hits, c.fb_status, turn_state,
           c.answer_text, c.stop, link, *c.follow]
    run_kw = dict(concurrency_id="pipeline", show_progress_on=c.chatbot, **PRIVATE)
    quick = dict(queue=False, **PRIVATE)
    runs = []

    def then_run(event):  # only when the first step succeeded: a failed one must not re-ask an old job
        runs.append(event.success(run, [c.pending, conv, *c.options], out, **run_kw))

    def ask_box(q, conversation):
        return {"q": q, "base": conversation}

    for trigger in (c.question.submit, c.send.click):
        then_run(trigger(ask_box, [c.question, conv], c.pending, **quick))
    then_run(c.examples.click(lambda s, conversation: {"q": s[0], "base": conversation}, [c.examples, conv],
                              c.pending, **quick))
    for button in c.follow:
        then_run(button.click(ask_box, [button, conv], c.pending, **quick))

    nothing = {"error": "还没有可以重新生成的回答，请先提问。"}

    def regenerate(conversation):
        if not conversation:
            return nothing
        return {"q": conversation[-1]["question"], "base": conversation[:-1]}

    then_run(c.regenerate.click(regenerate, conv, c.pending, **quick))

    def retry(conversation, evt: gr.RetryData):
        turn = min(event_index(evt) // 2, len(conversation) - 1)
        if turn < 0:
            return nothing
        return {"q": conversation[turn]["question"], "base": conversation[:turn]}

    then_run(c.chatbot.retry(retry, conv, c.pending, **quick))

    def edit(conversation, evt: gr.EditData):
        turn = event_index(evt) // 2  # an edited question drops its answer and every later turn
        return {"q": unescape_md(str(evt.value or "")), "base": conversation[:max(0, turn)]}

    then_run(c.chatbot.edit(edit, conv, c.pending, **quick))

    def stopped(job, conversation):
        return (views.chat_messages(conversation), job.get("q", ""), gr.Button(visible=False),
                views.error_html("已停止", "回答已停止生成；问题已放回输入框，可修改后重新提问。"))

    c.stop.click(stopped, [c.pending, conv], [c.chatbot, c.question, c.stop, c.error], cancels=runs, **quick)

    def clear_chat():
        return ([], [], "", "", gr.update(choices=[], value=None), "", gr.update(interactive=False),
                views.hits_html([]), "", -1, "", gr.Button(visible=False), "", *hidden_follow)

    c.clear.click(clear_chat, None, out, **quick)
    c.chatbot.clear(clear_chat, None, out, **quick)

    def undo(conversation, evt: gr.UndoData):
        turn = max(0, min(event_index(evt) // 2, len(conversation) - 1))
        rest = conversation[:turn]
        last = len(rest) - 1
        return (views.chat_messages(rest), rest, conversation[turn]["question"] if conversation else "",
                cite_choices(rest, last), views.hits_html(rest[-1]["answer"]["hits"] if rest else []), last,
                *hidden_follow)

    c.chatbot.undo(undo, conv, [c.chatbot, conv, c.question, c.cite, c.hits, turn_state, *c.follow], **quick)
    c.copy.click(None, c.answer_text, None, js=COPY_JS)
    c.copy_link.click(None, None, None, js=COPY_URL_JS)
    c.question.change(None, c.question, c.counter, js=COUNT_JS % settings.max_question_chars)

    def show_citation(value, conversation):
        cit = actions.find_citation(conversation, value)
        if cit is None:
            return "", gr.update(interactive=False)
        return actions.citation_passage(pipeline, cit), gr.update(interactive=True)

    c.cite.change(show_citation, [c.cite, conv], [c.passage, c.goto], **quick)

    def pick_turn(conversation, evt: gr.SelectData):
        turn = event_index(evt) // 2
        if not 0 <= turn < len(conversation):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        ans = conversation[turn]["answer"]
        return cite_choices(conversation, turn), views.hits_html(ans["hits"]), turn, actions.plain_answer(ans)

    c.chatbot.select(pick_turn, conv, [c.cite, c.hits, turn_state, c.answer_text], **quick)

    def open_citation(value, conversation):
        cit = actions.find_citation(conversation, value)
        if cit is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        view = actions.article_view(pipeline, cit["article_id"], cit["char_start"], cit["char_end"])
        return (gr.Tabs(selected="reader"), cit["article_id"], view,
                link_query(Link(cit["article_id"], None, cit["char_start"], cit["char_end"])))

    c.goto.click(open_citation, [c.cite, conv], [reader.tabs, reader.picker, reader.article, link],
                 **quick).then(None, js=reader.scroll_js)

    def give_feedback(rating, note, conversation, turn):
        message, ok = actions.feedback_on_turn(settings.feedback_path, rating, note, conversation, turn)
        return message, "" if ok else gr.skip()

    for button, rating in ((c.up, "up"), (c.down, "down")):
        button.click(functools.partial(give_feedback, rating), [c.comment, conv, turn_state],
                     [c.fb_status, c.comment], **quick)  # light: no queue slot

    def like(conversation, note, evt: gr.LikeData):
        return give_feedback("up" if evt.liked else "down", note, conversation, event_index(evt) // 2)

    c.chatbot.like(like, [conv, c.comment], [c.fb_status, c.comment], **quick)
