"""The pure helpers of benchmarks/scale_search.py and tsvector_bm25.py (the benchmarks take minutes)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the scripts import each other by name
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tsquery_ors_distinct_tokens_and_escapes_quotes():
    ts = _load("tsvector_bm25")
    assert ts.tsquery(["党建", "it's", "党建", " ", "A\\b"]) == "'党建' | 'it''s' | 'a\\\\b'"
    assert ts.tsquery([]) == ""


def test_exact_top10_matches_a_full_sort():
    scale = _load("scale_search")
    rng = np.random.default_rng(3)
    base = rng.normal(size=(500, 16)).astype(np.float32)
    queries = rng.normal(size=(60, 16)).astype(np.float32)
    got = scale.exact_top10(base, queries)
    want = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_low_rank_vectors_are_unit_length_and_shared_by_queries():
    scale = _load("scale_search")
    x = scale.low_rank(300, 32, 0, 5, rank=4)
    q = scale.low_rank(20, 32, 1, 5, rank=4)
    assert x.shape == (300, 32) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    # queries come from the same clusters: each has a close neighbour among the vectors
    assert (q @ x.T).max(axis=1).min() > 0.5
