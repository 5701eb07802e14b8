"""PostgreSQL connections for the pgvector deployment (the catalogue and the index versions).

One place that turns a DSN into an autocommit psycopg 3 connection, with one-line errors naming
the `pg_dsn` setting, and optionally the pgvector extension registered. Leaves out every table:
`ingest.pg_catalogue`, `indexing.pgvector_index` and `indexing.pg_store` own theirs.
"""

from __future__ import annotations

from zhibu_qa.errors import BackendUnavailableError, ConfigError

DSN_HINT = "set pg_dsn (or ZHIBU_PG_DSN), e.g. postgresql://user@/zhibu?host=/var/run/postgresql"


def one_line(exc: BaseException, limit: int = 200) -> str:
    """psycopg's messages span lines; the CLI shows one. Example: one_line(ValueError("a\\n b")) == "a b" """
    return " ".join(str(exc).split())[:limit]


def connect_pg(dsn: str, *, vector: bool = False):
    """An autocommit connection to `dsn`; with `vector`, pgvector's types registered (the extension is
    created when missing, which only the primary can do)."""
    if not dsn:
        raise ConfigError(f"vector_index=pgvector needs a PostgreSQL connection string; {DSN_HINT}")
    import psycopg

    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as exc:
        raise BackendUnavailableError(f"cannot connect to PostgreSQL ({one_line(exc)}); {DSN_HINT}") from exc
    if not vector:
        return conn
    from pgvector.psycopg import register_vector

    try:
        # only when missing: a read-only standby cannot run CREATE EXTENSION, even IF NOT EXISTS
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
            conn.execute("CREATE EXTENSION vector")
        register_vector(conn)
    except psycopg.Error as exc:
        conn.close()
        raise BackendUnavailableError(f"PostgreSQL has no usable pgvector extension: {one_line(exc, 400)}") from exc
    return conn


def is_read_only(conn) -> bool:
    """True on a hot standby or a read-only session (where an app replica runs)."""
    return conn.execute("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
                        ).fetchone()[0]


SCHEMA_LOCK = 0x7A686962  # pg_advisory_xact_lock key ("zhib"): concurrent CREATE TABLE IF NOT EXISTS can collide


def create_schema(conn, statements) -> None:
    """Run idempotent DDL in one transaction under an advisory lock: two writers creating the same
    table at once otherwise fail with a duplicate-key error on pg_type (seen with two ingests)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for statement in statements:
            conn.execute(statement)
