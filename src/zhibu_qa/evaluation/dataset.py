"""Load and validate the evaluation dataset (JSONL, one question per line) into `EvalCase`s.

Owns the file format and every consistency check against the corpus (evidence and key facts are
verbatim source text, gold titles/headings exist in the catalogue). It collects *all* problems,
each with its line number, before raising one `DatasetError`. Scoring lives in `metrics`.

Field mapping: `gold_article` null -> (), string -> (s,), list -> tuple; `gold_section` absent ->
() (unknown), null -> (None,) (the article's lead), string -> (s,), list -> tuple (null items = lead).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from zhibu_qa.errors import DatasetError
from zhibu_qa.text import title_key
from zhibu_qa.types import QUESTION_TYPES, EvalCase, Turn

REQUIRED_FIELDS: tuple[str, ...] = (
    "id", "question", "type", "answerable", "gold_article", "evidence", "answer", "key_facts",
)
OPTIONAL_FIELDS: tuple[str, ...] = ("gold_section", "history", "notes", "source_id")  # source_id: a paraphrase's original
_SHOW = 40  # characters of a quoted value shown in a problem message
MAX_QUESTION_CHARS = 500  # the answerer's limit (Settings.max_question_chars default); longer is refused unscored


def load_dataset(
    path: Path,
    *,
    source_texts: Sequence[str],
    titles: Iterable[str],
    headings: Iterable[str] | None = None,
    max_question_chars: int = MAX_QUESTION_CHARS,
) -> list[EvalCase]:
    """Read, validate and return the cases of `path`; raise `DatasetError` listing every problem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DatasetError(f"evaluation dataset not found: {path}", [f"{path}: no such file"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read evaluation dataset {path}: {exc}", [f"{path}: {exc}"]) from exc
    corpus = SourceMatcher(source_texts)
    title_keys = {title_key(t) for t in titles}
    heading_keys = None if headings is None else {title_key(h) for h in headings}
    cases, problems = parse_lines(raw.splitlines(), corpus, title_keys, heading_keys,
                                  max_question_chars=max_question_chars)
    if not cases and not problems:
        problems.append(f"{path}: the dataset holds no cases")
    if problems:
        head = "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
        raise DatasetError(f"{path}: {len(problems)} problem(s) in the evaluation dataset: {head}", problems)
    return cases


class SourceMatcher:
    """Finds a string in the source texts: exact substring first, else NFKC with whitespace removed."""

    def __init__(self, source_texts: Sequence[str]):
        self._texts = list(source_texts)
        self._squashed: list[str] | None = None

    def contains(self, needle: str) -> bool:
        if any(needle in text for text in self._texts):
            return True
        if self._squashed is None:
            self._squashed = [squash(t) for t in self._texts]
        key = squash(needle)
        return bool(key) and any(key in text for text in self._squashed)


def squash(text: str) -> str:
    """NFKC with all whitespace removed, the tolerant form evidence is matched in.

    Example: squash("把为民造福\\n作为 最大政绩") == "把为民造福作为最大政绩"
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def parse_lines(
    lines: Sequence[str],
    corpus: SourceMatcher,
    title_keys: set[str],
    heading_keys: set[str] | None,
    *,
    max_question_chars: int = MAX_QUESTION_CHARS,
) -> tuple[list[EvalCase], list[str]]:
    """Cases and problems ("line N: …") of the dataset lines; blank lines are skipped."""
    cases: list[EvalCase] = []
    problems: list[str] = []
    first_line_of: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        found: list[str] = []
        case = _parse_case(line, lineno, corpus, title_keys, heading_keys, found, max_question_chars)
        if case is not None and case.id:
            if case.id in first_line_of:
                found.append(f"duplicate id {_brief(case.id)} (first used on line {first_line_of[case.id]})")
            else:
                first_line_of[case.id] = lineno
        problems.extend(f"line {lineno}: {p}" for p in found)
        if case is not None and not found:
            cases.append(case)
    return cases, problems


def _parse_case(
    line: str,
    lineno: int,
    corpus: SourceMatcher,
    title_keys: set[str],
    heading_keys: set[str] | None,
    problems: list[str],
    max_question_chars: int = MAX_QUESTION_CHARS,
) -> EvalCase | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        problems.append(f"invalid JSON ({exc.msg} at column {exc.colno})")
        return None
    except RecursionError:  # json.loads recurses per nesting level; ~1000 "[" would crash the load
        problems.append("invalid JSON (nested too deeply)")
        return None
    if not isinstance(obj, dict):
        problems.append(f"expected a JSON object, got {type(obj).__name__}")
        return None
    for name in REQUIRED_FIELDS:
        if name not in obj:
            problems.append(f"missing field {name!r}")
    unknown = sorted(set(obj) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        valid = ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS)
        problems.append(f"unknown field(s) {', '.join(map(_brief, unknown))}; valid fields: {valid}")

    case_id = _text(obj, "id", problems, required=True)
    question = _text(obj, "question", problems, required=True)
    if len(question) > max_question_chars:
        problems.append(f"question has {len(question)} characters; the answerer accepts at most {max_question_chars}")
    qtype = _text(obj, "type", problems, required=True)
    if qtype and qtype not in QUESTION_TYPES:
        problems.append(f"unknown type {_brief(qtype)}; valid types: {', '.join(QUESTION_TYPES)}")
    answerable = obj.get("answerable")
    if "answerable" in obj and not isinstance(answerable, bool):
        problems.append(f"field 'answerable' must be true or false, got {_brief(answerable)}")
        answerable = None
    answer = _text(obj, "answer", problems, required=False)
    gold_article = _titles(obj.get("gold_article"), "gold_article", problems, allow_null_items=False)
    if "gold_section" not in obj:
        gold_section: tuple[str | None, ...] = ()
    elif obj["gold_section"] is None:
        gold_section = (None,)
    else:
        gold_section = _titles(obj["gold_section"], "gold_section", problems, allow_null_items=True)
    evidence = _strings(obj, "evidence", problems)
    key_facts = _strings(obj, "key_facts", problems)
    history = _history(obj.get("history"), problems)

    _check_consistency(qtype, answerable, answer, gold_article, evidence, key_facts, history, problems)
    _check_against_corpus(gold_article, gold_section, evidence, key_facts, corpus, title_keys,
                          heading_keys, problems)
    if answerable is None:
        return None
    return EvalCase(
        id=case_id, question=question, type=qtype, answerable=answerable,
        gold_article=gold_article, gold_section=gold_section if gold_article else (),
        evidence=evidence, answer=answer, key_facts=key_facts, history=history, line=lineno,
    )


def _text(obj: dict[str, Any], name: str, problems: list[str], *, required: bool) -> str:
    value = obj.get(name)
    if name not in obj:
        return ""
    if not isinstance(value, str):
        problems.append(f"field {name!r} must be a string, got {_kind(value)}")
        return ""
    if required and not value.strip():
        problems.append(f"field {name!r} is empty")
    return value


def _titles(value: Any, name: str, problems: list[str], *, allow_null_items: bool) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        ok = all(isinstance(v, str) or (allow_null_items and v is None) for v in value)
        if ok:
            return tuple(value)
    what = "a string, null or a list of strings" + (" / nulls" if allow_null_items else "")
    problems.append(f"field {name!r} must be {what}, got {_kind(value)}")
    return ()


def _strings(obj: dict[str, Any], name: str, problems: list[str]) -> tuple[str, ...]:
    value = obj.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"field {name!r} must be a list of strings, got {_kind(value)}")
        return ()
    for i, v in enumerate(value):
        if not v.strip():
            problems.append(f"{name}[{i}] is empty")
    return tuple(value)


def _history(value: Any, problems: list[str]) -> tuple[Turn, ...]:
    if value is None:
        return ()
    turns = []
    if isinstance(value, list):
        for i, turn in enumerate(value):
            if (isinstance(turn, dict) and isinstance(turn.get("question"), str)
                    and isinstance(turn.get("answer"), str)):
                turns.append(Turn(question=turn["question"], answer=turn["answer"]))
            else:
                problems.append(f"history[{i}] must be an object with string 'question' and 'answer'")
        return tuple(turns)
    problems.append(f"field 'history' must be a list of {{question, answer}} objects, got {_kind(value)}")
    return ()


def _check_consistency(
    qtype: str,
    answerable: bool | None,
    answer: str,
    gold_article: tuple[str, ...],
    evidence: tuple[str, ...],
    key_facts: tuple[str, ...],
    history: tuple[Turn, ...],
    problems: list[str],
) -> None:
    if qtype == "unanswerable" and answerable is True:
        problems.append("type 'unanswerable' requires answerable=false")
    if qtype == "followup" and not history:
        problems.append("type 'followup' requires a non-empty 'history'")
    if answerable is False and key_facts:
        problems.append("answerable=false but 'key_facts' is not empty")
    if qtype == "unanswerable" and evidence:
        problems.append("type 'unanswerable' must have empty 'evidence'")
    if answerable is True:
        if not gold_article:
            problems.append("answerable=true requires a 'gold_article'")
        if not evidence:
            problems.append("answerable=true requires non-empty 'evidence'")
        if not key_facts:
            problems.append("answerable=true requires non-empty 'key_facts'")
        if not answer.strip():
            problems.append("answerable=true requires a non-empty reference 'answer'")


def _check_against_corpus(
    gold_article: tuple[str, ...],
    gold_section: tuple[str | None, ...],
    evidence: tuple[str, ...],
    key_facts: tuple[str, ...],
    corpus: SourceMatcher,
    title_keys: set[str],
    heading_keys: set[str] | None,
    problems: list[str],
) -> None:
    for title in gold_article:
        if title_key(title) not in title_keys:
            problems.append(f"gold article {_show(title)} is not a catalogue title")
    if heading_keys is not None:
        for heading in gold_section:
            if heading is not None and title_key(heading) not in heading_keys:
                problems.append(f"gold section {_show(heading)} is not a heading in the catalogue")
    for i, text in enumerate(evidence):
        if text.strip() and not corpus.contains(text):
            problems.append(f"evidence[{i}] not found in any source text: {_show(text)}")
    for i, text in enumerate(key_facts):
        if text.strip() and not corpus.contains(text):
            problems.append(f"key_facts[{i}] not found in the source texts: {_show(text)}")


def _show(text: str) -> str:
    return repr(text if len(text) <= _SHOW else text[:_SHOW] + "…")


def _brief(value: Any) -> str:
    """repr() cut to about _SHOW characters, so a huge value never floods a problem list."""
    text = repr(value)
    return text if len(text) <= _SHOW + 2 else text[:_SHOW] + "…"


def _kind(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {_show(str(value))}"
