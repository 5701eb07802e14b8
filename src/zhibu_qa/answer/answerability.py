"""Whether the retrieved passages answer the question at all: a learned decision, made before any
answer is composed.

The boosted-tree model (`data/answerability.json`) reads the selector's best scores and retrieval
evidence (term coverage, dense similarity, names the knowledge base or the passages lack, whether
the asked kind of answer occurs); its threshold was chosen at training time for at most 3% false
refusals. A person, place or organisation the question names that the knowledge base never
mentions means the magazine does not cover the subject: refused. So is a count or sum asked with
a measure word ("多少名…", "几期", "收入多少") when no retrieved sentence holds a number with a
measure of that class, or a day, a street address, opening hours or a telephone number when none
gives one (`asktype.DETAIL_ASKS`): the passages are about the subject but lack the detail. So is a
district, town or village of the question that the knowledge base names elsewhere but none of the
passages does: they are about another place (a comparison is judged side by side instead). A question answered while a
quoted term of it is absent is answered as "partial", and says which term.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zhibu_qa.answer.asktype import DETAIL_ASKS, answer_shapes
from zhibu_qa.answer.features import (
    ANSWERABILITY_FEATURES,
    NO_TYPED,
    Candidate,
    QuestionView,
    answerability_features,
    typed_best,
)
from zhibu_qa.answer.learned import DATA_DIR, LinearModel, TreeModel, load_model
from zhibu_qa.answer.names import Name, is_admin_place, missing_names, names_of, unfound_names
from zhibu_qa.answer.similarity import SentenceSimilarity
from zhibu_qa.types import Hit

ANSWERABILITY_FILE = DATA_DIR / "answerability.json"
TOP_SHAPES = 3  # candidates whose answer shapes count as "the passages hold the asked kind of answer"


@dataclass(frozen=True)
class Evidence:
    probability: float  # that the passages answer the question
    missing: tuple[str, ...]  # names of the question the knowledge base never mentions
    unfound: tuple[str, ...]  # names it mentions elsewhere but not in these passages
    features: tuple[float, ...] = ()
    missing_entity: bool = False  # a missing name is a person, place or organisation
    # a yes/no question whose other names the passages hold: the missing name is in the claim it
    # checks ("X是Y的吗？" with Y wrong), which the passages about X answer by correcting it
    checks_claim: bool = False
    # the detail asked for that no retrieved sentence gives, however much they are about the
    # subject: "数字" (a count or sum asked with a measure word: "多少名…", "收入多少", and no number
    # with a measure of that class), or a detail of `asktype.DETAIL_ASKS` ("具体日期", "具体地址", …)
    lacks: str = ""
    # administrative places of the question (a district, a town) the knowledge base names elsewhere
    # but none of the passages does: the passages are about another place
    elsewhere: tuple[str, ...] = ()


def evidence_row(q: QuestionView, cands: Sequence[Candidate], logits: np.ndarray, rows: np.ndarray,
                 hits: Sequence[Hit], corpus_has: Callable[[str], bool],
                 more_hits: Sequence[Hit] = (), similarity: SentenceSimilarity | None = None,
                 ) -> tuple[np.ndarray, list[Name], list[Name]]:
    """The answerability feature row, with the missing and unfound names it used (`more_hits`:
    passages searched for parts of the question, e.g. each side of a comparison; `similarity`:
    dense cosines of the question and the best sentences, NaN (unknown) without one)."""
    names = names_of(q.text)
    missing = missing_names(names, corpus_has)
    unfound = unfound_names(names, [*hits, *more_hits], missing)
    total = sum(q.weights.values()) or 1.0

    def share(found: Sequence[Name]) -> float:
        w = sum(wt for t, wt in q.weights.items() if any(t in n.text or n.text in t for n in found))
        return min(1.0, w / total) if found else 0.0

    order = np.argsort(-logits) if len(logits) else np.zeros(0, dtype=int)
    shapes = frozenset().union(*(answer_shapes(cands[i].text) for i in order[:TOP_SHAPES])) if len(order) else frozenset()
    top_rows = rows[order[:TOP_SHAPES]] if len(order) else np.zeros((0, rows.shape[1] if rows.ndim == 2 else 0))
    cosines = similarity(q.text, [cands[i].text for i in order[:TOP_SHAPES]]) if similarity and len(order) else ()
    row = answerability_features(q, logits.tolist(), top_rows, hits, share(missing) or (0.5 if missing else 0.0),
                                 share(unfound) or (0.5 if unfound else 0.0), shapes,
                                 float(max(cosines)) if len(cosines) else (0.0 if similarity else float("nan")),
                                 typed_best(q, cands, logits.tolist(), rows) if len(cands) else (NO_TYPED, 0.0))
    return row, missing, unfound


def checks_claim(q: QuestionView, missing: Sequence[Name], unfound: Sequence[Name]) -> bool:
    """A yes/no question "X是…Y…吗？" whose subject X the passages name and whose missing names all sit
    in the claimed predicate after 是: the passages about X answer it (by correcting Y). A missing
    subject ("Z有没有…？" with Z never named) is still refused.
    """
    if "yesno" not in q.asked or not missing:
        return False
    copula = q.text.find("是")
    if copula <= 0 or any(q.text.find(n.text) < copula for n in missing):
        return False
    return any(0 <= q.text.find(n.text) < copula for n in names_of(q.text) if n not in missing and n not in unfound)


def lacking(q: QuestionView, cands: Sequence[Candidate], row: np.ndarray) -> str:
    """The specific detail the question asks for that no candidate sentence holds, else ""."""
    if q.unit is not None and row[ANSWERABILITY_FEATURES.index("typed_logit")] <= NO_TYPED:
        return "数字"
    for asks, gives, what in DETAIL_ASKS:
        if asks.search(q.text) and cands and not any(gives.search(c.text) for c in cands):
            return what
    return ""


def elsewhere(q: QuestionView, cands: Sequence[Candidate], hits: Sequence[Hit], more_hits: Sequence[Hit],
              missing: Sequence[Name]) -> tuple[str, ...]:
    """Administrative places of the question that none of the passages the answer would quote
    (those the candidates come from, and `more_hits`) names."""
    top = hits[:max(c.hit_index for c in cands) + 1] if cands else []
    return tuple(n.text for n in unfound_names(names_of(q.text), [*top, *more_hits], missing)
                 if n.entity and is_admin_place(n.text))


class Answerability:
    """Probability that a retrieval result answers the question, and the refusal decision."""

    def __init__(self, model: LinearModel | TreeModel, threshold: float | None = None,
                 similarity: SentenceSimilarity | None = None):
        self.model = model
        self.threshold = model.threshold if threshold is None else threshold
        self.similarity = similarity  # None: no embedder; the feature is imputed with its training mean

    def with_similarity(self, embedder_of: Callable[[], object]) -> Answerability:
        """A copy that reads sentence cosines under the embedder `embedder_of()` returns."""
        return Answerability(self.model, self.threshold, SentenceSimilarity(embedder_of))

    @classmethod
    def load(cls, path: str | Path = ANSWERABILITY_FILE, threshold: float | None = None) -> Answerability:
        return cls(load_model(path, ANSWERABILITY_FEATURES), threshold)

    def assess(self, q: QuestionView, cands: Sequence[Candidate], logits: np.ndarray, rows: np.ndarray,
               hits: Sequence[Hit], corpus_has: Callable[[str], bool], more_hits: Sequence[Hit] = ()) -> Evidence:
        row, missing, unfound = evidence_row(q, cands, logits, rows, hits, corpus_has, more_hits, self.similarity)
        row = np.where(np.isnan(row), np.asarray(self.model.mean, dtype=row.dtype), row)
        p = float(self.model.probabilities(row)[0]) if hits else 0.0
        return Evidence(p, tuple(n.text for n in missing), tuple(n.text for n in unfound),
                        tuple(float(x) for x in row), any(n.entity for n in missing),
                        checks_claim(q, missing, unfound), lacking(q, cands, row),
                        elsewhere(q, cands, hits, more_hits, missing))

    def decide(self, ev: Evidence) -> str | None:
        """None (answer), "not_covered" (refuse) or "partial" (answer, naming what is missing).

        Example: Answerability(model, threshold=0.5).decide(Evidence(0.2, (), ())) == "not_covered"
        """
        if ev.probability < self.threshold or ((ev.missing_entity or ev.elsewhere) and not ev.checks_claim) or ev.lacks:
            return "not_covered"  # a person, place or organisation the knowledge base never names
        return "partial" if ev.missing else None
