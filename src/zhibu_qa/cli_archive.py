"""The archive's part of the command line: issue and date filter arguments and `zhibu-qa articles`.

`--issue` takes an issue id or a name such as "2024-09b" / "2024年第9期"; `--year`, `--since`
and `--until` (2024, 2024-09 or 2024-09-15, inclusive) narrow by date. They are checked before
any model loads and resolved against the catalogue into the issue ids the engines filter on.
Printing goes through `cli`'s cleaned streams.
"""

from __future__ import annotations

import argparse
import json
import sys

from zhibu_qa.ingest.archive import IssueFilter, apply_issue_filter, by_recency, issue_date, matching_issues
from zhibu_qa.types import Filters


def add_filter_args(parser: argparse.ArgumentParser, *, columns: bool = True) -> None:
    parser.add_argument("--issue", action="append",
                        help="only this issue: an id, 2024-09b or 2024年第9期 (repeatable)")
    parser.add_argument("--year", action="append", type=int, help="only issues of this year (repeatable)")
    parser.add_argument("--since", metavar="DATE", help="only issues published on or after DATE (2024, 2024-09, 2024-09-15)")
    parser.add_argument("--until", metavar="DATE", help="only issues published on or before DATE")
    if columns:
        parser.add_argument("--column", action="append", help="only this column (repeatable)")
        parser.add_argument("--article", action="append", help="only this article id (repeatable)")


def issue_filter(args) -> IssueFilter:
    """The checked issue filter of parsed arguments (an InputError for a bad date or year)."""
    return IssueFilter.checked(args.issue, args.year, args.since, args.until)


def filters(args, catalogue) -> Filters:
    """Column/article filters plus the issues the issue filter selects in `catalogue`."""
    base = Filters((), tuple(getattr(args, "column", None) or ()), tuple(getattr(args, "article", None) or ()))
    return apply_issue_filter(base, issue_filter(args), catalogue.issues)


def cmd_articles(args, pipe) -> int:
    from zhibu_qa.app.formatting import article_rows

    filt = issue_filter(args)
    cat = pipe.catalogue
    chosen = by_recency(cat.issues.values()) if filt.empty else matching_issues(filt, cat.issues.values())
    if not filt.empty:
        apply_issue_filter(Filters(), filt, cat.issues)  # no issue matches: one clear error
    rows = article_rows(cat)
    by_issue = {i.id: [r for r in rows if r["issue_id"] == i.id] for i in chosen}
    if args.issues:
        listing = [{"issue_id": i.id, "label": i.label, "date": issue_date(i), "year": i.year, "number": i.number,
                    "half": i.half, "kind": i.kind, "n_articles": len(by_issue[i.id]), "source": i.source_path}
                   for i in chosen]
        if args.json:
            return _json(listing)
        for item in listing:
            print(f"{item['issue_id']:18}  {item['date'] or '-':10}  {item['n_articles']:4} 篇  {item['label']}")
        print(f"{len(listing)} issues")
        return 0
    if args.json:
        return _json([r for i in chosen for r in by_issue[i.id]])
    for issue in chosen:
        print(f"== {issue.label} · {issue_date(issue) or '日期不详'} · {issue.id} · {len(by_issue[issue.id])} 篇")
        for r in by_issue[issue.id]:
            print(f"{r['column'] or '-':14}  {r['title'][:36]:36}  {'、'.join(r['authors'])[:20]:20}  "
                  f"{len(r['sections']):3} 节  {r['n_chars']:6} 字")
    print(f"{sum(len(v) for v in by_issue.values())} articles in {len(chosen)} issues")
    return 0


def _json(obj) -> int:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0
