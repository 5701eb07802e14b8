"""CLI edges: bad settings and options fail in one line before any model loads, output is terminal-safe."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest
from conftest import ROOT

DOC = ROOT / "tests" / "fixtures" / "branch-guide.md"
ENV = {"ZHIBU_EMBEDDING_MODEL": "hashing:64", "ZHIBU_USER_DICT": str(ROOT / "corpus" / "userdict.txt"),
       "ZHIBU_CORPUS_PATHS": str(DOC)}
ESCAPES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def run(*args, env=None, timeout=300):
    full = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    full.update({"PYTHONPATH": str(ROOT / "src"), **ENV, **(env or {})})
    return subprocess.run([sys.executable, "-m", "zhibu_qa.cli", *args], capture_output=True, text=True,
                          env=full, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    idx = tmp_path_factory.mktemp("edges") / "index"
    assert run("--index-dir", str(idx), "ingest", str(DOC)).returncode == 0
    assert run("--index-dir", str(idx), "index", "--quiet").returncode == 0
    return idx


def one_line_error(r) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zhibu-qa: error:") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.parametrize(("env", "words"), [
    ({"ZHIBU_PORT": "99999"}, "port=99999"),
    ({"ZHIBU_CHUNK_SIZE": "0"}, "chunk_size=0"),
    ({"ZHIBU_EMBEDDING_QUANTIZE": "maybe"}, "embedding_quantize"),
    ({"ZHIBU_DENSE_WEIGHT": "nan"}, "dense_weight"),
    ({"ZHIBU_MAX_QUESTION_CHARS": "-1"}, "max_question_chars"),
])
def test_bad_settings_stop_serve_before_anything_loads(tmp_path, env, words):
    r = run("--index-dir", str(tmp_path / "index"), "serve", env=env, timeout=60)
    assert words in one_line_error(r)
    assert not (tmp_path / "index").exists()


def test_a_port_out_of_range_on_the_command_line_is_one_line(tmp_path):
    r = run("--index-dir", str(tmp_path / "index"), "serve", "--port", "70000", timeout=60)
    assert "port=70000" in one_line_error(r)


@pytest.mark.parametrize("k", ["-1", "0", "21", "100000", "x"])
def test_k_outside_what_the_ui_offers_is_refused(small_index, k):
    r = run("--index-dir", str(small_index), "search", "党员", "-k", k)
    assert r.returncode == 2 and "-k must be" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_escape_sequences_never_reach_the_terminal(small_index, tmp_path):
    hostile = tmp_path / "\x1b]0;pwned\x07\x1b[31mred\x1b[0m.txt"
    r = run("--index-dir", str(small_index), "ingest", str(hostile))
    line = one_line_error(r)
    assert "red" in line and not ESCAPES.search(r.stderr.rstrip("\n"))
    r = run("--index-dir", str(small_index), "ask", "\x1b[2J\x1b[31m党员发展\x1b[0m\x07有哪些要求")
    assert r.returncode == 0, r.stderr
    assert not ESCAPES.search(r.stdout.replace("\n", "").replace("\t", ""))
    assert "\x1b" not in r.stderr


def test_clean_terminal_text_keeps_text_and_layout():
    from zhibu_qa.cli import clean_terminal_text

    assert clean_terminal_text("\x1b[1;31m党建\x1b[0m\t工作\n\x9b2J\x00") == "党建\t工作\n"
    assert clean_terminal_text("\x1b]8;;http://x\x1b\\链接\x1b]8;;\x1b\\") == "链接"


def test_pypdf_warnings_do_not_leak_to_stderr(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_pdf import _draw_pdf

    pdf = _draw_pdf(tmp_path / "ok.pdf", [("text", "支部工作条例第一条，为了加强党的基层组织建设，制定本条例。")])
    data = re.sub(rb"startxref\s+(\d+)", lambda m: b"startxref\n" + str(int(m.group(1)) + 7).encode(),
                  pdf.read_bytes())
    bad = tmp_path / "bad-xref.pdf"
    bad.write_bytes(data)  # pypdf repairs this, logging "incorrect startxref pointer"
    r = run("--index-dir", str(tmp_path / "index"), "ingest", "--check", str(bad))
    assert r.returncode == 0 and "startxref" not in r.stderr and r.stderr.strip() == "", r.stderr


def test_a_malformed_dataset_prints_the_first_20_problems_and_how_many_more(small_index, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n" * 100, encoding="utf-8")
    r = run("--index-dir", str(small_index), "eval", "--dataset", str(bad), "--out", str(tmp_path / "out"),
            "--configs", "bm25")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    problems = [ln for ln in lines if ln.startswith("  ") and "more" not in ln]
    assert len(problems) == 20 and re.fullmatch(r"  … \d+ more", lines[-1]), lines[-3:]
    assert 20 + int(lines[-1].split()[1]) >= 100


def test_a_port_already_in_use_is_one_line(small_index):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("--index-dir", str(small_index), "serve", "--port", str(port), timeout=300)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith("zhibu-qa: error:") and str(port) in errors[0]
    assert "Traceback" not in r.stderr
