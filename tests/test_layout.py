"""Unit and property tests of the layout-repair rules (line joining, headings, captions, noise)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zhibu_qa.ingest.layout import (
    Line,
    block_paragraph,
    build_blocks,
    ends_sentence,
    is_caption,
    is_noise,
    is_open,
    looks_like_heading,
    split_lines,
)


def lines_of(*texts, blank=1):
    src = ("\n" * (blank + 1)).join(texts)
    return src, split_lines(src)


def test_split_lines_keeps_offsets_of_stripped_text():
    src = "  甲乙 \n\n\n丙"
    lines = split_lines(src)
    assert [(ln.text, ln.blank_before) for ln in lines] == [("甲乙", 0), ("丙", 2)]
    assert all(src[ln.start: ln.end] == ln.text for ln in lines)


def test_noise_lines():
    for t in ("扫码收听有声文章", "扫码观看视频", "……………", "✎", "12"):
        assert is_noise(t), t
    assert not is_noise("党务公开的主体")


def test_sentence_ends():
    assert ends_sentence("居民们忧心忡忡。")
    assert ends_sentence("“越住越舒心，越过越幸福。”")
    assert ends_sentence("一次又一次吹响——")
    assert not ends_sentence("对此，街道启动了“吹哨报")
    assert not ends_sentence("编印")


def test_headings_versus_fragments():
    assert looks_like_heading("持续“松绑” 让干部有空干")
    assert looks_like_heading("党务公开的主体")
    assert looks_like_heading("健全工作体系，推进三级联动，筑牢行业党建支撑")
    assert looks_like_heading("一、聚焦具体化、精准化、常态化政治监督，压紧压实改革责任落地落实")
    assert not looks_like_heading("对此，街道启动了“吹哨报")
    assert not looks_like_heading("受场地等因素限制,利用")
    assert not looks_like_heading("请社区“五星书记”当导师给")
    assert not looks_like_heading("让杨婷婷欣喜的还不止如此。今年，依托全区大数据中心")


def test_captions_need_an_image_gap():
    assert is_caption(Line("辛口镇第六埠村“创富工坊”一角", 0, 1, 3))
    assert not is_caption(Line("辛口镇第六埠村“创富工坊”一角", 0, 1, 1))
    assert is_caption(Line("李季达(1900—1927)", 0, 1, 3))
    assert not is_caption(Line("打开知名度 从身边人开始", 0, 1, 3))


def test_broken_sentence_is_joined_across_blank_lines():
    src, lines = lines_of("对此，街道启动了“吹哨报", "到”机制，吹响“哨声”。", "下一段。")
    blocks = build_blocks(lines)
    assert [b.kind for b in blocks] == ["paragraph", "paragraph"]
    para = block_paragraph(blocks[0])
    assert para.text == "对此，街道启动了“吹哨报到”机制，吹响“哨声”。"
    for seg in para.segments:
        assert src[seg.source_start: seg.source_start + seg.length] == para.text[seg.text_start: seg.text_start + seg.length]


def test_heading_split_over_two_lines_is_one_heading():
    _, lines = lines_of("用好考核“指挥棒”", "灵活用人干劲足", "今年4月，又到了考核的时间。")
    blocks = build_blocks(lines)
    assert [b.kind for b in blocks] == ["heading", "paragraph"]
    assert blocks[0].text == "用好考核“指挥棒” 灵活用人干劲足"


def test_short_fragment_after_a_complete_heading_starts_a_paragraph():
    _, lines = lines_of("提升素质 让社工放手干", "请社区“五星书记”当导师给", "社工们上课；梳理出多个问题。")
    blocks = build_blocks(lines)
    assert [b.kind for b in blocks] == ["heading", "paragraph"]
    assert block_paragraph(blocks[1]).text == "请社区“五星书记”当导师给社工们上课；梳理出多个问题。"


def test_open_lines():
    assert is_open("对此，街道启动了“吹哨报")
    assert not is_open("灵活用人干劲足")
    assert is_open("灵活用人干劲足", after_complete_heading=True)
    assert not is_open("句子结束了。", after_complete_heading=True)


CJK = st.text(alphabet=st.sampled_from(list("党建引领基层治理减负赋能社区街道群众服务，、。“”")), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.lists(CJK.filter(lambda s: s.strip()), min_size=1, max_size=12), st.integers(min_value=1, max_value=3))
def test_blocks_partition_lines_and_segments_round_trip(texts, blank):
    src = ("\n" * (blank + 1)).join(texts)
    lines = split_lines(src)
    blocks = build_blocks(lines)
    # every line lands in exactly one block, in order
    assert [ln for b in blocks for ln in b.lines] == lines
    for b in blocks:
        para = block_paragraph(b)
        for seg in para.segments:
            assert src[seg.source_start: seg.source_start + seg.length] == para.text[seg.text_start: seg.text_start + seg.length]


@settings(max_examples=200, deadline=None)
@given(CJK)
def test_a_line_ending_a_sentence_is_never_open(text):
    if ends_sentence(text):
        assert not is_open(text)
