"""Layout repair for PDF text dumps: lines -> paragraphs, headings and captions.

Pure functions over `Line`s (text plus its offset in the source). They join lines broken
mid-sentence, join headings split over two lines, drop noise lines and keep captions apart.
They know nothing about tables of contents or articles; `ingest.magazine` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from zhibu_qa.types import Paragraph, Segment

# Lines the PDF dump carries that are not text of any article.
NOISE_RE = re.compile(
    r"^(扫码收听有声文章|扫码观看视频|扫码阅读|扫码收看视频|[.…·—\-_=~～*■□◆◇●○✎📖📍❏\s]+|\d{1,3}|<https?://[^>]*>)$"
)
# End-of-article marks and ornaments stripped from paragraph text (kept in the source).
TRAILING_MARKS = "✎■□📖📍❏◆●"
SENTENCE_END = "。！？!?；;…"
CLOSERS = "”’」』）)》"
OPENERS = "“‘「『（(《"
# A heading or title ending on one of these is a fragment of a sentence, not a heading.
FRAGMENT_END = set("的了在和与是把被对将给从向及等之其而并或着地得以于让使由也都还又很更最第")
INNER_PUNCT_RE = re.compile(r"[，,、；;：:]")
CJK_SPACE_RE = re.compile(r"[\u4e00-\u9fff”」』)）]\s+[\u4e00-\u9fff“「『(（]")
NUMBERED_HEADING_RE = re.compile(r"^([一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|第[一二三四五六七八九十百]+[章节部分])")
CAPTION_YEARS_RE = re.compile(r"[（(]\d{4}\s*[—\-–]\s*\d{4}[)）]$")
MAX_HEADING_CHARS = 40


@dataclass(frozen=True)
class Line:
    """One non-blank source line: stripped text, its source offset and layout context."""

    text: str
    start: int
    number: int  # 1-based line number in the source
    blank_before: int  # blank lines directly above

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with offsets of their stripped content.

    Example: [ln.text for ln in split_lines("a\\n\\n b ")] == ["a", "b"]
    """
    out: list[Line] = []
    blank = 0
    pos = 0
    for number, raw in enumerate(text.split("\n"), 1):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            out.append(Line(stripped, pos + lead, number, blank))
            blank = 0
        else:
            blank += 1
        pos += len(raw) + 1
    return out


def furniture_key(text: str) -> str:
    """A line as page furniture is compared: whitespace dropped, digit runs as "#" (page numbers vary).

    Example: furniture_key(" 天津支部生活  2024年第9期 · 12 ") == "天津支部生活#年第#期·#"
    """
    return re.sub(r"\d+", "#", "".join(text.split()))


def is_noise(text: str) -> bool:
    """Example: is_noise("扫码收听有声文章") and is_noise("……………") and not is_noise("党建")"""
    return bool(NOISE_RE.match(text.strip()))


def core(text: str) -> str:
    """Text without trailing ornaments such as ✎ or ■.

    Example: core("善作善成。✎") == "善作善成。"
    """
    return text.rstrip().rstrip(TRAILING_MARKS).rstrip()


def ends_sentence(text: str) -> bool:
    """True when a line ends a sentence (or opens a list with —— or ：).

    Example: ends_sentence("好。”") and not ends_sentence("街道启动了“吹哨报")
    """
    t = core(text)
    if not t:
        return True
    if t.endswith(("——", "：", ":")):
        return True
    while t and t[-1] in CLOSERS:
        t = t[:-1]
        if t and t[-1] in SENTENCE_END:
            return True
    return bool(t) and t[-1] in SENTENCE_END


def quotes_balanced(text: str) -> bool:
    """Example: quotes_balanced("“哨声”连着民生") and not quotes_balanced("启动了“吹哨报")"""
    return text.count("“") == text.count("”") and text.count("「") == text.count("」")


def is_two_part(text: str) -> bool:
    """A heading already complete in itself: two phrases split by a space or parallel clauses.

    Example: is_two_part("多方助力 让大伙合力干") and not is_two_part("用好考核“指挥棒”")
    """
    return bool(CJK_SPACE_RE.search(text)) or _parallel_clauses(text)


def _parallel_clauses(text: str) -> bool:
    """Example: _parallel_clauses("健全工作体系，推进三级联动，筑牢行业党建支撑")"""
    sizes = [len(p.strip()) for p in INNER_PUNCT_RE.split(text) if p.strip()]
    return len(sizes) >= 2 and min(sizes) >= 3 and max(sizes) <= 14 and max(sizes) <= 2 * min(sizes)


def looks_like_heading(text: str) -> bool:
    """Short, unpunctuated at the end, balanced quotes, not ending on a function word.

    Example: looks_like_heading("持续“松绑” 让干部有空干") and not looks_like_heading("对此，街道启动了“吹哨报")
    """
    t = core(text)
    if not t or len(t) > MAX_HEADING_CHARS or ends_sentence(t) or not quotes_balanced(t):
        return False
    if any(c in t for c in "。！？!?"):
        return False
    if t[-1] in FRAGMENT_END or t[0] in "（(":
        return False
    if NUMBERED_HEADING_RE.match(t):
        return True
    if INNER_PUNCT_RE.search(t):
        if CJK_SPACE_RE.search(t):
            return all(len(p) >= 3 for p in re.split(r"[，,、；;：:\s]+", t) if p)
        return _parallel_clauses(t)
    return True


def is_caption(line: Line) -> bool:
    """Photo captions sit alone after an image gap (2+ blank lines) and read as a description.

    Example: is_caption(Line("李季达(1900—1927)", 0, 1, 3))
    """
    t = core(line.text)
    if CAPTION_YEARS_RE.search(t) and len(t) <= 30:
        return True
    if line.blank_before < 2 or ends_sentence(t) or len(t) < 10 or len(t) > 60:
        return False
    return not CJK_SPACE_RE.search(t)


def is_open(text: str, after_complete_heading: bool = False) -> bool:
    """Whether a line is a paragraph fragment that continues on the next line.

    Example: is_open("对此，街道启动了“吹哨报") and not is_open("灵活用人干劲足")
    """
    t = core(text)
    if ends_sentence(t):
        return False
    if after_complete_heading:
        return True
    return not looks_like_heading(t)


@dataclass(frozen=True)
class Block:
    """Lines forming one paragraph, heading or caption after repair."""

    kind: str  # "paragraph" | "heading" | "caption"
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return join_texts([core(ln.text) if i == len(self.lines) - 1 else ln.text
                           for i, ln in enumerate(self.lines)], self.kind)


def join_texts(parts: Sequence[str], kind: str = "paragraph") -> str:
    """Join line texts: headings with a space, paragraph fragments directly.

    Example: join_texts(["对此，街道启动了“吹哨报", "到”机制"]) == "对此，街道启动了“吹哨报到”机制"
    """
    return (" " if kind == "heading" else "").join(parts)


def build_blocks(lines: Sequence[Line]) -> list[Block]:
    """Group an article's body lines into paragraphs, headings and captions.

    Rules, in order: a fragment (no sentence end, not heading-like) pulls in the next line; a
    caption stands alone; a one-part heading followed by a heading-like line is one heading split
    over two lines; a heading-like line right after a complete heading starts a paragraph.
    """
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        prev = blocks[-1] if blocks else None
        after_heading = prev is not None and prev.kind == "heading"
        after_complete = after_heading and (len(prev.lines) > 1 or is_two_part(prev.text))
        if is_caption(line) and not after_complete:
            blocks.append(Block("caption", (line,)))
            i += 1
            continue
        if looks_like_heading(line.text) and not after_complete:
            if (after_heading and len(prev.lines) == 1 and not is_two_part(prev.text)
                    and len(prev.text) + len(line.text) <= MAX_HEADING_CHARS):
                blocks[-1] = Block("heading", (*prev.lines, line))
            else:
                blocks.append(Block("heading", (line,)))
            i += 1
            continue
        group = [line]
        open_ = is_open(line.text, after_complete)
        while open_ and i + 1 < n:
            i += 1
            group.append(lines[i])
            open_ = is_open(lines[i].text)
        blocks.append(Block("paragraph", tuple(group)))
        i += 1
    return blocks


def block_paragraph(block: Block, kind: str | None = None) -> Paragraph:
    """A Paragraph whose segments map each joined piece back to its source line.

    Example: block_paragraph(Block("paragraph", (Line("甲", 5, 1, 0),))).segments == (Segment(0, 5, 1),)
    """
    segments: list[Segment] = []
    parts: list[str] = []
    offset = 0
    sep = " " if block.kind == "heading" else ""
    for idx, ln in enumerate(block.lines):
        piece = core(ln.text) if idx == len(block.lines) - 1 else ln.text
        if idx and sep:
            parts.append(sep)
            offset += len(sep)
        segments.append(Segment(offset, ln.start, len(piece)))
        parts.append(piece)
        offset += len(piece)
    return Paragraph("".join(parts), tuple(segments), kind or ("caption" if block.kind == "caption" else "text"))


def drop_noise(lines: Iterable[Line], furniture: frozenset[str] = frozenset()) -> tuple[list[Line], list[Line]]:
    """Split lines into (kept, noise); noise includes lines whose `furniture_key` is in `furniture`
    (a PDF's running header and footer, `ingest.pdf.running_lines`)."""
    kept: list[Line] = []
    noise: list[Line] = []
    for ln in lines:
        (noise if is_noise(ln.text) or (furniture and furniture_key(ln.text) in furniture) else kept).append(ln)
    return kept, noise
