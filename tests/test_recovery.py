"""A damaged catalogue or source store has a way back: .bak generation, verified texts, `ingest --repair`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

ENV = {"ZHIBU_EMBEDDING_MODEL": "hashing:64", "ZHIBU_USER_DICT": str(ROOT / "corpus" / "userdict.txt")}


def run(*args, env=None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    full.update({"PYTHONPATH": str(ROOT / "src"), **ENV, **(env or {})})
    return subprocess.run([sys.executable, "-m", "zhibu_qa.cli", *args], capture_output=True, text=True,
                          env=full, cwd=ROOT, timeout=300)


def doc(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"# {name}\n\n## 正文\n\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def two_docs(tmp_path):
    idx = tmp_path / "index"
    a = doc(tmp_path, "a.md", "甲支部开展主题党日活动十二次，发展党员三名。")
    b = doc(tmp_path, "b.md", "乙支部落实“三会一课”制度，召开组织生活会两次。")
    assert run("--index-dir", str(idx), "ingest", str(a)).returncode == 0
    assert run("--index-dir", str(idx), "ingest", str(b)).returncode == 0
    return idx, a, b


def sources_in(idx: Path) -> set[str]:
    return {s["path"] for s in json.loads((idx / "catalogue.json").read_text(encoding="utf-8"))["sources"]}


def test_truncated_catalogue_points_to_repair_which_restores_the_previous_generation(two_docs, tmp_path):
    idx, a, b = two_docs
    raw = (idx / "catalogue.json").read_bytes()
    (idx / "catalogue.json").write_bytes(raw[: len(raw) // 2])
    c = doc(tmp_path, "c.md", "丙支部组织党员志愿服务四次。")
    r = run("--index-dir", str(idx), "ingest", str(c))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "damaged" in r.stderr and "ingest --repair" in r.stderr
    r = run("--index-dir", str(idx), "ingest", "--repair")
    assert "restored catalogue.json from catalogue.json.bak" in r.stdout
    assert sources_in(idx) == {str(a)}  # the generation before b was added
    # b's text belongs to no source of that generation: kept aside and reported, exit 2
    assert r.returncode == 2 and "1 stored source text(s) belong to no restored source" in r.stderr
    assert len(list((idx / "sources" / "orphaned").glob("*.txt"))) == 1
    assert list(idx.glob("catalogue.json.damaged-*"))  # the damaged file is kept for inspection
    assert run("--index-dir", str(idx), "ingest", str(b), str(c)).returncode == 0
    assert sources_in(idx) == {str(a), str(b), str(c)}


def test_repair_without_any_good_generation_says_what_is_lost_and_unblocks_ingest(two_docs):
    idx, a, _ = two_docs
    (idx / "catalogue.json").write_text("{", encoding="utf-8")
    (idx / "catalogue.json.bak").write_text("[]", encoding="utf-8")
    r = run("--index-dir", str(idx), "ingest", "--repair")
    assert r.returncode == 2 and "not restored: the catalogue cannot be restored" in r.stderr
    assert run("--index-dir", str(idx), "ingest", str(a)).returncode == 0
    assert sources_in(idx) == {str(a)}


def test_deleted_source_text_makes_reingest_restore_it_not_a_silent_unchanged(two_docs):
    idx, a, _ = two_docs
    texts = sorted((idx / "sources").glob("*.txt"))
    for t in texts:
        t.unlink()
    r = run("--index-dir", str(idx), "index", "--status")
    assert r.stdout.startswith("damaged:") and "missing" in r.stdout and "--repair" in r.stdout
    r = run("--index-dir", str(idx), "ingest", str(a))
    assert r.returncode == 0 and r.stdout.startswith("restored")
    assert "unchanged" not in r.stdout
    assert len(list((idx / "sources").glob("*.txt"))) == 1


def test_repair_restores_damaged_texts_from_the_original_files_and_reports_the_rest(two_docs):
    idx, a, b = two_docs
    for t in (idx / "sources").glob("*.txt"):
        t.write_text("被篡改的内容", encoding="utf-8")
    b.unlink()
    r = run("--index-dir", str(idx), "ingest", "--repair")
    assert r.returncode == 2
    assert f"restored the stored text of {a}" in r.stdout
    assert f"not restored: cannot restore {b}" in r.stderr and "--remove" in r.stderr
    from zhibu_qa.ingest.catalogue import check_source_text, load_catalogue

    cat = load_catalogue(idx)
    problems = {s.path: check_source_text(idx, s) for s in cat.sources}
    assert problems[str(a)] is None and "sha256" in problems[str(b)]
    assert run("--index-dir", str(idx), "ingest", "--remove", str(b)).returncode == 0
    r = run("--index-dir", str(idx), "ingest", "--repair")
    assert r.returncode == 0 and "nothing to repair" in r.stdout


def test_a_damaged_source_text_is_caught_when_read(two_docs):
    from zhibu_qa.errors import IndexDamagedError
    from zhibu_qa.ingest.catalogue import load_catalogue, source_texts

    idx, _, _ = two_docs
    path = next((idx / "sources").glob("*.txt"))
    path.write_text(path.read_text(encoding="utf-8").replace("支部", "支队"), encoding="utf-8")
    with pytest.raises(IndexDamagedError, match="sha256.*ingest --repair"):
        source_texts(idx, load_catalogue(idx))


def test_interrupted_temp_files_and_replaced_source_texts_are_cleaned_up(two_docs, tmp_path):
    idx, a, _ = two_docs
    (idx / ".catalogue.json.abc123.tmp").write_text("{half", encoding="utf-8")
    (idx / "sources" / ".deadbeef.txt.x1.tmp").write_text("half", encoding="utf-8")
    before = {p.name for p in (idx / "sources").glob("*.txt")}
    a.write_text(a.read_text(encoding="utf-8") + "\n## 补充\n\n新增一段内容。\n", encoding="utf-8")
    r = run("--index-dir", str(idx), "ingest", str(a))
    assert r.returncode == 0 and r.stdout.startswith("replaced")
    assert not list(idx.glob(".*.tmp")) and not list((idx / "sources").glob(".*.tmp"))
    after = {p.name for p in (idx / "sources").glob("*.txt")}
    # the replaced text stays while catalogue.json.bak (the previous generation) still refers to it
    assert len(after) == 3 and before < after
    assert run("--index-dir", str(idx), "ingest", "--remove", str(a)).returncode == 0
    assert len(list((idx / "sources").glob("*.txt"))) == 2  # the oldest text of a is gone
