"""Cold `zhibu-qa index` of the shipped issue, timed and broken into phases (a benchmark, not a test).

Each run ingests the shipped issue into a fresh temp dir and then runs `zhibu-qa index --quiet` in a
new process (Python start, imports, model load, chunking, embedding, BM25, writes): wall, CPU and
peak RSS of that process. Then one in-process run with a profile of the same build, grouped into
phases by function (cProfile cumulative seconds, so the phases overlap a little). The machine has 2
shared cores: the load average is printed with every figure.

Usage: python benchmarks/cold_index.py [--runs 3] [--backend onnx-int8] [--no-profile] [--out F.json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt"
# phase -> (file suffix, function name) whose cumulative time the phase is
PHASES = {
    "chunking": ("chunking.py", "chunk_catalogue"),
    "embedding (all)": ("embedders.py", "embed_passages"),
    "  onnxruntime run": ("onnxruntime_inference_collection.py", "run"),
    "  tokenizer encode_batch": ("~", "<method 'encode_batch' of 'tokenizers.Tokenizer' objects>"),
    "  session load": ("onnx_backend.py", "_session"),
    "jieba dictionary load": ("jieba/__init__.py", "initialize"),
    "term extraction": ("userdict.py", "extract_terms"),
    "BM25 tokenisation": ("text.py", "tokenize"),
    "BM25 index + save": ("store.py", "_build_bm25"),
    "vector index": ("vectors.py", "build_vector_index"),
    "model check (sha256)": ("models.py", "verify_model_dir"),
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
    """The same build in this process under cProfile; seconds per phase (cumulative)."""
    os.environ.update(_env(backend))
    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        ingest(Path(tmp) / "idx", _env(backend))
        from zhibu_qa import cli

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        cli.main(["--index-dir", str(Path(tmp) / "idx"), "index", "--quiet"])
        prof.disable()
        total = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (cc, nc, tottime, cumtime, callers)
    phases = {}
    for phase, (suffix, name) in PHASES.items():
        phases[phase] = sum(v[3] for (f, _, n), v in stats.items() if n == name and f.endswith(suffix)
                            and not _recursive_inner(stats, (f, _, n)))
    return {"total_s": total, "phases": phases}


def _recursive_inner(stats, key) -> bool:
    """True for a frame called by itself (its time is already in the outer call)."""
    return key in stats[key][4]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", default="onnx-int8")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
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
        report["profile"] = profiled_run(args.backend)
        print(f"\nprofiled in-process build: {report['profile']['total_s']:.1f} s (cProfile adds overhead)")
        for phase, secs in report["profile"]["phases"].items():
            print(f"  {phase:<28}{secs:7.2f} s")
    report["load_after"] = os.getloadavg()
    print(f"load average after: {report['load_after']}")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
