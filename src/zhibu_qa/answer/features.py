"""Features of (question, sentence) pairs and of a whole retrieval result, as plain numbers.

The same functions build training examples (`training.fit`) and score candidates when answering,
so what the models learned is what they see. Lexical signals are weighted by jieba's
general-language IDF; answer-type signals come from `asktype`. No thresholds live here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from zhibu_qa.answer.asktype import (
    ASK_PATTERNS,
    ASK_TYPES,
    DATE_RE,
    DEICTIC_MEASURE_RE,
    NUMBER_RE,
    answer_shapes,
    asked_types,
    counted_noun,
    slot_pattern,
    unit_pattern,
)
from zhibu_qa.text import cut, general_idf, in_dictionary, split_sentences
from zhibu_qa.types import Hit

# jieba's general-language IDF runs ~7 (问题) to ~18 (unknown words); above this floor a word
# starts to say what the question is about.
IDF_FLOOR = 8.0
MIN_SENTENCE_CHARS = 4
CARRIED_WEIGHT = 0.5
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_WORD_CHAR_RE = re.compile(r"[\u4e00-\u9fff0-9a-zA-Z]")
_QUOTED_RE = re.compile(r"[“「『《\"]([^”」』》\"]{1,30})[”」』》\"]")
_PRONOUN_START_RE = re.compile(r"^[“\s]*(?:他|她|它|其|该|此|这|那)")
# function characters jieba's new-word guessing glues onto an unknown neighbour
_GLUE_CHARS = set("是的了在和与把被给让对向从到里为就也都又那这")


def _unglue(term: str) -> str:
    """Example: _unglue("傅某某是") == "傅某某" """
    if len(term) < 3 or in_dictionary(term) or term.isascii():
        return term
    while len(term) >= 3 and term[-1] in _GLUE_CHARS:
        term = term[:-1]
    while len(term) >= 3 and term[0] in _GLUE_CHARS:
        term = term[1:]
    return term


# jieba dictionary tags of function-word classes: pronouns (incl. 啥/咋/哪儿), modal particles,
# auxiliaries, conjunctions, prepositions, interjections, onomatopoeia, locatives, adverbs,
# numeral-classifier phrases. Such words ask or connect; they name nothing to look up.
FUNCTION_TAGS = frozenset({"r", "y", "u", "uj", "ul", "uz", "ug", "uv", "ud", "c", "p", "e", "o", "f", "d", "mq", "q", "zg"})
ABSENT_WEIGHT = 0.1  # a word the knowledge base never uses (a typo, a colloquialism) locates nothing


def _tags():
    from zhibu_qa.text import _jieba

    _jieba().initialize()
    import jieba.posseg as pseg

    return pseg.dt.word_tag_tab


def question_terms(question: str) -> list[str]:
    """Distinct content words of a question (jieba; stopwords, asking and function words removed).

    Example: "大桥" in question_terms("这座大桥是哪一年建成的？")
    """
    tags = _tags()
    terms = (_unglue(t) for t in cut(question))
    return list(dict.fromkeys(t for t in terms if (len(t) >= 2 or t.isdigit()) and tags.get(t) not in FUNCTION_TAGS
                              and not DEICTIC_MEASURE_RE.match(t)))


def term_weights(terms: Sequence[str]) -> dict[str, float]:
    """Example: term_weights(["问题", "东丽区"])["东丽区"] > term_weights(["问题", "东丽区"])["问题"]"""
    return {t: max(0.3, general_idf(t) - IDF_FLOOR) for t in terms}


def coverage(text: str, weights: dict[str, float]) -> float:
    """Weighted share of question terms that occur in `text`.

    Example: coverage("甲乙", {"甲": 3.0, "丙": 1.0}) == 0.75
    """
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in text) / total if total else 0.0


def local_weights(weights: dict[str, float], texts: Sequence[str]) -> dict[str, float]:
    """Re-weight terms by how few candidate texts contain them (the article's topic word locates
    nothing inside the article; a rarer word points at the answer).

    Example: local_weights({"甲": 1.0, "乙": 1.0}, ["甲乙", "甲", "甲"])["乙"] > 1.0
    """
    n = len(texts)
    return {t: w * (1.0 + math.log((n + 1) / (sum(1 for s in texts if t in s) + 1))) for t, w in weights.items()}


def _mask_asking(question: str) -> str:
    """The question with its interrogatives and punctuation blanked out (what it is about)."""
    chars = list(question)
    for pattern in ASK_PATTERNS.values():
        for m in pattern.finditer(question):
            for i in range(m.start(), m.end()):
                chars[i] = " "
    return "".join(c if _WORD_CHAR_RE.match(c) else " " for c in chars)


@dataclass(frozen=True)
class QuestionView:
    """Everything about a question the features need, computed once."""

    text: str
    weights: dict[str, float]
    core: str  # the question without asking words and punctuation
    bigrams: frozenset[str]
    asked: frozenset[str]
    unit: re.Pattern | None = None  # a number with the asked measure word
    counted: str | None = None  # the noun counted
    slot: re.Pattern | None = None  # a quoted name next to the noun asked about

    @classmethod
    def of(cls, question: str, carried: Sequence[str] = (), known: Callable[[str], bool] | None = None) -> QuestionView:
        """`carried`: words a follow-up took from the previous turn; they locate the topic, the
        follow-up's own words say what is asked now, so they weigh CARRIED_WEIGHT. `known`: whether
        the knowledge base uses a word; unknown words weigh ABSENT_WEIGHT."""
        weights = term_weights(question_terms(question))
        if known is not None:
            weights = {t: w if known(t) else w * ABSENT_WEIGHT for t, w in weights.items()}
        quoted = "".join(_QUOTED_RE.findall(question))
        weights = {t: w * 2.0 if t in quoted else w for t, w in weights.items()}  # quoted = what it is about
        weights = {t: w * CARRIED_WEIGHT if any(t in c or c in t for c in carried) else w for t, w in weights.items()}
        core = _mask_asking(question)
        bigrams = frozenset(b for run in core.split() for b in (run[i:i + 2] for i in range(len(run) - 1)))
        return cls(question, weights, " ".join(core.split()), bigrams, asked_types(question),
                   unit_pattern(question), counted_noun(question), slot_pattern(question))


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved chunk: `text == hits[hit_index].chunk.text[start:end]`."""

    hit_index: int
    start: int
    end: int
    text: str
    position: int  # sentence number inside its chunk
    count: int  # sentences in the chunk


def candidates(hits: Sequence[Hit]) -> list[Candidate]:
    """Every sentence (of at least MIN_SENTENCE_CHARS characters) of the hits, in chunk order."""
    out = []
    for hi, hit in enumerate(hits):
        text = hit.chunk.text
        spans = [(s, e) for s, e in split_sentences(text) if e - s >= MIN_SENTENCE_CHARS]
        out += [Candidate(hi, s, e, text[s:e], i, len(spans)) for i, (s, e) in enumerate(spans)]
    return out


def header(hit: Hit) -> str:
    m = hit.meta
    return " ".join((m.article_title, m.column or "", m.section or "", *m.authors))


def _lcs_share(core: str, sentence: str) -> float:
    """Longest run of the question's core copied into the sentence, as a share of the core."""
    core = core.replace(" ", "")
    if not core:
        return 0.0
    m = SequenceMatcher(None, core, sentence, autojunk=False).find_longest_match(0, len(core), 0, len(sentence))
    return min(1.0, m.size / max(4, len(core)))


SENTENCE_FEATURES: tuple[str, ...] = (
    "term_cov", "term_cov_local", "bigram_cov", "lcs", "ctx_gain", "next_gain", "header_cov", "chunk_cov",
    "rank_prior", "dense", "bm25_rel", "position", "first", "log_len", "novelty", "pronoun_start",
    *(f"ask_{t}" for t in ASK_TYPES), *(f"match_{t}" for t in ASK_TYPES),
    "ask_unit", "unit_match", "counted_near", "ask_slot", "slot_match", "next_shape", "prev_shape",
    "char_cov_local", "bigram_cov_local",
)


def _local_gram_weights(grams: Sequence[str], texts: Sequence[str]) -> dict[str, float]:
    """Weight of each question character or bigram by how few candidate texts hold it (robust to
    word segmentation of names jieba does not know)."""
    n = len(texts)
    return {g: math.log((n + 1) / (sum(1 for t in texts if g in t) + 1)) for g in dict.fromkeys(grams)}


def _shape_specific(q: QuestionView, text: str) -> tuple[float, float, float]:
    """(number with the asked unit, counted noun next to such a number, quoted name in the asked slot)."""
    unit = bool(q.unit and q.unit.search(text))
    near = 0.0
    if unit and q.counted:
        noun = re.escape(q.counted)
        near = float(bool(re.search(rf"{q.unit.pattern}[^。；;！？!?]{{0,20}}?{noun}|{noun}[^。；;！？!?，,]{{0,8}}?{q.unit.pattern}", text)))
    return float(unit), near, float(bool(q.slot and q.slot.search(text)))


def _specific_types(q: QuestionView) -> frozenset[str]:
    return q.asked - {"list", "yesno", "method", "reason"}


def sentence_features(q: QuestionView, cands: Sequence[Candidate], hits: Sequence[Hit]) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate."""
    if not cands:
        return np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
    local = local_weights(q.weights, [c.text for c in cands])
    top_bm25 = max((h.bm25_score or 0.0 for h in hits), default=0.0) or 1.0
    headers = [header(h) for h in hits]
    chunk_cov = [coverage(h.chunk.text + "\n" + headers[i], q.weights) for i, h in enumerate(hits)]
    by_hit: dict[int, list[Candidate]] = {}
    for c in cands:
        by_hit.setdefault(c.hit_index, []).append(c)
    q_chars = set(q.core.replace(" ", ""))
    ask = [float(t in q.asked) for t in ASK_TYPES]
    texts = [c.text for c in cands]
    char_w = _local_gram_weights([ch for ch in q.core if _CJK_RE.match(ch)], texts)
    bigram_w = _local_gram_weights(sorted(q.bigrams), texts)
    rows = []
    for c in cands:
        hit = hits[c.hit_index]
        same = by_hit[c.hit_index]
        prev = same[c.position - 1].text if c.position > 0 else ""
        nxt = same[c.position + 1].text if c.position + 1 < len(same) else ""
        own = coverage(c.text, q.weights)
        bigram = sum(1 for b in q.bigrams if b in c.text) / len(q.bigrams) if q.bigrams else 0.0
        cjk = _CJK_RE.findall(c.text)
        shapes = answer_shapes(c.text)
        unit, near, slot = _shape_specific(q, c.text)
        wanted = _specific_types(q)
        lacks = bool(wanted) and not (wanted & shapes)
        rows.append([
            own, coverage(c.text, local), bigram, _lcs_share(q.core, c.text),
            coverage(prev + c.text, q.weights) - own, coverage(c.text + nxt, q.weights) - own,
            coverage(headers[c.hit_index], q.weights), chunk_cov[c.hit_index],
            1.0 / (1 + c.hit_index), hit.dense_score or 0.0, (hit.bm25_score or 0.0) / top_bm25,
            c.position / max(1, c.count), float(c.position == 0), math.log1p(len(c.text)) / 5,
            sum(1 for ch in cjk if ch not in q_chars) / len(cjk) if cjk else 0.0,
            float(bool(_PRONOUN_START_RE.match(c.text))),
            *ask, *(a * float(t in shapes) for a, t in zip(ask, ASK_TYPES, strict=True)),
            float(q.unit is not None), unit, near, float(q.slot is not None), slot,
            # the sentence lacks the asked kind of answer but its neighbour has it
            float(lacks and bool(nxt) and bool(wanted & answer_shapes(nxt))),
            float(lacks and bool(prev) and bool(wanted & answer_shapes(prev))),
            coverage(c.text, char_w), coverage(c.text, bigram_w),
        ])
    return np.asarray(rows, dtype=np.float32)


ANSWERABILITY_FEATURES: tuple[str, ...] = (
    "best_logit", "second_logit", "best_term_cov", "best_bigram_cov", "best_lcs", "top_cov",
    "top_dense", "has_dense", "missing_share", "unfound_share", "asked_unmet", "log_terms", "ascii_share",
    "unit_unmet", "slot_unmet", "sent_dense", "typed_logit", "typed_cov",
)
NO_TYPED = -10.0  # typed_logit when no candidate holds the asked kind of answer (a logit far below any seen)


def holds_asked(q: QuestionView, text: str, unit_match: float | None = None) -> bool:
    """Whether a sentence holds a surface form of the specific kind of answer the question asks
    for: a number with the asked measure word (or of its class), a quantity that is not a date, a
    date, a person's, place's or other name. True for questions that ask for no specific kind.
    `unit_match`: the sentence feature when already computed (else the unit pattern is run).

    Example: holds_asked(QuestionView.of("村里有几位教师？", (), lambda t: True), "全村共有教师12位。", 1.0)
    """
    wanted = _specific_types(q)
    if not wanted:
        return True
    shapes = answer_shapes(text)
    if "number" in wanted:
        if q.unit is not None:
            if unit_match if unit_match is not None else q.unit.search(text):
                return True
        elif NUMBER_RE.search(DATE_RE.sub("", text)):
            return True
    return bool((wanted - {"number"}) & shapes)


def typed_best(q: QuestionView, cands: Sequence[Candidate], logits: Sequence[float], rows: np.ndarray
               ) -> tuple[float, float]:
    """(best selector logit, its sentence's term coverage) among the sentences that hold the asked
    kind of answer: a detail the passages lack leaves only unrelated sentences of that kind."""
    unit_i, cov_i = SENTENCE_FEATURES.index("unit_match"), SENTENCE_FEATURES.index("term_cov")
    typed = [i for i, c in enumerate(cands) if holds_asked(q, c.text, float(rows[i, unit_i]))]
    if not typed:
        return NO_TYPED, 0.0
    best = max(typed, key=lambda i: logits[i])
    return float(logits[best]), float(rows[best, cov_i])


def answerability_features(q: QuestionView, logits: Sequence[float], top_rows: np.ndarray,
                           hits: Sequence[Hit], missing_share: float, unfound_share: float,
                           top_shapes: frozenset[str], sent_dense: float = 0.0,
                           typed: tuple[float, float] = (NO_TYPED, 0.0)) -> np.ndarray:
    """One row of ANSWERABILITY_FEATURES for a retrieval result and the selector's scores.

    `top_rows` are the sentence-feature rows of the best few candidates, best first; `top_shapes`
    the answer types found in them; `sent_dense` their best cosine with the question; `typed`
    what `typed_best` gives.
    """
    ranked = sorted(logits, reverse=True)
    idx = {n: i for i, n in enumerate(SENTENCE_FEATURES)}
    best = top_rows[0] if len(top_rows) else None

    def any_top(name: str) -> float:
        return float(top_rows[:, idx[name]].max()) if len(top_rows) else 0.0

    context = "\n".join(h.chunk.text + "\n" + header(h) for h in hits[:5])
    dense = [h.dense_score for h in hits if h.dense_score is not None]
    specific = q.asked - {"list", "yesno", "method", "reason"}
    ascii_chars = sum(1 for ch in q.text if ch.isascii() and ch.isalpha())
    letters = sum(1 for ch in q.text if ch.isalpha())
    return np.asarray([
        ranked[0] if ranked else -10.0, ranked[1] if len(ranked) > 1 else -10.0,
        float(best[idx["term_cov"]]) if best is not None else 0.0,
        float(best[idx["bigram_cov"]]) if best is not None else 0.0,
        float(best[idx["lcs"]]) if best is not None else 0.0,
        coverage(context, q.weights), max(dense) if dense else 0.0, float(bool(dense)),
        missing_share, unfound_share, float(bool(specific) and not (specific & top_shapes)),
        math.log1p(len(q.weights)), ascii_chars / letters if letters else 0.0,
        float(q.unit is not None) * (1.0 - any_top("unit_match")), float(q.slot is not None) * (1.0 - any_top("slot_match")),
        sent_dense, *typed,
    ], dtype=np.float32)
