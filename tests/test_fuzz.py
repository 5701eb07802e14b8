"""Parser fuzzing (hypothesis): magazine layouts, documents, raw bytes and PDFs never crash the ingest.

Every input either parses or raises IngestError; sizes are bounded so each example stays small
(no timing assertions: a hang would show up as the test never finishing).
"""

from __future__ import annotations

import io

import pytest
from conftest import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest import parse_text
from zhibu_qa.ingest.decode import decode_bytes

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)
CORPUS_LINES = [ln for ln in CORPUS.read_text(encoding="utf-8").splitlines() if ln.strip()]
FRAGMENTS = ["目录 CONTENTS", "目录", "■ 特别关注", "■ 卷首", "天津支部生活", "2024年第9期", "总第 777 期", "声明",
             "一、", "（二）", "第一章 总则", "第一条", "扫码收听有声文章", "——", "■", "高进田", "张婉妮 田珊珊",
             "“", "”", "。", "：", "# 标题", "## 小节", "- 条目", "1.", "\f", "\t", "　　"]
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)
LINE = st.one_of(
    st.sampled_from(CORPUS_LINES),
    st.sampled_from(FRAGMENTS),
    st.text(alphabet=st.one_of(CJK, st.sampled_from(list("，。；：“”《》、 0123456789■·—\t"))), max_size=60),
)


@st.composite
def magazine_layouts(draw):
    """A TOC block and a body built from real issue lines, fragments and random Chinese, shuffled."""
    head = draw(st.lists(LINE, max_size=5))
    toc = draw(st.lists(LINE, min_size=1, max_size=25))
    body = draw(st.lists(LINE, max_size=80))
    if draw(st.booleans()):  # repeat some TOC lines in the body, as real issues do
        body = draw(st.permutations(body + toc[: len(toc) // 2]))
    sep = draw(st.sampled_from(["\n", "\n\n", "\n\n\n"]))
    return sep.join([*head, "目录 CONTENTS", *toc, *body])


def _parse(text: str) -> None:
    try:
        parsed = parse_text(text, "fuzz.txt", "0" * 64)
    except IngestError:
        return
    for art in parsed.articles:  # offsets stay inside the text they refer to
        assert 0 <= art.char_start <= art.char_end <= len(text)
        for sec in art.sections:
            for para in sec.paragraphs:
                for seg in para.segments:
                    assert text[seg.source_start:seg.source_start + seg.length] == \
                        para.text[seg.text_start:seg.text_start + seg.length]


@FUZZ
@given(magazine_layouts())
def test_magazine_layouts_parse_or_fail_cleanly(text):
    _parse(text)


@FUZZ
@given(st.lists(LINE, max_size=60).map("\n".join))
def test_documents_parse_or_fail_cleanly(text):
    _parse(text)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_decode_or_fail_cleanly(data):
    try:
        text, encoding = decode_bytes(data, "fuzz.bin")
    except IngestError:
        return
    assert encoding in ("utf-8", "utf-8-sig", "gb18030") and isinstance(text, str)


@FUZZ
@given(st.lists(st.sampled_from(CORPUS_LINES), min_size=1, max_size=20), st.sampled_from(["gbk", "utf-8"]),
       st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=3))
def test_damaged_encodings_decode_or_fail_cleanly(lines, codec, at, junk):
    data = "\n".join(lines).encode(codec, errors="replace")
    at = min(at, len(data))
    try:
        decode_bytes(data[:at] + junk + data[at:], "damaged.txt")
    except IngestError as exc:
        assert "damaged.txt" in str(exc)


@pytest.fixture(scope="module")
def pdf_bytes():
    pytest.importorskip("reportlab")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("STSong-Light", 11)
    for i, line in enumerate(CORPUS_LINES[100:130]):
        c.drawString(40, 800 - 22 * i, line[:40])
    c.save()
    return buf.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(data=st.data())
def test_damaged_pdfs_extract_or_fail_cleanly(tmp_path_factory, pdf_bytes, data):
    from zhibu_qa.ingest.pdf import extract_pdf_text

    raw = bytearray(pdf_bytes)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[at] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=16, max_value=len(raw)))
    path = tmp_path_factory.mktemp("pdf") / "fuzz.pdf"
    path.write_bytes(bytes(raw[:cut]))
    try:
        text = extract_pdf_text(path)
    except IngestError:
        return
    assert isinstance(text, str)
