"""What a question asks for, from the class of its question word, and whether a sentence has it.

The asking side is Chinese interrogatives by grammatical class (谁/哪位 ask for a person, 哪里/何处
for a place, 多少/几 for a quantity, 何时/哪年 for a time, 为什么/为何 for a cause, 怎么/如何 for a
means, 是什么/何谓 for a definition, 哪些/哪几 for a list, 吗/是否 for yes or no). The answering side
is the surface form of that kind of answer: numerals with a measure word, dates, names tagged by
jieba's part-of-speech model, quotation marks, causal and instrumental connectives. Both feed the
learned selector and answerability models as features; nothing here decides an answer by itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

ASK_TYPES: tuple[str, ...] = (
    "number", "date", "person", "place", "name", "reason", "method", "definition", "list", "yesno",
)

_NUMERAL = "[0-9零〇一二三四五六七八九十百千万亿两几]"
# interrogatives by class (a closed class of the language, not phrases of any question set)
ASK_PATTERNS: dict[str, re.Pattern] = {
    "number": re.compile(r"多少|(?<![第])几(?![乎])|多[大长久高远重宽深厚](?!数)|百分之几|比例|占比|比率|第几"),
    "date": re.compile(r"何时|什么时[候间]|哪一?[年月天日]|几[月号日]|哪个(?:年代|时期|朝代|世纪|月份?)|何年|年份|日期|哪段时间"),
    "person": re.compile(r"谁|哪一?位|何人|什么人|哪个人|哪些人|哪名|姓名"),
    "place": re.compile(r"哪里|哪儿|何处|何地|什么地方|在哪|去哪|哪[个座所]?(?:国家?|城市?|省份?|地区|地方|州|县|市|区|村|镇|街|路|岛|山|河)|位置|地点|地址"),
    "name": re.compile(r"叫什么|叫啥|什么名|名[称字叫为]|称为|称作|叫做|简称|别称|全称|又称|号称"),
    "reason": re.compile(r"为什么|为何|为啥|何故|干[嘛吗]|原因|缘故|为了什么|目的|动机|初衷|怎么会"),
    "method": re.compile(r"怎么|怎样|如何|咋|通过什么|用什么|靠什么|采取了?什么|哪些(?:办法|措施|方式|举措|做法)|办法|措施|做法|举措|途径|方式"),
    "definition": re.compile(r"什么是|什么意思|指什么|何谓|含义|意思是|定义|是啥"),
    "list": re.compile(r"哪些|哪几|有哪|包括什么|包括哪|都有什么|都有啥|列举|分别是|哪[两二三四五六七八九十\d]+[个项条点种类件步方样招大]"),
    "yesno": re.compile(r"[吗嘛吧][？?]?$|是否|是不是|有没有|能不能|可不可以|会不会|对不对|对吗"),
}

# answer shapes in text
_MEASURE = "个|名|位|人|项|条|次|年|月|日|天|元|万|亿|倍|户|家|所|处|件|套|场|期|批|种|类|支|座|栋|幢|辆|亩|公里|千米|米|吨|岁|分钟|小时|平方米|公顷|%|％"
# an asking word or a demonstrative with a measure word ("几场", "多少名", "这座") asks or points; it names nothing
DEICTIC_MEASURE_RE = re.compile(rf"^(?:几|多少|哪一?|这一?|那一?|每一?|某一?)(?:{_MEASURE}|座|场|块|期|招|届|轮)$")
# a lone 一 before a measure word ("一项工作") is an article far more often than a count
NUMBER_RE = re.compile(rf"\d+(?:[.,]\d+)?\s*(?:{_MEASURE})?|(?:[二三四五六七八九十百千万亿两几]|{_NUMERAL}{{2,6}})(?:多|余)?(?:{_MEASURE})|百分之")
DATE_RE = re.compile(r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*[日号]|[一二三四五六七八九十]+世纪|\d+年代|[上下]半年|今年|去年|明年|近日|[春夏秋冬]季|[一二三四五六七八九十]{2,4}年")
# Details a reader asks for by name that a passage gives in one surface form, else not at all:
# (what is asked, how the text gives it, what the refusal says is missing).
DETAIL_ASKS: tuple[tuple[re.Pattern, re.Pattern, str], ...] = (
    # a day ("哪一天", "几月几日"; not the span "几日内")
    (re.compile(r"(?:哪一?[天日]|几[日号]|哪日|具体日期)(?![内后前里来])"),
     re.compile(r"\d{1,2}\s*[日号]|[一二三]?十?[一二三四五六七八九十][日号]|初[一二三四五六七八九十]"), "具体日期"),
    # a street address: a house number, or a crossing of two roads
    (re.compile(r"地址|门牌|哪条(?:路|街|马路|胡同|巷)"),
     re.compile(r"\d+\s*号|[路街道](?:与|和)[\u4e00-\u9fff]{1,6}[路街道](?:交口|交叉口|路口)"), "具体地址"),
    # opening hours (…的营业时间, 几点关门; not a span of office years, nor 几点意见)
    (re.compile(r"(?:开放|营业|办公|服务|接待)时间(?:是|为)?(?:什么|几点|怎样|如何|多久|[？?]|$)|几点(?:开门|关门|营业|开放|上班|下班|开始|结束)"),
     re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*[点时]\s*(?:至|到|—|-|~|前|后|起|开)|[上下]午\s*\d|全天|24\s*小时|"
                r"(?:周|星期)[一二三四五六日天]\s*(?:至|到|—|-)|每(?:周|星期)[一二三四五六日天]|节假日|(?:开放|营业|办公)时间(?:为|是|：|:)"), "开放时间"),
    # a telephone number or hotline
    (re.compile(r"(?:电话|手机|热线)(?:号码?)?(?:是|为)?(?:多少|什么|几号)|联系方式|联系电话"), re.compile(r"\d{5,}|\d{3,4}\s*[-－]\s*\d{7,8}"), "联系电话"),
)
QUOTE_RE = re.compile(r"“[^”]{1,30}”|《[^》]{1,40}》|「[^」]{1,30}」")
REASON_RE = re.compile(r"因为|由于|为了|因此|所以|因而|于是|为此|以便|以免|导致|造成|使得|旨在|源于|原因|目的|得益于|之所以")
METHOD_RE = re.compile(r"通过|采取|采用|利用|依托|借助|依靠|凭借|运用|实行|推行|建立|开展|实施|以.{1,8}(?:方式|形式|办法)|[一二三四五六七八九十]是")
DEFINITION_RE = re.compile(r"是指|指的是|即[^将使可便]|就是|称为|被称为|是一种|是一个|意思是|又称|简称|俗称")
ENUM_RE = re.compile(r"[^、，。]{1,20}、[^、，。]{1,20}、|[一二三四五六七八九十]是|[（(][一二三四五六七八九十\d][)）]|第[一二三四五六七八九十][，,、]")
YESNO_ANSWER_RE = re.compile(r"是|有|能|会|不|没有|并非|已经")


def asked_types(question: str) -> frozenset[str]:
    """The answer types a question's interrogatives ask for.

    Example: asked_types("这座桥是哪一年建成的？") == frozenset({"date"})
    """
    found = {t for t, p in ASK_PATTERNS.items() if p.search(question)}
    if "date" in found:
        found.discard("number")  # 哪一年/几月 ask for a time, not a count
    if "definition" in found:
        found.discard("name")
    return frozenset(found)


# The 100 most common surnames (2020 census order, 百家姓): an unknown 2-4 character word that
# starts with one is most likely a person's name.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜"
    "崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严欧莫孔向常汤康易乔赖文")


@lru_cache(maxsize=65536)
def pos_flags(text: str) -> frozenset[str]:
    """Name tags in `text`: nr (person), ns (place), nt (organisation), nz (other proper noun).

    Dictionary words carry jieba's dictionary tag; a word jieba had to guess (not in its
    dictionary, or a user-dictionary term without a tag) counts as a person's name when it starts
    with a common surname, else as a proper noun. Faster than jieba.posseg's HMM tagging.
    Example: "ns" in pos_flags("他出生在上海。")
    """
    from zhibu_qa.text import _jieba

    jb = _jieba()
    jb.initialize()
    import jieba.posseg as pseg

    tags = pseg.dt.word_tag_tab
    out = set()
    for w in jb.lcut(text):
        tag = tags.get(w)
        if tag is None and 2 <= len(w) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in w):
            tag = "nr" if w[0] in SURNAMES and len(w) <= 3 else "nz"
        if tag in ("nr", "nrfg", "nrt", "ns", "nt", "nz"):
            out.add(tag)
    return frozenset(out)


def answer_shapes(sentence: str) -> frozenset[str]:
    """The answer types a sentence holds a surface form of.

    Example: "date" in answer_shapes("大桥于1998年建成。")
    """
    flags = pos_flags(sentence)
    found = set()
    if NUMBER_RE.search(sentence):
        found.add("number")
    if DATE_RE.search(sentence):
        found.add("date")
    if flags & {"nr", "nrfg", "nrt"}:
        found.add("person")
    if "ns" in flags:
        found.add("place")
    if QUOTE_RE.search(sentence) or flags & {"nz", "nt"}:
        found.add("name")
    if REASON_RE.search(sentence):
        found.add("reason")
    if METHOD_RE.search(sentence):
        found.add("method")
    if DEFINITION_RE.search(sentence):
        found.add("definition")
    if ENUM_RE.search(sentence):
        found.add("list")
    if YESNO_ANSWER_RE.search(sentence):
        found.add("yesno")
    return frozenset(found)


# A measure word after 多少/几 says what is counted ("多少块" wants a number with 块).
ASKED_UNIT_RE = re.compile(
    r"(?<!哪)(?:多少|几)(个|项|件|套|名|位|期|场|块|户|家|条|次|人|元|钱|天|年|处|支|所|批|类|种|卷|倍|幢|栋|座|辆|亩"
    r"|公里|千米|米|吨|岁|分钟|小时|平方米|公顷|万|亿)")
# Measure words of one semantic class answer each other ("多少人" is answered by "74名").
UNIT_CLASSES = ("人|名|位", "幢|栋|座", "个|项|家|所|件|处", "公里|千米", "万|亿")
# a number before a measure word, including approximate ones (上千, 数百, 近万: 上/数/近 + a power of ten)
_LEAD_NUMBER = r"(?:\d+(?:\.\d+)?|[二三四五六七八九十两]|[一二三四五六七八九十百千万两]{2,}|[上数近][十百千万])\s*(?:多|余)?\s*(?:万|亿)?\s*"
WHAT_NOUN_RE = re.compile(r"(?<![为干做])什么(?:样的?)?([\u4e00-\u9fff]{1,6})")
NAME_ASK_RE = re.compile(r"叫(?:什么|啥)|(?:名称|名字|称号)(?:是|叫)?(?:什么|啥)|什么名字")


# A sum of money in any currency ("150万美元", "3.5亿元", "20英镑").
MONEY_UNITS = "(?:[美欧日港澳韩台银]|人民币|新台币)?元|块钱|英?镑|卢布|法郎|马克|美金"
# Nouns of money: "利润有多少" asks for a sum of money although no measure word follows 多少.
MONEY_NOUNS = "收入|营收|收益|收费|费用|经费|价格|价钱|定价|票价|售价|工资|薪酬|报酬|资金|投资|投入|成本|花费|开支|金额|营业额|销售额|产值|利润|分红|税收|预算|拨款|补贴|补助|奖金|奖励|赞助|捐助|捐赠|捐款|罚款|租金|学费"
MONEY_ASK_RE = re.compile(rf"(?:{MONEY_NOUNS})(?:了|是|为|有|达到?|共|一共|总共|大概|大约|约|需要|要)*多少(?![个项件名位人次天年])|多少(?:{MONEY_NOUNS})")
# "会员总数有多少", "人数为多少": a count of people asked without a measure word (a noun of people:
# an agent suffix such as 员/民/者/师, or 人数 itself)
PEOPLE_COUNT_RE = re.compile(r"(?:[\u4e00-\u9fff](?:员|民|者|师|生|工|兵|人)(?:总数|数量|总量)|人数)(?:是|为|有|达到?|共|一共|总共|大概|大约|约)*多少"
                             r"|多少(?:[\u4e00-\u9fff]{0,2}(?:老人|员|民|者|群众|师|学生|工人|职工|干部|人才|家庭))(?!区|会|队|室|中心|公寓|楼|站|组织|团|之家|驿站|点|服务)")
# a numeral right before the number is part of it; 第 makes it an ordinal ("第9期" counts nothing)
_NOT_INSIDE = r"(?<![第\d.一二三四五六七八九十百千万两])"


def unit_pattern(question: str) -> re.Pattern | None:
    """A number with the asked measure word (or one of its class), for a 多少/几 question; a sum of
    money for 多少 asked of a money noun.

    Example: unit_pattern("建了多少栋楼？").search("共建成12幢")
    """
    m = ASKED_UNIT_RE.search(question)
    if m:
        unit = "元" if m.group(1) == "钱" else m.group(1)
        if unit == "个" and question[m.end():m.end() + 1] == "人":
            unit = "人"  # 个 is the general measure word: "几个人" counts people ("13人", "5名")
    elif MONEY_ASK_RE.search(question):
        unit = "元"
    elif PEOPLE_COUNT_RE.search(question):
        unit = "人"
    else:
        return None
    alts = MONEY_UNITS if unit == "元" else next((c for c in UNIT_CLASSES if unit in c.split("|")), re.escape(unit))
    return re.compile(rf"{_NOT_INSIDE}{_LEAD_NUMBER}(?:{alts})")


def counted_noun(question: str) -> str | None:
    """The noun a 多少/几 question counts ("多少个志愿服务项目" -> "志愿服务").

    Example: counted_noun("村里一共有多少名教师？") == "教师"
    """
    from zhibu_qa.text import cut

    m = ASKED_UNIT_RE.search(question) or re.search(r"(?<!哪)(?:多少|几)", question)
    words = cut(question[m.end():m.end() + 12]) if m else []
    return words[0] if words and len(words[0]) >= 2 else None


def slot_pattern(question: str) -> re.Pattern | None:
    """Where a name sits next to the noun asked about: "什么样的X" / "X叫什么" is answered by a quoted
    name right before or after X ("“…”X", "X《…》", "X叫“…”").

    Example: slot_pattern("推行了什么制度？").search("推行“首问负责”制度")
    """
    from zhibu_qa.text import cut

    nouns = []
    for m in WHAT_NOUN_RE.finditer(question):
        words = cut(m.group(1))
        if words and len(words[0]) >= 2:
            nouns.append(words[0])
    m = NAME_ASK_RE.search(question)
    if m:
        before = cut(re.split(r"[，,。；;？?]", question[: m.start()])[-1])
        if before:
            nouns.append(before[-1])
    if not nouns:
        return None
    alt = "|".join(map(re.escape, dict.fromkeys(nouns)))
    return re.compile(rf"[”》」][\u4e00-\u9fff]{{0,3}}(?:{alt})|(?:{alt})\s*(?:叫|是|为|名为|称为|叫做)?\s*[“《「]")
