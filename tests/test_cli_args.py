"""`ask` and `lesson` check their arguments before any model or index is touched.

The settings point at a model and index that do not exist, so a command that loaded them first
would fail with a model/index error instead of the argument message checked here.
"""

from __future__ import annotations

import pytest

from zhibu_qa.cli import main


@pytest.fixture
def nothing_loaded(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("ZHIBU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZHIBU_EMBEDDING_MODEL", str(tmp_path / "no-model"))
    monkeypatch.setenv("ZHIBU_INDEX_DIR", str(tmp_path / "no-index"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("argv, message", [
    (["ask"], "give a question"),
    (["ask", "   "], "问题为空"),
    (["ask", "问" * 600], "问题过长"),
    (["lesson", ""], "备课主题为空"),
    (["lesson", "题" * 120], "备课主题过长"),
    (["lesson", "为基层减负", "--out", "/nonexistent/dir/x.docx"], "folder /nonexistent/dir does not exist"),
    (["lesson", "为基层减负", "--out", "x.pdf"], "use a .md or .docx"),
])
def test_bad_arguments_fail_in_one_line_before_loading(nothing_loaded, capsys, tmp_path, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "no-index").exists() and not (tmp_path / "nonexistent").exists()
