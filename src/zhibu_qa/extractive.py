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

from .text import cut, general_idf, split_sentences
from .types import Hit

NUMERAL_RE = re.compile(r"\d|[一二三四五六七八九十百千万两]+(?:个|项|名|户|块|条|年|月|日|家|人|次|倍|类|所|处|支|批|位|种|余|多)")
ENUM_RE = re.compile(r"、.+、|[一二三四五六七八九十]是|（[一二三四五六七八九十]）|第[一二三四五六七八九十]")
# Budgets in characters: concise for facts, roomier when a list or explanation is asked for.
BUDGET = {"factoid": 250, "number": 250, "list": 420, "explain": 380, "compare": 420}


@dataclass(frozen=True)
class Candidate:
    hit_index: int
    start: int  # offsets in hit.chunk.text
    end: int
    text: str
    score: float
    lexical: float


# jieba's general-language IDF runs ~7 (问题) to ~18 (unknown words); subtracting this floor makes
# common words nearly weightless and names, places and coined terms dominate.
IDF_FLOOR = 8.0


def term_weights(terms: Sequence[str], idf: Callable[[str], float] = general_idf) -> dict[str, float]:
    """Weight of each question term: its general-language IDF above a floor (rare words count most).

    Example: term_weights(["问题", "吹哨报到"])["吹哨报到"] > term_weights(["问题", "吹哨报到"])["问题"]
    """
    return {t: max(0.3, idf(t) - IDF_FLOOR) for t in terms}


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


MAX_WINDOW = {"factoid": 2, "number": 2, "list": 4, "explain": 4, "compare": 2}
# Score lost per 100 characters of answer: keeps factual answers short, lets lists run longer.
LENGTH_PENALTY = {"factoid": 0.06, "number": 0.06, "list": 0.02, "explain": 0.03, "compare": 0.04}


@dataclass(frozen=True)
class Window:
    sentences: tuple[Candidate, ...]
    score: float

    @property
    def hit_index(self) -> int:
        return self.sentences[0].hit_index


def windows(cands: Sequence[Candidate], weights: dict[str, float], intent: str) -> list[Window]:
    """Runs of 1..MAX_WINDOW consecutive sentences of one chunk, scored by the question terms they
    cover together (so a subject in one sentence and its fact in the next count as one answer).
    """
    by_hit: dict[int, list[Candidate]] = {}
    for c in cands:
        by_hit.setdefault(c.hit_index, []).append(c)
    size = MAX_WINDOW.get(intent, 2)
    penalty = LENGTH_PENALTY.get(intent, 0.05)
    out: list[Window] = []
    for sents in by_hit.values():
        sents.sort(key=lambda c: c.start)
        for i in range(len(sents)):
            for j in range(i + 1, min(i + size, len(sents)) + 1):
                run = tuple(sents[i:j])
                text = "".join(c.text for c in run)
                bonus = max(c.score - c.lexical for c in run)  # rank prior, number/list bonus, similarity
                score = coverage(text, weights) + bonus - penalty * len(text) / 100
                out.append(Window(run, score))
    out.sort(key=lambda w: -w.score)
    return out


def select(cands: Sequence[Candidate], hits: Sequence[Hit], intent: str,
           weights: dict[str, float] | None = None) -> list[Candidate]:
    """Choose the best window (two from different articles for comparisons), in reading order."""
    if not cands:
        return []
    if weights is None:
        weights = {}
    ranked = windows(cands, weights, intent)
    chosen = list(ranked[0].sentences)
    if intent == "compare":
        first_article = hits[ranked[0].hit_index].chunk.article_id
        other = next((w for w in ranked[1:] if hits[w.hit_index].chunk.article_id != first_article), None)
        if other is not None and other.score >= 0.5 * ranked[0].score:
            chosen += other.sentences
    budget = BUDGET.get(intent, 250)
    while len(chosen) > 1 and sum(len(c.text) for c in chosen) > budget:
        chosen.pop()
    return sorted(set(chosen), key=lambda c: (c.hit_index, c.start))


def question_terms(question: str) -> list[str]:
    """Distinct content words of a question (jieba precise mode, stopwords and single characters removed).

    Example: "五权" in question_terms("和平区下放给街道的“五权”是哪五项？")
    """
    return list(dict.fromkeys(t for t in cut(question) if len(t) >= 2 or t.isdigit()))
