"""Extract the text layer of a PDF with pypdf, one string per page.

Owns: opening the PDF (missing, not a PDF, corrupt, encrypted -> IngestError), per-page text
extraction, the "no text layer" check for scanned PDFs, and finding the page furniture (a running
header or footer repeated at the page edges, e.g. the magazine name and issue line), which the
parsers then drop like noise (the text itself keeps it, so offsets stay those of the text layer).
Leaves out: OCR (a scanned PDF must be OCR'd first), layout repair of the extracted lines
(`ingest.layout` / `ingest.documents`) and decoding of plain text files (`ingest.decode`).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest.decode import PDF_MAGIC
from zhibu_qa.ingest.layout import furniture_key

# Fewer non-space characters than this over the whole PDF means there is no usable text layer
# (a scanned PDF yields nothing, or only a page number or two).
MIN_TEXT_CHARS = 20
PAGE_SEPARATOR = "\n\n"
EDGE_LINES = 2  # lines at the top and at the bottom of a page where a running header or footer sits
RUNNING_MIN_PAGES = 3  # ... recurring on this many pages (on both pages of a 2-page PDF)
MAX_FURNITURE_CHARS = 40  # a running header is one short line, never a paragraph
SENTENCE_END = "。！？!?；;"  # ... and not a sentence (a page may end on the same words as another)


def extract_pdf_pages(path: Path) -> tuple[str, ...]:
    """The extracted text of every page (an empty string for a page without text).

    Raises IngestError for a missing, non-PDF, corrupt or encrypted file.
    Example: extract_pdf_pages(Path("two-pages.pdf")) == ("第一页……", "第二页……")
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    path = Path(path)
    _check_pdf_file(path)
    try:
        with _quiet_pypdf():
            reader = PdfReader(path)
            if reader.is_encrypted:
                _decrypt(reader, path, DependencyError)
            pages = [_page_text(page) for page in reader.pages]
    except IngestError:
        raise
    except (PdfReadError, DependencyError, OSError, ValueError, KeyError, TypeError,
            AttributeError, IndexError, RecursionError, AssertionError) as exc:
        # pypdf surfaces damaged files through many exception types
        raise IngestError(f"cannot read PDF {path}: it is damaged or unsupported ({exc})") from exc
    return tuple(pages)


def extract_pdf_text(path: Path) -> str:
    """All page texts joined with a blank line; pages without text are left out.

    Raises IngestError when the PDF has no text layer (a scanned PDF: run OCR first).
    Example: extract_pdf_text(Path("rules.pdf")).startswith("支部工作条例")
    """
    return extract_pdf(path)[0]


def extract_pdf(path: Path) -> tuple[str, frozenset[str]]:
    """(text as `extract_pdf_text` gives it, `running_lines` of its pages) for the parsers."""
    pages = extract_pdf_pages(path)
    text = PAGE_SEPARATOR.join(p for p in pages if p.strip())
    n_chars = sum(1 for ch in text if not ch.isspace())
    if n_chars < MIN_TEXT_CHARS:
        raise IngestError(
            f"PDF {path} has no text layer ({n_chars} characters of text on {len(pages)} pages); "
            "it is probably a scanned PDF: run OCR on it first"
        )
    return text, running_lines(pages)


def running_lines(pages: Sequence[str]) -> frozenset[str]:
    """`furniture_key`s of the short lines that recur at a page edge (first or last EDGE_LINES lines)
    on RUNNING_MIN_PAGES pages, or on every page of a shorter PDF (at least 2), and do not end a
    sentence: running headers and footers. Example: running_lines(["刊名\n甲", "刊名\n乙", "刊名\n丙"]) == frozenset({"刊名"})
    """
    texts = [p for p in pages if p.strip()]
    if len(texts) < 2:
        return frozenset()
    counts: Counter[str] = Counter()
    for page in texts:
        lines = [ln.strip() for ln in page.split("\n") if ln.strip()]
        edge = {furniture_key(ln) for ln in lines[:EDGE_LINES] + lines[-EDGE_LINES:]
                if len(ln) <= MAX_FURNITURE_CHARS and ln[-1] not in SENTENCE_END}
        counts.update(k for k in edge if k.strip("#"))  # bare page numbers are noise already
    need = min(RUNNING_MIN_PAGES, len(texts))
    return frozenset(k for k, n in counts.items() if n >= need)


@contextlib.contextmanager
def _quiet_pypdf():
    """Keep pypdf's own log lines and warnings ("incorrect startxref pointer", …) off the terminal:
    they would print next to our one-line error; problems that matter raise instead."""
    logger = logging.getLogger("pypdf")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def _check_pdf_file(path: Path) -> None:
    if not path.exists():
        raise IngestError(f"PDF file not found: {path}")
    if path.is_dir():
        raise IngestError(f"PDF path is a directory, not a file: {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise IngestError(f"cannot read PDF file {path}: {exc.strerror or exc}") from exc
    if PDF_MAGIC not in head:
        raise IngestError(f"{path} is not a PDF (no {PDF_MAGIC.decode()} header)")


def _decrypt(reader, path: Path, dependency_error: type[Exception]) -> None:
    try:
        ok = reader.decrypt("")  # many PDFs are encrypted with an empty user password
    except dependency_error as exc:
        raise IngestError(
            f"PDF {path} is encrypted with a cipher pypdf cannot open here ({exc}); "
            "save an unencrypted copy first"
        ) from exc
    if not ok:
        raise IngestError(f"PDF {path} is encrypted and needs a password; save an unencrypted copy first")


def _page_text(page) -> str:
    text = page.extract_text() or ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.strip("\n").rstrip()
