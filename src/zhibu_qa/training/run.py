"""`zhibu-qa train-selector`: MRC files + the dataset's tuning part -> selector.json, answerability.json.

Builds (or reuses) a scratch index of the MRC training articles under `work_dir`, collects
examples with the project's retriever, fits both models and writes them atomically to `out_dir`
(the package's data folder by default). Deterministic for the same inputs and model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zhibu_qa.answer.learned import DATA_DIR
from zhibu_qa.answer.selector import LearnedSelector
from zhibu_qa.answer.similarity import SentenceSimilarity
from zhibu_qa.config import Settings
from zhibu_qa.errors import DatasetError
from zhibu_qa.training import fit
from zhibu_qa.training.mrc import article_markdown, load_mrc, split

MRC_FILES = ("cmrc2018_trial.json", "drcd_dev.json", "drcd_test.json")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def mrc_paths(data_dir: Path) -> list[Path]:
    paths = [data_dir / f for f in MRC_FILES if (data_dir / f).exists()] or sorted(data_dir.glob("*.json"))
    if not paths:
        raise DatasetError(f"{data_dir}: no SQuAD-style .json files found")
    return paths


def mrc_pipeline(settings: Settings, articles, work_dir: Path, log: Callable[[str], None]):
    """A pipeline over a scratch index of `articles` (written as Markdown documents)."""
    from zhibu_qa.pipeline import Pipeline

    docs = work_dir / "corpus"
    docs.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, art in enumerate(articles):
        path = docs / f"train-{i:04d}.md"
        text = article_markdown(art)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    pipe = Pipeline(settings.replace(index_dir=str(work_dir / "index"), corpus_paths=tuple(paths)), log=log)
    if pipe.catalogue.sources and {s.path for s in pipe.catalogue.sources} != set(paths):
        pipe.ingest(paths)
    pipe.ensure_ready(progress=False)
    return pipe


def tuning_examples(settings: Settings, dataset: Path):
    """The dataset's tuning part as examples over the shipped knowledge base."""
    from zhibu_qa.benchmark import load_cases
    from zhibu_qa.evaluation.split import is_test
    from zhibu_qa.pipeline import Pipeline

    pipe = Pipeline(settings)
    pipe.ensure_ready()
    cases = [c for c in load_cases(pipe, dataset) if not is_test(c.id)]
    return pipe, [fit.Example(c.question, c.key_facts, c.gold_article if c.answerable else (), c.history,
                              weight=fit.PROJECT_WEIGHT, hard_negative=False) for c in cases]


def train(settings: Settings, data_dir: Path, *, work_dir: Path, out_dir: Path = DATA_DIR,
          dataset: Path | None = None, max_questions: int | None = 3000,
          log: Callable[[str], None] = print) -> dict:
    t0 = time.perf_counter()
    articles = load_mrc(mrc_paths(Path(data_dir)))
    train_articles, held = split(articles)
    log(f"MRC: {len(articles)} articles, {len(train_articles)} for training, {len(held)} held out")
    pipe = mrc_pipeline(settings, train_articles, Path(work_dir), log)
    questions = [fit.Example(q.question, (q.answer,), (a.title,)) for a in train_articles
                 for p in a.paragraphs for q in p.questions]
    questions = fit.sample(questions, max_questions)
    retriever = pipe.retriever("hybrid")
    mrc_has = pipe.corpus_has
    data = fit.collect(lambda q, k: retriever.retrieve(q, k), questions, mrc_has, log)
    has = {id(r): mrc_has for r in data}
    n_mrc = len(data)
    if dataset is not None:
        project, examples = tuning_examples(settings, Path(dataset))
        project_retriever = project.retriever("hybrid")
        extra = fit.collect(lambda q, k: project_retriever.retrieve(q, k), examples, project.corpus_has, log)
        has.update({id(r): project.corpus_has for r in extra})
        data += extra
    info = {"mrc_questions": len(questions), "tuning_retrievals": len(data) - n_mrc}
    selector = LearnedSelector(fit.fit_selector(data, info))
    # a hard negative's own article counts as absent: its names are then missing, as for a question
    # about something the knowledge base does not hold
    titles = {a.id: a.title for a in pipe.catalogue.articles}
    blobs = {titles[aid]: text for aid, text in pipe.article_blobs.items() if aid in titles}
    similarity = SentenceSimilarity(lambda: pipe.embedder, cache_size=10**7)
    x, y, w = fit.answerability_rows(
        data, selector, lambda r: fit.without(blobs, r.excluded) if r.excluded else has[id(r)], similarity)
    domains = np.asarray([int(has[id(r)] is not mrc_has) for r in data])
    answerability = fit.fit_answerability(x, y, w, info, domains, np.asarray([r.view.text for r in data]))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "selector.json", selector.model.to_json())
    _write_atomic(out_dir / "answerability.json", answerability.to_json())
    summary = {"selector_top1_train": round(fit.selector_accuracy(data, selector), 4),
               "threshold": round(answerability.threshold, 4), "seconds": round(time.perf_counter() - t0, 1),
               "retrievals": len(data), **answerability.info}
    log(f"trained in {summary['seconds']} s: {summary}")
    return summary
