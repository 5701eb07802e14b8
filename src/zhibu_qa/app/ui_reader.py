"""The 文章 tab and the page's addresses: the catalogue with a title/author search, the article view,
and opening a shareable link (`ui_links`) from a click inside the page or from the URL on load.

Gradio is passed in by `ui.py`. A link names an article (opened at its top), one of its sections,
a quoted span (highlighted and scrolled to) or a question (put in the 问答 box and asked).
"""

from types import SimpleNamespace

from zhibu_qa.app import ui_actions as actions
from zhibu_qa.app import views
from zhibu_qa.app.ui_chat import COPY_URL_JS
from zhibu_qa.app.ui_links import Link, filter_rows, link_query, parse_link

PRIVATE = {"api_visibility": "private"}
# After a view changed: scroll the article's own box to the highlighted quote (else the focused
# section, else its top), keeping the page (tabs, header) where it is unless the view is off screen
SCROLL_JS = """() => { setTimeout(() => { const view = document.getElementById('zq-article-view');
  const el = document.getElementById('zq-target') || document.getElementById('zq-focus');
  if (!el || !view || !view.contains(el)) return;
  const box = el.closest('.zq-article');
  if (box) { const top = el.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
    box.scrollTop = el.tagName === 'H2' ? 0 : (el.id === 'zq-target' ? top - box.clientHeight / 3 : top - 8); }
  const r = view.getBoundingClientRect();
  if (r.top < 0 || r.top > innerHeight * 0.6) view.scrollIntoView({block: 'start'}); }, 300); }"""
# Keeps the address bar on the current view, so it can be copied and shared
URL_JS = """(query) => { const want = query ? '?' + query : location.pathname;
  if (location.search !== (query ? '?' + query : '')) history.pushState(null, '', want); }"""
# On load: a ?q= link asks its question once the page is ready
ASK_JS = """(q) => { if (!q || !new URLSearchParams(location.search).get('q')) return;
  const go = (tries) => { const s = document.getElementById('zq-status');
    if (s && s.textContent.trim() && tries > 0) { setTimeout(() => go(tries - 1), 500); return; }
    const b = document.getElementById('zq-send'); if (b) b.click(); };
  setTimeout(() => go(240), 300); }"""


def reader_tab(gr) -> SimpleNamespace:
    with gr.Row():
        with gr.Column(scale=2):
            search = gr.Textbox(label="搜索文章", placeholder="输入标题、作者或栏目中的字词", elem_id="zq-reader-search")
            table = gr.Dataframe(headers=views.CATALOGUE_HEADERS, type="array", interactive=False, wrap=True,
                                 max_height=640, column_widths=["12%", "22%", "46%", "20%"],
                                 elem_id="zq-table", label="本刊文章（点击一行打开）")
        with gr.Column(scale=3):
            with gr.Row():
                picker = gr.Dropdown(label="打开文章", choices=[], elem_id="zq-picker", scale=4)
                copy_link = gr.Button("复制本文链接", size="sm", scale=1, elem_id="zq-reader-copy")
            article = gr.HTML('<p class="zq-muted">在左侧表格或上方列表中选择一篇文章。</p>', elem_id="zq-article-view")
    return SimpleNamespace(search=search, table=table, picker=picker, article=article, copy_link=copy_link,
                           scroll_js=SCROLL_JS)


def open_link(pipeline, link: Link) -> tuple[str | None, str | None, str | None, str]:
    """(tab id, article id, article HTML, canonical query) for a link; Nones where nothing changes."""
    if link.article is None:
        return ("chat" if link.q else None), None, None, link_query(link)
    try:
        art = pipeline.catalogue.article(link.article)
    except KeyError:
        return "reader", None, views.error_html("找不到文章", f"编号 {link.article} 不在知识库中。"), ""
    if link.start is not None:
        return "reader", art.id, actions.article_view(pipeline, art.id, link.start, link.end), link_query(link)
    issue = pipeline.catalogue.issues.get(art.issue_id)
    section = link.section if link.section is not None and 0 <= link.section < len(art.sections) else None
    return ("reader", art.id, views.article_html(art, issue.label if issue else "", None, section),
            link_query(Link(art.id, section)))


def wire_reader(gr, demo, r: SimpleNamespace, tabs, link, question, pipeline, startup) -> None:
    """Table, picker and search of the 文章 tab; the #zq-nav box and the page load open links."""
    quick = dict(queue=False, **PRIVATE)

    def opened(article_id):
        _, _, view, query = open_link(pipeline, Link(article_id))
        return view, query

    def open_row(evt: gr.SelectData):
        try:
            art = actions.reader_order(pipeline)[int(evt.row_value[0]) - 1]
        except (TypeError, ValueError, IndexError):  # an issue's heading row has no 编号
            return gr.skip(), gr.skip(), gr.skip()
        return art.id, *opened(art.id)

    r.table.select(open_row, None, [r.picker, r.article, link], **quick).then(None, js=SCROLL_JS)
    r.picker.input(lambda a: opened(a) if a else ("", ""), r.picker, [r.article, link], **quick).then(
        None, js=SCROLL_JS)

    def search(text):
        return filter_rows(actions.catalogue_table(pipeline), text)

    for trigger in (r.search.input, r.search.submit):
        trigger(search, r.search, r.table, **quick)
    r.copy_link.click(None, None, None, js=COPY_URL_JS)

    def navigate(query_params):
        link_value = parse_link(query_params)
        if link_value == Link():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if link_value.article is not None and not startup.ready and not pipeline.catalogue.articles:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        tab, art, view, query = open_link(pipeline, link_value)
        return (gr.Tabs(selected=tab) if tab else gr.skip(), art if art else gr.skip(),
                view if view is not None else gr.skip(), query, link_value.q or gr.skip())

    outputs = [tabs, r.picker, r.article, link, question]
    nav = gr.Textbox(visible="hidden", elem_id="zq-nav")
    nav.change(navigate, nav, outputs, **quick).then(None, js=SCROLL_JS)

    def restore(request: gr.Request):
        return navigate(dict(request.query_params) if request is not None else {})

    load = demo.load(restore, None, outputs, show_progress="hidden", **quick)
    load.then(None, question, None, js=ASK_JS).then(None, js=SCROLL_JS)
    link.change(None, link, None, js=URL_JS)
