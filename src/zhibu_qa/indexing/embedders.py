"""Text embedders: one `Embedder` interface, a sentence-transformers backend and a hashing fake.

Owns turning texts into L2-normalised float32 vectors (with optional query/passage prefixes) and
naming the model with a stable `model_id` the index manifest pins. Leaves out storage and search
(`store`, `retrieval`). Models load on first use, only from local files: nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from pathlib import Path

import numpy as np

from zhibu_qa.errors import ConfigError, ModelError

# The default model directory (fetched by `zhibu-qa fetch-model`); m3e-small: 512-dim, mean pooling.
DEFAULT_MODEL_DIR = "/work/main/models/m3e-small"
# Files whose bytes (configs) or names+sizes (weights) identify a local model directory.
_CONFIG_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                 "tokenizer_config.json", "1_Pooling/config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx")
_MODEL_MARKERS = ("config.json", "modules.json")
# A query is a few tokens: extra torch threads only add synchronisation, and when the two cores are
# busy, 2 threads took 213 ms p50 per query against 25 ms with 1 (measured on m3e-small).
QUERY_THREADS = 1
_FETCH_HINT = "运行 `zhibu-qa fetch-model` 下载模型，或用 ZHIBU_EMBEDDING_MODEL 指定本地模型目录"


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as float32 (all-zero rows stay zero).

    Example: l2_normalize(np.array([[3.0, 4.0]])) -> array([[0.6, 0.8]], dtype=float32)
    """
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {arr.shape}")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.ascontiguousarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


class Embedder:
    """Base class: subclasses implement `_encode`; callers use `embed_queries` / `embed_passages`.

    `model_id` names the model (and anything else that changes passage vectors) for the index
    manifest; `dim` is the vector dimension (a subclass may resolve it lazily).
    """

    model_id: str = "unknown"
    dim: int = 0
    query_prefix: str = ""
    passage_prefix: str = ""

    def _encode(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, shape (len(texts), dim), for search queries."""
        return self._embed([self.query_prefix + t for t in texts], show_progress=False)

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, shape (len(texts), dim), for indexed passages."""
        return self._embed([self.passage_prefix + t for t in texts], show_progress=show_progress)

    def _embed(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = l2_normalize(self._encode(list(texts), show_progress=show_progress))
        if out.shape[0] != len(texts):
            raise ModelError(f"embedder {self.model_id} returned {out.shape[0]} vectors for {len(texts)} texts")
        return out


def _prefix_tag(passage_prefix: str) -> str:
    """Suffix for `model_id` when a passage prefix changes the stored vectors."""
    if not passage_prefix:
        return ""
    return "+pp" + hashlib.sha256(passage_prefix.encode("utf-8")).hexdigest()[:6]


class HashingEmbedder(Embedder):
    """Deterministic test embedder: signed hashed character uni- and bi-grams, no model needed.

    Texts sharing characters and character pairs get similar vectors; good enough for unit tests.
    """

    def __init__(self, dim: int = 256, *, query_prefix: str = "", passage_prefix: str = ""):
        if dim < 2:
            raise ConfigError(f"hashing embedder dimension must be at least 2, got {dim}")
        self.dim = dim
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.model_id = f"hashing-{dim}{_prefix_tag(passage_prefix)}"

    def _encode(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            chars = [c for c in text if not c.isspace()]
            grams = chars + [a + b for a, b in zip(chars, chars[1:], strict=False)]
            for gram in grams:
                h = zlib.crc32(gram.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        return out


def _looks_like_path(model: str) -> bool:
    """A local path (existing, explicit, or under an existing folder) rather than a hub model name."""
    path = Path(model).expanduser()
    if model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1 or path.exists():
        return True
    return str(path.parent) != "." and path.parent.is_dir()


def local_model_id(model_dir: Path, passage_prefix: str = "") -> str:
    """`<dir name>@<hash of config files and weight file names/sizes>` for a local model directory.

    Example: local_model_id(Path("models/m3e-small")) -> "m3e-small@3f2a9c1d"
    """
    digest = hashlib.sha256()
    for name in _CONFIG_FILES:
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for path in sorted(model_dir.rglob("*")):
        rel = path.relative_to(model_dir).as_posix()
        # onnx/ holds exports derived from these weights; the ONNX backends add their own tag
        if path.is_file() and path.name.endswith(_WEIGHT_SUFFIXES) and not rel.startswith("onnx/"):
            digest.update(f"{rel}:{path.stat().st_size}\0".encode())
    return f"{model_dir.name}@{digest.hexdigest()[:8]}{_prefix_tag(passage_prefix)}"


def _quantize_int8(model):
    """Dynamic int8 quantization of Linear layers: about 2x faster encoding on CPU; m3e-small
    vectors keep a mean cosine of 0.98 with the float32 ones (measured on the shipped issue)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model from a local directory or the local Hugging Face cache.

    Loads on first use with `local_files_only=True`; a missing or broken model raises ModelError.
    """

    def __init__(self, model: str = DEFAULT_MODEL_DIR, *, query_prefix: str = "", passage_prefix: str = "",
                 batch_size: int = 16, device: str = "cpu", quantize: bool = False):
        if batch_size < 1:
            raise ConfigError(f"embedding batch size must be at least 1, got {batch_size}")
        self.quantize = quantize  # int8 dynamic quantization of the Linear layers (CPU speed-up)
        self.model = model
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._dim: int | None = None
        self._model_id: str | None = None
        self._path = Path(model).expanduser() if _looks_like_path(model) else None

    def _check_dir(self) -> Path:
        path = self._path
        assert path is not None
        hint = _FETCH_HINT
        if not path.exists():
            raise ModelError(f"embedding model directory {path} does not exist ({hint})")
        if not path.is_dir():
            raise ModelError(f"embedding model path {path} is not a directory ({hint})")
        try:
            names = {p.name for p in path.iterdir()}
        except OSError as exc:
            raise ModelError(f"cannot read embedding model directory {path}: {exc} ({hint})") from exc
        if not any(m in names for m in _MODEL_MARKERS):
            raise ModelError(
                f"{path} is not a sentence-transformers/transformers model directory "
                f"(no config.json or modules.json) ({hint})")
        if not any(n.endswith(_WEIGHT_SUFFIXES) for n in names) and "0_Transformer" not in names:
            raise ModelError(f"{path} holds no model weights (*.safetensors / *.bin) ({hint})")
        return path

    @property
    def model_id(self) -> str:  # type: ignore[override]
        if self._model_id is None:
            if self._path is not None:
                self._model_id = local_model_id(self._check_dir(), self.passage_prefix)
            else:
                self._model_id = self.model + _prefix_tag(self.passage_prefix)
            if self.quantize:
                self._model_id += "+int8"  # different vectors: an index built without it must be rebuilt
        return self._model_id

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            self._dim = int(self._load().get_embedding_dimension())
        return self._dim

    def _load(self):
        if self._model is not None:
            return self._model
        source = str(self._check_dir()) if self._path is not None else self.model
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(source, device=self.device, local_files_only=True)
            if self.quantize:
                self._model = _quantize_int8(self._model)
        except ModelError:
            raise
        except Exception as exc:  # any loader failure means an unusable model
            msg = re.sub(r"\s+", " ", str(exc))[:300]
            raise ModelError(
                f"cannot load embedding model {source!r} offline: {type(exc).__name__}: {msg} ({_FETCH_HINT})"
            ) from exc
        return self._model

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """As the base class, but a few queries run on one torch thread (see QUERY_THREADS)."""
        if len(texts) > 8:
            return super().embed_queries(texts)
        self._load()  # model errors first, before importing torch
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(QUERY_THREADS)
        try:
            return super().embed_queries(texts)
        finally:
            torch.set_num_threads(previous)

    def _encode(self, texts: list[str], *, show_progress: bool) -> np.ndarray:
        model = self._load()
        vectors = model.encode(texts, batch_size=self.batch_size, show_progress_bar=show_progress,
                               convert_to_numpy=True, normalize_embeddings=False)
        return np.asarray(vectors, dtype=np.float32)


EMBEDDER_KINDS = ("hashing", "hashing:DIM", "<model directory or sentence-transformers name>")
# torch: sentence-transformers fp32; torch-int8: dynamic int8 Linear layers; onnx / onnx-int8: ONNX
# Runtime over onnx/model.onnx / onnx/model_qint8_pc.onnx (figures in benchmarks/README.md).
EMBEDDING_BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")


def make_embedder(spec: str, *, backend: str = "torch", threads: int = 0, workers: int = 0, **kw) -> Embedder:
    """Build an embedder from a spec: "hashing", "hashing:DIM", or a model directory/name.

    `backend` (one of EMBEDDING_BACKENDS) picks the runtime for a model; hashing specs ignore it;
    `threads` and `workers` are the ONNX backends' (`OnnxEmbedder`; 0: automatic).
    Example: make_embedder("hashing:64").dim == 64
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError(f"empty embedding model spec; use one of: {', '.join(EMBEDDER_KINDS)}")
    if backend not in EMBEDDING_BACKENDS:
        raise ConfigError(f"embedding_backend={backend!r} is not one of: {', '.join(EMBEDDING_BACKENDS)}")
    if spec == "hashing" or spec.startswith("hashing:"):
        dim_text = spec.partition(":")[2] or "256"
        if not dim_text.isdigit():
            raise ConfigError(f"bad hashing embedder spec {spec!r}; use 'hashing' or 'hashing:DIM' (e.g. hashing:256)")
        prefixes = {k: kw[k] for k in ("query_prefix", "passage_prefix") if k in kw}
        return HashingEmbedder(int(dim_text), **prefixes)
    if backend.startswith("onnx"):
        if not _looks_like_path(spec):
            raise ConfigError(f"embedding_backend={backend!r} needs a local model directory, got {spec!r}")
        from zhibu_qa.indexing.onnx_backend import OnnxEmbedder

        kw.pop("device", None)
        kw.pop("quantize", None)
        return OnnxEmbedder(spec, quantized=backend == "onnx-int8", threads=threads, workers=workers, **kw)
    return SentenceTransformerEmbedder(spec, quantize=kw.pop("quantize", False) or backend == "torch-int8", **kw)
