"""What went right and wrong with single benchmark answers, for the worst-question list and the
per-question drill-down: a 0..1 quality for ranking, short Chinese phrases naming the problems,
and which key facts the answer contains. Aggregate scoring is `metrics`/`runner`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zhibu_qa.evaluation import metrics as m
from zhibu_qa.evaluation.runner import CaseResult, ranked_hits

N_WORST = 10


def case_quality(row: Mapping[str, Any]) -> float:
    """0..1 quality of one row for ranking the worst questions (not a reported metric).

    Unanswerable: 1 if refused else 0. Answerable: 0 if refused, else the mean of hit@5,
    key_fact_recall, cites_gold, rouge_l and quote_validity where present.
    Example: case_quality({"answerable": False, "refused": False}) == 0.0
    """
    if not row["answerable"] or row["refused"]:
        return float(row["refused"] and not row["answerable"])
    keys = ("hit@5", "key_fact_recall", "cites_gold", "rouge_l", "quote_validity")
    value = m.mean(row.get(k) for k in keys)
    return 0.0 if value is None else value


def key_facts_split(r: CaseResult) -> tuple[list[str], list[str]]:
    """(key facts the answer contains, key facts it misses); a refusal misses them all.

    Example: for key facts ("1200名", "三会一课") and the answer "共有党员1200名", (["1200名"], ["三会一课"])
    """
    facts = list(r.case.key_facts)
    missed = facts if r.answer.refused else m.missing_key_facts(r.answer.text, facts)
    return [f for f in facts if f not in missed], list(missed)


def diagnose(r: CaseResult) -> list[str]:
    """Short Chinese phrases saying what went wrong with one answer ([] when nothing did)."""
    row, case, answer = r.row, r.case, r.answer
    found: list[str] = []
    not_retrieved = False
    if case.answerable and answer.refused:
        found.append("误拒：可回答的问题被拒答")
    if not case.answerable and not answer.refused:
        found.append("不可回答的问题却作了回答" + ("（已提示仅部分覆盖）" if answer.refusal_kind == "partial" else ""))
    if case.answerable and case.gold_article:
        rank = m.first_gold_rank([h.meta.article_title for h in ranked_hits(answer)], case.gold_article)
        if rank is None:
            not_retrieved = True
            found.append("未检索到标准文章")
        elif rank > 3:
            found.append(f"标准文章仅排在第 {rank} 位")
        elif row.get("section_hit@5") == 0.0:
            found.append("标准小节不在前 5 段")
    if row.get("evidence_hit@5") == 0.0 and not not_retrieved:
        found.append("前 5 段中没有证据段落")
    if case.answerable and not answer.refused:
        missing = m.missing_key_facts(answer.text, case.key_facts)
        if missing:
            found.append("缺少关键事实：" + "、".join(f"“{f}”" for f in missing))
        if row.get("cites_gold") == 0.0:
            found.append("未引用标准文章" if answer.citations else "没有引用")
    if row.get("quote_validity") is not None and row["quote_validity"] < 1.0:
        bad = round((1 - row["quote_validity"]) * len(answer.citations))
        found.append(f"{len(answer.citations)} 条引文中有 {bad} 条与原文不符")
    if row.get("groundedness") is not None and row["groundedness"] < 0.5:
        found.append(f"原文支撑不足（{row['groundedness']:.2f}）")
    return found


def worst_cases(results: Sequence[CaseResult], n: int = N_WORST) -> list[CaseResult]:
    """The n lowest-quality imperfect results, worst first.

    Ties go round-robin over question types (then dataset order), so one type cannot fill the list.
    """
    seen: dict[tuple[float, str], int] = {}
    keyed = []
    for i, r in enumerate(results):
        quality = case_quality(r.row)
        if quality < 1.0 or diagnose(r):
            tie = (quality, r.case.type)
            seen[tie] = seen.get(tie, 0) + 1
            keyed.append(((quality, seen[tie], i), r))
    return [r for _, r in sorted(keyed, key=lambda t: t[0])][:n]
