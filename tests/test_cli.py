"""The CLI edge: fast --help, one-line errors with exit code 2, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import CORPUS, ROOT


def run(*args, env=None, cwd=None):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    full_env = {k: v for k, v in full_env.items() if not k.startswith("ZHIBU_") or (env and k in env)}
    return subprocess.run([sys.executable, "-m", "zhibu_qa.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=300)


def test_help_does_not_import_torch():
    code = ("import sys; sys.argv=['zhibu-qa','--help']\nfrom zhibu_qa import cli\ntry:\n cli.main()\n"
            "except SystemExit: pass\nprint('TORCH' if 'torch' in sys.modules else 'NOTORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert "ask" in out.stdout and out.stdout.strip().endswith("NOTORCH")


def test_unknown_subcommand_is_one_line_exit_2():
    r = run("frobnicate")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "invalid choice" in r.stderr


def test_unknown_setting_is_one_line_exit_2(tmp_path):
    r = run("articles", env={"ZHIBU_COLOUR": "red"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "unknown setting 'colour'" in r.stderr


def test_unreadable_model_dir_is_one_line(tmp_path):
    (tmp_path / "index").mkdir()
    r = run("--index-dir", str(tmp_path / "index"), "search", "党务公开",
            env={"ZHIBU_EMBEDDING_MODEL": str(tmp_path / "no-model")})
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1


def test_ingest_bad_inputs(tmp_path):
    idx = tmp_path / "index"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for path in (empty, tmp_path / "missing.txt"):
        r = run("--index-dir", str(idx), "ingest", str(path))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (idx / "catalogue.json").exists()


def test_ingest_check_and_articles_json(tmp_path):
    idx = tmp_path / "index"
    r = run("--index-dir", str(idx), "ingest", "--check", str(CORPUS))
    assert r.returncode == 0 and "unmatched: 0" in r.stdout and "(100.00%)" in r.stdout
    assert not (idx / "catalogue.json").exists()
    assert run("--index-dir", str(idx), "ingest", str(CORPUS)).returncode == 0
    r = run("--index-dir", str(idx), "articles", "--json")
    rows = json.loads(r.stdout)
    assert len(rows) == 38
    assert {"id", "title", "column", "authors", "source", "sections", "n_chars", "issue"} <= set(rows[0])


@pytest.mark.integration
def test_search_and_ask_json(built_settings, tmp_path):
    env = {"ZHIBU_EMBEDDING_MODEL": built_settings.embedding_model, "ZHIBU_USER_DICT": built_settings.user_dict}
    idx = built_settings.index_dir
    r = run("--index-dir", idx, "search", "河东区清理了多少块外部牌子", "-k", "3", "--json", env=env)
    out = json.loads(r.stdout)
    assert set(out) == {"query", "mode", "latency_ms", "hits"} and len(out["hits"]) == 3
    assert {"rank", "score", "chunk_id", "article_id", "article_title", "column", "section", "authors", "text",
            "char_start", "char_end"} <= set(out["hits"][0])
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "question": "编辑部电话是多少？"}\n{"id": "b", "question": "东丽区是怎么减负的？"}\n',
                     encoding="utf-8")
    r = run("--index-dir", idx, "ask", "--batch", str(batch), env=env)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    assert "022-23020102" in lines[0]["answer"] and not lines[0]["refused"]
    assert lines[1]["refused"] and lines[1]["refusal_kind"] == "not_covered"
    assert {"question", "answer", "refused", "refusal_kind", "citations", "sentences", "hits", "backend",
            "latency_ms"} <= set(lines[0])


def test_corrupted_model_file_is_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    src = tmp_path / "src"
    src.mkdir()
    # a tiny BERT: fetch-model exports it to ONNX, and bert-base's default sizes took 74 s and 4 GB
    (src / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1,
                                                 "num_attention_heads": 2, "intermediate_size": 16,
                                                 "vocab_size": 64, "max_position_embeddings": 32}))
    torch.save({"w": torch.zeros(2)}, src / "pytorch_model.bin")
    target = tmp_path / "model"
    assert run("fetch-model", "--model-dir", str(target), "--from-dir", str(src)).returncode == 0
    (target / "config.json").write_text('{"model_type": "tampered"}')
    r = run("fetch-model", "--model-dir", str(target))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "corrupted" in r.stderr


@pytest.mark.integration
def test_eval_rejects_a_malformed_dataset_with_exit_2(built_settings, tmp_path):
    env = {"ZHIBU_EMBEDDING_MODEL": built_settings.embedding_model, "ZHIBU_USER_DICT": built_settings.user_dict}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "问"}\nnot json\n', encoding="utf-8")
    out = tmp_path / "out"
    r = run("--index-dir", built_settings.index_dir, "eval", "--dataset", str(bad), "--out", str(out), env=env)
    assert r.returncode == 2
    assert "line 1" in r.stderr and "line 2" in r.stderr
    assert not out.exists()
