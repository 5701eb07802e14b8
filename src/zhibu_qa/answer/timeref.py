"""What relative times in a quoted passage mean, given the date of the issue it comes from.

"今年" in an issue published in September 2024 is 2024; "上月" is August 2024; "近日" and "目前"
point at the weeks before publication. Owns finding these deictic time words (they point from the
moment of writing: 今/去/前/明 + 年, 本/上/下 + 月, and the 今/近/昨/现/目 compounds) and writing the
note shown with a citation, or the quote with the years filled in. Quotes themselves are never
changed (`citing` keeps them exact). Leaves out absolute dates ("2023年4月"), which need no help.
"""

from __future__ import annotations

import re
from datetime import date

# year words and their offset from the year of publication
_YEAR_WORDS = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2, "明年": 1}
# month words and their offset from the month of publication
_MONTH_WORDS = {"本月": 0, "这个月": 0, "上月": -1, "上个月": -1, "下月": 1, "下个月": 1}
_COMPUTED_RE = re.compile("|".join(sorted({*_YEAR_WORDS, *_MONTH_WORDS}, key=len, reverse=True)))
# words that point at "around publication" without a computable value
_VAGUE_RE = re.compile(r"[今近昨][日天期来]|近年来?|近一段时间|现在|目前|当前|如今|眼下|日前|最近|前不久|不久前|年初以来|今年以来")


def _shift_month(year: int, month: int, offset: int) -> tuple[int, int]:
    """Example: _shift_month(2024, 1, -1) == (2023, 12)"""
    n = year * 12 + (month - 1) + offset
    return n // 12, n % 12 + 1


def resolve(word: str, published: date) -> str | None:
    """The absolute time a computable relative word means for an issue published on `published`.

    Example: resolve("去年", date(2024, 9, 15)) == "2023年" and resolve("上月", date(2024, 1, 1)) == "2023年12月"
    """
    if word in _YEAR_WORDS:
        return f"{published.year + _YEAR_WORDS[word]}年"
    if word in _MONTH_WORDS:
        y, m = _shift_month(published.year, published.month, _MONTH_WORDS[word])
        return f"{y}年{m}月"
    return None


def relative_words(text: str) -> list[str]:
    """Relative time words of `text` in order of appearance, each once.

    Example: relative_words("今年4月，近日又在上月") == ["今年", "近日", "上月"]
    """
    found = sorted([(m.start(), m.group()) for m in _COMPUTED_RE.finditer(text)]
                   + [(m.start(), m.group()) for m in _VAGUE_RE.finditer(text)
                      if not _COMPUTED_RE.match(text, m.start())])
    return list(dict.fromkeys(w for _, w in found))


def time_note(text: str, issue_date: str | None) -> str:
    """The note shown with a citation whose quote uses relative times ("" when it uses none).

    Example: time_note("今年4月，近日", "2024-09-15") == "本期出版于2024年9月：文中“今年”指2024年；“近日”以出版时间为准"
    """
    if not issue_date:
        return ""
    words = relative_words(text)
    if not words:
        return ""
    published = date.fromisoformat(issue_date)
    computed = [f"“{w}”指{resolve(w, published)}" for w in words if resolve(w, published)]
    vague = [f"“{w}”" for w in words if not resolve(w, published)]
    parts = (["文中" + "，".join(computed)] if computed else []) + (["".join(vague) + "以出版时间为准"] if vague else [])
    return f"本期出版于{published.year}年{published.month}月：" + "；".join(parts)


def annotate(text: str, issue_date: str | None) -> str:
    """`text` with computable relative times followed by their value, for display only.

    Example: annotate("今年4月", "2024-09-15") == "今年（2024年）4月"
    """
    if not issue_date:
        return text
    published = date.fromisoformat(issue_date)
    return _COMPUTED_RE.sub(lambda m: f"{m.group()}（{resolve(m.group(), published)}）", text)
