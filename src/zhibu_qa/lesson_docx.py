"""A lesson outline as a Word handout (python-docx): A4, Chinese fonts, page numbers, properties.

Sets the East Asian fonts explicitly (宋体 body, 黑体 headings; the template's theme fonts would
otherwise win) and the East Asian language zh-CN on every style used, numbers pages in the
footer with PAGE / NUMPAGES fields, and fills the core properties (title, author "zhibu-qa").
Content comes from `lessons.Lesson`; the file is written atomically.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from zhibu_qa.lessons import Lesson, cite_line

AUTHOR = "zhibu-qa"
BODY_FONT, HEADING_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"  # GB/T 9704 usage for handouts
LANGUAGE = "zh-CN"
A4_CM = (21.0, 29.7)
MARGINS_CM = (2.54, 3.17)  # top/bottom, left/right: Word's "普通" margins for A4 in Chinese locales
BODY_STYLES = ("Normal", "List Bullet", "List Number")
HEADING_STYLES = ("Title", "Heading 1", "Heading 2")


def _set_fonts(rpr, east_asia: str) -> None:
    """Explicit Latin and East Asian fonts and the East Asian language on run properties (theme
    font references removed: they would win over the names)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        style_ref = rpr.find(qn("w:rStyle"))
        rpr.insert(0 if style_ref is None else 1, fonts)  # rFonts comes first (after rStyle)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr, name in (("w:ascii", LATIN_FONT), ("w:hAnsi", LATIN_FONT), ("w:eastAsia", east_asia)):
        fonts.set(qn(attr), name)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        later = [rpr.find(qn(t)) for t in ("w:eastAsianLayout", "w:specVanish", "w:oMath")]
        later = [e for e in later if e is not None]
        if later:
            later[0].addprevious(lang)  # the schema's element order
        else:
            rpr.append(lang)
    lang.set(qn("w:eastAsia"), LANGUAGE)  # w:val (Latin text) keeps the template's en-US


def _field(paragraph, instruction: str) -> None:
    """A Word field (e.g. PAGE): begin, instruction, separate, a placeholder result, end."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def char(kind: str) -> None:
        element = OxmlElement("w:fldChar")
        element.set(qn("w:fldCharType"), kind)
        paragraph.add_run()._r.append(element)

    char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    paragraph.add_run()._r.append(instr)
    char("separate")
    paragraph.add_run("1")
    char("end")


def _page_setup(doc) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    section = doc.sections[0]
    section.page_width, section.page_height = Cm(A4_CM[0]), Cm(A4_CM[1])
    section.top_margin = section.bottom_margin = Cm(MARGINS_CM[0])
    section.left_margin = section.right_margin = Cm(MARGINS_CM[1])
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run("第 ")
    _field(footer, "PAGE")
    footer.add_run(" 页 / 共 ")
    _field(footer, "NUMPAGES")
    footer.add_run(" 页")


def _styles(doc) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    default_rpr = doc.styles.element.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    if default_rpr is not None:
        _set_fonts(default_rpr, BODY_FONT)  # runs of any other style inherit these
    for name in BODY_STYLES:
        _set_fonts(doc.styles[name].element.get_or_add_rPr(), BODY_FONT)
    doc.styles["Normal"].font.size = Pt(12)  # 小四
    names = [s.name for s in doc.styles]
    for name in HEADING_STYLES:
        for style_name in (name, f"{name} Char"):  # the paragraph style and its linked character style
            if style_name in names:
                style = doc.styles[style_name]
                _set_fonts(style.element.get_or_add_rPr(), HEADING_FONT)
                style.font.color.rgb = RGBColor(0, 0, 0)  # printed handouts: no theme blue
    doc.styles["Title"].font.size = Pt(22)  # 二号
    doc.styles["Heading 1"].font.size = Pt(15)


def lesson_document(lesson: Lesson, *, now: dt.datetime | None = None):
    """The python-docx Document of a lesson."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    doc = Document()
    _page_setup(doc)
    _styles(doc)
    props = doc.core_properties
    props.title = f"备课提纲：{lesson.topic}"
    props.author = props.last_modified_by = AUTHOR
    props.subject = lesson.topic
    props.keywords = "备课提纲；" + lesson.topic
    props.comments = lesson.info_line
    props.language = LANGUAGE
    props.created = props.modified = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None)

    doc.add_heading(f"备课提纲：{lesson.topic}", level=0)
    info = doc.add_paragraph(lesson.info_line)
    info.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if lesson.warning:
        run = doc.add_paragraph().add_run(f"⚠ {lesson.warning}")
        run.bold = True
        run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)
    doc.add_paragraph("以下引文均摘自知识库原文，可逐条核对出处。")
    for i, point in enumerate(lesson.points, 1):
        doc.add_heading(f"{i}. {point.title}", level=1)
        for q in point.quotes:
            doc.add_paragraph(f"“{q.text}” [{q.citation.n}]", style="List Bullet")
            notes = [f"出处：{cite_line(q.citation)}"]
            if q.citation.time_note:  # "今年" in a quote means the year of its issue
                notes.append(f"时间：{q.citation.time_note}")
            for note in notes:
                run = doc.add_paragraph().add_run(note)
                run.font.size = Pt(10.5)  # 五号
                run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    if lesson.related:
        doc.add_heading("延伸阅读", level=1)
        for t in lesson.related:
            doc.add_paragraph(f"《{t}》", style="List Bullet")
    doc.add_heading("讨论题", level=1)
    for q in lesson.questions:
        doc.add_paragraph(q, style="List Number")
    return doc


def write_docx(lesson: Lesson, path: Path) -> None:
    """Save the lesson as .docx at `path` atomically (a temporary file in the same folder, then rename)."""
    doc = lesson_document(lesson)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".docx")
    os.close(fd)
    try:
        doc.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
