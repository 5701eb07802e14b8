"""The corpus catalogue on disk: which sources are ingested and the articles parsed from them.

`index/catalogue.json` holds issues and articles (with sections, paragraphs and source
segments); `index/sources/<sha256>.txt` holds each source's decoded text, which all offsets refer
to. Writes are atomic (temp file + os.replace). Chunks and vectors are `store`'s job.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import IndexMissingError, IngestError
from .types import Article, Issue, Paragraph, ParsedSource, Section, Segment

CATALOGUE_FILE = "catalogue.json"
SOURCES_DIR = "sources"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SourceRecord:
    path: str
    sha256: str
    issue: Issue
    n_articles: int
    ingested_at: str


@dataclass(frozen=True)
class Catalogue:
    sources: tuple[SourceRecord, ...]
    articles: tuple[Article, ...]

    @property
    def issues(self) -> dict[str, Issue]:
        return {s.issue.id: s.issue for s in self.sources}

    def article(self, article_id: str) -> Article:
        for art in self.articles:
            if art.id == article_id:
                return art
        raise KeyError(article_id)

    def by_sha(self, sha256: str) -> SourceRecord | None:
        return next((s for s in self.sources if s.sha256 == sha256), None)


@dataclass(frozen=True)
class IngestChange:
    path: str
    action: str  # "added" | "replaced" | "unchanged"
    issue_id: str
    n_articles: int
    note: str = ""


# --- (de)serialisation -------------------------------------------------------------------------

def _para_to_dict(p: Paragraph) -> dict:
    return {"text": p.text, "kind": p.kind, "seg": [[s.text_start, s.source_start, s.length] for s in p.segments]}


def _para_from_dict(d: dict) -> Paragraph:
    return Paragraph(d["text"], tuple(Segment(*s) for s in d["seg"]), d.get("kind", "text"))


def article_to_dict(a: Article) -> dict:
    return {
        "id": a.id, "issue_id": a.issue_id, "title": a.title, "column": a.column, "authors": list(a.authors),
        "char_start": a.char_start, "char_end": a.char_end, "kind": a.kind, "source_credit": a.source_credit,
        "sections": [
            {"heading": s.heading, "heading_span": list(s.heading_span) if s.heading_span else None,
             "paragraphs": [_para_to_dict(p) for p in s.paragraphs]}
            for s in a.sections
        ],
    }


def article_from_dict(d: dict) -> Article:
    sections = tuple(
        Section(s["heading"], tuple(_para_from_dict(p) for p in s["paragraphs"]),
                tuple(s["heading_span"]) if s.get("heading_span") else None)
        for s in d["sections"]
    )
    return Article(
        id=d["id"], issue_id=d["issue_id"], title=d["title"], column=d.get("column"),
        authors=tuple(d.get("authors", ())), sections=sections, char_start=d["char_start"],
        char_end=d["char_end"], kind=d.get("kind", "feature"), source_credit=d.get("source_credit"),
    )


def _source_to_dict(s: SourceRecord) -> dict:
    return {"path": s.path, "sha256": s.sha256, "issue": asdict(s.issue), "n_articles": s.n_articles,
            "ingested_at": s.ingested_at}


def _source_from_dict(d: dict) -> SourceRecord:
    return SourceRecord(d["path"], d["sha256"], Issue(**d["issue"]), d["n_articles"], d["ingested_at"])


# --- disk ----------------------------------------------------------------------------------------

def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so readers see the old or the new content, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_catalogue(index_dir: str | Path, *, required: bool = False) -> Catalogue:
    path = Path(index_dir) / CATALOGUE_FILE
    if not path.exists():
        if required:
            raise IndexMissingError(
                f"no catalogue at {path}: run `zhibu-qa ingest corpus/*.txt` (or `make run`) first")
        return Catalogue((), ())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Catalogue(
            tuple(_source_from_dict(s) for s in data["sources"]),
            tuple(article_from_dict(a) for a in data["articles"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexMissingError(f"catalogue {path} is unreadable ({exc}); re-run `zhibu-qa ingest`") from exc


def save_catalogue(index_dir: str | Path, catalogue: Catalogue) -> None:
    data = {
        "format": FORMAT_VERSION,
        "sources": [_source_to_dict(s) for s in catalogue.sources],
        "articles": [article_to_dict(a) for a in catalogue.articles],
    }
    atomic_write_text(Path(index_dir) / CATALOGUE_FILE, json.dumps(data, ensure_ascii=False))


def source_text(index_dir: str | Path, sha256: str) -> str:
    path = Path(index_dir) / SOURCES_DIR / f"{sha256}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IndexMissingError(f"source text {path} is missing; re-run `zhibu-qa ingest`") from exc


def source_texts(index_dir: str | Path, catalogue: Catalogue) -> dict[str, str]:
    """Decoded source text per issue id."""
    return {s.issue.id: source_text(index_dir, s.sha256) for s in catalogue.sources}


def merge_sources(catalogue: Catalogue, parsed: Iterable[ParsedSource]) -> tuple[Catalogue, list[IngestChange]]:
    """Add parsed sources: same content is a no-op, a changed file replaces its old articles.

    Pure: returns the new catalogue and the list of changes; raises IngestError when a different
    file claims an issue that another file already provides.
    """
    sources = list(catalogue.sources)
    articles = list(catalogue.articles)
    changes: list[IngestChange] = []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for ps in parsed:
        path = ps.issue.source_path
        same = next((s for s in sources if s.sha256 == ps.issue.sha256), None)
        if same is not None:
            note = "" if same.path == path else f"same content as {same.path}"
            changes.append(IngestChange(path, "unchanged", same.issue.id, same.n_articles, note))
            continue
        clash = next((s for s in sources if s.issue.id == ps.issue.id and s.path != path), None)
        if clash is not None:
            raise IngestError(
                f"{path}: issue {ps.issue.label} is already in the catalogue from {clash.path}; "
                f"remove it first with `zhibu-qa ingest --remove {clash.path}`")
        old = next((s for s in sources if s.path == path or s.issue.id == ps.issue.id), None)
        action = "added"
        if old is not None:
            sources.remove(old)
            articles = [a for a in articles if a.issue_id != old.issue.id]
            action = "replaced"
        sources.append(SourceRecord(path, ps.issue.sha256, ps.issue, len(ps.articles), now))
        articles.extend(ps.articles)
        changes.append(IngestChange(path, action, ps.issue.id, len(ps.articles)))
    return Catalogue(tuple(sources), tuple(articles)), changes


def remove_source(catalogue: Catalogue, path: str) -> Catalogue:
    """The catalogue without the source at `path` (matched by path or issue id)."""
    rec = next((s for s in catalogue.sources if s.path == path or s.issue.id == path
                or Path(s.path).resolve() == Path(path).resolve()), None)
    if rec is None:
        known = ", ".join(s.path for s in catalogue.sources) or "none"
        raise IngestError(f"{path} is not in the catalogue; ingested sources: {known}")
    return Catalogue(
        tuple(s for s in catalogue.sources if s is not rec),
        tuple(a for a in catalogue.articles if a.issue_id != rec.issue.id),
    )


def write_ingest(index_dir: str | Path, catalogue: Catalogue, parsed: Iterable[ParsedSource]) -> None:
    """Persist source texts (content-addressed, so safe to write first) then the catalogue."""
    for ps in parsed:
        path = Path(index_dir) / SOURCES_DIR / f"{ps.issue.sha256}.txt"
        if not path.exists():
            atomic_write_text(path, ps.text)
    save_catalogue(index_dir, catalogue)
