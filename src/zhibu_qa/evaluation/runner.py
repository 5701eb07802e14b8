"""Run answer functions over evaluation cases, score each answer and aggregate per configuration.

Owns the per-question row (`score_case`), the benchmark loop with progress reporting and the
regression gate against metric floors. It does not know how answers are produced (each
configuration is just a callable) and writes no files (that is `report.write_report`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zhibu_qa.errors import ConfigError, RunCancelled
from zhibu_qa.evaluation import metrics as m
from zhibu_qa.types import Answer, EvalCase, Hit

AnswerFn = Callable[[EvalCase], Answer]
HIT_KS: tuple[int, ...] = (1, 3, 5, 10)
SECTION_K = 5
EVIDENCE_K = 5
# Row keys of score_case, in order; metric values are floats (0..1) or None when not applicable.
ROW_KEYS: tuple[str, ...] = (
    "id", "type", "answerable", "refused", "partial", *m.MEAN_METRICS, "latency_ms", "answer_chars",
)


@dataclass(frozen=True)
class CaseResult:
    """One question answered by one configuration, with its scored row."""

    config: str
    case: EvalCase
    answer: Answer
    row: dict[str, Any]


@dataclass(frozen=True)
class BenchmarkResult:
    """All case results (config-major, dataset order) and `metrics.aggregate` per configuration."""

    configs: tuple[str, ...]
    results: tuple[CaseResult, ...]
    aggregates: dict[str, dict[str, Any]]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every row with its configuration name under "config"."""
        return [{"config": r.config, **r.row} for r in self.results]

    def results_for(self, config: str) -> list[CaseResult]:
        if config not in self.configs:
            raise ConfigError(f"unknown configuration {config!r}; valid: {', '.join(self.configs)}")
        return [r for r in self.results if r.config == config]


def ranked_hits(answer: Answer) -> list[Hit]:
    """The answer's hits in rank order (stable for equal ranks)."""
    return sorted(answer.hits, key=lambda h: h.rank)


def score_case(case: EvalCase, answer: Answer, source_text_lookup: m.SourceLookup) -> dict[str, Any]:
    """The per-question row: ROW_KEYS with floats, or None where a metric does not apply.

    Retrieval metrics are computed for answerable questions (refused or not); answer and citation
    metrics for answerable questions, where a refusal scores 0; `quote_validity` whenever there are
    citations and `groundedness` for every non-refused answer with sentences. Refusal is scored over
    all questions by `metrics.aggregate`. `partial` is True for an answer that was given but
    flagged as only partly covered by the sources.
    """
    row: dict[str, Any] = dict.fromkeys(ROW_KEYS)
    row.update(id=case.id, type=case.type, answerable=case.answerable, refused=bool(answer.refused),
               partial=not answer.refused and answer.refusal_kind == "partial")
    row["latency_ms"] = float(answer.latency_ms)
    if not answer.refused:  # what the reader sees, without [n] markers and the partial note
        row["answer_chars"] = len(re.sub(r"\[[\d,，、\s]+\]|（注意：.*?）", "", answer.text))
    hits = ranked_hits(answer)
    titles = [h.meta.article_title for h in hits]
    if case.answerable and case.gold_article:
        gold = case.gold_article
        for k in HIT_KS:
            row[f"hit@{k}"] = m.hit_at_k(titles, gold, k)
        row["all_hit@5"] = m.all_hit_at_k(titles, gold, 5)
        row["mrr"] = m.reciprocal_rank(titles, gold)
        if case.gold_section:
            pairs = [(h.meta.article_title, h.meta.section) for h in hits]
            row[f"section_hit@{SECTION_K}"] = m.section_hit_at_k(pairs, gold, case.gold_section, SECTION_K)
    if case.answerable and case.evidence:
        texts = [h.chunk.text for h in hits]
        row[f"evidence_hit@{EVIDENCE_K}"] = m.evidence_hit_at_k(texts, case.evidence, EVIDENCE_K)
    if case.answerable:
        _score_answer(case, answer, row)
    row["quote_validity"] = m.quote_validity(answer.citations, source_text_lookup)
    if not answer.refused:
        row["groundedness"] = m.groundedness([s.support for s in answer.sentences])
    return row


def _score_answer(case: EvalCase, answer: Answer, row: dict[str, Any]) -> None:
    names = ("key_fact_recall", "char_f1", "em", "rouge_l", "cites_gold", "citation_precision")
    if answer.refused:
        row.update(dict.fromkeys(names, 0.0))
        return
    cited = [c.article_title for c in answer.citations]
    if case.key_facts:
        row["key_fact_recall"] = m.key_fact_recall(answer.text, case.key_facts)
    if case.answer.strip():
        row["char_f1"] = m.char_f1(answer.text, case.answer)
        row["em"] = m.exact_match(answer.text, case.answer)
        row["rouge_l"] = m.rouge_l_chars(answer.text, case.answer)
    if case.gold_article:
        row["cites_gold"] = m.cites_gold(cited, case.gold_article)
        row["citation_precision"] = m.citation_precision(cited, case.gold_article)


def run_benchmark(
    cases: Sequence[EvalCase],
    configs: Mapping[str, AnswerFn],
    *,
    source_text_lookup: m.SourceLookup,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    cancel=None,
) -> BenchmarkResult:
    """Answer every case with every configuration, score and aggregate.

    An answer's `latency_ms` of 0 is replaced by the measured wall time of the call. An exception
    from an answer function propagates (with a note naming the case and configuration).
    `on_progress(done, total)` is called after each answer (and once with done=0 at the start).
    `cancel` (a threading.Event or anything with is_set()) is checked before each question; once
    set, the run stops with RunCancelled.
    """
    if not configs:
        raise ConfigError("no configurations to benchmark; pass at least one name -> answer function")
    if not cases:
        raise ConfigError("no evaluation cases to benchmark")
    from tqdm.auto import tqdm

    total = len(cases) * len(configs)
    results: list[CaseResult] = []
    if on_progress is not None:
        on_progress(0, total)
    with tqdm(total=total, disable=not progress, desc="benchmark", unit="q") as bar:
        for name, answer_fn in configs.items():
            bar.set_postfix_str(name)
            for case in cases:
                if cancel is not None and cancel.is_set():
                    raise RunCancelled(f"benchmark cancelled after {len(results)} of {total} answers",
                                       len(results), total)
                answer = _answer(answer_fn, case, name)
                results.append(CaseResult(name, case, answer, score_case(case, answer, source_text_lookup)))
                bar.update(1)
                if on_progress is not None:
                    on_progress(len(results), total)
    aggregates = {
        name: m.aggregate([r.row for r in results if r.config == name]) for name in configs
    }
    return BenchmarkResult(configs=tuple(configs), results=tuple(results), aggregates=aggregates)


def _answer(answer_fn: AnswerFn, case: EvalCase, config: str) -> Answer:
    start = time.perf_counter()
    try:
        answer = answer_fn(case)
    except Exception as exc:
        exc.add_note(f"while answering evaluation case {case.id!r} with configuration {config!r}")
        raise
    elapsed_ms = (time.perf_counter() - start) * 1000
    if not isinstance(answer, Answer):
        raise TypeError(f"configuration {config!r} returned {type(answer).__name__}, expected Answer")
    return answer if answer.latency_ms else replace(answer, latency_ms=elapsed_ms)


# --- regression gate -------------------------------------------------------------------------

def load_floors(path: Path) -> dict[str, Any]:
    """Read a floors file: {"config": name, "metrics": {key: floor}, optional "ceilings": {key: max}}."""
    try:
        floors = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read metric floors file {path}: {exc}") from exc
    if not isinstance(floors, dict) or not isinstance(floors.get("metrics", {}), dict):
        raise ConfigError(f"{path}: expected {{\"config\": name, \"metrics\": {{metric: floor}}}}")
    return floors


PARAPHRASES = "paraphrases"  # the pseudo-configuration: the default one over eval/paraphrases.jsonl


def paraphrase_gap(aggregates: Mapping[str, Mapping[str, Any]], config: str) -> float | None:
    """Key-fact recall of the test part minus that of its paraphrases (None without paraphrases).

    Example: paraphrase_gap({"h": {"by_part": {"test": {"key_fact_recall": 0.9}}},
             "paraphrases": {"overall": {"key_fact_recall": 0.85}}}, "h") == 0.9 - 0.85
    """
    if PARAPHRASES not in aggregates or "test" not in aggregates[config].get("by_part", {}):
        return None
    test = aggregates[config]["by_part"]["test"]["key_fact_recall"]
    para = aggregates[PARAPHRASES]["overall"]["key_fact_recall"]
    return None if test is None or para is None else test - para


def compare_to_floors(aggregates: Mapping[str, Mapping[str, Any]], floors: Mapping[str, Any]) -> list[str]:
    """Messages for every metric below its floor (or above its ceiling); [] when all pass.

    `aggregates` maps configuration name -> `metrics.aggregate` output (BenchmarkResult.aggregates,
    or report.json's "configs"). Floors apply to the part named by "part" (e.g. "test"; default:
    all questions); "max_paraphrase_gap" bounds `paraphrase_gap`. A metric not measured fails.
    Example: compare_to_floors({"hybrid": {"overall": {"hit@3": 0.8}}},
             {"config": "hybrid", "metrics": {"hit@3": 0.9}}) == ["hybrid: hit@3 = 0.800 < floor 0.900"]
    """
    config = floors.get("config")
    if config not in aggregates:
        raise ConfigError(f"floors name configuration {config!r}; benchmarked: {', '.join(aggregates)}")
    part = floors.get("part")
    overall = aggregates[config]["by_part"][part] if part else aggregates[config]["overall"]
    failures: list[str] = []
    if "max_paraphrase_gap" in floors:
        gap = paraphrase_gap(aggregates, config)
        if gap is None:
            failures.append(f"{config}: paraphrase gap was not measured")
        elif gap > floors["max_paraphrase_gap"]:
            failures.append(f"{config}: paraphrase gap = {gap:.3f} > ceiling {floors['max_paraphrase_gap']:.3f}")
    bounds = [(k, v, "floor") for k, v in floors.get("metrics", {}).items()]
    bounds += [(k, v, "ceiling") for k, v in floors.get("ceilings", {}).items()]
    for key, bound, kind in bounds:
        if key not in overall:
            valid = ", ".join(m.AGGREGATE_METRICS)
            raise ConfigError(f"unknown metric {key!r} in floors; valid metrics: {valid}")
        value = overall[key]
        if value is None:
            failures.append(f"{config}: {key} was not measured ({kind} {bound:.3f})")
        elif kind == "floor" and value < bound:
            failures.append(f"{config}: {key} = {value:.3f} < floor {bound:.3f}")
        elif kind == "ceiling" and value > bound:
            failures.append(f"{config}: {key} = {value:.3f} > ceiling {bound:.3f}")
    return failures
