#!/usr/bin/env python3
"""Check an evaluation dataset with the one validator `zhibu-qa eval` uses, and print counts per type.

    python eval/check_dataset.py [--dataset eval/dataset.jsonl] [--corpus corpus/....txt ...]

A thin wrapper around `zhibu_qa.evaluation.dataset.load_dataset`: the corpus files are parsed by
`zhibu_qa.ingest` (as `zhibu-qa ingest` would), and the dataset is checked against their texts,
article titles and section headings. Every problem is printed with its line number (at most
MAX_SHOWN, then how many more). Exit status 0 when clean, 1 when any problem was found.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # runs from a checkout without installing the package

from zhibu_qa.errors import DatasetError, IngestError  # noqa: E402
from zhibu_qa.evaluation.dataset import load_dataset  # noqa: E402
from zhibu_qa.ingest import read_and_parse  # noqa: E402
from zhibu_qa.types import QUESTION_TYPES  # noqa: E402

DEFAULT_DATASET = HERE / "dataset.jsonl"
DEFAULT_CORPUS = HERE.parent / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt"
MAX_SHOWN = 200  # a broken file of 100k lines must not print 100k problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS])
    args = ap.parse_args(argv)
    try:
        parsed = [read_and_parse(p) for p in args.corpus]
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    articles = [a for ps in parsed for a in ps.articles]
    try:
        cases = load_dataset(args.dataset, source_texts=[ps.text for ps in parsed],
                             titles=[a.title for a in articles],
                             headings=[s.heading for a in articles for s in a.sections if s.heading])
    except DatasetError as exc:
        for p in exc.problems[:MAX_SHOWN]:
            print("PROBLEM", p)
        if len(exc.problems) > MAX_SHOWN:
            print(f"… and {len(exc.problems) - MAX_SHOWN} more")
        print(f"{len(exc.problems)} problem(s)")
        return 1
    counts = Counter(c.type for c in cases)
    print(f"valid cases: {len(cases)}")
    for t in QUESTION_TYPES:
        print(f"  {t:<13}{counts[t]:>4}  {100 * counts[t] / len(cases):5.1f}%")
    print(f"articles covered: {len({a for c in cases for a in c.gold_article})}")
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
