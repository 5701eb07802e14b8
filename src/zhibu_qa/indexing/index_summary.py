"""The one-line summary `zhibu-qa index --status` prints: backend, model, vector count, version.

Reads the store manifest (and, for pgvector, the version file) only; checking the index is
`Pipeline.index_status`'s job.
"""

from __future__ import annotations

import json
from pathlib import Path

from zhibu_qa.indexing.store import STORE_DIR, read_manifest


def index_summary(index_dir: str | Path) -> str:
    """One line naming the built index's vector backend, model, vector count and version."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return "no index built"
    version = manifest.built_at
    pg_file = Path(index_dir) / STORE_DIR / "pgvector.json"
    if manifest.vector_index == "pgvector" and pg_file.is_file():
        version = json.loads(pg_file.read_text(encoding="utf-8")).get("version", version)
    return (f"backend={manifest.vector_index} model={manifest.model_id} vectors={manifest.n_chunks} "
            f"dim={manifest.dim} version={version}")
