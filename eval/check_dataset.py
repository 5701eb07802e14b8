#!/usr/bin/env python3
"""Check eval/dataset.jsonl against the shipped corpus and print counts per question type.

Standalone (stdlib only), so it runs without the package installed:

    python eval/check_dataset.py [--dataset eval/dataset.jsonl] [--corpus corpus/....txt]

Checks: valid JSON objects with exactly the allowed fields and types; unique ids; type-specific
rules (unanswerable -> answerable=false, nulls and empty lists; followup -> non-empty history;
compare -> lists of >= 2 titles with matching sections); every evidence string (8-80 chars) is a
substring of ONE corpus line; every key fact (2-15 chars, 1-4 of them) is a substring of one of
the evidence strings; gold_article / gold_section are lines of the corpus body (a two-line title
or heading is the two consecutive non-blank lines joined by one space), not only table-of-contents
lines; and each evidence string lies inside its gold article, in its gold section (null = before
the first known heading of that article). Articles and headings are delimited by the titles and
headings the dataset itself uses, so the location check is as strong as the dataset's coverage.
Exit status 0 when clean, 1 when any problem was found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATASET = HERE / "dataset.jsonl"
DEFAULT_CORPUS = HERE.parent / "corpus" / "tianjin-zhibu-shenghuo-2024-09b.txt"

TYPES = ("factoid", "number", "list", "explain", "compare", "unanswerable", "adversarial", "followup")
REQUIRED = ("id", "question", "type", "answerable", "gold_article", "gold_section", "evidence",
            "answer", "key_facts")
OPTIONAL = ("history",)
EVIDENCE_LEN = (8, 80)   # characters, from the dataset brief
KEY_FACT_LEN = (2, 15)   # characters, from the dataset brief
KEY_FACT_COUNT = (1, 4)
# Gold "articles" that are not printed as a title line: name -> the line that opens them.
SPECIAL_ANCHORS = {"刊物信息": "声明"}
TOC_START, TOC_END = "目录 CONTENTS", "声明"  # the table of contents runs between these lines


class Corpus:
    """The corpus lines (stripped) with helpers to locate titles, headings and evidence."""

    def __init__(self, text: str):
        self.raw = text.splitlines()
        self.lines = [ln.strip() for ln in self.raw]
        start = self.lines.index(TOC_START)
        end = self.lines.index(TOC_END, start)
        self.toc = range(start, end)

    def _next_nonblank(self, i: int) -> int | None:
        for j in range(i + 1, len(self.lines)):
            if self.lines[j]:
                return j
        return None

    def heading_positions(self, name: str) -> list[int]:
        """Body line indices where `name` is printed (one line, or two consecutive lines)."""
        if name in SPECIAL_ANCHORS:
            name = SPECIAL_ANCHORS[name]
        found = [i for i, ln in enumerate(self.lines) if ln == name]
        for k, ch in enumerate(name):
            if ch != " ":
                continue
            left, right = name[:k], name[k + 1:]
            for i, ln in enumerate(self.lines):
                if ln == left:
                    j = self._next_nonblank(i)
                    if j is not None and self.lines[j] == right:
                        found.append(i)
        return sorted(i for i in set(found) if i not in self.toc)

    def evidence_lines(self, text: str) -> list[int]:
        return [i for i, ln in enumerate(self.raw) if text in ln]


def check(dataset_path: Path, corpus_path: Path) -> tuple[list[str], list[dict]]:
    corpus = Corpus(corpus_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    records: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(dataset_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        out: list[str] = []
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {lineno}: invalid JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            problems.append(f"line {lineno}: not a JSON object")
            continue
        check_fields(obj, out)
        if not out:
            check_rules(obj, out)
            check_strings(obj, corpus, out)
        qid = obj.get("id")
        if isinstance(qid, str):
            if qid in seen:
                out.append(f"duplicate id {qid!r} (first on line {seen[qid]})")
            seen.setdefault(qid, lineno)
        problems.extend(f"line {lineno} ({qid}): {p}" for p in out)
        if not out:
            records.append((lineno, obj))
    problems.extend(check_locations(records, corpus))
    return problems, [obj for _, obj in records]


def check_fields(obj: dict, out: list[str]) -> None:
    for name in REQUIRED:
        if name not in obj:
            out.append(f"missing field {name!r}")
    extra = set(obj) - set(REQUIRED) - set(OPTIONAL)
    if extra:
        out.append(f"unknown fields {sorted(extra)}")
    for name in ("id", "question", "type", "answer"):
        if not isinstance(obj.get(name), str) or not obj.get(name, "").strip():
            out.append(f"{name!r} must be a non-empty string")
    if not isinstance(obj.get("answerable"), bool):
        out.append("'answerable' must be a bool")
    for name in ("evidence", "key_facts"):
        val = obj.get(name)
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            out.append(f"{name!r} must be a list of strings")
    ga, gs = obj.get("gold_article"), obj.get("gold_section")
    if not (ga is None or isinstance(ga, str) or (isinstance(ga, list) and all(isinstance(x, str) for x in ga))):
        out.append("'gold_article' must be a string, a list of strings or null")
    if not (gs is None or isinstance(gs, str) or (isinstance(gs, list) and all(x is None or isinstance(x, str) for x in gs))):
        out.append("'gold_section' must be a string, null or a list")
    if "history" in obj:
        h = obj["history"]
        if not isinstance(h, list) or not h or not all(
            isinstance(t, dict) and set(t) == {"question", "answer"}
            and all(isinstance(v, str) and v.strip() for v in t.values()) for t in h
        ):
            out.append("'history' must be a non-empty list of {question, answer} string objects")


def check_rules(obj: dict, out: list[str]) -> None:
    qtype = obj["type"]
    if qtype not in TYPES:
        out.append(f"unknown type {qtype!r}; valid: {', '.join(TYPES)}")
    ga, gs = obj["gold_article"], obj["gold_section"]
    if qtype == "followup" and "history" not in obj:
        out.append("followup needs 'history'")
    if qtype != "followup" and "history" in obj:
        out.append("'history' is only for followup questions")
    if qtype == "unanswerable":
        if obj["answerable"] or ga is not None or gs is not None or obj["evidence"] or obj["key_facts"]:
            out.append("unanswerable needs answerable=false, null gold fields, empty evidence/key_facts")
        return
    if not obj["answerable"]:
        out.append(f"type {qtype!r} must be answerable=true")
    if qtype == "compare":
        if not (isinstance(ga, list) and len(ga) >= 2 and isinstance(gs, list) and len(gs) == len(ga)):
            out.append("compare needs gold_article list (>= 2) and gold_section list of the same length")
    elif not isinstance(ga, str) or isinstance(gs, list):
        out.append("non-compare questions need one gold_article string and a string/null gold_section")
    if not obj["evidence"]:
        out.append("answerable question without evidence")
    if not KEY_FACT_COUNT[0] <= len(obj["key_facts"]) <= KEY_FACT_COUNT[1]:
        out.append(f"needs {KEY_FACT_COUNT[0]}-{KEY_FACT_COUNT[1]} key facts, has {len(obj['key_facts'])}")


def check_strings(obj: dict, corpus: Corpus, out: list[str]) -> None:
    for ev in obj["evidence"]:
        if not EVIDENCE_LEN[0] <= len(ev) <= EVIDENCE_LEN[1]:
            out.append(f"evidence length {len(ev)} outside {EVIDENCE_LEN}: {ev!r}")
        if "\n" in ev or not corpus.evidence_lines(ev):
            out.append(f"evidence not within a single corpus line: {ev!r}")
    if len(set(obj["evidence"])) != len(obj["evidence"]):
        out.append("duplicate evidence strings")
    for kf in obj["key_facts"]:
        if not KEY_FACT_LEN[0] <= len(kf) <= KEY_FACT_LEN[1]:
            out.append(f"key fact length {len(kf)} outside {KEY_FACT_LEN}: {kf!r}")
        if not any(kf in ev for ev in obj["evidence"]):
            out.append(f"key fact not contained in any evidence string: {kf!r}")
    names = obj["gold_article"] if isinstance(obj["gold_article"], list) else [obj["gold_article"]]
    for name in names:
        if name is not None and not corpus.heading_positions(name):
            out.append(f"gold_article not printed as a body title line: {name!r}")
    secs = obj["gold_section"] if isinstance(obj["gold_section"], list) else [obj["gold_section"]]
    for sec in secs:
        if sec is not None and not corpus.heading_positions(sec):
            out.append(f"gold_section not printed as a body heading line: {sec!r}")


def check_locations(records: list[tuple[int, dict]], corpus: Corpus) -> list[str]:
    """Each evidence string must lie in its gold article and gold section."""
    titles: dict[str, int] = {}
    sections: set[tuple[str, str]] = set()
    for _, obj in records:
        if obj["type"] == "unanswerable":
            continue
        pairs = gold_pairs(obj)
        for art, sec in pairs:
            titles.setdefault(art, corpus.heading_positions(art)[0])
            if sec is not None:
                sections.add((art, sec))
    starts = sorted(set(titles.values())) + [len(corpus.lines)]

    def span(art: str) -> tuple[int, int]:
        a = titles[art]
        return a, next(s for s in starts if s > a)

    bounds: dict[str, list[tuple[int, str]]] = {art: [] for art in titles}
    for art, sec in sections:
        lo, hi = span(art)
        pos = [p for p in corpus.heading_positions(sec) if lo < p < hi]
        if pos:
            bounds[art].append((pos[0], sec))
    for art in bounds:
        bounds[art].sort()

    problems: list[str] = []
    for lineno, obj in records:
        if obj["type"] == "unanswerable":
            continue
        for art, sec in gold_pairs(obj):
            if sec is not None and sec not in [s for _, s in bounds[art]]:
                problems.append(f"line {lineno} ({obj['id']}): section {sec!r} not inside article {art!r}")
        for ev in obj["evidence"]:
            ok = False
            for art, sec in gold_pairs(obj):
                lo, hi = span(art)
                marks = bounds[art]
                for i in corpus.evidence_lines(ev):
                    if not lo <= i < hi:
                        continue
                    before = [s for p, s in marks if p <= i]
                    here = before[-1] if before else None
                    if here == sec:
                        ok = True
            if not ok:
                problems.append(f"line {lineno} ({obj['id']}): evidence not in its gold article/section: {ev!r}")
    return problems


def gold_pairs(obj: dict) -> list[tuple[str, str | None]]:
    ga, gs = obj["gold_article"], obj["gold_section"]
    if isinstance(ga, list):
        return list(zip(ga, gs, strict=True))  # lengths checked in check_rules
    return [(ga, gs)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = ap.parse_args(argv)
    problems, cases = check(args.dataset, args.corpus)
    for p in problems:
        print("PROBLEM", p)
    counts = Counter(c["type"] for c in cases)
    total = sum(counts.values())
    print(f"valid cases: {total}")
    for t in TYPES:
        share = 100 * counts[t] / total if total else 0
        print(f"  {t:<13}{counts[t]:>4}  {share:5.1f}%")
    articles = {a for c in cases if c["gold_article"] for a in
                (c["gold_article"] if isinstance(c["gold_article"], list) else [c["gold_article"]])}
    print(f"articles covered: {len(articles)}")
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
