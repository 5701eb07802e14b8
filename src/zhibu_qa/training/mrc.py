"""SQuAD-style reading-comprehension files -> articles, a fixed split, and project-format datasets.

Traditional script is converted to simplified (OpenCC t2s) so DRCD and CMRC mix. The split is by
article (a hash of the title), so no held-out paragraph shares an article with training ones.
`write_eval_set` writes the held-out articles as Markdown documents to ingest into a scratch index
and a `dataset.jsonl` the benchmark loads; questions of articles left out of the index become
unanswerable ones. The data itself never enters the repository: callers pass its path.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zhibu_qa.errors import DatasetError
from zhibu_qa.text import split_sentences, to_simplified

HELD_OUT_SHARE = 0.2  # share of articles kept out of training, for reporting
ABSENT_SHARE = 0.15  # share of held-out articles left out of the scratch index (their questions are unanswerable)
DETAIL_SHARE = 0.15  # share of indexed articles with one question's answer sentences deleted ("detail absent")
MAX_EVIDENCE = 80  # the dataset format's evidence length limit


@dataclass(frozen=True)
class MrcQuestion:
    id: str
    question: str
    answer: str
    answer_start: int  # offset of the answer in its paragraph's context


@dataclass(frozen=True)
class MrcParagraph:
    context: str
    questions: tuple[MrcQuestion, ...]


@dataclass(frozen=True)
class MrcArticle:
    title: str
    paragraphs: tuple[MrcParagraph, ...]
    source: str  # file name it came from


def load_mrc(paths: Iterable[str | Path]) -> list[MrcArticle]:
    """Read SQuAD-style JSON files (data[].paragraphs[].context/qas[]) into simplified-script articles.

    Answers whose offset does not match the context (after conversion) are re-located by search;
    questions whose answer is not in the context are dropped.
    """
    articles = []
    for path in paths:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))["data"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}: not a SQuAD-style JSON file ({exc})") from exc
        for art in data:
            paragraphs = []
            for par in art.get("paragraphs", []):
                context = to_simplified(par["context"])
                qs = []
                for qa in par.get("qas", []):
                    answers = qa.get("answers") or []
                    if not answers:
                        continue
                    text = to_simplified(answers[0]["text"]).strip()
                    start = int(answers[0].get("answer_start", -1))
                    question = to_simplified(str(qa.get("question") or "")).strip()
                    if not text or not question:
                        continue
                    if context[start:start + len(text)] != text:
                        start = context.find(text)
                    if start < 0:
                        continue
                    qs.append(MrcQuestion(str(qa["id"]), question, text, start))
                if qs:
                    paragraphs.append(MrcParagraph(context, tuple(qs)))
            if paragraphs:
                title = to_simplified(str(art.get("title") or art.get("id") or "")).strip() or "untitled"
                articles.append(MrcArticle(title, tuple(paragraphs), path.name))
    return _unique_titles(articles)


def _unique_titles(articles: Sequence[MrcArticle]) -> list[MrcArticle]:
    """Two files may hold articles of the same title: suffix the later ones so titles stay keys."""
    seen: dict[str, int] = {}
    out = []
    for a in articles:
        n = seen.get(a.title, 0)
        seen[a.title] = n + 1
        out.append(a if n == 0 else MrcArticle(f"{a.title}（{n + 1}）", a.paragraphs, a.source))
    return out


def is_held_out(title: str, share: float = HELD_OUT_SHARE) -> bool:
    """A fixed, order-independent split by title.

    Example: is_held_out("梵文") in (True, False)  # the same answer on every machine
    """
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def split(articles: Sequence[MrcArticle], share: float = HELD_OUT_SHARE) -> tuple[list[MrcArticle], list[MrcArticle]]:
    """(training articles, held-out articles)."""
    train = [a for a in articles if not is_held_out(a.title, share)]
    held = [a for a in articles if is_held_out(a.title, share)]
    return train, held


def article_markdown(article: MrcArticle) -> str:
    """One article as a Markdown document: `# title`, then one paragraph per line.

    Example: article_markdown(MrcArticle("甲", (MrcParagraph("乙。", ()),), "x")) == "# 甲\\n\\n乙。\\n"
    """
    body = "\n\n".join(" ".join(p.context.split()) for p in article.paragraphs)
    return f"# {article.title}\n\n{body}\n"


def evidence_window(context: str, start: int, answer: str, limit: int = MAX_EVIDENCE) -> str:
    """Up to `limit` characters of the context around the answer (the answer itself when longer).

    Example: evidence_window("前文很长。答案在这里。后文", 5, "答案") == "前文很长。答案在这里。后文"
    """
    if len(answer) >= limit:
        return answer
    room = limit - len(answer)
    lo = max(0, start - room // 2)
    hi = min(len(context), start + len(answer) + (room - (start - lo)))
    lo = max(0, hi - limit)
    return context[lo:hi].strip()


def delete_answer(context: str, answer: str) -> str:
    """The context without the sentences that hold `answer`.

    Example: delete_answer("甲在北京。乙在上海。", "上海") == "甲在北京。"
    """
    return "".join(context[a:b] for a, b in split_sentences(context) if answer not in context[a:b]).strip()


def _with_detail_absent(art: MrcArticle) -> tuple[MrcArticle, str | None]:
    """The article with the answer of one question deleted (the first whose answer occurs in one
    paragraph only), and that question's id; questions whose answers went with it are dropped."""
    contexts = [" ".join(p.context.split()) for p in art.paragraphs]
    for i, par in enumerate(art.paragraphs):
        for target in par.questions:
            answer = " ".join(target.answer.split())
            kept_text = delete_answer(contexts[i], answer)
            if not answer or not kept_text or any(answer in c for j, c in enumerate(contexts) if j != i):
                continue
            kept = [MrcQuestion(q.id, q.question, q.answer, kept_text.find(" ".join(q.answer.split())))
                    for q in par.questions if q is not target and " ".join(q.answer.split()) in kept_text]
            paragraphs = (*art.paragraphs[:i], MrcParagraph(kept_text, tuple(kept)), *art.paragraphs[i + 1:])
            return MrcArticle(art.title, paragraphs, art.source), target.id
    return art, None


def write_eval_set(articles: Sequence[MrcArticle], out_dir: str | Path, *, absent_share: float = ABSENT_SHARE,
                   detail_share: float = DETAIL_SHARE, max_questions: int | None = None,
                   seed: int = 13) -> tuple[list[Path], Path]:
    """Write held-out articles as Markdown documents and a dataset.jsonl over them.

    Articles chosen for absence are not written; their questions become unanswerable cases
    (ids `mrc-…`). In a `detail_share` of the written articles one question's answer sentences are
    deleted: the subject stays, the asked detail is gone (unanswerable, ids `mrc-detail-…`).
    Returns (document paths to ingest, dataset path). Whitespace inside a context is collapsed as in
    the documents, so evidence stays verbatim source text.
    """
    out = Path(out_dir)
    docs_dir = out / "corpus"
    docs_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    order = list(articles)
    rng.shuffle(order)
    n_absent = round(absent_share * len(order))
    absent = {a.title for a in order[:n_absent]}
    detail = {a.title for a in order[n_absent:n_absent + round(detail_share * (len(order) - n_absent))]}
    docs, rows = [], []
    for i, art in enumerate(articles):
        present = art.title not in absent
        deleted = None
        if art.title in detail:
            original = art
            art, deleted = _with_detail_absent(art)
            if deleted is not None:
                q = next(q for p in original.paragraphs for q in p.questions if q.id == deleted)
                rows.append(_row(q, art.title, "", -1, False, "文章中没有这一细节。") | {"id": f"mrc-detail-{q.id}"})
        if present:
            path = docs_dir / f"mrc-{i:04d}.md"
            path.write_text(article_markdown(art), encoding="utf-8")
            docs.append(path)
        for par in art.paragraphs:
            context = " ".join(par.context.split())
            for q in par.questions:
                start = context.find(q.answer) if context[q.answer_start:q.answer_start + len(q.answer)] != q.answer else q.answer_start
                rows.append(_row(q, art.title, context, start, present))
    if max_questions is not None and len(rows) > max_questions:
        rows = sorted(rng.sample(rows, max_questions), key=lambda r: r["id"])
    dataset = out / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return docs, dataset


def _row(q: MrcQuestion, title: str, context: str, start: int, present: bool,
         absent_answer: str = "知识库中没有这篇文章。") -> dict:
    if not present:
        return {"id": f"mrc-{q.id}", "question": q.question, "type": "unanswerable", "answerable": False,
                "gold_article": None, "evidence": [], "answer": absent_answer, "key_facts": []}
    answer = " ".join(q.answer.split())
    return {"id": f"mrc-{q.id}", "question": q.question, "type": "factoid", "answerable": True,
            "gold_article": title, "gold_section": None,
            "evidence": [evidence_window(context, max(start, 0), answer)], "answer": answer, "key_facts": [answer]}
