"""The 备课 (lesson) tab: layout and events. Gradio is passed in by `ui.py`.

Builds the outline with `lessons.build_lesson`, shows it (Markdown, markup neutralised) with the
low-coverage warning above it when the knowledge base barely covers the topic, and offers the
Markdown and Word files written into a fresh folder of the run's work directory.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

from zhibu_qa.app import views
from zhibu_qa.app.ui_actions import safe_stem
from zhibu_qa.errors import ZhibuError
from zhibu_qa.lessons import Lesson, build_lesson, lesson_markdown, write_lesson

# sample topics written for the page (not taken from the eval dataset)
LESSON_EXAMPLES = ("新就业群体党建", "党建引领基层治理", "红色革命传统")
PRIVATE = {"api_visibility": "private"}


def lesson_tab(gr) -> SimpleNamespace:
    topic = gr.Textbox(label="备课主题", placeholder="例如：党务公开、作风建设", max_length=100, elem_id="zq-topic")
    examples = gr.Dataset(components=[topic], samples=[[t] for t in LESSON_EXAMPLES], label="示例主题")
    make = gr.Button("生成备课提纲", variant="primary", elem_id="zq-make-lesson")
    error = gr.HTML(elem_id="zq-lesson-error")
    notice = gr.HTML(elem_id="zq-lesson-notice")
    with gr.Row():
        md_file = gr.DownloadButton("下载 Markdown", visible=False, size="sm", elem_id="zq-lesson-md")
        docx_file = gr.DownloadButton("下载 Word（.docx）", visible=False, size="sm", elem_id="zq-lesson-docx")
    outline = gr.Markdown(elem_id="zq-outline")
    scope = locals()
    return SimpleNamespace(**{n: v for n, v in scope.items() if n != "gr"})


def export_lesson(pipeline, topic: str, out_dir: Path) -> tuple[Lesson, Path, Path]:
    """(lesson, .md file, .docx file) for a topic; the files go to a fresh folder in out_dir."""
    lesson = build_lesson(pipeline, topic)
    folder = out_dir / "lessons" / uuid.uuid4().hex[:10]
    folder.mkdir(parents=True)
    stem = f"备课提纲-{safe_stem(lesson.topic)}"
    md, docx = folder / f"{stem}.md", folder / f"{stem}.docx"
    write_lesson(lesson, md)
    write_lesson(lesson, docx)
    return lesson, md, docx


def notice_html(lesson: Lesson) -> str:
    """The low-coverage warning as a visible banner ("" for a well covered topic)."""
    if not lesson.warning:
        return ""
    return f'<div class="zq-error zq-warning" role="status"><strong>⚠ {views.esc(lesson.warning)}</strong></div>'


def wire_lesson(gr, ls: SimpleNamespace, pipeline, startup, work_dir: Path) -> None:
    def make_lesson(topic):
        hidden = gr.DownloadButton(visible=False)
        try:
            startup.check()
            lesson, md, docx = export_lesson(pipeline, topic, work_dir)
        except ZhibuError as exc:
            return views.exception_html(exc), "", "", hidden, hidden
        return ("", notice_html(lesson), lesson_markdown(lesson), gr.DownloadButton(value=str(md), visible=True),
                gr.DownloadButton(value=str(docx), visible=True))

    out = [ls.error, ls.notice, ls.outline, ls.md_file, ls.docx_file]
    ls.make.click(make_lesson, ls.topic, out, concurrency_id="pipeline", **PRIVATE)
    ls.examples.click(lambda s: s[0], ls.examples, ls.topic, queue=False, **PRIVATE).then(
        make_lesson, ls.topic, out, concurrency_id="pipeline", **PRIVATE)
