"""Wires the evaluation package to a Pipeline: validate a dataset, run configurations, write a report.

Configurations are retrieval modes of the full ask pipeline (hybrid, dense, bm25) plus "naive"
(fixed 500-character windows over the raw file, dense only). Models and indexes load once.
Validation happens before anything is written, so a bad dataset leaves the output dir untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from zhibu_qa.errors import ConfigError, ZhibuError
from zhibu_qa.types import Answer, EvalCase

CONFIGS = ("hybrid", "dense", "bm25", "naive")


def load_cases(pipeline, dataset: Path) -> list[EvalCase]:
    from zhibu_qa.evaluation.dataset import load_dataset

    cat = pipeline.catalogue
    headings = [s.heading for a in cat.articles for s in a.sections if s.heading]
    return load_dataset(Path(dataset), source_texts=list(pipeline.sources.values()),
                        titles=[a.title for a in cat.articles], headings=headings)


def answer_fn(pipeline, config: str, backend: str) -> Callable[[EvalCase], Answer]:
    def ask(case: EvalCase) -> Answer:
        t0 = time.perf_counter()
        try:
            return pipeline.ask(case.question, case.history, mode=config, backend=backend)
        except ZhibuError as exc:  # e.g. an over-long question: scored as a refusal, not a crash
            return Answer(case.question, str(exc), True, "not_covered", (), (), (), backend,
                          latency_ms=(time.perf_counter() - t0) * 1000, notices=(str(exc),))
    return ask


def citation_source(pipeline) -> Callable:
    issue_of = {a.id: a.issue_id for a in pipeline.catalogue.articles}
    return lambda citation: pipeline.sources.get(issue_of.get(citation.article_id, ""))


def run_eval(pipeline, dataset: Path, out_dir: Path, configs: Sequence[str] = CONFIGS, *,
             backend: str = "extractive", limit: int | None = None, paraphrases: Path | None = None,
             on_progress: Callable[[int, int], None] | None = None, progress: bool = True,
             cancel=None) -> Path:
    """Run the benchmark and write results.jsonl, report.json, report.md and chart.png to out_dir.

    `limit` takes a sample of that many questions covering every question type
    (`evaluation.sample`). With `paraphrases`, the first configuration also answers them, reported
    as the pseudo configuration "paraphrases" (the paraphrase gap compares it with the test part).
    `cancel` (a threading.Event) stops the run between questions with RunCancelled; nothing is written.
    """
    from zhibu_qa.evaluation.report import write_report
    from zhibu_qa.evaluation.runner import PARAPHRASES, BenchmarkResult, run_benchmark

    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        raise ConfigError(f"unknown configuration(s) {', '.join(unknown) or '(none)'}; valid: {', '.join(CONFIGS)}")
    pipeline.ensure_ready()
    cases = load_cases(pipeline, dataset)
    if limit:
        from zhibu_qa.evaluation.sample import stratified_sample

        cases = stratified_sample(cases, limit)
    para_cases = load_cases(pipeline, paraphrases) if paraphrases is not None else []
    result = run_benchmark(cases, {c: answer_fn(pipeline, c, backend) for c in configs},
                           source_text_lookup=citation_source(pipeline), progress=progress,
                           on_progress=on_progress, cancel=cancel)
    if para_cases:
        extra = run_benchmark(para_cases, {PARAPHRASES: answer_fn(pipeline, configs[0], backend)},
                              source_text_lookup=citation_source(pipeline), progress=progress, cancel=cancel)
        result = BenchmarkResult(result.configs + extra.configs, result.results + extra.results,
                                 {**result.aggregates, **extra.aggregates})
    settings = replace(pipeline.settings).redacted()
    write_report(result, Path(out_dir), dataset_path=str(dataset), settings={**settings, "backend": backend},
                 default_config=configs[0])
    return Path(out_dir)
