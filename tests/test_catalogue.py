"""Catalogue: idempotent ingest, replacement of changed files, atomic writes, bad input."""

from __future__ import annotations

import json

import pytest
from conftest import CORPUS, FIXTURES

from zhibu_qa.config import load_settings
from zhibu_qa.errors import IngestError
from zhibu_qa.ingest.catalogue import load_catalogue, merge_sources
from zhibu_qa.pipeline import Pipeline


@pytest.fixture()
def pipe(tmp_path):
    return Pipeline(load_settings(env={}, index_dir=str(tmp_path / "index")))


def test_reingesting_the_same_file_is_a_no_op(pipe):
    changes, _ = pipe.ingest([CORPUS])
    assert [c.action for c in changes] == ["added"]
    before = (pipe.index_dir / "catalogue.json").stat().st_mtime_ns
    changes, _ = pipe.ingest([CORPUS])
    assert [c.action for c in changes] == ["unchanged"]
    assert (pipe.index_dir / "catalogue.json").stat().st_mtime_ns == before
    assert len(load_catalogue(pipe.index_dir).articles) == 38


def test_changed_file_replaces_its_articles(pipe, tmp_path):
    doc = tmp_path / "guide.md"
    doc.write_text((FIXTURES / "branch-guide.md").read_text(encoding="utf-8"), encoding="utf-8")
    pipe.ingest([CORPUS, doc])
    old_titles = {a.title for a in pipe.catalogue.articles if a.kind == "document"}
    assert old_titles
    doc.write_text("# 新的标题\n\n完全不同的正文内容。第二句话。\n", encoding="utf-8")
    changes, _ = pipe.ingest([doc])
    assert [c.action for c in changes] == ["replaced"]
    titles = [a.title for a in load_catalogue(pipe.index_dir).articles if a.kind == "document"]
    assert titles == ["新的标题"]
    assert len(load_catalogue(pipe.index_dir).sources) == 2


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\x00\x01\x02binary\x00" * 50, b"\xff\xfe\xfa\xfb" * 100])
def test_bad_files_fail_and_leave_the_catalogue_untouched(pipe, tmp_path, content):
    pipe.ingest([CORPUS])
    snapshot = (pipe.index_dir / "catalogue.json").read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(IngestError):
        pipe.ingest([bad, CORPUS])
    assert (pipe.index_dir / "catalogue.json").read_bytes() == snapshot


def test_missing_path_is_a_clear_error(pipe, tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        pipe.ingest([tmp_path / "nope.txt"])
    assert not (pipe.index_dir / "catalogue.json").exists()


def test_same_issue_from_another_file_is_refused(pipe, tmp_path):
    pipe.ingest([CORPUS])
    copy = tmp_path / "copy.txt"
    copy.write_text(CORPUS.read_text(encoding="utf-8") + "\n附加的一行。\n", encoding="utf-8")
    with pytest.raises(IngestError, match="already in the catalogue"):
        pipe.ingest([copy])


def test_gbk_copy_ingests_to_the_same_articles(tmp_path):
    from zhibu_qa.ingest import read_and_parse

    gbk = tmp_path / "issue-gbk.txt"
    gbk.write_bytes(CORPUS.read_text(encoding="utf-8").encode("gb18030"))
    a = read_and_parse(CORPUS)
    b = read_and_parse(gbk)
    assert [(x.title, x.column, x.authors, x.headings) for x in a.articles] == [
        (x.title, x.column, x.authors, x.headings) for x in b.articles]


def test_remove_source(pipe):
    pipe.ingest([CORPUS])
    pipe.remove(str(CORPUS))
    assert load_catalogue(pipe.index_dir).articles == ()


def test_merge_is_pure(parsed_issue):
    from zhibu_qa.ingest.catalogue import Catalogue

    empty = Catalogue((), ())
    cat, changes = merge_sources(empty, [parsed_issue])
    assert empty.articles == () and len(cat.articles) == 38 and changes[0].action == "added"


def test_catalogue_json_round_trips(pipe):
    pipe.ingest([CORPUS])
    data = json.loads((pipe.index_dir / "catalogue.json").read_text(encoding="utf-8"))
    assert data["sources"][0]["issue"]["total_number"] == 1144
    again = load_catalogue(pipe.index_dir)
    assert again.articles == pipe.catalogue.articles


def test_oversized_file_is_refused_before_reading(pipe, tmp_path):
    big = tmp_path / "huge.txt"
    with big.open("wb") as fh:  # a sparse 50 MB file: the size check must fire before any read
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(IngestError, match="MB"):
        pipe.ingest([big])
    assert not (pipe.index_dir / "catalogue.json").exists()


def test_pdf_without_text_layer_is_refused(pipe, tmp_path):
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(pdf))
    c.rect(100, 100, 200, 200, fill=1)
    c.save()
    with pytest.raises(IngestError, match="text layer"):
        pipe.ingest([pdf])


def test_text_with_a_toc_line_but_no_magazine_layout_falls_back_with_a_warning(tmp_path):
    from zhibu_qa.ingest import read_and_parse

    doc = tmp_path / "notes.txt"
    doc.write_text("学习笔记\n\n目录\n\n一、总体要求\n\n二、主要任务\n\n一、总体要求\n\n坚持党的全面领导，推进各项工作。\n\n"
                   "二、主要任务\n\n抓好理论学习，开展主题党日活动。\n", encoding="utf-8")
    parsed = read_and_parse(doc)
    assert parsed.articles and parsed.issue.kind in ("document", "magazine")
    text = "".join(p.text for a in parsed.articles for s in a.sections for p in s.paragraphs)
    assert "开展主题党日活动" in text
