"""N parallel clients against one `zhibu-qa serve` process on loopback (a benchmark, not a test).

Starts the server (as soak.py does) on an index dir, warms it up, then for each N in --clients
runs N closed-loop client threads for --seconds per request kind: `/v1/search` (hybrid, k=5:
retrieval only) and `/v1/chat/completions` (the whole answer). Each request takes the next key of
a shared pool, so the per-key rate limit (60/min) does not throttle the load: what is measured is
the server. Prints throughput (requests/s), p50/p95 latency, non-200 counts and the server RSS.
Bounded: at most MAX_REQUESTS per client and run, loopback only.

    PYTHONPATH=src .venv/bin/python benchmarks/concurrency.py --index-dir /tmp/idx [--clients 1,4,16]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from soak import QUESTIONS, SEARCHES, free_port, percentile, rss_mb, start_server, wait_ready  # noqa: E402

MAX_REQUESTS = 5000
N_KEYS = 512  # pool size: 512 keys x 60/min allow ~500 requests/s before any 429


def client(kind: str, url: str, keys, lock: threading.Lock, deadline: float, out: list) -> None:
    import httpx

    http = httpx.Client(base_url=url, timeout=120.0)
    texts = itertools.cycle(SEARCHES if kind == "search" else QUESTIONS[:18])  # the answerable ones
    for _ in range(MAX_REQUESTS):
        if time.monotonic() >= deadline:
            break
        with lock:
            key = next(keys)
        body = ({"query": next(texts), "k": 5, "mode": "hybrid"} if kind == "search" else
                {"model": "zhibu-qa", "messages": [{"role": "user", "content": next(texts)}]})
        start = time.monotonic()
        try:
            r = http.post("v1/search" if kind == "search" else "v1/chat/completions", json=body,
                          headers={"Authorization": f"Bearer {key}"})
            status = str(r.status_code)
        except Exception as exc:  # counted, not raised
            status = type(exc).__name__
        end = time.monotonic()
        with lock:
            out.append((status, end - start, end))
    http.close()


def measure(kind: str, n: int, url: str, keys, seconds: float) -> dict:
    lock, out = threading.Lock(), []
    start = time.monotonic()
    deadline = start + seconds
    threads = [threading.Thread(target=client, args=(kind, url, keys, lock, deadline, out), daemon=True)
               for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 150)
    elapsed = max(e for _, _, e in out) - start if out else seconds
    ok = [d * 1000 for s, d, _ in out if s == "200"]
    return {"kind": kind, "clients": n, "requests": len(out), "seconds": elapsed,
            "throughput_per_s": len(ok) / elapsed, "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95),
            "errors": dict(Counter(s for s, _, _ in out if s != "200")), "load1": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", type=Path, required=True, help="a built index (zhibu-qa ingest … && index)")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--kinds", default="search,chat")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    if not all(1 <= c <= 64 for c in counts) or not 0 < args.seconds <= 600:
        raise SystemExit("--clients must be 1–64 each and --seconds 0–600")
    if not (args.index_dir / "catalogue.json").exists():
        raise SystemExit(f"{args.index_dir}: no catalogue; run zhibu-qa ingest … && zhibu-qa index first")
    key_list = [f"k{i:03d}conc-0123456789" for i in range(N_KEYS)]
    keys = itertools.cycle(key_list)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zhibu-conc-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        proc = start_server(args.index_dir.resolve(), port, Path(tmp), key_list)
        try:
            wait_ready(proc, url, key_list[0])
            for kind in args.kinds.split(","):  # warm-up: the model and index load on first use
                measure(kind, 1, url, keys, 3.0)
            print(f"server pid {proc.pid}, RSS after warm-up {rss_mb(proc.pid):.0f} MB; load {os.getloadavg()}",
                  flush=True)
            for kind in args.kinds.split(","):
                for n in counts:
                    row = measure(kind, n, url, keys, args.seconds)
                    row["server_rss_mb"] = rss_mb(proc.pid)
                    rows.append(row)
                    print(f"{kind:<7}{n:>3} clients: {row['throughput_per_s']:6.2f} req/s, p50 {row['p50_ms']:7.1f} ms,"
                          f" p95 {row['p95_ms']:7.1f} ms, {row['requests']} requests, errors {row['errors']}, "
                          f"server RSS {row['server_rss_mb']:.0f} MB, load {row['load1']}", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except Exception:
                proc.kill()
                proc.wait()
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
