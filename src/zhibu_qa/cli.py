"""The `zhibu-qa` command line: argument parsing and output; every ZhibuError becomes one line.

Heavy modules (torch, faiss, gradio) are imported inside the subcommands so `--help` stays fast.
Everything written to the terminal passes through `clean_terminal_text`, so escape sequences in a
question, a document or a file name are never interpreted by the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from zhibu_qa import __version__, cli_archive
from zhibu_qa.app.terminal import CleanStream, clean_terminal_text  # noqa: F401 - clean_terminal_text is part of the CLI API
from zhibu_qa.cli_archive import add_filter_args, issue_filter
from zhibu_qa.config import Settings, load_settings
from zhibu_qa.errors import DatasetError, ZhibuError
from zhibu_qa.types import Turn

EXIT_USER_ERROR = 2
MAX_PROBLEMS_SHOWN = 20  # a malformed dataset's problem list: the first 20, then "… N more"
TOP_K_RANGE = (1, 20)  # as the top_k setting and the UI
def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value!r}")
    return n


def _top_k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"-k must be a whole number, got {value!r}") from None
    low, high = TOP_K_RANGE
    if not low <= k <= high:
        raise argparse.ArgumentTypeError(f"-k must be between {low} and {high}, got {k}")
    return k


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def _out(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _settings(args) -> Settings:
    overrides = {}
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = args.index_dir
    return load_settings(args.config, **overrides)


def _pipeline(args, log=None):
    from zhibu_qa.pipeline import Pipeline

    return Pipeline(_settings(args), log=log or (lambda s: print(s, file=sys.stderr)))


# ---- subcommands -----------------------------------------------------------------------------

def cmd_fetch_model(args) -> int:
    from zhibu_qa.indexing.models import fetch_model

    target = args.model_dir or _settings(args).embedding_model
    fetch_model(target, force=args.force, from_dir=args.from_dir)
    return 0


def cmd_ingest(args) -> int:
    from zhibu_qa.app.formatting import format_ingest_report

    pipe = _pipeline(args)
    if args.repair:
        report = pipe.repair()
        for line in report.lines:
            print(line)
        for line in report.lost:
            print(f"not restored: {line}", file=sys.stderr)
        return EXIT_USER_ERROR if report.lost else 0
    if args.remove:
        pipe.remove(args.remove)
        print(f"removed {args.remove}; run `zhibu-qa index` to update the search index")
        return 0
    if not args.paths:
        raise ZhibuError("give at least one PATH to ingest (or --remove PATH, or --repair)")
    t0 = time.perf_counter()
    if args.check:
        for ps in pipe.parse(args.paths):
            print(format_ingest_report(ps))
        return 0
    changes, parsed = pipe.ingest(args.paths)
    for ch in changes:
        note = f" ({ch.note})" if ch.note else ""
        print(f"{ch.action:9} {ch.path}: {ch.n_articles} articles, issue {ch.issue_id}{note}")
    for ps in parsed:
        for w in ps.report.warnings:
            print(f"warning: {ps.issue.source_path}: {w}", file=sys.stderr)
    print(f"ingest took {time.perf_counter() - t0:.2f} s")
    return 0


def cmd_articles(args) -> int:
    issue_filter(args)  # a bad date fails before anything loads
    return cli_archive.cmd_articles(args, _pipeline(args))


def cmd_index(args) -> int:
    pipe = _pipeline(args)
    status = pipe.index_status()
    if args.status:
        print(status)
        print(pipe.index_summary())
        return 0
    problem = pipe.catalogue_problem()
    if problem:
        raise ZhibuError(problem)
    if status == "ok" and not args.rebuild:
        print("index is up to date; nothing to do (use --rebuild to start over)")
        return 0
    t0 = time.perf_counter()
    stats = pipe.build_index(rebuild=args.rebuild, progress=not args.quiet)
    print(f"indexed {stats.n_chunks} chunks: {stats.n_embedded} embedded, {stats.n_reused} reused, "
          f"{stats.n_removed} removed in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_search(args) -> int:
    from zhibu_qa.app.formatting import search_json

    issue_filter(args)
    pipe = _pipeline(args)
    mode = args.mode or pipe.settings.retrieval_mode
    filters = cli_archive.filters(args, pipe.catalogue)
    pipe.warm_up()
    if args.batch:
        for item in _read_batch(args.batch):
            hits, ms = pipe.search(item["question"], args.k, mode, filters)
            _out({"id": item.get("id"), **search_json(item["question"], mode, ms, hits)})
        return 0
    if not args.query:
        raise ZhibuError("give a query or --batch FILE")
    hits, ms = pipe.search(args.query, args.k, mode, filters)
    if args.json:
        _out(search_json(args.query, mode, ms, hits))
        return 0
    for h in hits:
        where = " · ".join(x for x in (h.meta.article_title, h.meta.column, h.meta.section, h.meta.issue) if x)
        print(f"[{h.rank}] {h.score:.4f}  {where}\n    {h.chunk.text[:120]}")
    print(f"({mode}, {ms:.1f} ms)")
    return 0


def _read_batch(path: str) -> list[dict]:
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ZhibuError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise ZhibuError(f"{path}:{n}: each line needs a \"question\" string")
        items.append(obj)
    return items


def cmd_ask(args) -> int:
    from zhibu_qa.answer.analysis import check_question
    from zhibu_qa.app.formatting import answer_json, format_answer

    settings = _settings(args)  # arguments first: a bad call fails before the model loads
    batch = _read_batch(args.batch) if args.batch else None
    if batch is None:
        if not args.question:
            raise ZhibuError("give a question or --batch FILE")
        check_question(args.question, settings.max_question_chars)
    issue_filter(args)
    pipe = _pipeline(args)
    pipe.warm_up()
    kw = {"backend": args.backend, "k": args.k, "mode": args.mode, "filters": cli_archive.filters(args, pipe.catalogue)}
    if batch is not None:
        for item in batch:
            history = [Turn(t["question"], t["answer"]) for t in item.get("history") or []]
            try:
                _out({"id": item.get("id"), **answer_json(pipe.ask(item["question"], history, **kw))})
            except ZhibuError as exc:
                _out({"id": item.get("id"), "question": item["question"], "error": str(exc)})
        return 0
    answer = None
    for event in pipe.stream(args.question, **kw):
        if isinstance(event, str):
            if not args.json:
                sys.stdout.write(event)
                sys.stdout.flush()
        else:
            answer = event
    if args.json:
        _out(answer_json(answer))
    else:
        print()
        print(format_answer(answer))
    return 0


def cmd_lesson(args) -> int:
    from zhibu_qa.lessons import build_lesson, check_out_path, check_topic, write_lesson

    check_topic(args.topic)  # arguments first: a bad call fails before the model loads
    issue_filter(args)
    if args.out:
        check_out_path(Path(args.out))
    pipe = _pipeline(args)
    lesson = build_lesson(pipe, args.topic, filters=cli_archive.filters(args, pipe.catalogue))
    if args.out:
        write_lesson(lesson, Path(args.out))
        print(f"wrote {args.out}")
        if lesson.warning:
            print(f"zhibu-qa: 注意：{lesson.warning}", file=sys.stderr)
    else:
        from zhibu_qa.lessons import lesson_markdown

        print(lesson_markdown(lesson))
    return 0


DEFAULT_DATASET, DEFAULT_PARAPHRASES = "eval/dataset.jsonl", "eval/paraphrases.jsonl"


def cmd_eval(args) -> int:
    from zhibu_qa.benchmark import run_eval

    pipe = _pipeline(args)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    try:
        paraphrases = args.paraphrases
        if paraphrases is None and args.dataset == DEFAULT_DATASET and Path(DEFAULT_PARAPHRASES).exists():
            paraphrases = DEFAULT_PARAPHRASES
        paraphrases = Path(paraphrases) if paraphrases else None
        out = run_eval(pipe, Path(args.dataset), Path(args.out), configs, backend=args.backend,
                       limit=args.limit, paraphrases=paraphrases)
    except DatasetError as exc:
        print(f"zhibu-qa: error: {exc}", file=sys.stderr)
        for p in exc.problems[:MAX_PROBLEMS_SHOWN]:
            print(f"  {p}", file=sys.stderr)
        if len(exc.problems) > MAX_PROBLEMS_SHOWN:
            print(f"  … {len(exc.problems) - MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
        return EXIT_USER_ERROR
    print(out)
    return 0


def cmd_serve(args) -> int:
    from zhibu_qa.app.ui import serve

    settings = _settings(args)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
    serve(settings.replace(**overrides))
    return 0


# ---- parser ----------------------------------------------------------------------------------

def build_parser() -> Parser:
    p = Parser(prog="zhibu-qa", description="Grounded Q&A over 天津支部生活 (see README.md)")
    p.add_argument("--version", action="version", version=f"zhibu-qa {__version__}")
    p.add_argument("--config", help="settings file (default: ./zhibu_qa.toml if present)")
    p.add_argument("--index-dir", help="where the catalogue and index live (default: index/)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    s = sub.add_parser("fetch-model", help="fetch and verify the m3e-small embedding model (offline-safe)")
    s.add_argument("--model-dir", help="target directory (default: the embedding_model setting)")
    s.add_argument("--force", action="store_true", help="fetch again even if present")
    s.add_argument("--from-dir", help="install from a folder copied by hand instead of downloading")
    s.set_defaults(func=cmd_fetch_model)

    s = sub.add_parser("ingest", help="add issues or documents (text, Markdown, PDF) to the catalogue")
    s.add_argument("paths", nargs="*", metavar="PATH")
    s.add_argument("--check", action="store_true", help="only print the validation report; change nothing")
    s.add_argument("--remove", metavar="PATH", help="remove an ingested source (path or issue id)")
    s.add_argument("--repair", action="store_true",
                   help="restore a damaged catalogue (from catalogue.json.bak) and missing/damaged source texts "
                        "(from the original files); report what cannot be restored")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("articles", help="list the catalogue by issue, most recent first")
    s.add_argument("--json", action="store_true")
    s.add_argument("--issues", action="store_true", help="list the issues only (id, date, articles)")
    add_filter_args(s, columns=False)
    s.set_defaults(func=cmd_articles)

    s = sub.add_parser("index", help="build or update the search index (incremental)")
    s.add_argument("--rebuild", action="store_true", help="start over, re-embedding everything")
    s.add_argument("--status", action="store_true",
                   help="verify every checksum; print ok / missing: … / stale: … / damaged: … and exit")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_index)

    for name, helptext in (("search", "retrieve passages"), ("ask", "answer a question with citations")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("query" if name == "search" else "question", nargs="?")
        s.add_argument("-k", type=_top_k, default=None, help="number of passages (1-20)")
        s.add_argument("--mode", choices=("hybrid", "dense", "bm25"), help="retrieval mode")
        s.add_argument("--json", action="store_true")
        s.add_argument("--batch", metavar="FILE.jsonl", help='lines {"id", "question"}; one JSON result per line')
        add_filter_args(s)
        if name == "ask":
            s.add_argument("--backend", choices=("extractive", "openai"), help="answer backend")
        s.set_defaults(func=cmd_search if name == "search" else cmd_ask)

    s = sub.add_parser("lesson", help="build a lesson outline on a topic")
    s.add_argument("topic")
    s.add_argument("--out", help="write Markdown (.md) or Word (.docx)")
    add_filter_args(s)
    s.set_defaults(func=cmd_lesson)

    s = sub.add_parser("eval", help="run the answer-quality benchmark")
    s.add_argument("--dataset", default=DEFAULT_DATASET)
    s.add_argument("--out", default="eval/out")
    s.add_argument("--configs", default="hybrid,dense,bm25,naive")
    s.add_argument("--backend", choices=("extractive", "openai"), default="extractive")
    s.add_argument("--limit", type=_positive, default=None, help="a sample of N questions covering every question type")
    s.add_argument("--paraphrases", default=None,
                   help=f"reworded test questions answered by the first configuration (default with the default "
                        f"dataset: {DEFAULT_PARAPHRASES}; '' = none)")
    s.set_defaults(func=cmd_eval)

    from zhibu_qa.training.commands import add_commands

    add_commands(sub, _positive)

    s = sub.add_parser("serve", help="run the Gradio app")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CleanStream(stdout), CleanStream(stderr)
    try:
        return _run(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    # no "Loading weights" bars on ordinary commands; index builds and eval keep their own bars
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return args.func(args, _settings(args)) if getattr(args, "needs_settings", False) else args.func(args)
    except ZhibuError as exc:
        print(f"zhibu-qa: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `zhibu-qa … | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
        return 0
    except OSError as exc:  # disk full, permissions, a port in use: the system's words, one line
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"zhibu-qa: error: {_one_line(exc.strerror or str(exc))}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("zhibu-qa: interrupted", file=sys.stderr)
        return 130


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
