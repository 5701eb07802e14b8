"""The offline extractive backend: the answer is the best-scored source sentences, composed by intent.

Facts: the best sentence (with the one before it when it opens with a pronoun), plus a second one
when the selector scores it nearly as high. Lists: the items of the enumeration the best sentence
sits in, else the sentences that follow it. Explanations: the best sentence and what follows it,
read on into the next chunk of the article when the chunk ends. Comparisons: the best sentence
for each side. It never writes words of its own; citations are `citing.compose`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from zhibu_qa.answer.analysis import Query
from zhibu_qa.answer.asktype import answer_shapes
from zhibu_qa.answer.base import Answerer, AnswerRequest, Scored, pieces
from zhibu_qa.answer.bylines import asks_author, byline
from zhibu_qa.answer.citing import compose
from zhibu_qa.answer.features import SENTENCE_FEATURES, Candidate, candidates, holds_asked
from zhibu_qa.answer.headings import heading_items
from zhibu_qa.text import cut
from zhibu_qa.types import Answer, Hit

# Budgets in characters: concise for facts, roomier when a list or explanation is asked for.
BUDGET = {"factoid": 200, "number": 200, "list": 420, "explain": 380, "compare": 420}
# A second sentence joins a factual answer when its logit is within this margin of the best one
# (chosen on the MRC training split: two candidate sentences beat one wrong guess, at a length cost).
RUNNER_UP_MARGIN = 2.0
# sentences with a number of the asked measure word that join a count's answer, and how far below
# the best they may score (chosen on the tuning part; the MRC training sample did not move)
TYPED_SENTENCES, TYPED_MARGIN = 2, 3.5
REQUIRE_MARGIN = 1.0  # logit gap within which a sentence of the asked shape beats one without
READ_ON_MARGIN = 3.0  # an explanation reads on while the next sentence scores within this of the best
ITEM_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]+是|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．]|第[一二三四五六七八九十]+[，,、]|首先|其次|再次|最后)")
ORDINAL_RE = re.compile(r"^\s*(?:([一二三四五六七八九十])是|[（(]([一二三四五六七八九十])[)）]|第([一二三四五六七八九十])[，,、]|([一二三四五六七八九十])、)")
CHINESE_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", 1)}
# A sentence opening with a pronoun or a discourse connective continues the one before it: the
# subject it speaks of, or the cause it concludes from, is there.
CONTINUES_RE = re.compile(r"^[“\s]*(?:他|她|它|其|该|此|这|所以|因此|因而|于是|从而|但|而|并且|同时|然而|不过|对此|为此)")


def ordinal(text: str) -> int | None:
    """The number of an enumeration item, else None.

    Example: ordinal("二是完善制度。") == 2
    """
    m = ORDINAL_RE.match(text)
    return CHINESE_DIGITS[next(g for g in m.groups() if g)] if m else None


@dataclass
class _Draft:
    """Sentences chosen so far and the hits they index (reading on may add a neighbour chunk)."""

    hits: list[Hit]
    chosen: list[Candidate] = field(default_factory=list)

    def length(self) -> int:
        return sum(len(c.text) for c in self.chosen)

    def add(self, c: Candidate, budget: int) -> bool:
        if any(c.text == x.text for x in self.chosen):
            return True
        if self.chosen and self.length() + len(c.text) > budget:
            return False
        self.chosen.append(c)
        return True


def _same_chunk(s: Scored, c: Candidate) -> list[int]:
    return sorted((i for i, x in enumerate(s.cands) if x.hit_index == c.hit_index), key=lambda i: s.cands[i].start)


def _wanted(s: Scored) -> frozenset[str]:
    """The specific kinds of answer asked for (a number, a time, a person, a place, a name)."""
    return s.view.asked - {"list", "yesno", "method", "reason", "definition"}


def _fact(s: Scored, draft: _Draft, budget: int, offset: int = 0) -> None:
    order = list(np.argsort(-s.logits))
    wanted = _wanted(s)
    best = _preferring(s, wanted)  # a sentence with the asked kind of answer beats one without
    c = s.cands[best]
    same = _same_chunk(s, c)
    pos = same.index(best)
    if pos > 0 and CONTINUES_RE.match(c.text):
        draft.add(_shift(s.cands[same[pos - 1]], offset), budget)
    draft.add(_shift(c, offset), budget)
    if wanted and not wanted & answer_shapes(c.text):
        # the subject in this sentence, the asked fact in the next (or the one before)
        for j in (pos + 1, pos - 1):
            if 0 <= j < len(same) and wanted & answer_shapes(s.cands[same[j]].text):
                draft.add(_shift(s.cands[same[j]], offset), budget)
                break
    for i in order[1:3]:
        if s.logits[i] < s.logits[best] - RUNNER_UP_MARGIN:
            break
        draft.add(_shift(s.cands[i], offset), budget)
    if s.view.unit is not None:
        # a count asked with a measure word: the two best sentences that give a number with it (a
        # passage often states a small count by the way before the total asked for)
        typed = [i for i in order if s.view.unit.search(s.cands[i].text)][:TYPED_SENTENCES]
        for i in typed:
            if s.logits[i] >= s.logits[order[0]] - TYPED_MARGIN:
                draft.add(_shift(s.cands[i], offset), budget)


def _typed_for_side(s: Scored, draft: _Draft, budget: int, offset: int) -> None:
    """A comparison asks each side the same kind of thing: when none of the side's chosen sentences
    holds that kind of answer (a number with the asked unit, a date, a name), add its best-scored
    sentence that does."""
    if not _wanted(s) or any(holds_asked(s.view, c.text) for c in draft.chosen if c.hit_index >= offset):
        return
    unit_i = SENTENCE_FEATURES.index("unit_match")
    typed = [i for i, c in enumerate(s.cands) if holds_asked(s.view, c.text, float(s.rows[i, unit_i]))]
    if typed:
        draft.add(_shift(s.cands[max(typed, key=lambda i: s.logits[i])], offset), budget)


def _shift(c: Candidate, offset: int) -> Candidate:
    return c if not offset else Candidate(c.hit_index + offset, c.start, c.end, c.text, c.position, c.count)


def _preferring(s: Scored, shapes: frozenset[str]) -> int:
    """The best candidate, or a nearly as good one that holds one of `shapes` when it does not."""
    order = list(np.argsort(-s.logits))
    best = order[0]
    if shapes and not shapes & answer_shapes(s.cands[best].text):
        best = next((i for i in order[1:4] if s.logits[i] >= s.logits[order[0]] - REQUIRE_MARGIN
                     and shapes & answer_shapes(s.cands[i].text)), best)
    return int(best)


# the noun a list question asks the members of ("设有哪些展区" -> 展区)
LIST_NOUN_RE = re.compile(r"(?:哪些|哪几[个种类项条方面]?|有哪些?|都有什么|包括什么)([\u4e00-\u9fff]{2,8})")
LIST_ECHO_MARGIN = 2.0  # how far below the best an enumeration of the asked noun's kind may score


def _echoing(s: Scored, best: int) -> int:
    """A nearly as good sentence enumerating items of the asked noun's kind, when the best does not:
    the members of a category share its head ("功能区" -> "展示区、就餐区、洗浴区")."""
    m = LIST_NOUN_RE.search(s.view.text)
    words = cut(m.group(1)) if m else []
    if not words or len(words[0]) < 2:
        return best
    head = re.escape(words[0][-1])
    echo = re.compile(rf"[\u4e00-\u9fff]{{1,6}}{head}[、，,和及与][\u4e00-\u9fff]{{1,6}}{head}")
    if echo.search(s.cands[best].text):
        return best
    order = list(np.argsort(-s.logits))
    return int(next((i for i in order if s.logits[i] >= s.logits[best] - LIST_ECHO_MARGIN
                     and echo.search(s.cands[i].text)), best))


def _list(s: Scored, draft: _Draft, budget: int) -> None:
    best = _echoing(s, _preferring(s, frozenset({"list"})))  # an enumeration answers "which ones"
    c = s.cands[best]
    same = _same_chunk(s, c)
    pos = same.index(best)
    window = [s.cands[i] for i in same[pos:pos + 2]]
    if any(ordinal(x.text) for x in window):
        # items 一是…二是… of the same article section, across the retrieved passages, in item order
        key = (draft.hits[c.hit_index].chunk.article_id, draft.hits[c.hit_index].meta.section)
        items: dict[int, Candidate] = {}
        for x in sorted(s.cands, key=lambda x: (x.hit_index != c.hit_index, x.hit_index, x.start)):
            h = draft.hits[x.hit_index]
            n = ordinal(x.text)
            if n and (h.chunk.article_id, h.meta.section) == key:
                items.setdefault(n, x)
        if len(items) >= 2 and 1 in items:
            if not ordinal(c.text):
                draft.add(c, budget)
            for n in sorted(items):
                draft.add(items[n], budget)
            return
    first = pos
    while ITEM_RE.match(c.text) and first > 0 and ITEM_RE.match(s.cands[same[first - 1]].text):
        first -= 1
    for i in same[first:]:
        if not draft.add(s.cands[i], budget):
            break


def _read_on(s: Scored, draft: _Draft, budget: int, neighbour: Callable[[Hit], Hit | None] | None) -> None:
    best = int(np.argmax(s.logits))
    c = s.cands[best]
    same = _same_chunk(s, c)
    pos = same.index(best)
    if pos > 0 and CONTINUES_RE.match(c.text):
        draft.add(s.cands[same[pos - 1]], budget)  # "so/therefore …": the cause is the sentence before
    draft.add(c, budget)
    floor = s.logits[best] - READ_ON_MARGIN
    for i in same[same.index(best) + 1:]:
        if s.logits[i] < floor and draft.length() > budget // 2:
            return
        if not draft.add(s.cands[i], budget):
            return
    nxt = neighbour(draft.hits[c.hit_index]) if neighbour is not None else None
    if nxt is None:
        return
    draft.hits.append(nxt)
    seen = draft.hits[c.hit_index].chunk.text
    for x in candidates([nxt]):
        if x.text in seen:  # the chunks overlap: skip what was already read
            continue
        if not draft.add(Candidate(len(draft.hits) - 1, x.start, x.end, x.text, x.position, x.count), budget):
            return


class ExtractiveAnswerer(Answerer):
    """Quotes the sentences the selector scored best; never invents text."""

    name = "extractive"

    def __init__(self, source_for: Callable[[str], str], neighbour: Callable[[Hit], Hit | None] | None = None,
                 sections_of: Callable[[str], Sequence[Hit]] | None = None):
        self.source_for = source_for
        self.neighbour = neighbour
        self.sections_of = sections_of  # the first chunk of each headed section of an article

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        answer = self.answer(request)
        yield from pieces(answer.text)
        yield answer

    def _headings(self, request: AnswerRequest):
        if self.sections_of is None:
            return None
        return heading_items(request.query.search, request.hits, self.sections_of, self.source_for)

    def answer(self, request: AnswerRequest) -> Answer:
        query: Query = request.query
        intent = query.intent
        budget = BUDGET.get(intent, 200)
        draft = _Draft(list(request.hits))
        author = byline(request.hits, self.source_for) if asks_author(query.search) else None
        if author is not None:  # who wrote it: the article's byline line
            draft.hits.append(author[0])
            draft.add(_shift(author[1], len(draft.hits) - 1), budget)
        elif intent == "compare" and request.sides:
            for n, (side_hits, side) in enumerate(request.sides, 1):
                if not side.cands:
                    continue
                offset = len(draft.hits)
                draft.hits += side_hits
                _fact(side, draft, budget * n // len(request.sides), offset)  # each side its share
                _typed_for_side(side, draft, budget, offset)
        elif request.parts:
            for part in request.parts:
                _fact(part, draft, budget)
        elif intent == "list" and (heads := self._headings(request)):
            for hit, cand in heads:  # the article's points are its subheadings
                draft.hits.append(hit)
                draft.add(_shift(cand, len(draft.hits) - 1), budget)
        elif intent == "list":
            _list(request.scored, draft, budget)
        elif intent == "explain":
            _read_on(request.scored, draft, budget, self.neighbour)
        else:
            _fact(request.scored, draft, budget)
        chosen = sorted(draft.chosen, key=lambda c: (c.hit_index, c.start))
        text, cits, sents = compose(chosen, draft.hits, self.source_for)
        return Answer(query.original, text, False, None, tuple(cits), tuple(sents), tuple(draft.hits), self.name)


def scored_from(view, hits: Sequence[Hit], selector) -> Scored:
    """Score every sentence of the hits with the selector."""
    cands = candidates(hits)
    rows = selector.rows(view, cands, hits)
    return Scored(view, tuple(cands), rows, selector.score(view, cands, hits, rows) if cands else np.zeros(0))
