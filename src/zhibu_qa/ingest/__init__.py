"""Ingestion: a source file (issue text dump, PDF, Markdown/plain document) -> ParsedSource.

Routes by content: PDFs go through pypdf first; texts with a 目录 use the magazine parser,
others the generic document parser. Storing the result is `catalogue`'s job.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from zhibu_qa.errors import IngestError
from zhibu_qa.types import IngestReport, Issue, ParsedSource

MAX_SOURCE_BYTES = 20_000_000  # a text dump of one issue is ~0.2 MB; 50 MB files are refused


def parse_text(text: str, source_path: str, sha256: str, *, title: str | None = None,
               furniture: frozenset[str] = frozenset()) -> ParsedSource:
    """Parse decoded text: magazine layout when it has a table of contents, else a document.

    `furniture`: `layout.furniture_key`s of page headers/footers to drop (`pdf.running_lines`).
    """
    from zhibu_qa.ingest.magazine import has_toc, parse_magazine

    fallback_note = ""
    if has_toc(text):
        try:
            parsed = parse_magazine(text, source_path, sha256, furniture=furniture)
        except (StopIteration, ValueError, IndexError) as exc:  # a 目录 line but no usable layout
            fallback_note = f"magazine layout not recognised ({type(exc).__name__}); parsed as a plain document"
        else:
            r = parsed.report
            if r.toc_entries and r.toc_matched >= max(1, r.toc_entries // 2):
                return parsed
            fallback_note = (f"only {r.toc_matched} of {r.toc_entries} TOC entries found in the body; "
                             "parsed as a plain document")
    from zhibu_qa.ingest.documents import parse_document
    from zhibu_qa.ingest.issuemeta import issue_date, name_date, name_issue

    stem = Path(source_path).stem
    named = name_issue(source_path)
    issue = Issue(id=f"doc-{sha256[:10]}", magazine=title or stem, source_path=source_path,
                  sha256=sha256, kind="document", year=named.year if named else None,
                  date=(name_date(named) or issue_date(named.year, named.number, named.half)) if named else None)
    articles = parse_document(text, issue, title=title, furniture=furniture)
    if not articles:
        raise IngestError(f"{source_path}: no text found to ingest")
    chars = sum(a.n_chars for a in articles)
    report = IngestReport(articles=len(articles), sections=sum(len(a.sections) for a in articles),
                          content_chars=chars, covered_chars=chars,
                          warnings=(fallback_note,) if fallback_note else ())
    return ParsedSource(issue, text, tuple(articles), report)


def read_and_parse(path: str | Path, *, max_bytes: int = MAX_SOURCE_BYTES) -> ParsedSource:
    """Read, decode and parse one source file; every failure is an IngestError naming the path."""
    from zhibu_qa.ingest.decode import is_pdf, read_source

    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if not path.is_file():
        raise IngestError(f"{path}: not a regular file")
    if path.stat().st_size > max_bytes:
        raise IngestError(f"{path}: file is {path.stat().st_size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
    furniture: frozenset[str] = frozenset()
    if is_pdf(path):
        from zhibu_qa.ingest.pdf import extract_pdf

        text, furniture = extract_pdf(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        text, _encoding, sha = read_source(path, max_bytes=max_bytes)
    return parse_text(text, str(path), sha, furniture=furniture)
