"""The archive of issues: issue dates, filters by issue and date range, and chunks that recur.

Owns resolving an `IssueFilter` (issue names such as "2024-09b", "2024年第9期" or an issue id,
years, a date range) against the catalogue's issues into the issue ids the search engines filter
on (FAISS bitmap, SQL WHERE), listing issues most recent first, dating chunk metadata, and
collapsing chunks that recur word for word across issues (masthead, fixed column intros) into the
latest issue's copy. Leaves out the engines (`vectors`, `pgvector_index`) and ranking (`recency`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from calendar import monthrange
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from zhibu_qa.errors import InputError
from zhibu_qa.indexing.chunking import ChunkerConfig, chunk_catalogue
from zhibu_qa.ingest.issuemeta import issue_date as _derived_date
from zhibu_qa.ingest.issuemeta import name_issue
from zhibu_qa.types import Article, Chunk, ChunkMeta, Filters, Issue

MAX_ISSUE_SPECS = 100  # as ui_actions.MAX_FILTERS
_DATE_RE = re.compile(r"^\s*((?:19|20)\d{2})(?:\s*[-./年]\s*(\d{1,2})(?:\s*[-./月]\s*(\d{1,2})\s*日?)?\s*月?)?\s*年?\s*$")


def issue_date(issue: Issue) -> str | None:
    """The issue's ISO publication date (derived from year/number/half for catalogues without one)."""
    return issue.date or _derived_date(issue.year, issue.number, issue.half)


def date_bound(text: str, *, end: bool) -> str:
    """An inclusive ISO date bound from "2024", "2024-09", "2024年9月", "2024-09-15"; else InputError.

    Example: date_bound("2024-02", end=True) == "2024-02-29" and date_bound("2024", end=False) == "2024-01-01"
    """
    m = _DATE_RE.match(text or "")
    if not m:
        raise InputError(f"日期格式应为 2024、2024-09 或 2024-09-15，收到的是 {str(text)[:40]!r}。")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (12 if end else 1)
    if not 1 <= month <= 12:
        raise InputError(f"月份必须在 1 到 12 之间，收到的是 {str(text)[:40]!r}。")
    last = monthrange(year, month)[1]
    day = int(m.group(3)) if m.group(3) else (last if end else 1)
    if not 1 <= day <= last:
        raise InputError(f"{year}年{month}月没有 {day} 日（{str(text)[:40]!r}）。")
    return date(year, month, day).isoformat()


@dataclass(frozen=True)
class IssueFilter:
    """Which issues to search: named issues OR-ed, then AND years and the date range (inclusive)."""

    issues: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    date_from: str | None = None  # ISO date
    date_to: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.issues or self.years or self.date_from or self.date_to)

    @classmethod
    def checked(cls, issues=None, years=None, date_from=None, date_to=None) -> IssueFilter:
        """A filter from request values, each checked; else an InputError naming the bad value.

        Example: IssueFilter.checked(["2024-09b"], None, "2024", None).date_from == "2024-01-01"
        """
        specs = _strings(issues, "期次")
        if years is None:
            years = ()
        if not isinstance(years, (list, tuple)) or not all(
                isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2100 for y in years):
            raise InputError(f"年份必须是 1900 到 2100 之间的整数列表，收到的是 {str(years)[:40]!r}。")
        lo = date_bound(date_from, end=False) if date_from not in (None, "") else None
        hi = date_bound(date_to, end=True) if date_to not in (None, "") else None
        if lo and hi and lo > hi:
            raise InputError(f"起始日期 {lo} 晚于截止日期 {hi}。")
        return cls(specs, tuple(years), lo, hi)

    def describe(self) -> str:
        parts = list(self.issues) + [f"{y}年" for y in self.years]
        if self.date_from or self.date_to:
            parts.append(f"{self.date_from or '…'} 至 {self.date_to or '…'}")
        return "，".join(parts)


def _strings(values, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) and 0 < len(v) <= 80 for v in values):
        raise InputError(f"{what}必须是文字列表（每项 1 到 80 字）。")
    if len(values) > MAX_ISSUE_SPECS:
        raise InputError(f"{what}最多 {MAX_ISSUE_SPECS} 项，收到 {len(values)} 项。")
    return tuple(values)


def spec_matches(spec: str, issue: Issue) -> bool:
    """Whether an issue name given by a user means `issue`: its id, or year / number / half-month.

    Example: spec_matches("2021年第3期", Issue("zbsh-2021-03a", "天津支部生活", "p", "s", year=2021, number=3))
    """
    if spec.strip() == issue.id:
        return True
    named = name_issue(spec.strip().removeprefix("zbsh-"))
    if named is None:
        return False
    if named.year != issue.year:
        return False
    if named.number is not None and named.number != issue.number:
        return False
    if named.month is not None and named.day is not None and issue_date(issue) != date(
            named.year, named.month, named.day).isoformat():  # "2024-09-15": the issue of that day
        return False
    return named.half is None or named.half == issue.half


def matching_issues(filt: IssueFilter, issues: Iterable[Issue]) -> list[Issue]:
    """The issues `filt` selects, most recent first (undated issues match only filters by name)."""
    out = []
    for issue in issues:
        when = issue_date(issue)
        if filt.issues and not any(spec_matches(s, issue) for s in filt.issues):
            continue
        if filt.years and issue.year not in filt.years and not (when and int(when[:4]) in filt.years):
            continue
        if (filt.date_from or filt.date_to) and (when is None or (filt.date_from and when < filt.date_from)
                                                 or (filt.date_to and when > filt.date_to)):
            continue
        out.append(issue)
    return by_recency(out)


def by_recency(issues: Iterable[Issue]) -> list[Issue]:
    """Issues newest first; undated ones (documents) last, in their given order."""
    issues = list(issues)
    dated = sorted((i for i in issues if issue_date(i)), key=lambda i: issue_date(i) or "", reverse=True)
    return dated + [i for i in issues if not issue_date(i)]


def issue_heading(issue: Issue) -> str:
    """The issue's name and date. Example: issue_heading(i) == "天津支部生活 2024年第9期（下半月） · 2024-09-15" """
    return f"{issue.label} · {issue_date(issue)}" if issue_date(issue) else issue.label


def issue_choices(issues: Mapping[str, Issue]) -> list[tuple[str, str]]:
    """(label with date, issue id) pairs, newest first: the choices of an issue picker (UI, API docs).

    Example: issue_choices({i.id: i}) == [("天津支部生活 2024年第9期（下半月） · 2024-09-15", "zbsh-2024-09b")]
    """
    return [(issue_heading(i), i.id) for i in by_recency(issues.values())]


def articles_by_issue(articles: Sequence[Article], issues: Mapping[str, Issue]) -> list[tuple[Issue | None, list[Article]]]:
    """Articles grouped by issue, newest issue first (`by_recency`), in catalogue order within one;
    articles of an issue the catalogue does not know come last under None.

    Example: [i.id for i, _ in articles_by_issue(cat.articles, cat.issues)] == ["zbsh-2024-09b", "zbsh-2024-09a"]
    """
    groups: dict[str | None, list[Article]] = {}
    for a in articles:
        groups.setdefault(a.issue_id if a.issue_id in issues else None, []).append(a)
    ordered = [(i, groups[i.id]) for i in by_recency(issues[k] for k in groups if k is not None)]
    return ordered + ([(None, groups[None])] if None in groups else [])


def apply_issue_filter(filters: Filters, filt: IssueFilter, issues: Mapping[str, Issue]) -> Filters:
    """`filters` restricted to the issues `filt` selects; InputError when it selects none.

    Issue ids already in `filters` (exact ids) are intersected with the selection.
    """
    if filt.empty:
        return filters
    chosen = [i.id for i in matching_issues(filt, issues.values())]
    if filters.issue_ids:
        chosen = [i for i in chosen if i in filters.issue_ids]
    if not chosen:
        known = "、".join(i.label for i in by_recency(issues.values())[:5]) or "无"
        raise InputError(f"没有符合筛选条件（{filt.describe()}）的期次；已收录：{known}。")
    return replace(filters, issue_ids=tuple(chosen))


# ---- chunks ---------------------------------------------------------------------------------------

def dated_metas(chunks: Sequence[Chunk], metas: Sequence[ChunkMeta], issues: Mapping[str, Issue]) -> list[ChunkMeta]:
    """Metas with the issue's publication date filled in (for citations and recency)."""
    dates = {iid: issue_date(i) or "" for iid, i in issues.items()}
    return [replace(m, issue_date=dates.get(c.issue_id, "")) for c, m in zip(chunks, metas, strict=True)]


def content_key(text: str) -> str:
    """Hash of a chunk's text with width forms folded (NFKC) and whitespace dropped.

    Example: content_key("编辑部电话 022") == content_key("编辑部电话\\n０２２")
    """
    folded = "".join(unicodedata.normalize("NFKC", text).split())
    return hashlib.sha1(folded.encode("utf-8")).hexdigest()


def collapse_recurring(chunks: Sequence[Chunk], metas: Sequence[ChunkMeta]) -> tuple[list[Chunk], list[ChunkMeta], int]:
    """Drop chunks whose normalised text recurs in another issue, keeping the latest issue's copy.

    Uses `meta.issue_date` (ties and undated: the first seen); copies within one issue all stay.
    Returns the kept chunks and metas in their order and how many were dropped.
    """
    best: dict[str, int] = {}
    keys = [content_key(c.text) for c in chunks]
    for i, key in enumerate(keys):
        j = best.get(key)
        if j is None or (metas[i].issue_date or "") > (metas[j].issue_date or ""):
            best[key] = i
    kept = [i for i, key in enumerate(keys) if chunks[i].issue_id == chunks[best[key]].issue_id]
    return [chunks[i] for i in kept], [metas[i] for i in kept], len(chunks) - len(kept)


def index_chunks(articles: Sequence[Article], issues: Mapping[str, Issue],
                 config: ChunkerConfig) -> tuple[list[Chunk], list[ChunkMeta], int]:
    """What the index holds: the catalogue's chunks, dated, with recurring copies collapsed (and how many)."""
    chunks, metas = chunk_catalogue(articles, dict(issues), config)
    return collapse_recurring(chunks, dated_metas(chunks, metas, issues))


def with_issue_dates(index, issues: Mapping[str, Issue]):
    """A loaded `store.IndexData` whose metas carry issue dates (an index built before they were stored
    gets them from the catalogue; an index that has them is returned as it is)."""
    if all(m.issue_date for m in index.metas) or not any(issue_date(i) for i in issues.values()):
        return index
    return replace(index, metas=tuple(dated_metas(index.chunks, index.metas, issues)))
