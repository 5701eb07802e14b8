"""`Pipeline` for `vector_index = "pgvector"`: catalogue and index versions live in PostgreSQL.

`Pipeline(settings)` returns a `PgPipeline` for that setting. Ingest and removal are one locked
transaction each (`ingest.pg_catalogue`), so writers on several machines cannot lose each other's
sources; source texts come from the database. The local `index_dir` holds only a copy of the
current index version's store files (`indexing.pg_store`): fetched when it differs from the newest
version published in the database, at load and, in a serving process, every VERSION_POLL_SECONDS
(`refresh_index`). On a read-only connection (a hot standby) nothing is ingested or built.
Leaves out the SQL (those modules) and everything the file-backed `Pipeline` does the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from zhibu_qa.errors import IndexMismatchError, ZhibuError
from zhibu_qa.ingest.catalogue import Catalogue, IngestChange, merge_sources, remove_source
from zhibu_qa.ingest.pg_catalogue import PgCatalogue
from zhibu_qa.pipeline import Pipeline
from zhibu_qa.types import ParsedSource

VERSION_POLL_SECONDS = 30.0  # how soon a serving replica notices a new version (one SELECT per poll)


class PgPipeline(Pipeline):
    """A pipeline whose catalogue and index versions are in the database `settings.pg_dsn` names."""

    poll_seconds = VERSION_POLL_SECONDS  # 0: no background checks (`refresh_index` still works)

    @cached_property
    def pg_catalogue(self) -> PgCatalogue:
        return PgCatalogue(self.settings.pg_dsn)

    # ---- catalogue -------------------------------------------------------------------------
    @cached_property
    def catalogue(self) -> Catalogue:
        return self.pg_catalogue.load()

    def ingest(self, paths: Iterable[str | Path]) -> tuple[list[IngestChange], list[ParsedSource]]:
        parsed = self.parse(paths)  # slow and pure: outside the transaction
        changes, restored = self.pg_catalogue.update(lambda cat: merge_sources(cat, parsed), parsed)
        self.reload_index()
        shas = {ps.issue.source_path: ps.issue.sha256 for ps in parsed}
        return [IngestChange(c.path, "restored", c.issue_id, c.n_articles,
                             "stored text was damaged; re-read from this file")
                if c.action == "unchanged" and shas.get(c.path) in restored else c for c in changes], parsed

    def remove(self, path: str) -> None:
        self.pg_catalogue.update(lambda cat: (remove_source(cat, path), None))
        self.reload_index()

    def repair(self):
        from zhibu_qa.ingest.recovery import RepairReport

        problem = self.pg_catalogue.problem()
        lines = (f"{problem} (the catalogue is in PostgreSQL: re-ingest that file)",) if problem else (
            "the catalogue is in PostgreSQL, written in transactions: nothing to repair",)
        return RepairReport(lines=lines, lost=(problem,) if problem else (), changed=False)

    @cached_property
    def sources(self) -> dict[str, str]:
        return self.pg_catalogue.source_texts(self.catalogue)

    def _disk_catalogue(self) -> tuple[Catalogue, str | None]:
        try:
            cat = self.pg_catalogue.load()
        except ZhibuError as exc:
            return Catalogue((), ()), str(exc)
        return cat, self.pg_catalogue.problem_of(cat)

    # ---- index versions ----------------------------------------------------------------------
    def _sync(self) -> str | None:
        """Copy the newest published version into the local store when it differs; returns it."""
        from zhibu_qa.indexing.pg_store import sync_store
        from zhibu_qa.indexing.store import STORE_DIR

        with self.writing():
            return sync_store(self.index_dir, STORE_DIR, self.settings.pg_dsn)

    def read_only(self) -> bool:
        """True when the database takes no writes (a hot standby or a read-only role's session)."""
        from zhibu_qa.pg import connect_pg, is_read_only

        with connect_pg(self.settings.pg_dsn) as conn:
            return is_read_only(conn)

    def ensure_ready(self, *, progress: bool = False) -> str:
        """On the primary as `Pipeline.ensure_ready`; on a read-only database (an app replica) only
        fetch the current version: a replica never ingests or builds, it serves what the admin published."""
        self._sync()  # a version another admin machine published is fetched, not built again
        if not self.read_only():
            return super().ensure_ready(progress=progress)
        status = self.index_status()
        if status.startswith(("missing", "damaged")):
            raise IndexMismatchError(f"no usable index version in PostgreSQL ({status}); run `zhibu-qa ingest` "
                                     "and `zhibu-qa index` on the admin (primary) first")
        if status != "ok":
            self.log(f"index {status}; serving the published version (the admin builds new ones)")
        return status

    def build_index(self, *, rebuild: bool = False, progress: bool = False):
        """As `Pipeline.build_index`, after fetching the current version, so an admin on a new machine
        reuses its vectors instead of embedding everything again."""
        self._sync()
        return super().build_index(rebuild=rebuild, progress=progress)

    def index_status(self) -> str:
        from zhibu_qa.indexing.pg_store import current_version, local_version
        from zhibu_qa.indexing.store import STORE_DIR
        from zhibu_qa.pg import connect_pg

        with connect_pg(self.settings.pg_dsn) as conn:
            current = current_version(conn)
        local = local_version(self.index_dir, STORE_DIR)
        if current is not None and local != current:
            return f"stale: PostgreSQL holds index version {current}, this copy {local or 'none'} (loaded on next use)"
        return super().index_status()

    def index_is_current(self) -> bool:
        """False when the database's newest published version is not the loaded one."""
        from zhibu_qa.indexing.pg_store import current_version
        from zhibu_qa.pg import connect_pg

        loaded = self.__dict__.get("index")
        if loaded is None:
            return True
        with connect_pg(self.settings.pg_dsn) as conn:
            current = current_version(conn)
        return current is None or current == getattr(loaded.vector_index, "version", None)

    def refresh_index(self) -> bool:
        """Fetch and switch to a newer published version (True when one was found). Questions in
        flight finish on the old one: its table is kept (`pgvector_index.KEEP_VERSIONS`)."""
        if self.index_is_current():
            return False
        version = self._sync()
        self.log(f"index version {version} published; loading it")
        self.reload_index()
        return True

    @cached_property
    def index(self):
        self._sync()
        data = Pipeline.index.func(self)
        self._watch()
        return data

    def _watch(self) -> None:
        """One daemon thread per pipeline that calls `refresh_index` every VERSION_POLL_SECONDS."""
        if self.__dict__.get("_watcher") is not None or self.poll_seconds <= 0:
            return

        def loop() -> None:
            while True:
                time.sleep(self.poll_seconds)
                try:
                    self.refresh_index()
                except Exception as exc:  # noqa: BLE001 (the database is away for a moment: keep serving, retry)
                    self.log(f"index version check failed: {type(exc).__name__}: {exc}")

        self.__dict__["_watcher"] = threading.Thread(target=loop, name="zhibu-index-versions", daemon=True)
        self.__dict__["_watcher"].start()
