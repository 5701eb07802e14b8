"""One pass down the layers: question analysis -> retrieval -> answerability -> backend -> citation check.

`AnswerService.stream()` yields text deltas and finally the `Answer`. The refusal is decided from
the retrieval result and the selector's scores before any backend runs; an OpenAI-compatible
backend that fails falls back to the extractive answer with a visible notice; citations are
built from exact source spans (`citing`), never from model text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from zhibu_qa.answer.analysis import (
    CONJUNCTIONS,
    Query,
    analyse,
    compare_subjects,
    named_column,
    question_parts,
)
from zhibu_qa.answer.answerability import Answerability, Evidence
from zhibu_qa.answer.base import AnswerRequest, Scored, pieces
from zhibu_qa.answer.bylines import asks_author, byline
from zhibu_qa.answer.extractive import ExtractiveAnswerer, scored_from
from zhibu_qa.answer.features import QuestionView
from zhibu_qa.answer.generative import GenerativeAnswerer
from zhibu_qa.answer.selector import Selector
from zhibu_qa.errors import BackendUnavailableError, ConfigError, GenerationError
from zhibu_qa.recency import absent_issue, absent_issue_note
from zhibu_qa.retrieval import Retriever
from zhibu_qa.text import normalize
from zhibu_qa.types import Answer, Filters, Hit, Issue, Turn

BACKENDS = ("extractive", "openai")
HITS_REPORTED = 10  # hits kept on an Answer for display and retrieval metrics (hit@10)
SIDE_POOL = 2  # a comparison side searches k * SIDE_POOL passages and keeps those naming its subject
NOT_COVERED = "本刊（知识库）中没有找到能回答这个问题的内容。"
ASK_IN_CHINESE = "本刊资料为中文，请尝试用中文提问。"
INJECTED = "已忽略问题中要求改变回答规则的内容，仅依据本刊资料作答。"


def final_answer(events: Iterable[str | Answer]) -> Answer:
    """Consume a stream of text deltas and return the Answer that ends it."""
    result = None
    for event in events:
        if isinstance(event, Answer):
            result = event
    if result is None:
        raise GenerationError("the answer stream ended without an answer")
    return result


def judge(view: QuestionView, hits: Sequence[Hit], k: int, selector: Selector, answerability: Answerability,
          corpus_has: Callable[[str], bool], more_hits: Sequence[Hit] = ()) -> tuple[Scored, Evidence]:
    """Score the top-k passages' sentences and assess whether they answer."""
    scored = scored_from(view, hits[:k], selector)
    ev = answerability.assess(view, scored.cands, scored.logits, scored.rows, hits, corpus_has, more_hits)
    return scored, ev


def refusal_text(query: Query, hits: Sequence[Hit], missing: Sequence[str], mode: str,
                 lacks: str = "") -> tuple[str, tuple[str, ...]]:
    titles = tuple(dict.fromkeys(h.meta.article_title for h in hits if h.meta.article_title))[:3]
    what = f"未找到“{'”“'.join(missing[:3])}”的相关内容。" if missing else (f"找到的段落谈到了相关内容，但没有给出所问的{lacks}。" if lacks else "")
    searched = f"已检索：“{query.search[:60]}”（{mode}，{len(hits)} 个段落）。"
    closest = ("相关度最高的文章：" + "；".join(f"《{t}》" for t in titles) + "。") if titles else ""
    return NOT_COVERED + what + (ASK_IN_CHINESE if query.latin else "") + searched + closest, titles


# what a comparison asks of the pair, not of one side (a difference word: 区别, 差异, 异同)
DIFFERENCE_RE = re.compile(r"(?:有|存在)?(?:什么|啥|哪些|何)?(?:不同|区别|差异|异同|不一样)(?:之处|的地方|在哪里?)?的?")
TITLE_RE = re.compile(r"《([^》]{2,60})》")
# verbs of saying/contents: the question asks what a text says, not a detail of its subject
SAYS_RE = re.compile(r"(?:[讲说写谈论述]|介绍|提出|提到|强调|指出)了?(?:些)?(?:什么|啥|哪些)|(?:主要|大致|具体)?内容|讲的是|说的是|讲述|概括|概要|要点|大意")


def asks_about_found_article(view: QuestionView, hits: Sequence[Hit], column: str | None = None) -> bool:
    """A question that names an article by its title in 《》 (or names a column, `column`), asks what
    it says (a verb of saying or "contents") and no specific detail (a number, date, name, place),
    and whose passages come from that article (column): a request for what it says
    ("《…》中“…”一节讲了什么？", "卷首提出了哪些要求？", the chat's own follow-up suggestions).
    """
    if view.asked - {"list", "method", "reason", "definition", "yesno"} or not SAYS_RE.search(view.text):
        return False
    if column is not None and hits and all(h.meta.column == column for h in hits):
        return True
    titles = {normalize(t) for t in TITLE_RE.findall(view.text)}
    return bool(titles) and any(normalize(h.meta.article_title) in titles for h in hits)


class AnswerService:
    """Answers questions from a retriever with a learned selector and answerability model."""

    def __init__(self, retriever: Retriever, source_for: Callable[[str], str], corpus_has: Callable[[str], bool], *,
                 selector: Selector, answerability: Answerability, extractive: ExtractiveAnswerer,
                 generative: GenerativeAnswerer | None = None, article_has: Callable[[str, str], bool] | None = None,
                 max_question_chars: int = 500, mode: str = "hybrid",
                 issues: Callable[[], Sequence[Issue]] | None = None,
                 columns: Callable[[], Sequence[str]] | None = None):
        self.retriever = retriever
        self.source_for = source_for
        self.corpus_has = corpus_has
        self.selector = selector
        self.answerability = answerability
        self.extractive = extractive
        self.generative = generative
        self.article_has = article_has
        self.max_question_chars = max_question_chars
        self.mode = mode
        self.issues = issues  # the archive's issues, to refuse questions about an issue it lacks
        self.columns = columns  # the magazine's column names, to search the column a question names

    def answer(self, question: str, history: Sequence[Turn] = (), **kw) -> Answer:
        return final_answer(self.stream(question, history, **kw))

    def stream(self, question: str, history: Sequence[Turn] = (), *, backend: str = "extractive", k: int = 5,
               filters: Filters = Filters()) -> Iterator[str | Answer]:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
        t0 = time.perf_counter()
        query = analyse(question, history, max_chars=self.max_question_chars)
        if backend == "openai" and query.rewritten and self.generative is not None:
            query = replace(query, search=self.generative.condense(query.cleaned, history, self.max_question_chars)
                            or query.search)
        notices = (INJECTED,) if query.injected else ()
        issues = self.issues() if self.issues is not None else ()
        missing_issue = absent_issue(query.search, issues)
        if missing_issue is not None:  # "2023年第5期讲了什么？" with no such issue ingested
            text = NOT_COVERED + absent_issue_note(missing_issue, issues)
            yield text
            yield self._finish(Answer(query.original, text, True, "not_covered", (), (), (), backend,
                                      notices=notices, search_query=query.search), t0)
            return
        hits, filters, column = self._search(query.search, max(k, HITS_REPORTED), filters)
        view = QuestionView.of(query.search, query.carried, self.corpus_has)
        sides = self._sides(query, k, filters)
        scored, ev = judge(view, hits, k, self.selector, self.answerability, self.corpus_has,
                           [h for side_hits, _ in sides for h in side_hits])
        kind = self.answerability.decide(ev) if scored.cands else "not_covered"
        if kind == "not_covered" and sides and not ev.missing_entity:
            # a comparison is answerable when its sides are, each judged on its own passages
            side_kinds = [self.answerability.decide(self.answerability.assess(
                side.view, side.cands, side.logits, side.rows, side_hits, self.corpus_has))
                for side_hits, side in sides if side.cands]
            if side_kinds and all(k != "not_covered" for k in side_kinds):
                kind = None
        if kind == "not_covered" and not ev.missing_entity and asks_about_found_article(view, hits[:k], column):
            kind = None  # "what does 《…》 (or its section) say": the retrieved article itself answers
        if kind == "not_covered" and not ev.missing_entity and asks_author(view.text) \
                and byline(hits[:k], self.source_for) is not None:
            kind = None  # who wrote it: the best passage's article names its author
        if query.latin and not any(self.corpus_has(t) for t in view.weights):
            kind = "not_covered"  # no word of a Latin-script question occurs in the (Chinese) sources
        if kind == "not_covered":
            text, titles = refusal_text(query, hits, ev.missing or ev.elsewhere, self.mode, ev.lacks)
            yield text
            yield self._finish(Answer(query.original, text, True, "not_covered", (), (), tuple(hits[:HITS_REPORTED]),
                                      backend, notices=notices, search_query=query.search, suggestions=titles), t0)
            return
        request = AnswerRequest(query, tuple(hits[:k]), scored, sides, self._parts(query, hits[:k]))
        answer = None
        if backend == "openai":
            answer, extra = yield from self._generate(request)
            notices += extra
        if answer is None:
            answer = self.extractive.answer(request)
            yield from pieces(answer.text)
        if kind == "partial":
            note = f"（注意：本刊资料中没有关于“{'”“'.join(ev.missing[:3])}”的内容，以上只回答了有资料的部分。）"
            answer = replace(answer, text=answer.text + note, refusal_kind="partial")
            yield note
        yield self._finish(replace(answer, question=query.original, search_query=query.search,
                                   notices=notices + answer.notices, hits=tuple(hits[:HITS_REPORTED])), t0)

    def _search(self, search: str, k: int, filters: Filters) -> tuple[list[Hit], Filters, str | None]:
        """Retrieve; a question that names a column ("卷首提到…", "“党风”栏目…") searches that column
        (unless the filters already choose columns, or the column holds nothing that matches)."""
        column = named_column(search, self.columns()) if self.columns is not None and not filters.columns else None
        if column is not None:
            narrowed = replace(filters, columns=(column,))
            hits = self.retriever.retrieve(search, k, narrowed)
            if hits:
                return hits, narrowed, column
        return self.retriever.retrieve(search, k, filters), filters, None

    def _generate(self, request: AnswerRequest):
        """Run the model backend; (None, notices) when it is missing or fails."""
        if self.generative is None:
            return None, ("未配置大模型服务（llm_base_url/llm_model），以下为摘录式回答。",)
        answer = None
        try:
            for event in self.generative.stream(request):
                if isinstance(event, Answer):
                    answer = event
                else:
                    yield event
        except (BackendUnavailableError, GenerationError) as exc:
            yield "\n\n"
            return None, (f"大模型服务出错（{exc}），以下为摘录式回答。",)
        return answer, ()

    @staticmethod
    def _finish(answer: Answer, t0: float) -> Answer:
        return replace(answer, latency_ms=(time.perf_counter() - t0) * 1000)

    def _parts(self, query: Query, hits: Sequence[Hit]) -> tuple[Scored, ...]:
        parts = question_parts(query.search) if query.intent in ("factoid", "number") else []
        if len(parts) < 2:
            return ()
        return tuple(scored_from(QuestionView.of(p, known=self.corpus_has), hits, self.selector) for p in parts)

    def _sides(self, query: Query, k: int, filters: Filters) -> tuple[tuple[tuple[Hit, ...], Scored], ...]:
        """For a comparison, the passages about each side and their scores."""
        subjects = compare_subjects(query.search) if query.intent == "compare" else None
        if not subjects:
            return ()
        out = []
        # "A和B各…" asked of one side: "A各…" (not "A和各…")
        conjunctions = "|".join(sorted(CONJUNCTIONS, key=len, reverse=True))
        joined = re.compile(rf"{re.escape(subjects[0])}\s*(?:{conjunctions})\s*{re.escape(subjects[1])}")
        for subject, other in (subjects, subjects[::-1]):
            sub_query = joined.sub(subject, query.search, count=1) if joined.search(query.search) \
                else query.search.replace(other, "")
            sub_query = DIFFERENCE_RE.sub("", sub_query)  # each side is asked what it does, not how it differs
            hits = self.retriever.retrieve(sub_query, k * SIDE_POOL, filters)
            named = [h for h in hits if subject in h.chunk.text or subject in h.meta.article_title
                     or subject in (h.meta.section or "")]
            articles = {h.chunk.article_id for h in named}  # the rest of an article that names the side
            named = [h for h in hits if h in named or h.chunk.article_id in articles]
            if not named and self.article_has is not None:
                named = [h for h in hits if self.article_has(h.chunk.article_id, subject)]
            side = tuple((named or hits)[:k])
            out.append((side, scored_from(QuestionView.of(sub_query, known=self.corpus_has), side, self.selector)))
        return tuple(out)
