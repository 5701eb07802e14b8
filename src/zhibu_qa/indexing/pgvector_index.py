"""PostgreSQL + pgvector as a `VectorIndex`: one table per index version, HNSW on inner product.

Owns writing a version's rows (`build_pgvector`: COPY in one transaction, then the HNSW and
filter-column indexes, then a row in `zhibu_index_versions`, the version the store manifest
names) and searching it with metadata filters in the SQL WHERE clause. Old versions beyond the
newest KEEP_VERSIONS are dropped at the next build, so replicas still reading one keep working.
Leaves out the chunk texts and BM25 (local store files) and the connection string (settings).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from zhibu_qa.errors import BackendUnavailableError, IndexMismatchError
from zhibu_qa.indexing.vectors import NO_FILTERS, RowLabels, VectorIndex
from zhibu_qa.pg import connect_pg, create_schema
from zhibu_qa.types import Filters

PG_FILE = "pgvector.json"  # in the store dir: which table (index version) holds this store's vectors
VERSIONS_TABLE = "zhibu_index_versions"
KEEP_VERSIONS = 3  # the current one, the previous (replicas may still read it) and one spare
# HNSW graph and candidate list, from benchmarks/pgvector_recall.py (benchmarks/README.md, "pgvector
# HNSW settings"): 300k x 512 m3e-local vectors (real m3e vectors of the shipped issue spread over
# their neighbours), ef_search 1000: m 32 / ef_construction 256 recall@10 0.972 at 16 ms p50, build
# 530 s; m 24 / 200 0.967, 567 s; 100k: m 24 / 200 0.988, m 16 / 128 0.975. Below 1000 recall drops
# fast (0.926 at 400), and 1000 is pgvector's maximum. Uniform random vectors: 0.60 at 100k (m 16).
PG_HNSW_M = 32
PG_EF_CONSTRUCTION = 256
PG_EF_SEARCH = 1000
# the HNSW build is fast only while the graph fits in it: 300k x 512 took 215-277 s with 2 GB, 956 s
# with 512 MB (m 16, benchmarks/README.md); it is taken only while an index is built
PG_MAINTENANCE_WORK_MEM = "2GB"
_FILTER_COLUMNS = (("issue_ids", "issue_id"), ("columns", "column_name"), ("article_ids", "article_id"))


def _connect(dsn: str):
    return connect_pg(dsn, vector=True)


def build_pgvector(vectors: np.ndarray, labels: RowLabels, target: Path, *, dsn: str) -> str:
    """Write `vectors` as a new index version; record its table in `target`/pgvector.json."""
    import psycopg

    try:
        return _build(vectors, labels, target, dsn)
    except psycopg.Error as exc:  # e.g. a read-only standby: only the admin on the primary builds
        raise BackendUnavailableError(f"cannot write the vectors to PostgreSQL: {' '.join(str(exc).split())[:200]} "
                                      "(build on the primary, with write rights)") from exc


def _build(vectors: np.ndarray, labels: RowLabels, target: Path, dsn: str) -> str:
    n, dim = vectors.shape
    version = f"{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:8]}"
    table = f"zhibu_vectors_{version}"
    with _connect(dsn) as conn:
        create_schema(conn, [f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (version text PRIMARY KEY, "
                             "table_name text NOT NULL, n_rows integer NOT NULL, dim integer NOT NULL, "
                             "created_at timestamptz NOT NULL DEFAULT now())"])
        with conn.transaction():
            conn.execute(f"CREATE TABLE {table} (row_id integer PRIMARY KEY, issue_id text, column_name text, "
                         f"article_id text, embedding vector({dim}) NOT NULL)")
            with conn.cursor().copy(f"COPY {table} (row_id, issue_id, column_name, article_id, embedding) "
                                    "FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "text", "text", "vector"])
                for i in range(n):
                    copy.write_row((i, labels.issue_ids[i], labels.columns[i], labels.article_ids[i], vectors[i]))
            conn.execute(f"SET LOCAL maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}'")
            conn.execute(f"CREATE INDEX ON {table} USING hnsw (embedding vector_ip_ops) "
                         f"WITH (m = {PG_HNSW_M}, ef_construction = {PG_EF_CONSTRUCTION})")
            for _, col in _FILTER_COLUMNS:
                conn.execute(f"CREATE INDEX ON {table} ({col})")
            # statistics now: without them the planner took a one-issue filter (1/3 of 20k rows) for
            # 100 rows and sorted them all exactly, 90 ms instead of an HNSW scan
            conn.execute(f"ANALYZE {table}")
            conn.execute(f"INSERT INTO {VERSIONS_TABLE} (version, table_name, n_rows, dim) VALUES (%s, %s, %s, %s)",
                         (version, table, n, dim))
        _prune(conn)
    (target / PG_FILE).write_text(json.dumps({"version": version, "table": table, "n_rows": n, "dim": dim}),
                                  encoding="utf-8")
    return version


def _prune(conn) -> None:
    """Drop the tables of all but the newest KEEP_VERSIONS versions."""
    old = conn.execute(f"SELECT version, table_name FROM {VERSIONS_TABLE} ORDER BY created_at DESC, version DESC "
                       "OFFSET %s", (KEEP_VERSIONS,)).fetchall()
    files = conn.execute("SELECT to_regclass('zhibu_index_files')").fetchone()[0] is not None
    for version, table in old:
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            if files:  # the store files `pg_store.publish_store` wrote for that version
                conn.execute("DELETE FROM zhibu_index_files WHERE version = %s", (version,))
            conn.execute(f"DELETE FROM {VERSIONS_TABLE} WHERE version = %s", (version,))


class PgVectorIndex(VectorIndex):
    """Search one index version's table; filters become `col = ANY(...)` conditions (AND across fields)."""

    kind = "pgvector"

    def __init__(self, conn, table: str, version: str, n_rows: int):
        self.conn = conn
        self.table = table
        self.version = version
        self.ntotal = n_rows
        self._lock = threading.Lock()  # one connection, used by one query at a time

    @classmethod
    def open(cls, store: Path, *, dsn: str, n_rows: int, dim: int) -> PgVectorIndex:
        try:
            info = json.loads((store / PG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexMismatchError(f"{store / PG_FILE} is missing or unreadable ({exc}); "
                                     "rebuild with `zhibu-qa index --rebuild`") from exc
        conn = _connect(dsn)
        row = conn.execute(f"SELECT n_rows, dim FROM {VERSIONS_TABLE} WHERE version = %s",
                           (info["version"],)).fetchone() if _has_versions(conn) else None
        if row is None or tuple(row) != (n_rows, dim):
            conn.close()
            raise IndexMismatchError(f"index version {info['version']} is not in PostgreSQL or does not match "
                                     f"the store ({row} vs {(n_rows, dim)}); rebuild with `zhibu-qa index --rebuild`")
        conn.execute(f"SET hnsw.ef_search = {PG_EF_SEARCH}")
        conn.execute("SET hnsw.iterative_scan = strict_order")  # filtered queries still return n rows
        return cls(conn, info["table"], info["version"], n_rows)

    def search(self, qvec: np.ndarray, n: int, filters: Filters = NO_FILTERS) -> tuple[np.ndarray, np.ndarray]:
        n = min(n, self.ntotal)
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        where, params = [], []
        for field, col in _FILTER_COLUMNS:
            wanted = getattr(filters, field)
            if wanted:
                where.append(f"{col} = ANY(%s)")
                params.append(list(wanted))
        sql = (f"SELECT row_id, embedding <#> %s AS d FROM {self.table}"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY d LIMIT %s")
        q = np.ascontiguousarray(qvec, dtype=np.float32)
        with self._lock:
            rows = self.conn.execute(sql, [q, *params, n]).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, -np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))  # <#> is -inner product

    def close(self) -> None:
        self.conn.close()


def _has_versions(conn) -> bool:
    return conn.execute("SELECT to_regclass(%s)", (VERSIONS_TABLE,)).fetchone()[0] is not None


def index_versions(dsn: str) -> list[tuple[str, int, int]]:
    """(version, rows, dim) of the index versions in the database, newest first."""
    with _connect(dsn) as conn:
        if not _has_versions(conn):
            return []
        return [tuple(r) for r in conn.execute(f"SELECT version, n_rows, dim FROM {VERSIONS_TABLE} "
                                               "ORDER BY created_at DESC, version DESC").fetchall()]
