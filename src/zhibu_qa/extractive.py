"""The offline extractive answerer: pick the source sentences that answer a question.

Scores every sentence of the retrieved chunks against the question (weighted term overlap,
numbers for 多少/几 questions, enumerations for list questions, the chunk's rank and an optional
embedding similarity), then selects a few by intent and orders them as they appear. It returns
spans of chunk text only; it never writes words of its own. Citations are `answering`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .text import cut, general_idf, in_dictionary, split_sentences
from .types import Hit

NUMERAL_RE = re.compile(r"\d|[一二三四五六七八九十百千万两]+(?:个|项|名|户|块|条|年|月|日|家|人|次|倍|类|所|处|支|批|位|种|余|多)")
ENUM_RE = re.compile(r"、.+、|[一二三四五六七八九十]是|（[一二三四五六七八九十]）|第[一二三四五六七八九十]")
# Budgets in characters: concise for facts, roomier when a list or explanation is asked for.
BUDGET = {"factoid": 250, "number": 250, "list": 420, "explain": 380, "compare": 420}


@dataclass(frozen=True)
class Candidate:
    hit_index: int
    start: int  # offsets in hit.chunk.text
    end: int
    text: str
    score: float
    lexical: float


# jieba's general-language IDF runs ~7 (问题) to ~18 (unknown words); subtracting this floor makes
# common words nearly weightless and names, places and coined terms dominate.
IDF_FLOOR = 8.0


def term_weights(terms: Sequence[str], idf: Callable[[str], float] = general_idf) -> dict[str, float]:
    """Weight of each question term: its general-language IDF above a floor (rare words count most).

    Example: term_weights(["问题", "吹哨报到"])["吹哨报到"] > term_weights(["问题", "吹哨报到"])["问题"]
    """
    return {t: max(0.3, idf(t) - IDF_FLOOR) for t in terms}


QUOTED_RE = re.compile(r"[“「『《]([^”」』》]{2,20})[”」』》]")


def boost_quoted(weights: dict[str, float], question: str, factor: float = 2.0) -> dict[str, float]:
    """Terms the asker put in quotes are what the question is about: weigh them up.

    Example: boost_quoted({"盒子花": 1.0, "蓟州区": 1.0}, "“盒子花”是蓟州区的吧")["盒子花"] == 2.0
    """
    quoted = "".join(QUOTED_RE.findall(question))
    return {t: w * factor if t in quoted else w for t, w in weights.items()}


def coverage(text: str, weights: dict[str, float]) -> float:
    """Weighted share of question terms that occur in `text`.

    Example: coverage("吹哨报到机制", {"吹哨报到": 4.0, "东丽区": 3.0}) == 4 / 7
    """
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in text) / total


def candidates(
    hits: Sequence[Hit], weights: dict[str, float], intent: str,
    similarity: Callable[[list[str]], list[float]] | None = None,
) -> list[Candidate]:
    """All sentences of the hits with their scores, best first."""
    raw: list[tuple[int, int, int, str, float]] = []
    n = max(len(hits), 1)
    for hi, hit in enumerate(hits):
        text = hit.chunk.text
        prior = 0.15 * (1.0 - hi / n)
        for s, e in split_sentences(text):
            sent = text[s:e]
            if len(sent) < 6:
                continue
            lex = coverage(sent, weights)
            bonus = 0.0
            if intent == "number" and NUMERAL_RE.search(sent):
                bonus += 0.15
            if intent == "list" and ENUM_RE.search(sent):
                bonus += 0.1
            raw.append((hi, s, e, sent, lex + prior + bonus))
    sims: list[float] = []
    if similarity is not None and raw:
        top = sorted(range(len(raw)), key=lambda i: -raw[i][4])[:40]
        values = similarity([raw[i][3] for i in top])
        sim_by = dict(zip(top, values, strict=True))
        sims = [sim_by.get(i, 0.0) for i in range(len(raw))]
    out = []
    for i, (hi, s, e, sent, score) in enumerate(raw):
        sim = sims[i] if sims else 0.0
        out.append(Candidate(hi, s, e, sent, score + 0.35 * sim, coverage(sent, weights)))
    out.sort(key=lambda c: -c.score)
    return out


# A sentence that opens with 他/她 speaks of someone named just before: it borrows most of the
# previous sentence's coverage of the question terms.
PRONOUN_START_RE = re.compile(r"(?<![其吉])[他她](?!人|乡|国|处|日)")
PRONOUN_CREDIT = 0.8
MAX_WINDOW = 2  # sentences in the core answer window; lists and explanations then extend forward
# A second, separate window joins the answer when it scores at least this share of the best one
# (two candidate passages beat one wrong guess while staying short).
RUNNER_UP = 0.8
# Share of a window's term coverage taken from its chunk's header (title, section, authors): the
# header finds the article, the sentence's own words find the answer inside it.
HEADER_WEIGHT = 0.3
SHAPE_BONUS = 0.2
# A window of the asked shape (a number, a sum…) replaces the best one if it scores at least this share.
REQUIRE_RATIO = 0.75
# Score lost per 100 characters of answer: keeps factual answers short.
LENGTH_PENALTY = 0.05
# What an answer to a question of this shape looks like (bonus for windows that contain it).
ANSWER_SHAPES = (
    (re.compile(r"叫什么|名称|名字|品牌|称号|口号|什么(?:样的?)?[\u4e00-\u9fff]{0,4}(?:模式|机制|体系|平台|工程|奖|理念|原则|思路|品牌|活动|项目|栏目)"),
     re.compile(r"“[^”]{2,20}”|《[^》]{2,30}》")),
    (re.compile(r"什么意思|是什么(?=[？?。，,]|$)|含义|定义|指什么|何谓|什么叫"), re.compile(r"是指|指的是|即[^将使可]|就是|是一种|是一项")),
    (re.compile(r"最后|最终|结果|后来|效果|成效|变化|怎么样了"),
     re.compile(r"最终|最后|终于|如今|现在|目前|截至|成功|已经|已[经有为]|后来|此后|之后|直到|至今|退休|辞世|去世")),
    (re.compile(r"多大|年纪|岁数|几岁|多少岁|年龄|多岁"), re.compile(r"\d+\s*岁|[一二三四五六七八九十]+岁")),
    (re.compile(r"职务|职位|身份|担任什么|什么职"), re.compile(r"书记|部长|主任|委员|局长|主席|干事|队长|校长|院长|会长|担任|任职")),
    (re.compile(r"身份|职业|做什么工作|干什么工作"), re.compile(r"教师|老师|医生|护士|工人|农民|学生|记者|律师|职员|商人|工程师|会计|司机|厨师")),
    (re.compile(r"例子|举例|比如|例如|有哪些类型"), re.compile(r"如[^果何今此]|比如|例如|像[^是]|诸如")),
    (re.compile(r"(?:少|多|降|减|增|提高|提升|增长|下降)了?多少|比例|占比|百分"), re.compile(r"\d+(?:\.\d+)?\s*%|百分之|[一二三四五六七八九十]成|\d+(?:\.\d+)?\s*倍")),
    (re.compile(r"哪一?年|哪天|什么时候|何时|哪个月|什么时间|哪个时间|时间是"), re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[上下]半年|今年|去年")),
    (re.compile(r"谁|哪位|作者|书记是|主任是"), re.compile(r"[\u4e00-\u9fff]{2,4}(?:书记|主任|部长|局长|同志|说|介绍|表示|告诉记者)|文\s*/")),
    (re.compile(r"为什么|为何|原因|为啥|目的|初衷"), re.compile(r"因为|由于|为了|因此|所以|为此|初衷|目的|以便|导致|源于|得益于|旨在")),
    (re.compile(r"怎么|怎样|如何|办法|做法|措施|举措"), re.compile(r"通过|采取|建立|推行|实施|依托|利用|开展|设置|实行|打造|组建|推出|[一二三四]是")),
    # "纪律处分有哪几种" is answered by "纪律处分有五种：警告、…"
    (re.compile(r"哪几|哪些|有哪|几种|几类"), re.compile(r"[有分为括含][一二三四五六七八九十两\d]+[种项个条类点大方][面]?[：:]")),
    (re.compile(r"哪几|哪些|有哪|包括|分别"), re.compile(r"(?:“[^”]{1,12}”[^“]{0,8}){3,}|、[^、]{1,20}、[^、]{1,20}、|[一二三四]是.*[二三四五]是")),
    (re.compile(r"电话|号码|热线|联系方式"), re.compile(r"\d{3,4}\s*[-－—]\s*\d{7,8}|(?<!\d)1\d{10}(?!\d)|(?<!\d)\d{8}(?!\d)")),
    # "已经/累计/一共…多少": a running total ("截至目前，已为3900余名老人提供服务")
    (re.compile(r"(?:已经|已|累计|一共|总共|共计|至今|目前)[^？?，,]{0,12}(?:多少|几)"), re.compile(r"截至|累计|共[有计为]?|已[经为有]|至今|目前|先后")),
    (re.compile(r"哪里人|哪儿人|籍贯|老家|出生在哪|出生地|祖籍"), re.compile(r"出生[在于]|籍贯|老家|祖籍|[省市县][\u4e00-\u9fff]{0,4}人")),
    (re.compile(r"在哪|哪里|地址|位于|什么地方|哪个地方"), re.compile(r"位于|坐落|地址|路\d+号|[\u4e00-\u9fff]{2,}(?:路|街|里|村|镇|区)")),
)
ASKED_UNIT_RE = re.compile(r"(?<!哪)(?:多少|几)(个|项|件|套|名|位|期|场|块|户|家|条|次|人|元|钱|天|年|处|支|所|批|类|种|万|卷|倍|亿|幢|栋|座|辆|亩)")
# Measure words that answer each other ("多少人" is answered by "74 名").
UNIT_ALIASES = {"人": "人|名|位", "名": "名|人|位", "位": "位|名|人", "钱": "元|万元", "个": "个|项|家|所",
                "幢": "幢|栋|座", "栋": "栋|幢|座"}


def quantity_pattern(unit: str) -> str:
    """Regex for a number followed by the asked measure word (or an equivalent one).

    Example: re.search(quantity_pattern("钱"), "销售额都能达到上千元")
    """
    # a lone 一 ("一个个", "一名") is an article far more often than an answer
    return rf"(?:\d+|[二三四五六七八九十百千万两]|[一二三四五六七八九十百千万两]{{2,}})\s*(?:多|余)?\s*(?:{UNIT_ALIASES.get(unit, re.escape(unit))})"


ANY_UNIT = "个|项|件|套|名|位|人|户|家|条|次|处|所|批|类|种|块|场|期|支|元|倍"
COUNT_NOUN_RE = re.compile(r"(?<!哪)(?:多少|几)([\u4e00-\u9fff“”]{2,8})")
PERSON_NOUN_RE = re.compile(r"(?:员|者|人|民|众|生|工|部|师|老|友)$")


def asked_quantity(question: str) -> tuple[str, str | None] | None:
    """(regex for the asked number with its measure word, the counted noun) of a 多少/几 question.

    Example: asked_quantity("发展培养了多少党员？")[1] == "党员"
    """
    m = ASKED_UNIT_RE.search(question)
    if m:
        counted = cut(question[m.end():m.end() + 10])
        return quantity_pattern(m.group(1)), (counted[0] if counted and len(counted[0]) >= 2 else None)
    m = COUNT_NOUN_RE.search(question)
    words = cut(m.group(1)) if m else []
    if not words or len(words[0]) < 2:
        return None
    # "多少党员" is answered by "31名…党员" or "发展党员114人"
    unit = "人" if PERSON_NOUN_RE.search(words[0]) else None
    number = r"(?:\d+|[二三四五六七八九十百千万两]|[一二三四五六七八九十百千万两]{2,})\s*(?:多|余)?\s*(?:万|亿)?\s*"
    return (quantity_pattern(unit) if unit else number + f"(?:{ANY_UNIT})"), words[0]


@dataclass(frozen=True)
class Window:
    sentences: tuple[Candidate, ...]
    score: float

    @property
    def hit_index(self) -> int:
        return self.sentences[0].hit_index


WHAT_NOUN_RE = re.compile(r"(?<![为干做])什么(?:样的?)?([\u4e00-\u9fff]{1,6})")
SLOT_CHARS = set("奖名会节馆站队号")  # one-character nouns a name goes with ("大赛银奖", "“…”号")
NAME_ASK_RE = re.compile(r"叫什么|叫啥|名称是什么|名字是什么|是什么名字")
NOT_SLOT_NOUNS = {"意思", "时候", "样", "地方", "位置", "原因", "作用", "区别", "不同", "情况", "办法"}
SLOT_BONUS = 0.3
COUNTED_BONUS = 0.25
LIST_COUNT_BONUS = 0.3
ASKED_COUNT_RE = re.compile(r"哪([二三四五六七八九十两]|\d+)[个项条点招种类件大步方]")
CHINESE_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", 1)} | {"两": 2}


def asked_count(question: str) -> int | None:
    """How many items a "哪三招/哪五项" question asks for.

    Example: asked_count("主要用了哪三招？") == 3
    """
    m = ASKED_COUNT_RE.search(question)
    if not m:
        return None
    g = m.group(1)
    return int(g) if g.isdigit() else CHINESE_DIGITS[g]


def name_slot(question: str) -> re.Pattern | None:
    """What a name sits next to in an answer to "持续深化什么工程" / "党建品牌叫什么": a quoted name
    right before or after the asked noun ("“十廉”工程", "微电影《锚》", "“…”党建品牌").

    Example: name_slot("持续深化什么工程？").search("持续深化“十廉”工程")
    """
    nouns = []
    for m in WHAT_NOUN_RE.finditer(question):
        if m.group(1).startswith(tuple(NOT_SLOT_NOUNS)):
            continue
        words = cut(m.group(1))
        if words and words[0] not in NOT_SLOT_NOUNS and (len(words[0]) >= 2 or words[0] in SLOT_CHARS):
            nouns.append(words[0])
    m = NAME_ASK_RE.search(question)
    if m:
        before = cut(re.split(r"[，,。；;？?]", question[: m.start()])[-1])
        if before:
            nouns.append(before[-1])
    if not nouns:
        return None
    alt = "|".join(map(re.escape, dict.fromkeys(nouns)))
    return re.compile(rf"[”》」』][\u4e00-\u9fff]{{0,3}}(?:{alt})|(?:{alt})\s*(?:叫|是|为|名为|称为|叫做)?\s*[“《「『]")


def shape_bonus(question: str, text: str) -> float:
    """Bonus for text shaped like the answer asked for (a quantity with the asked unit, a quoted
    name, a date, a person, a place).

    Example: shape_bonus("清理了多少块牌子？", "清理牌子169块") > 0
    """
    bonus = 0.0
    asked = asked_quantity(question)
    if asked and re.search(asked[0], text):
        bonus += 0.35
        # "多少个“书记项目”" is answered by "105个…“书记项目”", not by "43项工作成果"
        noun = re.escape(asked[1] or "")
        if asked[1] and re.search(rf"{asked[0]}[^。；;！？!?]{{0,20}}?{noun}|{noun}[^。；;！？!?，,]{{0,6}}?{asked[0]}", text):
            bonus += COUNTED_BONUS
    for asked, shape in ANSWER_SHAPES:
        if asked.search(question) and shape.search(text):
            bonus += SHAPE_BONUS
    n = asked_count(question)
    if n and any(len(re.split(r"[、]", clause)) == n for clause in re.split(r"[，,。；;：:]", text)):
        bonus += LIST_COUNT_BONUS  # "哪三招" answered by "通过数智化减负、“书记项目”赋能、阵地改造聚力"
    slot = name_slot(question)
    if slot is not None and slot.search(text):
        bonus += SLOT_BONUS
    return bonus


def local_weights(weights: dict[str, float], sentences: Sequence[str]) -> dict[str, float]:
    """Re-weight question terms by how few candidate sentences contain them: a term every
    sentence repeats (the article's topic) locates nothing; a rarer one points at the answer.

    Example: local_weights({"甲": 1.0, "乙": 1.0}, ["甲乙", "甲", "甲"])["乙"] > 1.0
    """
    import math

    n = len(sentences)
    out = {}
    for t, w in weights.items():
        df = sum(1 for s in sentences if t in s)
        out[t] = w * (1.0 + math.log((n + 1) / (df + 1)))
    return out


def windows(cands: Sequence[Candidate], weights: dict[str, float], question: str,
            headers: Sequence[str] = ()) -> list[Window]:
    """Runs of 1..MAX_WINDOW consecutive sentences of one chunk, scored by the question terms they
    cover together with their chunk's header (title, column, section, authors), so a subject in
    one sentence and its fact in the next count as one answer.
    """
    by_hit: dict[int, list[Candidate]] = {}
    for c in cands:
        by_hit.setdefault(c.hit_index, []).append(c)
    out: list[Window] = []
    for sents in by_hit.values():
        sents.sort(key=lambda c: c.start)
        for i in range(len(sents)):
            for j in range(i + 1, min(i + MAX_WINDOW, len(sents)) + 1):
                run = tuple(sents[i:j])
                text = "".join(c.text for c in run)
                prior = max(c.score - c.lexical for c in run)  # rank prior and similarity
                header = headers[run[0].hit_index] if headers else ""
                own = coverage(text, weights)
                if i > 0 and PRONOUN_START_RE.search(run[0].text[:20]):
                    # "她…担任妇女部部长": the person it speaks of is named in the sentence before
                    own += PRONOUN_CREDIT * (coverage(sents[i - 1].text + text, weights) - own)
                score = (HEADER_WEIGHT * coverage(header + "\n" + text, weights) + (1 - HEADER_WEIGHT) * own
                         + prior + shape_bonus(question, text)
                         - LENGTH_PENALTY * len(text) / 100)
                out.append(Window(run, score))
    out.sort(key=lambda w: -w.score)
    return out


def _extend(window: Window, cands: Sequence[Candidate], budget: int,
            chosen: list[Candidate] | None = None) -> list[Candidate]:
    """The window (plus anything already chosen) and the sentences that follow the window in its
    chunk, while they fit the budget."""
    chosen = list(chosen or window.sentences)
    last = window.sentences[-1].start
    following = sorted((c for c in cands if c.hit_index == window.hit_index and c.start > last
                        and c not in chosen), key=lambda c: c.start)
    used = sum(len(c.text) for c in chosen)
    for c in following:
        if used + len(c.text) > budget:
            break
        chosen.append(c)
        used += len(c.text)
    return chosen


ITEM_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]+是|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．]|·)")


def _enumeration(window: Window, cands: Sequence[Candidate], budget: int) -> list[Candidate]:
    """All items of the enumeration the window sits in (一是…二是…, （一）…), in order.

    Example: a window on "三是…" also brings back "一是…" and "二是…" of the same chunk.
    """
    same = sorted((c for c in cands if c.hit_index == window.hit_index), key=lambda c: c.start)
    first = same.index(window.sentences[0])
    last = same.index(window.sentences[-1])
    while first > 0 and ITEM_RE.match(same[first - 1].text):
        first -= 1
    while last + 1 < len(same) and ITEM_RE.match(same[last + 1].text):
        last += 1
    chosen = same[first:last + 1]
    while len(chosen) > 1 and sum(len(c.text) for c in chosen) > budget:
        chosen.pop()
    return chosen


ORDINAL_RE = re.compile(r"^\s*(?:([一二三四五六七八九十])是|[（(]([一二三四五六七八九十])[)）]|第([一二三四五六七八九十])[，,、])")


def ordinal(text: str) -> int | None:
    """The number of an enumeration item ("三是…" -> 3), else None.

    Example: ordinal("二是完善问责制度，让基层干部敢作为。") == 2
    """
    m = ORDINAL_RE.match(text)
    return CHINESE_DIGITS[next(g for g in m.groups() if g)] if m else None


def _list_items(window: Window, cands: Sequence[Candidate], hits: Sequence[Hit], budget: int) -> list[Candidate] | None:
    """A list answer from an enumeration: the window's lead-in and each item's opening sentence
    (一是…二是…三是…), also from the section's other retrieved passages, in item order; the
    items' elaborations are left out so every item fits. None when the window is not in or
    right before an enumeration."""
    hit = hits[window.hit_index]
    key = (hit.chunk.article_id, hit.meta.section)
    same = sorted((c for c in cands if c.hit_index == window.hit_index), key=lambda c: c.start)
    after = [c for c in same if c.start > window.sentences[-1].start][:1]
    if not any(ordinal(c.text) for c in (*window.sentences, *after)):
        return None
    items: dict[int, Candidate] = {}
    for c in sorted(cands, key=lambda c: (c.hit_index != window.hit_index, c.hit_index, c.start)):
        h = hits[c.hit_index]
        n = ordinal(c.text)
        if n and (h.chunk.article_id, h.meta.section) == key:
            items.setdefault(n, c)
    if len(items) < 2 or 1 not in items:
        return None
    chosen = [c for c in window.sentences if not ordinal(c.text)] + [items[n] for n in sorted(items)]
    while len(chosen) > 1 and sum(len(c.text) for c in chosen) > budget:
        chosen.pop()
    return chosen


def _add_runner_up(chosen: list[Candidate], ranked: Sequence[Window], budget: int,
                   question: str = "") -> list[Candidate]:
    """Add a window that shares no sentence with the answer when it scores nearly as well; among
    those, the one shaped most like an answer (it brings the number or name the best one lacks)."""
    top = ranked[0].score
    used = {(c.hit_index, c.start) for c in chosen}
    texts = {c.text for c in chosen}
    room = budget - sum(len(c.text) for c in chosen)
    eligible = [w for w in ranked[1:] if w.score >= RUNNER_UP * top
                and not any((c.hit_index, c.start) in used or c.text in texts for c in w.sentences)
                and sum(len(c.text) for c in w.sentences) <= room]
    if not eligible:
        return chosen
    best = max(eligible, key=lambda w: (shape_bonus(question, "".join(c.text for c in w.sentences)), w.score))
    return chosen + list(best.sentences)


def select(cands: Sequence[Candidate], hits: Sequence[Hit], intent: str,
           weights: dict[str, float] | None = None, question: str = "",
           require: Callable[[str], bool] | None = None) -> list[Candidate]:
    """Choose sentences by intent: the best window; lists and explanations read on from it;
    comparisons take the best window for each of the two most important subjects. `require`
    keeps only windows whose text passes it (when any do).
    """
    if not cands:
        return []
    headers = [" ".join((h.meta.article_title, h.meta.column or "", h.meta.section or "", *h.meta.authors))
               for h in hits]
    weights = local_weights(weights or {}, [c.text for c in cands])
    ranked = windows(cands, weights, question, headers)
    if require is not None:  # only windows holding the asked kind of answer, when any nearly as good do
        floor = REQUIRE_RATIO * ranked[0].score
        ranked = [w for w in ranked if w.score >= floor and require("".join(c.text for c in w.sentences))] or ranked
    budget = BUDGET.get(intent, 250)
    items = _list_items(ranked[0], cands, hits, budget) if intent == "list" else None
    if items:
        return dedupe(items)  # item order, across passages
    if intent == "list" and ITEM_RE.match(ranked[0].sentences[0].text):
        chosen = _enumeration(ranked[0], cands, budget)
    elif intent in ("list", "explain"):
        chosen = _extend(ranked[0], cands, budget, _add_runner_up(list(ranked[0].sentences), ranked, budget, question))
    elif intent == "compare":
        chosen = list(ranked[0].sentences)
        subjects = sorted(weights, key=lambda t: -weights[t])[:2]
        for subject in subjects:
            if any(subject in c.text for c in chosen):
                continue
            other = next((w for w in ranked if any(subject in c.text for c in w.sentences)
                          or subject in hits[w.hit_index].meta.article_title), None)
            if other is not None:
                chosen += [c for c in other.sentences if c not in chosen]
    else:
        chosen = list(ranked[0].sentences)
        chosen = _add_runner_up(chosen, ranked, budget, question)
    while len(chosen) > 1 and sum(len(c.text) for c in chosen) > budget:
        chosen.pop()
    return sorted(set(chosen), key=lambda c: (c.hit_index, c.start))


def dedupe(chosen: Sequence[Candidate]) -> list[Candidate]:
    """Drop a sentence already chosen from another (overlapping) chunk.

    Example: [c.text for c in dedupe([Candidate(0, 0, 2, "甲。", 1, 1), Candidate(1, 5, 7, "甲。", 1, 1)])] == ["甲。"]
    """
    seen: set[str] = set()
    out = []
    for c in chosen:
        if c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def question_terms(question: str) -> list[str]:
    """Distinct content words of a question (jieba precise mode, stopwords and single characters removed).

    Example: "五权" in question_terms("和平区下放给街道的“五权”是哪五项？")
    """
    terms = (_unglue(t) for t in cut(question))
    return list(dict.fromkeys(t for t in terms if len(t) >= 2 or t.isdigit()))


# Function characters jieba's new-word guessing glues onto a neighbour ("傅茂公是", "里举").
GLUE_CHARS = set("是的了在和与把被给让对向从到里举为就也都又那这")


def _unglue(term: str) -> str:
    """Strip a function character jieba glued onto an unknown word.

    Example: _unglue("傅茂公是") == "傅茂公"
    """
    if len(term) < 2 or in_dictionary(term) or term.isascii():
        return term
    while len(term) >= 2 and term[-1] in GLUE_CHARS:
        term = term[:-1]
    while len(term) >= 2 and term[0] in GLUE_CHARS:
        term = term[1:]
    return term
