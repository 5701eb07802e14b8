"""The OpenAI-compatible backend: a model writes the answer from numbered excerpts; we check it.

Prompts live in `prompts/` and are rendered strictly; excerpts are packed under a token budget;
invalid [n] markers are removed and reported; each sentence gets a support score against its cited
passages and unsupported ones are flagged; quotes are the exact source sentence that supports it
best. Errors propagate as BackendUnavailableError/GenerationError for the service to fall back on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from zhibu_qa.answer.analysis import Query
from zhibu_qa.answer.base import Answerer, AnswerRequest
from zhibu_qa.answer.citations import split_answer_sentences, support_score, validate_markers
from zhibu_qa.answer.citing import make_citation
from zhibu_qa.errors import BackendUnavailableError, GenerationError
from zhibu_qa.text import split_sentences
from zhibu_qa.types import Answer, AnswerSentence, Citation, Hit, Turn

SUPPORT_THRESHOLD = 0.5  # share of a sentence's characters found in its cited passages
MAX_ANSWER_CHARS = 250


class GenerativeAnswerer(Answerer):
    name = "openai"

    def __init__(self, llm, source_for: Callable[[str], str], *, prompts_dir: Path | None = None,
                 context_tokens: int = 3000):
        self.llm = llm
        self.source_for = source_for
        self.prompts_dir = prompts_dir
        self.context_tokens = context_tokens

    def condense(self, question: str, history: Sequence[Turn], max_chars: int) -> str | None:
        """A standalone search text for a follow-up, written by the model (None on any error)."""
        from zhibu_qa.answer.prompts import format_history, load_prompt, render

        try:
            template = load_prompt("condense_question", self.prompts_dir)
            prompt = render(template, history=format_history(history), question=question)
            rewritten = self.llm.complete([{"role": "user", "content": prompt}]).strip()
        except (BackendUnavailableError, GenerationError):
            return None
        return rewritten[:max_chars] or None

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        from zhibu_qa.answer.prompts import excerpt_header, format_excerpts, load_prompt, pack_context, render

        hits = request.hits
        excerpts = [(excerpt_header(h.meta.article_title, h.meta.column, h.meta.section, h.meta.authors), h.chunk.text)
                    for h in hits]
        packed = pack_context(excerpts, self.context_tokens)
        system = render(load_prompt("answer_system", self.prompts_dir), max_chars=MAX_ANSWER_CHARS)
        user = render(load_prompt("answer_user", self.prompts_dir), excerpts=format_excerpts(packed),
                      question=request.query.cleaned)
        pieces = []
        for delta in self.llm.stream([{"role": "system", "content": system}, {"role": "user", "content": user}]):
            pieces.append(delta)
            yield delta
        raw = "".join(pieces).strip()
        if not raw:
            raise GenerationError("the model returned an empty answer")
        yield self.check(request.query, raw, hits[: len(packed)])

    def check(self, query: Query, raw: str, hits: Sequence[Hit]) -> Answer:
        """Drop invalid markers, cite exact source sentences, flag unsupported sentences."""
        text, removed = validate_markers(raw, set(range(1, len(hits) + 1)))
        notices = [f"已移除无效的引用编号：{removed}"] if removed else []
        citations: dict[int, Citation] = {}
        sentences = []
        for sent, nums in split_answer_sentences(text):
            score = support_score(sent, [hits[n - 1].chunk.text for n in nums]) if nums else 0.0
            for n in nums:
                citations.setdefault(n, self._best_quote(n, hits[n - 1], sent))
            sentences.append(AnswerSentence(sent, nums, score, score >= SUPPORT_THRESHOLD))
        if any(not s.supported for s in sentences):
            notices.append("部分句子在所引资料中找不到充分依据，已标记。")
        refused = not citations and ("未涉及" in text or "没有找到" in text)
        return Answer(query.original, text, refused, "not_covered" if refused else None,
                      tuple(citations[n] for n in sorted(citations)), tuple(sentences), tuple(hits), self.name,
                      notices=tuple(notices))

    def _best_quote(self, n: int, hit: Hit, sentence: str) -> Citation:
        text = hit.chunk.text
        spans = split_sentences(text) or [(0, len(text))]
        s, e = max(spans, key=lambda se: support_score(sentence, [text[se[0]:se[1]]]))
        return make_citation(n, hit, s, e, self.source_for(hit.chunk.issue_id))
