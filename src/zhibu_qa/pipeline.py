"""The one place that reads Settings and builds concrete backends.

`Pipeline` wires catalogue -> chunks -> index -> retrievers -> answer service, loading the model
and index lazily (once) so the CLI, UI and benchmark share them. It holds no algorithms.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

from .catalogue import (
    Catalogue,
    IngestChange,
    load_catalogue,
    merge_sources,
    remove_source,
    save_catalogue,
    source_texts,
    write_ingest,
)
from .chunking import ChunkerConfig, chunk_catalogue, naive_chunks
from .config import Settings
from .errors import IndexMismatchError, IndexMissingError, IngestError
from .types import Answer, Filters, Hit, ParsedSource, Turn

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
NAIVE_DIR = "naive"


class Pipeline:
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
            from .embedders import make_embedder

            s = self.settings
            model_dir = Path(s.embedding_model)
            if (model_dir / "zhibu_manifest.json").exists():
                from .models import verify_model_dir

                verify_model_dir(model_dir)
            backend = "torch-int8" if s.embedding_quantize else s.embedding_backend
            self._embedder = make_embedder(s.embedding_model, backend=backend, query_prefix=s.query_prefix,
                                           passage_prefix=s.passage_prefix, batch_size=s.embed_batch_size)
        return self._embedder

    # ---- catalogue ---------------------------------------------------------------------------
    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue(self.index_dir)

    def parse(self, paths: Iterable[str | Path]) -> list[ParsedSource]:
        """Parse every path first; one failure aborts before anything is written."""
        from .ingest import read_and_parse

        parsed, errors = [], []
        for p in paths:
            try:
                parsed.append(read_and_parse(p))
            except IngestError as exc:
                errors.append(str(exc))
        if errors:
            raise IngestError("; ".join(errors) + " — nothing was ingested")
        return parsed

    def ingest(self, paths: Iterable[str | Path]) -> tuple[list[IngestChange], list[ParsedSource]]:
        parsed = self.parse(paths)
        catalogue, changes = merge_sources(self.catalogue, parsed)
        if any(c.action != "unchanged" for c in changes):
            write_ingest(self.index_dir, catalogue, parsed)
            self.__dict__["catalogue"] = catalogue
            self._reset_index()
        return changes, parsed

    def remove(self, path: str) -> None:
        catalogue = remove_source(self.catalogue, path)
        save_catalogue(self.index_dir, catalogue)
        self.__dict__["catalogue"] = catalogue
        self._reset_index()

    @cached_property
    def sources(self) -> dict[str, str]:
        return source_texts(self.index_dir, self.catalogue)

    def source_for(self, issue_id: str) -> str:
        return self.sources[issue_id]

    # ---- index ---------------------------------------------------------------------------------
    def _reset_index(self) -> None:
        for name in ("index", "sources", "corpus_blob", "article_blobs", "_next_row"):
            self.__dict__.pop(name, None)
        self._retrievers.clear()
        self._services.clear()

    def index_status(self) -> str:
        """"missing", "stale: <why>" or "ok", without loading the model."""
        from .store import read_manifest

        if not self.catalogue.sources:
            return "missing: no sources ingested"
        try:
            manifest = read_manifest(self.index_dir)
        except IndexMismatchError as exc:
            return f"stale: {exc}"
        if manifest is None:
            return "missing: no index built"
        wanted = {s.path: s.sha256 for s in self.catalogue.sources}
        if manifest.sources != wanted:
            return "stale: sources changed since the index was built"
        if manifest.chunker != self.chunker.as_dict():
            return "stale: chunker settings changed"
        if manifest.vector_index != self.settings.vector_index:
            return "stale: vector index type changed"
        if manifest.model_id != self.embedder.model_id:  # a model id needs no model load
            return f"stale: embedding model or backend changed ({manifest.model_id} -> {self.embedder.model_id})"
        return "ok"

    def index_summary(self) -> str:
        """One line naming the built index's vector backend, model, vector count and version."""
        import json

        from .store import STORE_DIR, read_manifest

        manifest = read_manifest(self.index_dir)
        if manifest is None:
            return "no index built"
        version = manifest.built_at
        pg_file = self.index_dir / STORE_DIR / "pgvector.json"
        if manifest.vector_index == "pgvector" and pg_file.is_file():
            version = json.loads(pg_file.read_text(encoding="utf-8")).get("version", version)
        return (f"backend={manifest.vector_index} model={manifest.model_id} vectors={manifest.n_chunks} "
                f"dim={manifest.dim} version={version}")

    def build_index(self, *, rebuild: bool = False, progress: bool = False):
        from .store import build_index
        from .userdict import read_user_dict

        cat = self.catalogue
        if not cat.articles:
            raise IndexMissingError("the catalogue is empty: run `zhibu-qa ingest PATH…` first")
        chunks, metas = chunk_catalogue(cat.articles, cat.issues, self.chunker)
        terms = read_user_dict(Path(self.settings.user_dict)) if Path(self.settings.user_dict).exists() else []
        stats = build_index(
            self.index_dir, chunks, metas, self.embedder, chunker=self.chunker.as_dict(),
            sources={s.path: s.sha256 for s in cat.sources}, vector_index=self.settings.vector_index,
            user_terms=terms + [w for a in cat.articles for t in (*a.authors, a.column or "") for w in t.split()], rebuild=rebuild, show_progress=progress,
            pg_dsn=self.settings.pg_dsn,
        )
        self._reset_index()
        return stats

    def ensure_ready(self, *, progress: bool = False) -> str:
        """Ingest the configured corpus when the catalogue is empty and (re)build a stale index."""
        if not self.catalogue.sources:
            self.ingest(self.settings.corpus_paths)
        status = self.index_status()
        if status != "ok":
            self.log(f"index {status}; building…")
            self.build_index(progress=progress)
        return self.index_status()

    @cached_property
    def index(self):
        from .store import load_index

        return load_index(self.index_dir, model_id=self.embedder.model_id, chunker=self.chunker.as_dict(),
                          pg_dsn=self.settings.pg_dsn)

    @cached_property
    def corpus_blob(self) -> str:
        """All indexed text (NFKC, lower-case) for "does the knowledge base mention X" checks."""
        parts = [c.text for c in self.index.chunks] + sorted(
            {x for m in self.index.metas for x in (m.article_title, m.column or "", m.section or "", *m.authors)})
        return unicodedata.normalize("NFKC", "\n".join(parts)).lower()

    def corpus_has(self, term: str) -> bool:
        return unicodedata.normalize("NFKC", term).lower() in self.corpus_blob

    @cached_property
    def article_blobs(self) -> dict[str, str]:
        """Each article's indexed text with its title and section headings (NFKC, lower-case)."""
        parts: dict[str, list[str]] = {}
        for c, m in zip(self.index.chunks, self.index.metas, strict=True):
            parts.setdefault(c.article_id, [m.article_title]).extend((m.section or "", c.text))
        return {a: unicodedata.normalize("NFKC", "\n".join(p)).lower() for a, p in parts.items()}

    def article_has(self, article_id: str, term: str) -> bool:
        return unicodedata.normalize("NFKC", term).lower() in self.article_blobs.get(article_id, "")

    def retriever(self, mode: str | None = None):
        from .retrieval import make_retriever

        mode = mode or self.settings.retrieval_mode
        if mode not in self._retrievers:
            kw = {"weights": (self.settings.dense_weight, self.settings.bm25_weight)} if mode == "hybrid" else {}
            self._retrievers[mode] = make_retriever(mode, self.index, self.embedder, **kw)
        return self._retrievers[mode]

    def naive_retriever(self):
        """Dense-only search over fixed 500-character windows of the raw files (the baseline)."""
        if "naive" not in self._retrievers:
            from .retrieval import make_retriever
            from .store import build_index, load_index

            chunks, metas = [], []
            for src in self.catalogue.sources:
                arts = [a for a in self.catalogue.articles if a.issue_id == src.issue.id]
                c, m = naive_chunks(self.sources[src.issue.id], src.issue, arts)
                chunks += c
                metas += m
            naive_dir = self.index_dir / NAIVE_DIR
            config = {"naive_chars": 500, "sections": 1}
            sources = {s.path: s.sha256 for s in self.catalogue.sources}
            try:
                idx = load_index(naive_dir, model_id=self.embedder.model_id, chunker=config)
                if len(idx) != len(chunks) or idx.manifest.sources != sources:
                    raise IndexMismatchError("naive index out of date")
            except (IndexMissingError, IndexMismatchError):
                build_index(naive_dir, chunks, metas, self.embedder, chunker=config, sources=sources)
                idx = load_index(naive_dir, model_id=self.embedder.model_id, chunker=config)
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
    def _next_row(self) -> dict[str, int]:
        """Chunk id -> row of the next chunk of the same article section (chunks are stored in order)."""
        chunks = self.index.chunks
        return {c.id: i + 1 for i, c in enumerate(chunks[:-1])
                if chunks[i + 1].article_id == c.article_id and chunks[i + 1].section_index == c.section_index}

    def neighbour(self, hit: Hit) -> Hit | None:
        """The chunk after a hit's chunk in its article section, as a Hit (for reading on)."""
        row = self._next_row.get(hit.chunk.id)
        if row is None:
            return None
        return Hit(chunk=self.index.chunks[row], meta=self.index.metas[row], score=0.0, rank=hit.rank)

    @cached_property
    def answer_models(self):
        """(selector, answerability): the learned models shipped as package data, loaded once."""
        from .answer import Answerability, LearnedSelector

        threshold = self.settings.refuse_threshold or None
        return LearnedSelector.load(), Answerability.load(threshold=threshold)

    def service(self, mode: str | None = None):
        from .answer import AnswerService, ExtractiveAnswerer, GenerativeAnswerer

        mode = mode or self.settings.retrieval_mode
        if mode not in self._services:
            s = self.settings
            retriever = self.naive_retriever() if mode == "naive" else self.retriever(mode)
            selector, answerability = self.answer_models
            generative = None if self.llm is None else GenerativeAnswerer(
                self.llm, self.source_for, prompts_dir=PROMPTS_DIR, context_tokens=s.llm_context_tokens)
            self._services[mode] = AnswerService(
                retriever, self.source_for, self.corpus_has, selector=selector, answerability=answerability,
                extractive=ExtractiveAnswerer(self.source_for, self.neighbour if mode != "naive" else None),
                generative=generative, article_has=self.article_has, max_question_chars=s.max_question_chars, mode=mode,
            )
        return self._services[mode]

    @cached_property
    def llm(self):
        s = self.settings
        if not (s.llm_base_url and s.llm_model):
            return None
        from .llms import make_llm

        return make_llm("openai", base_url=s.llm_base_url, model=s.llm_model, api_key=s.llm_api_key,
                        timeout=s.llm_timeout)

    def stream(self, question: str, history: Sequence[Turn] = (), *, backend: str | None = None,
               k: int | None = None, mode: str | None = None, filters: Filters = Filters()) -> Iterator[str | Answer]:
        return self.service(mode).stream(question, history, backend=backend or self.settings.backend,
                                         k=k or self.settings.top_k, filters=filters)

    def ask(self, question: str, history: Sequence[Turn] = (), **kw) -> Answer:
        from .answer import final_answer

        return final_answer(self.stream(question, history, **kw))
