"""Who wrote an article: the byline line of the source, quoted and cited like any sentence.

A question for the author ("…那篇评论出自谁手？", "…是哪位书记写的？") is answered from the
article the best passage comes from, when the catalogue knows its authors: the source line that
names them (the magazine's "文 / 职务 姓名" byline) becomes a one-sentence passage of its own, so
the quote is still `source_text[char_start:char_end]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from zhibu_qa.answer.citing import span_hit
from zhibu_qa.answer.features import Candidate
from zhibu_qa.types import Hit

AUTHOR_ASK_RE = re.compile(r"(?<![工创劳])作者|谁写|谁撰写|谁执笔|执笔人|撰文|署名|(?:哪位|哪个|什么人)[\u4e00-\u9fff]{0,6}(?:写|撰写)的")
BYLINE_WINDOW = 3000  # characters before the article's first passage searched for the byline
BYLINE_INSIDE = 300  # and after its start (the first chunk's span can begin at the title, above the byline)


def asks_author(question: str) -> bool:
    """Example: asks_author("这篇评论是谁写的？") and not asks_author("社区工作者怎么减负？")"""
    return bool(AUTHOR_ASK_RE.search(question))


def byline(hits: Sequence[Hit], source_for: Callable[[str], str]) -> tuple[Hit, Candidate] | None:
    """The best hit's article's byline as (a one-line hit, its candidate), or None when the article
    names no author or the source line cannot be found near the article's start."""
    if not hits or not hits[0].meta.authors or not hits[0].chunk.segments:
        return None
    top = hits[0]
    source = source_for(top.chunk.issue_id)
    first = min(h.chunk.segments[0].source_start for h in hits if h.chunk.article_id == top.chunk.article_id
                and h.chunk.segments)
    window_start = max(0, first - BYLINE_WINDOW)
    author = top.meta.authors[0]
    at = source.rfind(author, window_start, first + BYLINE_INSIDE)
    if at < 0:
        return None
    start = source.rfind("\n", 0, at) + 1
    end = source.find("\n", at)
    end = len(source) if end < 0 else end
    line = source[start:end].strip()
    if not line or len(line) > 120:
        return None
    start += source[start:end].find(line)
    return span_hit(replace(top, meta=replace(top.meta, section=None)), start, line)
