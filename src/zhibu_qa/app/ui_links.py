"""Shareable page addresses and the chat's small helpers, without Gradio.

A view of the app is a query string: `?article=ID` (the article at its top), `&section=N` (its
section N, 0 = the lead), `&start=S&end=E` (a quoted span of the source, highlighted) or `?q=…`
(a question, asked on load). `parse_link` reads one leniently (bad parts are dropped, never an
error); `link_query` writes one. Also: follow-up questions from cited articles' headings, the
"understood as" text of a rewritten follow-up, and the reader's title/author filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

MAX_LINK_QUESTION = 500  # same cap as max_question_chars' default; longer `q` is cut
MAX_ID_CHARS = 120
FOLLOWUPS = 3
# A heading is not a question; naming the article and the heading finds that section (measured
# on the shipped issue: 35 of 36 headings answered from their own section with this wording)
FOLLOWUP_TEMPLATE = "《{title}》中“{heading}”一节讲了什么？"
QUOTED_HEADING = "《{title}》中「{heading}」一节讲了什么？"  # for a heading with quotation marks of its own
_PUNCT = re.compile(r"[\s\"'“”‘’？?。.！!，,、；;：:]+")


@dataclass(frozen=True)
class Link:
    article: str | None = None
    section: int | None = None
    start: int | None = None
    end: int | None = None
    q: str | None = None


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def parse_link(params: Mapping[str, Any] | str | None) -> Link:
    """A Link from query parameters (a mapping or a query string); unknown or bad values are dropped.

    Example: parse_link("article=a1&section=2&x=1") == Link(article="a1", section=2)
    """
    if isinstance(params, str):
        from urllib.parse import parse_qsl

        params = dict(parse_qsl(params.lstrip("?"), keep_blank_values=False))
    params = params or {}
    article = str(params.get("article") or "").strip()[:MAX_ID_CHARS] or None
    q = " ".join(str(params.get("q") or "").split())[:MAX_LINK_QUESTION] or None
    start, end = _int(params.get("start")), _int(params.get("end"))
    if start is None or end is None or end <= start:
        start = end = None
    if article is None:
        return Link(q=q)
    return Link(article, _int(params.get("section")), start, end)


def link_query(link: Link) -> str:
    """Example: link_query(Link(article="a1", section=2)) == "article=a1&section=2" """
    pairs = [("article", link.article), ("section", link.section), ("start", link.start), ("end", link.end),
             ("q", link.q)]
    return urlencode([(k, v) for k, v in pairs if v is not None])


def citation_href(citation: Mapping[str, Any]) -> str:
    """The reader address of a citation's quote. Example: "?article=a1&start=10&end=20" """
    return "?" + link_query(Link(citation["article_id"], None, citation["char_start"], citation["char_end"]))


def article_href(article_id: str, section: int | None = None) -> str:
    return "?" + link_query(Link(article_id, section))


def _plain(text: str) -> str:
    return _PUNCT.sub("", text or "")


def understood_as(answer: Mapping[str, Any], had_history: bool) -> str:
    """The search text of a follow-up the pipeline rewrote from the chat history, else "".

    Example: understood_as({"question": "那乙县呢？", "search_query": "乙县怎么修路？"}, True) == "乙县怎么修路？"
    """
    search = answer.get("search_query") or ""
    if not had_history or not search or _plain(search) == _plain(answer.get("question", "")):
        return ""
    return search


def followup_questions(catalogue, answer: Mapping[str, Any], asked: Sequence[str] = (),
                       limit: int = FOLLOWUPS, answers: Callable[[str], bool] = lambda q: True,
                       tries: int = 2 * FOLLOWUPS) -> list[str]:
    """Up to `limit` questions on the other headed sections of the cited articles (then the
    retrieved ones), skipping the sections already cited and questions already asked. Only
    questions `answers` accepts are offered (of at most `tries` checked): a suggestion the
    knowledge base then refuses would waste the reader's click."""
    if answer.get("refused"):
        return []
    cited = {(c["article_id"], c.get("section")) for c in answer.get("citations") or ()}
    order = [c["article_id"] for c in answer.get("citations") or ()]
    order += [h["article_id"] for h in answer.get("hits") or ()]
    seen_q, out = {_plain(q) for q in asked}, []
    for article_id in dict.fromkeys(order):
        try:
            art = catalogue.article(article_id)
        except KeyError:
            continue
        for sec in art.sections:
            if not sec.heading or (article_id, sec.heading) in cited:
                continue
            template = QUOTED_HEADING if re.search("[“”]", sec.heading) else FOLLOWUP_TEMPLATE
            q = template.format(title=art.title, heading=sec.heading)
            if _plain(q) not in seen_q and len(q) <= MAX_LINK_QUESTION and tries > 0:
                seen_q.add(_plain(q))
                tries -= 1
                if answers(q):
                    out.append(q)
            if len(out) >= limit or tries <= 0:
                return out
        if out and article_id not in {c["article_id"] for c in answer.get("citations") or ()}:
            break  # one retrieved article's headings are enough once the cited ones ran out
    return out


def suggested_articles(catalogue, titles: Sequence[str]) -> list[tuple[str, str]]:
    """(title, article id) for the refusal's suggested titles that are in the catalogue."""
    ids = {}
    for art in catalogue.articles:
        ids.setdefault(art.title, art.id)
    return [(t, ids[t]) for t in titles if t in ids]


def filter_rows(rows: Sequence[Sequence[Any]], text: str) -> list[list[Any]]:
    """Catalogue rows (编号, 栏目, 标题, 作者) whose title, author or column contains every word of `text`;
    an issue's heading row (empty 编号) stays when one of its articles does, and words found in the
    heading (the issue's name or date) keep all its articles.

    Example: filter_rows([[1, "—", "甲文", "张三"]], "张") == [[1, "—", "甲文", "张三"]]
    """
    words = (text or "").lower().split()

    def matches(cells) -> bool:
        return all(w in " ".join(str(x) for x in cells).lower() for w in words)

    out: list[list[Any]] = []
    heading: list[Any] | None = None
    whole_issue = False  # the words name the issue (e.g. "2024年第9期"): all its articles stay
    for r in rows:
        if r[0] == "":
            heading, whole_issue = list(r), bool(words) and matches(r[2:3])
        elif whole_issue or matches(r[1:]):
            if heading is not None:
                out.append(heading)
                heading = None
            out.append(list(r))
    return out
