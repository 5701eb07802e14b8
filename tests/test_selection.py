"""Extractive sentence selection: answer-shape bonuses, enumerations, pronouns, runner-up choice.

Synthetic passages keep each rule visible; the integration tests run the same code on the corpus.
"""

from __future__ import annotations

import pytest

from zhibu_qa.answering import _names_something
from zhibu_qa.extractive import (
    asked_count,
    asked_quantity,
    boost_quoted,
    candidates,
    name_slot,
    ordinal,
    question_terms,
    select,
    shape_bonus,
    term_weights,
)
from zhibu_qa.types import Chunk, ChunkMeta, Hit, Segment


def _hit(text: str, rank: int = 1, article: str = "a1", section: str | None = "s1") -> Hit:
    chunk = Chunk(id=f"c{rank}", article_id=article, issue_id="i1", section_index=0, text=text, embed_text=text,
                  segments=(Segment(0, len(text), 0),), n_tokens=len(text))
    meta = ChunkMeta(article_title="标题", column=None, section=section, authors=(), issue="2024")
    return Hit(chunk=chunk, meta=meta, score=1.0 / rank, rank=rank)


def _answer(question: str, intent: str, *texts: str, **kw) -> str:
    hits = [_hit(t, i + 1, **kw) for i, t in enumerate(texts)]
    weights = boost_quoted(term_weights(question_terms(question)), question)
    chosen = select(candidates(hits, weights, intent), hits, intent, weights, question)
    return "".join(c.text for c in chosen)


@pytest.mark.parametrize(("question", "named", "other"), [
    ("持续深化什么工程？", "持续深化“十廉”工程。", "持续深化廉洁工程建设。"),
    ("街道党工委的党建品牌叫什么？", "抓实“富民无微不至”党建品牌。", "党建品牌建设成效明显“加码”。"),
    ("作风建设的微电影叫什么？", "创作的微电影《锚》获奖。", "微电影反映作风建设。"),
])
def test_a_quoted_name_next_to_the_asked_noun_is_preferred(question, named, other):
    slot = name_slot(question)
    assert slot is not None and slot.search(named) and not slot.search(other)
    assert shape_bonus(question, named) > shape_bonus(question, other)


def test_no_name_slot_for_questions_that_ask_no_name():
    assert name_slot("为什么要给基层减负？") is None
    assert name_slot("什么时候开始的？") is None


def test_counted_noun_makes_the_right_number_win():
    assert asked_quantity("发展培养了多少党员？")[1] == "党员"
    assert asked_quantity("每人收费多少？") is None
    q = "天津海事局打造了多少个“书记项目”？"
    assert shape_bonus(q, "精心打造105个强党建的两级“书记项目”。") > shape_bonus(q, "形成了5大类43项工作成果。")
    q = "发展培养了多少党员？"
    assert shape_bonus(q, "发展党员114人。") > shape_bonus(q, "组织党员开展活动。")


@pytest.mark.parametrize(("question", "good", "bad"), [
    ("编辑部电话号码是多少？", "编辑部电话 022-23020102", "编辑部地址在天津"),
    ("平台已经服务了多少位老人？", "截至目前，已为3900余名老人提供服务。", "两位老人得到救助。"),
    ("他们对外是什么身份？", "他们对外公开的身份是小学教师。", "他们住在求志里。"),
])
def test_answer_shapes(question, good, bad):
    assert shape_bonus(question, good) > shape_bonus(question, bad)


def test_a_time_word_alone_does_not_ask_for_a_date():
    q = "填报表的时间少了多少？"
    assert shape_bonus(q, "用1个月时间核清底册。") == 0
    assert shape_bonus(q, "工作时间减少了75%以上。") > 0


def test_asked_count_and_ordinals():
    assert asked_count("主要用了哪三招？") == 3 and asked_count("有哪几条？") is None
    assert ordinal("二是完善问责制度，让基层干部敢作为。") == 2
    assert ordinal("（三）健全机制") == 3 and ordinal("健全机制。") is None


def test_list_answer_gathers_item_openings_across_passages_in_order():
    first = ("健全暖心关爱机制激发干部热情。一是健全容错免责机制，让干部愿作为。认真落实要求，完善澄清保护机制，"
             "激励干部轻装上阵，放开手脚干事创业。二是完善问责制度，让干部敢作为。")
    second = "三是健全选人用人机制，激励干部想作为。要大胆使用好干部。四是善用数智化手段，让干部善作为。"
    answer = _answer("暖心关爱机制包括哪几条？", "list", second, first)
    assert answer.startswith("健全暖心关爱机制")
    order = [answer.index(x) for x in ("一是", "二是", "三是", "四是")]
    assert order == sorted(order)
    assert "认真落实要求" not in answer  # elaborations give way to the items


def test_items_of_another_section_are_not_mixed_in():
    first = "关爱机制有四条。一是健全容错机制。二是完善问责制度。"
    other = "三是另一个话题的第三点。"
    hits = [_hit(first, 1), _hit(other, 2, section="s2")]
    q = "关爱机制有哪几条？"
    weights = term_weights(question_terms(q))
    answer = "".join(c.text for c in select(candidates(hits, weights, "list"), hits, "list", weights, q))
    assert "另一个话题" not in answer


def test_a_sentence_opening_with_a_pronoun_borrows_the_name_before_it():
    text = ("王贞儒出生在天津一个书香世家。五四运动时期，王贞儒积极参加学生运动，加入进步团体。她还曾在女校教书。"
            "1925年3月，她光荣加入中国共产党，1926年12月担任中共天津地委妇女部部长。她与李季达结为伉俪。")
    assert "妇女部部长" in _answer("王贞儒后来在地委担任过什么职务？", "factoid", text)


def test_counting_words_are_not_missing_names():
    assert not _names_something("三招") and not _names_something("五项")


def test_a_counted_list_announcement_answers_a_which_kinds_question():
    q = "党的纪律处分有哪几种？"
    assert shape_bonus(q, "对党员的纪律处分有五种：警告、严重警告、撤销党内职务、留党察看、开除党籍。") > shape_bonus(
        q, "党的纪律主要包括政治纪律、组织纪律、廉洁纪律、群众纪律、工作纪律、生活纪律。")


def test_how_long_is_an_asking_word_not_a_term():
    assert question_terms("预备党员的预备期是多长？") == ["预备党员", "预备期"]


def test_birthplace_question_prefers_the_birth_sentence():
    q = "李季达是哪里人？"
    assert shape_bonus(q, "李季达出生在四川省巫山县一个工商业兼地主家庭。") > shape_bonus(q, "李季达在天津开展党的工作。")
