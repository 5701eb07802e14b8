"""A development set from the MRC *training* articles, to check a rule without touching the held-out split.

Writes `OUT/corpus/*.md` and `OUT/dataset.jsonl` in the format of `zhibu-qa mrc-dataset` (absent-article
and detail-absent questions included), over a fixed random subset of the training articles.

Usage: python benchmarks/mrc_dev_set.py --data ../shared/datasets/mrc --out /tmp/mrcdev/eval [--articles 250] [--questions 800]
then:  zhibu-qa --index-dir /tmp/mrcdev/index ingest /tmp/mrcdev/eval/corpus/*.md
       zhibu-qa --index-dir /tmp/mrcdev/index index --quiet
       zhibu-qa --index-dir /tmp/mrcdev/index eval --configs hybrid --dataset /tmp/mrcdev/eval/dataset.jsonl
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from zhibu_qa.training.mrc import load_mrc, split, write_eval_set
from zhibu_qa.training.run import mrc_paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder of SQuAD-style JSON files")
    ap.add_argument("--out", required=True)
    ap.add_argument("--articles", type=int, default=250)
    ap.add_argument("--questions", type=int, default=800)
    args = ap.parse_args()
    train, held = split(load_mrc(mrc_paths(Path(args.data))))
    random.Random(7).shuffle(train)
    docs, dataset = write_eval_set(train[:args.articles], args.out, max_questions=args.questions, seed=5)
    print(f"{len(train)} training articles ({len(held)} held out); wrote {len(docs)} documents and {dataset}")


if __name__ == "__main__":
    main()
