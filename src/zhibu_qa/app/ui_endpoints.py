"""The named Gradio API endpoints for gradio_client: /ask, /lesson, /feedback, /articles.

Every parameter is checked against what the UI offers (`ui_actions.AskOptions.checked`), answers
get a server-issued id (kept in `feedback.RecentAnswers`) and feedback is accepted only for such an
id. Gradio is passed in by `ui.py` (the only module that imports it); feedback and the catalogue
bypass the answer queue so they never wait behind (or crowd out) questions.
"""

from __future__ import annotations

import functools

from zhibu_qa.app import ui_actions as actions
from zhibu_qa.app.feedback import RecentAnswers
from zhibu_qa.app.formatting import article_rows
from zhibu_qa.config import Settings
from zhibu_qa.errors import ZhibuError


def add_endpoints(gr, pipeline, settings: Settings, startup, answers: RecentAnswers) -> None:
    def guarded(fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                startup.check()
                return fn(*args, **kwargs)
            except ZhibuError as exc:
                raise gr.Error(str(exc), print_exception=False) from exc
        return wrapped

    def ask(question: str, backend: str = "", k: int = 0, mode: str = "", history: list[list[str]] | None = None,
            columns: list[str] | None = None, articles: list[str] | None = None) -> dict:
        """Answer JSON with citations and an answer_id (for /feedback); history is [[question, answer], …];
        backend extractive|openai, mode hybrid|dense|bm25, 1 <= k <= 20 (0 or empty: the defaults);
        columns/articles (ids) filter."""
        opts = actions.AskOptions.checked(backend or settings.backend, k or settings.top_k,
                                          mode or settings.retrieval_mode, columns, articles)
        turns = actions.checked_history(history)
        if not isinstance(question, str):
            raise ZhibuError("问题必须是文字。")
        answer = actions.answer_once(pipeline, question, turns, opts)
        return {**answer, "answer_id": answers.issue(answer, {**opts.as_dict(), "source": "api"})}

    def lesson(topic: str) -> str:
        """A lesson outline (Markdown, markup neutralised) on a topic, with verbatim quotes and their sources."""
        from zhibu_qa.lessons import build_lesson, lesson_markdown

        if not isinstance(topic, str):
            raise ZhibuError("备课主题必须是文字。")
        return lesson_markdown(build_lesson(pipeline, topic))

    def feedback(rating: str, answer_id: str, comment: str = "") -> str:
        """Record "up" or "down" (with an optional comment of at most 1000 characters) on an answer
        this server issued, named by the answer_id that /ask returned."""
        answer, options = answers.get(answer_id)
        if not isinstance(comment, str):
            raise ZhibuError("意见必须是文字。")
        actions.record_feedback(settings.feedback_path, rating, answer, comment, options)
        return "已记录"

    def articles() -> list[dict]:
        """The catalogue: id, title, column, authors, sections, n_chars, issue."""
        return article_rows(pipeline.catalogue)

    for fn in (ask, lesson):
        gr.api(guarded(fn), api_name=fn.__name__, concurrency_id="pipeline")
    for fn in (feedback, articles):  # light: no queue slot, no wait behind answers
        gr.api(guarded(fn), api_name=fn.__name__, queue=False)
