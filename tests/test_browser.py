"""A real headless Chromium drives the app: ask, watch the answer arrive, open a citation's quote.

The browser runs with the network cut off (every host but 127.0.0.1 resolves to nothing) and a
fresh profile, so the page must work offline; its request log must show no other host.
Skipped when Chromium or chromedriver is not installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
QUESTION_BOX = "#zq-question textarea, #zq-question input"
WAIT_S = 120  # generous: a cold CPU may take a while for the first answer


def _binary(path: Path, name: str) -> str:
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} not found at {path} or on PATH: install chromium and chromium-driver "
                    "to run the browser tests")
    return found


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _binary(CHROMIUM, "chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1366,1000", "--lang=zh-CN",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(_binary(CHROMEDRIVER, "chromedriver")), options=options)
    yield driver
    driver.quit()


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def test_ask_stream_and_open_a_highlighted_citation(browser, ui_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(ui_server.url)
    box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    wait.until(lambda d: d.find_element(By.ID, "zq-status").text.strip() == "")  # startup banner gone
    tabs = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "[role=tab]")]
    assert tabs[:4] == ["问答", "文章", "备课", "评测"]

    box.send_keys("河东区清理了多少块外部牌子？")
    browser.find_element(By.ID, "zq-send").click()
    wait.until(lambda d: "169" in d.find_element(By.ID, "zq-chat").text)  # the answer streamed into the chat
    # numbered citations under the finished answer (the stream shows the text before the list)
    wait.until(lambda d: "【1】" in d.find_element(By.ID, "zq-chat").text)
    label = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-cites label")))
    assert label.text.startswith("【1】")
    label.click()
    mark = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-passage mark")))
    assert "169" in mark.text
    browser.save_screenshot(str(tmp_path / "chat.png"))

    wait.until(EC.element_to_be_clickable((By.ID, "zq-goto"))).click()  # deep link into the reader
    target = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-article-view #zq-target mark")))
    assert "169" in target.text
    browser.save_screenshot(str(tmp_path / "reader.png"))
    assert (tmp_path / "chat.png").stat().st_size > 0

    own = urlparse(ui_server.url).netloc
    web = [u for u in _requested_urls(browser) if urlparse(u).scheme in ("http", "https", "ws", "wss")]
    assert web, "the performance log recorded no requests"
    assert [u for u in web if urlparse(u).netloc != own] == []


def test_refusal_is_shown_with_suggested_articles(browser, ui_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(ui_server.url)
    box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    wait.until(lambda d: d.find_element(By.ID, "zq-status").text.strip() == "")
    box.send_keys("2030年奥运会在哪里举办？")
    browser.find_element(By.ID, "zq-send").click()
    wait.until(lambda d: "未作答" in d.find_element(By.ID, "zq-chat").text
               and "可以先读读这些文章" in d.find_element(By.ID, "zq-chat").text)  # the finished refusal


# ---- hostile content: nothing from a document, a question or a dataset becomes live markup ----------

HOSTILE_MD = """# 紫藤学习社<img src="http://evil.example/t.png" onerror="alert(1)">

作者：<script>alert(2)</script>王五

紫藤学习社是一个社区读书小组，每周三晚上在社区活动室学习党章。

## 活动安排<a href="http://evil.example/pay">点此领取党费补贴</a>

紫藤学习社每月组织一次专题研讨，访问 https://evil.example/join 或 www.evil.example 报名，邮箱 join@evil.example。

## 学习<img src=x onerror=alert(3)>成果

紫藤学习社已累计学习四十二次，撰写心得一百二十篇。<script>alert(4)</script>
"""
HOSTILE_DATASET = {"id": "h1", "question": "紫藤学习社<img src=x onerror=alert(6)>在哪个城市？", "type": "unanswerable",
                   "answerable": False, "gold_article": None, "gold_section": None, "evidence": [],
                   "answer": '<a href="http://evil.example/x">不知道</a>', "key_facts": []}
# Records alert() calls instead of blocking on them; installed before any page script runs.
ALERT_HOOK = "window.__zqAlerts = []; window.alert = (m) => { window.__zqAlerts.push(String(m)); };"
# Live markup the page must not hold: inline handlers, images/links/frames naming another host or the
# injected relative "x", and scripts carrying the injected code.
DOM_SCAN = """
const own = location.host, bad = [];
for (const el of document.querySelectorAll('*')) {
  for (const a of el.attributes) if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name + '=' + a.value);
}
for (const img of document.querySelectorAll('img')) {
  const u = new URL(img.src, location.href);
  if (!['data:', 'blob:'].includes(u.protocol) && (u.host !== own || /\\/x$|evil/.test(u.href))) bad.push('img ' + img.src);
}
for (const a of document.querySelectorAll('a[href]')) {
  const u = new URL(a.href, location.href);
  if ((u.protocol.startsWith('http') && u.host !== own) || a.href.includes('evil')) bad.push('a ' + a.href);
}
for (const s of document.querySelectorAll('script, iframe, object, embed')) {
  if (/alert\\(/.test(s.textContent || '') || s.tagName !== 'SCRIPT') bad.push(s.tagName + ' ' + (s.src || s.textContent).slice(0, 80));
}
return bad;
"""


@pytest.fixture(scope="module")
def hostile_server(built_settings, pipeline, tmp_path_factory):
    """A second server over a copy of the session index with the hostile document ingested."""
    pytest.importorskip("gradio")
    from conftest import free_port

    from zhibu_qa.app.ui import create_app, launch
    from zhibu_qa.pipeline import Pipeline

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(built_settings.index_dir, root / "index")
    doc = root / "hostile.md"
    doc.write_text(HOSTILE_MD, encoding="utf-8")
    settings = built_settings.replace(index_dir=str(root / "index"), port=free_port(),
                                      feedback_path=str(root / "feedback.jsonl"))
    pipe = Pipeline(settings, embedder=pipeline.embedder)
    pipe.ingest([doc])
    pipe.build_index()
    app = create_app(settings, pipeline=pipe, work_dir=root / "work", log=lambda s: None)
    assert app.startup.wait(600) and app.startup.ready, app.startup.error
    server = launch(app.demo, settings, app.work_dir, pipeline=pipe, startup=app.startup, answers=app.answers,
                    block=False)
    yield SimpleNamespace(url=server.url, root=root, pipeline=pipe)
    server.close()


def _scan(driver, where: str) -> None:
    bad = driver.execute_script(DOM_SCAN)
    assert bad == [], f"live markup in {where}: {bad}"
    assert driver.execute_script("return window.__zqAlerts") == [], f"alert() ran in {where}"


def _tab(driver, wait, name: str) -> None:
    from selenium.webdriver.common.by import By

    tab = next(b for b in driver.find_elements(By.CSS_SELECTOR, "[role=tab]") if b.text == name)
    tab.click()
    wait.until(lambda d: tab.get_attribute("aria-selected") == "true")


def test_a_hostile_document_question_and_dataset_stay_inert_in_every_tab(browser, hostile_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_HOOK})
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(hostile_server.url)
    box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    wait.until(lambda d: d.find_element(By.ID, "zq-status").text.strip() == "")
    assert browser.execute_script("return Array.isArray(window.__zqAlerts)"), "the alert hook is not installed"

    # 问答: an answer quoting the hostile text, its citation and passage, a hostile question
    box.send_keys("紫藤学习社每月组织什么活动？怎么报名？")
    browser.find_element(By.ID, "zq-send").click()
    wait.until(lambda d: "专题研讨" in d.find_element(By.ID, "zq-chat").text
               and "引用来源" in d.find_element(By.ID, "zq-chat").text)  # the finished answer
    chat = browser.find_element(By.ID, "zq-chat").text
    assert "https://evil.example/join" in chat and "join@evil.example" in chat, "URLs are shown unmangled, as text"
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-cites label"))).click()
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-passage mark")))
    _scan(browser, "问答")

    # 文章: the hostile article opened from the citation, with its headings and table of contents
    wait.until(EC.element_to_be_clickable((By.ID, "zq-goto"))).click()
    wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-article-view #zq-target mark")))
    assert "点此领取党费补贴" in browser.find_element(By.ID, "zq-article-view").text
    _scan(browser, "文章")

    _tab(browser, wait, "问答")  # a hostile question is shown as text
    box.send_keys('<img src=x onerror=alert(7)><a href="http://evil.example">领取</a>紫藤学习社在哪里活动？')
    browser.find_element(By.ID, "zq-send").click()
    wait.until(lambda d: "alert(7)" in d.find_element(By.ID, "zq-chat").text)
    _scan(browser, "问答 (hostile question)")

    # 备课: a lesson over the hostile document, from a topic that is itself hostile
    _tab(browser, wait, "备课")
    topic = browser.find_element(By.CSS_SELECTOR, "#zq-topic textarea, #zq-topic input")
    topic.send_keys("紫藤学习社<img src=x onerror=alert(8)>")
    browser.find_element(By.ID, "zq-make-lesson").click()
    wait.until(lambda d: "备课提纲" in d.find_element(By.ID, "zq-outline").text)
    outline = browser.find_element(By.ID, "zq-outline").text
    assert "<img src=x onerror=alert(8)>" in outline and "点此领取党费补贴" in outline
    _scan(browser, "备课")
    exported = next((hostile_server.root / "work").rglob("*.md")).read_text(encoding="utf-8")
    assert "<script" not in exported and "<img" not in exported and "<a " not in exported

    # 评测: a dataset whose question and reference answer carry markup
    _tab(browser, wait, "评测")
    dataset = hostile_server.root / "hostile.jsonl"
    dataset.write_text(json.dumps(HOSTILE_DATASET, ensure_ascii=False) + "\n", encoding="utf-8")
    next(b for b in browser.find_elements(By.CSS_SELECTOR, "#zq-eval-source label") if "上传" in b.text).click()
    browser.find_element(By.CSS_SELECTOR, "#zq-eval-upload input[type=file]").send_keys(str(dataset))
    wait.until(lambda d: "hostile" in d.find_element(By.ID, "zq-eval-upload").text)  # name and suffix apart
    browser.find_element(By.ID, "zq-run-eval").click()
    wait.until(lambda d: "完成" in d.find_element(By.ID, "zq-eval-status").text)
    assert "onerror=alert(6)" in browser.find_element(By.ID, "zq-eval-results").text
    _scan(browser, "评测")

    hosts = {urlparse(u).netloc for u in _requested_urls(browser) if urlparse(u).scheme in ("http", "https")}
    assert hosts == {urlparse(hostile_server.url).netloc}, hosts


def test_a_malformed_eval_upload_lists_its_problems_with_line_numbers(browser, ui_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(ui_server.url)
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    _tab(browser, wait, "评测")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x1", "question": ""}\nnot json\n', encoding="utf-8")
    next(b for b in browser.find_elements(By.CSS_SELECTOR, "#zq-eval-source label") if "上传" in b.text).click()
    browser.find_element(By.ID, "zq-run-eval").click()  # nothing uploaded yet
    wait.until(lambda d: "请先上传" in d.find_element(By.ID, "zq-eval-error").text)
    browser.find_element(By.CSS_SELECTOR, "#zq-eval-upload input[type=file]").send_keys(str(bad))
    wait.until(lambda d: "bad" in d.find_element(By.ID, "zq-eval-upload").text)
    browser.find_element(By.ID, "zq-run-eval").click()
    wait.until(lambda d: "评测数据集有问题" in d.find_element(By.ID, "zq-eval-error").text)
    problems = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#zq-eval-error li")]
    assert "line 2: invalid JSON" in "\n".join(problems) and "line 1:" in problems[0], problems
    assert "Error" not in browser.find_element(By.ID, "zq-eval-status").text


LIBRARY_DOC = """# 青松书院开放指南

作者：李明

青松书院是社区党群服务中心开设的公益书房，每周二和周六上午九点至十二点向居民开放。

## 借阅规则

青松书院每人每次可以借阅三本图书，借期为二十一天，可续借一次。
"""
LIBRARY_QUESTION = "青松书院每人每次可以借阅几本图书？"


def _ask(driver, wait, question: str, expect: str) -> str:
    from selenium.webdriver.common.by import By

    before = driver.find_element(By.ID, "zq-chat").text
    box = driver.find_element(By.CSS_SELECTOR, QUESTION_BOX)
    box.send_keys(question)
    driver.find_element(By.ID, "zq-send").click()
    wait.until(lambda d: d.find_element(By.ID, "zq-chat").text != before
               and expect in d.find_element(By.ID, "zq-chat").text.split(question)[-1])
    return driver.find_element(By.ID, "zq-chat").text.split(question)[-1]


def test_library_tab_uploads_checks_ingests_and_removes_a_document(browser, hostile_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(hostile_server.url)
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    wait.until(lambda d: d.find_element(By.ID, "zq-status").text.strip() == "")
    assert "未作答" in _ask(browser, wait, LIBRARY_QUESTION, "未作答"), "not in the knowledge base yet"

    _tab(browser, wait, "资料库")
    wait.until(lambda d: "hostile" in d.find_element(By.ID, "zq-kb-table").text)  # the sources are listed
    doc = hostile_server.root / "青松书院.md"
    doc.write_text(LIBRARY_DOC, encoding="utf-8")
    browser.find_element(By.CSS_SELECTOR, "#zq-kb-upload input[type=file]").send_keys(str(doc))
    wait.until(lambda d: "青松书院" in d.find_element(By.ID, "zq-kb-upload").text)
    browser.find_element(By.ID, "zq-kb-check").click()
    wait.until(lambda d: "识别出的文章" in d.find_element(By.ID, "zq-kb-report").text)
    report = browser.find_element(By.ID, "zq-kb-report").text
    assert "青松书院开放指南" in report and "知识库尚未改动" in report
    assert "青松书院" not in browser.find_element(By.ID, "zq-kb-table").text  # nothing changed yet
    wait.until(EC.element_to_be_clickable((By.ID, "zq-kb-confirm"))).click()
    wait.until(lambda d: "索引已更新" in d.find_element(By.ID, "zq-kb-status").text)
    assert "已导入" in browser.find_element(By.ID, "zq-kb-status").text
    wait.until(lambda d: "青松书院" in d.find_element(By.ID, "zq-kb-table").text)
    browser.save_screenshot(str(hostile_server.root / "library.png"))

    _tab(browser, wait, "问答")
    answer = _ask(browser, wait, LIBRARY_QUESTION, "引用来源")  # the citation list ends a finished answer
    assert "三本" in answer and "青松书院开放指南" in answer, "the answer cites the uploaded document"

    _tab(browser, wait, "资料库")
    browser.find_element(By.CSS_SELECTOR, "#zq-kb-pick input").click()
    option = wait.until(lambda d: next((li for li in d.find_elements(By.CSS_SELECTOR, "#zq-kb-pick li, "
                                                                     "ul[role=listbox] li")
                                        if "青松书院" in li.text), None))
    option.click()
    browser.find_element(By.ID, "zq-kb-remove").click()
    wait.until(lambda d: "已删除" in d.find_element(By.ID, "zq-kb-status").text
               and "索引已更新" in d.find_element(By.ID, "zq-kb-status").text)
    assert "青松书院" not in browser.find_element(By.ID, "zq-kb-table").text
    _tab(browser, wait, "问答")
    assert "未作答" in _ask(browser, wait, LIBRARY_QUESTION, "未作答"), "refused again once removed"


@pytest.mark.parametrize("admins, visible", [((), False), (("reader",), True)])
def test_with_a_login_only_administrators_see_the_library_tab(browser, ui_server, admins, visible):
    from conftest import free_port
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from zhibu_qa.app.ui import build_app, launch

    settings = ui_server.settings.replace(port=free_port(), auth_user="reader", auth_password="pw-123456",
                                          admin_users=admins)
    demo = build_app(ui_server.pipeline, settings, ui_server.startup, ui_server.work_dir, ui_server.answers)
    server = launch(demo, settings, ui_server.work_dir, pipeline=ui_server.pipeline, startup=ui_server.startup,
                    answers=ui_server.answers, block=False)
    try:
        wait = WebDriverWait(browser, WAIT_S)
        browser.get(server.url)
        user = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "input[type=text], input:not([type])")))
        user.send_keys("reader")
        browser.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys("pw-123456" + Keys.ENTER)
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
        wait.until(lambda d: "文章" in [b.text for b in d.find_elements(By.CSS_SELECTOR, "[role=tab]")])
        if visible:
            wait.until(lambda d: "资料库" in [b.text for b in d.find_elements(By.CSS_SELECTOR, "[role=tab]")])
        else:
            wait.until(lambda d: d.find_element(By.ID, "zq-status").text.strip() == "")  # the load event ran
            assert "资料库" not in [b.text for b in browser.find_elements(By.CSS_SELECTOR, "[role=tab]")]
            assert not browser.find_elements(By.ID, "zq-kb-upload")
    finally:
        server.close()
