"""Typed, frozen values passed between the pipeline stages.

Data flows one way: source file -> Issue/Article/Section/Paragraph -> Chunk -> Hit -> Answer.
Text that came from a source keeps `Segment`s mapping its characters back to exact offsets in
the source text, so every quote can be checked against the file. No behaviour lives here beyond
small derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ArticleKind = Literal["editorial", "front", "masthead", "feature", "document"]
QuestionType = Literal[
    "factoid", "number", "list", "explain", "compare", "unanswerable", "adversarial", "followup"
]
QUESTION_TYPES: tuple[str, ...] = (
    "factoid", "number", "list", "explain", "compare", "unanswerable", "adversarial", "followup",
)
RefusalKind = Literal["not_covered", "partial"]


@dataclass(frozen=True)
class Segment:
    """`length` characters of a text starting at `text_start` equal source[source_start:+length]."""

    text_start: int
    source_start: int
    length: int


def _span_start(segments: tuple[Segment, ...]) -> int:
    return segments[0].source_start


def _span_end(segments: tuple[Segment, ...]) -> int:
    return segments[-1].source_start + segments[-1].length


@dataclass(frozen=True)
class Paragraph:
    """A repaired paragraph (broken lines joined); `kind` is "text" or "caption"."""

    text: str
    segments: tuple[Segment, ...]
    kind: str = "text"

    char_start = property(lambda self: _span_start(self.segments))
    char_end = property(lambda self: _span_end(self.segments))


@dataclass(frozen=True)
class Section:
    """A heading (None for an article's lead) and the paragraphs under it."""

    heading: str | None
    paragraphs: tuple[Paragraph, ...]
    heading_span: tuple[int, int] | None = None

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


@dataclass(frozen=True)
class Issue:
    """One ingested source: a magazine issue or a standalone document."""

    id: str
    magazine: str
    source_path: str
    sha256: str
    kind: Literal["magazine", "document"] = "magazine"
    year: int | None = None
    number: int | None = None
    half: str | None = None  # "上半月" / "下半月"
    total_number: int | None = None
    date: str | None = None  # publication date, ISO "2024-09-15" (from the masthead or the file name)

    @property
    def label(self) -> str:
        if self.year and self.number:
            half = f"（{self.half}）" if self.half else ""
            return f"{self.magazine} {self.year}年第{self.number}期{half}"
        return self.magazine


@dataclass(frozen=True)
class Article:
    id: str
    issue_id: str
    title: str
    column: str | None
    authors: tuple[str, ...]
    sections: tuple[Section, ...]
    char_start: int
    char_end: int
    kind: ArticleKind = "feature"
    source_credit: str | None = None  # e.g. "河东区委社会工作部" from "（… 供稿）"

    @property
    def lead(self) -> str:
        first = self.sections[0] if self.sections else None
        return first.text if first is not None and first.heading is None else ""

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(s.heading for s in self.sections if s.heading)

    @property
    def n_chars(self) -> int:
        return sum(len(p.text) for s in self.sections for p in s.paragraphs)


@dataclass(frozen=True)
class ParsedSource:
    """Everything ingest produces for one source file."""

    issue: Issue
    text: str  # the decoded source text all offsets refer to
    articles: tuple[Article, ...]
    report: IngestReport


@dataclass(frozen=True)
class IngestReport:
    articles: int
    sections: int
    toc_entries: int = 0
    toc_matched: int = 0
    toc_unmatched: tuple[str, ...] = ()
    toc_differences: tuple[tuple[str, str], ...] = ()  # (toc title, body title)
    content_chars: int = 0  # non-noise characters of the source
    covered_chars: int = 0  # of those, characters inside some article
    noise_lines: tuple[str, ...] = ()
    suspicious_joins: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def coverage(self) -> float:
        return self.covered_chars / self.content_chars if self.content_chars else 1.0


@dataclass(frozen=True)
class Chunk:
    id: str  # content hash
    article_id: str
    issue_id: str
    section_index: int
    text: str  # what users see and what quotes come from
    embed_text: str  # text with a context header (title + section), what gets embedded
    segments: tuple[Segment, ...]
    n_tokens: int

    char_start = property(lambda self: _span_start(self.segments))
    char_end = property(lambda self: _span_end(self.segments))


@dataclass(frozen=True)
class ChunkMeta:
    """Article facts a hit needs for display and citation, denormalised at index time."""

    article_title: str
    column: str | None
    section: str | None
    authors: tuple[str, ...]
    issue: str  # issue label
    issue_date: str = ""  # the issue's publication date (ISO), empty when unknown


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    meta: ChunkMeta
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class Filters:
    issue_ids: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.issue_ids or self.columns or self.article_ids)


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    article_id: str
    article_title: str
    column: str | None
    section: str | None
    authors: tuple[str, ...]
    issue: str
    quote: str  # exactly source_text[char_start:char_end]
    char_start: int
    char_end: int
    issue_id: str = ""
    issue_date: str = ""  # ISO publication date of the cited issue, empty when unknown
    time_note: str = ""  # what relative times in the quote ("今年", "近日") mean, given the issue date


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citations: tuple[int, ...]
    support: float  # 0..1, how much of the sentence its cited passages contain
    supported: bool = True


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    refusal_kind: RefusalKind | None
    citations: tuple[Citation, ...]
    sentences: tuple[AnswerSentence, ...]
    hits: tuple[Hit, ...]
    backend: str
    latency_ms: float = 0.0
    notices: tuple[str, ...] = ()
    search_query: str = ""  # the query actually searched (after follow-up rewrite)
    suggestions: tuple[str, ...] = field(default=())  # closest article titles, for refusals


@dataclass(frozen=True)
class EvalCase:
    id: str
    question: str
    type: str
    answerable: bool
    gold_article: tuple[str, ...]  # empty when unanswerable
    gold_section: tuple[str | None, ...]  # () when unknown; (None,) = the lead
    evidence: tuple[str, ...]
    answer: str
    key_facts: tuple[str, ...]
    history: tuple[Turn, ...] = ()
    line: int = 0
