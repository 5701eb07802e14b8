"""Fault injection at the storage layer: a full disk during ingest and index builds, readers during writes.

The disk-full tests mount a small tmpfs (root only; skipped otherwise) so the failures are real
ENOSPC errors from the kernel, and check the previous state is byte-identical afterwards.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, ROOT

ENV = {"ZHIBU_EMBEDDING_MODEL": "hashing:64", "ZHIBU_USER_DICT": str(ROOT / "corpus" / "userdict.txt")}
LOCK_FILES = (".lock", ".swap.lock")


def cli(*args):
    full = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    full.update({"PYTHONPATH": str(ROOT / "src"), **ENV})
    return subprocess.run([sys.executable, "-m", "zhibu_qa.cli", *args], capture_output=True, text=True,
                          env=full, cwd=ROOT, timeout=300)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in LOCK_FILES}


def doc(tmp_path: Path, n: int) -> Path:
    path = tmp_path / f"doc{n}.md"
    path.write_text(f"# 第{n}号文件\n\n## 正文\n\n第{n}号支部开展主题党日活动{n + 5}次，发展党员{n + 1}名。\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(mnt: Path) -> Path:
    """Fill the file system; returns the filler file (delete it to free the space)."""
    filler = mnt / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_during_ingest_leaves_the_catalogue_byte_identical(tiny_disk, tmp_path):
    idx = tiny_disk / "index"
    assert cli("--index-dir", str(idx), "ingest", str(doc(tmp_path, 1))).returncode == 0
    before = snapshot(idx)
    filler = fill(tiny_disk)
    r = cli("--index-dir", str(idx), "ingest", str(CORPUS))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "No space left on device" in r.stderr
    assert snapshot(idx) == before  # no half-written catalogue, source text or temp file
    filler.unlink()
    assert cli("--index-dir", str(idx), "ingest", str(CORPUS)).returncode == 0


def test_disk_full_during_an_index_build_leaves_the_previous_index_byte_identical(tiny_disk, tmp_path):
    idx = tiny_disk / "index"
    assert cli("--index-dir", str(idx), "ingest", str(doc(tmp_path, 1))).returncode == 0
    assert cli("--index-dir", str(idx), "index", "--quiet").returncode == 0
    assert cli("--index-dir", str(idx), "ingest", str(CORPUS)).returncode == 0
    before = snapshot(idx)
    filler = fill(tiny_disk)
    r = cli("--index-dir", str(idx), "index", "--quiet")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert snapshot(idx) == before
    assert cli("--index-dir", str(idx), "index", "--status").stdout.startswith("stale: sources changed")
    filler.unlink()
    assert cli("--index-dir", str(idx), "index", "--quiet").returncode == 0
    assert cli("--index-dir", str(idx), "index", "--status").stdout.splitlines()[0] == "ok"


def test_a_reader_sees_the_old_or_the_new_index_never_a_mix(tmp_path):
    """A loaded reader keeps loading the index while the CLI ingests and indexes in the same directory."""
    from zhibu_qa.config import Settings
    from zhibu_qa.indexing.chunking import ChunkerConfig
    from zhibu_qa.indexing.embedders import HashingEmbedder
    from zhibu_qa.indexing.store import load_index

    idx = tmp_path / "index"
    assert cli("--index-dir", str(idx), "ingest", str(doc(tmp_path, 0))).returncode == 0
    assert cli("--index-dir", str(idx), "index", "--quiet").returncode == 0
    chunker = ChunkerConfig(Settings().chunk_size, Settings().chunk_overlap).as_dict()
    embedder = HashingEmbedder(64)
    stop = threading.Event()
    seen: list[int] = []
    failures: list[str] = []

    def reader():
        while not stop.is_set():
            try:
                index = load_index(idx, model_id=embedder.model_id, chunker=chunker)
            except Exception as exc:  # any error is a failure: the reader must see a whole index
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            expected = embedder.embed_passages([c.embed_text for c in index.chunks])
            if not np.allclose(index.vectors, expected, atol=1e-6):
                failures.append("vectors do not belong to these chunks")
            if len(index.chunks) != index.manifest.n_chunks or len({c.issue_id for c in index.chunks}) != \
                    index.manifest.n_issues:
                failures.append("chunks and manifest disagree")
            seen.append(index.manifest.n_issues)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, 5):
            assert cli("--index-dir", str(idx), "ingest", str(doc(tmp_path, n))).returncode == 0
            assert cli("--index-dir", str(idx), "index", "--quiet").returncode == 0
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert seen and seen[0] >= 1 and max(seen) <= 5
    assert load_index(idx, model_id=embedder.model_id, chunker=chunker).manifest.n_issues == 5


def test_a_loaded_pipeline_notices_a_new_index_and_reloads_it(tmp_path):
    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.embedders import HashingEmbedder
    from zhibu_qa.pipeline import Pipeline

    idx = tmp_path / "index"
    assert cli("--index-dir", str(idx), "ingest", str(doc(tmp_path, 0))).returncode == 0
    assert cli("--index-dir", str(idx), "index", "--quiet").returncode == 0
    settings = load_settings(env={}, index_dir=str(idx), user_dict=ENV["ZHIBU_USER_DICT"])
    reader = Pipeline(settings, embedder=HashingEmbedder(64))
    assert reader.index_is_current()  # nothing loaded yet
    assert reader.index.manifest.n_issues == 1 and reader.index_is_current()
    assert cli("--index-dir", str(idx), "ingest", str(doc(tmp_path, 1))).returncode == 0
    assert reader.index_is_current()  # a new catalogue alone does not change the index
    assert cli("--index-dir", str(idx), "index", "--quiet").returncode == 0
    assert not reader.index_is_current()
    reader.reload_index()
    assert reader.index.manifest.n_issues == 2 and reader.index_is_current()
