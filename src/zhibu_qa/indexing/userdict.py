"""The jieba user dictionary of the corpus's own terms, so BM25 keeps "吹哨报到" or "小马拉大车" whole.

Owns extracting candidate terms (short quoted phrases and title pieces), learning the ones an
archive keeps quoting (`learn_terms`: the dictionary grows with each ingested issue), merging them, and reading
and writing the dictionary file (jieba format: one "term freq" per line, editable by hand; `#`
comment lines are skipped here but jieba itself would read them as words, so shipped files have
none). Loading a dictionary into jieba is `text.load_user_dict`; using it is the index builder's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from zhibu_qa.errors import ConfigError
from zhibu_qa.text import STOPWORDS
from zhibu_qa.types import Chunk

# Frequency written for every term; the same value `text.add_words` uses, high enough that jieba
# prefers the whole term over any split of it.
DEFAULT_FREQ = 2000
# A quoted phrase becomes a term when it is quoted this often in the archive. 1: requiring two
# quotes cut the shipped issue's terms from 549 to 129 and cost a test-part answer (a term quoted once).
MIN_RECURRENCE = 1
MIN_TERM_CHARS, MAX_TERM_CHARS = 2, 8  # jieba keeps 2-8 character terms whole; longer quotes are phrases
# 2-8 CJK characters inside Chinese quotes or corner brackets (the magazine mixes all three styles).
_QUOTED_RE = re.compile(r"[“『「]([\u4e00-\u9fff]{2,8})[”』」]")
_TERM_RE = re.compile(r"[\u4e00-\u9fff]{2,8}")
# Title pieces are separated by whitespace and punctuation (e.g. "减牌子 挑担子 服务群众有『里子』").
_TITLE_SPLIT_RE = re.compile(r"[^\u4e00-\u9fff]+")


def extract_terms(texts: Iterable[str], titles: Iterable[str] = ()) -> list[str]:
    """Quoted 2-8 character CJK terms from `texts` plus 2-8 character pieces of `titles`, deduplicated.

    Example: extract_terms(["启动了“吹哨报到”机制"], ["小马拉大车 有解"]) == ["吹哨报到", "小马拉大车", "有解"]
    """
    seen: dict[str, None] = {}
    for text in texts:
        for match in _QUOTED_RE.finditer(text):
            _add(seen, match.group(1))
    for title in titles:
        for piece in _TITLE_SPLIT_RE.split(title):
            if _TERM_RE.fullmatch(piece):
                _add(seen, piece)
    return list(seen)


def learn_terms(texts: Iterable[str], titles: Iterable[str] = (), *, min_count: int = MIN_RECURRENCE,
                min_len: int = MIN_TERM_CHARS, max_len: int = MAX_TERM_CHARS) -> list[str]:
    """Quoted terms quoted at least `min_count` times across `texts`, plus title pieces.

    What the archive teaches the dictionary: a phrase the magazine puts in quotes ("吹哨报到") is a
    term; with `min_count` 2 only phrases quoted again (across articles or issues) count. Length
    bounds are in CJK characters; order is first seen.
    Example: learn_terms(["“网格员”走访", "“网格员”上门", "“后园子”"], min_count=2) == ["网格员"]
    """
    counts: dict[str, int] = {}
    for text in texts:
        for match in _QUOTED_RE.finditer(text):
            term = match.group(1)
            if min_len <= len(term) <= max_len:
                counts[term] = counts.get(term, 0) + 1
    seen: dict[str, None] = {}
    for term, n in counts.items():
        if n >= min_count:
            _add(seen, term)
    return merge_terms(seen, extract_terms((), titles))


def unoverlapped_texts(chunks: Iterable[Chunk]) -> Iterator[str]:
    """Each chunk's text without the part an earlier chunk of its source already covered, so a quote
    in the overlap of two chunks counts once. Chunks come in source order per issue (as chunked)."""
    covered: dict[str, int] = {}
    for chunk in chunks:
        until = covered.get(chunk.issue_id, -1)
        if chunk.char_start >= until:
            yield chunk.text
        else:
            yield "".join(chunk.text[seg.text_start + max(0, until - seg.source_start):seg.text_start + seg.length]
                          for seg in chunk.segments if seg.source_start + seg.length > until)
        covered[chunk.issue_id] = max(until, chunk.char_end)


def _add(seen: dict[str, None], term: str) -> None:
    if term not in STOPWORDS:
        seen.setdefault(term, None)


def merge_terms(*groups: Iterable[str]) -> list[str]:
    """Terms of all groups in first-seen order, stripped, without blanks or duplicates.

    Example: merge_terms(["四强", "五权"], ["五权 ", "三会一课"]) == ["四强", "五权", "三会一课"]
    """
    seen: dict[str, None] = {}
    for group in groups:
        for term in group:
            term = term.strip()
            if term:
                seen.setdefault(term, None)
    return list(seen)


def write_user_dict(terms: Iterable[str], path: str | Path, freq: int = DEFAULT_FREQ) -> Path:
    """Write `terms` as a jieba user dictionary ("term freq" per line) and return the path."""
    path = Path(path)
    lines = []
    for term in merge_terms(terms):
        if any(c.isspace() for c in term):
            raise ValueError(f"user dictionary term {term!r} contains whitespace")
        lines.append(f"{term} {freq}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_user_dict(path: str | Path) -> list[str]:
    """The terms of a jieba user dictionary (frequency and tag columns dropped, `#` lines skipped)."""
    try:
        content = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read user dictionary {path}: {exc}") from exc
    terms = []
    for line in content.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        terms.append(line.split()[0])
    return merge_terms(terms)
