"""Lesson quotes without PDF noise: page headers and footers, page numbers, broken joins, stray symbols.

A quote stays an exact source span (its citation); what a trainer reads is `QuoteCleaner.clean` of
it: lines that are page furniture dropped, the remaining lines joined back, ornaments removed.
The cleaner learns an issue's running headers and footers from its own source text (short lines
repeated on many pages, digits ignored), tells whole sentences from fragments cut at a chunk or
page boundary, and extends a sentence cut by a page break to its real end. It leaves the choice
of quotes to `lessons`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from zhibu_qa.ingest.layout import CLOSERS, SENTENCE_END, ends_sentence, is_noise, is_open, quotes_balanced

RUNNING_MIN_REPEATS = 3  # a header/footer is on 3+ pages; a title repeats only twice (contents + body)
RUNNING_MAX_CHARS = 40  # longer lines are text, not page furniture
MAX_EXTEND_CHARS = 200  # how far past a page break a cut sentence may continue
# "12", "- 12 -", "·12·", "第12页", "12/48", "| 12": page numbers in the forms PDF dumps carry.
PAGE_NUMBER_RE = re.compile(r"^[\s\-—–·•|]*(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*[/／]\s*\d{1,4})?[\s\-—–·•|]*$")
# Ornaments and glyph debris: Unicode blocks of arrows, box drawing, geometric shapes, miscellaneous
# symbols, dingbats and pictographs, private-use code points and the replacement character.
STRAY_RE = re.compile(
    "[\u2190-\u21ff\u2500-\u27bf\u2b00-\u2bff\ue000-\uf8ff\ufffd\U0001f000-\U0001faff]"
)
MAX_UNPUNCTUATED = 45  # Chinese prose punctuates every 10-30 characters; longer runs are lists or mastheads
# A lower-case Latin word set apart between Chinese characters ("问题 and 为"): conversion debris,
# unlike acronyms (AI, CEO), units after digits or Latin inside a word (村BA).
STRAY_LATIN_RE = re.compile(r"[\u4e00-\u9fff]\s+[a-z]{2,}\s+[\u4e00-\u9fff]")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_CLAUSE_PUNCT = "，,、；;：:"


def line_key(line: str) -> str:
    """A line with its digits masked, so "天津支部生活 23" and "天津支部生活 24" are one header.

    Example: line_key(" 天津支部生活  2024年第9期 ") == "天津支部生活 #年第#期"
    """
    return re.sub(r"\d+", "#", " ".join(line.split()))


def _joined(parts: list[str]) -> str:
    """Join pieces; a space survives only between two ASCII letters or digits.

    Example: _joined(["铁小东 AI", "语音 助手"]) == "铁小东AI语音助手"
    """
    out = ""
    for part in parts:
        for piece in part.split():
            if out and _ASCII_WORD.match(out[-1]) and _ASCII_WORD.match(piece[0]):
                out += " "
            out += piece
    return out


def is_prose(text: str) -> bool:
    """Punctuated like running text (not a list of names or a masthead glued into one "sentence").

    Example: is_prose("基层是国家治理的最末端，也是服务群众的最前沿。") and not is_prose("定价8元" + "印刷北京某公司" * 8)
    """
    run = 0
    for ch in text:
        run = 0 if unicodedata.category(ch)[0] in "PZ" else run + 1
        if run > MAX_UNPUNCTUATED:
            return False
    return True


class QuoteCleaner:
    """Page furniture of one source text, and the clean reading of quotes from it."""

    def __init__(self, source: str):
        self.source = source
        counts = Counter(line_key(ln) for ln in source.split("\n")
                         if 0 < len(ln.strip()) <= RUNNING_MAX_CHARS and not any(c in ln for c in SENTENCE_END))
        self.running = frozenset(k for k, n in counts.items() if n >= RUNNING_MIN_REPEATS)

    def is_page_break(self, line: str) -> bool:
        """A page number or a running header/footer: a page ended here."""
        line = line.strip()
        return bool(line) and (bool(PAGE_NUMBER_RE.match(line)) or line_key(line) in self.running)

    def is_furniture(self, line: str) -> bool:
        """A page break line or a known noise line (`ingest.layout.is_noise`: "扫码收听有声文章", ornaments)."""
        return self.is_page_break(line) or is_noise(line.strip())

    def clean(self, quote: str) -> str:
        """What a reader sees: furniture lines dropped, lines re-joined, stray symbols removed.

        Example: QuoteCleaner("").clean("社区党群服务中\\n\\n12\\n心里，正在录制✎") == "社区党群服务中心里，正在录制"
        """
        lines = [STRAY_RE.sub("", ln) for ln in quote.split("\n") if not self.is_furniture(ln)]
        return _joined([ln for ln in lines if ln.strip()])

    def flaws(self, start: int, end: int) -> int:
        """How many signs of noise the quote at source [start, end) shows (0 = clean): quotation
        marks opened or closed outside it, Latin debris between Chinese words, being the tail of
        a quotation just closed (an attribution such as "……”他说。").

        Example: QuoteCleaner("“好。”问题 and 工作推进中。”").flaws(4, 18) == 3
        """
        quote = self.source[start:end]
        k, _ = self._back(start)
        after_quotation = k > 0 and self.source[k - 1] in "”」』"
        return (not quotes_balanced(self.clean(quote))) + bool(STRAY_LATIN_RE.search(quote)) + after_quotation

    def _back(self, pos: int) -> tuple[int, bool]:
        """Position after the last text before `pos`, skipping blanks and furniture lines; and
        whether a page break was among them."""
        crossed = False
        while True:
            k = pos
            while k > 0 and self.source[k - 1].isspace():
                k -= 1
            line_start = self.source.rfind("\n", 0, k) + 1
            line = self.source[line_start:k]
            if k > 0 and "\n" in self.source[k:pos] and self.is_furniture(line):
                pos, crossed = line_start, crossed or self.is_page_break(line)
                continue
            return k, crossed

    def starts_sentence(self, start: int) -> bool:
        """Whether source offset `start` begins a sentence (not the tail of one cut at a chunk or page).

        Example: QuoteCleaner("甲。乙").starts_sentence(2) and not QuoteCleaner("甲，乙").starts_sentence(2)
        """
        k, crossed = self._back(start)
        if k == 0:
            return True
        prev = self.source[k - 1]
        if prev in SENTENCE_END or prev in CLOSERS:
            return True
        if crossed or prev in _CLAUSE_PUNCT:
            return False
        return "\n" in self.source[k:start]  # a paragraph or heading ends there

    def _forward(self, pos: int) -> tuple[int, bool]:
        """Start of the next text after `pos`, skipping blanks and furniture lines; and whether a
        page break was among them."""
        crossed = False
        n = len(self.source)
        while True:
            k = pos
            while k < n and self.source[k].isspace():
                k += 1
            line_end = self.source.find("\n", k)
            line_end = n if line_end < 0 else line_end
            line = self.source[k:line_end]
            if k < n and "\n" in self.source[pos:k] and self.is_furniture(line):
                pos, crossed = line_end, crossed or self.is_page_break(line)
                continue
            return k, crossed

    def sentence_span(self, start: int, end: int, *, cut: bool = False) -> tuple[int, int] | None:
        """The source span of the whole sentence quoted at [start, end), or None for a fragment.

        A quote that does not end a sentence is extended to the sentence's end when a page break
        follows it, or when `cut` says the chunk ended there; otherwise it is a fragment
        (a heading, a caption). Example: with `text = "下一步，" + "街" * 40 + "问\\n3\\n题。"`,
        QuoteCleaner(text).sentence_span(0, text.index("\\n")) == (0, len(text))
        """
        if not self.starts_sentence(start):
            return None
        if ends_sentence(self.clean(self.source[start:end])):
            return start, end
        if not is_open(self.clean(self.source[start:end])):
            return None  # a heading, byline or caption: complete in itself
        k, crossed = self._forward(end)
        if not (crossed or cut) or k >= len(self.source):
            return None
        stop = min(len(self.source), k + MAX_EXTEND_CHARS)
        for i in range(k, stop):
            if self.source[i] in SENTENCE_END:
                j = i + 1
                while j < len(self.source) and (self.source[j] in SENTENCE_END or self.source[j] in CLOSERS):
                    j += 1
                return start, j
        return None
