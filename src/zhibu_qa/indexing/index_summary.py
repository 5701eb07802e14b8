"""What `zhibu-qa index --status` prints: the store's status against the current settings, and the
one-line summary (backend, model, vector count, version).

Reads the store manifest and checksums (and, for pgvector, the version file) only, never loading the
model; the catalogue's own checks and the second vector index are `Pipeline.index_status`'s part.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhibu_qa.errors import IndexMismatchError, ZhibuError
from zhibu_qa.indexing.store import FORMAT_VERSION, STORE_DIR, read_manifest, verify_index


def store_status(index_dir: str | Path, *, sources: dict[str, str], chunker: dict[str, Any], vector_index: str,
                 identity: Callable[[], tuple[str, str, int | None]], model_id: Callable[[], str]) -> str:
    """"missing: …", "stale: …", "damaged: …" or "ok" for the store under `index_dir`.

    `sources` (path -> sha256), `chunker` and `vector_index` are the current settings; `identity()`
    gives the model's (id, fingerprint, dim) and `model_id()` the configured embedder's id.
    """
    try:
        manifest = read_manifest(index_dir)
    except IndexMismatchError as exc:
        return f"damaged: {exc}"
    if manifest is None:
        return "missing: no index built"
    if manifest.format != FORMAT_VERSION:
        return f"stale: built by an older version (index format {manifest.format}, now {FORMAT_VERSION})"
    problems = verify_index(index_dir)
    if problems:
        return "damaged: " + "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    try:
        current, fingerprint, dim = identity()
    except ZhibuError as exc:
        return f"stale: cannot check the embedding model ({exc})"
    if manifest.model_id != current or (fingerprint and manifest.model_fingerprint != fingerprint):
        return f"stale: built with embedding model {manifest.model_id}, the current one is {current}"
    if dim is not None and manifest.dim != dim:
        return f"stale: the index holds {manifest.dim}-dim vectors, the current model gives {dim}-dim vectors"
    if manifest.sources != sources:
        return "stale: sources changed since the index was built"
    if manifest.chunker != chunker:
        return "stale: chunker settings changed"
    if manifest.vector_index != vector_index:
        return "stale: vector index type changed"
    if manifest.model_id != model_id():  # a model id needs no model load
        return f"stale: embedding model or backend changed ({manifest.model_id} -> {model_id()})"
    return "ok"


def index_summary(index_dir: str | Path) -> str:
    """One line naming the built index's vector backend, model, vector count and version."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return "no index built"
    version = manifest.built_at
    pg_file = Path(index_dir) / STORE_DIR / "pgvector.json"
    if manifest.vector_index == "pgvector" and pg_file.is_file():
        version = json.loads(pg_file.read_text(encoding="utf-8")).get("version", version)
    second = Path(index_dir) / "second" / "manifest.json"  # second_index.SECOND_DIR, when one was built
    extra = f" second={json.loads(second.read_text(encoding='utf-8')).get('model_id')}" if second.is_file() else ""
    return (f"backend={manifest.vector_index} model={manifest.model_id} vectors={manifest.n_chunks} "
            f"dim={manifest.dim} version={version}{extra}")
