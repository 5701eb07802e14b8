"""Article -> Chunks: section-aware splitting measured in cl100k tokens.

Uses langchain-text-splitters' RecursiveCharacterTextSplitter with Chinese separators. Chunks
never cross a section boundary, short sections stay whole, and every chunk keeps Segments back
to the source. Also builds the naive baseline (fixed 500-character windows over the raw file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

from zhibu_qa.text import concat_segments, count_tokens, slice_segments
from zhibu_qa.types import Article, Chunk, ChunkMeta, Issue, Segment

# Paragraph, line, sentence ends, then clause commas; "" as the last resort.
SEPARATORS = ("\n\n", "\n", "。", "！", "？", "；", "，", "、", "")


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_size: int = 256  # tokens
    chunk_overlap: int = 32  # tokens
    header: bool = True  # embed "title / section" before the text
    version: int = 2  # bump when the algorithm changes, so old indexes are rebuilt

    def as_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=8)
def _splitter(size: int, overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=size, chunk_overlap=overlap, length_function=count_tokens,
        separators=list(SEPARATORS), keep_separator="end", strip_whitespace=True,
    )


def chunk_id(article_id: str, section_index: int, text: str) -> str:
    """Content-hash id: the same text in the same place gets the same id across builds.

    Example: chunk_id("a", 0, "甲") == chunk_id("a", 0, "甲") != chunk_id("a", 1, "甲")
    """
    return hashlib.sha256(f"{article_id}\x1f{section_index}\x1f{text}".encode()).hexdigest()[:20]


def embed_header(article: Article, heading: str | None) -> str:
    """Title, column, section and authors, so "卷首" or an author's name finds the article.

    Example: embed_header(article, "党务公开的主体") == "准确把握党务公开的内容和范围 · 党务助手 · 党务公开的主体\\n"
    """
    parts = [article.title, article.column or "", heading or "", "、".join(article.authors)]
    return " · ".join(p for p in parts if p) + "\n"


def locate_pieces(text: str, pieces: Sequence[str]) -> list[tuple[int, int]]:
    """Offsets of splitter pieces in `text`, searched in order (pieces may overlap).

    Example: locate_pieces("甲乙丙丁", ["甲乙", "乙丙丁"]) == [(0, 2), (1, 4)]
    """
    out: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        at = text.find(piece, cursor)
        if at < 0:
            at = text.find(piece)
        if at < 0:
            continue  # cannot happen with strip-only splitting; skip rather than misplace
        out.append((at, at + len(piece)))
        cursor = at + 1
    return out


def chunk_article(article: Article, config: ChunkerConfig = ChunkerConfig()) -> list[Chunk]:
    """Split each section of an article into chunks of at most `chunk_size` tokens."""
    chunks: list[Chunk] = []
    for s_idx, section in enumerate(article.sections):
        paras = [(p.text, p.segments) for p in section.paragraphs if p.text.strip()]
        if not paras:
            continue
        text, segments = concat_segments(paras, sep="\n")
        if count_tokens(text) <= config.chunk_size:
            spans = [(0, len(text))]
        else:
            spans = locate_pieces(text, _splitter(config.chunk_size, config.chunk_overlap).split_text(text))
        header = embed_header(article, section.heading) if config.header else ""
        for start, end in spans:
            piece = text[start:end]
            segs = slice_segments(segments, start, end)
            if not segs:
                continue
            chunks.append(Chunk(
                id=chunk_id(article.id, s_idx, piece), article_id=article.id, issue_id=article.issue_id,
                section_index=s_idx, text=piece, embed_text=header + piece, segments=segs,
                n_tokens=count_tokens(piece),
            ))
    return chunks


def chunk_meta(article: Article, chunk: Chunk, issue: Issue | None) -> ChunkMeta:
    section = article.sections[chunk.section_index] if chunk.section_index < len(article.sections) else None
    return ChunkMeta(
        article_title=article.title, column=article.column, section=section.heading if section else None,
        authors=article.authors, issue=issue.label if issue else article.issue_id,
    )


def chunk_catalogue(articles: Iterable[Article], issues: dict[str, Issue],
                    config: ChunkerConfig = ChunkerConfig()) -> tuple[list[Chunk], list[ChunkMeta]]:
    chunks: list[Chunk] = []
    metas: list[ChunkMeta] = []
    for art in articles:
        for ch in chunk_article(art, config):
            chunks.append(ch)
            metas.append(chunk_meta(art, ch, issues.get(art.issue_id)))
    return chunks, metas


def section_at(article: Article, pos: int) -> str | None:
    """Heading of the section of `article` that holds source offset `pos` (None for the lead)."""
    heading = None
    for sec in article.sections:
        start = sec.heading_span[0] if sec.heading_span else min((p.char_start for p in sec.paragraphs), default=pos + 1)
        if start <= pos:
            heading = sec.heading
    return heading


def naive_chunks(text: str, issue: Issue, articles: Sequence[Article], size: int = 500) -> tuple[list[Chunk], list[ChunkMeta]]:
    """The common RAG-kit default: fixed windows of `size` characters over the raw file, no structure.

    Each window is labelled with the article covering its midpoint, for scoring only.
    """
    chunks: list[Chunk] = []
    metas: list[ChunkMeta] = []
    for start in range(0, len(text), size):
        piece = text[start:start + size]
        if not piece.strip():
            continue
        mid = start + len(piece) // 2
        # the article covering the midpoint, else the last one starting before it (TOC pages, gaps)
        art = next((a for a in articles if a.char_start <= mid < a.char_end), None) or max(
            (a for a in articles if a.char_start <= mid), key=lambda a: a.char_start, default=None)
        cid = hashlib.sha256(f"naive\x1f{issue.id}\x1f{start}\x1f{piece}".encode()).hexdigest()[:20]
        chunks.append(Chunk(cid, art.id if art else "", issue.id, 0, piece, piece,
                            (Segment(0, start, len(piece)),), count_tokens(piece)))
        metas.append(ChunkMeta(art.title if art else "", art.column if art else None,
                               section_at(art, mid) if art else None, art.authors if art else (), issue.label))
    return chunks, metas
