"""What kind of thing a question asks for, and whether a passage holds one.

"多少套" wants a number with 套 (or an equivalent measure word), "收费多少" a sum in 元, "在哪里"
an address of the thing asked about, "叫什么名字" the name of the person asked about. The
extractive answerer uses these to prefer passages of the right shape, and to refuse when the
retrieved passages hold none: the knowledge base mentions the subject but not the asked detail.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .extractive import ASKED_UNIT_RE, quantity_pattern
from .text import cut

MONEY_ASK_RE = re.compile(r"收入|营收|营业额|销售额|收费|费用|价格|价钱|票价|多少钱|投入|投资|资金|金额|工资|补贴|奖金|成本")
MONEY_RE = re.compile(r"[\d一二三四五六七八九十百千万两]+\s*(?:多|余)?\s*(?:万|亿)?\s*元")
PERSON_ASK_RE = re.compile(r"叫什么名字|的姓名|名字是什么|是谁|是哪位|哪位[\u4e00-\u9fff]{1,3}[写说讲]")
PERSON_CUE_RE = re.compile(r"文\s*/|[\u4e00-\u9fff]{2,3}(?:书记|主任|部长|局长|同志|主席|院长|校长|医生|教授|研究员)")
ADDRESS_ASK_RE = re.compile(r"在哪里|在哪儿|在哪(?=[？?，,]|$)|位于哪|在什么地方|在什么位置")
ADDRESS_RE = re.compile(r"[路街巷道里]\s*\d+\s*号|位于|坐落|地址|门牌|[\u4e00-\u9fff]{2,}(?:路|街|大街|大道|胡同|巷)(?![长口])")
ADDRESS_WORD_RE = re.compile(r"地址|位于|坐落|门牌")
PLACE_NOUN_RE = re.compile(r"(?:馆|中心|站|所|处|址|院|校|室|园|楼|公寓|之家|社区|村|街道|机关|基地|大厦|广场|厅|社|部|店|点)$")
# words before the question word that are not what it asks about ("这篇是哪位部长写的")
NOT_FOCUS_RE = re.compile(r"^[这那哪每该此本其]")


def focus(question: str, ask: re.Pattern) -> str | None:
    """The word right before the question word: what is asked about.

    Example: focus("静海“盒子花”的非遗传承人叫什么名字？", PERSON_ASK_RE) == "传承人"
    """
    m = ask.search(question)
    if not m:
        return None
    words = [w for w in cut(question[: m.start()]) if len(w) >= 2 and not NOT_FOCUS_RE.match(w)]
    return words[-1] if words else None


def _mentions(word: str | None, text: str) -> bool:
    return word is None or word in text or (len(word) >= 3 and word[-2:] in text)


def asked_shapes(question: str) -> list[tuple[str, Callable[[str], bool]]]:
    """(label, test) for each kind of answer the question asks for.

    Example: [label for label, _ in asked_shapes("陶艺研学每人收费多少？")] == ["金额"]
    """
    shapes: list[tuple[str, Callable[[str], bool]]] = []
    m = ASKED_UNIT_RE.search(question)
    if m:
        pattern = re.compile(quantity_pattern(m.group(1)))
        shapes.append(("金额" if m.group(1) in ("钱", "元") else "数字", lambda t: bool(pattern.search(t))))
    if ("多少" in question or "几" in question) and MONEY_ASK_RE.search(question) and not shapes:
        shapes.append(("金额", lambda t: bool(MONEY_RE.search(t))))
    if ADDRESS_ASK_RE.search(question):
        place = focus(question, ADDRESS_ASK_RE)
        # "纪念馆在哪里" wants an address; "被捕后关在哪里" a place the text may name without one
        if ADDRESS_WORD_RE.search(question) or (place and PLACE_NOUN_RE.search(place)):
            shapes.append(("地址", lambda t: bool(ADDRESS_RE.search(t)) and _mentions(place, t)))
    if PERSON_ASK_RE.search(question):
        role = focus(question, PERSON_ASK_RE)
        shapes.append(("人名", lambda t: _mentions(role, t) or bool(PERSON_CUE_RE.search(t))))
    return shapes


def missing_shape(question: str, text: str) -> str | None:
    """The label of the first asked shape `text` lacks, else None.

    Example: missing_shape("建了多少套人才公寓？", "人才公寓环境很好。") == "数字"
    """
    return next((label for label, test in asked_shapes(question) if not test(text)), None)


def shape_test(question: str) -> Callable[[str], bool] | None:
    """A test that passes text holding every asked shape; None when nothing specific is asked."""
    shapes = asked_shapes(question)
    if not shapes:
        return None
    return lambda t: all(test(t) for _label, test in shapes)
