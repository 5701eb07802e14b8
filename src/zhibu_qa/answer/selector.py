"""Which sentence of the retrieved passages answers the question: the `Selector` interface.

`LearnedSelector` scores every candidate sentence with the logistic model trained on public
reading-comprehension data and the tuning part of the project's dataset (`training.fit`). It only
ranks sentences; building the answer from them is `extractive`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zhibu_qa.answer.features import SENTENCE_FEATURES, Candidate, QuestionView, sentence_features
from zhibu_qa.answer.learned import DATA_DIR, LinearModel
from zhibu_qa.types import Hit

SELECTOR_FILE = DATA_DIR / "selector.json"


class Selector:
    """Scores candidate sentences: higher means more likely to hold the answer."""

    def score(self, q: QuestionView, cands: Sequence[Candidate], hits: Sequence[Hit]) -> np.ndarray:
        """One logit per candidate."""
        raise NotImplementedError

    def rows(self, q: QuestionView, cands: Sequence[Candidate], hits: Sequence[Hit]) -> np.ndarray:
        return sentence_features(q, cands, hits)


class LearnedSelector(Selector):
    def __init__(self, model: LinearModel):
        self.model = model

    @classmethod
    def load(cls, path: str | Path = SELECTOR_FILE) -> LearnedSelector:
        return cls(LinearModel.load(path, SENTENCE_FEATURES))

    def score(self, q: QuestionView, cands: Sequence[Candidate], hits: Sequence[Hit],
              rows: np.ndarray | None = None) -> np.ndarray:
        if not cands:
            return np.zeros(0)
        return self.model.logits(self.rows(q, cands, hits) if rows is None else rows)
