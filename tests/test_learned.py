"""The answer models' JSON forms: boosted trees answer exactly as scikit-learn's fitted ones."""

import json

import numpy as np
import pytest

from zhibu_qa.answer.features import QuestionView, holds_asked
from zhibu_qa.answer.learned import LinearModel, TreeModel, fit_linear, fit_trees, load_model
from zhibu_qa.errors import ConfigError


def _data():
    rng = np.random.RandomState(3)
    x = rng.randn(1200, 4)
    y = ((x[:, 0] * x[:, 1] > 0) ^ (x[:, 2] > 1)).astype(float)  # an interaction a line cannot fit
    x[::13, 3] = np.nan
    return x, y


def test_exported_trees_give_scikit_learns_probabilities():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from zhibu_qa.answer import learned

    x, y = _data()
    model = fit_trees(x, y, list("abcd"))
    clf = HistGradientBoostingClassifier(max_depth=learned.TREE_DEPTH, max_iter=learned.TREE_ROUNDS,
                                         learning_rate=learned.TREE_RATE, l2_regularization=learned.TREE_L2,
                                         early_stopping=False, random_state=0).fit(x, y)
    assert np.allclose(model.probabilities(x), clf.predict_proba(x)[:, 1], atol=1e-9)
    assert ((model.probabilities(x) > 0.5) == y).mean() > 0.9


def test_tree_model_round_trips_through_json_and_one_row_matches_the_batch(tmp_path):
    x, y = _data()
    model = fit_trees(x, y, list("abcd"), rounds=40)
    path = tmp_path / "m.json"
    path.write_text(model.to_json(), encoding="utf-8")
    loaded = load_model(path, list("abcd"))
    assert isinstance(loaded, TreeModel)
    batch = loaded.probabilities(x)
    assert np.allclose(batch, model.probabilities(x), atol=1e-6)
    assert np.allclose([loaded.probabilities(x[i:i + 1])[0] for i in range(0, 200, 7)], batch[0:200:7])
    with pytest.raises(ConfigError, match="other features"):
        load_model(path, list("abce"))
    with pytest.raises(ConfigError, match="not a LinearModel"):
        LinearModel.load(path, list("abcd"))


def test_linear_model_still_loads_by_either_reader(tmp_path):
    x, y = _data()
    model = fit_linear(np.nan_to_num(x), y, list("abcd"))
    path = tmp_path / "lin.json"
    path.write_text(model.to_json(), encoding="utf-8")
    assert isinstance(load_model(path, list("abcd")), LinearModel)
    assert json.loads(path.read_text())["coef"] == json.loads(LinearModel.load(path, list("abcd")).to_json())["coef"]


def test_typed_best_takes_the_best_sentence_holding_the_asked_kind():
    q = QuestionView.of("这个村有多少名党员？", (), lambda t: True)
    assert holds_asked(q, "全村共有党员74名。", 1.0)
    assert not holds_asked(q, "2024年村里开展了学习活动。", 0.0)
    what = QuestionView.of("这项工作的意义是什么？", (), lambda t: True)
    assert holds_asked(what, "任何句子", 0.0)  # no specific kind asked: every sentence qualifies
