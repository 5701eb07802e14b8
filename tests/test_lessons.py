"""Lesson outlines a trainer can hand out: several articles per topic, a low-coverage warning,
quotes free of PDF noise, and a Word file that is A4, Chinese-typeset, page-numbered and titled.

Quote cleaning is tested as pure functions; outlines over the real index of the shipped issue and
over a drawn PDF (running headers, page numbers, a sentence broken by a page break).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import ROOT
from pdf_pages import draw_pages
from test_cli import run

from zhibu_qa.ingest.layout import ends_sentence
from zhibu_qa.lesson_quotes import QuoteCleaner, is_prose, line_key

SPANNING_TOPIC = "为基层减负"  # the 特别关注 column: seven articles on it in the shipped issue
SPARSE_TOPIC = "海员培养"  # one sentence of one article mentions it
HEADER = "天津支部生活 2024年第9期"


# ---- quote cleaning (pure) ----------------------------------------------------------------------

def _paged(*pages: str) -> str:
    """A PDF-like dump: every page opens with the running header and ends with its number."""
    return "\n\n".join(f"{HEADER}\n{body}\n{i}" for i, body in enumerate(pages, 1))


def test_running_headers_are_learned_from_the_source_and_dropped_from_quotes():
    source = _paged("甲文第一句。", "乙文第二句。", "丙文第三句。")
    cleaner = QuoteCleaner(source)
    assert line_key(HEADER) in cleaner.running
    quote = source[source.index("甲"):source.index("乙文") + 6]
    assert cleaner.clean(quote) == "甲文第一句。乙文第二句。"


def test_a_title_repeated_in_the_contents_is_not_a_header():
    source = "目录\n健全长效机制\n\n健全长效机制\n正文。"
    assert not QuoteCleaner(source).is_furniture("健全长效机制")


@pytest.mark.parametrize("line", ["12", "- 12 -", "·12·", "第12页", "12 / 48", "扫码收听有声文章", "■"])
def test_page_numbers_and_ornament_lines_are_furniture(line):
    assert QuoteCleaner("").is_furniture(line)


def test_broken_lines_are_joined_and_stray_symbols_removed():
    cleaner = QuoteCleaner("")
    assert cleaner.clean("社区党群服务中\n\n心里，网格长正在录制✎") == "社区党群服务中心里，网格长正在录制"
    assert cleaner.clean("铁小东 AI 语音助手，有近 2000 条政策储备。■") == "铁小东AI语音助手，有近2000条政策储备。"
    assert cleaner.clean("Party building\nwork goes on.") == "Party building work goes on."


def test_a_sentence_cut_by_a_page_break_is_extended_to_its_end():
    tail = "定期听取社区干部意见，及时发现和纠正新出现的形式主义问"
    source = _paged("上一页的正文。", "下一步，街道将继续完善为基层减负长效机制，" + tail, "题，持续巩固减负成果。")
    cleaner = QuoteCleaner(source)
    start = source.index("下一步")
    span = cleaner.sentence_span(start, source.index(tail) + len(tail))
    assert span is not None
    assert cleaner.clean(source[span[0]:span[1]]).endswith("形式主义问题，持续巩固减负成果。")
    assert HEADER in source[span[0]:span[1]]  # the citation keeps the exact source span
    # the continuation on the next page is not a sentence of its own
    assert cleaner.sentence_span(source.index("题，持续"), len(source) - 2) is None


def test_headings_bylines_and_clause_tails_are_not_quotes():
    source = "文 / 本刊记者 卢艳芝\n\n扫码收听有声文章\n\n基层是国家治理的最末端。\n减负增效，让干部把精力用在服务群众上。"
    cleaner = QuoteCleaner(source)
    assert cleaner.sentence_span(0, source.index("\n")) is None  # the byline stays a byline
    start = source.index("基层")
    assert cleaner.sentence_span(start, source.index("。") + 1) == (start, source.index("。") + 1)
    assert not cleaner.starts_sentence(source.index("让干部"))


def test_flaws_rank_attributions_and_debris_last():
    source = "“这项工作很重要。”记者了解到。问题 and 为基层减负结合起来。基层减负取得新成效。"
    cleaner = QuoteCleaner(source)
    after_quote = source.index("记者")
    assert cleaner.flaws(after_quote, source.index("到。") + 2) == 1
    debris = source.index("问题")
    assert cleaner.flaws(debris, source.index("来。") + 2) == 1
    clean = source.index("基层减负取得")
    assert cleaner.flaws(clean, len(source)) == 0


def test_mastheads_are_not_prose():
    assert is_prose("基层是国家治理的最末端，也是政府服务群众的最前沿。")
    assert not is_prose("合作媒体人民网中国共产党新闻网法律顾问天津金诺律师事务所定价元印刷北京盛通印刷股份有限公司天津支部生活")


# ---- outlines over the shipped issue -----------------------------------------------------------

@pytest.fixture(scope="module")
def spanning(pipeline):
    from zhibu_qa.lessons import build_lesson

    return build_lesson(pipeline, SPANNING_TOPIC, today=dt.date(2024, 9, 16))


@pytest.fixture(scope="module")
def sparse(pipeline):
    from zhibu_qa.lessons import build_lesson

    return build_lesson(pipeline, SPARSE_TOPIC, today=dt.date(2024, 9, 16))


@pytest.mark.integration
def test_a_topic_several_articles_treat_is_taught_from_several(spanning):
    per_article: dict[str, int] = {}
    for point in spanning.points:
        (title,) = {q.citation.article_title for q in point.quotes}  # a point quotes one article
        per_article[title] = per_article.get(title, 0) + 1
    assert len(spanning.points) >= 4
    assert len(per_article) >= 4, per_article
    assert max(per_article.values()) <= 2, per_article  # no single article fills the outline
    assert spanning.n_articles == len(per_article) and not spanning.warning


@pytest.mark.integration
def test_quotes_are_exact_source_spans_read_without_noise(spanning, pipeline):
    numbers = [q.citation.n for p in spanning.points for q in p.quotes]
    assert numbers == list(range(1, len(numbers) + 1))
    for point in spanning.points:
        for q in point.quotes:
            c = q.citation
            source = pipeline.source_for(next(a.issue_id for a in pipeline.catalogue.articles if a.id == c.article_id))
            assert source[c.char_start:c.char_end] == c.quote
            assert q.text == QuoteCleaner(source).clean(c.quote)
            assert "\n" not in q.text and "✎" not in q.text and ends_sentence(q.text), q.text
            assert "减负" in q.text or "减负" in (c.section or "") + c.article_title


@pytest.mark.integration
def test_a_barely_covered_topic_is_flagged_in_markdown_and_word(sparse, tmp_path):
    docx = pytest.importorskip("docx")
    from zhibu_qa.lessons import LOW_COVERAGE_WARNING, lesson_markdown, write_lesson

    assert sparse.warning.startswith(LOW_COVERAGE_WARNING) and sparse.points
    assert f"> ⚠ {LOW_COVERAGE_WARNING}" in lesson_markdown(sparse)
    write_lesson(sparse, tmp_path / "x.docx")
    text = "\n".join(p.text for p in docx.Document(str(tmp_path / "x.docx")).paragraphs)
    assert LOW_COVERAGE_WARNING in text


@pytest.mark.integration
def test_markdown_has_the_title_line_with_topic_date_and_sources(spanning):
    from zhibu_qa.lessons import lesson_markdown

    md = lesson_markdown(spanning)
    line = md.splitlines()[2]
    assert line.startswith(f"主题：{SPANNING_TOPIC}") and "日期：2024年9月16日" in line
    assert f"来源：天津支部生活 2024年第9期（下半月）（引用 {spanning.n_articles} 篇文章）" in line
    assert "⚠" not in md


# ---- the Word handout ------------------------------------------------------------------------

@pytest.mark.integration
def test_word_handout_is_a4_chinese_typeset_page_numbered_and_titled(spanning, tmp_path):
    docx = pytest.importorskip("docx")
    from docx.oxml.ns import qn
    from docx.shared import Cm

    from zhibu_qa.lessons import write_lesson

    path = tmp_path / "lesson.docx"
    write_lesson(spanning, path)
    doc = docx.Document(str(path))
    section = doc.sections[0]
    assert abs(section.page_width - Cm(21.0)) < Cm(0.05) and abs(section.page_height - Cm(29.7)) < Cm(0.05)
    for name, font in (("Normal", "宋体"), ("List Bullet", "宋体"), ("Title", "黑体"), ("Heading 1", "黑体")):
        rpr = doc.styles[name].element.rPr
        fonts = rpr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")) == font, name
        assert fonts.get(qn("w:eastAsiaTheme")) is None, name  # a theme font would override it
        assert rpr.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN", name
    footer = section.footer.paragraphs[0]._p
    instructions = [t.text.strip() for t in footer.iter(qn("w:instrText"))]
    assert "PAGE" in instructions and "NUMPAGES" in instructions
    assert footer.findall(f".//{qn('w:fldChar')}")
    props = doc.core_properties
    assert props.title == f"备课提纲：{SPANNING_TOPIC}" and props.author == "zhibu-qa"
    assert props.language == "zh-CN"
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == f"备课提纲：{SPANNING_TOPIC}" and texts[1] == spanning.info_line
    quotes = [p.text for p in doc.paragraphs if p.style.name == "List Bullet" and p.text.startswith("“")]
    assert quotes[0] == f"“{spanning.points[0].quotes[0].text}” [1]"


@pytest.mark.integration
def test_cli_lesson_writes_word_and_warns_on_a_barely_covered_topic(built_settings, tmp_path):
    env = {"ZHIBU_EMBEDDING_MODEL": built_settings.embedding_model, "ZHIBU_USER_DICT": built_settings.user_dict}
    out = tmp_path / "lesson.docx"
    r = run("--index-dir", built_settings.index_dir, "lesson", SPARSE_TOPIC, "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0 and "知识库中与该主题相关的内容较少" in r.stderr


# ---- an outline over a PDF with page furniture -------------------------------------------------

PDF_PARAGRAPHS = (
    "社区党组织坚持把为基层减负作为重要任务，全面清理各类工作群和政务应用程序，减少不必要的填表报数工作，"
    "让社区干部把更多时间用在服务群众上。",
    "为基层减负不是减责任，而是把力量集中到主责主业。街道建立了事项准入制度，凡是没有法律依据的事项一律不得"
    "转嫁给社区，确保基层权责一致。",
    "下一步，街道将继续完善为基层减负长效机制，定期听取社区干部意见，及时发现和纠正新出现的形式主义问题，"
    "持续巩固为基层减负成果。",
)


def _draw_paged_pdf(path: Path) -> Path:
    """A three-page PDF: running header on top, page number at the bottom, 4 lines of 24 characters a page."""
    lines = [p[i:i + 24] for p in PDF_PARAGRAPHS for i in range(0, len(p), 24)]
    return draw_pages(path, [lines[i:i + 4] for i in range(0, len(lines), 4)], HEADER, "社区为基层减负的实践")


@pytest.mark.integration
def test_quotes_from_a_pdf_carry_no_headers_page_numbers_or_broken_joins(tmp_path):
    pytest.importorskip("reportlab")
    from conftest import MODEL_DIR, _require_model

    from zhibu_qa.config import load_settings
    from zhibu_qa.ingest.pdf import extract_pdf_text
    from zhibu_qa.lessons import build_lesson
    from zhibu_qa.pipeline import Pipeline

    _require_model()
    pdf = _draw_paged_pdf(tmp_path / "paged.pdf")
    raw = extract_pdf_text(pdf)
    assert raw.count(HEADER) >= 3 and "\n2\n" in raw  # the furniture is really in the text layer
    settings = load_settings(env={}, index_dir=str(tmp_path / "index"), embedding_model=str(MODEL_DIR),
                             corpus_paths=str(pdf), user_dict=str(ROOT / "corpus" / "userdict.txt"),
                             feedback_path=str(tmp_path / "fb.jsonl"))
    pipe = Pipeline(settings, log=lambda s: None)
    pipe.ensure_ready()
    sentences = {s + "。" for p in PDF_PARAGRAPHS for s in p.split("。") if s}
    texts = []
    for topic in (SPANNING_TOPIC, "长效机制"):  # the second names only the sentence broken over pages 2-3
        lesson = build_lesson(pipe, topic)
        texts += [q.text for p in lesson.points for q in p.quotes]
    assert len(texts) >= 3
    for text in texts:
        assert "天津支部生活" not in text and not any(ch.isdigit() for ch in text), text
        assert text in sentences, text  # exactly one sentence of the article, whole and unbroken
    assert PDF_PARAGRAPHS[2] in texts


def test_round_robin_lets_every_article_speak_before_any_speaks_twice():
    from types import SimpleNamespace

    from zhibu_qa.lessons import round_robin

    def group(article: str) -> list:
        return [SimpleNamespace(chunk=SimpleNamespace(article_id=article))]

    numbered = list(enumerate([group("A"), group("A"), group("A"), group("B"), group("C"), group("B")]))
    order = [i for i, _ in round_robin(numbered, 10)]
    assert order == [0, 3, 4, 1, 5, 2]
    assert [i for i, _ in round_robin(numbered, 2)] == [0, 3]
