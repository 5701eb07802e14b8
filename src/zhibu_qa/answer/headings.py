"""An article's section headings as the answer to a list question about the article's parts.

Feature articles state their points as subheadings ("数智化减负 …", "“书记项目”赋能 …"); a list
question asks for exactly those when it names their number ("哪三招" over three sections) or when a
term it quotes recurs in every heading ("哪几个“微”" over 建强“微网格” / 打造“微平台” / …). Each
heading is found verbatim in the source near its section's first chunk and becomes a one-line
passage, so it is quoted and cited like a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from zhibu_qa.answer.citing import span_hit
from zhibu_qa.answer.features import Candidate
from zhibu_qa.types import Hit

_CN = {c: i for i, c in enumerate("一二三四五六七八九十", 1)} | {"两": 2}
# "哪三招", "哪四个方面", "哪两点": a list question that names how many points or moves it wants
# (not how many members of a term: "哪两个坚持" asks what a quoted term is made of)
COUNTED_LIST_RE = re.compile(r"哪([两二三四五六七八九十]|\d)(?:招|点|步|大?方面|个方面|项(?:举措|措施|做法)|个(?:举措|做法|环节)|种做法)")
QUOTED_RE = re.compile(r"[“「]([^”」]{1,6})[”」]")
HEADING_SEARCH = 400  # characters around a section's first chunk searched for its heading line
MIN_SECTIONS = 2


def _asked_count(question: str) -> int | None:
    m = COUNTED_LIST_RE.search(question)
    if not m:
        return None
    g = m.group(1)
    return int(g) if g.isdigit() else _CN[g]


def _heading_hit(first: Hit, source: str) -> tuple[Hit, Candidate] | None:
    heading = first.meta.section or ""
    if not heading or not first.chunk.segments:
        return None
    near = first.chunk.segments[0].source_start
    at = source.rfind(heading, max(0, near - HEADING_SEARCH), near + HEADING_SEARCH)
    return None if at < 0 else span_hit(first, at, heading)


def heading_items(question: str, hits: Sequence[Hit], sections_of: Callable[[str], Sequence[Hit]],
                  source_for: Callable[[str], str]) -> list[tuple[Hit, Candidate]] | None:
    """The best passage's article's section headings, when the list question asks for them.

    `sections_of(article_id)` gives the first chunk of each headed section of an article, in order.
    """
    if not hits:
        return None
    firsts = [h for h in sections_of(hits[0].chunk.article_id) if h.meta.section]
    if len(firsts) < MIN_SECTIONS:
        return None
    count = _asked_count(question)
    quoted = [q for q in QUOTED_RE.findall(question) if len(q) <= 3]
    by_count = count is not None and count == len(firsts)
    by_echo = bool(quoted) and any(all(q in h.meta.section for h in firsts) for q in quoted)
    if not (by_count or by_echo):
        return None
    source = source_for(hits[0].chunk.issue_id)
    items = [_heading_hit(h, source) for h in firsts]
    return None if any(i is None for i in items) else items
