"""Answering: question analysis, the learned sentence selector and answerability model, and the
backends (extractive, OpenAI-compatible) behind one `Answerer` interface, run by `AnswerService`.

Data flows down once: `analysis` -> retrieval (the caller's retriever) -> `selector` +
`answerability` -> a backend (`extractive` or `generative`) -> citations from exact spans (`citing`).
"""

from zhibu_qa.answer.analysis import Query, analyse, check_question
from zhibu_qa.answer.answerability import Answerability, Evidence
from zhibu_qa.answer.base import Answerer, AnswerRequest, Scored
from zhibu_qa.answer.extractive import ExtractiveAnswerer
from zhibu_qa.answer.generative import GenerativeAnswerer
from zhibu_qa.answer.selector import LearnedSelector, Selector
from zhibu_qa.answer.service import BACKENDS, AnswerService, final_answer

__all__ = [
    "BACKENDS", "Answerability", "AnswerRequest", "AnswerService", "Answerer", "Evidence", "ExtractiveAnswerer",
    "GenerativeAnswerer", "LearnedSelector", "Query", "Scored", "Selector", "analyse", "check_question",
    "final_answer",
]
