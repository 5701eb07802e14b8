"""Evaluation dataset loading: field mapping, tolerant matching, and every problem with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhibu_qa.errors import DatasetError, ZhibuError
from zhibu_qa.evaluation.dataset import load_dataset, squash
from zhibu_qa.types import Turn

SOURCE = (
    "减牌子 挑担子 服务群众有『里子』\n"
    "本刊记者\n"
    "近年来，某社区党委坚持“三会一课”制度，\n共有党员1200名。\n"
    "二、创新做法\n"
    "每月开展主题党日活动，组织党员志愿服务队２３支。\n"
)
TITLES = ["减牌子挑担子服务群众有“里子”", "另一篇文章"]
HEADINGS = ["二、创新做法"]


def _case(**overrides) -> dict:
    case = {
        "id": "q1",
        "question": "该社区有多少名党员？",
        "type": "number",
        "answerable": True,
        "gold_article": "减牌子挑担子服务群众有“里子”",
        "gold_section": None,
        "evidence": ["共有党员1200名"],
        "answer": "1200名",
        "key_facts": ["1200名"],
    }
    case.update(overrides)
    return case


def _write(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "dataset.jsonl"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _load(path: Path, headings=HEADINGS):
    return load_dataset(path, source_texts=[SOURCE], titles=TITLES, headings=headings)


def test_valid_dataset_loads_with_documented_field_mapping(tmp_path):
    path = _write(tmp_path, [
        _case(),
        "",  # blank lines are skipped
        _case(id="q2", type="compare", gold_article=["减牌子 挑担子 服务群众有『里子』", "另一篇文章"],
              gold_section=["二、创新做法", None], evidence=["主题党日活动"], key_facts=["主题党日"]),
        _case(id="q3", type="unanswerable", answerable=False, gold_article=None, evidence=[], key_facts=[],
              answer=""),
        _case(id="q4", type="followup", gold_section="二、创新做法", evidence=["主题党日活动"],
              key_facts=["主题党日"], history=[{"question": "有多少党员？", "answer": "1200名"}]),
        {k: v for k, v in _case(id="q5").items() if k != "gold_section"},
    ])
    cases = _load(path)
    assert [c.id for c in cases] == ["q1", "q2", "q3", "q4", "q5"]
    q1, q2, q3, q4, q5 = cases
    assert q1.gold_article == ("减牌子挑担子服务群众有“里子”",) and q1.gold_section == (None,)
    assert q1.line == 1 and q2.line == 3
    assert q2.gold_article == ("减牌子 挑担子 服务群众有『里子』", "另一篇文章")
    assert q2.gold_section == ("二、创新做法", None)
    assert q3.gold_article == () and q3.gold_section == () and not q3.answerable
    assert q4.gold_section == ("二、创新做法",) and q4.history == (Turn("有多少党员？", "1200名"),)
    assert q5.gold_section == ()  # absent = unknown
    assert q1.evidence == ("共有党员1200名",) and q1.key_facts == ("1200名",)


def test_evidence_and_key_facts_match_across_line_breaks_and_full_width(tmp_path):
    path = _write(tmp_path, [_case(
        evidence=["坚持“三会一课”制度，共有党员1200名。"],  # the source breaks this line
        key_facts=["志愿服务队23支"],  # the source has full-width ２３
    )])
    assert _load(path)[0].evidence == ("坚持“三会一课”制度，共有党员1200名。",)


def test_squash_removes_whitespace_after_nfkc():
    assert squash("把为民造福\n作为 最大政绩２") == "把为民造福作为最大政绩2"


def test_malformed_file_lists_every_problem_with_its_line_number(tmp_path):
    path = _write(tmp_path, [
        _case(),                                                # 1: fine
        '{"id": "q2", "question": ',                            # 2: bad JSON
        {k: v for k, v in _case(id="q3").items() if k != "evidence"},  # 3: missing field
        _case(id="q4", evidence=["这句话不在语料里"]),            # 4: evidence not in corpus
        _case(id="q5", type="trivia"),                          # 5: unknown type
        _case(id="q1"),                                         # 6: duplicate id
        _case(id="q7", key_facts=["1300名"]),                    # 7: key fact not in corpus
        _case(id="q8", gold_article="不存在的文章"),              # 8: unknown article
        _case(id="q9", gold_section="三、不存在的小标题"),         # 9: unknown heading
        _case(id="q10", answerable=False, type="adversarial"),  # 10: unanswerable with key facts
        "[1, 2]",                                               # 11: not an object
        _case(id="q12", answerable="yes", evidence="共有党员"),   # 12: wrong field types
        _case(id="q13", key_fact=["1200名"]),                    # 13: unknown field
    ])
    with pytest.raises(DatasetError) as info:
        _load(path)
    problems = info.value.problems
    text = "\n".join(problems)
    expected = [
        "line 2: invalid JSON",
        "line 3: missing field 'evidence'",
        "line 4: evidence[0] not found in any source text: '这句话不在语料里'",
        "line 5: unknown type 'trivia'; valid types: factoid, number, list",
        "line 6: duplicate id 'q1' (first used on line 1)",
        "line 7: key_facts[0] not found in the source texts: '1300名'",
        "line 8: gold article '不存在的文章' is not a catalogue title",
        "line 9: gold section '三、不存在的小标题' is not a heading in the catalogue",
        "line 10: answerable=false but 'key_facts' is not empty",
        "line 11: expected a JSON object, got list",
        "line 12: field 'answerable' must be true or false, got 'yes'",
        "line 12: field 'evidence' must be a list of strings",
        "line 13: unknown field(s) 'key_fact'",
    ]
    for fragment in expected:
        assert fragment in text, f"missing problem: {fragment}\n{text}"
    assert not any(p.startswith("line 1:") for p in problems)
    assert "problem(s)" in str(info.value) and isinstance(info.value, ZhibuError)


def test_answerable_cases_need_gold_article_evidence_and_key_facts(tmp_path):
    path = _write(tmp_path, [
        _case(gold_article=None, evidence=[], key_facts=[], answer=""),
        _case(id="q2", type="unanswerable"),  # type says unanswerable, answerable says true
        _case(id="q3", type="followup"),  # no history
        _case(id="q4", history=[{"question": "只有问题"}]),
    ])
    with pytest.raises(DatasetError) as info:
        _load(path)
    text = "\n".join(info.value.problems)
    for fragment in (
        "line 1: answerable=true requires a 'gold_article'",
        "line 1: answerable=true requires non-empty 'evidence'",
        "line 1: answerable=true requires non-empty 'key_facts'",
        "line 1: answerable=true requires a non-empty reference 'answer'",
        "line 2: type 'unanswerable' requires answerable=false",
        "line 3: type 'followup' requires a non-empty 'history'",
        "line 4: history[0] must be an object",
    ):
        assert fragment in text, f"missing problem: {fragment}\n{text}"


def test_headings_are_only_checked_when_given(tmp_path):
    path = _write(tmp_path, [_case(gold_section="三、不存在的小标题")])
    assert _load(path, headings=None)[0].gold_section == ("三、不存在的小标题",)


def test_missing_and_empty_files_raise_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        _load(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no cases"):
        _load(empty)


def test_a_question_longer_than_the_answerer_accepts_is_a_line_numbered_problem(tmp_path):
    """Issue 14 defect 8: a 5 MB question was scored as a refusal and bloated the report."""
    path = _write(tmp_path, [_case(), _case(id="q2", question="问" * 501), _case(id="q3", question="问" * 500)])
    with pytest.raises(DatasetError) as info:
        _load(path)
    assert info.value.problems == ["line 2: question has 501 characters; the answerer accepts at most 500"]


def test_the_question_limit_follows_the_argument(tmp_path):
    path = _write(tmp_path, [_case(question="问" * 40)])
    assert len(load_dataset(path, source_texts=[SOURCE], titles=TITLES, max_question_chars=40)) == 1
    with pytest.raises(DatasetError, match="line 1: question has 40 characters; the answerer accepts at most 39"):
        load_dataset(path, source_texts=[SOURCE], titles=TITLES, max_question_chars=39)
