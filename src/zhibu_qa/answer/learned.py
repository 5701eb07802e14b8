"""A standardised logistic-regression model stored as JSON: the form both learned decisions ship in.

`fit_linear` trains one (scikit-learn, imported only there); `LinearModel.load` reads the JSON
package data at answer time with numpy alone. The file records the feature names it expects, so a
feature list that changed without retraining is an error, not a silent mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    def load(cls, path: str | Path, features: Sequence[str]) -> LinearModel:
        """Read a model file and check it was trained on `features`."""
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            model = cls(tuple(d["features"]), np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["coef"]),
                        float(d["intercept"]), float(d.get("threshold", 0.5)), dict(d.get("info", {})))
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
