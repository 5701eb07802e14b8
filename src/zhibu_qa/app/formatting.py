"""Plain data and text views of results for the CLI, UI and benchmark (JSON shapes live here).

Turns Hits, Answers, Articles and ingest reports into the documented JSON objects and into
readable Chinese text. No I/O and no decisions.
"""

from __future__ import annotations

from zhibu_qa.ingest.archive import issue_date
from zhibu_qa.ingest.catalogue import Catalogue
from zhibu_qa.types import Answer, Citation, Hit, ParsedSource


def hit_json(hit: Hit) -> dict:
    return {
        "rank": hit.rank, "score": round(hit.score, 6), "chunk_id": hit.chunk.id, "article_id": hit.chunk.article_id,
        "article_title": hit.meta.article_title, "column": hit.meta.column, "section": hit.meta.section,
        "authors": list(hit.meta.authors), "text": hit.chunk.text, "char_start": hit.chunk.char_start,
        "char_end": hit.chunk.char_end, "issue": hit.meta.issue, "issue_id": hit.chunk.issue_id,
        "issue_date": hit.meta.issue_date,
        "dense_score": None if hit.dense_score is None else round(hit.dense_score, 6),
        "bm25_score": None if hit.bm25_score is None else round(hit.bm25_score, 6),
    }


def search_json(query: str, mode: str, latency_ms: float, hits: list[Hit]) -> dict:
    return {"query": query, "mode": mode, "latency_ms": round(latency_ms, 2), "hits": [hit_json(h) for h in hits]}


def citation_json(c: Citation) -> dict:
    return {"n": c.n, "chunk_id": c.chunk_id, "article_id": c.article_id, "article_title": c.article_title,
            "column": c.column, "section": c.section, "authors": list(c.authors), "issue": c.issue,
            "quote": c.quote, "char_start": c.char_start, "char_end": c.char_end,
            "issue_id": c.issue_id, "issue_date": c.issue_date, "time_note": c.time_note}


def answer_json(a: Answer) -> dict:
    return {
        "question": a.question, "answer": a.text, "refused": a.refused, "refusal_kind": a.refusal_kind,
        "citations": [citation_json(c) for c in a.citations],
        "sentences": [{"text": s.text, "citations": list(s.citations), "support": round(s.support, 3),
                       "supported": s.supported} for s in a.sentences],
        "hits": [hit_json(h) for h in a.hits], "backend": a.backend, "latency_ms": round(a.latency_ms, 2),
        "notices": list(a.notices), "search_query": a.search_query, "suggestions": list(a.suggestions),
    }


def citation_label(c: Citation) -> str:
    """Example: "【1】念好放权赋能“治理经” · 特别关注 · “哨声”连着民生 · 郜敏 · 天津支部生活 2024年第9期（下半月）" """
    issue = c.issue if c.issue and c.issue != c.article_title else ""  # a document's label is its title
    parts = [c.article_title, c.column or "", c.section or "", "、".join(c.authors), issue]
    return f"【{c.n}】" + " · ".join(p for p in parts if p)


def format_answer(a: Answer) -> str:
    lines = []
    for note in a.notices:
        lines.append(f"提示：{note}")
    if a.refused:
        lines.append("（未作答：知识库中没有依据）")
    for c in a.citations:
        quote = " ".join(c.quote.split())
        lines.append(f"{citation_label(c)}\n    “{quote[:160]}{'…' if len(quote) > 160 else ''}”")
        if c.time_note:
            lines.append(f"    （{c.time_note}）")
    flagged = [s.text for s in a.sentences if not s.supported]
    if flagged:
        lines.append("依据不足的句子：" + "；".join(flagged))
    lines.append(f"（{a.backend}，{a.latency_ms:.0f} ms）")
    return "\n".join(lines)


def article_rows(cat: Catalogue) -> list[dict]:
    issues = cat.issues
    return [
        {"id": a.id, "title": a.title, "column": a.column, "authors": list(a.authors), "source": a.source_credit,
         "sections": [s.heading for s in a.sections if s.heading], "n_chars": a.n_chars,
         "issue": issues[a.issue_id].label if a.issue_id in issues else a.issue_id, "issue_id": a.issue_id,
         "issue_date": issue_date(issues[a.issue_id]) if a.issue_id in issues else None, "kind": a.kind}
        for a in cat.articles
    ]


def format_ingest_report(ps: ParsedSource) -> str:
    r = ps.report
    out = [
        f"source: {ps.issue.source_path} ({ps.issue.label}, issue id {ps.issue.id}, sha256 {ps.issue.sha256[:12]}…)",
        f"articles found: {r.articles}, sections: {r.sections}",
        f"TOC entries: {r.toc_entries}, matched: {r.toc_matched}, unmatched: {len(r.toc_unmatched)}",
    ]
    out += [f"  unmatched TOC entry: {t}" for t in r.toc_unmatched]
    out += [f"  TOC/body differ: {toc!r} -> {body!r}" for toc, body in r.toc_differences]
    out.append(f"non-noise characters covered by articles: {r.covered_chars}/{r.content_chars} ({r.coverage:.2%})")
    out.append(f"lines dropped as noise: {len(r.noise_lines)}")
    out += [f"  {ln}" for ln in r.noise_lines]
    out.append(f"suspicious joins: {len(r.suspicious_joins)}")
    out += [f"  {s}" for s in r.suspicious_joins]
    out += [f"warning: {w}" for w in r.warnings]
    return "\n".join(out)
