"""Fit the refusal thresholds on an eval dataset and print the grid's best points.

Refusals are decided from retrieval evidence only (answering.decide_refusal): weighted question-term
coverage of the top hits, the best dense cosine, and the share of question terms absent from the
whole knowledge base. This script computes those features once per question and grid-searches the
thresholds for the best refusal F1 with at most 3% false refusals on answerable questions.

Usage: python benchmarks/fit_refusal.py [--dataset eval/dataset.jsonl] [--max-false 0.03]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from zhibu_qa.answering import RefusalPolicy, assess, decide_refusal
from zhibu_qa.config import load_settings
from zhibu_qa.pipeline import Pipeline
from zhibu_qa.questions import analyse
from zhibu_qa.types import Turn


def features(pipe: Pipeline, cases: list[dict]) -> list[tuple[dict, object]]:
    out = []
    for c in cases:
        history = [Turn(t["question"], t["answer"]) for t in c.get("history") or []]
        query = analyse(c["question"], history)
        hits = pipe.retriever().retrieve(query.search, 10)
        out.append((c, assess(query, hits, pipe.corpus_has)))
    return out


def score(rows, policy: RefusalPolicy) -> dict:
    tp = fp = fn = 0
    answerable = sum(c["answerable"] for c, _ in rows)
    for c, ev in rows:
        refused = decide_refusal(ev, policy) == "not_covered"
        if refused and not c["answerable"]:
            tp += 1
        elif refused:
            fp += 1
        elif not c["answerable"]:
            fn += 1
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "false_refusal": fp / answerable if answerable else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="eval/dataset.jsonl")
    ap.add_argument("--max-false", type=float, default=0.03)
    args = ap.parse_args()
    cases = [json.loads(line) for line in Path(args.dataset).read_text(encoding="utf-8").splitlines() if line.strip()]
    pipe = Pipeline(load_settings())
    pipe.ensure_ready()
    rows = features(pipe, cases)
    grid = itertools.product([0.0, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7], [0.0, 0.5, 0.55, 0.6, 0.65, 0.7],
                             [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.01])
    results = []
    for cov, dense, missing in grid:
        s = score(rows, RefusalPolicy(cov, dense, missing))
        results.append((s["false_refusal"] <= args.max_false, s["f1"], -s["false_refusal"], cov, dense, missing, s))
    results.sort(reverse=True)
    print("min_coverage min_dense max_missing | precision recall f1 false_refusal")
    for ok, _f1, _neg, cov, dense, missing, s in results[:10]:
        print(f"{cov:12.2f} {dense:9.2f} {missing:11.2f} | {s['precision']:.3f} {s['recall']:.3f} {s['f1']:.3f} "
              f"{s['false_refusal']:.3f}{'' if ok else '  (over the false-refusal limit)'}")
    best = results[0]
    print(f"\nbest: ZHIBU_REFUSE_MIN_COVERAGE={best[3]} ZHIBU_REFUSE_MIN_DENSE={best[4]} ZHIBU_REFUSE_MAX_MISSING={best[5]}")
    for c, ev in rows:
        refused = decide_refusal(ev, RefusalPolicy(best[3], best[4], best[5])) == "not_covered"
        if refused == c["answerable"]:
            kind = "false refusal" if refused else "answered unanswerable"
            print(f"  {kind}: {c['id']} cov={ev.coverage:.2f} dense={ev.top_dense:.2f} "
                  f"missing={ev.missing_share:.2f} {list(ev.missing)} {c['question']}")


if __name__ == "__main__":
    main()
