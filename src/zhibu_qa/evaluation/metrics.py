"""Benchmark metrics as pure functions: retrieval, answer overlap, citations, refusal, aggregation.

Owns the definitions only; it knows nothing about how answers are produced or how reports look.
Turning one `Answer` into a row of these values is `runner.score_case`; `aggregate` averages rows.
Titles and headings are compared with `text.title_key`; answer text with `normalize_answer`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from zhibu_qa.text import title_key
from zhibu_qa.types import Citation, ParsedSource

# A quote's source text: a callable, or a mapping from article id to the text offsets refer to.
SourceLookup = Callable[[Citation], str | None] | Mapping[str, str]

# Keys of a per-question row (see runner.score_case) that `aggregate` averages, in report order.
MEAN_METRICS: tuple[str, ...] = (
    "hit@1", "hit@3", "hit@5", "hit@10", "all_hit@5", "mrr", "section_hit@5", "evidence_hit@5",
    "key_fact_recall", "char_f1", "em", "rouge_l", "cites_gold", "citation_precision",
    "quote_validity", "groundedness",
)
REFUSAL_METRICS: tuple[str, ...] = (
    "refusal_precision", "refusal_recall", "refusal_f1", "false_refusal_rate", "partial_rate",
    "refusal_or_partial_recall", "answered_note_rate",
)
LATENCY_METRICS: tuple[str, ...] = ("latency_p50_ms", "latency_p95_ms", "latency_mean_ms", "answer_chars_p50")
AGGREGATE_METRICS: tuple[str, ...] = MEAN_METRICS + REFUSAL_METRICS + LATENCY_METRICS

_QUOTES = str.maketrans({"『": "“", "』": "”", "「": "“", "」": "”"})
# CMRC-2018 mixed segmentation: CJK (and any other) characters one by one, Latin/digit runs whole.
_SEGMENT_RE = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*|.", re.DOTALL)


# --- normalisation ---------------------------------------------------------------------------

def _dropped(ch: str) -> bool:
    """Punctuation (P*), symbols (S*), separators (Z*) and control characters (C*)."""
    return unicodedata.category(ch)[0] in "PSZC"


def normalize_answer(text: str) -> str:
    """NFKC, lower case, without whitespace, punctuation or symbols.

    Example: normalize_answer("“三会一课” 制度，２０２４年！") == "三会一课制度2024年"
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)
    return "".join(ch for ch in text if not _dropped(ch))


def answer_segments(text: str) -> list[str]:
    """Tokens for F1/EM: one per CJK character, one per Latin/digit run (CMRC-2018 mixed segmentation).

    Example: answer_segments("共 12.5 万名党员, GDP") == ["共", "12.5", "万", "名", "党", "员", "gdp"]
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return [tok for tok in _SEGMENT_RE.findall(text) if not all(_dropped(ch) for ch in tok)]


def _matches(titles: Iterable[str | None]) -> set[str]:
    return {title_key(t) for t in titles if t is not None}


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _check_gold(gold: Sequence[Any], what: str) -> None:
    if not gold:
        raise ValueError(f"no gold {what} given")


# --- retrieval -------------------------------------------------------------------------------

def hit_at_k(ranked_titles: Sequence[str], gold_titles: Sequence[str], k: int) -> float:
    """1.0 when ANY gold title is among the first k ranked (chunk) titles, else 0.0.

    Example: hit_at_k(["甲", "乙 文", "丙"], ["乙文"], 2) == 1.0
    """
    _check_k(k)
    _check_gold(gold_titles, "titles")
    gold = _matches(gold_titles)
    return float(any(title_key(t) in gold for t in ranked_titles[:k]))


def all_hit_at_k(ranked_titles: Sequence[str], gold_titles: Sequence[str], k: int) -> float:
    """1.0 when EVERY gold title is among the first k ranked titles (for compare questions).

    Example: all_hit_at_k(["甲", "丙", "乙"], ["甲", "乙"], 2) == 0.0
    """
    _check_k(k)
    _check_gold(gold_titles, "titles")
    top = _matches(ranked_titles[:k])
    return float(all(title_key(g) in top for g in gold_titles))


def reciprocal_rank(ranked_titles: Sequence[str], gold_titles: Sequence[str]) -> float:
    """1/position of the first ranked title that is a gold title; 0.0 when none is.

    Example: reciprocal_rank(["甲", "乙", "丙"], ["丙", "丁"]) == 1 / 3
    """
    _check_gold(gold_titles, "titles")
    gold = _matches(gold_titles)
    for i, title in enumerate(ranked_titles, start=1):
        if title_key(title) in gold:
            return 1.0 / i
    return 0.0


def first_gold_rank(ranked_titles: Sequence[str], gold_titles: Sequence[str]) -> int | None:
    """1-based position of the first gold title, None when absent.

    Example: first_gold_rank(["甲", "乙"], ["乙"]) == 2
    """
    rr = reciprocal_rank(ranked_titles, gold_titles)
    return round(1 / rr) if rr else None


def section_hit_at_k(
    ranked: Sequence[tuple[str, str | None]],
    gold_titles: Sequence[str],
    gold_sections: Sequence[str | None],
    k: int,
) -> float:
    """1.0 when a top-k (title, heading) pair has a gold title and a gold heading (None = the lead).

    Titles and headings pair freely (any gold title with any gold section).
    Example: section_hit_at_k([("甲", None), ("乙", "二、做法")], ["乙"], ["二、做法"], 2) == 1.0
    """
    _check_k(k)
    _check_gold(gold_titles, "titles")
    _check_gold(gold_sections, "sections")
    titles = _matches(gold_titles)
    want_lead = any(s is None for s in gold_sections)
    headings = _matches(gold_sections)
    for title, heading in ranked[:k]:
        if title_key(title) not in titles:
            continue
        if (heading is None and want_lead) or (heading is not None and title_key(heading) in headings):
            return 1.0
    return 0.0


def evidence_hit_at_k(ranked_texts: Sequence[str], evidence: Sequence[str], k: int) -> float:
    """1.0 when any evidence string is contained (normalised) in any of the top-k texts.

    Example: evidence_hit_at_k(["……坚持“三会一课”制度……"], ["坚持「三会一课」制度"], 1) == 1.0
    """
    _check_k(k)
    _check_gold(evidence, "evidence")
    texts = [normalize_answer(t) for t in ranked_texts[:k]]
    needles = [n for n in (normalize_answer(e) for e in evidence) if n]
    return float(any(n in t for n in needles for t in texts))


# --- answers ---------------------------------------------------------------------------------

def missing_key_facts(answer: str, key_facts: Sequence[str]) -> list[str]:
    """The key facts not contained (normalised) in the answer.

    Example: missing_key_facts("共有 1,200 名党员", ["1200名", "三会一课"]) == ["三会一课"]
    """
    text = normalize_answer(answer)
    return [f for f in key_facts if normalize_answer(f) not in text]


def key_fact_recall(answer: str, key_facts: Sequence[str]) -> float:
    """Share of key facts contained in the answer (NFKC, whitespace/punctuation-insensitive).

    Example: key_fact_recall("共有 1,200 名党员", ["1200名", "三会一课"]) == 0.5
    """
    _check_gold(key_facts, "key facts")
    return 1.0 - len(missing_key_facts(answer, key_facts)) / len(key_facts)


def _longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                best = max(best, cur[j + 1])
        prev = cur
    return best


def _longest_common_subsequence(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            cur[j + 1] = prev[j] + 1 if x == y else max(prev[j + 1], cur[j])
        prev = cur
    return prev[-1]


def _f1(overlap: int, n_pred: int, n_ref: int) -> float:
    if n_pred == 0 and n_ref == 0:
        return 1.0
    if overlap == 0:
        return 0.0
    precision, recall = overlap / n_pred, overlap / n_ref
    return 2 * precision * recall / (precision + recall)


def char_f1(pred: str, ref: str) -> float:
    """CMRC-2018 F1: longest common substring of the mixed segments, as precision/recall F1.

    Both empty after normalisation scores 1.0 (from the CMRC-2018 evaluate script's definition).
    Example: char_f1("党员大会", "支部党员大会") == 0.8
    """
    p, r = answer_segments(pred), answer_segments(ref)
    return _f1(_longest_common_substring(p, r), len(p), len(r))


def exact_match(pred: str, ref: str) -> float:
    """1.0 when both are equal without whitespace and punctuation (CMRC-2018 EM).

    Example: exact_match("“三会一课”。", "三会一课") == 1.0
    """
    return float("".join(answer_segments(pred)) == "".join(answer_segments(ref)))


def rouge_l_chars(pred: str, ref: str) -> float:
    """ROUGE-L F1 (beta = 1) over characters: longest common subsequence of the normalised texts.

    Example: rouge_l_chars("党的大会", "党员大会") == 0.75
    """
    p, r = list(normalize_answer(pred)), list(normalize_answer(ref))
    return _f1(_longest_common_subsequence(p, r), len(p), len(r))


# --- citations and grounding -----------------------------------------------------------------

def cites_gold(cited_titles: Sequence[str], gold_titles: Sequence[str]) -> float:
    """1.0 when at least one cited title is a gold title.

    Example: cites_gold(["甲", "乙"], ["乙"]) == 1.0
    """
    gold = _matches(gold_titles)
    return float(any(title_key(t) in gold for t in cited_titles))


def citation_precision(cited_titles: Sequence[str], gold_titles: Sequence[str]) -> float:
    """Share of citations that point into a gold article; 0.0 when nothing is cited.

    Example: citation_precision(["甲", "乙", "乙"], ["乙"]) == 2 / 3
    """
    if not cited_titles:
        return 0.0
    gold = _matches(gold_titles)
    return sum(title_key(t) in gold for t in cited_titles) / len(cited_titles)


def source_lookup(sources: Iterable[ParsedSource]) -> Callable[[Citation], str | None]:
    """A lookup giving the source text a citation's offsets refer to, found by its article id."""
    by_article = {a.id: src.text for src in sources for a in src.articles}
    return lambda citation: by_article.get(citation.article_id)


def quote_is_valid(citation: Citation, lookup: SourceLookup) -> bool:
    """True iff source_text[char_start:char_end] == quote (and the quote is not empty)."""
    text = lookup.get(citation.article_id) if isinstance(lookup, Mapping) else lookup(citation)
    if text is None or not citation.quote or not 0 <= citation.char_start < citation.char_end:
        return False
    return text[citation.char_start:citation.char_end] == citation.quote


def quote_validity(citations: Sequence[Citation], lookup: SourceLookup) -> float | None:
    """Share of citations whose quote is exactly the source text at its offsets; None without citations.

    Example: quote_validity([Citation(..., quote="乙丙", char_start=1, char_end=3)], {"a1": "甲乙丙"}) == 1.0
    """
    if not citations:
        return None
    return sum(quote_is_valid(c, lookup) for c in citations) / len(citations)


def groundedness(sentence_supports: Sequence[float]) -> float | None:
    """Mean support (0..1) of the answer sentences; None when there are none.

    Example: groundedness([1.0, 0.5, 0.0]) == 0.5
    """
    if not sentence_supports:
        return None
    return sum(float(s) for s in sentence_supports) / len(sentence_supports)


# --- refusal and aggregation -----------------------------------------------------------------

def refusal_scores(refused: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """Refusal as detection of unanswerable questions; undefined ratios are None.

    precision: refusals that were of unanswerable questions; recall: unanswerable questions refused;
    false_refusal_rate: answerable questions refused.
    Example: refusal_scores([True, True, False], [False, True, True])["precision"] == 0.5
    """
    if len(refused) != len(answerable):
        raise ValueError(f"{len(refused)} refusal flags for {len(answerable)} questions")
    tp = sum(r and not a for r, a in zip(refused, answerable, strict=True))
    n_refused = sum(bool(r) for r in refused)
    n_unanswerable = sum(not a for a in answerable)
    n_answerable = len(answerable) - n_unanswerable
    precision = tp / n_refused if n_refused else None
    recall = tp / n_unanswerable if n_unanswerable else None
    f1 = None
    if recall is not None:  # with something to detect, finding none of it scores 0
        f1 = 2 * tp / (n_refused + n_unanswerable) if tp else 0.0
    false_rate = (n_refused - tp) / n_answerable if n_answerable else None
    return {"precision": precision, "recall": recall, "f1": f1, "false_refusal_rate": false_rate}


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between order statistics (numpy's default).

    Example: percentile([10, 20, 30, 40], 50) == 25.0
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within 0..100, got {p}")
    ordered = sorted(float(v) for v in values)
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none.

    Example: mean([1.0, None, 0.0]) == 0.5
    """
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts, metric means, refusal scores and latency percentiles of some per-question rows."""
    out: dict[str, Any] = {
        "n": len(rows),
        "n_answerable": sum(bool(r["answerable"]) for r in rows),
        "n_unanswerable": sum(not r["answerable"] for r in rows),
        "n_refused": sum(bool(r["refused"]) for r in rows),
    }
    for key in MEAN_METRICS:
        out[key] = mean(r.get(key) for r in rows)
    refusal = refusal_scores([bool(r["refused"]) for r in rows], [bool(r["answerable"]) for r in rows])
    out["refusal_precision"] = refusal["precision"]
    out["refusal_recall"] = refusal["recall"]
    out["refusal_f1"] = refusal["f1"]
    out["false_refusal_rate"] = refusal["false_refusal_rate"]
    # "partial": answered but flagged as only partly covered by the sources (not a refusal)
    out["partial_rate"] = mean(float(bool(r.get("partial"))) for r in rows)
    out["refusal_or_partial_recall"] = mean(
        float(bool(r["refused"] or r.get("partial"))) for r in rows if not r["answerable"])
    # answerable questions answered with a "not in the magazine" note: spurious when the question is answerable
    answered = [r for r in rows if r["answerable"] and not r["refused"]]
    out["answered_note_rate"] = mean(float(bool(r.get("partial"))) for r in answered)
    lengths = [float(r["answer_chars"]) for r in answered if r.get("answer_chars") is not None]
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    out["latency_p50_ms"] = percentile(latencies, 50) if latencies else None
    out["latency_p95_ms"] = percentile(latencies, 95) if latencies else None
    out["latency_mean_ms"] = mean(latencies)
    out["answer_chars_p50"] = percentile(lengths, 50) if lengths else None
    return out


def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """{"overall": summarize(rows), "by_type": {type: summarize(rows of that type)} (types sorted),
    "by_part": {"tuning"/"test": summarize(rows of that part)} (the fixed split of `split.is_test`)}.

    Example: aggregate([{"type": "factoid", "answerable": True, "refused": False, "hit@1": 1.0, ...}])
    """
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_type.setdefault(str(row["type"]), []).append(row)
    from zhibu_qa.evaluation.split import is_test

    parts = {"tuning": [r for r in rows if not is_test(str(r.get("id", "")))],
             "test": [r for r in rows if is_test(str(r.get("id", "")))]}
    return {
        "overall": summarize(rows),
        "by_type": {t: summarize(by_type[t]) for t in sorted(by_type)},
        "by_part": {name: summarize(part) for name, part in parts.items() if part},
    }
