"""Embedding backends compared in one run (a benchmark, not a test): prints a table and JSON.

For each backend (torch, torch-int8, onnx, onnx-int8): model load time, passage throughput
(chunks/s by wall clock and per CPU-second) on every chunk of the shipped issue, single-query
latency p50/p95, cosine to torch fp32 (mean, min), and retrieval on the test part of
eval/dataset.jsonl (questions at positions i with i % 5 == 4): article hit@3, section hit@5 and
evidence hit@5 of the hits `Pipeline.ask` returns, in hybrid and dense mode. Then sweeps on a
sample: sorting by length before batching, batch size, workers and threads. A backend may carry
`@wN` (N concurrent ONNX batches; `onnx-int8@w1` is the one-batch mode). `--archive N` adds throughput on
a random sample of distinct chunks from the N-issue synthetic archive of benchmarks/retrieval.py.
The machine has 2 shared cores: the load average is printed before and after.

Usage: python benchmarks/embedders.py [--archive 100] [--archive-sample 600] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zhibu_qa.config import load_settings
from zhibu_qa.indexing.embedders import EMBEDDING_BACKENDS, Embedder, make_embedder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reporting import finish  # noqa: E402

SHIPPED = ROOT / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt"
DATASET = ROOT / "eval" / "dataset.jsonl"
TEST_EVERY, TEST_AT = 5, 4  # the test part: positions i with i % 5 == 4 (the lead's split)
ARCHIVE_DISTINCT: dict[int, int] = {}  # issues -> distinct chunk texts of the synthetic archive


class PrecomputedEmbedder(Embedder):
    """Passages from a table of vectors already measured; queries from the real embedder."""

    def __init__(self, inner: Embedder, table: dict[str, np.ndarray]):
        self.inner, self.table = inner, table
        self.model_id, self.dim = inner.model_id, inner.dim

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def _encode(self, texts, *, show_progress):
        missing = [t for t in texts if t not in self.table]
        if missing:
            self.table.update(zip(missing, self.inner.embed_passages(missing), strict=True))
        return np.stack([self.table[t] for t in texts])


def timed_embed(emb: Embedder, texts: list[str]) -> tuple[np.ndarray, float, float]:
    """Vectors, wall seconds and CPU seconds (all threads of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    vecs = emb.embed_passages(texts)
    return vecs, time.perf_counter() - w0, time.process_time() - c0


def shipped_chunks(settings) -> list[str]:
    from zhibu_qa.indexing.chunking import ChunkerConfig, chunk_catalogue
    from zhibu_qa.ingest import read_and_parse

    parsed = read_and_parse(SHIPPED)
    chunks, _ = chunk_catalogue(parsed.articles, {parsed.issue.id: parsed.issue}, ChunkerConfig(settings.chunk_size,
                                                                                 settings.chunk_overlap))
    return list(dict.fromkeys(c.embed_text for c in chunks))


def archive_sample(n_issues: int, sample: int, settings) -> list[str]:
    from retrieval import write_archive

    from zhibu_qa.indexing.chunking import ChunkerConfig, chunk_catalogue
    from zhibu_qa.ingest import read_and_parse

    with tempfile.TemporaryDirectory() as tmp:
        write_archive(n_issues, Path(tmp))
        texts: list[str] = []
        for path in sorted(Path(tmp).glob("*.txt")):
            p = read_and_parse(path)
            chunks, _ = chunk_catalogue(p.articles, {p.issue.id: p.issue}, ChunkerConfig(settings.chunk_size,
                                                                              settings.chunk_overlap))
            texts += [c.embed_text for c in chunks]
    texts = list(dict.fromkeys(texts))
    print(f"archive: {n_issues} issues, {len(texts)} distinct chunks; sampling {min(sample, len(texts))}",
          flush=True)
    ARCHIVE_DISTINCT[n_issues] = len(texts)
    return random.Random(0).sample(texts, min(sample, len(texts)))


def query_latency(emb: Embedder, questions: list[str]) -> dict:
    for q in questions[:5]:
        emb.embed_queries([q])
    ms = []
    for q in questions:
        t0 = time.perf_counter()
        emb.embed_queries([q])
        ms.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(ms)}


def retrieval_quality(settings, emb: Embedder, work: Path) -> dict:
    """Article hit@3, section hit@5, evidence hit@5 over the test part, per retrieval mode."""
    from zhibu_qa.evaluation import metrics as m
    from zhibu_qa.evaluation.dataset import load_dataset
    from zhibu_qa.pipeline import Pipeline

    pipe = Pipeline(settings.replace(index_dir=str(work)), embedder=emb)
    pipe.ensure_ready()
    cases = load_dataset(DATASET, source_texts=list(pipe.sources.values()),
                         titles=[a.title for a in pipe.catalogue.articles])
    test = [c for i, c in enumerate(cases) if i % TEST_EVERY == TEST_AT]
    out: dict = {"n_test": len(test)}
    for mode in ("hybrid", "dense"):
        rows: dict[str, list[float]] = {"article_hit@3": [], "section_hit@5": [], "evidence_hit@5": []}
        for case in test:
            if not (case.answerable and case.gold_article):
                continue
            hits = sorted(pipe.ask(case.question, case.history, mode=mode).hits, key=lambda h: h.rank)
            rows["article_hit@3"].append(m.hit_at_k([h.meta.article_title for h in hits], case.gold_article, 3))
            if case.gold_section:
                pairs = [(h.meta.article_title, h.meta.section) for h in hits]
                rows["section_hit@5"].append(m.section_hit_at_k(pairs, case.gold_article, case.gold_section, 5))
            if case.evidence:
                rows["evidence_hit@5"].append(m.evidence_hit_at_k([h.chunk.text for h in hits], case.evidence, 5))
        out[mode] = {k: {"mean": float(np.mean(v)), "n": len(v)} for k, v in rows.items()}
    return out


def make(settings, backend: str, **kw) -> Embedder:
    return make_embedder(settings.embedding_model, backend=backend, query_prefix=settings.query_prefix,
                         passage_prefix=settings.passage_prefix, **kw)


def run_backend(settings, backend: str, texts: list[str], questions: list[str], ref: np.ndarray | None,
                archive: list[str]) -> tuple[dict, np.ndarray]:
    """`backend` is a name from EMBEDDING_BACKENDS, optionally `@wN`: N ONNX workers (`@w1`: one
    batch at a time on onnxruntime's intra-op threads, the mode before concurrent batches)."""
    name, _, workers = backend.partition("@w")
    extra = {"workers": int(workers)} if workers else {}
    emb = make(settings, name, batch_size=settings.embed_batch_size, **extra)
    t0 = time.perf_counter()
    emb.embed_queries(["加载模型"])
    res: dict = {"backend": backend, "model_id": emb.model_id, "load_s": time.perf_counter() - t0}
    vecs, wall, cpu = timed_embed(emb, texts)
    res.update(chunks=len(texts), chunks_per_s=len(texts) / wall, chunks_per_cpu_s=len(texts) / cpu)
    if archive:
        _, wall, cpu = timed_embed(emb, archive)
        res.update(archive_chunks=len(archive), archive_chunks_per_s=len(archive) / wall,
                   archive_chunks_per_cpu_s=len(archive) / cpu)
    res["query"] = query_latency(emb, questions)
    cos = np.sum(vecs * (vecs if ref is None else ref), axis=1)
    res.update(cos_mean=float(cos.mean()), cos_min=float(cos.min()))
    with tempfile.TemporaryDirectory() as tmp:
        res["quality"] = retrieval_quality(settings, PrecomputedEmbedder(emb, dict(zip(texts, vecs, strict=True))),
                                           Path(tmp))
    return res, vecs


def sweeps(settings, texts: list[str]) -> list[dict]:
    """Length sorting, batch size and threads on a sample (onnx-int8, plus torch batch/threads)."""
    import torch

    sample = random.Random(1).sample(texts, min(256, len(texts)))
    rows = []

    def measure(label: str, emb: Embedder) -> None:
        emb.embed_passages(sample[:8])  # load and warm up
        _, wall, cpu = timed_embed(emb, sample)
        rows.append({"setting": label, "chunks_per_s": len(sample) / wall, "chunks_per_cpu_s": len(sample) / cpu})
        print(f"  {label:<34} {len(sample) / wall:7.1f} chunks/s  {len(sample) / cpu:7.1f} per CPU-s", flush=True)

    for sort in (True, False):
        measure(f"onnx-int8 sort_by_length={sort}", make(settings, "onnx-int8", sort_by_length=sort))
    for bs in (8, 16, 32, 64):  # texts in flight, split over the 2 workers
        measure(f"onnx-int8 batch_size={bs}", make(settings, "onnx-int8", batch_size=bs))
    for workers, threads in ((1, 1), (1, 2), (2, 1), (3, 1)):
        measure(f"onnx-int8 workers={workers} threads={threads}",
                make(settings, "onnx-int8", workers=workers, threads=threads))
    for bs in (16, 32):
        measure(f"torch batch_size={bs}", make(settings, "torch", batch_size=bs))
    previous = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        measure(f"torch threads={threads}", make(settings, "torch"))
    torch.set_num_threads(previous)
    return rows


def print_projection(results: list[dict]) -> None:
    """Embedding time of the whole archive (its distinct chunks) and of 1,000 issues, from the sample."""
    for issues, distinct in ARCHIVE_DISTINCT.items():
        for r in results:
            if "archive_chunks_per_s" in r:
                minutes = distinct / r["archive_chunks_per_s"] / 60
                print(f"{r['backend']:<14} {issues}-issue archive: {distinct} distinct chunks, embedding "
                      f"{minutes:.1f} min at the sample's rate; 1,000 issues {minutes * 1000 / issues / 60:.2f} h "
                      f"(projected linearly)")


def print_table(results: list[dict]) -> None:
    print(f"\n{'backend':<11}{'load s':>7}{'chunks/s':>10}{'/CPU-s':>8}{'arch/s':>8}{'q p50':>8}{'q p95':>8}"
          f"{'cos':>7}{'cosmin':>7} | hybrid a@3 s@5 e@5 | dense a@3 s@5 e@5")
    for r in results:
        q = r["quality"]
        cells = " | ".join(" ".join(f"{q[mode][k]['mean']:.3f}" for k in ("article_hit@3", "section_hit@5",
                                                                          "evidence_hit@5"))
                           for mode in ("hybrid", "dense"))
        print(f"{r['backend']:<11.11}{r['load_s']:7.2f}{r['chunks_per_s']:10.1f}{r['chunks_per_cpu_s']:8.1f}"
              f"{r.get('archive_chunks_per_s', float('nan')):8.1f}{r['query']['p50_ms']:8.1f}"
              f"{r['query']['p95_ms']:8.1f}{r['cos_mean']:7.3f}{r['cos_min']:7.3f} | {cells}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=int, default=0, help="also measure on this many synthetic issues")
    ap.add_argument("--archive-sample", type=int, default=600, help="distinct archive chunks to embed")
    ap.add_argument("--backends", default=",".join(EMBEDDING_BACKENDS))
    ap.add_argument("--no-sweeps", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    settings = load_settings(env={k: v for k, v in os.environ.items() if k != "ZHIBU_CONFIG"})
    print(f"load average before: {os.getloadavg()}", flush=True)
    texts = shipped_chunks(settings)
    questions = [json.loads(ln)["question"] for ln in DATASET.read_text(encoding="utf-8").splitlines() if ln][:60]
    archive = archive_sample(args.archive, args.archive_sample, settings) if args.archive else []
    results, ref = [], None
    for backend in args.backends.split(","):
        print(f"{backend}…", flush=True)
        res, vecs = run_backend(settings, backend, texts, questions, ref, archive)
        if backend == "torch":
            ref = vecs
        results.append(res)
        print(json.dumps(res, ensure_ascii=False), flush=True)
    print_table(results)
    print_projection(results)
    report = {"results": results, "archive_distinct": ARCHIVE_DISTINCT, "load_after": os.getloadavg(), "cpus": os.cpu_count()}
    if not args.no_sweeps:
        print("\nsweeps (256 shipped chunks):")
        report["sweeps"] = sweeps(settings, texts)
    return finish(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
