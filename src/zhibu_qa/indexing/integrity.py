"""Checksums and durability of the files of one index store directory.

Owns hashing every file under a store (sha256, the way Lucene checks each segment file at load),
comparing a store with the digests its manifest recorded, fsyncing a freshly written tree before
it is swapped in, the two-rename swap itself and the repair of a swap a crash cut short. Leaves out what the files mean (`store`) and the catalogue (`catalogue`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from zhibu_qa.errors import IndexDamagedError
from zhibu_qa.locking import fsync_dir, swap_lock

MANIFEST_NAME = "manifest.json"  # the manifest itself is not listed in its own digests


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def store_files(store: Path) -> list[Path]:
    """Every regular file under `store` except the manifest, sorted."""
    return sorted(p for p in store.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)


def file_digests(store: Path) -> dict[str, str]:
    """Relative POSIX path -> sha256 of every file under `store` (manifest excluded).

    Example: file_digests(Path("index/store"))["vectors.npy"] == "9f2c…"
    """
    return {p.relative_to(store).as_posix(): sha256_file(p) for p in store_files(store)}


def verify_digests(store: Path, expected: dict[str, str]) -> list[str]:
    """What is wrong with `store` compared to `expected` digests (empty when it verifies).

    Example: verify_digests(store, {"vectors.npy": "…"}) == ["vectors.npy fails its sha256 check"]
    """
    problems = []
    for rel, digest in sorted(expected.items()):
        path = store / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        try:
            actual = sha256_file(path)
        except OSError as exc:
            problems.append(f"{rel} is unreadable ({exc.strerror})")
            continue
        if actual != digest:
            problems.append(f"{rel} is empty" if path.stat().st_size == 0 else f"{rel} fails its sha256 check")
    return problems


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under `root` (and `root`), so a swap never exposes lost writes."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)


# ---- swapping a store directory in, and repairing a swap cut short ------------------------------

def swap_in(tmp: Path, store: Path) -> None:
    """Replace `store` by `tmp` with two renames (caller holds the swap lock); `recover_store` repairs
    a crash between them."""
    old = None
    if store.exists():
        old = store.with_name(f".{store.name}.old-{os.getpid()}-{time.time_ns()}")
        os.rename(store, old)
    os.rename(tmp, store)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover_store(index_dir: Path, name: str) -> None:
    """Put back the previous store if a build died between the two renames of `swap_in`."""
    store = index_dir / name
    if store.exists() or not index_dir.is_dir() or not any(index_dir.glob(f".{name}.old-*")):
        return
    try:
        lock = swap_lock(index_dir, shared=False)
        lock.__enter__()
    except OSError:
        return  # a read-only index directory: nothing can be renamed back anyway
    try:  # a running swap holds the lock between its renames, so this only sees a crashed one
        olds = sorted(index_dir.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
        if not store.exists() and olds and (olds[-1] / MANIFEST_NAME).is_file():
            os.rename(olds[-1], store)
    finally:
        lock.__exit__(None, None, None)


def remove_stale_temps(index_dir: Path, name: str) -> None:
    """Delete temp/old directories left by builds whose process no longer runs (killed builds)."""
    for path in index_dir.glob(f".{name}.*-*-*"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_manifest_file(path: Path, cls: type, what: str, hint: str):
    """A manifest dataclass read from JSON; None when the file is absent, one-line error when damaged."""
    if not path.is_file():
        return None
    try:
        return cls(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise IndexDamagedError(f"{what} {path} is unreadable ({exc}); {hint}") from exc
