"""Index versions published in PostgreSQL, so app replicas need nothing but the connection string.

The admin's build (`store.build_index` with `vector_index = "pgvector"`) publishes the finished
store directory: every file but `vectors.npy` (the version's vector table holds those rows) into
`zhibu_index_files`, and the manifest into the version's row of `zhibu_index_versions`, in one
transaction; the newest published version is the current one. A replica (`sync_store`) compares it
with the version its local copy names and, when they differ, writes that version's files and the
vectors read back from the table into a temp dir, checks every sha256 the manifest records and
swaps the copy in. Reads only, so it works on a hot standby. Leaves out building (`store`) and
searching (`pgvector_index`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from zhibu_qa.errors import BackendUnavailableError, IndexDamagedError
from zhibu_qa.indexing.integrity import fsync_tree, swap_in, verify_digests
from zhibu_qa.indexing.pgvector_index import PG_FILE, VERSIONS_TABLE
from zhibu_qa.locking import swap_lock, writer_lock
from zhibu_qa.pg import connect_pg, create_schema, one_line

FILES_TABLE = "zhibu_index_files"
PART_BYTES = 64 * 2**20  # bytea values stay far below PostgreSQL's 1 GB limit
MANIFEST_FILE, VECTORS_FILE = "manifest.json", "vectors.npy"  # as store.py names them (it imports this)


SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {FILES_TABLE} (version text NOT NULL, name text NOT NULL, "
    "part integer NOT NULL, data bytea NOT NULL, PRIMARY KEY (version, name, part))",
    f"ALTER TABLE {VERSIONS_TABLE} ADD COLUMN IF NOT EXISTS manifest jsonb, "
    "ADD COLUMN IF NOT EXISTS published_at timestamptz",
)


def publish_store(store: Path, dsn: str) -> str:
    """Publish the finished store dir `store` (its pgvector.json names the version); returns the version."""
    import psycopg
    from psycopg.types.json import Jsonb

    version = json.loads((store / PG_FILE).read_text(encoding="utf-8"))["version"]
    manifest = (store / MANIFEST_FILE).read_text(encoding="utf-8")
    files = sorted(p for p in store.rglob("*") if p.is_file() and p.name != VECTORS_FILE)
    try:
        with connect_pg(dsn) as conn:
            create_schema(conn, SCHEMA)  # on the primary only
            _insert(conn, store, files, version, Jsonb(json.loads(manifest)))
    except psycopg.Error as exc:
        raise BackendUnavailableError(f"cannot publish the index version to PostgreSQL: {one_line(exc)}") from exc
    return version


def _insert(conn, store: Path, files: list[Path], version: str, manifest) -> None:
    """The files and the manifest in one transaction: a replica sees all of a version or none."""
    with conn.transaction(), conn.cursor() as cur:
        for path in files:
            for part, data in enumerate(_parts(path)):
                cur.execute(f"INSERT INTO {FILES_TABLE} (version, name, part, data) VALUES (%s, %s, %s, %s)",
                            (version, path.relative_to(store).as_posix(), part, data))
        cur.execute(f"UPDATE {VERSIONS_TABLE} SET manifest = %s, published_at = now() WHERE version = %s",
                    (manifest, version))


def _parts(path: Path):
    """The file's bytes in PART_BYTES pieces (one empty piece for an empty file)."""
    with open(path, "rb") as fh:
        data = fh.read(PART_BYTES)
        yield data
        while data := fh.read(PART_BYTES):
            yield data


def current_version(conn) -> str | None:
    """The newest published version, or None (nothing published: a database of an older build)."""
    has = conn.execute(f"SELECT 1 FROM information_schema.columns WHERE table_name = '{VERSIONS_TABLE}' "
                       "AND column_name = 'published_at'").fetchone()
    if has is None:
        return None
    row = conn.execute(f"SELECT version FROM {VERSIONS_TABLE} WHERE published_at IS NOT NULL "
                       "ORDER BY published_at DESC, version DESC LIMIT 1").fetchone()
    return None if row is None else row[0]


def local_version(index_dir: Path, store_dir: str) -> str | None:
    try:
        return json.loads((index_dir / store_dir / PG_FILE).read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def sync_store(index_dir: str | Path, store_dir: str, dsn: str) -> str | None:
    """Make `index_dir`/`store_dir` a copy of the current published version; returns it (None: none published)."""
    index_dir = Path(index_dir)
    with connect_pg(dsn) as conn:  # no pgvector types needed until a version is fetched
        version = current_version(conn)
        if version is None or version == local_version(index_dir, store_dir):
            return version
        index_dir.mkdir(parents=True, exist_ok=True)
        with writer_lock(index_dir):
            if version == local_version(index_dir, store_dir):  # another process of this replica did it
                return version
            tmp = Path(tempfile.mkdtemp(prefix=f".{store_dir}.tmp-{os.getpid()}-", dir=index_dir))
            try:
                _download(conn, version, tmp)
                fsync_tree(tmp)
                with swap_lock(index_dir, shared=False):
                    swap_in(tmp, index_dir / store_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
    return version


def _download(conn, version: str, tmp: Path) -> None:
    """Write `version`'s files and its vectors (read back from its table) into `tmp`, then verify them."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    table, n_rows, dim, manifest = conn.execute(
        f"SELECT table_name, n_rows, dim, manifest FROM {VERSIONS_TABLE} WHERE version = %s", (version,)).fetchone()
    with conn.transaction():  # a named (server-side) cursor streams rows instead of fetching all
        out = None
        with conn.cursor(name="zhibu_files") as cur:
            cur.execute(f"SELECT name, data FROM {FILES_TABLE} WHERE version = %s ORDER BY name, part", (version,))
            name = None
            try:
                for row_name, data in cur:
                    if row_name != name:
                        if out is not None:
                            out.close()
                        name = row_name
                        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                        out = open(tmp / name, "wb")  # noqa: SIM115 (closed when the next file starts)
                    out.write(data)
            finally:
                if out is not None:
                    out.close()
        vectors = np.empty((n_rows, dim), dtype=np.float32)
        with conn.cursor(name="zhibu_vectors") as cur:
            cur.execute(f"SELECT row_id, embedding FROM {table} ORDER BY row_id")
            for row_id, embedding in cur:
                vectors[row_id] = embedding.to_numpy() if hasattr(embedding, "to_numpy") else embedding
    np.save(tmp / VECTORS_FILE, vectors)  # the same bytes the admin saved: float32 rows in order
    bad = verify_digests(tmp, manifest["files"])
    if bad:
        raise IndexDamagedError(f"index version {version} from PostgreSQL fails its checks ({'; '.join(bad[:3])}); "
                                "rebuild it with `zhibu-qa index --rebuild` on the admin")
