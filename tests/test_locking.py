"""Concurrent writers: parallel ingests keep every source, a held lock makes others wait or time out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

# no torch needed: the "hashing:DIM" embedder spec keeps these processes light
ENV = {"ZHIBU_EMBEDDING_MODEL": "hashing:64", "ZHIBU_USER_DICT": str(ROOT / "corpus" / "userdict.txt")}


def cli(*args, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    full.update({"PYTHONPATH": str(ROOT / "src"), **ENV, **(env or {})})
    return subprocess.Popen([sys.executable, "-m", "zhibu_qa.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full, cwd=ROOT)


def make_docs(tmp_path: Path, n: int) -> list[Path]:
    docs = []
    for i in range(n):
        doc = tmp_path / f"doc{i}.md"
        doc.write_text(f"# 第{i}号支部工作记录\n\n## 概况\n\n第{i}号支部今年发展党员{i + 3}名，开展主题党日活动{i + 10}次。"
                       f"\n\n## 经验\n\n第{i}号支部坚持“三会一课”制度，落实组织生活会{i + 1}次。\n", encoding="utf-8")
        docs.append(doc)
    return docs


def catalogue_paths(index_dir: Path) -> set[str]:
    data = json.loads((index_dir / "catalogue.json").read_text(encoding="utf-8"))
    return {s["path"] for s in data["sources"]}


def test_eight_parallel_ingests_keep_every_source(tmp_path):
    idx = tmp_path / "index"
    docs = make_docs(tmp_path, 9)
    first = cli("--index-dir", str(idx), "ingest", str(docs[0]))
    assert first.wait(120) == 0, first.stderr.read()
    procs = [cli("--index-dir", str(idx), "ingest", str(d)) for d in docs[1:]]
    outs = [(p.wait(300), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _, _ in outs), [err for _, _, err in outs]
    assert all("added" in out for _, out, _ in outs)
    assert catalogue_paths(idx) == {str(d) for d in docs}
    assert len(list((idx / "sources").glob("*.txt"))) == 9


def test_parallel_ingest_and_remove_and_index_agree(tmp_path):
    idx = tmp_path / "index"
    docs = make_docs(tmp_path, 6)
    assert cli("--index-dir", str(idx), "ingest", str(docs[0]), str(docs[1])).wait(120) == 0
    procs = [cli("--index-dir", str(idx), "ingest", "--remove", str(docs[0]))]
    procs += [cli("--index-dir", str(idx), "ingest", str(d)) for d in docs[2:]]
    procs += [cli("--index-dir", str(idx), "index", "--quiet")]
    codes = [p.wait(300) for p in procs]
    assert codes == [0] * len(procs), [p.stderr.read() for p in procs]
    assert catalogue_paths(idx) == {str(d) for d in docs[1:]}
    # the index built while others wrote is the one of some catalogue generation: `index` brings it up to date
    assert cli("--index-dir", str(idx), "index", "--quiet").wait(120) == 0
    status = cli("--index-dir", str(idx), "index", "--status")
    assert status.communicate()[0].splitlines()[0] == "ok"


def test_a_second_writer_waits_with_a_message_then_proceeds(tmp_path):
    from zhibu_qa.locking import writer_lock

    idx = tmp_path / "index"
    doc = make_docs(tmp_path, 1)[0]
    with writer_lock(idx):
        proc = cli("--index-dir", str(idx), "ingest", str(doc))
        # the message is printed as soon as the lock is found held; read it before releasing
        line = proc.stderr.readline()
    out, err = proc.communicate(timeout=120)
    assert "waiting for another writer" in line
    assert proc.returncode == 0 and "added" in out
    assert catalogue_paths(idx) == {str(doc)}


def test_a_writer_that_cannot_get_the_lock_fails_clearly_and_writes_nothing(tmp_path):
    from zhibu_qa.locking import writer_lock

    idx = tmp_path / "index"
    doc = make_docs(tmp_path, 1)[0]
    with writer_lock(idx):
        proc = cli("--index-dir", str(idx), "ingest", str(doc), env={"ZHIBU_LOCK_TIMEOUT": "0.3"})
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("zhibu-qa: error:") and "still locked" in lines[-1]
    assert not (idx / "catalogue.json").exists()


def test_a_pipeline_with_a_stale_cached_catalogue_merges_with_what_is_on_disk(tmp_path):
    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.embedders import HashingEmbedder
    from zhibu_qa.pipeline import Pipeline

    docs = make_docs(tmp_path, 3)
    settings = load_settings(env={}, index_dir=str(tmp_path / "index"), user_dict=str(tmp_path / "none.txt"))
    a = Pipeline(settings, embedder=HashingEmbedder(32))
    b = Pipeline(settings, embedder=HashingEmbedder(32))
    a.ingest([docs[0]])
    assert len(b.catalogue.sources) == 1  # b caches this generation
    a.ingest([docs[1]])
    b.ingest([docs[2]])  # must not write back its cached catalogue without docs[1]
    assert catalogue_paths(tmp_path / "index") == {str(d) for d in docs}
    b.remove(str(docs[0]))
    assert catalogue_paths(tmp_path / "index") == {str(docs[1]), str(docs[2])}


def test_the_writer_lock_is_reentrant_and_shared_by_threads_in_turn(tmp_path):
    from zhibu_qa.errors import LockTimeoutError
    from zhibu_qa.locking import holds_writer_lock, writer_lock

    with writer_lock(tmp_path), writer_lock(tmp_path):
        assert holds_writer_lock(tmp_path)
        errors = []

        def other():
            try:
                with writer_lock(tmp_path, timeout=0.2):
                    pass
            except LockTimeoutError as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 1
    assert not holds_writer_lock(tmp_path)
    with writer_lock(tmp_path, timeout=0):  # free: a zero timeout takes it at once
        pass


def test_a_zero_lock_timeout_fails_at_once_instead_of_waiting_forever(tmp_path):
    from zhibu_qa.errors import LockTimeoutError
    from zhibu_qa.locking import writer_lock

    errors = []

    def other():
        try:
            with writer_lock(tmp_path, timeout=0):
                pass
        except LockTimeoutError as exc:
            errors.append(exc)

    with writer_lock(tmp_path):
        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=60)
        assert not t.is_alive() and len(errors) == 1


def test_an_index_dir_that_cannot_be_created_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    doc = make_docs(tmp_path, 1)[0]
    proc = cli("--index-dir", str(blocker / "index"), "ingest", str(doc))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "not writable" in err or "Not a directory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_a_read_only_index_dir_is_a_one_line_error(tmp_path):
    idx = tmp_path / "index"
    idx.mkdir()
    idx.chmod(0o555)
    doc = make_docs(tmp_path, 1)[0]
    proc = cli("--index-dir", str(idx), "ingest", str(doc))
    out, err = proc.communicate(timeout=120)
    idx.chmod(0o755)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and "not writable" in err
