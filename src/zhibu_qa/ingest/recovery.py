"""`zhibu-qa ingest --repair`: bring a damaged catalogue or source store back where it can be.

Restores `catalogue.json` from `catalogue.json.bak` when it is missing or damaged, and each stored
source text that is missing or fails its sha256 from the source's original file (when that file
still has the ingested content). Reports what it cannot restore. The caller holds the writer lock.
Leaves out the search index (`zhibu-qa index` rebuilds the parts whose checksums fail).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from zhibu_qa.errors import IngestError
from zhibu_qa.ingest.catalogue import (
    BACKUP_FILE,
    CATALOGUE_FILE,
    SOURCES_DIR,
    Catalogue,
    atomic_write_text,
    catalogue_json,
    check_source_text,
    clean_index_dir,
    parse_catalogue,
    source_path,
    text_sha256,
)

ORPHANED_DIR = "orphaned"  # sources/orphaned/: texts a restored catalogue no longer refers to


@dataclass(frozen=True)
class RepairReport:
    lines: tuple[str, ...]
    lost: tuple[str, ...]  # what could not be restored (empty: everything is intact now)
    changed: bool


def _read(path: Path) -> tuple[Catalogue | None, str, str]:
    """(catalogue, raw text, problem): catalogue None with a problem when missing or damaged."""
    try:
        raw = path.read_text(encoding="utf-8")
        return parse_catalogue(raw), raw, ""
    except FileNotFoundError:
        return None, "", "missing"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, "", f"damaged ({type(exc).__name__})"


def _restore_catalogue(index_dir: Path, lines: list[str], lost: list[str]) -> Catalogue:
    main = index_dir / CATALOGUE_FILE
    cat, _, problem = _read(main)
    if cat is not None:
        return cat
    bak, raw, bak_problem = _read(index_dir / BACKUP_FILE)
    if problem == "missing" and bak is None:
        lines.append(f"no catalogue in {index_dir}: nothing to repair (ingest your files)")
        return Catalogue((), ())
    if main.exists():
        kept = main.with_name(f"{CATALOGUE_FILE}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        main.rename(kept)
        lines.append(f"{main} was {problem}; kept it as {kept.name}")
    if bak is not None:
        atomic_write_text(main, raw)
        lines.append(f"restored {CATALOGUE_FILE} from {BACKUP_FILE} ({len(bak.sources)} sources, "
                     f"{len(bak.articles)} articles); sources ingested after that generation must be ingested again")
        return bak
    atomic_write_text(main, catalogue_json(Catalogue((), ())))
    lost.append(f"the catalogue cannot be restored ({BACKUP_FILE} is {bak_problem}); started an empty "
                "catalogue: ingest your files again")
    return Catalogue((), ())


def _restore_text(index_dir: Path, rec, lines: list[str], lost: list[str]):
    """The record, with its text restored from the original file when possible (else None)."""
    from zhibu_qa.ingest import read_and_parse

    problem = check_source_text(index_dir, rec)
    if problem is None:
        return rec
    try:
        parsed = read_and_parse(rec.path)
    except IngestError as exc:
        lost.append(f"cannot restore {rec.path}: {problem} and the original cannot be read ({exc}); "
                    f"ingest a copy of it or run `zhibu-qa ingest --remove {rec.path}`")
        return None
    if parsed.issue.sha256 != rec.sha256:
        lost.append(f"cannot restore {rec.path}: {problem} and the file has changed since it was ingested; "
                    f"run `zhibu-qa ingest {rec.path}` to replace it")
        return None
    atomic_write_text(source_path(index_dir, rec.sha256), parsed.text)
    lines.append(f"restored the stored text of {rec.path} from the original file")
    return dataclasses.replace(rec, text_sha256=text_sha256(parsed.text))


def repair_index_dir(index_dir: str | Path) -> RepairReport:
    """Restore what can be restored under `index_dir`; see the module docstring.

    Example: repair_index_dir("index").lost == () after deleting a source text whose file still exists
    """
    index_dir = Path(index_dir)
    lines: list[str] = []
    lost: list[str] = []
    cat = _restore_catalogue(index_dir, lines, lost)
    restored_catalogue = bool(lines)
    records = []
    for rec in cat.sources:
        fixed = _restore_text(index_dir, rec, lines, lost)
        records.append(fixed or rec)
    if tuple(records) != cat.sources:
        atomic_write_text(index_dir / CATALOGUE_FILE, catalogue_json(Catalogue(tuple(records), cat.articles)))
    known = {r.sha256 for r in records}
    strays = [p for p in (index_dir / SOURCES_DIR).glob("*.txt") if p.stem not in known]
    if restored_catalogue and strays:
        orphaned = index_dir / SOURCES_DIR / ORPHANED_DIR
        orphaned.mkdir(exist_ok=True)
        for p in strays:
            p.rename(orphaned / p.name)
        lost.append(f"{len(strays)} stored source text(s) belong to no restored source (moved to "
                    f"{orphaned}); ingest their files again")
    deleted = clean_index_dir(index_dir)
    if deleted:
        lines.append(f"deleted {len(deleted)} leftover temp or unreferenced source file(s)")
    changed = bool(lines) or bool(lost)
    if not changed:
        lines.append(f"catalogue and {len(records)} source text(s) verified: nothing to repair")
    elif records or restored_catalogue:
        lines.append("run `zhibu-qa index` to bring the search index up to date")
    return RepairReport(tuple(lines), tuple(lost), changed)
