"""HTML and Markdown views for the web UI, built from plain data (answer JSON, articles, reports).

Every piece of source or model text is escaped here (HTML entities, and Markdown punctuation for
the chat), so the UI never renders raw HTML from the corpus or a model. Pure functions only: no
Gradio, no I/O, no decisions about what to show; `ui.py` wires these to components.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from zhibu_qa.app.ui_links import article_href, citation_href
from zhibu_qa.errors import (
    BackendUnavailableError,
    ConfigError,
    DatasetError,
    IndexMismatchError,
    IndexMissingError,
    IngestError,
    InputError,
    ModelError,
)
from zhibu_qa.evaluation.labels import metric_name
from zhibu_qa.evaluation.report import TYPE_METRICS, fmt
from zhibu_qa.markup import escape_md
from zhibu_qa.types import Article, Citation

PASSAGE_CONTEXT = 150  # characters shown on each side of a quote (~300 in all)
QUOTE_HINT = 14  # characters of a quote that tell two citations of one section apart
_MARKER = re.compile(r"\[(\d+(?:,\d+)*)\]")  # the answer's validated markers, e.g. [1] or [1,3]
# (title, what to do) per error kind, for non-technical readers; the library message follows.
ERROR_HELP: tuple[tuple[type[Exception], str, str], ...] = (
    (InputError, "输入有误", ""),
    (ModelError, "无法加载向量模型", "请确认模型目录完整（可运行 zhibu-qa fetch-model），然后重启本程序。"),
    (IndexMismatchError, "知识库索引损坏或与当前设置不符", "请运行 zhibu-qa index --rebuild 重建索引，然后重启本程序。"),
    (IndexMissingError, "知识库索引缺失", "请运行 zhibu-qa ingest 和 zhibu-qa index，然后重启本程序。"),
    (BackendUnavailableError, "大模型服务不可用", "可在“回答设置”中改用“摘录式”回答。"),
    (DatasetError, "评测数据集有问题", "请按 eval/README.md 的格式修改后重新上传。"),
    (IngestError, "语料读取失败", "请检查语料文件是否存在、是否为文本或 PDF。"),
    (ConfigError, "设置有误", "请检查 zhibu_qa.toml 或 ZHIBU_* 环境变量。"),
)


def esc(text: str) -> str:
    """HTML-escape text and keep its line breaks. Example: esc("a<b\\nc") == "a&lt;b<br>c" """
    return html.escape(text or "").replace("\n", "<br>")


def citation_from_json(d: Mapping[str, Any]) -> Citation:
    """Inverse of `formatting.citation_json`."""
    return Citation(**{**d, "authors": tuple(d.get("authors") or ())})


def citation_label(d: Mapping[str, Any]) -> str:
    """Example: "【1】念好放权赋能“治理经” · 特别关注 · 郜敏" (see formatting.citation_label)"""
    from zhibu_qa.app.formatting import citation_label as label

    return label(citation_from_json(d))


def citation_labels(citations: Sequence[Mapping[str, Any]]) -> list[str]:
    """One label per citation; citations of the same article and section also show their quote's start,
    so two of them are told apart. Example: ["【1】甲 · 一 · “截至目前…”", "【2】甲 · 一 · “河东区…”"]"""
    counts: dict[tuple, int] = {}
    for c in citations:
        counts[(c.get("article_id"), c.get("section"))] = counts.get((c.get("article_id"), c.get("section")), 0) + 1
    out = []
    for c in citations:
        label = citation_label(c)
        if counts[(c.get("article_id"), c.get("section"))] > 1:
            quote = " ".join((c.get("quote") or "").split())
            label += f" · “{quote[:QUOTE_HINT]}{'…' if len(quote) > QUOTE_HINT else ''}”"
        out.append(label)
    return out


def _attr(text: str, limit: int = 300) -> str:
    """Text for an HTML attribute: one line, at most `limit` characters, escaped."""
    text = " ".join((text or "").split())
    return html.escape(text[:limit] + ("…" if len(text) > limit else ""), quote=True)


def cite_link(c: Mapping[str, Any], label: str, text: str) -> str:
    """An inline link to a citation's quote in the reader; hovering shows the label and the quote."""
    return (f'<a class="zq-cite" href="{html.escape(citation_href(c))}" '
            f'title="{_attr(label + "：" + (c.get("quote") or ""))}">{text}</a>')


def linked_markers(text: str, citations: Sequence[Mapping[str, Any]]) -> str:
    """Escaped answer text whose [n] markers are links to their citations (unknown numbers stay text).

    Example: linked_markers("甲。[1]", []) == "甲。\\[1\\]"
    """
    by_n = {c["n"]: (c, label) for c, label in zip(citations, citation_labels(citations), strict=True)}
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        numbers = [int(x) for x in m.group(1).split(",")]
        if not all(n in by_n for n in numbers):
            continue
        out.append(escape_md(text[pos:m.start()]))
        out.append("".join(cite_link(*by_n[n], f"\\[{n}\\]") for n in numbers))
        pos = m.end()
    out.append(escape_md(text[pos:]))
    return "".join(out)


# --- chat ------------------------------------------------------------------------------------

def mark_unsupported(text: str, flagged: Iterable[str], citations: Sequence[Mapping[str, Any]] = ()) -> str:
    """Escaped answer text with each flagged sentence visibly marked as lacking support; [n] markers linked."""
    out, pos = [], 0
    for sentence in flagged:
        i = text.find(sentence, pos) if sentence else -1
        if i < 0:
            continue
        out.append(linked_markers(text[pos:i], citations))
        out.append(f'<span class="zq-unsupported" title="这句话在所引原文中找不到充分依据">'
                   f"{linked_markers(sentence, citations)}</span>（⚠依据不足）")
        pos = i + len(sentence)
    out.append(linked_markers(text[pos:], citations))
    return "".join(out)


def answer_markdown(a: Mapping[str, Any], understood: str = "",
                    suggested: Sequence[tuple[str, str]] = ()) -> str:
    """The chat message for a finished answer (`formatting.answer_json` shape); `understood` is the
    rewritten search text of a follow-up, `suggested` (title, article id) links for a refusal."""
    parts = [f'<span class="zq-rewritten">按上下文理解为：{escape_md(understood)}</span>'] if understood else []
    parts += [f"> ℹ {escape_md(n)}" for n in a.get("notices") or ()]
    if a.get("refused"):
        parts.append("**【未作答】本刊资料中没有足够依据**")
        parts.append(escape_md(a.get("answer", "")))
        links = dict(suggested)
        if a.get("suggestions"):
            parts.append("可以先读读这些文章：\n" + "\n".join(
                f'- <a class="zq-suggest" href="{html.escape(article_href(links[t]))}">《{escape_md(t)}》</a>'
                if t in links else f"- 《{escape_md(t)}》" for t in a["suggestions"]))
        return "\n\n".join(parts)
    cites = a.get("citations") or []
    flagged = [s["text"] for s in a.get("sentences") or () if not s.get("supported", True)]
    parts.append(mark_unsupported(a.get("answer", ""), flagged, cites))
    if flagged:
        parts.append("*标有“⚠依据不足”的句子在所引原文中找不到充分依据，请谨慎使用。*")
    if cites:
        parts.append("**引用来源**（点击编号或来源，在“文章”中查看原文）\n" + "\n".join(
            f"- {cite_link(c, label, escape_md(label))}"
            + (f"（{escape_md(c['time_note'])}）" if c.get("time_note") else "")
            for c, label in zip(cites, citation_labels(cites), strict=True)))
    return "\n\n".join(parts)


def chat_messages(conversation: Sequence[Mapping[str, Any]],
                  pending: tuple[str, str] | None = None) -> list[dict]:
    """Chatbot messages for finished turns plus an optional (question, partial answer) in progress."""
    msgs: list[dict] = []
    for turn in conversation:
        msgs.append({"role": "user", "content": escape_md(turn["question"])})
        msgs.append({"role": "assistant", "content": answer_markdown(
            turn["answer"], turn.get("understood", ""), turn.get("suggested", ()))})
    if pending is not None:
        msgs.append({"role": "user", "content": escape_md(pending[0])})
        msgs.append({"role": "assistant", "content": escape_md(pending[1]) or "正在检索……"})
    return msgs


def passage_html(source: str, start: int, end: int, label: str = "", context: int = PASSAGE_CONTEXT) -> str:
    """The quoted span in context, quote wrapped in <mark>; all text escaped."""
    lo, hi = max(0, start - context), min(len(source), end + context)
    head = f'<div class="zq-passage-head">{esc(label)}</div>' if label else ""
    before, after = ("…" if lo > 0 else ""), ("…" if hi < len(source) else "")
    return (f'<div class="zq-passage">{head}<p>{before}{esc(source[lo:start])}'
            f"<mark>{esc(source[start:end])}</mark>{esc(source[end:hi])}{after}</p></div>")


def _score(value: Any) -> str:
    return "—" if value is None else f"{value:.4f}"


def hits_html(hits: Sequence[Mapping[str, Any]]) -> str:
    """The side panel: retrieved passages in rank order with a relevance bar (relative to the best
    passage); the raw fused, vector and BM25 scores stay in a collapsed detail."""
    if not hits:
        return '<p class="zq-muted">提问后，这里会列出检索到的段落，按相关度排序。</p>'
    top = max((h.get("score") or 0.0) for h in hits) or 1.0
    items = []
    for i, h in enumerate(hits, 1):
        where = " · ".join(x for x in (h.get("article_title"), h.get("column"), h.get("section")) if x)
        text = h.get("text", "")
        pct = max(0, min(100, round(100 * (h.get("score") or 0.0) / top)))
        href = citation_href({**h, "n": 0}) if h.get("article_id") and h.get("char_end") else ""
        open_link = f' <a class="zq-hit-open" href="{html.escape(href)}">在文章中查看</a>' if href else ""
        items.append(
            f'<li><div class="zq-hit-head">{esc(where)}</div>'
            f'<div class="zq-rel" title="相关度（相对第 1 名）{pct}%"><span class="zq-rank">第 {i} 名</span>'
            f'<span class="zq-relbar"><span style="width:{pct}%"></span></span>{open_link}</div>'
            f"<details><summary>{esc(text[:60])}{'…' if len(text) > 60 else ''}</summary>"
            f"{esc(text)}</details>"
            f'<details class="zq-score"><summary>得分明细</summary>综合 {_score(h.get("score"))} · '
            f'向量 {_score(h.get("dense_score"))} · BM25 {_score(h.get("bm25_score"))}</details></li>')
    return f'<ol class="zq-hits">{"".join(items)}</ol>'


# --- reader ----------------------------------------------------------------------------------

def locate(article: Article, char_start: int, char_end: int | None = None) -> tuple[int, int, int, int] | None:
    """(section, paragraph, start, end within the paragraph text) of the source span [char_start, char_end).

    Only the part inside the first paragraph the span touches is returned.
    """
    end = char_start + 1 if char_end is None else char_end
    for si, sec in enumerate(article.sections):
        for pi, p in enumerate(sec.paragraphs):
            parts = [(s, max(char_start, s.source_start), min(end, s.source_start + s.length))
                     for s in p.segments]
            parts = [(s, a, b) for s, a, b in parts if a < b]
            if parts:
                (s0, a0, _), (s1, _, b1) = parts[0], parts[-1]
                return si, pi, s0.text_start + a0 - s0.source_start, s1.text_start + b1 - s1.source_start
    return None


def article_html(article: Article, issue_label: str = "",
                 target: tuple[int, int, int, int] | None = None, section: int | None = None) -> str:
    """An article with its section headings as anchors; the `target` span (see `locate`) is marked,
    else section number `section` (else the title) carries id="zq-focus" for the page to scroll to."""
    meta = " · ".join(x for x in (article.column, "、".join(article.authors), issue_label) if x)
    focus = target is None and (section is None or not 0 <= section < len(article.sections))
    out = [f'<article class="zq-article"><h2{" id=zq-focus" if focus else ""}>{esc(article.title)}</h2>'
           f'<div class="zq-meta">{esc(meta)}</div>']
    headed = [(i, s.heading) for i, s in enumerate(article.sections) if s.heading]
    if headed:
        out.append('<nav class="zq-toc"><strong>本文小节</strong><ol>' + "".join(
            f'<li><a href="{html.escape(article_href(article.id, i))}">{esc(h)}</a></li>' for i, h in headed)
            + "</ol></nav>")
    for si, sec in enumerate(article.sections):
        focused = target is None and si == section
        out.append(f'<section id="zq-sec-{si}"{" data-focus=1" if focused else ""}>')
        if sec.heading:
            out.append(f"<h3{' id=zq-focus' if focused else ''}>{esc(sec.heading)}</h3>")
        elif focused:
            out.append('<span id="zq-focus"></span>')
        for pi, p in enumerate(sec.paragraphs):
            kind = ' data-kind="caption"' if p.kind == "caption" else ""
            if target is not None and target[:2] == (si, pi):
                a, b = target[2], target[3]
                out.append(f'<p id="zq-target" class="zq-target"{kind}>{esc(p.text[:a])}'
                           f"<mark>{esc(p.text[a:b])}</mark>{esc(p.text[b:])}</p>")
            else:
                out.append(f"<p{kind}>{esc(p.text)}</p>")
        out.append("</section>")
    out.append("</article>")
    return "".join(out)


CATALOGUE_HEADERS = ["编号", "栏目", "标题", "作者"]


ISSUE_ROW_COLUMN = "期次"  # the 栏目 cell of an issue's heading row (its 编号 cell is empty)


def catalogue_rows(groups: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> list[list[Any]]:
    """Table rows (编号, 栏目, 标题, 作者): per group a heading row (empty 编号, the issue's name and
    date as its title), then its articles (`formatting.article_rows`), numbered 1… across groups.

    Example: catalogue_rows([("第9期 · 2024-09-15", [{"title": "甲文"}])]) == [["", "期次", "第9期 · 2024-09-15（1 篇）", ""], [1, "—", "甲文", "—"]]
    """
    out: list[list[Any]] = []
    number = 0
    for heading, rows in groups:
        out.append(["", ISSUE_ROW_COLUMN, f"{heading}（{len(rows)} 篇）", ""])
        for r in rows:
            number += 1
            out.append([number, r.get("column") or "—", r["title"], "、".join(r.get("authors") or ()) or "—"])
    return out


# --- panels ----------------------------------------------------------------------------------

def describe_error(exc: BaseException) -> tuple[str, str]:
    """(Chinese title, what to do) for an error shown to a user; an error may carry its own `ui_title`."""
    if getattr(exc, "ui_title", None):
        return exc.ui_title, ""
    for kind, title, hint in ERROR_HELP:
        if isinstance(exc, kind):
            return title, hint
    return "出错了", "请稍后重试；如果问题持续，请联系管理员并提供上面的说明。"


def error_html(title: str, detail: str = "", hint: str = "", problems: Sequence[str] = ()) -> str:
    items = "".join(f"<li>{esc(p)}</li>" for p in problems[:50])
    more = f"<li>……另有 {len(problems) - 50} 处</li>" if len(problems) > 50 else ""
    return (f'<div class="zq-error" role="alert"><strong>⚠ {esc(title)}</strong>'
            + (f"<p>{esc(detail)}</p>" if detail else "") + (f"<ul>{items}{more}</ul>" if items else "")
            + (f'<p class="zq-hint">{esc(hint)}</p>' if hint else "") + "</div>")


def exception_html(exc: BaseException) -> str:
    title, hint = describe_error(exc)
    return error_html(title, str(exc), hint, getattr(exc, "problems", ()) or ())


def status_html(state: str, message: str = "", elapsed: float = 0.0) -> str:
    """The startup banner: "preparing" (with an animated bar), "ready" (empty) or "error"."""
    if state == "ready":
        return ""
    if state == "error":
        return message  # already an error panel
    return ('<div class="zq-status" role="status"><strong>正在准备知识库……</strong>'
            f"<p>{esc(message or '正在加载')}（已用 {elapsed:.0f} 秒）</p>"
            '<div class="zq-bar"><div></div></div></div>')


# --- benchmark -------------------------------------------------------------------------------

def metric_label(key: str) -> str:
    """Example: metric_label("hit@5") == "检索命中率@5 (hit@5)" """
    return metric_name(key)


def metrics_table(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of overall metrics per configuration from report.json."""
    configs = summary.get("configs") or {}
    names = list(configs)
    keys: list[str] = []
    for c in names:
        for k, v in (configs[c].get("overall") or {}).items():
            if k not in keys and (v is None or isinstance(v, (int, float))):
                keys.append(k)
    rows = [[metric_label(k)] + [fmt(k, (configs[c].get("overall") or {}).get(k)) for c in names]
            for k in keys]
    return ["指标", *names], rows


def results_table(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of per-question results from results.jsonl records."""
    present = [k for k in TYPE_METRICS if any(k in (r.get("metrics") or {}) for r in records)][:5]
    headers = ["编号", "配置", "类型", "问题", "回答", "拒答", *(metric_label(k) for k in present)]
    rows = []
    for r in records:
        answer = " ".join(str(r.get("answer", "")).split())
        rows.append([r.get("id", ""), r.get("config", ""), r.get("type", ""), r.get("question", ""),
                     answer[:120] + ("…" if len(answer) > 120 else ""), "是" if r.get("refused") else "否",
                     *(fmt(k, (r.get("metrics") or {}).get(k)) for k in present)])
    return headers, rows


# --- knowledge base (资料库) ---------------------------------------------------------------------

SOURCE_HEADERS = ["期号 / 文档", "文件", "文章数", "字数", "导入时间"]


def ingest_report_html(ps) -> str:
    """The validation report of a parsed upload (`ParsedSource`), shown before anything changes."""
    r = ps.report
    rows = [("识别为", ps.issue.label or ps.issue.id), ("文章", f"{r.articles} 篇，{r.sections} 节"),
            ("正文覆盖", f"{r.covered_chars}/{r.content_chars} 字（{r.coverage:.1%}）"),
            ("噪声行", f"{len(r.noise_lines)} 行"), ("可疑拼接", f"{len(r.suspicious_joins)} 处")]
    if r.toc_entries:
        rows.insert(2, ("目录匹配", f"{r.toc_matched}/{r.toc_entries}"))
    titles = [a.title for a in ps.articles[:30]]
    items = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    warn = "".join(f"<li>{esc(w)}</li>" for w in (*r.warnings, *(f"目录未匹配：{t}" for t in r.toc_unmatched)))
    return (f'<div class="zq-report"><table>{items}</table>'
            + (f"<p>识别出的文章：</p><ol>{''.join(f'<li>{esc(t)}</li>' for t in titles)}</ol>" if titles else "")
            + (f'<ul class="zq-warn">{warn}</ul>' if warn else "") + "</div>")


def source_rows(catalogue) -> list[list[Any]]:
    """Rows of the 资料库 table, one per ingested source."""
    chars: dict[str, int] = {}
    for a in catalogue.articles:
        chars[a.issue_id] = chars.get(a.issue_id, 0) + a.n_chars
    return [[s.issue.label or s.issue.id, s.path.rsplit("/", 1)[-1], s.n_articles, chars.get(s.issue.id, 0),
             s.ingested_at[:19].replace("T", " ")] for s in catalogue.sources]
