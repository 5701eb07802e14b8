"""The names a question is about, and which of them the knowledge base or the passages lack.

A name is a quoted term (“…”, 《…》), a word ending in a place or organisation suffix, or a word
jieba's dictionary does not hold that its part-of-speech tagger takes for a person, place or
organisation. Everyday words, asking words, numbers and Latin-script words are never names here:
a colloquial or misspelt word is not evidence that the magazine lacks a subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from zhibu_qa.answer.asktype import ASK_PATTERNS
from zhibu_qa.text import pos_tags
from zhibu_qa.types import Hit

NAME_FLAGS = ("nr", "nrfg", "nrt", "ns", "nt", "nz")
_QUOTED_RE = re.compile(r"[“「『《\"]([^”」』》\"]{2,20})[”」』》\"]")


def _asking(word: str) -> bool:
    return any(p.search(word) for p in ASK_PATTERNS.values())


# Suffixes of administrative units and organisations: a word ending in one names a place or body.
PLACE_ORG_RE = re.compile(r"(?:省|市|区|县|旗|镇|乡|村|街道|社区|新区|局|委|厅|署|院|所|校|大学|学院|中学|小学|医院|公司|集团|中心|协会|学会|基金会|银行|党委|支部|工委)$")


# An administrative place (a district, county, town, village, street office); words that end like
# one but name a kind of area (地区, 小区, 园区) are not places of their own.
ADMIN_PLACE_RE = re.compile(r"(?:省|市|区|县|镇|乡|村|街道|旗)$")
GENERIC_AREA_RE = re.compile(r"(?:地区|城区|市区|郊区|园区|小区|景区|山区|矿区|灾区|辖区|片区|街区|校区|选区|社区|农村|乡村|城市|都市|城乡|本市|全市|全区|全县|该市|该区|该县)$")


def is_admin_place(name: str) -> bool:
    """Ends like a district or town and holds a name jieba tags as one ("功能区", "服务区" do not).

    Example: is_admin_place("东丽区") and not is_admin_place("亚洲地区")
    """
    from zhibu_qa.answer.asktype import pos_flags

    return (bool(ADMIN_PLACE_RE.search(name)) and not GENERIC_AREA_RE.search(name) and len(name) >= 3
            and bool(pos_flags(name)))


@dataclass(frozen=True)
class Name:
    text: str
    parts: tuple[str, ...]  # the words of a run of name words ("某区" + "某街道")
    entity: bool  # a person, place or organisation (not only a quoted term)


def _is_name_word(word: str, flag: str) -> bool:
    """A person, place or organisation: a word ending in a place/organisation suffix, or a word
    jieba's dictionary does not hold that its tagger takes for a name (a person's name starting
    with a common surname, a place, an organisation). Dictionary words with a name tag (荣耀,
    登山) are everyday words here."""
    from zhibu_qa.answer.asktype import SURNAMES
    from zhibu_qa.text import in_dictionary

    if word.isascii() or _asking(word) or len(word) < 2:
        return False
    if len(word) >= 3 and PLACE_ORG_RE.search(word) and flag in (*NAME_FLAGS, "n", "x"):
        return True
    if in_dictionary(word):
        return False
    if flag in ("nr", "nrfg", "nrt"):
        return word[0] in SURNAMES and len(word) <= 4
    return flag in ("ns", "nt")


@lru_cache(maxsize=4096)
def names_of(question: str) -> tuple[Name, ...]:
    """Quoted terms, then runs of name words, of at least two CJK characters (cached: answerability
    reads them twice per question)."""
    found = [Name(q, (q,), False) for q in _QUOTED_RE.findall(question) if not q.isascii()]
    run: list[tuple[str, str]] = []
    for word, flag in pos_tags(_QUOTED_RE.sub("，", question)) + [("", "x")]:
        if _is_name_word(word, flag):
            run.append((word, flag))
            continue
        if run and len("".join(w for w, _ in run)) >= 2:
            found.append(Name("".join(w for w, _ in run), tuple(w for w, _ in run), True))
        run = []
    return tuple({n.text: n for n in found}.values())


def mentioned(name: str, corpus_has: Callable[[str], bool], parts: Sequence[str] = ()) -> bool:
    """In the knowledge base, forgiving one character jieba glued on at either end; a run of name
    words counts as mentioned when each of its words is.

    Example: mentioned("张三丰是", lambda t: t == "张三丰") is True
    """
    if corpus_has(name):
        return True
    if len(parts) > 1 and all(corpus_has(p) for p in parts):
        return True
    return len(name) >= 3 and (corpus_has(name[:-1]) or corpus_has(name[1:]))


def missing_names(names: Sequence[Name], corpus_has: Callable[[str], bool]) -> list[Name]:
    """The names the whole knowledge base never mentions."""
    return [n for n in names if not mentioned(n.text, corpus_has, n.parts)]


def unfound_names(names: Sequence[Name], hits: Sequence[Hit], missing: Sequence[Name]) -> list[Name]:
    """Names the knowledge base mentions somewhere but none of the retrieved passages does: the
    subject is elsewhere, not in what was found for this question."""
    text = "\n".join(h.chunk.text + h.meta.article_title + (h.meta.section or "") for h in hits)
    return [n for n in names if n not in missing and not mentioned(n.text, lambda t: t in text, n.parts)]
