"""The names a question is about, and which of them the knowledge base or the passages lack.

A name is a quoted term (“…”, 《…》) or a word jieba's part-of-speech model tags as a person,
place, organisation or other proper noun (nr/ns/nt/nz), including the user dictionary's terms.
Everyday words, asking words, numbers and Latin-script words are never names here: a colloquial
or misspelt word is not evidence that the magazine lacks a subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..text import normalize
from ..types import Hit
from .asktype import ASK_PATTERNS

NAME_FLAGS = ("nr", "nrfg", "nrt", "ns", "nt", "nz")
_QUOTED_RE = re.compile(r"[“「『《\"]([^”」』》\"]{2,20})[”」』》\"]")


def _pos(text: str) -> list[tuple[str, str]]:
    from ..text import _jieba

    _jieba()
    import jieba.posseg as pseg

    return [(w.word, w.flag) for w in pseg.lcut(normalize(text))]


def _asking(word: str) -> bool:
    return any(p.search(word) for p in ASK_PATTERNS.values())


def question_names(question: str) -> list[str]:
    """Quoted terms, then runs of name-tagged words, of at least two CJK characters.

    Example: question_names("天津海事局打造了什么品牌？") == ["天津海事局"]
    """
    found = [q for q in _QUOTED_RE.findall(question) if not q.isascii()]
    run = ""
    for word, flag in _pos(_QUOTED_RE.sub("，", question)) + [("", "x")]:
        if flag in NAME_FLAGS and not word.isascii() and not _asking(word):
            run += word
            continue
        if len(run) >= 2:
            found.append(run)
        run = ""
    return list(dict.fromkeys(found))


def mentioned(name: str, corpus_has: Callable[[str], bool]) -> bool:
    """In the knowledge base, forgiving one character jieba glued on at either end.

    Example: mentioned("张三丰是", lambda t: t == "张三丰") is True
    """
    if corpus_has(name):
        return True
    return len(name) >= 3 and (corpus_has(name[:-1]) or corpus_has(name[1:]))


def missing_names(names: Sequence[str], corpus_has: Callable[[str], bool]) -> list[str]:
    """The names the whole knowledge base never mentions."""
    return [n for n in names if not mentioned(n, corpus_has)]


def unfound_names(names: Sequence[str], hits: Sequence[Hit], missing: Sequence[str]) -> list[str]:
    """Names the knowledge base mentions somewhere but none of the retrieved passages does: the
    subject is elsewhere, not in what was found for this question."""
    text = "\n".join(h.chunk.text + h.meta.article_title + (h.meta.section or "") for h in hits)
    return [n for n in names if n not in missing and not mentioned(n, lambda t: t in text)]
