"""Chunk-size sweep: build the shipped issue's index per (chunk_size, chunk_overlap) and run the eval.

For each setting (tokens of cl100k_base) the index is built in a temp dir and eval/dataset.jsonl is
answered in hybrid mode; the table shows the build time, the chunk count, retrieval metrics
(hit@k, mrr, section_hit@5, evidence_hit@5) and answer metrics (key_fact_recall, char_f1), and the
best setting by the mean of hit@3, section_hit@5, evidence_hit@5 and key_fact_recall. Each setting
runs in its own process, so jieba's global dictionary cannot leak from one setting into the next.
It takes a while: about 1-2 minutes per setting on 2 CPU cores (mostly embedding); use --sizes.

Usage: python benchmarks/chunk_sweep.py [--sizes 128,192,256,384,512] [--overlaps 0,s/8] [--limit N]
                                        [--quick] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "corpus/tianjin-zhibu-shenghuo-2024-09b.txt"
DATASET = "eval/dataset.jsonl"
METRICS = ("hit@1", "hit@3", "hit@5", "mrr", "section_hit@5", "evidence_hit@5", "key_fact_recall", "char_f1")
# The "best" setting maximises the mean of these (two retrieval granularities, evidence, answer).
SCORE_KEYS = ("hit@3", "section_hit@5", "evidence_hit@5", "key_fact_recall")
DEFAULT = (256, 32)  # zhibu_qa.config.Settings: chunk_size, chunk_overlap


def parse_overlap(spec: str, size: int) -> int:
    """An overlap spec for one size: an integer, or "s/N" for size // N.

    Example: parse_overlap("s/8", 256) == 32 and parse_overlap("0", 256) == 0
    """
    spec = spec.strip()
    if spec.startswith("s/"):
        return size // int(spec[2:])
    return int(spec)


def settings_grid(sizes: list[int], overlaps: list[str]) -> list[tuple[int, int]]:
    """Every (size, overlap) pair, deduplicated, with overlap < size.

    Example: settings_grid([128], ["0", "s/8", "16"]) == [(128, 0), (128, 16)]
    """
    grid = [(s, parse_overlap(o, s)) for s in sizes for o in overlaps]
    return [g for g in dict.fromkeys(grid) if 0 <= g[1] < g[0]]


def score(metrics: dict) -> float:
    values = [metrics.get(k) for k in SCORE_KEYS]
    return sum(v for v in values if v is not None) / len(SCORE_KEYS)


def run_one(work: Path, size: int, overlap: int, limit: int | None) -> dict:
    """Ingest, build and evaluate one setting (in this process); returns its figures."""
    from zhibu_qa.benchmark import run_eval
    from zhibu_qa.config import load_settings
    from zhibu_qa.pipeline import Pipeline

    pipe = Pipeline(load_settings(index_dir=str(work / "index"), chunk_size=size, chunk_overlap=overlap,
                                  retrieval_mode="hybrid"))
    pipe.ingest([SHIPPED])
    pipe.embedder.embed_queries(["加载模型"])  # model load is not part of the build time
    t0 = time.perf_counter()
    stats = pipe.build_index(rebuild=True)
    build_s = time.perf_counter() - t0
    tokens = [c.n_tokens for c in pipe.index.chunks]
    t0 = time.perf_counter()
    run_eval(pipe, ROOT / DATASET, work / "eval", ["hybrid"], limit=limit, progress=False)
    overall = json.loads((work / "eval" / "report.json").read_text(encoding="utf-8"))["configs"]["hybrid"]["overall"]
    return {"chunk_size": size, "chunk_overlap": overlap, "n_chunks": stats.n_chunks,
            "mean_tokens": sum(tokens) / len(tokens), "build_s": build_s, "eval_s": time.perf_counter() - t0,
            "n_questions": overall.get("n"), **{k: overall.get(k) for k in METRICS}}


def sweep(grid: list[tuple[int, int]], limit: int | None, keep: bool) -> list[dict]:
    """Run every setting in a child process (a fresh jieba dictionary and model each time)."""
    root = Path(tempfile.mkdtemp(prefix="zhibu-sweep-"))
    rows = []
    try:
        for n, (size, overlap) in enumerate(grid, 1):
            work = root / f"s{size}-o{overlap}"
            work.mkdir()
            print(f"[{time.strftime('%H:%M:%S')}] {n}/{len(grid)}: chunk_size={size} overlap={overlap} …",
                  file=sys.stderr, flush=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--one", f"{size},{overlap}", "--work", str(work)]
            cmd += ["--limit", str(limit)] if limit else []
            subprocess.run(cmd, check=True, cwd=ROOT)
            rows.append(json.loads((work / "result.json").read_text(encoding="utf-8")))
            if not keep:
                shutil.rmtree(work / "index", ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(rows: list[dict]) -> str:
    head = ["size", "overlap", "chunks", "mean tok", "build s", *METRICS, "score"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        mark = " (default)" if (r["chunk_size"], r["chunk_overlap"]) == DEFAULT else ""
        cells = [f"{r['chunk_size']}{mark}", str(r["chunk_overlap"]), str(r["n_chunks"]), f"{r['mean_tokens']:.0f}",
                 f"{r['build_s']:.0f}", *(fmt(r[k]) for k in METRICS), fmt(score(r))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_lines(rows: list[dict]) -> list[str]:
    best = max(rows, key=lambda r: (round(score(r), 4), -r["build_s"]))
    out = [f"best setting (mean of {', '.join(SCORE_KEYS)}): chunk_size={best['chunk_size']} "
           f"chunk_overlap={best['chunk_overlap']} (score {score(best):.3f})"]
    for k in SCORE_KEYS:
        top = max(r[k] or 0 for r in rows)
        winners = [f"{r['chunk_size']}/{r['chunk_overlap']}" for r in rows if (r[k] or 0) == top]
        out.append(f"  best {k}: {top:.3f} at {', '.join(winners)} (size/overlap)")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="128,192,256,384,512", help="chunk sizes in tokens, comma-separated")
    p.add_argument("--overlaps", default="0,s/8", help='overlaps: integers or "s/N" (= size // N), comma-separated')
    p.add_argument("--limit", type=int, default=None, help="only the first N eval questions")
    p.add_argument("--quick", action="store_true", help="sizes 192,256 with overlap s/8 on 40 questions")
    p.add_argument("--keep", action="store_true", help="keep the temp directories")
    p.add_argument("--out", help="also write the rows to this JSON file")
    p.add_argument("--one", help=argparse.SUPPRESS)  # "SIZE,OVERLAP": run one setting (child process)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out_file = Path(args.out).resolve() if args.out else None
    os.chdir(ROOT)  # settings hold repo-relative paths (model, user dictionary, corpus)
    if args.one:
        size, overlap = (int(x) for x in args.one.split(","))
        result = run_one(Path(args.work), size, overlap, args.limit)
        (Path(args.work) / "result.json").write_text(json.dumps(result), encoding="utf-8")
        return 0
    if args.quick:
        args.sizes, args.overlaps, args.limit = "192,256", "s/8", args.limit or 40
    grid = settings_grid([int(s) for s in args.sizes.split(",")], args.overlaps.split(","))
    if not grid:
        p.error(f"no valid (size, overlap) pairs from --sizes {args.sizes} --overlaps {args.overlaps}")
    print(f"chunk sweep: {len(grid)} settings, about 1-2 min each on 2 CPU cores; this takes a while",
          file=sys.stderr, flush=True)
    started, load = time.perf_counter(), os.getloadavg()[0]
    rows = sweep(grid, args.limit, args.keep)
    print(f"## Chunk sweep on {SHIPPED} (hybrid, {rows[0]['n_questions']} questions)\n")
    print(table(rows))
    print()
    print("\n".join(best_lines(rows)))
    print(f"\n(total {(time.perf_counter() - started) / 60:.1f} min; load average {load:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end; {time.strftime('%Y-%m-%d %H:%M')})")
    if out_file:
        out_file.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
