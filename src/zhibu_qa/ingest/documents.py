"""Parse a standalone document (Markdown, plain text, PDF text) into typed Articles.

Owns: the generic structure of documents without a magazine table of contents: the title and
byline, regulations (第X章 chapters as articles when long, 第X条 as sections), headings
(Markdown #, 一、, （一）, 第X部分, short standalone lines), and paragraphs joined from broken
lines with `Segment`s mapping every character back to the source text.
Leaves out: magazine issues (`ingest.magazine`), decoding (`ingest.decode`), PDFs (`ingest.pdf`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest.layout import furniture_key
from zhibu_qa.text import CLOSERS, concat_segments, title_key
from zhibu_qa.types import Article, Issue, Paragraph, Section, Segment

_NUM = "一二三四五六七八九十百千零〇两0-9０-９"
_CHAPTER_RE = re.compile(rf"第[{_NUM}]+章(?=\s|$)")
_PART_RE = re.compile(rf"第[{_NUM}]+节(?=\s|$)")
_STATUTE_RE = re.compile(rf"第[{_NUM}]+条(?=\s|$)")
_ENUM_RE = re.compile(r"[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)]|第[一二三四五六七八九十]+部分")
_MD_HEADING_RE = re.compile(r"(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_LIST_RE = re.compile(r"[-*+•][ \t]|\d{1,3}[.．)、](?!\d)|[（(]\d{1,3}[）)]|[①-⑳]|>|\|")
_NOISE_RE = re.compile(r"[-—–\s]*\d{1,4}[-—–\s]*|第\s*\d+\s*页|(?:[-*_]\s*){3,}|```.*")
_BYLINE_RE = re.compile(r"(?:作\s*者|撰\s*文|文)\s*[：:/／|｜]\s*(\S.*)")
_CREDIT_RE = re.compile(r"[（(]\s*(\S.{0,38}?)\s*供稿\s*[）)]")
_PREAMBLES = ("总纲", "序言", "前言", "引言", "导言", "序")
_TERMINAL = "。！？!?；;…：:"  # a line ending in one of these (then closers) ends a paragraph
_NO_HEADING_INSIDE = "。；;"  # a heading never holds these
_NO_HEADING_END = "，,、：:；;"  # ... nor ends with these
MAX_HEADING_CHARS = 30  # standalone heading lines of Chinese articles are short
MAX_ENUM_HEADING_CHARS = 40  # "一、……" headings may be a little longer
MAX_RUN_IN_HEADING_CHARS = 25  # "一、加强组织建设。要……" -> heading + paragraph
MAX_TITLE_CHARS = 60
SHORT_LINE_SHARE = 0.6  # a line shorter than this share of the wrap width ends its paragraph
BLANK_SEPARATED_SHARE = 0.15  # blank gaps per content line above which blank lines mark paragraphs
CHAPTER_ARTICLES_MIN_CHARS = 3000  # shorter regulations stay one article


@dataclass(frozen=True)
class _Line:
    start: int  # the stripped line is text[start:end]; blank when start == end
    end: int
    indented: bool


@dataclass(frozen=True)
class _Layout:
    width: float  # typical (90th percentile) line length: the wrap width of broken lines
    blank_separated: bool  # blank lines separate paragraphs, so lines of a block always join


def parse_document(text: str, issue: Issue, *, title: str | None = None,
                   furniture: frozenset[str] = frozenset()) -> tuple[Article, ...]:
    """Parse a non-magazine document into Articles (one, or one per chapter of a long regulation).

    Lines whose `layout.furniture_key` is in `furniture` (a PDF's running header) are left out
    entirely: never a title, heading or paragraph.

    Raises IngestError when the text holds no body paragraphs.
    Example: parse_document("标题\\n\\n一、要求\\n正文。", issue)[0].headings == ("一、要求",)
    """
    lines = _scan_lines(text)
    dropped = {i for i, ln in enumerate(lines) if furniture and furniture_key(_s(text, ln)) in furniture}
    content = [i for i, ln in enumerate(lines) if ln.end > ln.start and i not in dropped]
    if not content:
        raise IngestError(f"document {issue.source_path or issue.id} is empty")
    detected, title_span, skip, authors = _front_matter(text, lines, content, title)
    credit = _CREDIT_RE.fullmatch(_s(text, lines[content[-1]]))
    if credit and len(content) > 1:  # "（某某区委组织部供稿）" closing an article
        skip.add(content[-1])
    doc = _Doc(issue, title or detected or issue.magazine or _s(text, lines[content[0]])[:30],
               authors, credit.group(1) if credit else None, title_span)
    body = [i for i in range(len(lines)) if not _is_noise(text, lines[i]) and i not in dropped]
    articles = _articles(text, lines, [i for i in body if i not in skip], doc)
    if not articles and skip:  # only a title and its repetitions: keep them as the body
        articles = _articles(text, lines, body, doc)
    if not articles:
        raise IngestError(f"document {issue.source_path or issue.id} has no body text, only headings")
    return tuple(articles)


@dataclass(frozen=True)
class _Doc:
    issue: Issue
    title: str
    authors: tuple[str, ...]
    credit: str | None
    title_span: tuple[int, int] | None


def _articles(text: str, lines: list[_Line], body: list[int], doc: _Doc) -> list[Article]:
    layout = _layout(text, lines, body)
    statutes = sum(1 for i in body if _STATUTE_RE.match(_s(text, lines[i]))) >= 2
    chapters = [i for i in body if _is_chapter(text, lines[i])]
    n_chars = sum(lines[i].end - lines[i].start for i in body)
    if len(chapters) < 2 or n_chars < CHAPTER_ARTICLES_MIN_CHARS:
        sections = _sections(text, lines, body, layout, statutes)
        return [_article(doc, doc.title, None, sections, doc.title_span)] if sections else []
    book = doc.title if doc.title.startswith("《") and doc.title.endswith("》") else f"《{doc.title}》"
    articles = []
    sections = _sections(text, lines, [i for i in body if i < chapters[0]], layout, statutes)
    if sections:
        first = next((s.heading for s in sections if s.heading), None)
        name = f"{book} {first}" if first in _PREAMBLES else book
        articles.append(_article(doc, name, doc.title, sections, doc.title_span))
    for k, ch in enumerate(chapters):
        stop = chapters[k + 1] if k + 1 < len(chapters) else len(lines)
        sections = _sections(text, lines, [i for i in body if ch < i < stop], layout, statutes)
        if sections:
            name = f"{book} {_squash(_s(text, lines[ch]))}"
            articles.append(_article(doc, name, doc.title, sections, (lines[ch].start, lines[ch].end)))
    return articles


def join_lines(text: str, spans: list[tuple[int, int]]) -> Paragraph:
    """One paragraph from source line spans: CJK lines join directly, Latin words with a space.

    Example: join_lines("共产\\n党员", [(0, 2), (3, 5)]).text == "共产党员"
    """
    parts: list[tuple[str, tuple[Segment, ...]]] = []
    for start, end in spans:
        if parts and _needs_space(parts[-1][0][-1], text[start]):
            parts.append((" ", ()))  # a synthetic joiner, mapped to no source character
        parts.append((text[start:end], (Segment(0, start, end - start),)))
    joined, segments = concat_segments(parts, sep="")
    return Paragraph(joined, segments)


def _scan_lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in text.split("\n"):
        start, end = pos, pos + len(raw)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        indent = text[pos:start]
        out.append(_Line(start, end, len(indent) >= 2 or "\u3000" in indent))
        pos += len(raw) + 1
    return out


def _s(text: str, line: _Line) -> str:
    return text[line.start:line.end]


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _is_noise(text: str, line: _Line) -> bool:
    return line.end > line.start and _NOISE_RE.fullmatch(_s(text, line)) is not None


def _is_chapter(text: str, line: _Line) -> bool:
    body = _s(text, line)
    return len(body) <= MAX_ENUM_HEADING_CHARS and _CHAPTER_RE.match(body) is not None


def _heading_shaped(body: str) -> bool:
    if any(c in body for c in _NO_HEADING_INSIDE) or body[-1] in _NO_HEADING_END:
        return False
    # a line broken inside a quotation or bracket is the start of a paragraph, not a heading
    return all(body.count(a) == body.count(b) for a, b in ("“”", "（）", "()", "《》"))


def _front_matter(text: str, lines: list[_Line], content: list[int], title: str | None):
    """(detected title, its span, line indices to skip, authors) from the top of the document."""
    first = lines[content[0]]
    body = _s(text, first)
    md = _MD_HEADING_RE.fullmatch(body)
    detected = span = None
    skip: set[int] = set()
    if md and len(md.group(1)) == 1 and md.group(2):
        detected, span = md.group(2), (first.start + md.start(2), first.start + md.end(2))
    elif len(content) > 1 and _title_like(body):
        detected, span = body, (first.start, first.end)
    if detected is None:
        return None, None, skip, ()
    skip.add(content[0])
    keys = {title_key(detected), title_key(title or detected)}
    authors: tuple[str, ...] = ()
    for i in content[1:5]:
        line_text = _s(text, lines[i])
        byline = _BYLINE_RE.fullmatch(line_text)
        if title_key(line_text) in keys and _title_like(line_text):
            skip.add(i)
        elif byline and len(line_text) <= MAX_ENUM_HEADING_CHARS and not authors:
            authors = tuple(n for n in re.split(r"[\s、，,；;]+", byline.group(1)) if n)
            skip.add(i)
    return detected, span, skip, authors


def _title_like(body: str) -> bool:
    if len(body) > MAX_TITLE_CHARS or not _heading_shaped(body) or not title_key(body):
        return False
    return not any(r.match(body) for r in (_STATUTE_RE, _CHAPTER_RE, _ENUM_RE, _LIST_RE, _BYLINE_RE))


def _layout(text: str, lines: list[_Line], body: list[int]) -> _Layout:
    lengths = sorted(lines[i].end - lines[i].start for i in body if lines[i].end > lines[i].start)
    width = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    filled = [lines[i].end > lines[i].start for i in body]
    # blank runs between two content lines (leading and trailing blank lines do not count)
    gaps = sum(1 for a, b in zip(filled, filled[1:], strict=False) if not a and b)
    gaps -= bool(filled) and not filled[0]
    return _Layout(float(width), bool(lengths) and gaps / len(lengths) >= BLANK_SEPARATED_SHARE)


def _sections(text: str, lines: list[_Line], idxs: list[int], layout: _Layout,
              statutes: bool) -> list[Section]:
    """Classify the lines of one region into headings and paragraphs, then group them."""
    filled = [lines[i].end > lines[i].start for i in idxs]
    last_filled = max((k for k, f in enumerate(filled) if f), default=-1)
    # statute mode (第X条 sections, no guessed headings) from the first 条 or 章 line on;
    # a preamble before it is parsed like any other document
    statute_marks = [k for k, i in enumerate(idxs) if _STATUTE_RE.match(_s(text, lines[i]))]
    statute_from = len(idxs)
    if statutes and statute_marks:
        chapter_marks = [k for k, i in enumerate(idxs) if _is_chapter(text, lines[i])]
        statute_from = min(statute_marks[:1] + chapter_marks[:1])
    builder = _SectionBuilder(text, layout)
    for k, i in enumerate(idxs):
        line = lines[i]
        if not filled[k]:
            builder.end_paragraph()
        elif k >= statute_from:
            _statute_line(builder, text, line)
        else:
            next_adjacent = k + 1 < len(idxs) and filled[k + 1]
            _generic_line(builder, text, line, k < last_filled, next_adjacent, layout)
    return builder.finish()


def _statute_line(builder: _SectionBuilder, text: str, line: _Line) -> None:
    body = _s(text, line)
    mark = _STATUTE_RE.match(body)
    md = _MD_HEADING_RE.fullmatch(body)
    if md:
        if md.group(2):
            builder.heading(line.start + md.start(2), line.start + md.end(2))
    elif mark:
        builder.heading(line.start, line.start + mark.end())
        rest = line.start + mark.end()
        while rest < line.end and text[rest].isspace():
            rest += 1
        if rest < line.end:
            builder.line(rest, line.end, new=True)
    elif _is_chapter(text, line) or (_PART_RE.match(body) and len(body) <= MAX_ENUM_HEADING_CHARS):
        builder.heading(line.start, line.end)
    else:
        builder.line(line.start, line.end, new=_starts_paragraph(body, line))


def _generic_line(builder: _SectionBuilder, text: str, line: _Line, has_next: bool,
                  next_adjacent: bool, layout: _Layout) -> None:
    body, start = _s(text, line), line.start
    md = _MD_HEADING_RE.fullmatch(body)
    if md:
        if md.group(2):
            builder.heading(start + md.start(2), start + md.end(2))
        return
    if (_is_chapter(text, line) or _PART_RE.match(body)) and len(body) <= MAX_ENUM_HEADING_CHARS:
        builder.heading(start, line.end)
        return
    if _ENUM_RE.match(body):
        core = body.rstrip("。")
        if core and len(core) <= MAX_ENUM_HEADING_CHARS and _heading_shaped(core):
            builder.heading(start, start + len(core))
            return
        cut = min((body.find(c) for c in "。！？" if c in body), default=-1)
        if 0 < cut <= MAX_RUN_IN_HEADING_CHARS and body[cut + 1:].strip():
            builder.heading(start, start + cut)
            rest = start + cut + 1
            while text[rest].isspace():
                rest += 1
            builder.line(rest, line.end, new=True)
            return
    elif has_next and builder.after_break and _standalone_heading(body, next_adjacent, layout):
        builder.heading(start, line.end)
        return
    builder.line(start, line.end, new=_starts_paragraph(body, line))


def _standalone_heading(body: str, next_adjacent: bool, layout: _Layout) -> bool:
    """A short line shaped like a heading; when text follows on the very next line it must
    also be clearly shorter than the wrap width (else it is the first line of a paragraph)."""
    if len(body) > MAX_HEADING_CHARS or not _heading_shaped(body) or not title_key(body):
        return False
    if _LIST_RE.match(body) or body.startswith("——") or (body[0] in "（(" and body[-1] in "）)"):
        return False  # list items, quote attributions and bracketed notes such as dates
    return not next_adjacent or len(body) < SHORT_LINE_SHARE * layout.width


def _starts_paragraph(body: str, line: _Line) -> bool:
    return line.indented or _LIST_RE.match(body) is not None or _ENUM_RE.match(body) is not None


def _needs_space(before: str, after: str) -> bool:
    return before.isascii() and after.isascii() and before.isalnum() and after.isalnum()


class _SectionBuilder:
    """Collects headings and paragraph lines of one region; a heading without text of its
    own is carried into the next heading's label (e.g. "一、总体要求 （一）指导思想")."""

    def __init__(self, text: str, layout: _Layout):
        self.text, self.layout = text, layout
        self.sections: list[Section] = []
        self.label: str | None = None
        self.span: tuple[int, int] | None = None
        self.paragraphs: list[Paragraph] = []
        self.current: list[tuple[int, int]] = []
        self.after_break = True  # no paragraph is open, so a standalone heading may follow

    def heading(self, start: int, end: int) -> None:
        self.end_paragraph()
        label = _squash(self.text[start:end])
        if self.paragraphs or self.label is None:
            self._flush_section()
            self.label = label
        else:
            self.label = f"{self.label} {label}"
        self.span = (start, end)

    def line(self, start: int, end: int, *, new: bool) -> None:
        if self.current and (new or not self._continues(*self.current[-1])):
            self.end_paragraph()
        self.current.append((start, end))
        self.after_break = self._ends(start, end)

    def end_paragraph(self) -> None:
        if self.current:
            self.paragraphs.append(join_lines(self.text, self.current))
            self.current = []
        self.after_break = True

    def finish(self) -> list[Section]:
        self.end_paragraph()
        self._flush_section()
        return self.sections

    def _continues(self, start: int, end: int) -> bool:
        """Does a paragraph whose last line is text[start:end] go on in the next line?"""
        return self.layout.blank_separated or not self._ends(start, end)

    def _ends(self, start: int, end: int) -> bool:
        """Does the line text[start:end] look like the end of a paragraph by itself?"""
        last = self.text[start:end].rstrip(CLOSERS)
        if not last or last[-1] in _TERMINAL:
            return True
        return not self.layout.blank_separated and end - start < SHORT_LINE_SHARE * self.layout.width

    def _flush_section(self) -> None:
        if self.paragraphs:
            self.sections.append(Section(self.label, tuple(self.paragraphs), self.span))
        self.label, self.span, self.paragraphs = None, None, []


def _article(doc: _Doc, title: str, column: str | None, sections: list[Section],
             extra_span: tuple[int, int] | None) -> Article:
    spans = [extra_span] if extra_span is not None else []
    spans += [sec.heading_span for sec in sections if sec.heading_span is not None]
    spans += [(p.char_start, p.char_end) for sec in sections for p in sec.paragraphs]
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    digest = hashlib.sha256(f"{title}\x00{start}".encode()).hexdigest()[:10]
    return Article(
        id=f"{doc.issue.id}-{digest}", issue_id=doc.issue.id, title=title, column=column,
        authors=doc.authors, sections=tuple(sections), char_start=start, char_end=end,
        kind="document", source_credit=doc.credit,
    )
