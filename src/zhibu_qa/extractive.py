"""The offline extractive answerer: pick the source sentences that answer a question.

Scores every sentence of the retrieved chunks against the question (weighted term overlap,
numbers for 多少/几 questions, enumerations for list questions, the chunk's rank and an optional
embedding similarity), then selects a few by intent and orders them as they appear. It returns
spans of chunk text only; it never writes words of its own. Citations are `answering`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .text import split_sentences, tokenize
from .types import Hit

NUMERAL_RE = re.compile(r"\d|[一二三四五六七八九十百千万两]+(?:个|项|名|户|块|条|年|月|日|家|人|次|倍|类|所|处|支|批|位|种|余|多)")
ENUM_RE = re.compile(r"、.+、|[一二三四五六七八九十]是|（[一二三四五六七八九十]）|第[一二三四五六七八九十]")
# Budgets in characters: concise for facts, roomier when a list or explanation is asked for.
BUDGET = {"factoid": 250, "number": 250, "list": 420, "explain": 380, "compare": 420}
MAX_SENTENCES = {"factoid": 2, "number": 2, "list": 6, "explain": 4, "compare": 4}


@dataclass(frozen=True)
class Candidate:
    hit_index: int
    start: int  # offsets in hit.chunk.text
    end: int
    text: str
    score: float
    lexical: float


def term_weights(terms: Sequence[str], idf: Callable[[str], float] | None = None) -> dict[str, float]:
    """Weight of each question term: its IDF when known, else a length prior (longer = rarer).

    Example: term_weights(["区", "吹哨报到"]) == {"区": 1.0, "吹哨报到": 4.0}
    """
    out: dict[str, float] = {}
    for t in terms:
        out[t] = idf(t) if idf else float(min(len(t), 4))
    return out


def coverage(text: str, weights: dict[str, float]) -> float:
    """Weighted share of question terms that occur in `text`.

    Example: coverage("吹哨报到机制", {"吹哨报到": 4.0, "东丽区": 3.0}) == 4 / 7
    """
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if t in text) / total


def candidates(
    hits: Sequence[Hit], weights: dict[str, float], intent: str,
    similarity: Callable[[list[str]], list[float]] | None = None,
) -> list[Candidate]:
    """All sentences of the hits with their scores, best first."""
    raw: list[tuple[int, int, int, str, float]] = []
    n = max(len(hits), 1)
    for hi, hit in enumerate(hits):
        text = hit.chunk.text
        prior = 0.15 * (1.0 - hi / n)
        for s, e in split_sentences(text):
            sent = text[s:e]
            if len(sent) < 6:
                continue
            lex = coverage(sent, weights)
            bonus = 0.0
            if intent == "number" and NUMERAL_RE.search(sent):
                bonus += 0.15
            if intent == "list" and ENUM_RE.search(sent):
                bonus += 0.1
            raw.append((hi, s, e, sent, lex + prior + bonus))
    sims: list[float] = []
    if similarity is not None and raw:
        top = sorted(range(len(raw)), key=lambda i: -raw[i][4])[:40]
        values = similarity([raw[i][3] for i in top])
        sim_by = dict(zip(top, values, strict=True))
        sims = [sim_by.get(i, 0.0) for i in range(len(raw))]
    out = []
    for i, (hi, s, e, sent, score) in enumerate(raw):
        sim = sims[i] if sims else 0.0
        out.append(Candidate(hi, s, e, sent, score + 0.35 * sim, coverage(sent, weights)))
    out.sort(key=lambda c: -c.score)
    return out


def select(cands: Sequence[Candidate], hits: Sequence[Hit], intent: str) -> list[Candidate]:
    """Choose sentences by intent within the character budget, in reading order."""
    if not cands:
        return []
    budget = BUDGET.get(intent, 250)
    limit = MAX_SENTENCES.get(intent, 2)
    best = cands[0]
    chosen = [best]
    same_chunk = sorted((c for c in cands if c.hit_index == best.hit_index), key=lambda c: c.start)
    if intent in ("list", "explain"):
        # the explanatory passage or the enumeration continues after the best sentence
        after = [c for c in same_chunk if c.start > best.start]
        for c in after[: limit - 1]:
            if c.score >= 0.35 * best.score:
                chosen.append(c)
            else:
                break
    if intent == "compare":
        seen_articles = {hits[best.hit_index].chunk.article_id}
        for c in cands[1:]:
            art = hits[c.hit_index].chunk.article_id
            if art not in seen_articles and c.score >= 0.5 * best.score:
                chosen.append(c)
                seen_articles.add(art)
            if len(seen_articles) >= 2:
                break
    for c in cands[1:]:
        if len(chosen) >= limit:
            break
        if c in chosen or c.score < 0.8 * best.score:
            continue
        if sum(len(x.text) for x in chosen) + len(c.text) > budget:
            continue
        chosen.append(c)
    # short factual sentence: add the one that follows it for context
    if intent in ("factoid", "number") and len(chosen) == 1 and len(best.text) < 40:
        nxt = next((c for c in same_chunk if c.start > best.start), None)
        if nxt is not None and len(best.text) + len(nxt.text) <= budget:
            chosen.append(nxt)
    while len(chosen) > 1 and sum(len(c.text) for c in chosen) > budget:
        chosen.remove(min(chosen[1:], key=lambda c: c.score))
    return sorted(set(chosen), key=lambda c: (c.hit_index, c.start))


def question_terms(question: str) -> list[str]:
    """Distinct content terms of a question (jieba search mode, stopwords removed).

    Example: "吹哨报到" in question_terms("什么是“吹哨报到”机制？")
    """
    return list(dict.fromkeys(t for t in tokenize(question) if len(t) >= 2 or t.isdigit()))
