"""The 资料库 (knowledge-base) tab: upload a source, read its validation report, confirm, and the
incremental index build runs with a progress bar; list sources and remove them.

Catalogue writes go through `Pipeline.ingest/remove/build_index` only (they hold the locks); an
upload is first parsed without changing anything. With a login, only `settings.admin_users` see
and use the tab (checked again on every action). Gradio is passed in by `ui.py`.
"""


import re
import shutil
from pathlib import Path
from types import SimpleNamespace

from zhibu_qa.app import views
from zhibu_qa.config import Settings
from zhibu_qa.errors import InputError, ZhibuError

SOURCE_SUFFIXES = (".txt", ".md", ".markdown", ".pdf")
MAX_SOURCE_BYTES = 5 * 1024 * 1024  # as the server's upload limit
UPLOADS_DIR = "uploads"  # under the index dir (never served): the ingested files keep a stable path
PRIVATE = {"api_visibility": "private"}


def is_admin(settings: Settings, username: str | None) -> bool:
    """Without a login everyone manages the knowledge base; with one, only settings.admin_users."""
    if not settings.auth_user:
        return True
    return bool(username) and username in settings.admin_users


def check_source_upload(path: str | Path | None) -> Path:
    if not path:
        raise InputError("请先选择要上传的文件（.txt、.md 或 .pdf）。")
    path = Path(path)
    if path.suffix.lower() not in SOURCE_SUFFIXES:
        raise InputError(f"只支持 {'、'.join(SOURCE_SUFFIXES)} 文件，收到的是 {path.name}。")
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise InputError(f"文件过大（{path.stat().st_size // 1024} KB），上限为 5 MB。")
    return path


def stored_name(name: str) -> str:
    """A safe file name for an upload. Example: stored_name("../第9期 (下).txt") == "第9期_下.txt" """
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    return (re.sub(r"[^\w-]+", "_", stem).strip("_") or "upload")[:60] + suffix


def library_tab(gr) -> SimpleNamespace:
    gr.Markdown("上传本刊某一期或其他文档（.txt / .md / .pdf，不超过 5 MB）：先检查识别结果，确认后导入并更新检索索引。")
    with gr.Row():
        upload = gr.File(label="选择文件", file_types=list(SOURCE_SUFFIXES), type="filepath", height=160,
                         elem_id="zq-kb-upload")
        with gr.Column():
            check = gr.Button("检查文件", elem_id="zq-kb-check")
            confirm = gr.Button("确认导入并更新索引", variant="primary", interactive=False, elem_id="zq-kb-confirm")
    report = gr.HTML(elem_id="zq-kb-report")
    status = gr.HTML(elem_id="zq-kb-status")
    table = gr.Dataframe(headers=views.SOURCE_HEADERS, type="array", interactive=False, wrap=True,
                         label="已导入的资料", elem_id="zq-kb-table")
    with gr.Row():
        pick = gr.Dropdown(label="选择要删除的资料", choices=[], scale=3, elem_id="zq-kb-pick")
        remove = gr.Button("删除并更新索引", variant="stop", scale=1, elem_id="zq-kb-remove")
    pending = gr.State(None)
    scope = locals()
    return SimpleNamespace(**{n: v for n, v in scope.items() if n != "gr"})


def wire_library(gr, lib: SimpleNamespace, pipeline, settings: Settings, startup, refreshed: list) -> None:
    """`refreshed`: components outside the tab (reader table, pickers, filters) updated after a change."""

    def allowed(request) -> None:
        startup.check()
        if not is_admin(settings, getattr(request, "username", None)):
            raise InputError("只有管理员可以管理资料库。")

    def listing():
        cat = pipeline.catalogue
        choices = [(f"{s.issue.label or s.issue.id}（{Path(s.path).name}）", s.issue.id) for s in cat.sources]
        return views.source_rows(cat), gr.update(choices=choices, value=None)

    def check(uploaded, request: gr.Request):
        try:
            allowed(request)
            path = check_source_upload(uploaded)
            (parsed,) = pipeline.parse([path])  # reads only: nothing changes yet
        except ZhibuError as exc:
            return views.exception_html(exc), None, gr.update(interactive=False), ""
        note = '<p class="zq-muted">以上为识别结果，知识库尚未改动。确认无误后点击“确认导入并更新索引”。</p>'
        return views.ingest_report_html(parsed) + note, str(path), gr.update(interactive=True), ""

    def after_change(message: str):
        from zhibu_qa.app.ui_actions import article_choices, catalogue_table, column_choices
        from zhibu_qa.ingest.archive import issue_choices

        arts = article_choices(pipeline)
        return (message, *listing(), catalogue_table(pipeline), gr.update(choices=arts),
                gr.update(choices=column_choices(pipeline)), gr.update(choices=arts),
                gr.update(choices=issue_choices(pipeline.catalogue.issues)))

    def rebuild(progress) -> str:
        progress(0, desc="正在更新检索索引")
        stats = pipeline.build_index(progress=True)  # tqdm bars, tracked by gr.Progress
        pipeline.warm_up()
        return f"索引已更新：共 {stats.n_chunks} 段，新嵌入 {stats.n_embedded} 段，复用 {stats.n_reused} 段。"

    skip = [gr.skip()] * 8

    def confirm(pending, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        try:
            allowed(request)
            source = check_source_upload(pending)
            folder = Path(settings.index_dir) / UPLOADS_DIR
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / stored_name(source.name)
            shutil.copyfile(source, target)
            changes, _ = pipeline.ingest([target])
            done = "；".join(f"{'已导入' if c.action == 'added' else '已替换' if c.action == 'replaced' else '未变化'}"
                            f" {Path(c.path).name}（{c.n_articles} 篇文章）" for c in changes)
            message = done + "。" + rebuild(progress)
        except ZhibuError as exc:
            return views.exception_html(exc), gr.skip(), gr.update(interactive=False), *skip
        return "", None, gr.update(interactive=False), *after_change(views.esc(message))

    def remove(issue_id, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        try:
            allowed(request)
            sources = pipeline.catalogue.sources
            if issue_id not in {s.issue.id for s in sources}:
                raise InputError("请先在列表中选择要删除的资料。")
            if len(sources) == 1:
                raise InputError("知识库至少要保留一份资料：请先导入新资料，再删除这一份。")
            pipeline.remove(issue_id)
            message = f"已删除 {issue_id}。" + rebuild(progress)
        except ZhibuError as exc:
            return views.exception_html(exc), *skip[:7]
        return after_change(views.esc(message))

    tail = [lib.table, lib.pick, *refreshed]
    lib.check.click(check, lib.upload, [lib.report, lib.pending, lib.confirm, lib.status], concurrency_id="pipeline",
                    **PRIVATE)
    lib.confirm.click(confirm, lib.pending, [lib.report, lib.pending, lib.confirm, lib.status, *tail],
                      concurrency_id="pipeline", **PRIVATE)
    lib.remove.click(remove, lib.pick, [lib.status, *tail], concurrency_id="pipeline", **PRIVATE)
    lib.listing = listing
