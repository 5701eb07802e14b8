"""Golden tests of the magazine parser on the shipped issue (天津支部生活 2024年第9期下半月)."""

from __future__ import annotations

import hashlib

import pytest
from conftest import CORPUS

from zhibu_qa.text import title_key

CORPUS_SHA256 = "79563b0497b722711eb61f1a84271d7b2386eb2ecb299fb45a9a12413306a7a5"


def by_title(parsed, title):
    key = title_key(title)
    found = [a for a in parsed.articles if title_key(a.title) == key]
    assert found, f"no article titled {title!r}"
    return found[0]


def test_shipped_corpus_is_byte_for_byte_the_received_file():
    assert hashlib.sha256(CORPUS.read_bytes()).hexdigest() == CORPUS_SHA256


def test_issue_metadata(parsed_issue):
    issue = parsed_issue.issue
    assert (issue.magazine, issue.year, issue.number, issue.half, issue.total_number) == (
        "天津支部生活", 2024, 9, "下半月", 1144)
    assert issue.sha256 == CORPUS_SHA256


def test_every_toc_entry_is_matched_and_coverage_is_complete(parsed_issue):
    r = parsed_issue.report
    assert r.toc_unmatched == ()
    assert r.toc_matched == r.toc_entries >= 29
    assert r.coverage >= 0.99
    # the 兰台/三台 slip between TOC and body is reported, not hidden
    assert any("兰台" in toc and "三台" in body for toc, body in r.toc_differences)


GOLDEN = [
    # title, column, authors, first headings
    ("念好放权赋能“治理经”", "特别关注", ("郜敏",),
     ["“哨声”连着民生 “报到”解决问题", "用好考核“指挥棒” 灵活用人干劲足", "“输血”变“造血” 探索社区治理新路径"]),
    ("准确把握党务公开的内容和范围", "党务助手", (),
     ["党务公开应当遵循的原则", "党务公开的主体", "党务公开的程序", "党务公开的方式", "党务公开的内容",
      "党务公开的范围"]),
    ("用改革精神全面加强党员队伍建设", "组织部长谈党建", ("高进田",),
     ["完善培养考察机制 加大发展党员力度", "完善凝心铸魂机制 拓展教育培训广度"]),
    ("减牌子 挑担子 服务群众有“里子”", "特别关注", ("张婉妮", "田珊珊"),
     ["持续“松绑” 让干部有空干", "多方助力 让大伙合力干", "提升素质 让社工放手干"]),
    ("数智赋能 轻装前行", "特别关注", ("谢小燕",),
     ["数智化减负 “大车”轻装前行", "“书记项目”赋能 “小马”减负不减质", "阵地改造聚力 把最好资源留给群众"]),
    ("负担减下去 效能提上来", "特别关注", ("卢艳芝",),
     ["明晰权责 让基层干部轻装上阵", "健全机制 让更多资源下沉基层", "搭建平台 让民生服务效能提升"]),
    ("健全为基层减负长效机制", "特别关注", ("张亚勇",),
     ["从思想上着力 健全正确政绩观践行机制", "从整治上发力 健全形式主义治理机制"]),
    ("求志里·于无声处听惊雷", "学史明理", ("曹冬梅",),
     ["住宅楼里的地委机关", "保险柜里的贵重物品", "革命伉俪的笙箫和鸣", "最后一封家书"]),
    ("党建融合聚动能 「电」亮大山「蓟」先锋", "国企党建", ("宋文钰", "郝婷婷"),
     ["精准破题 排查治理山区线路隐患", "聚力攻坚 实现无人机协同巡检", "靠前服务 快速响应客户诉求"]),
    ("“三治”融合聚合力 基层治理增活力", "城市基层党建", ("河东区富民路街道党工委",),
     ["建“制”强“治” 让基层治理更高效"]),
    ("我在农村当主播", "书记好故事", ("张婉妮",), ["打开知名度 从身边人开始", "老手艺 新产业"]),
    ("党建引领聚合力 科技创新促发展", "组织生活案例", ("天津华北地质勘查局党委",),
     ["案例背景", "活动镜头", "活动效果", "编辑点评"]),
    ("创建“四强”党支部 筑牢天津海事战斗堡垒", "“四强”党支部风采", ("周秀玲", "王琪"),
     ["聚焦政治功能提升 抓实“四有四零”模范机关建设"]),
]


@pytest.mark.parametrize(("title", "column", "authors", "headings"), GOLDEN, ids=[g[0][:8] for g in GOLDEN])
def test_golden_articles(parsed_issue, title, column, authors, headings):
    art = by_title(parsed_issue, title)
    assert art.column == column
    assert art.authors == authors
    assert list(art.headings[: len(headings)]) == headings


def test_front_items_masthead_and_editorial(parsed_issue):
    kinds = {a.title: (a.kind, a.column) for a in parsed_issue.articles}
    assert kinds["刊物信息"] == ("masthead", "刊物信息")
    assert kinds["新就业形态"] == ("front", "名词解释")
    assert kinds["习语金句"] == ("front", "习语金句")
    assert kinds["把为民造福作为最大政绩 做政治上的明白人 当工作中的实干家"] == ("editorial", "卷首")
    masthead = by_title(parsed_issue, "刊物信息")
    assert "编辑部电话 022-23020102" in masthead.lead


def test_broken_lines_are_joined_and_noise_dropped(parsed_issue):
    paragraphs = [p.text for a in parsed_issue.articles for s in a.sections for p in s.paragraphs]
    joined = "\n".join(paragraphs)
    assert "对此，街道启动了“吹哨报到”机制" in joined
    assert "成了小区居民的一块“心病”。" in joined
    assert "编印发展党员工作指导手册" in joined
    assert not any(p.startswith("扫码") for p in paragraphs)
    assert "……………" not in joined
    assert any("扫码收听有声文章" in line for line in parsed_issue.report.noise_lines)


def test_split_titles_come_out_whole(parsed_issue):
    titles = {a.title for a in parsed_issue.articles}
    assert "负担减下去 效能提上来" in titles
    assert "贯彻全会精神 谱写“两企三新”党建新篇章" in titles


def test_captions_are_kept_apart(parsed_issue):
    art = by_title(parsed_issue, "数智赋能 轻装前行")
    captions = [p.text for s in art.sections for p in s.paragraphs if p.kind == "caption"]
    assert "辛口镇第六埠村“创富工坊”一角" in captions


def test_every_paragraph_maps_back_to_exact_source_text(parsed_issue, corpus_text):
    for art in parsed_issue.articles:
        for sec in art.sections:
            for p in sec.paragraphs:
                for seg in p.segments:
                    src = corpus_text[seg.source_start: seg.source_start + seg.length]
                    assert src == p.text[seg.text_start: seg.text_start + seg.length]


def test_article_ids_are_stable(parsed_issue):
    from zhibu_qa.ingest import read_and_parse

    again = read_and_parse(CORPUS)
    assert [a.id for a in again.articles] == [a.id for a in parsed_issue.articles]
    assert len({a.id for a in again.articles}) == len(again.articles)
