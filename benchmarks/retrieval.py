"""Speed, memory and retrieval-quality figures for zhibu-qa; prints tables (a benchmark, not a test).

Shipped issue: cold index build (a fresh `zhibu-qa index` process, imports and model load included),
warm rebuild (model loaded, rebuild=True), embedding throughput, query latency p50/p95 per mode and
peak RSS, plus naive-baseline vs hybrid retrieval quality on eval/dataset.jsonl. Archive: N synthetic
issues (transformed copies of the shipped one: new issue line, shuffled feature columns, rotated
district names, perturbed numbers, shuffled sentences), ingested and indexed, then loaded in a fresh
process for memory and latency. When the measured throughput says the N-issue build would exceed
--max-build-minutes, only the first M issues are indexed and N-issue figures are projected
(linear scaling) and labelled so. Each phase runs in its own subprocess, so peak RSS is per phase.
Temp index dirs only; /work/main/index is never touched.

Usage: python benchmarks/retrieval.py [--quick] [--issues 100] [--max-build-minutes 10] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zhibu_qa.config import load_settings
from zhibu_qa.text import title_key

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "corpus/tianjin-zhibu-shenghuo-2024-09b.txt"
DATASET = "eval/dataset.jsonl"
MODES = ("bm25", "dense", "hybrid")
DISTRICTS = ("和平区 河东区 河西区 南开区 河北区 红桥区 东丽区 西青区 津南区 北辰区 武清区 宝坻区 宁河区 "
             "静海区 蓟州区 滨海新区").split()
DISTRICT_RE = re.compile("|".join(DISTRICTS))
ISSUE_LINE_RE = re.compile(r"(上半月|下半月)?\s*\d{4}\s*年第\s*\d+\s*期·总第\s*\d+\s*期")
SENTENCE_RE = re.compile(r".*?[。！？][”’」』]?|.+$", re.S)
# Near-synonyms; each synthetic issue swaps a random half of them in its paragraphs, so chunks differ
# between issues (the index embeds each distinct chunk text once; identical copies would be free).
SYNONYMS = (("开展", "进行"), ("积极", "主动"), ("不断", "持续"), ("进一步", "更加"), ("群众", "居民"),
            ("推动", "推进"), ("加强", "强化"), ("提升", "提高"), ("工作", "事务"), ("社区", "小区"),
            ("党员", "同志"), ("发展", "建设"), ("服务", "帮扶"), ("基层", "一线"), ("坚持", "始终"),
            ("实现", "达成"), ("通过", "借助"), ("问题", "难题"), ("今年", "本年"), ("深入", "扎实"))
# Question variants so the 200 queries are not all verbatim eval questions (paraphrase-like forms).
FORMS = ("{q}", "请问{s}？", "{s}，能具体说说吗？", "我想了解：{s}")


# ---- synthetic archive --------------------------------------------------------------------------

def issue_line(i: int) -> str:
    """A distinct issue line per i (year, number, half are a bijection of i).

    Example: issue_line(1) == "下半月 2024年第1期·总第1143期"
    """
    return f"{('上半月', '下半月')[i % 2]} {2024 - i // 24}年第{(i // 2) % 12 + 1}期·总第{1144 - i}期"


def shuffle_columns(text: str, articles, rng: random.Random) -> str:
    """Permute the feature ■-column groups in the TOC and the body the same way.

    The parser matches TOC titles to the body in order, so whole column groups move together:
    the TOC block from "■ column" to the next "■", and the body from the group's first article
    to the next group's first article (the last group runs to the end of the file).
    """
    toc = re.search(r"(?m)^目\s*录.*\n", text)
    end = text.find("\n声明", toc.end()) + 1
    blocks = re.split(r"(?m)^(?=■)", text[toc.end():end])
    head, groups = blocks[0], blocks[1:]
    names = [g.splitlines()[0].lstrip("■ ").strip() for g in groups]
    starts = {}
    for a in articles:
        if a.kind == "feature" and a.column in names:
            starts[a.column] = min(starts.get(a.column, a.char_start), a.char_start)
    feat = [n for n in names if n in starts]
    fixed = names[:len(names) - len(feat)]
    if names[len(fixed):] != feat or sorted(feat, key=starts.get) != feat:
        return text  # unexpected layout: leave the order alone
    bounds = [starts[n] for n in feat] + [len(text)]
    body = [text[bounds[j]:bounds[j + 1]].rstrip("\n") + "\n\n" for j in range(len(feat))]
    toc_groups = [g.rstrip("\n") + "\n\n" for g in groups[len(fixed):]]
    order = list(range(len(feat)))
    rng.shuffle(order)
    return (text[:toc.end()] + head + "".join(groups[:len(fixed)]) + "".join(toc_groups[j] for j in order)
            + text[end:bounds[0]] + "".join(body[j] for j in order))


def vary_line(line: str, rng: random.Random, swaps: dict[str, str]) -> str:
    """Swap near-synonyms, perturb the digits and shuffle the sentences of a body paragraph line.

    Example: vary_line("甲。乙。", random.Random(1), {}) in ("甲。乙。", "乙。甲。")
    """
    if swaps:
        line = re.sub("|".join(swaps), lambda m: swaps[m[0]], line)
    line = re.sub(r"\d+", lambda m: str(rng.randint(10 ** (len(m[0]) - 1), 10 ** len(m[0]) - 1)), line)
    parts = SENTENCE_RE.findall(line)
    tail = [] if parts and parts[-1][-1] in "。！？”’」』" else parts[-1:]  # an unfinished last sentence stays last
    whole = parts[:len(parts) - len(tail)]
    if len(whole) > 1:
        rng.shuffle(whole)
        line = "".join(whole + tail)
    return line


def synth_issue(text: str, articles, i: int, *, bold: bool = True) -> str:
    """Issue i of the archive: `bold` also shuffles columns and varies short lines outside the TOC.

    Lines that are (part of) an article title, the TOC and the issue line keep their text, so the
    parser still matches every TOC entry; district names rotate everywhere, consistently.
    """
    rng = random.Random(i)
    if bold:
        text = shuffle_columns(text, articles, rng)
    titles = "\n".join(title_key(a.title) for a in articles)
    toc = re.search(r"(?m)^目\s*录.*\n", text)
    toc_end = text.find("\n声明", toc.end())
    swaps = {a: b for a, b in SYNONYMS if rng.random() < 0.5}
    out, pos = [], 0
    for ln in text.split("\n"):
        short = len(ln) <= (20 if bold else 40)
        keep = (short or toc.start() <= pos <= toc_end or ISSUE_LINE_RE.search(ln)
                or (len(ln) <= 40 and title_key(ln) in titles))
        out.append(ln if keep else vary_line(ln, rng, swaps))
        pos += len(ln) + 1
    text = DISTRICT_RE.sub(lambda m: DISTRICTS[(DISTRICTS.index(m[0]) + i) % len(DISTRICTS)], "\n".join(out))
    return ISSUE_LINE_RE.sub(issue_line(i), text, count=1)


def write_archive(n: int, out_dir: Path) -> dict:
    """Write n synthetic issues; each is parsed once to check it still yields every article."""
    from zhibu_qa.ingest import parse_text, read_and_parse

    shipped, fallbacks, ids = read_and_parse(SHIPPED), 0, set()
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = synth_issue(shipped.text, shipped.articles, i)
        parsed = parse_text(text, f"synthetic-{i}", f"{i:064x}")
        if len(parsed.articles) != len(shipped.articles) or parsed.report.toc_unmatched:
            fallbacks += 1
            text = synth_issue(shipped.text, shipped.articles, i, bold=False)
            parsed = parse_text(text, f"synthetic-{i}", f"{i:064x}")
        ids.add(parsed.issue.id)
        (out_dir / f"synthetic-{i:04d}.txt").write_text(text, encoding="utf-8")
    return {"issues": n, "distinct_ids": len(ids), "plain_fallbacks": fallbacks}


# ---- measuring helpers --------------------------------------------------------------------------

def rss_mb() -> float:
    """Current resident set size (VmRSS) in MB."""
    return int(re.search(r"VmRSS:\s*(\d+)", Path("/proc/self/status").read_text())[1]) / 1024


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KB


def queries(n: int) -> list[str]:
    """n queries: eval questions in turn, each in one of FORMS (verbatim, 请问…, …能具体说说吗 …)."""
    qs = [json.loads(ln)["question"] for ln in (ROOT / DATASET).read_text(encoding="utf-8").splitlines() if ln]
    qs = [qs[(i * 7) % len(qs)] for i in range(n)]  # stride 7 is coprime with 185: all before repeats
    return [FORMS[i % len(FORMS)].format(q=q, s=q.rstrip("？?。 ").removeprefix("请问")) for i, q in enumerate(qs)]


def latency(pipe, mode: str, qs: list[str], warmup: int = 5) -> dict:
    for q in qs[:warmup]:
        pipe.search(q, 5, mode)
    ms = np.array([pipe.search(q, 5, mode)[1] for q in qs])
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(qs)}


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ---- phases (each in its own process) -----------------------------------------------------------

def phase_shipped(work: Path, args) -> dict:
    """Warm build, embedding throughput, latency per mode, RSS; then naive vs hybrid quality."""
    from zhibu_qa.indexing.chunking import chunk_catalogue
    from zhibu_qa.pipeline import Pipeline

    pipe = Pipeline(load_settings(index_dir=str(work / "shipped")))
    pipe.ingest([SHIPPED])
    t0 = time.perf_counter()
    pipe.embedder.embed_queries(["加载模型"])
    out: dict = {"model_load_s": time.perf_counter() - t0}
    chunks, _ = chunk_catalogue(pipe.catalogue.articles, pipe.catalogue.issues, pipe.chunker)
    texts = [c.embed_text for c in chunks][:128 if args.quick else None]
    t0 = time.perf_counter()
    pipe.embedder.embed_passages(texts)
    out["embed_chunks"] = len(texts)
    out["embed_chunks_per_s"] = len(texts) / (time.perf_counter() - t0)
    stats = pipe.build_index(rebuild=True)
    out.update(n_chunks=stats.n_chunks, warm_build_s=stats.seconds)
    qs = queries(args.queries)
    out["latency"] = {mode: latency(pipe, mode, qs) for mode in MODES}
    out.update(rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb(), index_mb=dir_mb(work / "shipped" / "store"))
    if args.quality:
        out["quality"] = quality(pipe, work / "eval-out", args.quality_limit)
    return out


def quality(pipe, out_dir: Path, limit: int | None) -> dict:
    from zhibu_qa.benchmark import run_eval

    t0 = time.perf_counter()
    run_eval(pipe, ROOT / DATASET, out_dir, ["hybrid", "naive"], limit=limit, progress=False)
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    keys = ("hit@1", "hit@3", "hit@5", "mrr", "section_hit@5", "evidence_hit@5", "key_fact_recall")
    res = {c: {k: report["configs"][c]["overall"].get(k) for k in keys} for c in ("hybrid", "naive")}
    res["n_questions"] = report["configs"]["hybrid"]["overall"].get("n")
    res["eval_s"] = time.perf_counter() - t0
    return res


def phase_archive_build(work: Path, args) -> dict:
    from zhibu_qa.indexing.chunking import chunk_catalogue
    from zhibu_qa.pipeline import Pipeline

    src = work / "archive-src"
    paths = sorted(src.glob("*.txt"))[:args.build_issues]
    pipe = Pipeline(load_settings(index_dir=str(work / "archive")))
    t0 = time.perf_counter()
    pipe.ingest(paths)
    out: dict = {"built_issues": len(paths), "ingest_s": time.perf_counter() - t0}
    pipe.embedder.embed_queries(["加载模型"])
    t0 = time.perf_counter()
    stats = pipe.build_index(progress=args.progress)
    build_s = time.perf_counter() - t0
    chunks, _ = chunk_catalogue(pipe.catalogue.articles, pipe.catalogue.issues, pipe.chunker)
    out.update(build_s=build_s, n_chunks=stats.n_chunks, peak_rss_mb=peak_rss_mb(),
               n_distinct=len({c.embed_text for c in chunks}), n_articles=len(pipe.catalogue.articles))
    return out


def phase_archive_query(work: Path, args) -> dict:
    """A fresh process, as a server would start: model, then index, then queries."""
    from zhibu_qa.pipeline import Pipeline

    out: dict = {"rss_start_mb": rss_mb()}
    pipe = Pipeline(load_settings(index_dir=str(work / "archive")))
    pipe.embedder.embed_queries(["加载模型"])
    out["rss_model_mb"] = rss_mb()
    t0 = time.perf_counter()
    index = pipe.index
    out.update(index_load_s=time.perf_counter() - t0, rss_index_mb=rss_mb(),
               vectors_mb=index.vectors.nbytes / 2**20, dim=int(index.vectors.shape[1]),
               index_disk_mb=dir_mb(work / "archive" / "store"))
    qs = queries(args.queries)
    out["latency"] = {mode: latency(pipe, mode, qs) for mode in MODES}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


PHASES = {"shipped": phase_shipped, "archive-build": phase_archive_build, "archive-query": phase_archive_query}


# ---- driver -------------------------------------------------------------------------------------

def run_phase(name: str, work: Path, args) -> dict:
    """Run one phase in a new process (its own peak RSS); options travel in work/args.json."""
    (work / "args.json").write_text(json.dumps(vars(args)), encoding="utf-8")
    print(f"[{time.strftime('%H:%M:%S')}] phase {name} …", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--phase", name, "--work", str(work)],
                   check=True, cwd=ROOT)
    return json.loads((work / f"{name}.json").read_text(encoding="utf-8"))


def cold_build(work: Path) -> dict:
    """Time `zhibu-qa ingest` and `zhibu-qa index` as new processes (imports and model load included)."""
    cli = [sys.executable, "-m", "zhibu_qa.cli", "--index-dir", str(work / "cold")]
    t0 = time.perf_counter()
    subprocess.run([*cli, "ingest", SHIPPED], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter()
    subprocess.run([*cli, "index", "--quiet"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    t2 = time.perf_counter()
    return {"ingest_s": t1 - t0, "index_s": t2 - t1, "peak_rss_mb": peak_rss_mb(resource.RUSAGE_CHILDREN)}


def table(rows) -> list[str]:
    return ["| figure | value | how |", "|---|---:|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]


def latency_rows(latencies: dict, tag: str) -> list[tuple]:
    return [(f"query latency {mode} p50 / p95 ({v['n']} queries, k=5)",
             f"{v['p50_ms']:.1f} / {v['p95_ms']:.1f} ms", tag) for mode, v in latencies.items()]


def report(res: dict) -> str:
    c, s, n, ok = res["cold"], res["shipped"], res["issues"], "measured"
    rows = [("index build, cold (new `zhibu-qa index` process)", f"{c['index_s']:.1f} s", ok),
            ("peak RSS of the cold build process", f"{c['peak_rss_mb']:.0f} MB", ok),
            ("ingest (new `zhibu-qa ingest` process)", f"{c['ingest_s']:.1f} s", ok),
            ("index build, warm (model loaded, rebuild=True)", f"{s['warm_build_s']:.1f} s", ok),
            ("model load", f"{s['model_load_s']:.1f} s", ok), ("chunks", f"{s['n_chunks']}", ok),
            ("embedding throughput", f"{s['embed_chunks_per_s']:.1f} chunks/s ({s['embed_chunks']} chunks)", ok),
            *latency_rows(s["latency"], ok),
            ("RSS after queries / peak RSS (this phase)", f"{s['rss_mb']:.0f} / {s['peak_rss_mb']:.0f} MB", ok),
            ("index on disk", f"{s['index_mb']:.1f} MB", ok)]
    lines = ["## Shipped issue", *table(rows)]
    a, b, q = res["archive"], res["archive_build"], res["archive_query"]
    m = b["built_issues"]
    tag = ok if m == n else f"measured on {m} issues"
    # Projections are linear in chunks with every chunk distinct (real issues repeat less than copies).
    per_chunk_s, per_issue = b["build_s"] / b["n_distinct"], b["n_chunks"] / m
    proj, vec_proj = "projected (linear, all chunks distinct)", "projected (linear)"
    rows = [("issues generated (distinct ids / plain fallbacks)",
             f"{a['issues']} ({a['distinct_ids']} / {a['plain_fallbacks']})", ok), ("issues indexed", f"{m}", ok),
            ("articles / chunks / distinct chunk texts",
             f"{b['n_articles']} / {b['n_chunks']} / {b['n_distinct']}", tag),
            ("ingest time", f"{b['ingest_s']:.1f} s", tag),
            ("index build time (model loaded)", f"{b['build_s']:.0f} s ({b['build_s'] / 60:.1f} min)", tag),
            ("build throughput (distinct chunks)", f"{b['n_distinct'] / b['build_s']:.1f} chunks/s", tag),
            ("peak RSS of the build process", f"{b['peak_rss_mb']:.0f} MB", tag)]
    if m != n:
        rows.append((f"index build time for {n} issues", f"{per_chunk_s * per_issue * n / 60:.0f} min", proj))
    rows += [("index build time for 1000 issues", f"{per_chunk_s * per_issue * 1000 / 3600:.1f} h", proj),
             (f"vectors in memory ({q['dim']}-dim float32)", f"{q['vectors_mb']:.1f} MB", tag),
             ("index on disk", f"{q['index_disk_mb']:.0f} MB", tag),
             ("index load time (fresh process)", f"{q['index_load_s']:.1f} s", tag),
             ("RSS: start / model loaded / index loaded",
              f"{q['rss_start_mb']:.0f} / {q['rss_model_mb']:.0f} / {q['rss_index_mb']:.0f} MB", tag),
             ("peak RSS of the query process", f"{q['peak_rss_mb']:.0f} MB", tag)]
    per_rss = (q["rss_index_mb"] - q["rss_model_mb"]) / m  # fixed costs (jieba, bm25s) dominate small m
    rows += [(f"vectors in memory / RSS added by the index, {x} issues", f"{q['vectors_mb'] * x / m:.0f} MB / "
              + (f"{per_rss * x:.0f} MB" if m >= 20 else "n/a (index 20+ issues)"), vec_proj)
             for x in dict.fromkeys((n, 1000)) if x != m] + latency_rows(q["latency"], tag)
    lines += ["", f"## Synthetic archive ({n} issues requested)", *table(rows)]
    if "quality" in s:
        qu = s["quality"]
        keys = [k for k in qu["hybrid"] if qu["hybrid"][k] is not None]
        lines += ["", f"## Retrieval quality on {DATASET} ({qu['n_questions']} questions, {qu['eval_s']:.0f} s)",
                  "| config | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys),
                  *(f"| {cfg} | " + " | ".join(f"{qu[cfg][k]:.3f}" for k in keys) + " |"
                    for cfg in ("naive", "hybrid"))]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 issues, 50 queries, 30 eval questions, 128 chunks for throughput")
    p.add_argument("--issues", type=int, default=100, help="synthetic archive size (default 100)")
    p.add_argument("--max-build-minutes", type=float, default=10.0,
                   help="index fewer issues (and project) when the archive build would take longer; 0 = no limit")
    p.add_argument("--queries", type=int, default=200, help="queries per retrieval mode (default 200)")
    p.add_argument("--no-quality", dest="quality", action="store_false", help="skip naive vs hybrid quality")
    p.add_argument("--quality-limit", type=int, default=None, help="only the first N eval questions")
    p.add_argument("--progress", action="store_true", help="progress bar for the archive build's embedding")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    p.add_argument("--out", help="also write all figures to this JSON file")
    p.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out_file = Path(args.out).resolve() if args.out else None
    os.chdir(ROOT)  # settings hold repo-relative paths (model, user dictionary, corpus)
    if args.phase:  # a child process started by run_phase
        work, name = Path(args.work), args.phase
        args = argparse.Namespace(**json.loads((work / "args.json").read_text(encoding="utf-8")))
        (work / f"{name}.json").write_text(json.dumps(PHASES[name](work, args)), encoding="utf-8")
        return 0
    if args.quick:
        args.issues, args.queries = min(args.issues, 2), min(args.queries, 50)
        args.quality_limit = args.quality_limit or 30
    work, started = Path(tempfile.mkdtemp(prefix="zhibu-bench-")), time.perf_counter()
    try:
        res: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "argv": sys.argv[1:], "issues": args.issues,
                     "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
        print(f"[{time.strftime('%H:%M:%S')}] cold build …", file=sys.stderr, flush=True)
        res["cold"] = cold_build(work)
        res["shipped"] = run_phase("shipped", work, args)
        res["archive"] = write_archive(args.issues, work / "archive-src")
        projected_s = args.issues * res["shipped"]["n_chunks"] / res["shipped"]["embed_chunks_per_s"]
        budget = args.max_build_minutes * 60
        args.build_issues = args.issues if not budget or projected_s <= budget else \
            max(1, int(args.issues * budget / projected_s))
        res["archive_build"] = run_phase("archive-build", work, args)
        res["archive_query"] = run_phase("archive-query", work, args)
        res["load_avg_end"] = os.getloadavg()
        res["total_s"] = time.perf_counter() - started
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report(res))
    print(f"\n(total {res['total_s'] / 60:.1f} min; load average {res['load_avg_start'][0]:.1f} at start, "
          f"{res['load_avg_end'][0]:.1f} at end; {res['cpus']} CPUs)")
    if out_file:
        out_file.write_text(json.dumps(res, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
