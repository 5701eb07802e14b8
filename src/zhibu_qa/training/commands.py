"""The CLI commands of the training tools: `train-selector` and `mrc-dataset` (argparse only here;
the work is in `training.run` and `training.mrc`, imported when a command runs)."""

from __future__ import annotations

from pathlib import Path


def cmd_train_selector(args, settings) -> int:
    from zhibu_qa.training.run import train

    out = {"out_dir": Path(args.out)} if args.out else {}
    train(settings, Path(args.data), work_dir=Path(args.work), dataset=Path(args.dataset) if args.dataset else None,
          max_questions=args.max_questions, **out)
    return 0


def cmd_mrc_dataset(args, settings) -> int:
    from zhibu_qa.training.mrc import load_mrc, split, write_eval_set
    from zhibu_qa.training.run import mrc_paths

    _, held = split(load_mrc(mrc_paths(Path(args.data))))
    docs, dataset = write_eval_set(held, Path(args.out), max_questions=args.max_questions)
    print(f"{len(docs)} documents in {Path(args.out) / 'corpus'}; questions in {dataset}")
    return 0


def add_commands(sub, positive) -> None:
    """Add the training commands to the CLI's subparsers; `func` takes (args, settings)."""
    s = sub.add_parser("train-selector", help="fit the answer selector and answerability models from MRC data")
    s.add_argument("--data", required=True, help="folder of SQuAD-style JSON files (CMRC 2018, DRCD)")
    s.add_argument("--work", default="index/train", help="scratch folder for the MRC training index")
    s.add_argument("--dataset", default="eval/dataset.jsonl", help="its tuning part joins the training data ('' = none)")
    s.add_argument("--max-questions", type=positive, default=3000, help="MRC training questions sampled")
    s.add_argument("--out", help="where to write the models (default: the package's data folder)")
    s.set_defaults(func=cmd_train_selector, needs_settings=True)

    s = sub.add_parser("mrc-dataset", help="write the held-out MRC split as documents + an eval dataset")
    s.add_argument("--data", required=True, help="folder of SQuAD-style JSON files")
    s.add_argument("--out", required=True, help="target folder (corpus/*.md and dataset.jsonl)")
    s.add_argument("--max-questions", type=positive, default=None, help="sample this many questions")
    s.set_defaults(func=cmd_mrc_dataset, needs_settings=True)
