"""Section headings as a list answer: when a list question asks for an article's points."""

from __future__ import annotations

from zhibu_qa.answer.headings import heading_items
from zhibu_qa.types import Chunk, ChunkMeta, Hit, Segment

SOURCE = "题目\n\n导语一段。\n\n建强“微网格” 延伸深度\n\n正文甲。\n\n打造“微平台” 拓宽广度\n\n正文乙。\n\n搭建“微协商” 增强力度\n\n正文丙。"


def _first(section: str | None, body: str, index: int) -> Hit:
    at = SOURCE.index(body)
    chunk = Chunk(f"c{index}", "a1", "i1", index, body, body, (Segment(0, at, len(body)),), 5)
    return Hit(chunk, ChunkMeta("题目", "栏目", section, ("某人",), "刊 2024年第9期"), 0.0, 0)


SECTIONS = [_first(None, "导语一段。", 0), _first("建强“微网格” 延伸深度", "正文甲。", 1),
            _first("打造“微平台” 拓宽广度", "正文乙。", 2), _first("搭建“微协商” 增强力度", "正文丙。", 3)]


def items(question: str):
    return heading_items(question, [SECTIONS[2]], lambda _a: SECTIONS, lambda _i: SOURCE)


def test_a_quoted_term_in_every_heading_makes_the_headings_the_answer():
    found = items("社区的治理抓了哪几个“微”？")
    assert [c.text for _, c in found] == ["建强“微网格” 延伸深度", "打造“微平台” 拓宽广度", "搭建“微协商” 增强力度"]
    for hit, c in found:  # each heading is quoted from its exact source span
        (seg,) = hit.chunk.segments
        assert SOURCE[seg.source_start:seg.source_start + seg.length] == c.text


def test_the_number_of_points_asked_for_must_match_the_sections():
    assert items("文章讲了哪三个方面？") is not None
    assert items("文章讲了哪四个方面？") is None
    assert items("这个词指的是哪三个必知？") is None  # the members of a term, not the article's points
    assert items("社区有哪些做法？") is None  # neither a number nor a term every heading shares
