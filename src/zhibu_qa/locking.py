"""Advisory locks on an index directory: one writer at a time, readers never see a half swap.

`writer_lock(index_dir)` is an exclusive `fcntl.flock` on `<index_dir>/.lock`, held around every
read-modify-write of the catalogue and around index builds; it is re-entrant within a process (so
`ensure_ready` can hold it while calling `ingest` and `build_index`). `swap_lock(index_dir, shared=…)`
on `<index_dir>/.swap.lock` is held exclusively only for the renames that swap a new store in and
shared while a reader loads the store. Linux/POSIX only; leaves out locking across hosts (NFS).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from zhibu_qa.errors import ConfigError, LockTimeoutError

WRITER_LOCK_FILE = ".lock"
SWAP_LOCK_FILE = ".swap.lock"
DEFAULT_TIMEOUT = 600.0  # seconds; an index build of the shipped issue takes ~30 s, a 100-issue archive ~25 min
_POLL_SECONDS = 0.1

# Per-process state: flock locks belong to an open file, so a second open in the same process
# would block on itself; a re-entrant thread lock per directory and a depth count avoid that.
_state_guard = threading.Lock()
_held: dict[str, tuple[threading.RLock, list]] = {}


def _entry(path: Path) -> tuple[threading.RLock, list]:
    with _state_guard:
        return _held.setdefault(str(path), (threading.RLock(), [0, None]))


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"index directory {path.parent} is not writable ({exc.strerror}); "
                          "set index_dir (ZHIBU_INDEX_DIR or --index-dir) to a writable folder") from exc


def _flock(fd: int, mode: int, timeout: float, what: str, on_wait: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise LockTimeoutError(f"{what} is still locked by another process after {timeout:.0f} s "
                                   "(another ingest or index build is running); try again when it has finished")
        if not waited and on_wait is not None:
            on_wait(f"waiting for another writer ({what})…")
        waited = True
        time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def writer_lock(index_dir: str | Path, *, timeout: float = DEFAULT_TIMEOUT,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock of `index_dir`; waits up to `timeout` s (saying so once via `on_wait`).

    Example: with writer_lock("index"): save_catalogue("index", merged)
    """
    path = Path(index_dir).resolve() / WRITER_LOCK_FILE
    rlock, slot = _entry(path)
    if not (rlock.acquire(timeout=timeout) if timeout > 0 else rlock.acquire(blocking=False)):
        raise LockTimeoutError(f"{path} is held by another thread of this process for over {timeout:.0f} s")
    try:
        if slot[0] == 0:
            fd = _open_lock_file(path)
            try:
                _flock(fd, fcntl.LOCK_EX, timeout, str(path), on_wait)
            except BaseException:
                os.close(fd)
                raise
            slot[1] = fd
        slot[0] += 1
        try:
            yield
        finally:
            slot[0] -= 1
            if slot[0] == 0:
                fd, slot[1] = slot[1], None
                os.close(fd)  # closing releases the flock
    finally:
        rlock.release()


def holds_writer_lock(index_dir: str | Path) -> bool:
    """True when this process holds the writer lock of `index_dir` (for assertions in writers)."""
    path = Path(index_dir).resolve() / WRITER_LOCK_FILE
    return _entry(path)[1][0] > 0


@contextlib.contextmanager
def swap_lock(index_dir: str | Path, *, shared: bool, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Exclusive while a store is swapped in, shared while one is read.

    A reader of a read-only index directory (no lock file can be created) reads without it.
    """
    path = Path(index_dir) / SWAP_LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if not shared:
            raise
        yield
        return
    try:
        _flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, timeout, str(path), None)
        yield
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Make a rename or new file in directory `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
