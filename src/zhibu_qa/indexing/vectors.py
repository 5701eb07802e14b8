"""Vector search backends behind one `VectorIndex.search(qvec, n, filters)`: FAISS flat, FAISS HNSW, pgvector.

Owns building a backend's files beside the stored vectors (`build_vector_index`) and opening it
for search (`open_vector_index`), with metadata filters (issue, column, article) applied inside
the engine: an ID-selector bitmap for FAISS, SQL WHERE for pgvector (`pgvector_index`). Rows are
positions in the store's chunk list; scores are inner products (cosine for unit vectors).
Leaves out the chunk store and BM25 (`store`) and rank fusion (`retrieval`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zhibu_qa.errors import ConfigError
from zhibu_qa.types import Filters

VECTOR_INDEXES = ("flat", "hnsw", "pgvector")
HNSW_FILE = "hnsw.faiss"  # rebuilding HNSW on load took 10-90 s per 40k vectors, so it is saved
HNSW_M = 32  # neighbours per node; faiss' usual choice for 256-1024 dims
HNSW_EF_CONSTRUCTION = 200  # measured: recall@10 0.81 -> 0.88 at efSearch=256 vs 80, same build time
# FAISS HNSW candidate list (pgvector's is pgvector_index.PG_EF_SEARCH). Recall@10 vs exact
# (benchmarks/README.md, "pgvector HNSW settings"): 300k x 512 m3e-local vectors (real m3e vectors
# spread over their neighbours, real question queries) 0.957 at 512 -> 0.999 at 1024 (6 ms p50 at
# load 8); 100k 0.999 at 512. Low-rank 300k: 1.000 from 64; isotropic clusters 0.922 at 1024.
HNSW_EF_SEARCH = 1024
NO_FILTERS = Filters()
MaskFn = Callable[[Filters], "np.ndarray | None"]
_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


@dataclass(frozen=True)
class RowLabels:
    """What the engines filter on, one entry per row (the chunk's issue, column and article)."""

    issue_ids: tuple[str, ...]
    columns: tuple[str | None, ...]
    article_ids: tuple[str, ...]


class VectorIndex:
    """Base class: subclasses implement `search`; `kind` names the backend, `ntotal` the row count."""

    kind: str = "unknown"
    ntotal: int = 0

    def search(self, qvec: np.ndarray, n: int, filters: Filters = NO_FILTERS) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (rows int64, scores float32) by inner product among rows matching `filters`, best first."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self.ntotal

    def close(self) -> None:
        """Release connections or memory (a no-op for in-process backends)."""


@contextmanager
def _single_omp_thread(faiss):
    """One OpenMP thread for a single-query search: 4 ms instead of 24 ms for 40k vectors when the
    two cores are busy (measured), since a parallel region waits for its slowest, descheduled thread."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class FaissVectorIndex(VectorIndex):
    """FAISS inner-product search (flat: exact; hnsw: approximate, exact over the allowed rows when
    filtered). `mask` turns filters into a row mask, handed to FAISS as an `IDSelectorBitmap`."""

    def __init__(self, index, kind: str, mask: MaskFn):
        self.index = index
        self.kind = kind
        self.mask = mask
        self.ntotal = int(index.ntotal)
        self.ef_search = HNSW_EF_SEARCH  # HNSW candidate list; benchmarks sweep it

    @property
    def vectors(self) -> np.ndarray:
        """A read-only view of the vectors FAISS stores (no second copy in memory)."""
        import faiss

        flat = faiss.downcast_index(self.index.storage) if self.kind == "hnsw" else self.index
        raw = faiss.rev_swig_ptr(flat.get_xb(), self.ntotal * flat.d).reshape(self.ntotal, flat.d)
        view = np.asarray(_Owner(raw, (self.index, flat)))  # its base holds the index: no dangling pointer
        view.flags.writeable = False
        return view

    def search(self, qvec: np.ndarray, n: int, filters: Filters = NO_FILTERS) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        index, params = self.index, None
        mask = self.mask(filters)
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)))
            if self.kind == "hnsw":
                index = faiss.downcast_index(index.storage)
            n = min(n, int(mask.sum()))
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, n))
        n = min(n, self.ntotal)
        if n <= 0:
            return _EMPTY
        with _single_omp_thread(faiss):
            dist, ids = index.search(np.ascontiguousarray(qvec, dtype=np.float32).reshape(1, -1), n, params=params)
        ok = ids[0] >= 0
        return ids[0][ok].astype(np.int64), dist[0][ok]


class _Owner:
    """Exposes FAISS-owned memory to numpy while keeping the FAISS objects alive."""

    def __init__(self, raw: np.ndarray, keep: tuple):
        self.__array_interface__ = raw.__array_interface__
        self._keep = (raw, keep)


def _hnsw(vectors: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(vectors)
    return index


def check_kind(kind: str) -> None:
    if kind not in VECTOR_INDEXES:
        raise ConfigError(f"vector_index={kind!r} is not one of: {', '.join(VECTOR_INDEXES)}")


def build_vector_index(kind: str, vectors: np.ndarray, labels: RowLabels, target: Path, *,
                       pg_dsn: str = "") -> None:
    """Write what backend `kind` needs to open later into the (temporary) store dir `target`."""
    check_kind(kind)
    if kind == "hnsw":
        import faiss

        faiss.write_index(_hnsw(vectors), str(target / HNSW_FILE))
    elif kind == "pgvector":
        from zhibu_qa.indexing.pgvector_index import build_pgvector

        build_pgvector(vectors, labels, target, dsn=pg_dsn)


def open_vector_index(kind: str, store: Path, vectors: np.ndarray, mask: MaskFn, *,
                      pg_dsn: str = "") -> VectorIndex:
    """Open backend `kind` over `vectors` (row i = chunk i) as built into `store`."""
    check_kind(kind)
    if kind == "pgvector":
        from zhibu_qa.indexing.pgvector_index import PgVectorIndex

        return PgVectorIndex.open(store, dsn=pg_dsn, n_rows=len(vectors), dim=int(vectors.shape[1]))
    import faiss

    if kind == "hnsw":
        index = faiss.read_index(str(store / HNSW_FILE))
    else:
        index = faiss.IndexFlatIP(int(vectors.shape[1]))
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return FaissVectorIndex(index, kind, mask)


def row_labels(issue_ids: Sequence[str], columns: Sequence[str | None], article_ids: Sequence[str]) -> RowLabels:
    return RowLabels(tuple(issue_ids), tuple(columns), tuple(article_ids))
