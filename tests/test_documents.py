"""Tests for ingest.documents: regulations, Markdown and plain articles; offsets always round-trip."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest import documents
from zhibu_qa.ingest.documents import join_lines, parse_document
from zhibu_qa.types import Article, Issue

FIXTURES = Path(__file__).parent / "fixtures"
DIGITS = "零一二三四五六七八九"


def _cn(n: int) -> str:
    """Chinese numeral for 1..99, as in 第五十五条."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return DIGITS[ones]
    return ("" if tens == 1 else DIGITS[tens]) + "十" + (DIGITS[ones] if ones else "")


def _issue(doc_id: str = "doc", name: str = "测试文件") -> Issue:
    return Issue(id=doc_id, magazine=name, source_path=f"{doc_id}.txt", sha256="0", kind="document")


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _assert_round_trip(text: str, articles: tuple[Article, ...]) -> None:
    for article in articles:
        assert 0 <= article.char_start <= article.char_end <= len(text)
        for section in article.sections:
            assert section.paragraphs
            if section.heading_span is not None:
                start, end = section.heading_span
                assert section.heading.endswith(" ".join(text[start:end].split()))
            for p in section.paragraphs:
                assert p.text and "\n" not in p.text
                covered = [False] * len(p.text)
                previous_end = 0
                for seg in p.segments:
                    assert seg.length > 0 and seg.text_start >= previous_end
                    assert text[seg.source_start:seg.source_start + seg.length] == \
                        p.text[seg.text_start:seg.text_start + seg.length]
                    covered[seg.text_start:seg.text_start + seg.length] = [True] * seg.length
                    previous_end = seg.text_start + seg.length
                # characters mapped to no source offset are only the synthetic joining spaces
                assert all(ch == " " for ch, c in zip(p.text, covered, strict=True) if not c)
                assert article.char_start <= p.char_start <= p.char_end <= article.char_end


# --- the 2017 party constitution: 总纲 + 11 chapters with 55 articles (条) -----------------------

@pytest.fixture(scope="module")
def constitution():
    text = _read("cpc-constitution-2017-zh.txt")
    return text, parse_document(text, _issue("cpc2017", "中国共产党章程"))


def test_constitution_has_a_preamble_article_and_one_per_chapter(constitution):
    _, articles = constitution
    chapters = ["党员", "党的组织制度", "党的中央组织", "党的地方组织", "党的基层组织", "党的干部",
                "党的纪律", "党的纪律检查机关", "党组", "党和共产主义青年团的关系", "党徽党旗"]
    expected = ["《中国共产党章程》 总纲"] + [
        f"《中国共产党章程》 第{_cn(i)}章 {name}" for i, name in enumerate(chapters, 1)
    ]
    assert [a.title for a in articles] == expected
    assert {a.column for a in articles} == {"中国共产党章程"}
    assert {a.kind for a in articles} == {"document"}
    assert all(a.issue_id == "cpc2017" for a in articles)


def test_constitution_statutes_are_section_headings_exactly_once(constitution):
    text, articles = constitution
    statutes = [s for a in articles[1:] for s in a.sections if s.heading]
    assert [s.heading for s in statutes] == [f"第{_cn(n)}条" for n in range(1, 56)]
    for section in statutes:
        start, end = section.heading_span
        assert text[start:end] == section.heading
    first = statutes[0]
    assert first.paragraphs[0].text.startswith("年满十八岁的中国工人")
    third = statutes[2]  # 党员必须履行下列义务：（一）…（八）
    assert len(third.paragraphs) == 9
    assert third.paragraphs[1].text.startswith("（一）认真学习")


def test_constitution_preamble_keeps_its_text(constitution):
    _, articles = constitution
    preamble = articles[0]
    assert preamble.lead == "（中国共产党第十九次全国代表大会部分修改，2017年10月24日通过）"
    assert preamble.headings == ("总纲",)
    body = preamble.sections[1]
    assert body.paragraphs[0].text.startswith("中国共产党是中国工人阶级的先锋队")
    assert any(p.text.startswith("第二，坚持解放思想") for p in body.paragraphs)


def test_constitution_offsets_round_trip_and_cover_all_body_text(constitution):
    text, articles = constitution
    _assert_round_trip(text, articles)
    covered = set()
    for article in articles:
        for section in article.sections:
            if section.heading_span:
                covered.update(range(*section.heading_span))
            for p in section.paragraphs:
                for seg in p.segments:
                    covered.update(range(seg.source_start, seg.source_start + seg.length))
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    for n, (start, line) in enumerate(lines):
        if n in (0, 2) or line.startswith("第") and "章" in line[:5] or not line.strip():
            continue  # the title (twice) and chapter lines live in article titles
        missing = [i for i in range(start, start + len(line)) if not text[i].isspace() and i not in covered]
        assert not missing, f"line {n + 1} not covered: {line[:30]}"


def test_constitution_articles_are_ordered_and_ids_stable(constitution):
    text, articles = constitution
    spans = [(a.char_start, a.char_end) for a in articles]
    assert spans == sorted(spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    ids = [a.id for a in articles]
    assert len(set(ids)) == len(ids) and all(i.startswith("cpc2017-") for i in ids)
    assert [a.id for a in parse_document(text, _issue("cpc2017", "中国共产党章程"))] == ids


# --- Markdown and plain articles ---------------------------------------------------------------

def test_markdown_headings_byline_and_lists():
    text = _read("branch-guide.md")
    (article,) = parse_document(text, _issue("guide"))
    assert article.title == "党支部“三会一课”工作指引"
    assert article.authors == ("张明", "李华")
    assert article.column is None
    assert article.lead == "本指引用于规范党支部组织生活，适用于各基层党支部。"
    assert article.headings == ("一、支部党员大会", "二、支部委员会会议", "会议要求")
    meeting = article.sections[1]
    assert [p.text for p in meeting.paragraphs] == [
        "支部党员大会一般每季度召开一次，由支部委员会召集。会议内容包括学习传达上级精神、讨论决定支部重要事项。",
        "- 会前确定议题并通知全体党员",
        "- 会后形成会议记录",
    ]
    for section in article.sections[1:]:
        start, end = section.heading_span
        assert text[start:end] == section.heading
    _assert_round_trip(text, (article,))


def test_plain_wrapped_article_with_enumerated_headings():
    text = _read("plain-article-wrapped.txt")
    (article,) = parse_document(text, _issue("plain"))
    assert article.title == "坚持党建引领 推动基层治理提质增效"
    assert article.authors == ("王芳",)
    assert article.source_credit == "石新区委组织部"
    assert article.headings == ("一、强化组织建设", "二、完善服务机制", "（一）健全议事规则", "三、加强队伍建设")
    assert article.lead.startswith("近年来，某街道党工委") and article.lead.endswith("焕然一新。")
    first = article.sections[1]
    assert [p.text for p in first.paragraphs] == [
        "街道党工委把支部建在网格上，实现党的组织和党的工作全覆盖，各社区党委定期召开联席会议，研究解决群众急难愁盼问题。",
        "党员骨干主动认领服务岗位，在疫情防控、环境整治等急难险重任务中冲锋在前。",
    ]
    run_in = article.sections[-1]  # "三、加强队伍建设。街道每年……" splits into heading + text
    assert [p.text for p in run_in.paragraphs] == ["街道每年组织两次专题培训，提升社区工作者的能力本领。"]
    _assert_round_trip(text, (article,))


def test_explicit_title_wins_and_first_line_is_not_repeated():
    text = "关于加强学习的通知\n\n各支部：\n\n请认真组织学习。\n"
    (article,) = parse_document(text, _issue(), title="学习通知（文件名）")
    assert article.title == "学习通知（文件名）"
    assert [p.text for s in article.sections for p in s.paragraphs] == ["各支部：", "请认真组织学习。"]


def test_document_without_a_title_line_uses_the_issue_name():
    text = "第一句话很长，说明了情况。\n第二句话也很长，提出了要求。\n"
    (article,) = parse_document(text, _issue(name="某文件"))
    assert article.title == "某文件"
    assert article.lead == "第一句话很长，说明了情况。\n第二句话也很长，提出了要求。"


def test_short_regulation_stays_one_article_with_chapter_in_first_heading():
    text = "示例办法\n第一章　总则\n第一条　为了规范工作，制定本办法。\n第二条　本办法适用于全体党员。\n" \
           "第二章　附则\n第三条　本办法自印发之日起施行。\n"
    (article,) = parse_document(text, _issue())
    assert article.title == "示例办法"
    assert article.headings == ("第一章 总则 第一条", "第二条", "第二章 附则 第三条")


def test_latin_words_broken_across_lines_keep_a_space():
    text = "标题\n\nThe party branch holds\nmeetings every month. 每月召开\n一次会议。\n"
    (article,) = parse_document(text, _issue())
    assert article.lead == "The party branch holds meetings every month. 每月召开一次会议。"
    _assert_round_trip(text, (article,))


def test_page_numbers_and_rules_are_dropped():
    text = "标题\n\n第一段正文。\n\n- 12 -\n\n---\n\n第二段正文。\n"
    (article,) = parse_document(text, _issue())
    assert [p.text for p in article.sections[0].paragraphs] == ["第一段正文。", "第二段正文。"]


def test_join_lines_maps_each_line():
    text = "共产\n党员 and\nparty"
    p = join_lines(text, [(0, 2), (3, 9), (10, 15)])
    assert p.text == "共产党员 and party"
    assert [(s.text_start, s.source_start, s.length) for s in p.segments] == [(0, 0, 2), (2, 3, 6), (9, 10, 5)]


@pytest.mark.parametrize("text", ["", " \n\u3000\n", "# 只有标题\n\n## 还有小标题\n"])
def test_documents_without_body_text_are_refused(text):
    with pytest.raises(IngestError, match="doc"):
        parse_document(text, _issue())


# --- property: segments always round-trip ------------------------------------------------------

CJK = "党建引领基层治理组织服务群众工作学习会议支部委员社区"
_phrase = st.text(alphabet=CJK + "，、“”", min_size=1, max_size=30)
_sentence = st.builds(lambda s, end: s + end, _phrase, st.sampled_from("。！？；"))
_numeral = st.integers(1, 30).map(_cn)
_line = st.one_of(
    _sentence,
    _phrase,  # a broken line or a short standalone heading
    st.builds(lambda n, s: f"{n}、{s}", _numeral, _phrase),
    st.builds(lambda n, s: f"（{n}）{s}", _numeral, _sentence),
    st.builds(lambda n, s: f"第{n}章　{s}", _numeral, _phrase),
    st.builds(lambda n, s: f"第{n}条　{s}", _numeral, _sentence),
    st.builds(lambda h, s: f"{h} {s}", st.sampled_from(["#", "##", "###"]), _phrase),
    st.builds(lambda s: f"　　{s}", _sentence),
    st.sampled_from(["", "", "  ", "12", "- 3 -", "文 / 王芳", "Party branch meeting", "（某区委供稿）"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, min_size=1, max_size=40), sentence=_phrase.map(lambda s: s + "。"),
       at=st.integers(0, 40), chapter_articles=st.booleans())
def test_segments_round_trip_on_random_documents(lines, sentence, at, chapter_articles):
    lines.insert(min(at, len(lines)), sentence)  # at least one body sentence, never a heading
    text = "\n".join(lines) + "\n"
    # random documents are short; lowering the threshold also exercises one article per chapter
    threshold = 0 if chapter_articles else documents.CHAPTER_ARTICLES_MIN_CHARS
    with mock.patch.object(documents, "CHAPTER_ARTICLES_MIN_CHARS", threshold):
        articles = parse_document(text, _issue())
    _assert_round_trip(text, articles)
    assert len({a.id for a in articles}) == len(articles)
    paragraphs = [p.text for a in articles for s in a.sections for p in s.paragraphs]
    assert any(sentence in p for p in paragraphs)


def test_regulation_preamble_before_first_statute_keeps_generic_headings():
    text = ("某某条例\n\n序言\n\n为了加强党的建设，制定本条例。\n\n"
            "第一条　本条例适用于各级党组织。\n\n（一）坚持党的领导。\n\n第二条　本条例自发布之日起施行。\n")
    (article,) = parse_document(text, _issue())
    assert article.headings == ("序言", "第一条", "第二条")
    assert [p.text for p in article.sections[1].paragraphs] == ["本条例适用于各级党组织。", "（一）坚持党的领导。"]
