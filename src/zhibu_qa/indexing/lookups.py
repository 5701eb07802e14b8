"""What the indexed knowledge base holds, for checks that need no search: whether it mentions a
term at all, whether one article does, which chunk follows another, where each section starts,
and the naive baseline index.

Functions over a loaded index (texts NFKC-normalised and lower-cased); `Pipeline` caches them.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from zhibu_qa.errors import IndexMismatchError, IndexMissingError
from zhibu_qa.indexing.chunking import naive_chunks
from zhibu_qa.types import Hit

NAIVE_DIR = "naive"


def fold(text: str) -> str:
    """Example: fold("ＡＢ区") == "ab区" """
    return unicodedata.normalize("NFKC", text).lower()


def corpus_blob(index) -> str:
    """All indexed text with titles, columns, sections and authors, for "does it mention X" checks."""
    parts = [c.text for c in index.chunks] + sorted(
        {x for m in index.metas for x in (m.article_title, m.column or "", m.section or "", *m.authors)})
    return fold("\n".join(parts))


def article_blobs(index) -> dict[str, str]:
    """Each article's indexed text with its title and section headings."""
    parts: dict[str, list[str]] = {}
    for c, m in zip(index.chunks, index.metas, strict=True):
        parts.setdefault(c.article_id, [m.article_title]).extend((m.section or "", c.text))
    return {a: fold("\n".join(p)) for a, p in parts.items()}


def next_rows(index) -> dict[str, int]:
    """Chunk id -> row of the next chunk of the same article section (chunks are stored in order)."""
    chunks = index.chunks
    return {c.id: i + 1 for i, c in enumerate(chunks[:-1])
            if chunks[i + 1].article_id == c.article_id and chunks[i + 1].section_index == c.section_index}


class Layout:
    """Where chunks sit in their articles: the next chunk of a section, each section's first chunk,
    and the column names (built once per loaded index)."""

    def __init__(self, index):
        self.index = index
        self._next = next_rows(index)
        self._starts = section_starts(index)
        self.columns = tuple(sorted({m.column for m in index.metas if m.column}))

    def neighbour(self, hit: Hit) -> Hit | None:
        """The chunk after a hit's chunk in its article section, as a Hit (for reading on)."""
        row = self._next.get(hit.chunk.id)
        return None if row is None else Hit(self.index.chunks[row], self.index.metas[row], 0.0, hit.rank)

    def sections_of(self, article_id: str) -> list[Hit]:
        """The first chunk of each section of an article, in order, as Hits."""
        return [Hit(self.index.chunks[r], self.index.metas[r], 0.0, 0) for r in self._starts.get(article_id, [])]


def section_starts(index) -> dict[str, list[int]]:
    """Article id -> the row of each section's first chunk, in section order."""
    out: dict[str, dict[int, int]] = {}
    for row, c in enumerate(index.chunks):
        out.setdefault(c.article_id, {}).setdefault(c.section_index, row)
    return {a: [rows[i] for i in sorted(rows)] for a, rows in out.items()}


def naive_index(catalogue, sources: dict[str, str], index_dir: Path, embedder):
    """The baseline: fixed 500-character windows of the raw files, built once under index_dir/naive."""
    from zhibu_qa.indexing.store import build_index, load_index

    chunks, metas = [], []
    for src in catalogue.sources:
        arts = [a for a in catalogue.articles if a.issue_id == src.issue.id]
        c, m = naive_chunks(sources[src.issue.id], src.issue, arts)
        chunks += c
        metas += m
    naive_dir = Path(index_dir) / NAIVE_DIR
    config = {"naive_chars": 500, "sections": 1}
    wanted = {s.path: s.sha256 for s in catalogue.sources}
    try:
        idx = load_index(naive_dir, model_id=embedder.model_id, chunker=config)
        if len(idx) != len(chunks) or idx.manifest.sources != wanted:
            raise IndexMismatchError("naive index out of date")
    except (IndexMissingError, IndexMismatchError):
        build_index(naive_dir, chunks, metas, embedder, chunker=config, sources=wanted)
        idx = load_index(naive_dir, model_id=embedder.model_id, chunker=config)
    return idx
