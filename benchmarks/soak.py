"""Bounded loopback soak of one real `zhibu-qa serve` process (issue 14); prints figures, asserts nothing.

Starts the server as a subprocess on a free 127.0.0.1 port against an index dir built beforehand
(`zhibu-qa ingest corpus/… && zhibu-qa index`), then N client threads send mixed traffic for
`--minutes`: `/v1/chat/completions` (answerable and unanswerable questions), `/v1/search`, the
Gradio `/ask` + `/lesson` endpoints via gradio_client, and `/feedback` for answer ids the server
returned. Every loop is bounded in count and time; only loopback is used. Each thread has its own
API key, so the per-client rate limit (60/min) applies per thread as it would per user, and paces
its API calls (`--api-per-minute`, default 50) as a well-behaved client would; a 429 is still counted.
Prints per kind: requests, status counts, p50/p95 latency; server RSS at start/end/peak.

    PYTHONPATH=src .venv/bin/python benchmarks/soak.py --index-dir /tmp/soak-idx --minutes 3
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_REQUESTS_PER_THREAD = 5000  # hard cap on each client loop, whatever --minutes says
REQUEST_TIMEOUT = 120.0  # seconds; one answer takes ~1 s, a queue of 4 a few more

# Written for the shipped issue (2024 年第 9 期下半月); the last four are not covered by it.
QUESTIONS = (
    "河东区清理了多少块外部牌子？",
    "编辑部电话是多少？",
    "和平区下放给街道的“五权”是哪五项？",
    "基层减负有哪些具体做法？",
    "怎样让干部把更多时间用在服务群众上？",
    "本期特别关注的主题是什么？",
    "社区党组织如何开展党员教育？",
    "文章里提到的“五权”是怎么落实的？",
    "党务公开应该公开哪些内容？",
    "如何整治形式主义为基层减负？",
    "河东区内部牌子清理了多少块？",
    "这期杂志的主办单位是谁？",
    "街道如何统筹辖区资源为民办事？",
    "什么是“吹哨报到”？",
    "老旧小区改造中党组织发挥了什么作用？",
    "怎样做好新时代的群众工作？",
    "党支部书记应当具备哪些能力？",
    "如何提升社区治理的精细化水平？",
    "2030年奥运会在哪里举办？",
    "明天天津的天气怎么样？",
    "请推荐一部好看的科幻电影。",
    "比特币今天的价格是多少？",
)
SEARCHES = ("为基层减负", "牌子清理", "党员教育", "社区治理", "五权", "党务公开")
TOPICS = ("为基层减负", "党务公开", "社区治理")
KINDS = ("chat", "search", "ask", "feedback", "lesson")


@dataclass(frozen=True)
class Sample:
    kind: str
    status: str  # an HTTP status code as text, or the exception's class name
    seconds: float


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values.

    Example: percentile([1, 2, 3, 4], 50) == 2
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(samples: Iterable[Sample]) -> dict[str, dict]:
    """Per kind: requests, errors (not 200…), status counts, p50/p95 seconds of the 200… replies."""
    by_kind: dict[str, list[Sample]] = {}
    for s in samples:
        by_kind.setdefault(s.kind, []).append(s)
    out = {}
    for kind, group in sorted(by_kind.items()):
        times = [s.seconds for s in group if s.status.startswith("200")]  # an instant 429 is no latency
        statuses = Counter(s.status for s in group)
        out[kind] = {
            "requests": len(group),
            "errors": sum(n for st, n in statuses.items() if not st.startswith("200")),
            "statuses": dict(sorted(statuses.items())),
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
        }
    return out


def vmrss_kb(status_text: str) -> int | None:
    """The VmRSS figure (kB) of a /proc/<pid>/status text.

    Example: vmrss_kb("Name:\\tx\\nVmRSS:\\t  1234 kB\\n") == 1234
    """
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def rss_mb(pid: int) -> float:
    try:
        kb = vmrss_kb(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return math.nan
    return math.nan if kb is None else kb / 1024


def format_summary(summary: dict[str, dict]) -> str:
    lines = [f"{'kind':<9}{'requests':>9}{'errors':>8}{'p50 s':>8}{'p95 s':>8}  statuses"]
    for kind, row in summary.items():
        statuses = " ".join(f"{k}:{v}" for k, v in row["statuses"].items())
        lines.append(f"{kind:<9}{row['requests']:>9}{row['errors']:>8}{row['p50']:>8.3f}{row['p95']:>8.3f}  {statuses}")
    return "\n".join(lines)


# ---- the run ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, port: int, work: Path, keys: Sequence[str]) -> subprocess.Popen:
    env = dict(os.environ, ZHIBU_INDEX_DIR=str(index_dir), ZHIBU_HOST="127.0.0.1", ZHIBU_PORT=str(port),
               ZHIBU_FEEDBACK_PATH=str(work / "feedback.jsonl"), ZHIBU_API_KEYS=",".join(keys),
               PYTHONPATH=str(ROOT / "src"))
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "zhibu_qa.cli", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_ready(proc: subprocess.Popen, url: str, key: str, limit: float = 300.0) -> None:
    import httpx

    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url + "v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"server not ready after {limit:.0f} s")


def client_loop(n: int, url: str, key: str, deadline: float, samples: list[Sample], lock: threading.Lock,
                use_gradio: bool, api_per_minute: float, max_requests: int = MAX_REQUESTS_PER_THREAD) -> None:
    import httpx

    gradio = None
    if use_gradio:
        from gradio_client import Client

        gradio = Client(url, verbose=False)
    http = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT, headers={"Authorization": f"Bearer {key}"})
    questions = itertools.cycle(QUESTIONS[n:] + QUESTIONS[:n])
    searches, topics = itertools.cycle(SEARCHES), itertools.cycle(TOPICS)
    plan = itertools.cycle(("chat", "search", "ask", "feedback", "chat", "search", "lesson") if gradio
                           else ("chat", "search"))
    answer_ids: list[str] = []
    gap, next_api = 60.0 / api_per_minute, 0.0
    for kind in itertools.islice(plan, max_requests):
        if time.monotonic() >= deadline:
            break
        if kind == "feedback" and not answer_ids:
            continue
        if kind in ("chat", "search"):
            time.sleep(max(0.0, next_api - time.monotonic()))
            next_api = time.monotonic() + gap
            if next_api - gap >= deadline:
                break
        start = time.monotonic()
        try:
            if kind == "chat":
                r = http.post("v1/chat/completions", json={
                    "model": "zhibu-qa", "messages": [{"role": "user", "content": next(questions)}]})
                status = str(r.status_code)
                if r.status_code == 200 and r.json()["choices"][0]["message"].get("refused"):
                    status = "200-refused"  # a correct refusal of an unanswerable question is no error
            elif kind == "search":
                r = http.post("v1/search", json={"query": next(searches), "k": 5, "mode": "hybrid"})
                status = str(r.status_code)
            elif kind == "feedback":
                r = http.post("gradio_api/run/feedback",
                              json={"data": ["up" if n % 2 else "down", answer_ids[-1], f"soak {n}"]})
                status = str(r.status_code)
            elif kind == "ask":
                answer = gradio.predict(next(questions), api_name="/ask")
                answer_ids.append(answer["answer_id"])
                del answer_ids[:-20]
                status = "200"
            else:
                outline = gradio.predict(next(topics), api_name="/lesson")
                status = "200" if outline.startswith("# ") else "bad-outline"
        except Exception as exc:  # a soak counts failures, it does not stop on them
            status = type(exc).__name__
        with lock:
            samples.append(Sample(kind, status, time.monotonic() - start))
    http.close()


def run(index_dir: Path, threads: int, minutes: float, use_gradio: bool, api_per_minute: float) -> None:
    # the server's rate-limit bucket is named by a key's first 8 characters: make those differ
    keys = [f"k{i:02d}soak-0123456789" for i in range(threads)]
    with tempfile.TemporaryDirectory(prefix="zhibu-soak-") as tmp:
        work, port = Path(tmp), free_port()
        url = f"http://127.0.0.1:{port}/"
        proc = start_server(index_dir, port, work, keys)
        try:
            t0 = time.monotonic()
            wait_ready(proc, url, keys[0])
            print(f"server pid {proc.pid} ready on {url} after {time.monotonic() - t0:.1f} s")
            rss_ready = rss_mb(proc.pid)
            lock = threading.Lock()
            # one request of each kind first (not counted): the model and index load on first use
            client_loop(0, url, keys[0], time.monotonic() + 120, [], lock, use_gradio, api_per_minute, 7)
            rss_start = rss_mb(proc.pid)
            trend = [(0.0, rss_start)]
            samples: list[Sample] = []
            deadline = time.monotonic() + minutes * 60
            workers = [threading.Thread(target=client_loop, args=(i, url, keys[i], deadline, samples, lock,
                                                                    use_gradio, api_per_minute), daemon=True)
                       for i in range(threads)]
            for w in workers:
                w.start()
            while any(w.is_alive() for w in workers) and time.monotonic() < deadline + REQUEST_TIMEOUT + 30:
                time.sleep(5)
                trend.append((time.monotonic() - (deadline - minutes * 60), rss_mb(proc.pid)))
            rss_end = rss_mb(proc.pid)
            elapsed = time.monotonic() - (deadline - minutes * 60)
            with lock:
                done = list(samples)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        print(f"{threads} threads, {elapsed:.0f} s, {len(done)} requests ({len(done) / elapsed:.2f}/s)")
        print(format_summary(summarise(done)))
        peak = max(r for _, r in trend)
        print(f"server RSS: ready {rss_ready:.0f} MB, after warm-up (start) {rss_start:.0f} MB, end {rss_end:.0f} MB, "
              f"peak {peak:.0f} MB, growth {rss_end - rss_start:+.0f} MB")
        marks = [next(r for t, r in trend if t >= m * 60) for m in range(int(elapsed // 60) + 1)
                 if any(t >= m * 60 for t, _ in trend)]
        print("server RSS per minute (MB): " + " ".join(f"{r:.0f}" for r in marks))
        feedback = work / "feedback.jsonl"
        lines = len(feedback.read_text(encoding="utf-8").splitlines()) if feedback.exists() else 0
        print(f"feedback lines written: {lines}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index-dir", type=Path, default=Path(os.environ.get("ZHIBU_INDEX_DIR", "index")),
                   help="a built index (default: $ZHIBU_INDEX_DIR or index/)")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--api-per-minute", type=float, default=50.0,
                   help="pace of each thread's /v1 calls (the server allows 60 a minute per key)")
    p.add_argument("--no-gradio", action="store_true", help="only the HTTP API (no /ask, /lesson, /feedback)")
    args = p.parse_args(argv)
    if not (args.index_dir / "catalogue.json").exists():
        raise SystemExit(f"{args.index_dir}: no catalogue; run zhibu-qa ingest … && zhibu-qa index first")
    if not 1 <= args.threads <= 32 or not 0 < args.minutes <= 60 or not 0 < args.api_per_minute <= 600:
        raise SystemExit("--threads must be 1–32, --minutes 0–60 and --api-per-minute 0–600")
    run(args.index_dir.resolve(), args.threads, args.minutes, not args.no_gradio, args.api_per_minute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
