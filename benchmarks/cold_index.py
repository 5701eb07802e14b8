"""Cold `zhibu-qa index` of the shipped issue, timed and broken into phases (a benchmark, not a test).

Each run ingests the shipped issue into a fresh temp dir and then runs `zhibu-qa index --quiet` in a
new process (Python start, imports, model load, chunking, embedding, BM25, writes): wall, CPU and
peak RSS of that process. Then one more cold build in a new process with a timeline: wall-clock
start and duration of each phase in whichever thread runs it (the keyword index is built beside
the embedding, so phases overlap), with the process CPU time. The machine has 2 shared cores:
the load average is printed with every figure.

Usage: python benchmarks/cold_index.py [--runs 3] [--backend onnx-int8] [--no-profile] [--out F.json]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reporting import finish  # noqa: E402

SHIPPED = ROOT / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt"
# phase -> (module, attribute) timed where it is looked up; "Class.method" patches a method
PHASES = {
    "index status check": ("zhibu_qa.pipeline", "Pipeline.index_status"),
    "model check (sha256)": ("zhibu_qa.indexing.models", "verify_model_dir"),
    "chunking": ("zhibu_qa.pipeline", "index_chunks"),
    "embedding (all)": ("zhibu_qa.indexing.embedders", "Embedder.embed_passages"),
    "  session load": ("zhibu_qa.indexing.onnx_backend", "OnnxEmbedder._session"),
    "keyword index (thread)": ("zhibu_qa.indexing.store", "_write_keyword_index"),
    "  jieba dictionary + terms": ("zhibu_qa.indexing.store", "add_words"),
    "  BM25 index + save": ("zhibu_qa.indexing.store", "_build_bm25"),
    "vector index": ("zhibu_qa.indexing.store", "build_vector_index"),
    "checksums of the store": ("zhibu_qa.indexing.store", "file_digests"),
    "fsync": ("zhibu_qa.indexing.store", "fsync_tree"),
}


def _env(backend: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ZHIBU_CONFIG"}
    env.update(PYTHONPATH=str(ROOT / "src"), ZHIBU_EMBEDDING_BACKEND=backend)
    return env


def ingest(index_dir: Path, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "zhibu_qa.cli", "--index-dir", str(index_dir), "ingest", str(SHIPPED)],
                   check=True, env=env, cwd=ROOT, capture_output=True)


def cold_run(backend: str) -> dict:
    env = _env(backend)
    with tempfile.TemporaryDirectory() as tmp:
        ingest(Path(tmp) / "idx", env)
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "zhibu_qa.cli", "--index-dir", str(Path(tmp) / "idx"), "index",
                               "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"index failed: {done.stderr.strip()[-500:]}")
    # ru_maxrss of children is the largest child so far: the index process dwarfs ingest
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_rss_mb": after.ru_maxrss / 1024, "load1_before": load, "load1_after": os.getloadavg()[0],
            "stdout": done.stdout.strip()}


def profiled_run(backend: str) -> dict:
    """A cold build in a new process that records its own timeline (see `_timeline_child`)."""
    env = _env(backend)
    with tempfile.TemporaryDirectory() as tmp:
        ingest(Path(tmp) / "idx", env)
        done = subprocess.run([sys.executable, __file__, "--timeline-child", str(Path(tmp) / "idx")], env=env,
                              cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"timeline run failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timeline_child(index_dir: str) -> None:
    """Patch each phase's function with a wall-clock recorder, build, print the timeline as JSON."""
    t0 = time.perf_counter()
    from zhibu_qa import cli

    imported = time.perf_counter() - t0
    events: list[tuple[str, float, float, str]] = []

    def timed(phase, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            start = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                events.append((phase, start - t0, time.perf_counter() - start, threading.current_thread().name))
        return wrapper

    for phase, (module, attr) in PHASES.items():
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, timed(phase, getattr(owner, name)))
    cpu0 = time.process_time()
    cli.main(["--index-dir", index_dir, "index", "--quiet"])
    total = time.perf_counter() - t0
    print(json.dumps({"imports_s": imported, "total_s": total, "cpu_s": time.process_time() - cpu0,
                      "events": events}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--timeline-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.timeline_child:
        _timeline_child(args.timeline_child)
        return 0
    report: dict = {"backend": args.backend, "cpus": os.cpu_count(), "runs": []}
    print(f"cold `zhibu-qa index` of the shipped issue, backend {args.backend}; load {os.getloadavg()}", flush=True)
    for i in range(args.runs):
        run = cold_run(args.backend)
        report["runs"].append(run)
        print(f"run {i + 1}: wall {run['wall_s']:.1f} s, CPU {run['cpu_s']:.1f} s, peak RSS {run['peak_rss_mb']:.0f} MB,"
              f" load1 {run['load1_before']:.2f} -> {run['load1_after']:.2f}  ({run['stdout']})", flush=True)
    walls = sorted(r["wall_s"] for r in report["runs"])
    if walls:
        print(f"wall min / median: {walls[0]:.1f} / {walls[len(walls) // 2]:.1f} s")
    if not args.no_profile:
        prof = report["profile"] = profiled_run(args.backend)
        print(f"\ntimeline of one more cold build (new process, load1 {os.getloadavg()[0]:.2f}): "
              f"{prof['total_s']:.1f} s wall after {prof['imports_s']:.2f} s of CLI imports, "
              f"{prof['cpu_s']:.1f} CPU-s")
        print(f"  {'phase':<28}{'start s':>8}{'wall s':>8}  calls  thread")
        for phase in PHASES:
            calls = [e for e in prof["events"] if e[0] == phase]
            if calls:
                print(f"  {phase:<28}{min(e[1] for e in calls):8.2f}{sum(e[2] for e in calls):8.2f}"
                      f"  {len(calls):5d}  {', '.join(sorted({e[3] for e in calls}))}")
    return finish(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
