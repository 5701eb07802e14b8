"""A PDF's running header (magazine name and issue line at every page top) and page numbers are page
furniture: never an article title, a heading or part of a paragraph, for documents and magazines."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdf_pages import draw_pages

from zhibu_qa.ingest import parse_text, read_and_parse
from zhibu_qa.ingest.layout import furniture_key
from zhibu_qa.ingest.pdf import extract_pdf, extract_pdf_text, running_lines

ROOT = Path(__file__).resolve().parents[1]
HEADER = "天津支部生活 2024年第9期（下半月）"
TITLE = "社区为基层减负的实践"
LINES = ["社区党组织坚持把为基层减负作为重要任务，全面清理", "各类工作群和政务应用程序，减少不必要的填表报数工",
         "作，让社区干部把更多时间用在服务群众上。", "街道建立了事项准入制度，凡是没有法律依据的事项一",
         "律不得转嫁给社区，确保基层权责一致。", "下一步，街道将继续完善为基层减负长效机制，定期听",
         "取社区干部意见，及时发现和纠正新出现的形式主义问", "题，持续巩固为基层减负成果。"]


def _draw(path: Path, header: str = HEADER, per_page: int = 3) -> Path:
    """Pages with the running header on top, the title on page 1, body lines, the page number below."""
    pytest.importorskip("reportlab")
    return draw_pages(path, [LINES[i:i + per_page] for i in range(0, len(LINES), per_page)], header, TITLE)


def test_running_lines_are_short_lines_recurring_at_page_edges():
    pages = [f"{HEADER}\n正文第{i}页的一句话。\n重复的正文\n又一句话。\n本页完。\n{i}" for i in range(1, 5)]
    # neither the body repeat (not at an edge) nor sentences at an edge ("正文第#页…。", "本页完。") count
    assert running_lines(pages) == frozenset({furniture_key(HEADER)})
    assert running_lines(pages[:2]) == frozenset({furniture_key(HEADER)})  # two pages: on both
    assert running_lines(pages[:1]) == frozenset()
    alternating = [f"{'天津支部生活' if i % 2 else '党建引领 · 基层治理'}\n第{i}页正文。" for i in range(6)]
    assert running_lines(alternating) == frozenset({"天津支部生活", "党建引领·基层治理"})
    assert running_lines([f"第{i}页正文。\n{i}" for i in range(5)]) == frozenset()  # page numbers alone: noise already
    assert furniture_key(" 天津支部生活  2024年第9期 · 12 ") == "天津支部生活#年第#期·#"


def test_a_pdf_documents_title_is_its_own_not_the_running_header(tmp_path):
    pdf = _draw(tmp_path / "paged.pdf")
    text, furniture = extract_pdf(pdf)
    assert text == extract_pdf_text(pdf) and text.count(HEADER) == 3  # the text layer keeps the header
    assert furniture == frozenset({furniture_key(HEADER)})
    parsed = read_and_parse(pdf)
    (article,) = parsed.articles
    assert article.title == TITLE
    texts = [s.heading or "" for s in article.sections] + [p.text for s in article.sections for p in s.paragraphs]
    assert not any("天津支部生活" in t for t in texts), texts
    # the sentence broken over pages 2 and 3 is one paragraph again, and offsets still point into the text
    assert any("形式主义问题，持续巩固为基层减负成果。" in p.text for s in article.sections for p in s.paragraphs)
    for p in (p for s in article.sections for p in s.paragraphs):
        for seg in p.segments:
            assert text[seg.source_start:seg.source_start + seg.length] == p.text[seg.text_start:seg.text_start + seg.length]


def _paged_issue(text: str, lines_per_page: int = 25) -> list[str]:
    """The shipped issue cut into pages (at blank lines), each with the running header and a page number."""
    pages, page = [], []
    for ln in text.split("\n"):
        page.append(ln)
        if not ln.strip() and sum(1 for x in page if x.strip()) >= lines_per_page:
            pages.append(page)
            page = []
    pages.append(page)
    return [f"{HEADER}\n" + "\n".join(p).strip("\n") + f"\n{n}" for n, p in enumerate(pages, 1)]


def test_a_magazine_with_running_headers_parses_as_without_them(corpus_text):
    pages = _paged_issue(corpus_text)
    paged = "\n\n".join(pages)
    plain = parse_text(corpus_text, "issue.txt", "0" * 64)
    parsed = parse_text(paged, "issue.pdf", "0" * 64, furniture=running_lines(pages))
    assert [a.title for a in parsed.articles] == [a.title for a in plain.articles]
    assert parsed.issue.id == plain.issue.id == "zbsh-2024-09b"
    texts = [t for a in parsed.articles for s in a.sections
             for t in ([s.heading or ""] + [p.text for p in s.paragraphs])]
    assert not any(HEADER in t for t in texts)
    # without the furniture the header does turn into titles and headings (what this guards against)
    unguarded = parse_text(paged, "issue.pdf", "0" * 64)
    assert any(HEADER in a.title for a in unguarded.articles) or any(
        HEADER in (s.heading or "") for a in unguarded.articles for s in a.sections)
