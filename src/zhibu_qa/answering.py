"""Question (+history) -> retrieval -> grounded answer with checked citations, or a refusal.

`AnswerService.stream()` yields text deltas and finally the `Answer`. Refusals are decided from
retrieval evidence (term coverage and dense similarity, thresholds from settings), before any
model runs. Citations are built from chunk metadata and exact source spans, never from text a
model claims. The OpenAI-compatible backend falls back to the extractive answer on any error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .citations import split_answer_sentences, support_score, validate_markers
from .errors import BackendUnavailableError, ConfigError, GenerationError
from .extractive import (
    Candidate,
    boost_quoted,
    candidates,
    coverage,
    dedupe,
    question_terms,
    select,
    term_weights,
)
from .questions import NAMED_IDF, Query, analyse, classify, compare_subjects, places, question_parts
from .retrieval import Retriever
from .shapes import missing_shape, shape_test
from .text import general_idf, in_dictionary, map_span, split_sentences
from .types import Answer, AnswerSentence, Citation, Filters, Hit, Turn

BACKENDS = ("extractive", "openai")
# "各/分别/都" spread a question over the compared sides; once split, each side is a plain question
DISTRIBUTIVE_RE = re.compile(r"分别|各自|各(?=[是有叫卖清办发吸做用设])|都(?=[有在搞])")
COUNTING_RE = re.compile(r"^[一二三四五六七八九十两几\d]+[个项条点招种类件大步批方样]")  # "三招", "五项": counts, not names
CARRIED_WEIGHT = 0.5  # weight of follow-up terms taken from the previous turn
SIDE_POOL = 2  # a comparison side searches k * SIDE_POOL passages and keeps those naming its subject
SUPPORT_THRESHOLD = 0.5  # share of a sentence's characters found in its cited passage
HITS_REPORTED = 10  # hits kept on an Answer for display and retrieval metrics (hit@10)
NOT_COVERED = "本刊（知识库）中没有找到能回答这个问题的内容。"


@dataclass(frozen=True)
class RefusalPolicy:
    """Thresholds fitted by benchmarks/fit_refusal.py on eval/dataset.jsonl (stored in Settings)."""

    min_coverage: float = 0.3  # weighted share of question terms found in the top hits
    min_dense: float = 0.6  # best dense cosine among the hits (m3e-small: unrelated ~0.69)
    max_missing: float = 0.5  # weighted share of question terms absent from the whole knowledge base


@dataclass(frozen=True)
class Evidence:
    coverage: float
    top_dense: float
    missing: tuple[str, ...]  # question terms found nowhere in the knowledge base
    missing_share: float = 0.0  # their share of the question's term weight
    unfound: tuple[str, ...] = ()  # places asked about that are in the knowledge base but not in the hits


def assess(query: Query, hits: Sequence[Hit], corpus_has: Callable[[str], bool]) -> Evidence:
    """Evidence features of a retrieval result for the refusal decision."""
    weights = term_weights(question_terms(query.search))
    context = "\n".join(
        "\n".join((h.chunk.text, h.meta.article_title, h.meta.section or "", h.meta.column or "", *h.meta.authors))
        for h in hits[:5])
    cov = coverage(context, weights) if weights else 0.0
    # BM25-only retrieval has no dense scores: then the dense criterion does not apply
    dense = max((h.dense_score for h in hits if h.dense_score is not None), default=1.0)
    missing = tuple(t for t in weights if _names_something(t) and not _mentioned(t, corpus_has))
    # a place the question is about that none of the passages found mentions: the knowledge base
    # names it elsewhere (a list, an address) but says nothing about it on this topic
    asked_places = places(query.search)
    wide = context + "\n".join(h.chunk.text for h in hits[5:])
    unfound = tuple(p for p in asked_places if p in weights and p not in wide and p not in missing
                    ) if len(asked_places) == 1 and query.intent != "compare" else ()
    total = sum(weights.values()) or 1.0
    return Evidence(cov, dense, missing + unfound, sum(weights[t] for t in missing) / total, unfound)


def _names_something(term: str) -> bool:
    """A rare dictionary word or a longer unknown word; two-character unknowns are usually jieba
    splitting a phrase oddly ("各清", "能卖"), not names.

    Example: _names_something("东丽区") and not _names_something("各清") and not _names_something("三招")
    """
    if len(term) < 2 or general_idf(term) < NAMED_IDF or COUNTING_RE.match(term):
        return False
    return len(term) >= 3 or in_dictionary(term)


def _mentioned(term: str, corpus_has: Callable[[str], bool]) -> bool:
    """Present in the knowledge base, forgiving one stray character jieba glued on ("傅茂公是").

    Example: _mentioned("傅茂公是", lambda t: t == "傅茂公") is True
    """
    if corpus_has(term):
        return True
    if len(term) >= 4 and in_dictionary(term) and corpus_has(term[:2]) and corpus_has(term[2:]):
        return True  # an everyday compound ("荣誉称号") whose parts the text uses, not a missing name
    return len(term) >= 3 and (corpus_has(term[:-1]) or corpus_has(term[1:]))


def decide_refusal(ev: Evidence, policy: RefusalPolicy) -> str | None:
    """None (answer), "not_covered" (refuse) or "partial" (answer, say what is missing).

    Example: decide_refusal(Evidence(0.2, 0.9, ()), RefusalPolicy()) == "not_covered"
    """
    if ev.coverage < policy.min_coverage or ev.top_dense < policy.min_dense:
        return "not_covered"
    if ev.missing and ev.missing_share > policy.max_missing or ev.unfound:
        return "not_covered"
    if ev.missing:
        return "partial"
    return None


def make_citation(n: int, hit: Hit, start: int, end: int, source_text: str) -> Citation:
    """A citation for chunk text [start, end), with the exact source span as its quote."""
    c0, c1 = map_span(hit.chunk.segments, start, end)
    return Citation(
        n=n, chunk_id=hit.chunk.id, article_id=hit.chunk.article_id, article_title=hit.meta.article_title,
        column=hit.meta.column, section=hit.meta.section, authors=hit.meta.authors, issue=hit.meta.issue,
        quote=source_text[c0:c1], char_start=c0, char_end=c1,
    )


def _contiguous(hit: Hit, first: Candidate, last: Candidate) -> bool:
    """Whether two sentences of a chunk can share one quote (one forward span in the source)."""
    try:
        map_span(hit.chunk.segments, first.start, last.end)
        return True
    except ValueError:
        return False


def compose_extractive(chosen: Sequence[Candidate], hits: Sequence[Hit],
                       source_for: Callable[[str], str]) -> tuple[str, list[Citation], list[AnswerSentence]]:
    """Join chosen sentences; adjacent sentences of one chunk share one citation [n], so each quote
    holds only what the answer says."""
    groups: list[list[Candidate]] = []
    for c in chosen:
        if (groups and groups[-1][-1].hit_index == c.hit_index
                and not hits[c.hit_index].chunk.text[groups[-1][-1].end:c.start].strip()  # adjacent: one quote
                and _contiguous(hits[c.hit_index], groups[-1][0], c)):
            groups[-1].append(c)
        else:
            groups.append([c])
    parts, citations, sentences = [], [], []
    for n, group in enumerate(groups, 1):
        hit = hits[group[0].hit_index]
        citations.append(make_citation(n, hit, group[0].start, group[-1].end,
                                       source_for(hit.chunk.issue_id)))
        text = "".join(c.text for c in group)
        parts.append(f"{text}[{n}]")
        for c in group:
            sentences.append(AnswerSentence(c.text, (n,), support_score(c.text, [hit.chunk.text]), True))
    return "".join(parts), citations, sentences


def refusal_text(query: Query, hits: Sequence[Hit], kind: str, missing: Sequence[str], mode: str) -> tuple[str, tuple[str, ...]]:
    titles = tuple(dict.fromkeys(h.meta.article_title for h in hits if h.meta.article_title))[:3]
    searched = f"已检索：“{query.search[:60]}”（{mode}，{len(hits)} 个段落）。"
    what = f"未找到“{'”“'.join(missing[:3])}”的相关内容。" if missing else ""
    closest = ("相关度最高的文章：" + "；".join(f"《{t}》" for t in titles) + "。") if titles else ""
    return NOT_COVERED + what + searched + closest, titles


def final_answer(events: Iterable[str | Answer]) -> Answer:
    """Consume a stream of text deltas and return the Answer that ends it."""
    result = None
    for event in events:
        if isinstance(event, Answer):
            result = event
    if result is None:
        raise GenerationError("the answer stream ended without an answer")
    return result


class AnswerService:
    """Answers questions from a retriever; backends: extractive (default) and openai."""

    def __init__(self, retriever: Retriever, source_for: Callable[[str], str], corpus_has: Callable[[str], bool], *,
                 article_has: Callable[[str, str], bool] | None = None,
                 policy: RefusalPolicy = RefusalPolicy(), similarity: Callable[[str, list[str]], list[float]] | None = None,
                 llm=None, prompts_dir: Path | None = None, max_question_chars: int = 500,
                 context_tokens: int = 3000, mode: str = "hybrid"):
        self.retriever = retriever
        self.source_for = source_for
        self.corpus_has = corpus_has
        self.article_has = article_has
        self.policy = policy
        self.similarity = similarity
        self.llm = llm
        self.prompts_dir = prompts_dir
        self.max_question_chars = max_question_chars
        self.context_tokens = context_tokens
        self.mode = mode

    def answer(self, question: str, history: Sequence[Turn] = (), **kw) -> Answer:
        return final_answer(self.stream(question, history, **kw))

    def stream(self, question: str, history: Sequence[Turn] = (), *, backend: str = "extractive", k: int = 5,
               filters: Filters = Filters()) -> Iterator[str | Answer]:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
        t0 = time.perf_counter()
        query = analyse(question, history, max_chars=self.max_question_chars)
        if backend == "openai" and query.rewritten and self.llm is not None:
            query = self._condense(query, history)
        hits = self.retriever.retrieve(query.search, max(k, HITS_REPORTED), filters)
        ev = assess(query, hits, self.corpus_has)
        kind = decide_refusal(ev, self.policy)
        notices = ["已忽略问题中要求改变回答规则的内容，仅依据本刊资料作答。"] if query.injected else []
        if kind == "not_covered" or not hits:
            text, titles = refusal_text(query, hits, "not_covered", ev.missing, self.mode)
            yield text
            yield self._finish(Answer(query.original, text, True, "not_covered", (), (), tuple(hits[:10]),
                                      backend, notices=tuple(notices), search_query=query.search,
                                      suggestions=titles), t0)
            return
        answer: Answer | None = None
        if backend == "openai":
            if self.llm is None:
                notices.append("未配置大模型服务（llm_base_url/llm_model），以下为摘录式回答。")
            else:
                try:
                    for event in self._generate(query, hits[:k]):
                        if isinstance(event, Answer):
                            answer = event
                        else:
                            yield event
                except (BackendUnavailableError, GenerationError) as exc:
                    notices.append(f"大模型服务出错（{exc}），以下为摘录式回答。")
                    yield "\n\n"
        if answer is None:
            answer = self._extractive(query, hits[:k], filters)
            shape = missing_shape(query.search, "".join(s.text for s in answer.sentences))
            if shape:
                text, titles = refusal_text(query, hits, "not_covered", (), self.mode)
                text = text.replace(NOT_COVERED, NOT_COVERED + f"相关段落中没有问题所问的{shape}。", 1)
                yield text
                yield self._finish(Answer(query.original, text, True, "not_covered", (), (), tuple(hits[:10]),
                                          backend, notices=tuple(notices), search_query=query.search,
                                          suggestions=titles), t0)
                return
            yield from (piece for piece in re.split(r"(?<=\])", answer.text) if piece)  # one cited group at a time
        if kind == "partial":
            note = f"（注意：本刊资料中没有关于“{'”“'.join(ev.missing[:3])}”的内容，以上只回答了有资料的部分。）"
            answer = replace(answer, text=answer.text + note, refusal_kind="partial")
            yield note
        yield self._finish(replace(answer, question=query.original, search_query=query.search,
                                   notices=tuple(notices) + answer.notices, hits=tuple(hits[:10])), t0)

    @staticmethod
    def _finish(answer: Answer, t0: float) -> Answer:
        return replace(answer, latency_ms=(time.perf_counter() - t0) * 1000)

    def _side_hits(self, query: str, subject: str, k: int, filters: Filters) -> list[Hit]:
        """Hits for one side of a comparison: passages that name the subject, else passages of
        articles that do, else whatever the search found."""
        hits = self.retriever.retrieve(query, k * SIDE_POOL, filters)
        subject = (places(subject) or [subject])[0]  # "富民路街道“大工委”" is found by its place
        named = [h for h in hits if subject in h.chunk.text or subject in h.meta.article_title
                 or subject in (h.meta.section or "")]
        # the rest of an article that names the subject goes on about it ("街道建成…")
        articles = {h.chunk.article_id for h in named}
        named = [h for h in hits if h in named or h.chunk.article_id in articles]
        if not named and self.article_has is not None:
            named = [h for h in hits if self.article_has(h.chunk.article_id, subject)]
        return (named or hits)[:k]

    def _about_place(self, question: str, hits: Sequence[Hit]) -> Sequence[Hit]:
        """For a question about one place, the passages about it (when any are among the hits):
        "那河东区呢？" is not answered with 和平区's passage however well its other words match."""
        asked = places(question)
        if len(asked) != 1:
            return hits
        place = asked[0]
        about = [h for h in hits if place in h.chunk.text or place in h.meta.article_title
                 or place in (h.meta.section or "")
                 or (self.article_has is not None and self.article_has(h.chunk.article_id, place))]
        return about or hits

    def _choose(self, question: str, intent: str, hits: Sequence[Hit], offset: int = 0,
                own: str | None = None) -> list[Candidate]:
        weights = boost_quoted(term_weights(question_terms(question)), question)
        if own is not None:
            # a follow-up's own words say what is asked now; the carried topic only locates it
            weights = {t: w if t in own else w * CARRIED_WEIGHT for t, w in weights.items()}
        sim = (lambda sents: self.similarity(question, sents)) if self.similarity else None
        cands = candidates(hits, weights, intent, sim)
        chosen = select(cands, hits, intent, weights, question)
        test = shape_test(question)
        if test is not None and not test("".join(c.text for c in chosen)):
            # the best-scoring passage lacks what is asked (a number, a sum, an address): take the
            # best one that has it, if any; otherwise the refusal check will catch it
            chosen = select(cands, hits, intent, weights, question, require=test)
        return [replace(c, hit_index=c.hit_index + offset) for c in chosen]

    def _extractive(self, query: Query, hits: Sequence[Hit], filters: Filters = Filters()) -> Answer:
        pair = compare_subjects(query.search) if query.intent == "compare" else None
        if pair is None:
            own = query.cleaned if query.rewritten else None
            if query.rewritten:  # not for a plain question: its place may be a premise to correct
                hits = self._about_place(query.search, hits)
            parts = question_parts(query.search)
            if len(parts) == 1:
                chosen = self._choose(query.search, query.intent, hits, own=own)
            else:  # a question asking two things answers each from the same passages
                chosen = dedupe([c for part in parts for c in self._choose(part, classify(part), hits, own=own)])
        else:
            # a comparison answers each side from its own search, so one side cannot crowd out the other
            all_hits: list[Hit] = []
            chosen = []
            for subject, other in (pair, pair[::-1]):
                sub_query = query.search.replace(other, "")
                sub_hits = self._side_hits(sub_query, subject, len(hits), filters)
                intent = classify(DISTRIBUTIVE_RE.sub("", sub_query))
                chosen += self._choose(sub_query, "factoid" if intent == "compare" else intent, sub_hits,
                                       offset=len(all_hits))
                all_hits += sub_hits
            hits = all_hits
            chosen = dedupe(chosen)
        text, cits, sents = compose_extractive(chosen, hits, self.source_for)
        return Answer(query.original, text, False, None, tuple(cits), tuple(sents), tuple(hits), "extractive")

    def _condense(self, query: Query, history: Sequence[Turn]) -> Query:
        from .prompts import format_history, load_prompt, render

        try:
            template = load_prompt("condense_question", self.prompts_dir)
            prompt = render(template, history=format_history(history), question=query.cleaned)
            rewritten = self.llm.complete([{"role": "user", "content": prompt}]).strip()
        except (BackendUnavailableError, GenerationError):
            return query
        return replace(query, search=rewritten[: self.max_question_chars] or query.search)

    def _generate(self, query: Query, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        from .prompts import excerpt_header, format_excerpts, load_prompt, pack_context, render

        excerpts = [(excerpt_header(h.meta.article_title, h.meta.column, h.meta.section, h.meta.authors), h.chunk.text)
                    for h in hits]
        packed = pack_context(excerpts, self.context_tokens)
        system = render(load_prompt("answer_system", self.prompts_dir), max_chars=250)
        user = render(load_prompt("answer_user", self.prompts_dir), excerpts=format_excerpts(packed),
                      question=query.cleaned)
        pieces = []
        for delta in self.llm.stream([{"role": "system", "content": system}, {"role": "user", "content": user}]):
            pieces.append(delta)
            yield delta
        raw = "".join(pieces).strip()
        if not raw:
            raise GenerationError("the model returned an empty answer")
        yield self._check_generated(query, raw, hits[: len(packed)])

    def _check_generated(self, query: Query, raw: str, hits: Sequence[Hit]) -> Answer:
        """Drop invalid markers, cite exact source sentences, flag unsupported sentences."""
        text, removed = validate_markers(raw, set(range(1, len(hits) + 1)))
        notices = [f"已移除无效的引用编号：{removed}"] if removed else []
        citations: dict[int, Citation] = {}
        sentences = []
        for sent, nums in split_answer_sentences(text):
            passages = [hits[n - 1].chunk.text for n in nums]
            score = support_score(sent, passages) if nums else 0.0
            for n in nums:
                if n not in citations:
                    citations[n] = self._best_quote(n, hits[n - 1], sent)
            sentences.append(AnswerSentence(sent, nums, score, score >= SUPPORT_THRESHOLD))
        if any(not s.supported for s in sentences):
            notices.append("部分句子在所引资料中找不到充分依据，已标记。")
        refused = not citations and ("未涉及" in text or "没有找到" in text)
        return Answer(query.original, text, refused, "not_covered" if refused else None,
                      tuple(citations[n] for n in sorted(citations)), tuple(sentences), tuple(hits), "openai",
                      notices=tuple(notices))

    def _best_quote(self, n: int, hit: Hit, sentence: str) -> Citation:
        text = hit.chunk.text
        spans = split_sentences(text) or [(0, len(text))]
        s, e = max(spans, key=lambda se: support_score(sentence, [text[se[0]:se[1]]]))
        return make_citation(n, hit, s, e, self.source_for(hit.chunk.issue_id))
