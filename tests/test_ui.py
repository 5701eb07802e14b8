"""The real Gradio app over the shipped issue, called through gradio_client and plain HTTP.

Uses the session `ui_server` fixture (conftest.py): m3e-small, a temp index built once, the app
launched in-process on 127.0.0.1. Checks the named endpoints (/ask, /lesson, /feedback, /articles),
that errors come back as clear Chinese messages, and that the served page loads nothing external.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlparse

import pytest
from conftest import CORPUS

pytestmark = pytest.mark.integration
httpx = pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def client(ui_server):
    from gradio_client import Client

    return Client(ui_server.url, verbose=False)


def _no_space(text: str) -> str:
    return "".join(text.split())


def test_named_endpoints_are_exposed(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/ask", "/lesson", "/feedback", "/articles"} <= names


def test_ask_returns_an_answer_with_exact_citations(client, ui_server):
    answer = client.predict("河东区清理了多少块外部牌子？", api_name="/ask")
    assert not answer["refused"]
    assert "169" in answer["answer"]
    assert answer["citations"], "an answer must cite its source"
    for c in answer["citations"]:
        source = ui_server.pipeline.source_for(ui_server.pipeline.catalogue.article(c["article_id"]).issue_id)
        assert source[c["char_start"]:c["char_end"]] == c["quote"]
    assert answer["hits"] and all("score" in h for h in answer["hits"])


def test_ask_refuses_what_the_magazine_does_not_cover(client):
    answer = client.predict("2030年奥运会在哪里举办？", api_name="/ask")
    assert answer["refused"]
    assert not answer["citations"]
    assert answer["suggestions"], "a refusal suggests the closest articles"


def test_ask_uses_the_history_for_follow_up_questions(client):
    first = client.predict("和平区下放给街道的“五权”是哪五项？", api_name="/ask")
    follow = client.predict("这些权力是怎么落实的？", history=[[first["question"], first["answer"]]], api_name="/ask")
    assert "五权" in follow["search_query"] or "和平" in follow["search_query"]
    assert not follow["refused"]


@pytest.mark.parametrize("question, message", [("", "问题为空"), ("问" * 600, "问题过长")])
def test_bad_questions_get_a_clear_chinese_error(client, question, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(question, api_name="/ask")


def test_lesson_outline_quotes_are_verbatim_from_the_corpus(client):
    outline = client.predict("为基层减负", api_name="/lesson")
    assert outline.startswith("# 备课提纲：为基层减负")
    quotes = re.findall(r"^- “(.+)” \[\d+\]$", outline, flags=re.M)
    assert len(quotes) >= 3
    corpus = _no_space(CORPUS.read_text(encoding="utf-8"))
    for q in quotes:  # the outline's Markdown escapes (\[, \:, &lt; …) undone, the text is the source's
        assert _no_space(html.unescape(re.sub(r"\\(.)", r"\1", q))) in corpus, q
    assert "## 讨论题" in outline


def test_lesson_export_writes_markdown_and_docx(ui_server, tmp_path):
    docx = pytest.importorskip("docx")
    from zhibu_qa.app.ui_lesson import export_lesson
    from zhibu_qa.lessons import lesson_markdown

    lesson, md, word = export_lesson(ui_server.pipeline, "党务公开", tmp_path)
    assert md.read_text(encoding="utf-8") == lesson_markdown(lesson)
    assert md.parent.parent == tmp_path / "lessons" and md.name == "备课提纲-党务公开.md"
    text = "\n".join(p.text for p in docx.Document(str(word)).paragraphs)
    assert "备课提纲：党务公开" in text


def test_feedback_is_appended_and_survives_rereading(client, ui_server):
    from zhibu_qa.app.feedback import read_feedback

    answer = client.predict("编辑部电话是多少？", api_name="/ask")
    assert len(answer["answer_id"]) == 32
    before = len(read_feedback(ui_server.settings.feedback_path))
    assert client.predict("down", answer["answer_id"], "号码不全", api_name="/feedback") == "已记录"
    assert client.predict("up", answer["answer_id"], api_name="/feedback") == "已记录"
    records = read_feedback(ui_server.settings.feedback_path)
    assert len(records) == before + 2
    down = records[-2]
    assert (down["rating"], down["comment"], down["question"]) == ("down", "号码不全", answer["question"])
    assert down["answer"] == answer["answer"] and down["citations"] == answer["citations"]
    assert down["time"] and down["settings"]["source"] == "api"


def test_feedback_with_an_unknown_rating_is_refused(client):
    from gradio_client.exceptions import AppError

    answer = client.predict("编辑部电话是多少？", api_name="/ask")
    with pytest.raises(AppError, match="评价只能是"):
        client.predict("meh", answer["answer_id"], api_name="/feedback")


@pytest.mark.parametrize("answer_id", ["0" * 32, "not-an-id", ""])
def test_feedback_only_for_answers_the_server_issued(client, ui_server, answer_id):
    from gradio_client.exceptions import AppError

    from zhibu_qa.app.feedback import read_feedback

    before = len(read_feedback(ui_server.settings.feedback_path))
    with pytest.raises(AppError, match="找不到这条回答"):
        client.predict("up", answer_id, "伪造", api_name="/feedback")
    assert len(read_feedback(ui_server.settings.feedback_path)) == before


def test_concurrent_feedback_is_never_turned_away(client, ui_server):
    """/feedback runs outside the answer queue (POST gradio_api/run/feedback): a burst is all recorded."""
    from concurrent.futures import ThreadPoolExecutor

    from zhibu_qa.app.feedback import read_feedback

    answer = client.predict("编辑部电话是多少？", api_name="/ask")
    before = len(read_feedback(ui_server.settings.feedback_path))

    def send(i: int) -> int:
        r = httpx.post(urljoin(ui_server.url, "gradio_api/run/feedback"), timeout=120,
                       json={"data": ["up", answer["answer_id"], f"并发{i}"]})
        return r.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(send, range(50)))
    assert codes == [200] * 50
    assert len(read_feedback(ui_server.settings.feedback_path)) == before + 50


def test_feedback_comment_is_capped(client):
    from gradio_client.exceptions import AppError

    answer = client.predict("编辑部电话是多少？", api_name="/ask")
    with pytest.raises(AppError, match="意见过长"):
        client.predict("up", answer["answer_id"], "长" * 5000, api_name="/feedback")


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "naive"}, "检索方式只能是"), ({"mode": "../x"}, "检索方式只能是"), ({"k": -5}, "参考段落数"),
    ({"k": 100000}, "参考段落数"), ({"backend": "shell"}, "回答方式只能是"),
    ({"columns": ["x"] * 500}, "栏目最多"), ({"history": [["q"]]}, "对话历史"),
])
def test_ask_parameters_outside_what_the_ui_offers_are_refused(client, ui_server, kwargs, message, monkeypatch):
    from gradio_client.exceptions import AppError

    def no_index_from_a_request():
        raise AssertionError("a request must never build an index")

    monkeypatch.setattr(ui_server.pipeline, "naive_retriever", no_index_from_a_request)
    with pytest.raises(AppError, match=message):
        client.predict("编辑部电话是多少？", api_name="/ask", **kwargs)


def test_articles_endpoint_lists_the_catalogue(client, ui_server):
    rows = client.predict(api_name="/articles")
    assert len(rows) == len(ui_server.pipeline.catalogue.articles)
    assert any(r["title"] == "念好放权赋能“治理经”" for r in rows)


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//([^/"']+)""", re.I)
CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])(?:https?:)?//([^/"')]+)""", re.I)


def test_page_and_css_load_nothing_from_other_hosts(ui_server):
    page = httpx.get(ui_server.url, timeout=30)
    assert page.status_code == 200
    html = page.text
    own = urlparse(ui_server.url).netloc
    assert all(host == own for host in EXTERNAL.findall(html)), EXTERNAL.findall(html)
    sheets = {urljoin(ui_server.url, h) for h in re.findall(r'href="([^"]+\.css)"', html)}
    sheets.add(urljoin(ui_server.url, "theme.css"))
    for sheet in sheets:
        css = httpx.get(sheet, timeout=30)
        assert css.status_code == 200, sheet
        assert CSS_URL.findall(css.text) == [], sheet
        assert "googleapis" not in css.text and "gstatic" not in css.text
    for script in re.findall(r'<script[^>]+src="([^"]+)"', html):
        assert urlparse(urljoin(ui_server.url, script)).netloc == own
    assert "Noto Sans CJK SC" in httpx.get(urljoin(ui_server.url, "theme.css"), timeout=30).text


def test_private_files_cannot_be_downloaded(ui_server):
    for path in (f"{ui_server.settings.index_dir}/catalogue.json", ui_server.settings.feedback_path,
                 str(CORPUS)):
        r = httpx.get(urljoin(ui_server.url, f"gradio_api/file={path}"), timeout=30)
        assert r.status_code in (403, 404), path


def test_a_ready_server_serves_no_startup_banner(ui_server):
    page = httpx.get(ui_server.url, timeout=30).text + httpx.get(ui_server.url + "config", timeout=30).text
    assert "zq-status" in page and "正在准备知识库" not in page and "正在加载" not in page


def test_server_binds_to_loopback_by_default(ui_server):
    from zhibu_qa.config import Settings

    assert Settings().host == "127.0.0.1"
    assert urlparse(ui_server.url).hostname == "127.0.0.1"


def test_questions_asked_while_the_index_is_prepared_get_a_please_wait_message(ui_server):
    from conftest import free_port
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from zhibu_qa.app.ui import build_app, launch
    from zhibu_qa.app.ui_actions import Startup

    settings = ui_server.settings.replace(port=free_port())
    pending = Startup(ui_server.pipeline)  # never started: the app must say "please wait", not crash
    demo = build_app(ui_server.pipeline, settings, pending, ui_server.work_dir)
    server = launch(demo, settings, ui_server.work_dir, pipeline=ui_server.pipeline, startup=pending,
                    answers=ui_server.answers, block=False)
    try:
        with pytest.raises(AppError, match="知识库正在准备中"):
            Client(server.url, verbose=False).predict("编辑部电话是多少？", api_name="/ask")
        assert "zq-status" in httpx.get(server.url, timeout=30).text
    finally:
        server.close()


def test_ask_filters_by_column_and_article(client, ui_server):
    by_column = client.predict("基层减负有哪些做法？", columns=["特别关注"], api_name="/ask")
    assert by_column["hits"] and {h["column"] for h in by_column["hits"]} == {"特别关注"}
    article = next(a for a in ui_server.pipeline.catalogue.articles if a.title == "念好放权赋能“治理经”")
    by_article = client.predict("基层减负有哪些做法？", articles=[article.id], api_name="/ask")
    assert by_article["hits"] and {h["article_id"] for h in by_article["hits"]} == {article.id}


def test_benchmark_tab_runs_a_small_eval_and_offers_the_report(ui_server, tmp_path):
    pytest.importorskip("zhibu_qa.benchmark", reason="zhibu_qa.benchmark is not written yet")
    from zhibu_qa.app.ui import BUILTIN_DATASET
    from zhibu_qa.app.ui_actions import run_benchmark

    seen = []
    view = run_benchmark(ui_server.pipeline, BUILTIN_DATASET, tmp_path, ["bm25"], limit=3,
                         on_progress=lambda done, total: seen.append((done, total)))
    headers, rows = view.metrics
    assert headers == ["指标", "bm25"] and rows[0] == ["题数 (n)", "3"]
    assert len(view.results[1]) == 3 and seen[-1] == (3, 3)
    assert view.report_zip.suffix == ".zip" and view.report_md.exists()


def test_a_broken_uploaded_dataset_lists_its_problems(ui_server, tmp_path):
    pytest.importorskip("zhibu_qa.benchmark", reason="zhibu_qa.benchmark is not written yet")
    from zhibu_qa.app.ui_actions import check_upload, run_benchmark
    from zhibu_qa.app.views import exception_html
    from zhibu_qa.errors import DatasetError, InputError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x1", "question": ""}\nnot json\n', encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        run_benchmark(ui_server.pipeline, check_upload(bad), tmp_path, ["bm25"])
    assert err.value.problems
    assert "评测数据集有问题" in exception_html(err.value) and "<li>" in exception_html(err.value)
    text_file = tmp_path / "data.txt"
    text_file.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"\.jsonl"):
        check_upload(text_file)


def test_a_corrupt_index_is_reported_in_a_clear_panel(ui_server, tmp_path):
    import shutil

    from zhibu_qa.app.ui_actions import Startup
    from zhibu_qa.pipeline import Pipeline

    broken = tmp_path / "index"
    shutil.copytree(ui_server.settings.index_dir, broken)
    vectors = next(broken.rglob("vectors.npy"), None) or pytest.skip("no vectors.npy in this index layout")
    vectors.write_bytes(vectors.read_bytes()[:1000])  # a half-written file
    startup = Startup(Pipeline(ui_server.settings.replace(index_dir=str(broken))), log_fn=lambda s: None)
    startup.run()
    assert startup.state == "error"
    panel = startup.error_panel()
    assert "索引" in panel and "zhibu-qa index --rebuild" in panel and "Traceback" not in panel
