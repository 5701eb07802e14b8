"""The learned decisions' models stored as JSON: a standardised logistic regression (the sentence
selector) and small boosted trees (answerability, where feature interactions matter).

`fit_linear` / `fit_trees` train them (scikit-learn, imported only there); `load_model` reads the
JSON package data at answer time with numpy alone. A file records the feature names it expects, so
a feature list that changed without retraining is an error, not a silent mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from zhibu_qa.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class LinearModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5  # probability cut-off chosen at training time (answerability)
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != len(self.features):
            raise ConfigError(f"model expects {len(self.features)} features, got {x.shape[1]}")
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(x)))

    def to_json(self) -> str:
        return json.dumps({
            "features": list(self.features), "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(), "intercept": round(float(self.intercept), 6),
            "threshold": round(float(self.threshold), 6), "info": self.info,
        }, ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearModel:
        return cls(tuple(d["features"]), np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["coef"]),
                   float(d["intercept"]), float(d.get("threshold", 0.5)), dict(d.get("info", {})))

    @classmethod
    def load(cls, path: str | Path, features: Sequence[str]) -> LinearModel:
        """Read a model file and check it was trained on `features`."""
        model = load_model(path, features)
        if not isinstance(model, cls):
            raise ConfigError(f"answer model {path} is not a {cls.__name__}; retrain with `zhibu-qa train-selector`")
        return model


@dataclass(frozen=True)
class Tree:
    """One regression tree as parallel node arrays; a leaf has feature -1."""

    feature: np.ndarray  # int
    threshold: np.ndarray  # go left when x <= threshold
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray  # leaf contribution to the logit (learning rate applied)
    missing_left: np.ndarray  # where NaN goes

    @cached_property
    def _lists(self) -> tuple[list, list, list, list, list, list]:
        return (self.feature.tolist(), self.threshold.tolist(), self.left.tolist(), self.right.tolist(),
                self.value.tolist(), self.missing_left.tolist())

    def value_of(self, row: Sequence[float]) -> float:
        """One row's leaf value (plain Python: an answer judges one row, numpy per node costs more)."""
        feature, threshold, left, right, value, missing_left = self._lists
        node = 0
        while (f := feature[node]) >= 0:
            v = row[f]
            node = left[node] if (missing_left[node] if v != v else v <= threshold[node]) else right[node]
        return value[node]

    def values(self, x: np.ndarray) -> np.ndarray:
        if len(x) <= 8:
            return np.asarray([self.value_of(row) for row in x.tolist()])
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while True:
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                return self.value[node]
            v = x[rows, np.where(inner, f, 0)]
            go_left = np.where(np.isnan(v), self.missing_left[node], v <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)


@dataclass(frozen=True)
class TreeModel:
    """Gradient-boosted trees for a binary decision: logit = baseline + the trees' leaf values."""

    features: tuple[str, ...]
    mean: np.ndarray  # training means, for imputing features that could not be measured
    trees: tuple[Tree, ...]
    baseline: float
    threshold: float = 0.5
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != len(self.features):
            raise ConfigError(f"model expects {len(self.features)} features, got {x.shape[1]}")
        return self.baseline + sum((t.values(x) for t in self.trees), np.zeros(len(x)))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(x)))

    def to_json(self) -> str:
        trees = [{"f": t.feature.tolist(), "t": t.threshold.tolist(), "l": t.left.tolist(),
                  "r": t.right.tolist(), "v": t.value.round(6).tolist(), "m": t.missing_left.astype(int).tolist()}
                 for t in self.trees]
        return json.dumps({
            "kind": "trees", "features": list(self.features), "mean": self.mean.round(6).tolist(),
            "baseline": round(float(self.baseline), 6), "threshold": round(float(self.threshold), 6),
            "info": self.info, "trees": trees,
        }, ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TreeModel:
        trees = tuple(Tree(np.asarray(t["f"], dtype=np.int64), np.asarray(t["t"], dtype=np.float64),
                           np.asarray(t["l"], dtype=np.int64), np.asarray(t["r"], dtype=np.int64),
                           np.asarray(t["v"], dtype=np.float64), np.asarray(t["m"], dtype=bool)) for t in d["trees"])
        return cls(tuple(d["features"]), np.asarray(d["mean"]), trees, float(d["baseline"]),
                   float(d.get("threshold", 0.5)), dict(d.get("info", {})))


def load_model(path: str | Path, features: Sequence[str]) -> LinearModel | TreeModel:
    """Read a model file (either kind) and check it was trained on `features`."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        model = (TreeModel if d.get("kind") == "trees" else LinearModel).from_dict(d)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read answer model {path}: {exc}; retrain with `zhibu-qa train-selector`") from exc
    if model.features != tuple(features):
        raise ConfigError(f"answer model {path} was trained on other features; retrain with `zhibu-qa train-selector`")
    return model


def fit_linear(x: np.ndarray, y: np.ndarray, features: Sequence[str], *, weights: np.ndarray | None = None,
               c: float = 1.0, info: dict[str, Any] | None = None) -> LinearModel:
    """Standardise the columns and fit an L2 logistic regression (deterministic lbfgs)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit((x - mean) / scale, y, sample_weight=weights)
    return LinearModel(tuple(features), mean, scale, clf.coef_[0].copy(), float(clf.intercept_[0]), info=info or {})


# Boosting settings chosen by 5-fold cross-validation on the MRC training split (grouped by
# question): depth 3 and 150 rounds refused 4 points more other-article negatives than the logistic
# model at the same 2% false refusals; deeper trees or more rounds did worse.
TREE_DEPTH, TREE_ROUNDS, TREE_RATE, TREE_L2 = 3, 150, 0.05, 1.0


def fit_trees(x: np.ndarray, y: np.ndarray, features: Sequence[str], *, weights: np.ndarray | None = None,
              info: dict[str, Any] | None = None, rounds: int = TREE_ROUNDS) -> TreeModel:
    """Fit gradient-boosted trees (scikit-learn HistGradientBoosting, deterministic) and export them."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.asarray(x, dtype=np.float64)
    clf = HistGradientBoostingClassifier(max_depth=TREE_DEPTH, max_iter=rounds, learning_rate=TREE_RATE,
                                         l2_regularization=TREE_L2, early_stopping=False, random_state=0)
    clf.fit(x, y, sample_weight=weights)
    trees = []
    for (predictor,) in clf._predictors:  # the fitted trees; sklearn has no public accessor
        n = predictor.nodes
        leaf = n["is_leaf"].astype(bool)
        trees.append(Tree(np.where(leaf, -1, n["feature_idx"]).astype(np.int64), n["num_threshold"].astype(np.float64),
                          n["left"].astype(np.int64), n["right"].astype(np.int64),
                          np.where(leaf, n["value"], 0.0).astype(np.float64), n["missing_go_to_left"].astype(bool)))
    mean = np.nanmean(x, axis=0) if len(x) else np.zeros(len(features))
    return TreeModel(tuple(features), mean, tuple(trees), float(np.ravel(clf._baseline_prediction)[0]),
                     info=info or {})
