"""The corpus catalogue on disk: which sources are ingested and the articles parsed from them.

`index/catalogue.json` holds issues and articles (with sections, paragraphs and source
segments); `index/sources/<sha256>.txt` holds each source's decoded text, which all offsets refer
to. Writes are atomic (temp file + fsync + os.replace + directory fsync) and keep the previous
generation as `catalogue.json.bak`; callers hold `locking.writer_lock` around read-modify-write.
Source texts are verified by sha256 when read. Chunks and vectors are `store`'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from zhibu_qa.errors import IndexDamagedError, IndexMissingError, IngestError
from zhibu_qa.locking import fsync_dir
from zhibu_qa.types import Article, Issue, Paragraph, ParsedSource, Section, Segment

CATALOGUE_FILE = "catalogue.json"
BACKUP_FILE = "catalogue.json.bak"  # the previous good generation, for `zhibu-qa ingest --repair`
SOURCES_DIR = "sources"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SourceRecord:
    path: str
    sha256: str
    issue: Issue
    n_articles: int
    ingested_at: str
    text_sha256: str = ""  # sha256 of the stored decoded text (UTF-8); empty in catalogues before it existed


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


def source_to_dict(s: SourceRecord) -> dict:
    return {"path": s.path, "sha256": s.sha256, "issue": asdict(s.issue), "n_articles": s.n_articles,
            "ingested_at": s.ingested_at, "text_sha256": s.text_sha256}


def source_from_dict(d: dict) -> SourceRecord:
    return SourceRecord(d["path"], d["sha256"], Issue(**d["issue"]), d["n_articles"], d["ingested_at"],
                        d.get("text_sha256", ""))


def text_sha256(text: str) -> str:
    """Example: text_sha256("") == "e3b0c442…" (sha256 of the UTF-8 bytes)"""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    fsync_dir(path.parent)


_REPAIR_HINT = "run `zhibu-qa ingest --repair`"


def parse_catalogue(raw: str) -> Catalogue:
    """Catalogue from its JSON text; ValueError/KeyError/TypeError when it is damaged."""
    data = json.loads(raw)
    return Catalogue(
        tuple(source_from_dict(s) for s in data["sources"]),
        tuple(article_from_dict(a) for a in data["articles"]),
    )


def load_catalogue(index_dir: str | Path, *, required: bool = False) -> Catalogue:
    path = Path(index_dir) / CATALOGUE_FILE
    if not path.exists():
        if required:
            raise IndexMissingError(
                f"no catalogue at {path}: run `zhibu-qa ingest corpus/*.txt` (or `make run`) first")
        return Catalogue((), ())
    try:
        return parse_catalogue(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise IndexDamagedError(f"catalogue {path} is damaged ({detail}); {_REPAIR_HINT}") from exc


def catalogue_json(catalogue: Catalogue) -> str:
    data = {
        "format": FORMAT_VERSION,
        "sources": [source_to_dict(s) for s in catalogue.sources],
        "articles": [article_to_dict(a) for a in catalogue.articles],
    }
    return json.dumps(data, ensure_ascii=False)


def save_catalogue(index_dir: str | Path, catalogue: Catalogue) -> None:
    """Write the catalogue; the current file, when it is intact, becomes `catalogue.json.bak` first."""
    path = Path(index_dir) / CATALOGUE_FILE
    try:
        current = path.read_text(encoding="utf-8")
        parse_catalogue(current)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        current = None  # missing or damaged: keep the older .bak rather than a damaged one
    if current is not None:
        atomic_write_text(Path(index_dir) / BACKUP_FILE, current)
    atomic_write_text(path, catalogue_json(catalogue))


def source_path(index_dir: str | Path, sha256: str) -> Path:
    return Path(index_dir) / SOURCES_DIR / f"{sha256}.txt"


def check_source_text(index_dir: str | Path, rec: SourceRecord) -> str | None:
    """None when the stored text of `rec` is present and intact, else what is wrong with it."""
    path = source_path(index_dir, rec.sha256)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"stored text {path} is missing"
    except (OSError, UnicodeDecodeError) as exc:
        return f"stored text {path} is unreadable ({exc})"
    if rec.text_sha256 and text_sha256(text) != rec.text_sha256:
        return f"stored text {path} fails its sha256 check"
    return None


def source_text(index_dir: str | Path, sha256: str, expected_text_sha256: str = "") -> str:
    """The stored decoded text of source `sha256`, verified against `expected_text_sha256` when given."""
    path = source_path(index_dir, sha256)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamagedError(f"source text {path} is missing or unreadable; {_REPAIR_HINT}") from exc
    if expected_text_sha256 and text_sha256(text) != expected_text_sha256:
        raise IndexDamagedError(f"source text {path} fails its sha256 check (damaged); {_REPAIR_HINT}")
    return text


def source_texts(index_dir: str | Path, catalogue: Catalogue) -> dict[str, str]:
    """Decoded source text per issue id."""
    return {s.issue.id: source_text(index_dir, s.sha256, s.text_sha256) for s in catalogue.sources}


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
        sources.append(SourceRecord(path, ps.issue.sha256, ps.issue, len(ps.articles), now, text_sha256(ps.text)))
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


def write_ingest(index_dir: str | Path, catalogue: Catalogue, parsed: Iterable[ParsedSource]) -> set[str]:
    """Persist source texts (content-addressed, so safe to write first) then the catalogue.

    A stored text that is missing or fails its check is (re)written; returns the sha256s of the
    texts written. The caller holds the writer lock.
    """
    written = set()
    for ps in parsed:
        rec = catalogue.by_sha(ps.issue.sha256)
        if rec is None:
            continue
        path = source_path(index_dir, ps.issue.sha256)
        problem = check_source_text(index_dir, rec)
        if problem is not None:
            atomic_write_text(path, ps.text)
            written.add(rec.sha256)
    save_catalogue(index_dir, catalogue)
    return written


def clean_index_dir(index_dir: str | Path) -> list[Path]:
    """Delete interrupted temp files and source texts neither the catalogue nor its .bak refers to.

    Only safe under the writer lock (no other writer can own a temp file then). Returns what was deleted.
    """
    index_dir = Path(index_dir)
    keep: set[str] = set()
    for name in (CATALOGUE_FILE, BACKUP_FILE):
        try:
            keep |= {s.sha256 for s in parse_catalogue((index_dir / name).read_text(encoding="utf-8")).sources}
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []  # a damaged generation might refer to any text: delete nothing until repaired
    deleted = list(index_dir.glob(f".{CATALOGUE_FILE}.*.tmp")) + list(index_dir.glob(f".{BACKUP_FILE}.*.tmp"))
    sources = index_dir / SOURCES_DIR
    if sources.is_dir():
        deleted += list(sources.glob(".*.tmp"))
        deleted += [p for p in sources.glob("*.txt") if p.stem not in keep]
    for path in deleted:
        path.unlink(missing_ok=True)
    return deleted
