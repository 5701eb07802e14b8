"""Answering: question analysis, the learned sentence selector and answerability model, and the
backends (extractive, OpenAI-compatible) behind one `Answerer` interface, run by `AnswerService`.

Data flows down once: `analysis` -> retrieval (the caller's retriever) -> `selector` +
`answerability` -> a backend (`extractive` or `generative`) -> citations from exact spans (`citing`).
"""

from .analysis import Query, analyse, check_question
from .answerability import Answerability, Evidence
from .base import Answerer, AnswerRequest, Scored
from .extractive import ExtractiveAnswerer
from .generative import GenerativeAnswerer
from .selector import LearnedSelector, Selector
from .service import BACKENDS, AnswerService, final_answer

__all__ = [
    "BACKENDS", "Answerability", "AnswerRequest", "AnswerService", "Answerer", "Evidence", "ExtractiveAnswerer",
    "GenerativeAnswerer", "LearnedSelector", "Query", "Scored", "Selector", "analyse", "check_question",
    "final_answer",
]
