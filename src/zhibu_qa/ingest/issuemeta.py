"""Which issue a source is and when it appeared: year, number, half-month and publication date.

Owns reading these from the magazine's own text (the masthead's "下半月 2024年第9期" and
"每月15日出版") and, as a fallback, from the file name ("…-2024-09b.txt", "2023年第5期.pdf",
"2024-03-01 通知.md"). Leaves out the rest of the layout (`magazine`) and filtering by issue
(`archive`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

_DAY_RE = re.compile(r"每月\s*(\d{1,2})\s*日\s*出版")
# "2024年第9期" (and "上半月" / "下半月" before it) inside a file name
_NAME_CN_RE = re.compile(r"(上半月|下半月)?\s*((?:19|20)\d{2})\s*年\s*第\s*(\d{1,2})\s*期\s*(上半月|下半月)?")
# "2024-09b", "2024_9", "202409a": year, number, optional half (a = 上半月, b = 下半月)
_NAME_NUM_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(\d{1,2})([ab])?(?![\d])", re.IGNORECASE)
# a full date in a file name: "2024-03-01", "20240301"
_NAME_DATE_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d)")
HALVES = {"a": "上半月", "b": "下半月"}
HALF_DAY = {"上半月": 1, "下半月": 16}  # when the masthead names no day: the half-month's first day
MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class IssueName:
    year: int
    number: int | None = None
    half: str | None = None
    month: int | None = None  # month and day: only for a full date in the name
    day: int | None = None


def publication_day(text: str) -> int | None:
    """The day of the month the masthead says the issue appears on.

    Example: publication_day("每月15日出版") == 15
    """
    m = _DAY_RE.search(text)
    return int(m.group(1)) if m and 1 <= int(m.group(1)) <= 31 else None


def name_issue(path: str) -> IssueName | None:
    """Year, number and half-month written in a file name, or None.

    Example: name_issue("corpus/tianjin-zhibu-shenghuo-2024-09b.txt") == IssueName(2024, 9, "下半月")
    """
    stem = Path(path).name
    m = _NAME_CN_RE.search(stem)
    if m:
        return IssueName(int(m.group(2)), int(m.group(3)), m.group(1) or m.group(4))
    m = _NAME_DATE_RE.search(stem)
    if m and _valid(int(m.group(1)), int(m.group(2)), int(m.group(3))):
        return IssueName(int(m.group(1)), month=int(m.group(2)), day=int(m.group(3)))
    m = _NAME_NUM_RE.search(stem)
    if m and 1 <= int(m.group(2)) <= 2 * MONTHS_PER_YEAR:
        return IssueName(int(m.group(1)), int(m.group(2)), HALVES.get((m.group(3) or "").lower()))
    return None


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def issue_month(number: int) -> int | None:
    """The month of issue `number`: monthly numbering (each half-month edition counts 1-12) or 1-24.

    Example: issue_month(9) == 9 and issue_month(17) == 9
    """
    if 1 <= number <= MONTHS_PER_YEAR:
        return number
    if number <= 2 * MONTHS_PER_YEAR:
        return (number + 1) // 2
    return None


def issue_date(year: int | None, number: int | None, half: str | None = None, day: int | None = None) -> str | None:
    """ISO publication date of an issue, or None when year or number is unknown.

    Example: issue_date(2024, 9, "下半月", 15) == "2024-09-15" and issue_date(2024, 9, "下半月") == "2024-09-16"
    """
    if not year or not number or (month := issue_month(number)) is None:
        return None
    day = day or HALF_DAY.get(half or "", 1)
    return date(year, month, day).isoformat() if _valid(year, month, day) else date(year, month, 1).isoformat()


def name_date(name: IssueName) -> str | None:
    """ISO date of a file name that carries a full date (e.g. "2024-03-01 通知.md"), else None."""
    if name.month is None or name.day is None:
        return None
    return date(name.year, name.month, name.day).isoformat()
