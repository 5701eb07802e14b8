"""Citations from chunk metadata and exact source spans, and answer text built from cited groups.

A citation's quote is always `source_text[char_start:char_end]`, mapped through the chunk's
segments; no backend writes a quote itself. Adjacent sentences of one chunk share one citation,
so each quote holds exactly what the answer says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from zhibu_qa.answer.citations import support_score
from zhibu_qa.answer.features import Candidate
from zhibu_qa.answer.timeref import time_note
from zhibu_qa.text import map_span
from zhibu_qa.types import AnswerSentence, Chunk, Citation, Hit, Segment


def span_hit(like: Hit, start: int, text: str) -> tuple[Hit, Candidate]:
    """A one-sentence passage of `like`'s article whose text is the source span [start, start+len(text))
    (a byline, a subheading: lines no chunk holds), and its candidate, so it is cited like a sentence."""
    cid = hashlib.sha256(f"{like.chunk.issue_id}:{start}:{len(text)}".encode()).hexdigest()[:16]
    chunk = Chunk(cid, like.chunk.article_id, like.chunk.issue_id, like.chunk.section_index, text, text,
                  (Segment(0, start, len(text)),), 0)
    return replace(like, chunk=chunk), Candidate(0, 0, len(text), text, 0, 1)


def make_citation(n: int, hit: Hit, start: int, end: int, source_text: str) -> Citation:
    """A citation for chunk text [start, end), with the exact source span as its quote."""
    c0, c1 = map_span(hit.chunk.segments, start, end)
    return Citation(
        n=n, chunk_id=hit.chunk.id, article_id=hit.chunk.article_id, article_title=hit.meta.article_title,
        column=hit.meta.column, section=hit.meta.section, authors=hit.meta.authors, issue=hit.meta.issue,
        quote=source_text[c0:c1], char_start=c0, char_end=c1, issue_id=hit.chunk.issue_id,
        issue_date=hit.meta.issue_date, time_note=time_note(source_text[c0:c1], hit.meta.issue_date),
    )


def _contiguous(hit: Hit, first: Candidate, last: Candidate) -> bool:
    """Whether two sentences of a chunk map to one forward span of the source."""
    try:
        map_span(hit.chunk.segments, first.start, last.end)
        return True
    except ValueError:
        return False


def compose(chosen: Sequence[Candidate], hits: Sequence[Hit],
            source_for: Callable[[str], str]) -> tuple[str, list[Citation], list[AnswerSentence]]:
    """Join chosen sentences into answer text with one [n] per group of adjacent sentences."""
    groups: list[list[Candidate]] = []
    for c in chosen:
        last = groups[-1][-1] if groups else None
        if (last is not None and last.hit_index == c.hit_index
                and not hits[c.hit_index].chunk.text[last.end:c.start].strip()
                and _contiguous(hits[c.hit_index], groups[-1][0], c)):
            groups[-1].append(c)
        else:
            groups.append([c])
    parts, citations, sentences = [], [], []
    for n, group in enumerate(groups, 1):
        hit = hits[group[0].hit_index]
        citations.append(make_citation(n, hit, group[0].start, group[-1].end, source_for(hit.chunk.issue_id)))
        parts.append("".join(c.text for c in group) + f"[{n}]")
        sentences += [AnswerSentence(c.text, (n,), support_score(c.text, [hit.chunk.text]), True) for c in group]
    return "".join(parts), citations, sentences
