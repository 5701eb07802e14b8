"""The search index on disk: chunk vectors, FAISS, BM25, chunk metadata and a manifest, under index/store/.

Owns building (incremental: vectors of unchanged chunk texts are reused; atomic: written to a temp
directory beside the target, fsynced, then swapped in under `locking.swap_lock`) and loading with
checks that the index matches the current model and chunker and that every file matches the sha256
its manifest recorded (`integrity`). Leaves out chunking (`chunking`), the catalogue (`catalogue`, which
shares index/) and searching (`retrieval`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from zhibu_qa.errors import ConfigError, IndexDamagedError, IndexMismatchError, IndexMissingError
from zhibu_qa.indexing.embedders import Embedder
from zhibu_qa.indexing.integrity import (
    file_digests,
    fsync_tree,
    read_manifest_file,
    recover_store,
    remove_stale_temps,
    swap_in,
    verify_digests,
)
from zhibu_qa.indexing.userdict import learn_terms, merge_terms, unoverlapped_texts, write_user_dict
from zhibu_qa.indexing.vectors import VECTOR_INDEXES, build_vector_index, open_vector_index, row_labels
from zhibu_qa.locking import fsync_dir, swap_lock, writer_lock
from zhibu_qa.text import add_words, load_user_dict, tokenize
from zhibu_qa.types import Chunk, ChunkMeta, Filters, Segment

log = logging.getLogger(__name__)

STORE_DIR = "store"  # index/store/ (index/ also holds the catalogue and sources)
FORMAT_VERSION = 2  # 2: per-file sha256 and the model fingerprint in the manifest
MANIFEST_FILE = "manifest.json"
VECTORS_FILE = "vectors.npy"  # float32 (n_chunks, dim), L2-normalised, row i = line i of CHUNKS_FILE
CHUNKS_FILE = "chunks.jsonl"
BM25_DIR = "bm25"  # bm25s' own save format: loads in ~0.1 s vs ~6 s to re-index 40k chunks' tokens
USERDICT_FILE = "userdict.txt"
_VERSIONED = ("faiss-cpu", "bm25s", "sentence-transformers", "jieba", "numpy")
_RESTART_HINT = "rebuild with `zhibu-qa index --rebuild`"
_DAMAGE_HINT = "run `zhibu-qa index` to rebuild the damaged parts"


@dataclass(frozen=True)
class Manifest:
    model_id: str
    dim: int
    vector_index: str
    chunker: dict[str, Any]
    sources: dict[str, str]  # source path -> sha256
    n_chunks: int
    n_articles: int
    n_issues: int
    n_terms: int  # user dictionary size
    built_at: str
    build_seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    normalized: bool = True  # vectors are unit length: inner product = cosine
    bm25_text: str = "embed_text"  # which chunk text BM25 indexes (tokenised by text.tokenize)
    format: int = FORMAT_VERSION
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256 of every store file
    model_fingerprint: str = ""  # sha256 over the model's config and weight files (models.model_fingerprint)


@dataclass(frozen=True)
class BuildStats:
    n_chunks: int
    n_embedded: int
    n_reused: int
    n_removed: int
    seconds: float


@dataclass(frozen=True, eq=False)
class IndexData:
    """A loaded index: rows of `chunks`, `metas` and `vectors` line up; `faiss` and `bm25` search them."""

    path: Path
    manifest: Manifest
    chunks: tuple[Chunk, ...]
    metas: tuple[ChunkMeta, ...]
    vectors: np.ndarray
    faiss: Any  # the raw faiss.Index for the FAISS backends (None for pgvector)
    bm25: Any  # bm25s.BM25 over tokenize(chunk.embed_text)
    vector_index: Any = None  # vectors.VectorIndex over `vectors` (filters run inside it)
    _codes: dict[str, tuple[dict[str | None, int], np.ndarray]] = field(repr=False, default_factory=dict)

    def __len__(self) -> int:
        return len(self.chunks)

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Boolean row mask for `filters` (AND across fields, OR within one); None when unfiltered."""
        return _mask(self._codes, len(self.chunks), filters)


def _mask(codes: dict, n: int, filters: Filters) -> np.ndarray | None:
    if filters.empty:
        return None
    mask = np.ones(n, dtype=bool)
    for name, wanted in (("issue_ids", filters.issue_ids), ("columns", filters.columns),
                         ("article_ids", filters.article_ids)):
        if wanted:
            lookup, row_codes = codes[name]
            mask &= np.isin(row_codes, [lookup[w] for w in wanted if w in lookup])
    return mask


def _filter_codes(chunks: Sequence[Chunk], metas: Sequence[ChunkMeta]) -> dict:
    out = {}
    for name, values in (("issue_ids", [c.issue_id for c in chunks]), ("columns", [m.column for m in metas]),
                         ("article_ids", [c.article_id for c in chunks])):
        lookup: dict[str | None, int] = {}
        codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int32, count=len(values))
        out[name] = (lookup, codes)
    return out


# ---- serialisation -------------------------------------------------------------------------------

def _chunk_to_dict(chunk: Chunk, meta: ChunkMeta) -> dict:
    data = asdict(chunk)
    data["segments"] = [[s.text_start, s.source_start, s.length] for s in chunk.segments]
    data["meta"] = asdict(meta)
    return data


def _chunk_from_dict(data: dict) -> tuple[Chunk, ChunkMeta]:
    meta = data.pop("meta")
    segments = tuple(Segment(*s) for s in data.pop("segments"))
    chunk = Chunk(segments=segments, **data)
    return chunk, ChunkMeta(**{**meta, "authors": tuple(meta["authors"])})


def _canonical(value: Any) -> Any:
    """JSON round trip, so tuples and lists (and key order) compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def read_manifest(index_dir: str | Path) -> Manifest | None:
    """The manifest of the index under `index_dir`, or None when no index has been built."""
    recover_store(Path(index_dir), STORE_DIR)
    return _read_manifest(Path(index_dir) / STORE_DIR)


def _read_manifest(store: Path) -> Manifest | None:
    return read_manifest_file(store / MANIFEST_FILE, Manifest, "index manifest", _RESTART_HINT)


def verify_index(index_dir: str | Path) -> list[str]:
    """Problems with the files of the index under `index_dir` (empty when every checksum verifies)."""
    store = Path(index_dir) / STORE_DIR
    with swap_lock(index_dir, shared=True):
        manifest = _read_manifest(store)
        if manifest is None:
            return []
        return _problems(store, manifest)


def _problems(store: Path, manifest: Manifest) -> list[str]:
    if not manifest.files:
        return ["the manifest records no checksums (built by an older version)"]
    # files every backend writes; whatever else a backend stores (hnsw.faiss, …) is covered by the digests
    expected = {VECTORS_FILE, CHUNKS_FILE, USERDICT_FILE}
    missing = [f"{name} is not recorded" for name in sorted(expected - set(manifest.files))]
    if not any(rel.startswith(BM25_DIR + "/") for rel in manifest.files):
        missing.append(f"{BM25_DIR}/ is not recorded")
    return missing + verify_digests(store, manifest.files)


# ---- building ------------------------------------------------------------------------------------

def build_index(index_dir: str | Path, chunks: Sequence[Chunk], metas: Sequence[ChunkMeta], embedder: Embedder,
                *, chunker: dict[str, Any], sources: dict[str, str], vector_index: str = "flat",
                user_terms: Iterable[str] = (), rebuild: bool = False, show_progress: bool = False,
                model_fingerprint: str = "", pg_dsn: str = "") -> BuildStats:
    """Embed, tokenise and store `chunks`, replacing any previous index under `index_dir` atomically.

    Vectors of chunks whose embed_text is in the previous index (same model) are reused unless
    `rebuild`; vectors are reused only when their file verifies, so a build after damage to BM25 or
    the dictionary re-embeds nothing. `user_terms` (e.g. the shipped dictionary) are merged with
    the terms the archive teaches (quoted terms that recur, title pieces: `userdict.learn_terms`)
    into the index's jieba dictionary, written with the index and swapped in with it. Holds the writer
    lock of `index_dir` (re-entrant: callers may hold it already).
    """
    with writer_lock(index_dir):
        return _build_index(index_dir, chunks, metas, embedder, chunker=chunker, sources=sources,
                            vector_index=vector_index, user_terms=user_terms, rebuild=rebuild,
                            show_progress=show_progress, model_fingerprint=model_fingerprint, pg_dsn=pg_dsn)


def _build_index(index_dir, chunks, metas, embedder, *, chunker, sources, vector_index, user_terms, rebuild,
                 show_progress, model_fingerprint, pg_dsn="") -> BuildStats:
    started = time.perf_counter()
    if len(chunks) != len(metas):
        raise ValueError(f"{len(chunks)} chunks but {len(metas)} metas")
    if vector_index not in VECTOR_INDEXES:
        raise ConfigError(f"vector_index={vector_index!r} is not one of: {', '.join(VECTOR_INDEXES)}")
    if not chunks:
        raise IndexMissingError("nothing to index: there are no chunks (run `zhibu-qa ingest` first)")
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    recover_store(index_dir, STORE_DIR)
    remove_stale_temps(index_dir, STORE_DIR)
    store = index_dir / STORE_DIR
    previous_ids = _previous_ids(store)
    reusable = {} if rebuild else _reusable_vectors(store, embedder.model_id, model_fingerprint)

    tmp = Path(tempfile.mkdtemp(prefix=f".{STORE_DIR}.tmp-{os.getpid()}-", dir=index_dir))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; the index is not secret
    try:
        texts = [c.embed_text for c in chunks]
        new_texts = list(dict.fromkeys(t for t in texts if t not in reusable))
        # the keyword side (jieba, BM25: Python) runs beside the embedding (onnxruntime/torch free the
        # GIL), so a core the embedder leaves idle is not wasted; its errors surface from result()
        with ThreadPoolExecutor(1, thread_name_prefix="bm25") as pool:
            keyword = pool.submit(_write_keyword_index, chunks, metas, texts, user_terms, tmp)
            fresh = embedder.embed_passages(new_texts, show_progress=show_progress) if new_texts else None
            terms = keyword.result()
        by_text = dict(reusable)
        if fresh is not None:
            by_text.update(zip(new_texts, fresh, strict=True))
        vectors = np.ascontiguousarray(np.stack([by_text[t] for t in texts]), dtype=np.float32)
        np.save(tmp / VECTORS_FILE, vectors)
        labels = row_labels([c.issue_id for c in chunks], [m.column for m in metas], [c.article_id for c in chunks])
        build_vector_index(vector_index, vectors, labels, tmp, pg_dsn=pg_dsn)
        with open(tmp / CHUNKS_FILE, "w", encoding="utf-8") as fh:
            for chunk, meta in zip(chunks, metas, strict=True):
                fh.write(json.dumps(_chunk_to_dict(chunk, meta), ensure_ascii=False) + "\n")

        n_reused = sum(1 for t in texts if t in reusable)
        stats = BuildStats(n_chunks=len(chunks), n_embedded=len(new_texts), n_reused=n_reused,
                           n_removed=len(previous_ids - {c.id for c in chunks}),
                           seconds=round(time.perf_counter() - started, 3))
        manifest = Manifest(
            model_id=embedder.model_id, dim=int(vectors.shape[1]), vector_index=vector_index,
            chunker=_canonical(chunker), sources=dict(sources), n_chunks=len(chunks),
            n_articles=len({c.article_id for c in chunks}), n_issues=len({c.issue_id for c in chunks}),
            n_terms=len(terms), built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            build_seconds=stats.seconds, versions=_versions(), files=file_digests(tmp),
            model_fingerprint=model_fingerprint)
        (tmp / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2),
                                         encoding="utf-8")
        fsync_tree(tmp)
        if vector_index == "pgvector":  # replicas load the version from the database (`pg_store`)
            from zhibu_qa.indexing.pg_store import publish_store

            publish_store(tmp, pg_dsn)
        with swap_lock(index_dir, shared=False):
            swap_in(tmp, store)
        fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("indexed %d chunks (%d embedded, %d reused, %d removed) in %.1f s", stats.n_chunks,
             stats.n_embedded, stats.n_reused, stats.n_removed, stats.seconds)
    return stats


def _write_keyword_index(chunks, metas, texts: list[str], user_terms: Iterable[str], tmp: Path) -> list[str]:
    """The index's jieba dictionary (given + learnt terms, added to jieba) and BM25 over `texts`."""
    terms = merge_terms(user_terms, learn_terms(unoverlapped_texts(chunks), (m.article_title for m in metas)))
    add_words(terms)
    write_user_dict(terms, tmp / USERDICT_FILE)
    _build_bm25([tokenize(t) for t in texts]).save(str(tmp / BM25_DIR), show_progress=False)
    return terms


def _build_bm25(tokens: list[list[str]]):
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    return bm25


def _previous_ids(store: Path) -> set[str]:
    try:
        with open(store / CHUNKS_FILE, encoding="utf-8") as fh:
            return {json.loads(line)["id"] for line in fh if line.strip()}
    except (OSError, ValueError, KeyError):
        return set()


def _reusable_vectors(store: Path, model_id: str, fingerprint: str) -> dict[str, np.ndarray]:
    """embed_text -> stored vector, from a previous index built with the same model whose vector and
    chunk files verify (else empty)."""
    try:
        manifest = read_manifest(store.parent)
        if manifest is None or manifest.model_id != model_id or not manifest.normalized:
            return {}
        if fingerprint and manifest.model_fingerprint and manifest.model_fingerprint != fingerprint:
            return {}
        bad = verify_digests(store, {k: v for k, v in manifest.files.items() if k in (VECTORS_FILE, CHUNKS_FILE)})
        if bad:
            raise ValueError("; ".join(bad))
        vectors = np.load(store / VECTORS_FILE)
        with open(store / CHUNKS_FILE, encoding="utf-8") as fh:
            texts = [json.loads(line)["embed_text"] for line in fh if line.strip()]
        if vectors.shape != (len(texts), manifest.dim) or not np.isfinite(vectors).all():
            return {}
        return dict(zip(texts, vectors, strict=True))
    except (OSError, ValueError, KeyError, EOFError, IndexMismatchError) as exc:
        log.warning("previous index in %s is unusable, embedding everything again: %s", store, exc)
        return {}


# ---- loading -------------------------------------------------------------------------------------

def load_index(index_dir: str | Path, *, model_id: str, chunker: dict[str, Any], dim: int | None = None,
               model_fingerprint: str = "", pg_dsn: str = "") -> IndexData:
    """Load the index under `index_dir`, checking model, chunker and every file's sha256.

    Holds the shared swap lock while reading, so a concurrent build's swap is seen whole or not at all.
    """
    recover_store(Path(index_dir), STORE_DIR)
    with swap_lock(index_dir, shared=True):
        return _load_index(Path(index_dir) / STORE_DIR, model_id, chunker, dim, model_fingerprint, pg_dsn)


def _load_index(store: Path, model_id: str, chunker: dict[str, Any], dim: int | None,
                model_fingerprint: str, pg_dsn: str = "") -> IndexData:
    manifest = _read_manifest(store)
    if manifest is None:
        raise IndexMissingError(f"no search index in {store}; run `zhibu-qa index` to build it")
    if manifest.format != FORMAT_VERSION:
        raise IndexMismatchError(f"index {store} has format {manifest.format}, this version reads "
                                 f"{FORMAT_VERSION}; run `zhibu-qa index` to update it")
    if manifest.model_id != model_id or (model_fingerprint and manifest.model_fingerprint
                                         and manifest.model_fingerprint != model_fingerprint):
        raise IndexMismatchError(f"index {store} was built with embedding model {manifest.model_id!r} but the "
                                 f"current model is {model_id!r} (other files); {_RESTART_HINT}")
    if dim is not None and manifest.dim != dim:
        raise IndexMismatchError(f"index {store} holds {manifest.dim}-dim vectors but the current model "
                                 f"gives {dim}-dim vectors; {_RESTART_HINT}")
    wanted = _canonical(chunker)
    if manifest.chunker != wanted:
        keys = sorted(set(manifest.chunker) | set(wanted))
        diff = ", ".join(f"{k}: index={manifest.chunker.get(k)!r} current={wanted.get(k)!r}"
                         for k in keys if manifest.chunker.get(k) != wanted.get(k))
        raise IndexMismatchError(f"index {store} was built with other chunker settings ({diff}); {_RESTART_HINT}")
    problems = _problems(store, manifest)
    if problems:
        raise IndexDamagedError(f"index {store} is damaged ({'; '.join(problems[:3])}); {_DAMAGE_HINT}")
    try:
        chunks, metas = _read_chunks(store / CHUNKS_FILE)
        vectors = np.ascontiguousarray(np.load(store / VECTORS_FILE), dtype=np.float32)
        if vectors.shape != (len(chunks), manifest.dim) or len(chunks) != manifest.n_chunks:
            raise ValueError(f"vectors {vectors.shape} vs {len(chunks)} chunks of dim {manifest.dim}")
        import bm25s

        bm25 = bm25s.BM25.load(str(store / BM25_DIR), show_progress=False)
        codes = _filter_codes(chunks, metas)
        vindex = open_vector_index(manifest.vector_index, store, vectors,
                                   lambda f: _mask(codes, len(chunks), f), pg_dsn=pg_dsn)
        if vindex.ntotal != len(chunks):
            raise ValueError(f"vector index holds {vindex.ntotal} vectors for {len(chunks)} chunks")
        if hasattr(vindex, "vectors"):
            vectors = vindex.vectors  # FAISS keeps the only copy in memory
        load_user_dict(str(store / USERDICT_FILE))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError) as exc:
        raise IndexDamagedError(f"index {store} is incomplete or corrupt ({exc}); {_DAMAGE_HINT}") from exc
    return IndexData(path=store, manifest=manifest, chunks=chunks, metas=metas, vectors=vectors,
                     faiss=getattr(vindex, "index", None), bm25=bm25, vector_index=vindex, _codes=codes)


def _read_chunks(path: Path) -> tuple[tuple[Chunk, ...], tuple[ChunkMeta, ...]]:
    chunks, metas = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                chunk, meta = _chunk_from_dict(json.loads(line))
                chunks.append(chunk)
                metas.append(meta)
    return tuple(chunks), tuple(metas)
