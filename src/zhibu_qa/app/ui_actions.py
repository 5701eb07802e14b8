"""What the web UI's buttons do, without Gradio: startup, asking, citations, reader, lessons, benchmark.

Each function takes the shared `Pipeline` and plain values and returns plain values or HTML from
`views`; `ui.py` (the only Gradio module) wires them to components. Conversations are lists of
{"question", "answer": formatting.answer_json(...)} dicts so they can live in a Gradio State.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhibu_qa.app.formatting import answer_json, article_rows
from zhibu_qa.app.views import (
    article_html,
    catalogue_rows,
    citation_label,
    error_html,
    exception_html,
    locate,
    metrics_table,
    passage_html,
    results_table,
)
from zhibu_qa.config import Settings
from zhibu_qa.errors import ConfigError, InputError, ZhibuError
from zhibu_qa.ingest.archive import IssueFilter, apply_issue_filter, articles_by_issue, issue_heading
from zhibu_qa.types import Answer, Article, Filters, Turn

log = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # same limit as launch(max_file_size="5mb")
WARMUP_QUERY = "基层党建"  # any query: loads the model, vectors and BM25 before the first user


class NotReady(ZhibuError):
    """The knowledge base is still being prepared."""

    ui_title = "请稍候"


class Startup:
    """Prepares the pipeline (ingest, index build, model load) in a background thread.

    `state` goes "pending" -> "preparing" -> "ready" | "error"; the page polls it.
    """

    def __init__(self, pipeline, log_fn: Callable[[str], None] = print):
        self.pipeline = pipeline
        self.log = log_fn
        self.state = "pending"
        self.message = "等待启动"
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._t0 = time.monotonic()
        self._done = threading.Event()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def elapsed(self) -> float:
        return self.seconds if self._done.is_set() else time.monotonic() - self._t0

    def start(self) -> Startup:
        threading.Thread(target=self.run, name="zhibu-startup", daemon=True).start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def run(self) -> None:
        self._t0 = time.monotonic()
        self.state = "preparing"
        try:
            pipe = self.pipeline
            if not pipe.catalogue.sources:
                self.message = "正在导入本刊语料"
                self.log("zhibu-qa: catalogue empty; ingesting the configured corpus")
            status = pipe.index_status() if pipe.catalogue.sources else "missing"
            if status != "ok":
                self.message = "正在建立检索索引，首次启动约需 1–2 分钟"
                self.log(f"zhibu-qa: index {status}; building it (about a minute on 2 cores)…")
            pipe.ensure_ready(progress=False)
            self.message = "正在加载向量模型"
            pipe.search(WARMUP_QUERY, 1)
            self.state = "ready"
        except ZhibuError as exc:
            self.error, self.state = exc, "error"
            self.log(f"zhibu-qa: startup failed: {exc}")
        except Exception as exc:  # shown as a panel; the traceback goes to the server log only
            log.exception("startup failed")
            self.error, self.state = exc, "error"
        finally:
            self.seconds = time.monotonic() - self._t0
            self._done.set()
            if self.state == "ready":
                self.log(f"zhibu-qa: ready after {self.seconds:.1f} s")

    def error_panel(self) -> str:
        if self.error is None:
            return ""
        if isinstance(self.error, ZhibuError):
            return exception_html(self.error)
        return error_html("知识库无法加载", f"{type(self.error).__name__}: {self.error}",
                          "请运行 zhibu-qa index --rebuild 重建索引后重启；如仍失败，请查看服务器日志。")

    def check(self) -> None:
        """Raise when questions cannot be served yet (preparing or failed)."""
        if self.state == "error":
            raise self.error if isinstance(self.error, ZhibuError) else ZhibuError(f"启动失败：{self.error}")
        if not self.ready:
            raise NotReady(f"知识库正在准备中（{self.message}），请稍候再试。")


# What the UI offers; requests are checked against these (never `naive`: it would build an index)
MODES = ("hybrid", "dense", "bm25")
BACKENDS = ("extractive", "openai")
MAX_K = 20
MAX_FILTERS = 100  # more columns/articles than the shipped catalogue holds
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 4000  # per earlier answer; the follow-up rewrite reads only the last turns


def _texts(values: Any, what: str, limit: int = MAX_FILTERS) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) and len(v) <= 200 for v in values):
        raise InputError(f"{what}必须是文字列表。")
    if len(values) > limit:
        raise InputError(f"{what}最多 {limit} 项，收到 {len(values)} 项。")
    return tuple(values)


@dataclass(frozen=True)
class AskOptions:
    backend: str = "extractive"
    k: int = 5
    mode: str = "hybrid"
    columns: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    issues: IssueFilter = IssueFilter()  # issue ids and a publication date range

    @classmethod
    def checked(cls, backend: Any, k: Any, mode: Any, columns: Any = None, article_ids: Any = None,
                issues: Any = None, date_from: Any = None, date_to: Any = None) -> AskOptions:
        """Options from a request, each checked against what the UI offers; else an InputError.

        Example: AskOptions.checked("extractive", 5, "naive") raises InputError
        """
        if backend not in BACKENDS:
            raise InputError(f"回答方式只能是 {'、'.join(BACKENDS)}，收到的是 {str(backend)[:40]!r}。")
        if mode not in MODES:
            raise InputError(f"检索方式只能是 {'、'.join(MODES)}，收到的是 {str(mode)[:40]!r}。")
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InputError(f"参考段落数必须是 1 到 {MAX_K} 之间的整数，收到的是 {str(k)[:40]!r}。")
        dates = [d.strip() if isinstance(d, str) else d for d in (date_from, date_to)]
        return cls(backend, k, mode, _texts(columns, "栏目"), _texts(article_ids, "文章"),
                   IssueFilter.checked(_texts(issues, "期次"), None, *dates))

    @property
    def filters(self) -> Filters:
        return Filters(columns=self.columns, article_ids=self.article_ids)

    def filters_in(self, catalogue) -> Filters:
        """The search filters, the issue part resolved against the catalogue's issues."""
        return apply_issue_filter(self.filters, self.issues, catalogue.issues)

    def as_dict(self) -> dict[str, Any]:
        i = self.issues
        return {"backend": self.backend, "k": self.k, "mode": self.mode, "columns": list(self.columns),
                "article_ids": list(self.article_ids), "issues": list(i.issues), "date_from": i.date_from,
                "date_to": i.date_to}


def plain_answer(answer: dict) -> str:
    """What 复制最新回答 copies: the answer text, then one citation label per line."""
    return "\n".join([answer.get("answer", ""), *(citation_label(c) for c in answer.get("citations") or ())])


def find_citation(conversation: list, value: str | None) -> dict | None:
    """The citation dict for a radio value "<turn>:<n>", or None.

    Example: find_citation([{"answer": {"citations": [{"n": 1}]}}], "0:1") == {"n": 1}
    """
    try:
        turn, n = (int(x) for x in (value or "").split(":"))
        return next(c for c in conversation[turn]["answer"]["citations"] if c["n"] == n)
    except (ValueError, IndexError, StopIteration, KeyError):
        return None


def citation_choices(conversation: Sequence[Mapping[str, Any]], turn: int) -> list[tuple[str, str]]:
    """(label, "<turn>:<n>") radio choices for the citations of answer number `turn`."""
    if not 0 <= turn < len(conversation):
        return []
    return [(citation_label(c), f"{turn}:{c['n']}") for c in conversation[turn]["answer"]["citations"]]


def history_of(conversation: Sequence[Mapping[str, Any]]) -> list[Turn]:
    """Example: history_of([{"question": "q", "answer": {"answer": "a"}}]) == [Turn("q", "a")]"""
    return [Turn(t["question"], t["answer"].get("answer", "")) for t in conversation]


def stream_answer(pipeline, question: str, conversation: Sequence[Mapping[str, Any]],
                  opts: AskOptions) -> Iterator[str | dict]:
    """Yields the answer text so far after each delta, then the final answer JSON dict."""
    text = ""
    for event in pipeline.stream(question, history_of(conversation), backend=opts.backend, k=opts.k,
                                 mode=opts.mode, filters=opts.filters_in(pipeline.catalogue)):
        if isinstance(event, Answer):
            yield answer_json(event)
        else:
            text += event
            yield text


def checked_history(history: Any) -> list[Turn]:
    """[[question, answer], …] from a request as Turns; anything else is an InputError."""
    history = history or []
    if not isinstance(history, (list, tuple)) or len(history) > MAX_HISTORY_TURNS:
        raise InputError(f"对话历史必须是不超过 {MAX_HISTORY_TURNS} 轮的 [问题, 回答] 列表。")
    turns = []
    for item in history:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(x, str) and len(x) <= MAX_HISTORY_CHARS for x in item)):
            raise InputError(f"对话历史的每一轮必须是 [问题, 回答] 两段文字（每段不超过 {MAX_HISTORY_CHARS} 字）。")
        turns.append(Turn(item[0], item[1]))
    return turns


def answer_once(pipeline, question: str, history: Sequence[Turn], opts: AskOptions) -> dict:
    """The finished answer (formatting.answer_json) to a question after earlier turns."""
    turns = list(history)
    return answer_json(pipeline.ask(question, turns, backend=opts.backend, k=opts.k, mode=opts.mode,
                                    filters=opts.filters_in(pipeline.catalogue)))


def source_of(pipeline, citation: Mapping[str, Any]) -> str:
    return pipeline.source_for(pipeline.catalogue.article(citation["article_id"]).issue_id)


def citation_passage(pipeline, citation: Mapping[str, Any]) -> str:
    """The cited quote highlighted in ~300 characters of its source."""
    try:
        source = source_of(pipeline, citation)
    except KeyError:
        return error_html("找不到出处", f"文章 {citation.get('article_id')} 已不在知识库中。")
    return passage_html(source, citation["char_start"], citation["char_end"], citation_label(citation))


def article_view(pipeline, article_id: str, char_start: int | None = None, char_end: int | None = None) -> str:
    """The article as HTML; when `char_start` is given, its paragraph is highlighted and anchored."""
    try:
        art = pipeline.catalogue.article(article_id)
    except KeyError:
        return error_html("找不到文章", f"编号 {article_id} 不在知识库中。")
    issue = pipeline.catalogue.issues.get(art.issue_id)
    target = locate(art, char_start, char_end) if char_start is not None else None
    return article_html(art, issue.label if issue else "", target)


def catalogue_table(pipeline) -> list[list[Any]]:
    """The reader's table: articles grouped by issue, newest issue first, each under its name and date."""
    cat = pipeline.catalogue
    rows = {r["id"]: r for r in article_rows(cat)}
    return catalogue_rows([(issue_heading(issue) if issue else "其他", [rows[a.id] for a in arts])
                           for issue, arts in articles_by_issue(cat.articles, cat.issues)])


def reader_order(pipeline) -> list[Article]:
    """Articles in the reader's order (row 编号 n is item n - 1)."""
    cat = pipeline.catalogue
    return [a for _, arts in articles_by_issue(cat.articles, cat.issues) for a in arts]


def article_choices(pipeline) -> list[tuple[str, str]]:
    """(label, article id) pairs in the reader's order; with several issues the label names the issue."""
    cat = pipeline.catalogue
    several = len(cat.issues) > 1
    return [((f"{cat.issues[a.issue_id].label}｜" if several and a.issue_id in cat.issues else "")
             + f"{a.column or '—'}｜{a.title}", a.id) for a in reader_order(pipeline)]


def column_choices(pipeline) -> list[str]:
    return list(dict.fromkeys(a.column for a in pipeline.catalogue.articles if a.column))


def record_feedback(path: str | Path, rating: str, answer: Mapping[str, Any], comment: str,
                    settings: Mapping[str, Any]) -> Path:
    from zhibu_qa.app.feedback import append_feedback, feedback_record

    return append_feedback(path, feedback_record(rating, answer, comment, settings))


def feedback_on_turn(path: str | Path, rating: str, comment: str, conversation: Sequence[Mapping[str, Any]],
                     turn: int) -> tuple[str, bool]:
    """Record feedback on answer number `turn`; returns (message for the user, recorded?)."""
    if not 0 <= turn < len(conversation):
        return "请先提问，再评价回答。", False
    entry = conversation[turn]
    try:
        answer = {**entry["answer"], "question": entry["question"]}  # as the user typed it
        record_feedback(path, rating, answer, comment, entry.get("options", {}))
    except ZhibuError as exc:
        return f"⚠ {exc}", False
    return f"已记录您的反馈（{'有帮助' if rating == 'up' else '没帮助'}），谢谢！", True


def auth_pair(settings: Settings) -> tuple[str, str] | None:
    """(user, password) when both are set; one without the other is a configuration error."""
    if bool(settings.auth_user) != bool(settings.auth_password):
        raise ConfigError("set both ZHIBU_AUTH_USER and ZHIBU_AUTH_PASSWORD to enable login (or neither)")
    return (settings.auth_user, settings.auth_password) if settings.auth_user else None


def safe_stem(text: str, limit: int = 30) -> str:
    """A file-name-safe stem. Example: safe_stem("为基层减负/党建?") == "为基层减负党建" """
    return re.sub(r"[^\w-]+", "", text)[:limit] or "lesson"


@dataclass(frozen=True)
class BenchmarkView:
    metrics: tuple[list[str], list[list[str]]]
    results: tuple[list[str], list[list[Any]]]
    chart: Path | None
    report_md: Path
    report_zip: Path
    n_questions: int


def check_upload(path: str | Path) -> Path:
    """An uploaded dataset must be a .jsonl file of at most 5 MB."""
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise InputError(f"只支持 .jsonl 文件，收到的是 {path.name}。")
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        raise InputError(f"文件过大（{path.stat().st_size // 1024} KB），上限为 5 MB。")
    return path


def run_benchmark(pipeline, dataset: Path, out_dir: Path, configs: Sequence[str], *,
                  backend: str = "extractive", limit: int | None = None,
                  on_progress: Callable[[int, int], None] | None = None, cancel=None) -> BenchmarkView:
    """Run the benchmark into a fresh folder of out_dir and read back its report files; `cancel`
    (a threading.Event) stops it between questions (`errors.RunCancelled`)."""
    from zhibu_qa.benchmark import run_eval

    if not configs:
        raise InputError("请至少选择一种检索配置。")
    run_dir = out_dir / "eval" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    out = Path(run_eval(pipeline, dataset, run_dir, list(configs), backend=backend, limit=limit or None,
                        on_progress=on_progress, progress=False, cancel=cancel))
    summary = json.loads((out / "report.json").read_text(encoding="utf-8"))
    records = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    archive = Path(shutil.make_archive(str(out.parent / f"{out.name}-报告"), "zip", out))
    chart = out / "chart.png"
    return BenchmarkView(metrics_table(summary), results_table(records), chart if chart.exists() else None,
                         out / "report.md", archive, int(summary.get("n_questions") or 0))
