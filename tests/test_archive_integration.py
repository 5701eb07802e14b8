"""A two-issue archive end to end with the real model, FAISS, jieba/BM25, the CLI and the HTTP API:
the shipped issue plus a synthetic older one (another issue number and date, a few changed articles,
the same masthead) written into the test's tmp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import test_vector_indexes
from conftest import CORPUS, MODEL_DIR, ROOT

pytestmark = pytest.mark.integration
pg_dsn = test_vector_indexes.pg_dsn  # the real PostgreSQL 18 + pgvector fixture
pg_db = test_vector_indexes.pg_db  # a new database on it

NEW, OLD = "zbsh-2024-09b", "zbsh-2023-05a"
SIGNS = "河东区共清理规范外部牌子多少块？"
LEARNED = "红旗小岗哨"  # quoted twice in the synthetic issue only
ONCE = "蓝衫哨兵队"  # quoted once (also a term: userdict.MIN_RECURRENCE is 1)


def synthetic_issue(text: str) -> str:
    """The shipped issue as the 2023 上半月 第5期: another masthead line, two changed articles."""
    changes = [
        ("下半月 2024年第9期·总第1144期", "上半月 2023年第5期·总第1111期"),
        ("河东区共清理规范外部牌子169块", "河东区共清理规范外部牌子96块"),
        ("今年4月，又到了一年一度绩效考核评估的时间",
         f"今年4月，“{LEARNED}”首次上岗，“{LEARNED}”队员和“{ONCE}”一起巡查，又到了一年一度绩效考核评估的时间"),
    ]
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    if not (MODEL_DIR / "config.json").exists():
        pytest.skip(f"m3e-small not found at {MODEL_DIR}")
    from zhibu_qa.config import load_settings
    from zhibu_qa.pipeline import Pipeline

    work = tmp_path_factory.mktemp("archive")
    older = work / "tianjin-zhibu-shenghuo-2023-05a.txt"
    older.write_text(synthetic_issue(CORPUS.read_text(encoding="utf-8")), encoding="utf-8")
    env = {"ZHIBU_EMBEDDING_MODEL": str(MODEL_DIR), "ZHIBU_USER_DICT": str(ROOT / "corpus" / "userdict.txt"),
           "ZHIBU_INDEX_DIR": str(work / "index")}
    settings = load_settings(env=env)
    pipe = Pipeline(settings)
    pipe.ingest([older, CORPUS])  # the older issue first: its rows come first, so ties would favour it
    pipe.build_index()
    return SimpleNamespace(pipe=pipe, env=env, settings=settings, work=work)


def cli(archive, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env.update(archive.env, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-m", "zhibu_qa.cli", *args], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)
    return r


def test_issues_are_listed_newest_first_with_dates(archive):
    r = cli(archive, "articles", "--issues", "--json")
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    assert [(i["issue_id"], i["date"]) for i in listing] == [(NEW, "2024-09-15"), (OLD, "2023-05-15")]
    r = cli(archive, "articles", "--issue", "2023年第5期")
    assert r.returncode == 0 and "== 天津支部生活 2023年第5期（上半月） · 2023-05-15" in r.stdout
    assert "2024年第9期" not in r.stdout
    rows = json.loads(cli(archive, "articles", "--json", "--since", "2024").stdout)
    assert rows and {row["issue_id"] for row in rows} == {NEW}


def test_recurring_chunks_are_indexed_once_from_the_latest_issue(archive):
    index = archive.pipe.index
    per_issue = {iid: sum(c.issue_id == iid for c in index.chunks) for iid in (NEW, OLD)}
    assert per_issue[NEW] > 400 and 0 < per_issue[OLD] < 10  # only the changed chunks of the old issue
    phone = [c for c in index.chunks if "编辑部电话 022-23020102" in c.text]
    assert phone and {c.issue_id for c in phone} == {NEW}
    hits, _ = archive.pipe.search("编辑部电话是多少", 5)
    assert {h.chunk.issue_id for h in hits if "编辑部电话" in h.chunk.text} == {NEW}


def test_the_most_recent_issue_comes_first_unless_the_question_names_a_time(archive):
    hits, _ = archive.pipe.search(SIGNS, 5)
    assert hits[0].chunk.issue_id == NEW and "169块" in hits[0].chunk.text
    assert not any("96块" in h.chunk.text for h in hits)  # the older near-copy is collapsed into it
    for named in ("2023年" + SIGNS, "第5期里" + SIGNS):
        hits, _ = archive.pipe.search(named, 5)
        assert hits[0].chunk.issue_id == OLD and "96块" in hits[0].chunk.text, named


def test_filters_restrict_hits_in_the_cli(archive):
    r = cli(archive, "search", SIGNS, "--json", "-k", "5", "--issue", "2023-05a")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)["hits"]
    assert hits and {h["issue_id"] for h in hits} == {OLD} and "96块" in hits[0]["text"]
    assert hits[0]["issue_date"] == "2023-05-15"
    r = cli(archive, "search", "党员教育", "--json", "--until", "2023-12")
    assert {h["issue_id"] for h in json.loads(r.stdout)["hits"]} == {OLD}
    r = cli(archive, "search", "党员教育", "--year", "2030")
    assert r.returncode == 2 and "没有符合筛选条件" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli(archive, "search", "党员教育", "--since", "2024-13")
    assert r.returncode == 2 and "月份" in r.stderr


def test_ask_json_citations_name_the_issue_and_keep_the_old_fields(archive):
    r = cli(archive, "ask", SIGNS, "--json", "--issue", "2023-05a")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert not answer["refused"] and "96" in answer["answer"]
    for c in answer["citations"]:
        assert {"n", "chunk_id", "article_id", "article_title", "column", "section", "authors", "issue", "quote",
                "char_start", "char_end"} <= set(c)
        assert c["issue_id"] == OLD and c["issue_date"] == "2023-05-15" and "2023年第5期" in c["issue"]
    r = cli(archive, "ask", SIGNS)
    assert r.returncode == 0 and "2024年第9期（下半月）" in r.stdout and "169" in r.stdout


def test_relative_times_in_a_citation_get_the_issue_date(archive):
    answer = archive.pipe.ask("南营门街道什么时候开展绩效考核评估？")
    dated = [c for c in answer.citations if "今年" in c.quote]
    assert dated, [c.quote for c in answer.citations]
    for c in dated:
        assert f"“今年”指{c.issue_date[:4]}年" in c.time_note and c.time_note.startswith("本期出版于")


def test_the_dictionary_learns_the_terms_the_new_issue_quotes(archive):
    from zhibu_qa.indexing.store import STORE_DIR, USERDICT_FILE
    from zhibu_qa.indexing.userdict import read_user_dict
    from zhibu_qa.text import tokenize

    assert archive.pipe.index.chunks  # loading the index loads its dictionary into jieba
    terms = read_user_dict(archive.work / "index" / STORE_DIR / USERDICT_FILE)
    assert LEARNED in terms and ONCE in terms
    assert LEARNED in tokenize(f"社区的{LEARNED}开始巡查") and ONCE in tokenize(f"{ONCE}在巡查")


def test_the_api_takes_a_filters_object(archive):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from zhibu_qa.app.api import Api, add_routes
    from zhibu_qa.app.feedback import RecentAnswers

    app = FastAPI()
    add_routes(app, Api(archive.pipe, SimpleNamespace(check=lambda: None), archive.settings, RecentAnswers(),
                        keys=("sk-archive",)))
    client = TestClient(app, headers={"Authorization": "Bearer sk-archive"})
    r = client.post("/v1/search", json={"query": SIGNS, "k": 3, "filters": {"issues": ["2023年第5期"]}})
    assert r.status_code == 200, r.text
    assert {h["issue_id"] for h in r.json()["data"]} == {OLD}
    r = client.post("/v1/search", json={"query": "党员教育", "filters": {"date_from": "2024-01", "date_to": "2024-12"}})
    assert {h["issue_id"] for h in r.json()["data"]} == {NEW}
    r = client.post("/v1/search", json={"query": "党员教育", "filters": {"weekday": "一"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "filters"
    r = client.post("/v1/search", json={"query": "党员教育", "filters": {"years": [1999]}})
    assert r.status_code == 400 and "没有符合筛选条件" in r.json()["error"]["message"]
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": SIGNS}],
                                                 "filters": {"issues": ["2023-05a"]}})
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert "96" in message["content"] and {c["issue_id"] for c in message["citations"]} == {OLD}


def test_a_lesson_keeps_to_the_filtered_issue(archive):
    r = cli(archive, "lesson", "清理规范牌子", "--issue", "2023-05a")
    assert r.returncode == 0, r.stderr
    sources = [ln for ln in r.stdout.splitlines() if "出处：" in ln]
    assert sources and all("2023年第5期" in ln for ln in sources)
    r = cli(archive, "lesson", "清理规范牌子")
    assert r.returncode == 0 and "2024年第9期" in r.stdout


def test_pgvector_applies_issue_and_date_filters_in_sql(tmp_path, pg_db):
    from zhibu_qa.config import load_settings
    from zhibu_qa.indexing.embedders import HashingEmbedder
    from zhibu_qa.ingest.archive import IssueFilter, apply_issue_filter
    from zhibu_qa.pipeline import Pipeline
    from zhibu_qa.types import Filters

    older = tmp_path / "tianjin-zhibu-shenghuo-2023-05a.txt"
    older.write_text(synthetic_issue(CORPUS.read_text(encoding="utf-8")), encoding="utf-8")
    settings = load_settings(env={"ZHIBU_PG_DSN": pg_db}, index_dir=str(tmp_path / "index"), vector_index="pgvector",
                             user_dict=str(ROOT / "corpus" / "userdict.txt"))
    pipe = Pipeline(settings, embedder=HashingEmbedder(64))
    pipe.ingest([older, CORPUS])
    pipe.build_index()
    try:
        for filt, wanted in ((IssueFilter(issues=("2023年第5期",)), OLD),
                             (IssueFilter.checked(date_from="2024-09", date_to="2024-09"), NEW)):
            filters = apply_issue_filter(Filters(), filt, pipe.catalogue.issues)
            rows, _ = pipe.index.vector_index.search(pipe.embedder.embed_queries([SIGNS])[0], 20, filters)
            assert len(rows) and {pipe.index.chunks[r].issue_id for r in rows} == {wanted}
            hits, _ = pipe.search(SIGNS, 5, "hybrid", filters)
            assert hits and {h.chunk.issue_id for h in hits} == {wanted}
    finally:
        pipe.index.vector_index.close()
