"""Fit the sentence selector and the answerability model from MRC data and the tuning questions.

For every training question the project's own retriever searches a scratch index of the MRC
training articles (or the shipped knowledge base, for the dataset's tuning part): the sentences
of the top passages are selector examples (positive: holds the answer span), and the retrieval
result is an answerability example; a second search with the question's own article removed gives
a hard negative. The models are small logistic regressions written as JSON package data.
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from zhibu_qa.answer.analysis import analyse
from zhibu_qa.answer.answerability import TOP_SHAPES, evidence_row
from zhibu_qa.answer.extractive import scored_from
from zhibu_qa.answer.features import ANSWERABILITY_FEATURES, SENTENCE_FEATURES, QuestionView
from zhibu_qa.answer.learned import LinearModel, TreeModel, fit_linear, fit_trees
from zhibu_qa.answer.selector import LearnedSelector, Selector
from zhibu_qa.answer.similarity import SentenceSimilarity
from zhibu_qa.text import split_sentences
from zhibu_qa.types import Hit, Turn

K = 5  # passages an answer is built from (the top_k default)
HITS = 10  # passages retrieved per question, as when answering
# threshold: at most this share of answerable training examples refused (below the 3% goal: the
# training questions are in-sample, held-out questions are refused a point or so more often)
TARGET_FALSE_REFUSALS = 0.02
PROJECT_WEIGHT = 8.0  # a hand-written magazine question counts as this many MRC ones
# a "detail absent" negative is a guess at the unanswerable kind (another answer may survive the
# deletion), so it counts half; measured on held-out MRC: fewer false refusals than without them
DETAIL_WEIGHT = 0.5
FOLDS = 5  # cross-validation folds for the answerability threshold


@dataclass(frozen=True)
class Example:
    question: str
    answers: tuple[str, ...]  # strings whose presence makes a sentence a positive
    gold: tuple[str, ...]  # article titles the answer must come from (empty: unanswerable)
    history: tuple[Turn, ...] = ()
    weight: float = 1.0
    hard_negative: bool = True  # also search with the gold article removed
    detail_negative: bool = True  # also judge the passages with the answer's sentences deleted


@dataclass(frozen=True)
class Retrieval:
    view: QuestionView
    hits: tuple[Hit, ...]
    weight: float
    labels: np.ndarray  # per candidate of the top K hits
    rows: np.ndarray
    excluded: tuple[str, ...] = ()  # a hard negative: these articles count as absent from the knowledge base


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


class _FeatureOnly(Selector):
    """Features without scores: the first pass, before a selector exists."""

    def score(self, q, cands, hits, rows=None):
        return np.zeros(len(cands))


def _retrieval(view: QuestionView, hits: Sequence[Hit], ex: Example, weight: float,
               excluded: tuple[str, ...] = ()) -> Retrieval:
    s = scored_from(view, hits[:K], _FeatureOnly())
    answers = [_squash(a) for a in ex.answers]
    gold = set(ex.gold)
    labels = np.asarray([float(bool(answers) and hits[c.hit_index].meta.article_title in gold
                               and any(a in _squash(c.text) for a in answers)) for c in s.cands])
    return Retrieval(view, tuple(hits), weight, labels, s.rows, excluded)


def without_answer(hits: Sequence[Hit], answers: Sequence[str]) -> list[Hit]:
    """The hits with every sentence that holds an answer deleted: the subject is still there, the
    asked detail is not (the commonest way a magazine fails to answer a question about itself)."""
    keys = [_squash(a) for a in answers if _squash(a)]
    out = []
    for h in hits:
        text = h.chunk.text
        kept = "".join(text[s:e] for s, e in split_sentences(text) if not any(k in _squash(text[s:e]) for k in keys))
        if kept.strip():
            out.append(replace(h, chunk=replace(h.chunk, text=kept)))
    return out


def collect(retrieve: Callable[[str, int], list[Hit]], examples: Sequence[Example], known: Callable[[str], bool],
            log: Callable[[str], None] = lambda s: None) -> list[Retrieval]:
    """Retrieve for every example (and, when asked, again without its gold article)."""
    out = []
    t0 = time.perf_counter()
    for i, ex in enumerate(examples):
        query = analyse(ex.question, ex.history)
        search = query.search
        view = QuestionView.of(search, query.carried, known)
        hits = retrieve(search, HITS * 4 if ex.hard_negative and ex.gold else HITS)
        first = _retrieval(view, hits[:HITS], ex, ex.weight)
        out.append(first)
        if ex.hard_negative and ex.gold:
            others = [h for h in hits if h.meta.article_title not in ex.gold][:HITS]
            out.append(_retrieval(view, others, Example(ex.question, (), ()), ex.weight, ex.gold))
        if ex.detail_negative and ex.gold and first.labels.sum() > 0:
            deleted = without_answer(hits[:HITS], ex.answers)
            if deleted:
                out.append(_retrieval(view, deleted, Example(ex.question, (), ()), ex.weight * DETAIL_WEIGHT))
        if (i + 1) % 500 == 0:
            log(f"  {i + 1}/{len(examples)} questions retrieved ({time.perf_counter() - t0:.0f} s)")
    return out


def fit_selector(data: Sequence[Retrieval], info: dict) -> LinearModel:
    """Logistic regression on the sentences of retrievals that hold an answer."""
    useful = [r for r in data if r.labels.sum() > 0]
    x = np.concatenate([r.rows for r in useful])
    y = np.concatenate([r.labels for r in useful])
    w = np.concatenate([np.full(len(r.labels), r.weight) for r in useful])
    return fit_linear(x, y, SENTENCE_FEATURES, weights=w, info={**info, "sentences": int(len(y)),
                                                               "positives": int(y.sum())})


def without(articles: dict[str, str], excluded: Sequence[str]) -> Callable[[str], bool]:
    """`corpus_has` of a knowledge base without some articles (title -> normalised text)."""
    others = [text for title, text in articles.items() if title not in excluded]
    return lambda term: (t := unicodedata.normalize("NFKC", term).lower()) and any(t in text for text in others)


def answerability_rows(data: Sequence[Retrieval], selector: LearnedSelector,
                       corpus_has: Callable[[Retrieval], Callable[[str], bool]],
                       similarity: SentenceSimilarity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scored = [scored_from(r.view, r.hits[:K], selector) for r in data]
    # embed every question and best sentence in large batches first
    similarity.prefetch((r.view.text for r in data),
                        (s.cands[i].text for s in scored for i in np.argsort(-s.logits)[:TOP_SHAPES]))
    xs, ys, ws = [], [], []
    for r, s in zip(data, scored, strict=True):
        row, _, _ = evidence_row(r.view, s.cands, s.logits, s.rows, r.hits, corpus_has(r), similarity=similarity)
        xs.append(row)
        ys.append(float(r.labels.sum() > 0))
        ws.append(r.weight)
    return np.asarray(xs), np.asarray(ys), np.asarray(ws)


def fit_answerability(x: np.ndarray, y: np.ndarray, w: np.ndarray, info: dict,
                      domains: np.ndarray | None = None, groups: np.ndarray | None = None) -> TreeModel:
    """Boosted trees with the threshold at TARGET_FALSE_REFUSALS of the answerable examples of every
    domain (MRC, the magazine's tuning part), whichever is lowest. The threshold is read off
    out-of-fold probabilities (folds by `groups`, the question): trees fit their own training rows
    too well for an in-sample cut to hold on new questions."""
    domains = np.zeros(len(y), dtype=int) if domains is None else domains
    model = fit_trees(x, y, ANSWERABILITY_FEATURES, weights=w, info=info)
    p = out_of_fold(x, y, w, groups)
    cuts = []
    for d in np.unique(domains):
        positives = np.sort(p[(y == 1) & (domains == d)])
        if len(positives):
            cuts.append(float(positives[int(TARGET_FALSE_REFUSALS * len(positives))]))
    threshold = min(cuts) if cuts else 0.5
    refused = float((p[y == 0] < threshold).mean()) if (y == 0).any() else None
    return replace(model, threshold=threshold, info={
        **info, "examples": int(len(y)), "answerable": int(y.sum()), "trees": len(model.trees),
        "cv_refusal_recall": refused, "target_false_refusals": TARGET_FALSE_REFUSALS})


def out_of_fold(x: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray | None, folds: int = FOLDS) -> np.ndarray:
    """Each example's probability from trees fitted without its fold (whole questions per fold)."""
    keys = np.arange(len(y)) if groups is None else np.unique(groups, return_inverse=True)[1]
    fold = keys % folds
    p = np.zeros(len(y))
    for f in range(folds):
        train, test = fold != f, fold == f
        if not test.any() or len(np.unique(y[train])) < 2:
            p[test] = 0.5
            continue
        p[test] = fit_trees(x[train], y[train], ANSWERABILITY_FEATURES, weights=w[train]).probabilities(x[test])
    return p


def selector_accuracy(data: Sequence[Retrieval], selector: LearnedSelector) -> float:
    """Share of answer-holding retrievals whose best-scored sentence is a positive."""
    useful = [r for r in data if r.labels.sum() > 0]
    hits = sum(r.labels[int(np.argmax(selector.model.logits(r.rows)))] > 0 for r in useful)
    return hits / len(useful) if useful else 0.0


def sample(items: list, n: int | None, seed: int = 7) -> list:
    return items if n is None or len(items) <= n else random.Random(seed).sample(items, n)
