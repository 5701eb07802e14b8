"""The catalogue in PostgreSQL (with `vector_index = "pgvector"`): sources, their texts and articles.

The same `Catalogue` shapes as the file catalogue (`catalogue`), in three tables: one row holding
the generation (`zhibu_catalogue`), one row per source with its decoded text (`zhibu_sources`) and
one per article (`zhibu_articles`). `PgCatalogue.update` is the read-modify-write of an ingest or a
removal in one transaction that first locks the generation row, so two writers (two `zhibu-qa
ingest` processes on two machines) queue instead of one saving a catalogue that lacks the other's
sources. Readers (app replicas on a standby) only SELECT. Leaves out parsing and merging (pure,
`catalogue.merge_sources`) and the search index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from zhibu_qa.errors import BackendUnavailableError, IndexDamagedError
from zhibu_qa.ingest.catalogue import (
    Catalogue,
    SourceRecord,
    article_from_dict,
    article_to_dict,
    source_from_dict,
    source_to_dict,
    text_sha256,
)
from zhibu_qa.pg import connect_pg, create_schema, one_line
from zhibu_qa.types import ParsedSource

T = TypeVar("T")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS zhibu_catalogue (id boolean PRIMARY KEY DEFAULT true CHECK (id), "
    "generation bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO zhibu_catalogue (id) VALUES (true) ON CONFLICT DO NOTHING",
    # seq keeps the catalogue's order (merge_sources appends); text is the decoded source text
    "CREATE TABLE IF NOT EXISTS zhibu_sources (sha256 text PRIMARY KEY, seq bigint GENERATED ALWAYS AS "
    "IDENTITY, issue_id text NOT NULL UNIQUE, record jsonb NOT NULL, text text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS zhibu_articles (id text PRIMARY KEY, seq bigint GENERATED ALWAYS AS IDENTITY, "
    "source_sha256 text NOT NULL REFERENCES zhibu_sources ON DELETE CASCADE, article jsonb NOT NULL)",
)


class PgCatalogue:
    """The catalogue of one database; `dsn` names it (the primary for writers, a standby for readers)."""

    def __init__(self, dsn: str):
        self.dsn = dsn

    def _connect(self):
        return connect_pg(self.dsn)

    def load(self) -> Catalogue:
        """The catalogue as committed now (empty when nothing was ever ingested into this database)."""
        with self._connect() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot
            return _read(conn) if _has_schema(conn) else Catalogue((), ())

    def generation(self) -> int:
        """How many changes were committed (0 for a new database)."""
        with self._connect() as conn:
            if not _has_schema(conn):
                return 0
            return int(conn.execute("SELECT generation FROM zhibu_catalogue").fetchone()[0])

    def update(self, change: Callable[[Catalogue], tuple[Catalogue, T]],
               parsed: Sequence[ParsedSource] = ()) -> tuple[T, set[str]]:
        """Apply `change` (old catalogue -> (new catalogue, result)) in one locked transaction.

        The generation row is locked before the catalogue is read, so a concurrent writer's change
        is either fully visible to `change` or waits for this one. `parsed` supplies the texts of
        the sources the new catalogue adds (and restores stored texts that differ from them).
        Returns `change`'s result and the sha256s of the texts restored.
        """
        import psycopg

        texts = {ps.issue.sha256: ps.text for ps in parsed}
        try:
            with self._connect() as conn:
                create_schema(conn, SCHEMA)  # only a writer (on the primary) runs it
                with conn.transaction():
                    generation = conn.execute("SELECT generation FROM zhibu_catalogue FOR UPDATE").fetchone()[0]
                    old = _read(conn)
                    new, result = change(old)
                    restored = _restore_texts(conn, old, texts)
                    if new != old or restored:
                        _write(conn, new, texts)
                        conn.execute("UPDATE zhibu_catalogue SET generation = %s, updated_at = now()",
                                     (generation + 1,))
                return result, restored
        except psycopg.Error as exc:
            raise BackendUnavailableError(f"cannot write the catalogue to PostgreSQL: {one_line(exc)} "
                                          "(ingest on the primary, with write rights)") from exc

    def source_texts(self, catalogue: Catalogue) -> dict[str, str]:
        """Decoded source text per issue id, each verified against its recorded sha256."""
        shas = [s.sha256 for s in catalogue.sources]
        with self._connect() as conn:
            rows = dict(conn.execute("SELECT sha256, text FROM zhibu_sources WHERE sha256 = ANY(%s)",
                                     (shas,)).fetchall()) if shas and _has_schema(conn) else {}
        out = {}
        for rec in catalogue.sources:
            problem = _text_problem(rec, rows.get(rec.sha256))
            if problem:
                raise IndexDamagedError(problem)
            out[rec.issue.id] = rows[rec.sha256]
        return out

    def problem_of(self, catalogue: Catalogue) -> str | None:
        """What is wrong with the stored texts of `catalogue` (None when every one verifies)."""
        try:
            self.source_texts(catalogue)
        except IndexDamagedError as exc:
            return str(exc)
        return None

    def problem(self) -> str | None:
        return self.problem_of(self.load())


def _has_schema(conn) -> bool:
    return conn.execute("SELECT to_regclass('zhibu_articles')").fetchone()[0] is not None


def _text_problem(rec: SourceRecord, text: str | None) -> str | None:
    if text is None:
        return f"the text of source {rec.path} is missing from PostgreSQL; ingest the file again"
    if rec.text_sha256 and text_sha256(text) != rec.text_sha256:
        return f"the text of source {rec.path} in PostgreSQL fails its sha256 check; ingest the file again"
    return None


def _read(conn) -> Catalogue:
    sources = tuple(source_from_dict(r[0]) for r in conn.execute("SELECT record FROM zhibu_sources ORDER BY seq"))
    articles = tuple(article_from_dict(r[0]) for r in conn.execute("SELECT article FROM zhibu_articles ORDER BY seq"))
    return Catalogue(sources, articles)


def _restore_texts(conn, old: Catalogue, texts: dict[str, str]) -> set[str]:
    """Rewrite stored texts of `old`'s sources that differ from the verified `texts` given again."""
    restored = set()
    for rec in old.sources:
        text = texts.get(rec.sha256)
        if text is not None and text_sha256(text) == rec.text_sha256 and conn.execute(
                "UPDATE zhibu_sources SET text = %s WHERE sha256 = %s AND text IS DISTINCT FROM %s",
                (text, rec.sha256, text)).rowcount:
            restored.add(rec.sha256)
    return restored


def _write(conn, new: Catalogue, texts: dict[str, str]) -> None:
    """Make the tables hold exactly `new`: stored sources not in it go (with their articles), the
    ones it adds are inserted with their texts and articles. Correct only under the generation lock:
    without it, a writer that read before another's commit would delete that writer's sources."""
    from psycopg.types.json import Jsonb

    keep = [s.sha256 for s in new.sources]
    conn.execute("DELETE FROM zhibu_sources WHERE NOT (sha256 = ANY(%s))", (keep,))  # cascades to articles
    stored = {r[0] for r in conn.execute("SELECT sha256 FROM zhibu_sources")}
    for rec in new.sources:
        if rec.sha256 in stored:
            continue
        text = texts.get(rec.sha256)
        if text is None or text_sha256(text) != rec.text_sha256:
            raise IndexDamagedError(f"no verified text for the new source {rec.path}")
        conn.execute("INSERT INTO zhibu_sources (sha256, issue_id, record, text) VALUES (%s, %s, %s, %s)",
                     (rec.sha256, rec.issue.id, Jsonb(source_to_dict(rec)), text))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO zhibu_articles (id, source_sha256, article) VALUES (%s, %s, %s)",
                            [(a.id, rec.sha256, Jsonb(article_to_dict(a))) for a in new.articles
                             if a.issue_id == rec.issue.id])
