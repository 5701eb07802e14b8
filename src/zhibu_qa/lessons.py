"""Topic -> lesson outline for trainers: key points with verbatim quotes, related articles, questions.

Retrieves widely for the topic, keeps the passages that are about it, and takes points round-robin
over the articles ranked by relevance, so a topic several articles treat is taught from several
of them. Quotes are whole source sentences (exact spans, cited like answers) shown without PDF
noise (`lesson_quotes`); discussion questions come from fixed templates filled with the quotes'
own words. A topic few passages treat gets a warning. Exports Markdown here and .docx in
`lesson_docx`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from zhibu_qa.answer.analysis import check_question
from zhibu_qa.answer.citing import make_citation
from zhibu_qa.answer.features import candidates, coverage, question_terms, term_weights
from zhibu_qa.answer.timeref import time_note
from zhibu_qa.errors import InputError, ZhibuError
from zhibu_qa.lesson_quotes import QuoteCleaner, is_prose
from zhibu_qa.markup import neutralise_md
from zhibu_qa.types import Citation, Filters, Hit

MAX_POINTS = 6
MAX_TOPIC_CHARS = 100  # the 备课 tab's text box limit
MIN_QUOTE_CHARS = 12  # shorter sentences are captions or exclamations, not teaching material
# Fewer on-topic passages than this and the topic counts as barely covered: on the shipped issue,
# topics its articles treat have 13+ among the top 40 hits, topics it only mentions 1-4.
MIN_COVERED_PASSAGES = 5
LOW_COVERAGE_WARNING = "知识库中与该主题相关的内容较少"
RELEVANT_COVERAGE = 0.5  # share of the topic's term weight a passage (with its headings) must contain
QUOTE_COVERAGE = 0.9  # a quote (with its headings) must name all but the lightest words of the topic
QUOTES_PER_POINT = 2
# Discussion prompts; only the quoted words and titles change (no invented content).
QUESTION_TEMPLATES = (
    "《{title}》提到“{quote}”。结合本支部实际，我们可以怎样借鉴这一做法？",
    "围绕“{heading}”，文中的经验对推进“{topic}”有什么启示？",
    "对照“{quote}”，我们在“{topic}”方面还存在哪些差距，应如何改进？",
    "比较《{title}》和《{title2}》的做法，各有什么特点？",
    "学习“{topic}”相关内容后，每名党员可以从哪些具体小事做起？",
)


@dataclass(frozen=True)
class LessonQuote:
    """A quoted sentence: its citation (the exact source span) and the text a reader sees."""

    citation: Citation
    text: str


@dataclass(frozen=True)
class LessonPoint:
    title: str
    quotes: tuple[LessonQuote, ...]


@dataclass(frozen=True)
class Lesson:
    topic: str
    points: tuple[LessonPoint, ...]
    related: tuple[str, ...]
    questions: tuple[str, ...]
    date: str = ""  # e.g. "2024年9月16日", when the outline was made
    sources: tuple[str, ...] = ()  # issue labels the quotes come from
    n_articles: int = 0  # articles quoted
    warning: str = ""  # set when the knowledge base barely covers the topic

    @property
    def info_line(self) -> str:
        """The title-page line: topic, date and sources."""
        parts = [f"主题：{self.topic}"]
        if self.date:
            parts.append(f"日期：{self.date}")
        if self.sources:
            parts.append(f"来源：{'、'.join(self.sources)}（引用 {self.n_articles} 篇文章）")
        return "　".join(parts)


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip("，,、；;") + "…"


def _header(h: Hit) -> str:
    return " ".join((h.meta.article_title, h.meta.column or "", h.meta.section or ""))


def group_hits(hits: list[Hit]) -> list[list[Hit]]:
    """Hits grouped by (article, section), groups in the rank order of their best hit."""
    groups: dict[tuple[str, int], list[Hit]] = {}
    for h in hits:
        groups.setdefault((h.chunk.article_id, h.chunk.section_index), []).append(h)
    return list(groups.values())


def round_robin(groups: list[tuple[int, list[Hit]]], limit: int) -> list[tuple[int, list[Hit]]]:
    """Up to `limit` numbered groups taken in turn from each article (articles in order of their
    best group), so every relevant article speaks before any speaks twice.

    Example: groups of articles A, A, B (in rank order) come back as A, B, A.
    """
    per_article: dict[str, list[tuple[int, list[Hit]]]] = {}
    for g in groups:
        per_article.setdefault(g[1][0].chunk.article_id, []).append(g)
    queues = list(per_article.values())
    out: list[tuple[int, list[Hit]]] = []
    depth = 0
    while len(out) < limit and any(depth < len(q) for q in queues):
        out += [q[depth] for q in queues if depth < len(q)][:limit - len(out)]
        depth += 1
    return out


def low_coverage_warning(relevant: list[Hit]) -> str:
    """The warning for a topic with few on-topic passages ("" when it is well covered)."""
    if len(relevant) >= MIN_COVERED_PASSAGES:
        return ""
    n_articles = len({h.chunk.article_id for h in relevant})
    return (f"{LOW_COVERAGE_WARNING}（只找到 {len(relevant)} 段相关内容，来自 {n_articles} 篇文章），"
            "以下提纲仅供参考，建议补充其他学习材料。")


def check_topic(topic: str) -> str:
    """The normalised topic; empty or over-long topics get a lesson-specific InputError."""
    try:
        return check_question(topic, MAX_TOPIC_CHARS).strip("？?。 ")
    except InputError:
        if not (topic or "").strip("？?。!！ \t\n"):
            raise InputError("备课主题为空：请输入要备课的主题，例如“党员教育”。") from None
        raise InputError(f"备课主题过长（{len(topic)} 字），请控制在 {MAX_TOPIC_CHARS} 字以内。") from None


def build_lesson(pipeline, topic: str, *, k: int = 40, filters: Filters = Filters(),
                 today: dt.date | None = None) -> Lesson:
    """Outline for `topic` from the knowledge base (only the issues, columns or articles `filters`
    allow); raises InputError when nothing relevant exists."""
    topic = check_topic(topic)
    weights = term_weights(question_terms(topic))
    hits = pipeline.retriever().retrieve(topic, k, filters)
    # keep passages that are about the topic (its words in the text or the headings)
    relevant = [h for h in hits if coverage(_header(h) + "\n" + h.chunk.text, weights) >= RELEVANT_COVERAGE]
    if not relevant:
        raise InputError(f"知识库中没有与“{topic}”相关的内容。")
    cleaners = {i: QuoteCleaner(pipeline.source_for(i)) for i in dict.fromkeys(h.chunk.issue_id for h in relevant)}
    groups = group_hits(relevant)
    # strict first; a topic whose words no sentence names together (a long or noisy topic) falls
    # back to the passages' own bar rather than to an empty outline
    for bar in (QUOTE_COVERAGE, RELEVANT_COVERAGE):
        points = _points(groups, weights, cleaners, bar)
        if points:
            break
    ordered = _numbered([p for _, p in sorted(points, key=lambda t: _article_rank(groups, t[0]))])
    used = {q.citation.article_title for p in ordered for q in p.quotes}
    related = tuple(dict.fromkeys(h.meta.article_title for h in relevant if h.meta.article_title not in used))[:5]
    today = today or dt.date.today()
    return Lesson(topic, tuple(ordered), related, tuple(discussion_questions(topic, ordered)),
                  date=f"{today.year}年{today.month}月{today.day}日",
                  sources=tuple(dict.fromkeys(q.citation.issue for p in ordered for q in p.quotes)),
                  n_articles=len(used), warning=low_coverage_warning(relevant))


def _points(groups: list[list[Hit]], weights: dict[str, float], cleaners: dict[str, QuoteCleaner],
            bar: float) -> list[tuple[int, LessonPoint]]:
    """Up to MAX_POINTS (group number, point), groups taken round-robin over the articles."""
    taken: list[tuple[str, int, int]] = []  # (issue, start, end) of quotes already used
    points: list[tuple[int, LessonPoint]] = []
    for index, group in round_robin(list(enumerate(groups)), len(groups)):
        if len(points) == MAX_POINTS:
            break
        quotes = _point_quotes(group, weights, cleaners[group[0].chunk.issue_id], taken, bar)
        if quotes:
            meta = group[0].meta
            title = f"{meta.section}（《{meta.article_title}》）" if meta.section else meta.article_title
            points.append((index, LessonPoint(title, tuple(quotes))))
    return points


def _article_rank(groups: list[list[Hit]], index: int) -> tuple[int, int]:
    """Sort key keeping an article's points together, articles in order of relevance."""
    firsts = list(dict.fromkeys(g[0].chunk.article_id for g in groups))
    return firsts.index(groups[index][0].chunk.article_id), index


def _point_quotes(group: list[Hit], weights: dict[str, float], cleaner: QuoteCleaner,
                  taken: list[tuple[str, int, int]], bar: float = QUOTE_COVERAGE) -> list[LessonQuote]:
    """Up to QUOTES_PER_POINT whole, clean, on-topic sentences of a group not quoted before: the
    sentence, read under its headings, names (nearly) all of the topic's words."""
    scored = []
    for c in candidates(group):
        hit = group[c.hit_index]
        if coverage(_header(hit) + "\n" + c.text, weights) < bar:
            continue  # a passing mention of one word of the topic
        on_topic = coverage(c.text, weights)
        cit = make_citation(0, hit, c.start, c.end, cleaner.source)
        span = cleaner.sentence_span(cit.char_start, cit.char_end, cut=c.end == len(hit.chunk.text))
        if span is None:
            continue
        quote = cleaner.source[span[0]:span[1]]
        text = cleaner.clean(quote)
        if len(text) < MIN_QUOTE_CHARS or not is_prose(text):
            continue
        if span != (cit.char_start, cit.char_end):  # extended past a page break: its own time note
            cit = replace(cit, char_start=span[0], char_end=span[1], quote=quote,
                          time_note=time_note(quote, hit.meta.issue_date))
        # clean before flawed, then the most on-topic, then rank order
        scored.append(((cleaner.flaws(*span), -on_topic, c.hit_index, c.start), cit, text))
    out: list[LessonQuote] = []
    for _, cit, text in sorted(scored, key=lambda t: t[0]):
        if len(out) == QUOTES_PER_POINT:
            break
        if any(i == cit.issue and s < cit.char_end and cit.char_start < e for i, s, e in taken):
            continue  # the same sentence again (chunks overlap) or one overlapping it
        taken.append((cit.issue, cit.char_start, cit.char_end))
        out.append(LessonQuote(cit, text))
    return out


def _numbered(points: list[LessonPoint]) -> list[LessonPoint]:
    """Points with their quotes numbered 1.. in reading order."""
    n = 0
    out = []
    for p in points:
        quotes = []
        for q in p.quotes:
            n += 1
            quotes.append(replace(q, citation=replace(q.citation, n=n)))
        out.append(replace(p, quotes=tuple(quotes)))
    return out


def discussion_questions(topic: str, points: list[LessonPoint]) -> list[str]:
    """3-5 questions from the templates, filled with the points' titles, headings and quotes."""
    if not points:
        return []
    first = points[0].quotes[0]
    out = [QUESTION_TEMPLATES[0].format(title=first.citation.article_title, quote=_short(first.text))]
    with_heading = next((q.citation for p in points for q in p.quotes if q.citation.section), None)
    if with_heading:
        out.append(QUESTION_TEMPLATES[1].format(heading=with_heading.section, topic=topic))
    last = points[-1].quotes[0]
    out.append(QUESTION_TEMPLATES[2].format(quote=_short(last.text), topic=topic))
    titles = list(dict.fromkeys(q.citation.article_title for p in points for q in p.quotes))
    if len(titles) >= 2:
        out.append(QUESTION_TEMPLATES[3].format(title=titles[0], title2=titles[1]))
    out.append(QUESTION_TEMPLATES[4].format(topic=topic))
    return out[:5]


def cite_line(c: Citation) -> str:
    """Where a quote comes from. Example: "《题》 · 栏目 · 小节 · 作者 · 天津支部生活 2024年第9期" """
    parts = [f"《{c.article_title}》", c.column or "", c.section or "", "、".join(c.authors), c.issue]
    return " · ".join(p for p in parts if p)


def lesson_markdown(lesson: Lesson) -> str:
    """The outline as Markdown; every source- or user-derived string is neutralised (`markup.neutralise_md`)
    so a hostile title, heading or topic cannot become live HTML, a link or an image where it is rendered."""
    md = neutralise_md
    lines = [f"# 备课提纲：{md(lesson.topic)}", "", md(lesson.info_line), ""]
    if lesson.warning:
        lines += [f"> ⚠ {md(lesson.warning)}", ""]
    lines += ["> 以下引文均摘自知识库原文，可逐条核对出处。", ""]
    for i, point in enumerate(lesson.points, 1):
        lines.append(f"## {i}. {md(point.title)}")
        for q in point.quotes:
            lines.append(f"- “{md(q.text)}” [{q.citation.n}]")
            lines.append(f"  - 出处：{md(cite_line(q.citation))}")
            if q.citation.time_note:  # "今年" in a quote means the year of its issue
                lines.append(f"  - 时间：{md(q.citation.time_note)}")
        lines.append("")
    if lesson.related:
        lines.append("## 延伸阅读")
        lines += [f"- 《{md(t)}》" for t in lesson.related]
        lines.append("")
    lines.append("## 讨论题")
    lines += [f"{i}. {md(q)}" for i, q in enumerate(lesson.questions, 1)]
    return "\n".join(lines) + "\n"


def check_out_path(path: Path) -> None:
    """An output file name the lesson can be written to: .md/.docx in an existing folder."""
    if path.suffix.lower() not in (".md", ".markdown", ".txt", ".docx"):
        raise ZhibuError(f"cannot write {path}: use a .md or .docx file name")
    if not path.parent.is_dir():
        raise ZhibuError(f"cannot write {path}: folder {path.parent} does not exist")


def write_lesson(lesson: Lesson, path: Path) -> None:
    """Write Markdown (.md) or Word (.docx) atomically into an existing folder; other suffixes are refused."""
    from zhibu_qa.ingest.catalogue import atomic_write_text

    check_out_path(path)
    if path.suffix.lower() == ".docx":
        from zhibu_qa.lesson_docx import write_docx

        write_docx(lesson, path)
    else:
        atomic_write_text(path, lesson_markdown(lesson))
