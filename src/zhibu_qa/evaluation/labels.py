"""Chinese names of benchmark metrics and question types, for evaluators reading reports and the UI.

Display only: report.json, floors and every other tool keep the English keys of `metrics`.
`metric_name` shows both ("关键事实召回率 (key_fact_recall)"), `metric_label` the Chinese alone
where space is short (chart bars); unknown keys fall back to the key itself. `fmt` formats a value.
"""

from __future__ import annotations

import re
from typing import Any

# key -> Chinese name; hit@k / all_hit@k / section_hit@k / evidence_hit@k are built by `_ranked`.
METRIC_NAMES: dict[str, str] = {
    "n": "题数", "n_answerable": "可回答题数", "n_unanswerable": "不可回答题数", "n_refused": "拒答题数",
    "mrr": "平均倒数排名", "key_fact_recall": "关键事实召回率", "char_f1": "字符 F1", "em": "完全匹配率",
    "rouge_l": "ROUGE-L 重合度", "cites_gold": "引用正确文章率", "citation_precision": "引用精确率",
    "quote_validity": "引文有效率", "groundedness": "原文支撑度",
    "refusal_precision": "拒答精确率", "refusal_recall": "拒答召回率", "refusal_f1": "拒答 F1",
    "false_refusal_rate": "误拒率", "partial_rate": "部分覆盖提示率",
    "refusal_or_partial_recall": "拒答或提示召回率", "answered_note_rate": "作答附提示率",
    "latency_p50_ms": "延迟中位数（毫秒）", "latency_p95_ms": "延迟 P95（毫秒）",
    "latency_mean_ms": "平均延迟（毫秒）", "latency_ms": "延迟（毫秒）",
    "answer_chars_p50": "回答字数中位数", "answer_chars": "回答字数",
}
_RANKED = {"hit": "检索命中率", "all_hit": "全部命中率", "section_hit": "小节命中率", "evidence_hit": "证据命中率"}
_RANKED_RE = re.compile(r"^(all_hit|section_hit|evidence_hit|hit)@(\d+)$")
# Question types of eval/dataset.jsonl (`types.QUESTION_TYPES`).
TYPE_NAMES: dict[str, str] = {
    "factoid": "事实", "number": "数字", "list": "列举", "explain": "解释", "compare": "比较",
    "followup": "追问", "adversarial": "干扰", "unanswerable": "不可回答",
}


def metric_label(key: str) -> str:
    """The Chinese name alone. Example: metric_label("hit@5") == "检索命中率@5" """
    ranked = _RANKED_RE.match(key)
    if ranked:
        return f"{_RANKED[ranked.group(1)]}@{ranked.group(2)}"
    return METRIC_NAMES.get(key, key)


def metric_name(key: str) -> str:
    """Chinese name with the English key in brackets.

    Example: metric_name("key_fact_recall") == "关键事实召回率 (key_fact_recall)"
    """
    label = metric_label(key)
    return key if label == key else f"{label} ({key})"


def type_name(question_type: str) -> str:
    """Example: type_name("unanswerable") == "不可回答 (unanswerable)" """
    label = TYPE_NAMES.get(question_type)
    return f"{label} ({question_type})" if label else question_type


def fmt(key: str, value: Any) -> str:
    """A metric value for a table: '—' for None, whole ms for latencies, else three decimals.

    Example: fmt("hit@3", 0.5) == "0.500" and fmt("latency_p50_ms", 812.4) == "812"
    """
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.0f}" if key.endswith("_ms") or key.startswith("answer_chars") else f"{value:.3f}"
