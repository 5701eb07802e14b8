"""Dataset-line fuzzing (issue 14): generated JSONL lines never crash or hang the dataset validator.

Lines are random JSON values, case-shaped objects with wrong types, missing and unknown fields,
huge strings, odd unicode (lone surrogates, NFKC-changing forms), deep nesting and non-JSON text.
Every example must return (cases, problems) or raise a ZhibuError; hypothesis' `deadline` bounds
the time of each example (no timed assertion).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhibu_qa.errors import ZhibuError
from zhibu_qa.evaluation.dataset import REQUIRED_FIELDS, SourceMatcher, parse_lines

SOURCE = "减牌子 挑担子 服务群众有『里子』\n近年来，某社区党委坚持“三会一课”制度，\n共有党员1200名。\n二、创新做法\n"
CORPUS = SourceMatcher([SOURCE])
TITLES = {"减牌子挑担子服务群众有“里子”"}
HEADINGS = {"二、创新做法"}
FUZZ = settings(max_examples=200, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ODD = st.sampled_from(["\ud800", "\x00", "\u200b", "ｆｕｌｌ", "①", "\u3000", "\r", "\\", '"', "﻿", "共有党员1200名"])
TEXT = st.one_of(st.text(max_size=30), ODD, st.sampled_from(["", " ", "factoid", "number", "unanswerable", "followup"]))
HUGE = st.integers(min_value=400, max_value=2_000_000).map(lambda n: "问" * n)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT, HUGE)
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
FIELD = st.sampled_from(REQUIRED_FIELDS + ("gold_section", "history", "notes", "source_id", "key_fact", "Question"))
CASE = st.dictionaries(FIELD, VALUE, max_size=12)
NESTED = st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * n)
LINE = st.one_of(
    CASE.map(lambda obj: json.dumps(obj, ensure_ascii=False)),
    CASE.map(json.dumps),
    VALUE.map(json.dumps),
    NESTED,
    st.tuples(FIELD, NESTED).map(lambda fn: f'{{"{fn[0]}": {fn[1]}}}'),  # deep nesting inside a field
    st.text(max_size=80),
    CASE.map(lambda obj: json.dumps(obj)[: len(json.dumps(obj)) // 2]),  # cut off mid-line
)


@FUZZ
@given(st.lists(LINE, max_size=6))
def test_generated_dataset_lines_give_cases_or_problems_never_a_crash(lines):
    try:
        cases, problems = parse_lines(lines, CORPUS, TITLES, HEADINGS)
    except ZhibuError:
        return
    assert all(p.startswith("line ") for p in problems)
    assert all(len(p) < 2000 for p in problems)  # a huge value is quoted shortened, never whole
    assert len(cases) <= sum(1 for ln in lines if ln.strip())


@FUZZ
@given(st.lists(CASE, min_size=1, max_size=4))
def test_every_problem_names_a_line_that_exists(objs):
    lines = [json.dumps(o, ensure_ascii=False) for o in objs]
    cases, problems = parse_lines(lines, CORPUS, TITLES, HEADINGS)
    for p in problems:
        assert 1 <= int(p.split(":")[0].removeprefix("line ")) <= len(lines)
    assert {c.line for c in cases}.isdisjoint({int(p.split(":")[0][5:]) for p in problems})


def test_deeply_nested_json_is_a_problem_not_a_recursion_error():
    _, problems = parse_lines(["[" * 100_000 + "]" * 100_000], CORPUS, TITLES, HEADINGS)
    assert problems == ["line 1: invalid JSON (nested too deeply)"]
