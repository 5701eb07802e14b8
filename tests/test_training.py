"""train-selector end to end on a tiny reading-comprehension sample the test writes itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import MODEL_DIR

from zhibu_qa.answer.answerability import Answerability
from zhibu_qa.answer.features import SENTENCE_FEATURES
from zhibu_qa.answer.selector import LearnedSelector
from zhibu_qa.training.mrc import evidence_window, is_held_out, load_mrc, split, write_eval_set

ARTICLES = {
    "长江大桥": ["长江大桥位于武汉市，于1957年建成通车。大桥全长1670米，是长江上的第一座大桥。设计者是茅以升等人。",
             "大桥分上下两层。上层为公路，下层为铁路。建桥时共用去钢材两万多吨。"],
    "西湖": ["西湖位于杭州市西部，湖面面积约6.4平方千米。西湖有十景，其中最有名的是苏堤春晓。",
           "白居易曾任杭州刺史，他主持修筑了白堤。苏轼在杭州任职时疏浚西湖，筑成了苏堤。"],
    "故宫": ["故宫位于北京中轴线的中心，旧称紫禁城。它始建于明朝永乐四年，即1406年。",
           "故宫占地面积约72万平方米，有大小宫殿七十多座。1925年故宫博物院成立。"],
    "黄山": ["黄山位于安徽省南部，以奇松、怪石、云海、温泉闻名。最高峰莲花峰海拔1864米。",
           "明代旅行家徐霞客曾两次游览黄山。1990年黄山被列入世界遗产名录。"],
}
QUESTIONS = {
    "长江大桥": [("长江大桥是哪一年建成的？", "1957年"), ("长江大桥全长多少米？", "1670米"), ("大桥下层是什么？", "铁路")],
    "西湖": [("西湖在哪个城市？", "杭州市"), ("谁主持修筑了白堤？", "白居易"), ("苏堤是谁筑成的？", "苏轼")],
    "故宫": [("故宫旧称什么？", "紫禁城"), ("故宫博物院哪年成立？", "1925年"), ("故宫有多少座宫殿？", "七十多座")],
    "黄山": [("黄山最高峰叫什么？", "莲花峰"), ("哪位旅行家游览过黄山两次？", "徐霞客"), ("黄山何时列入世界遗产名录？", "1990年")],
}


def write_sample(path):
    data = []
    for title, paragraphs in ARTICLES.items():
        pars = []
        for i, context in enumerate(paragraphs):
            qas = [{"id": f"{title}-{i}-{j}", "question": q, "answers": [{"text": a, "answer_start": context.find(a)}]}
                   for j, (q, a) in enumerate(QUESTIONS[title]) if a in context]
            pars.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": pars})
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")


def test_mrc_files_load_split_and_convert(tmp_path):
    write_sample(tmp_path / "sample.json")
    arts = load_mrc([tmp_path / "sample.json"])
    assert [a.title for a in arts] == list(ARTICLES)
    assert sum(len(p.questions) for a in arts for p in a.paragraphs) == 12
    train, held = split(arts, share=0.5)
    assert len(train) + len(held) == 4 and all(is_held_out(a.title, 0.5) for a in held)
    docs, dataset = write_eval_set(arts, tmp_path / "eval", absent_share=0.25)
    rows = [json.loads(x) for x in dataset.read_text(encoding="utf-8").splitlines()]
    assert len(docs) == 3 and sum(not r["answerable"] for r in rows) == 3
    for r in rows:
        if r["answerable"]:
            assert r["key_facts"][0] in r["evidence"][0] and len(r["evidence"][0]) <= 80


def test_detail_absent_questions_lose_their_answer_sentences(tmp_path):
    write_sample(tmp_path / "sample.json")
    arts = load_mrc([tmp_path / "sample.json"])
    docs, dataset = write_eval_set(arts, tmp_path / "eval", absent_share=0.25, detail_share=1.0)
    rows = [json.loads(x) for x in dataset.read_text(encoding="utf-8").splitlines()]
    detail = [r for r in rows if r["id"].startswith("mrc-detail-")]
    assert detail and all(not r["answerable"] for r in detail)
    text = "".join(d.read_text(encoding="utf-8") for d in docs)
    by_id = {q.id: q for a in arts for p in a.paragraphs for q in p.questions}
    for r in detail:
        assert by_id[r["id"].removeprefix("mrc-detail-")].answer not in text
    for r in rows:  # every answerable question kept still finds its answer in the documents
        if r["answerable"]:
            assert r["key_facts"][0] in text


def test_delete_answer_keeps_other_sentences():
    from zhibu_qa.training.mrc import delete_answer

    assert delete_answer("甲在北京。乙在上海。丙在上海附近。", "上海") == "甲在北京。"
    assert delete_answer("甲在北京。", "广州") == "甲在北京。"


def test_evidence_window_is_verbatim_and_bounded():
    context = "甲" * 100 + "答案" + "乙" * 100
    window = evidence_window(context, 100, "答案")
    assert "答案" in window and window in context and len(window) == 80


@pytest.mark.integration
def test_train_selector_end_to_end_on_a_tiny_sample(tmp_path):
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip("m3e-small not fetched")
    from zhibu_qa.config import load_settings
    from zhibu_qa.training.run import train

    data = tmp_path / "mrc"
    data.mkdir()
    write_sample(data / "sample.json")
    settings = load_settings(env={}, embedding_model=str(MODEL_DIR), index_dir=str(tmp_path / "unused"))
    out = tmp_path / "models"
    summary = train(settings, data, work_dir=tmp_path / "work", out_dir=out, dataset=None, max_questions=None,
                    log=lambda s: None)
    assert summary["retrievals"] > 0 and 0.0 < summary["threshold"] < 1.0
    selector = LearnedSelector.load(out / "selector.json")
    answerability = Answerability.load(out / "answerability.json")
    x = np.random.default_rng(0).random((4, len(SENTENCE_FEATURES)))
    assert np.array_equal(selector.model.logits(x), LearnedSelector.load(out / "selector.json").model.logits(x))
    assert abs(answerability.threshold - summary["threshold"]) < 1e-4
    # the same inputs train the same models
    again = tmp_path / "again"
    train(settings, data, work_dir=tmp_path / "work", out_dir=again, dataset=None, max_questions=None, log=lambda s: None)
    assert (again / "selector.json").read_text() == (out / "selector.json").read_text()
