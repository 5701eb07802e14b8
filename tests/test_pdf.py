"""Tests for ingest.pdf: Chinese text layers come back intact; scanned, broken and locked PDFs are refused.

The PDFs are drawn in the tests with reportlab's built-in CID font STSong-Light (no font files
needed), whose text layer pypdf maps back to Unicode.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest.documents import parse_document
from zhibu_qa.ingest.pdf import extract_pdf_pages, extract_pdf_text
from zhibu_qa.types import Issue

WRAP = 24  # characters per drawn line: paragraphs arrive broken into lines, as in real PDFs

REGULATION = [
    ("title", "社区党组织工作规则（试行）"),
    ("text", "（2024年9月1日某区委印发）"),
    ("title", "第一章　总则"),
    ("text", "第一条　为加强社区党组织建设，推动基层治理提质增效，根据有关党内法规，制定本规则。"),
    ("text", "第二条　社区党组织是党在社区全部工作和战斗力的基础，全面领导社区各类组织和各项工作。"),
    ("title", "第二章　主要职责"),
    ("text", "第三条　社区党组织的主要职责是：宣传贯彻党的路线方针政策，组织群众、服务群众，"
             "推动“吹哨报到”机制落地见效，及时回应群众急难愁盼问题。"),
    ("page", ""),
    ("text", "第四条　社区党组织每月召开一次党员大会或者党小组会，每季度上一次党课。"),
    ("title", "第三章　附则"),
    ("text", "第五条　本规则自发布之日起施行。"),
]


def _draw_pdf(path: Path, blocks, *, encrypt_user_password: str | None = None) -> Path:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    y = 780
    for kind, text in blocks:
        if kind == "page":
            c.showPage()
            y = 780
            continue
        c.setFont("STSong-Light", 16 if kind == "title" else 11)
        lines = [text] if kind == "title" else [text[i:i + WRAP] for i in range(0, len(text), WRAP)]
        for line in lines:
            c.drawString(60, y, line)
            y -= 22
        y -= 8
    c.save()
    data = buf.getvalue()
    if encrypt_user_password is not None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.encrypt(user_password=encrypt_user_password, owner_password="owner", algorithm="RC4-128")
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    path.write_bytes(data)
    return path


def _issue(path: Path) -> Issue:
    return Issue(id="rules", magazine="社区党组织工作规则", source_path=str(path), sha256="0", kind="document")


def test_chinese_text_layer_is_extracted(tmp_path):
    text = extract_pdf_text(_draw_pdf(tmp_path / "rules.pdf", REGULATION))
    for expected in ("社区党组织工作规则（试行）", "第一章　总则", "第二章　主要职责", "第五条",
                     "“吹哨报到”", "2024年9月1日", "本规则自发布之日起施行。"):
        assert expected in text
    assert text.startswith("社区党组织工作规则（试行）\n")


def test_pages_are_joined_with_a_blank_line(tmp_path):
    path = _draw_pdf(tmp_path / "rules.pdf", REGULATION)
    pages = extract_pdf_pages(path)
    assert len(pages) == 2
    assert pages[1].startswith("第四条")
    assert extract_pdf_text(path) == pages[0] + "\n\n" + pages[1]


def test_extracted_text_parses_into_statute_sections(tmp_path):
    path = _draw_pdf(tmp_path / "rules.pdf", REGULATION)
    text = extract_pdf_text(path)
    (article,) = parse_document(text, _issue(path))  # short: one article, not one per chapter
    assert article.title == "社区党组织工作规则（试行）"
    headings = article.headings
    for n in "一二三四五":
        assert sum(h.endswith(f"第{n}条") for h in headings) == 1
    third = next(s for s in article.sections if s.heading and s.heading.endswith("第三条"))
    # the drawn lines of the article were joined back into one paragraph
    assert third.paragraphs[0].text == (
        "社区党组织的主要职责是：宣传贯彻党的路线方针政策，组织群众、服务群众，"
        "推动“吹哨报到”机制落地见效，及时回应群众急难愁盼问题。"
    )
    for section in article.sections:
        for p in section.paragraphs:
            for seg in p.segments:
                assert text[seg.source_start:seg.source_start + seg.length] == \
                    p.text[seg.text_start:seg.text_start + seg.length]


def test_pdf_without_text_layer_is_refused(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.rect(50, 50, 100, 100)
    c.save()
    assert extract_pdf_pages(path) == ("", "")
    with pytest.raises(IngestError, match="no text layer.*OCR"):
        extract_pdf_text(path)


def test_pdf_with_only_a_page_number_has_no_text_layer(tmp_path):
    path = _draw_pdf(tmp_path / "scan.pdf", [("text", "12")])
    with pytest.raises(IngestError, match="no text layer"):
        extract_pdf_text(path)


def test_corrupt_pdf_is_refused(tmp_path):
    good = _draw_pdf(tmp_path / "good.pdf", REGULATION).read_bytes()
    path = tmp_path / "broken.pdf"
    path.write_bytes(good[:200])
    with pytest.raises(IngestError, match="broken.pdf"):
        extract_pdf_text(path)


def test_garbage_after_pdf_header_is_refused(tmp_path):
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    with pytest.raises(IngestError, match="cannot read PDF"):
        extract_pdf_text(path)


def test_password_protected_pdf_is_refused(tmp_path):
    path = _draw_pdf(tmp_path / "locked.pdf", REGULATION, encrypt_user_password="secret")
    with pytest.raises(IngestError, match="encrypted and needs a password"):
        extract_pdf_text(path)


def test_pdf_encrypted_with_empty_user_password_opens(tmp_path):
    path = _draw_pdf(tmp_path / "open.pdf", REGULATION, encrypt_user_password="")
    assert "第一条" in extract_pdf_text(path)


def test_non_pdf_and_missing_files_are_refused(tmp_path):
    text_file = tmp_path / "notes.pdf"
    text_file.write_text("只是文本", encoding="utf-8")
    with pytest.raises(IngestError, match="not a PDF"):
        extract_pdf_text(text_file)
    with pytest.raises(IngestError, match="not found"):
        extract_pdf_text(tmp_path / "missing.pdf")
    with pytest.raises(IngestError, match="directory"):
        extract_pdf_text(tmp_path)
