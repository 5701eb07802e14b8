"""The answering interface every backend implements, and the values passed to it.

An `AnswerRequest` holds what the service found for one question (the analysed query, the
retrieved passages, the selector's scores, per-side passages of a comparison and per-part scores of
a two-part question); a backend turns it into text deltas and finally one `Answer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from zhibu_qa.answer.analysis import Query
from zhibu_qa.answer.features import Candidate, QuestionView
from zhibu_qa.types import Answer, Hit


@dataclass(frozen=True)
class Scored:
    """Candidate sentences of some hits with their feature rows and selector logits."""

    view: QuestionView
    cands: tuple[Candidate, ...]
    rows: np.ndarray
    logits: np.ndarray


@dataclass(frozen=True)
class AnswerRequest:
    query: Query
    hits: tuple[Hit, ...]
    scored: Scored
    sides: tuple[tuple[tuple[Hit, ...], Scored], ...] = ()  # compare: (hits, scores) per subject
    parts: tuple[Scored, ...] = ()  # a question asking two things: scores per part


def pieces(text: str) -> list[str]:
    """Answer text cut after each citation marker, to stream one cited group at a time.

    Example: pieces("甲。[1]乙。[2]") == ["甲。[1]", "乙。[2]"]
    """
    return [p for p in re.split(r"(?<=\])", text) if p]


class Answerer:
    """A backend: extractive (offline) or an OpenAI-compatible model."""

    name = "answerer"

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer."""
        raise NotImplementedError
