"""Parser for a magazine issue's text dump (天津支部生活 layout) into Issue and Articles.

Finds the table of contents (目录), matches each TOC entry to its title in the body tolerantly,
and cuts the body into the front editorial (卷首), the masthead (刊物信息), the short front
items (月读: 习语金句, 要闻 …) and the feature articles. Layout repair is `ingest.layout`'s job;
documents without a TOC go to `ingest.documents`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from zhibu_qa.ingest.issuemeta import issue_date, name_issue, publication_day
from zhibu_qa.ingest.layout import (
    Block,
    Line,
    block_paragraph,
    build_blocks,
    drop_noise,
    is_noise,
    split_lines,
)
from zhibu_qa.text import title_key
from zhibu_qa.types import Article, IngestReport, Issue, ParsedSource, Section

MAGAZINE_DEFAULT = "天津支部生活"
TOC_START_RE = re.compile(r"^目\s*录")
ISSUE_RE = re.compile(r"(上半月|下半月)?\s*(\d{4})\s*年\s*第\s*(\d+)\s*期\s*[·•]?\s*(?:总第\s*(\d+)\s*期)?")
# The 月读 pages of this magazine carry these recurring front columns (one item each).
FRONT_COLUMNS = ("习语金句", "解读", "要闻", "短评", "名词解释", "京津冀", "人物", "图片报道", "资讯", "时评")
MASTHEAD_TITLE = "刊物信息"
BYLINE_RE = re.compile(r"^(文|图|文图|文字)\s*[/／]|^(本刊记者|本刊通讯员|通讯员|记者|特约记者)\s")
CREDIT_RE = re.compile(r"^[（(](.+?)\s*供稿[）)]$")
ORG_SUFFIX_RE = re.compile(r"(党委|党工委|工作部|人才办|派出所|组织部|委员会|党组|支部|办公室|局|中心|学院|研究院)$")
ROLE_WORDS = {"本刊记者", "本刊通讯员", "通讯员", "记者", "特约记者", "文", "图", "/", "／"}
# Common surnames, used only to tell a trailing author name from the last word of a TOC title.
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "郜管岳常康申齐鲁葛牛柴安倪庞樊殷骆兰欧左温芦"
)
TITLE_MATCH_MIN = 0.72  # SequenceMatcher ratio on title keys; "兰台先锋" vs "三台先锋" style slips pass


@dataclass(frozen=True)
class TocEntry:
    title: str
    column: str | None
    authors: tuple[str, ...]
    line: int  # index into the non-blank lines


def looks_like_name(token: str) -> bool:
    """Example: looks_like_name("郜敏") and not looks_like_name("轻装前行")"""
    return 2 <= len(token) <= 3 and token[0] in SURNAMES and all("\u4e00" <= c <= "\u9fff" for c in token)


def looks_like_org(token: str) -> bool:
    """Example: looks_like_org("河东区委社会工作部")"""
    return len(token) >= 4 and bool(ORG_SUFFIX_RE.search(token))


def split_trailing_authors(text: str) -> tuple[str, tuple[str, ...]]:
    """Split "title 作者 作者" into the title and trailing author names or one organisation.

    Example: split_trailing_authors("我在农村当主播 张婉妮") == ("我在农村当主播", ("张婉妮",))
    """
    tokens = text.split()
    if len(tokens) >= 2 and looks_like_org(tokens[-1]):
        return " ".join(tokens[:-1]), (tokens[-1],)
    names: list[str] = []
    while len(tokens) > 1 and looks_like_name(tokens[-1]):
        names.insert(0, tokens.pop())
    return " ".join(tokens), tuple(names)


def is_author_line(text: str) -> bool:
    tokens = text.split()
    return bool(tokens) and (all(looks_like_name(t) for t in tokens) or (len(tokens) == 1 and looks_like_org(tokens[0])))


def authors_from_byline(text: str) -> tuple[str, ...]:
    """Names in a byline, without roles and positions.

    Example: authors_from_byline("文 / 武清区委常委、区委组织部部长 高进田") == ("高进田",)
    """
    text = re.sub(r"^(文|图|文图|文字)\s*[/／]\s*", "", text)
    out = []
    for tok in text.split():
        if tok in ROLE_WORDS:
            continue
        for role in ("本刊记者", "通讯员", "记者"):
            tok = tok.removeprefix(role)
        if tok and len(tok) <= 4 and "、" not in tok and not looks_like_org(tok) and not tok.endswith(("长", "任", "记", "员")):
            out.append(tok)
    return tuple(out)


def parse_toc(lines: list[Line], start: int, end: int) -> tuple[list[tuple[str, str | None, tuple[str, ...], int]], list[str]]:
    """Raw TOC rows (text, column, authors, line index) between two line indices, plus cover notes."""
    rows: list[tuple[str, str | None, tuple[str, ...], int]] = []
    notes: list[str] = []
    column: str | None = None
    for idx in range(start, end):
        text = lines[idx].text
        if text.startswith("■"):
            column = text.lstrip("■ ").strip()
            continue
        if text.startswith(("封面", "封底")):
            notes.append(text)
            continue
        if rows and is_author_line(text) and not rows[-1][2]:
            t, c, _, i = rows[-1]
            rows[-1] = (t, c, tuple(text.split()), i)
            continue
        title, authors = split_trailing_authors(text)
        rows.append((title, column, authors, idx))
    return rows, notes


def _candidates(lines: list[Line], lo: int, hi: int) -> list[tuple[int, int, str]]:
    """Body title candidates: single short lines and pairs of consecutive short lines."""
    out = []
    for i in range(lo, hi):
        if len(lines[i].text) > 40 or is_noise(lines[i].text):
            continue
        out.append((i, 1, title_key(lines[i].text)))
        if i + 1 < hi and len(lines[i + 1].text) <= 30 and lines[i + 1].blank_before <= 1:
            out.append((i, 2, title_key(lines[i].text + lines[i + 1].text)))
    return out


def _best_match(key: str, cands: list[tuple[int, int, str]], lo: int, hi: int) -> tuple[float, int, int]:
    best = (0.0, -1, 0)
    for i, width, ckey in cands:
        if i < lo or i >= hi or not ckey:
            continue
        ratio = 1.0 if ckey == key else SequenceMatcher(None, key, ckey, autojunk=False).ratio()
        if ratio > best[0] + 1e-9:
            best = (ratio, i, width)
    return best


def match_toc(rows, lines: list[Line], body_ranges: list[tuple[int, int]]):
    """Map TOC rows to body line positions in order; rows that match nothing are columns."""
    cands = [c for lo, hi in body_ranges for c in _candidates(lines, lo, hi)]
    # Merge consecutive author-less rows whose concatenation is one body title (卷首 style).
    merged = []
    for row in rows:
        if merged and not merged[-1][2] and merged[-1][1] == row[1]:
            joint = title_key(merged[-1][0] + row[0])
            if any(c[2] == joint for c in cands):
                prev = merged.pop()
                row = (prev[0] + " " + row[0], row[1], row[2], prev[3])
        merged.append(row)
    matches: list[tuple[tuple, int, int, float]] = []
    unmatched: list[tuple] = []
    pos = 0
    marked_column, override = None, None
    for row in merged:
        if row[1] != marked_column:  # a new ■ column resets a plain-line column
            marked_column, override = row[1], None
        ratio, at, width = _best_match(title_key(row[0]), cands, pos, len(lines))
        if ratio >= TITLE_MATCH_MIN:
            matches.append(((row[0], override or row[1], row[2], row[3]), at, width, ratio))
            pos = at + width
        else:
            unmatched.append(row)
            if not row[2] and len(row[0]) <= 8:  # a column name printed without ■
                override = row[0]
    return matches, unmatched


def _article_id(issue_id: str, title: str, taken: set[str]) -> str:
    base = f"{issue_id}-{hashlib.sha1(title_key(title).encode()).hexdigest()[:8]}"
    aid, k = base, 2
    while aid in taken:
        aid, k = f"{base}-{k}", k + 1
    taken.add(aid)
    return aid


def build_article(
    issue: Issue, aid: str, title: str, column: str | None, body: list[Line], *,
    kind: str = "feature", toc_authors: tuple[str, ...] = (), start: int, end: int,
) -> tuple[Article, list[Line], list[Line]]:
    """Bylines, credits, sections and paragraphs of one article's body lines."""
    authors: list[str] = []
    credit = None
    rest: list[Line] = []
    bylines: list[Line] = []
    credits: list[Line] = []
    for idx, ln in enumerate(body):
        if idx < 3 and BYLINE_RE.search(ln.text) and len(ln.text) <= 40:
            authors.extend(authors_from_byline(ln.text))
            bylines.append(ln)
            continue
        m = CREDIT_RE.match(ln.text)
        if m:
            credit = m.group(1).strip()
            credits.append(ln)
            continue
        rest.append(ln)
    # A lone "·专家观点" style kicker at the very end introduces the next article.
    dropped: list[Line] = []
    if rest and rest[-1].text.startswith("·") and len(rest[-1].text) <= 8:
        dropped.append(rest.pop())
    if not authors:
        authors = [credit] if credit else list(toc_authors)
    sections: list[Section] = []
    # bylines and credit lines stay readable (and quotable) as the lead's first/last paragraphs
    heading, heading_span = None, None
    paras = [block_paragraph(Block("paragraph", (ln,)), "byline") for ln in bylines]
    for block in build_blocks(rest):
        if block.kind == "heading" and kind in ("feature", "document") and not block.text.startswith("·"):
            if paras or heading is not None:
                sections.append(Section(heading, tuple(paras), heading_span))
            heading = block.text
            heading_span = (block.lines[0].start, block.lines[-1].end)
            paras = []
            continue
        paras.append(block_paragraph(block))
    paras += [block_paragraph(Block("paragraph", (ln,)), "credit") for ln in credits]
    if paras or heading is not None:
        sections.append(Section(heading, tuple(paras), heading_span))
    while sections and not sections[-1].paragraphs:
        sections.pop()
    article = Article(
        id=aid, issue_id=issue.id, title=title, column=column, authors=tuple(dict.fromkeys(authors)),
        sections=tuple(sections), char_start=start, char_end=end, kind=kind, source_credit=credit,
    )
    return article, bylines + credits + rest, dropped


def parse_issue_header(lines: list[Line]) -> tuple[str, int | None, int | None, str | None, int | None]:
    for i, ln in enumerate(lines):
        m = ISSUE_RE.search(ln.text)
        if m and m.group(4):
            name = MAGAZINE_DEFAULT
            if i and len(lines[i - 1].text) <= 12 and not ISSUE_RE.search(lines[i - 1].text):
                name = lines[i - 1].text
            return name, int(m.group(2)), int(m.group(3)), m.group(1), int(m.group(4))
    return MAGAZINE_DEFAULT, None, None, None, None


def make_issue(lines: list[Line], source_path: str, sha256: str) -> Issue:
    """The issue named by the masthead; the file name stands in for a masthead without one."""
    name, year, number, half, total = parse_issue_header(lines)
    if not (year and number) and (named := name_issue(source_path)) and named.number:
        year, number, half = named.year, named.number, named.half
    day = publication_day("\n".join(ln.text for ln in lines[:400]))
    if year and number:
        code = {"上半月": "a", "下半月": "b"}.get(half or "", "")
        issue_id = f"zbsh-{year}-{number:02d}{code}"
    else:
        issue_id = f"src-{sha256[:10]}"
    return Issue(issue_id, name, source_path, sha256, "magazine", year, number, half, total,
                 issue_date(year, number, half, day))


def has_toc(text: str) -> bool:
    return any(TOC_START_RE.match(ln.text) for ln in split_lines(text)[:200])


def parse_magazine(text: str, source_path: str, sha256: str, *, furniture: frozenset[str] = frozenset()) -> ParsedSource:
    """Parse an issue text dump with a 目录 into articles; see the module docstring.

    Example: parse_magazine(open(p).read(), p, sha).report.toc_unmatched == ()
    """
    all_lines = split_lines(text)
    lines, noise = drop_noise(all_lines)
    issue = make_issue(lines, source_path, sha256)  # a running header may be the only issue line: read it first
    if furniture:  # a PDF's page headers/footers (`pdf.running_lines`): never titles, headings or text
        lines, headers = drop_noise(lines, furniture)
        noise += headers
    toc_start = next(i for i, ln in enumerate(lines) if TOC_START_RE.match(ln.text))
    toc_end = next(
        (i for i in range(toc_start + 1, len(lines))
         if lines[i].text in ("声明", issue.magazine) or ISSUE_RE.search(lines[i].text) and "总第" in lines[i].text),
        len(lines),
    )
    rows, cover_notes = parse_toc(lines, toc_start + 1, toc_end)
    matches, unmatched = match_toc(rows, lines, [(0, toc_start), (toc_end, len(lines))])
    # Columns with no title of their own (月读·资讯) stand for the front items.
    front_start = next((i for i in range(toc_end, len(lines)) if lines[i].text in FRONT_COLUMNS), None)
    column_rows = [r for r in unmatched if not r[2] and len(r[0]) <= 8]
    true_unmatched = [r for r in unmatched if r not in column_rows]

    starts = sorted((at, width, row, ratio) for row, at, width, ratio in matches)
    body_starts = [s for s in starts if s[0] > toc_end]
    masthead_end = front_start if front_start is not None else (body_starts[0][0] if body_starts else len(lines))
    articles: list[Article] = []
    covered: set[int] = set()
    taken: set[str] = set()
    differences: list[tuple[str, str]] = []
    dropped_all: list[Line] = []

    def add(title, column, body_lines, kind, authors=(), head_lines=()):
        if not body_lines:
            return
        aid = _article_id(issue.id, title, taken)
        start = (head_lines[0] if head_lines else body_lines[0]).start
        end = body_lines[-1].end
        art, used, dropped = build_article(issue, aid, title, column, body_lines, kind=kind,
                                           toc_authors=authors, start=start, end=end)
        if art.sections:
            articles.append(art)
            covered.update(ln.number for ln in (*head_lines, *used))
        dropped_all.extend(dropped)

    # Editorial and feature articles: from each matched title to the next boundary.
    boundaries = sorted({s[0] for s in starts} | {toc_start, toc_end, masthead_end, len(lines)}
                        | ({front_start} if front_start is not None else set()))
    for at, width, row, _ratio in starts:
        head = lines[at:at + width]
        title = " ".join(ln.text for ln in head)
        nxt = min(b for b in boundaries if b > at)
        if title_key(title) != title_key(row[0]):
            differences.append((row[0], title))
        kind = "editorial" if at < toc_start else "feature"
        add(title, row[1], lines[at + width:nxt], kind, row[2], head)
    # Masthead, with the cover note from the TOC page.
    mast = lines[toc_end:masthead_end]
    cover = [ln for ln in lines[toc_start:toc_end] if ln.text in cover_notes]
    if mast:
        mast_lines = sorted(mast + cover, key=lambda ln: ln.start)  # keep source order for spans
        mast_article = _masthead_article(issue, _article_id(issue.id, MASTHEAD_TITLE, taken), mast_lines)
        articles.append(mast_article)
        covered.update(ln.number for ln in mast + cover)
    # Front items: each recurring column line opens one small article.
    if front_start is not None:
        first_feature = min((s[0] for s in body_starts if s[0] > front_start), default=len(lines))
        idx = front_start
        while idx < first_feature:
            column = lines[idx].text
            nxt = next((j for j in range(idx + 1, first_feature) if lines[j].text in FRONT_COLUMNS), first_feature)
            body = lines[idx + 1:nxt]
            title = column
            head = [lines[idx]]
            if body and len(body) > 1 and _is_front_headline(body[0].text):
                title, head, body = body[0].text, [lines[idx], body[0]], body[1:]
            add(title, column, body, "front", (), head)
            idx = nxt
    articles.sort(key=lambda a: a.char_start)

    content = [ln for i, ln in enumerate(lines) if not toc_start <= i < toc_end or ln.text in cover_notes]
    content_chars = sum(len(ln.text) for ln in content) - sum(len(ln.text) for ln in dropped_all)
    covered_chars = sum(len(ln.text) for ln in content if ln.number in covered)
    toc_total = len(matches) + len(true_unmatched) + (1 if any(r[0] for r in column_rows if not r[2]) and front_start else 0)
    report = IngestReport(
        articles=len(articles),
        sections=sum(len(a.sections) for a in articles),
        toc_entries=toc_total,
        toc_matched=toc_total - len(true_unmatched),
        toc_unmatched=tuple(r[0] for r in true_unmatched),
        toc_differences=tuple(differences),
        content_chars=content_chars,
        covered_chars=min(covered_chars, content_chars),
        noise_lines=tuple(f"{ln.number}: {ln.text}" for ln in noise + dropped_all),
        suspicious_joins=tuple(_suspicious_joins(articles)),
    )
    return ParsedSource(issue, text, tuple(articles), report)


def _is_front_headline(text: str) -> bool:
    """Example: _is_front_headline("2024年“最美医生”发布 天津市胸科医院姜楠医生当选！")"""
    return len(text) <= 60 and "。" not in text and not text.startswith(("——", "—"))


def _masthead_article(issue: Issue, aid: str, lines: list[Line]) -> Article:
    paras = tuple(block_paragraph(Block("paragraph", (ln,))) for ln in lines if ln.text != issue.magazine)
    return Article(
        id=aid, issue_id=issue.id, title=MASTHEAD_TITLE, column=MASTHEAD_TITLE, authors=(),
        sections=(Section(None, paras),), char_start=lines[0].start, char_end=max(ln.end for ln in lines),
        kind="masthead",
    )


def _suspicious_joins(articles: list[Article]) -> list[str]:
    """Joined paragraphs that still end mid-sentence or headings that look like fragments."""
    out = []
    for art in articles:
        for sec in art.sections:
            if sec.heading and len(sec.heading) > 30:
                out.append(f"{art.title} / long heading: {sec.heading}")
            for p in sec.paragraphs:
                if len(p.segments) > 2:
                    out.append(f"{art.title} / {len(p.segments)} lines joined: {p.text[:30]}…")
    return out
