"""Topic -> lesson outline for trainers: key points with verbatim quotes, related articles, questions.

Retrieves widely for the topic, groups passages by article section, picks the sentences that
best match the topic as quotes (exact source spans, cited like answers) and writes discussion
questions from fixed templates filled with the quotes' own words. Exports Markdown and .docx.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .answer.analysis import check_question
from .answer.citing import make_citation
from .answer.features import candidates, coverage, question_terms, term_weights
from .errors import InputError, ZhibuError
from .markup import neutralise_md
from .types import Citation, Filters, Hit

MAX_POINTS = 6
MAX_TOPIC_CHARS = 100  # the 备课 tab's text box limit
MAX_PER_ARTICLE = 2
MAX_POINTS_ON_TOPIC = 4  # for an article whose title names the topic
RELEVANT_COVERAGE = 0.5  # share of the topic's term weight a passage (with its headings) must contain
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
class LessonPoint:
    title: str
    quotes: tuple[Citation, ...]


@dataclass(frozen=True)
class Lesson:
    topic: str
    points: tuple[LessonPoint, ...]
    related: tuple[str, ...]
    questions: tuple[str, ...]


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip("，,、；;") + "…"


def _header(h: Hit) -> str:
    return " ".join((h.meta.article_title, h.meta.column or "", h.meta.section or ""))


def group_hits(hits: list[Hit], weights: dict[str, float]) -> list[list[Hit]]:
    """Hits grouped by (article, section) in rank order. An article whose title names the topic
    may give up to MAX_POINTS_ON_TOPIC points; others at most MAX_PER_ARTICLE, so several
    articles speak.
    """
    groups: dict[tuple[str, int], list[Hit]] = {}
    per_article: dict[str, int] = {}
    for h in hits:
        key = (h.chunk.article_id, h.chunk.section_index)
        if key not in groups:
            cap = MAX_POINTS_ON_TOPIC if coverage(h.meta.article_title, weights) >= 0.5 else MAX_PER_ARTICLE
            if per_article.get(key[0], 0) >= cap:
                continue
            per_article[key[0]] = per_article.get(key[0], 0) + 1
            groups[key] = []
        groups[key].append(h)
    return list(groups.values())


def check_topic(topic: str) -> str:
    """The normalised topic; empty or over-long topics get a lesson-specific InputError."""
    try:
        return check_question(topic, MAX_TOPIC_CHARS).strip("？?。 ")
    except InputError:
        if not (topic or "").strip("？?。!！ \t\n"):
            raise InputError("备课主题为空：请输入要备课的主题，例如“党员教育”。") from None
        raise InputError(f"备课主题过长（{len(topic)} 字），请控制在 {MAX_TOPIC_CHARS} 字以内。") from None


def build_lesson(pipeline, topic: str, *, k: int = 40, filters: Filters = Filters()) -> Lesson:
    """Outline for `topic` from the knowledge base (only the issues, columns or articles `filters`
    allow); raises InputError when nothing relevant exists."""
    topic = check_topic(topic)
    weights = term_weights(question_terms(topic))
    hits = pipeline.retriever().retrieve(topic, k, filters)
    # keep passages that are about the topic (its words in the text or the headings)
    relevant = [h for h in hits if coverage(_header(h) + "\n" + h.chunk.text, weights) >= RELEVANT_COVERAGE]
    if not relevant:
        raise InputError(f"知识库中没有与“{topic}”相关的内容。")
    points: list[LessonPoint] = []
    n = 0
    for group in group_hits(relevant, weights)[:MAX_POINTS]:
        cands = [c for c in candidates(group) if len(c.text) >= 12]
        on_topic = sorted(cands, key=lambda c: (-coverage(c.text, weights), c.hit_index))
        quotes = []
        for c in on_topic[:QUOTES_PER_POINT]:
            n += 1
            hit = group[c.hit_index]
            quotes.append(make_citation(n, hit, c.start, c.end, pipeline.source_for(hit.chunk.issue_id)))
        if quotes:
            meta = group[0].meta
            title = meta.section or meta.article_title
            points.append(LessonPoint(f"{title}（《{meta.article_title}》）" if meta.section else title, tuple(quotes)))
    used = {q.article_title for p in points for q in p.quotes}
    related = tuple(dict.fromkeys(h.meta.article_title for h in relevant if h.meta.article_title not in used))[:5]
    return Lesson(topic, tuple(points), related, tuple(discussion_questions(topic, points)))


def discussion_questions(topic: str, points: list[LessonPoint]) -> list[str]:
    """3-5 questions from the templates, filled with the points' titles, headings and quotes."""
    if not points:
        return []
    first = points[0].quotes[0]
    out = [QUESTION_TEMPLATES[0].format(title=first.article_title, quote=_short(first.quote))]
    with_heading = next((q for p in points for q in p.quotes if q.section), None)
    if with_heading:
        out.append(QUESTION_TEMPLATES[1].format(heading=with_heading.section, topic=topic))
    last = points[-1].quotes[0]
    out.append(QUESTION_TEMPLATES[2].format(quote=_short(last.quote), topic=topic))
    titles = list(dict.fromkeys(q.article_title for p in points for q in p.quotes))
    if len(titles) >= 2:
        out.append(QUESTION_TEMPLATES[3].format(title=titles[0], title2=titles[1]))
    out.append(QUESTION_TEMPLATES[4].format(topic=topic))
    return out[:5]


def _cite(c: Citation) -> str:
    parts = [f"《{c.article_title}》", c.column or "", c.section or "", "、".join(c.authors), c.issue]
    return " · ".join(p for p in parts if p)


def lesson_markdown(lesson: Lesson) -> str:
    """The outline as Markdown; every source- or user-derived string is neutralised (`markup.neutralise_md`)
    so a hostile title, heading or topic cannot become live HTML, a link or an image where it is rendered."""
    md = neutralise_md
    lines = [f"# 备课提纲：{md(lesson.topic)}", "", "> 以下引文均摘自知识库原文，可逐条核对出处。", ""]
    for i, point in enumerate(lesson.points, 1):
        lines.append(f"## {i}. {md(point.title)}")
        for q in point.quotes:
            lines.append(f"- “{md(''.join(q.quote.split()))}” [{q.n}]")
            lines.append(f"  - 出处：{md(_cite(q))}")
            if q.time_note:  # "今年" in a quote means the year of its issue
                lines.append(f"  - 时间：{md(q.time_note)}")
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
    from .catalogue import atomic_write_text

    check_out_path(path)
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown", ".txt"):
        atomic_write_text(path, lesson_markdown(lesson))
        return
    import os
    import tempfile

    from docx import Document

    doc = Document()
    doc.add_heading(f"备课提纲：{lesson.topic}", level=0)
    for i, point in enumerate(lesson.points, 1):
        doc.add_heading(f"{i}. {point.title}", level=1)
        for q in point.quotes:
            doc.add_paragraph(f"“{''.join(q.quote.split())}” [{q.n}]", style="List Bullet")
            doc.add_paragraph(f"出处：{_cite(q)}")
    if lesson.related:
        doc.add_heading("延伸阅读", level=1)
        for t in lesson.related:
            doc.add_paragraph(f"《{t}》", style="List Bullet")
    doc.add_heading("讨论题", level=1)
    for q in lesson.questions:
        doc.add_paragraph(q, style="List Number")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".docx")
    os.close(fd)
    try:
        doc.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
