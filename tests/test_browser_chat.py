"""Headless Chromium on the real app: clickable citations, shareable links, the reader's search and
the chat conveniences (follow-up note and suggestions, stop, regenerate, edit, counter, Chinese
Gradio strings in an English browser).

Set ZHIBU_SCREENSHOTS=docs to save docs/screenshot-citations.png and docs/screenshot-chat.png from
the run (otherwise they go to the test's temp folder). Skipped without Chromium/chromedriver.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, quote, urlparse

import pytest
from test_browser import ALERT_HOOK, CHROMEDRIVER, CHROMIUM, QUESTION_BOX, WAIT_S, _binary, _scan, _tab

pytestmark = [pytest.mark.integration, pytest.mark.browser]

HEDONG = "河东区清理了多少块外部牌子？"
FIVE_POWERS = "和平区下放给街道的“五权”是哪五项？"
FOLLOW_UP = "这些权力是怎么落实的？"
MAX_SHOT_BYTES = 300_000


def _chrome(tmp_path: Path, lang: str):
    """Headless Chromium with the network cut off, in the browser language `lang`."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _binary(CHROMIUM, "chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1366,1000", f"--lang={lang}",
                f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": f"{lang},{lang.split('-')[0]}"})
    return webdriver.Chrome(service=Service(_binary(CHROMEDRIVER, "chromedriver")), options=options)


@pytest.fixture
def browser(tmp_path):
    driver = _chrome(tmp_path, "zh-CN")
    yield driver
    driver.quit()


@pytest.fixture
def english_browser(tmp_path):
    driver = _chrome(tmp_path, "en-US")
    yield driver
    driver.quit()


def _shot(driver, tmp_path: Path, name: str) -> Path:
    """Save a screenshot under $ZHIBU_SCREENSHOTS (e.g. docs) or tmp_path, as a palette PNG if large."""
    folder = Path(os.environ.get("ZHIBU_SCREENSHOTS") or tmp_path)
    path = folder / name
    driver.save_screenshot(str(path))
    if path.stat().st_size > MAX_SHOT_BYTES:
        from PIL import Image

        Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path


def _ui():
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return By, EC, WebDriverWait


def _open(driver, url: str):
    """Load `url` and wait until the app is ready (the question box exists, the banner is gone)."""
    By, EC, WebDriverWait = _ui()
    wait = WebDriverWait(driver, WAIT_S)
    driver.get(url)
    box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, QUESTION_BOX)))
    wait.until(lambda d: d.find_elements(By.ID, "zq-status") and d.find_element(By.ID, "zq-status").text.strip() == "")
    return wait, box


def _chat(driver) -> str:
    By, _, _ = _ui()
    return driver.find_element(By.ID, "zq-chat").text


def _idle(driver) -> bool:
    """No answer is being generated (the stop button is shown only while one is)."""
    By, _, _ = _ui()
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        return not [e for e in driver.find_elements(By.ID, "zq-stop") if e.is_displayed()]
    except StaleElementReferenceException:  # re-rendered between finding and asking: look again
        return False


def _ask(driver, wait, box, question: str, expect: str) -> None:
    By, EC, _ = _ui()
    wait.until(EC.element_to_be_clickable(box))
    box.send_keys(question)
    driver.find_element(By.ID, "zq-send").click()
    wait.until(lambda d: expect in _chat(d).split(question)[-1] and _idle(d))


def _flat(text: str) -> str:
    return "".join(text.split())


def _selected_tab(driver) -> str:
    By, _, _ = _ui()
    return next(b.text for b in driver.find_elements(By.CSS_SELECTOR, "[role=tab]")
                if b.get_attribute("aria-selected") == "true")


def test_a_citation_marker_shows_its_quote_on_hover_and_opens_it_in_the_reader(browser, ui_server, tmp_path):
    By, EC, _ = _ui()
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_HOOK})
    wait, box = _open(browser, ui_server.url)
    _ask(browser, wait, box, HEDONG, "169")
    marker = browser.find_element(By.CSS_SELECTOR, "#zq-chat a.zq-cite")
    assert marker.text == "[1]"
    assert "169" in marker.get_attribute("title") and marker.get_attribute("title").startswith("【1】")
    hits = browser.find_element(By.ID, "zq-hits")
    assert "第 1 名" in hits.text and hits.find_elements(By.CSS_SELECTOR, ".zq-relbar")
    raw = hits.find_element(By.CSS_SELECTOR, "details.zq-score")  # raw scores only inside a closed detail
    assert raw.get_attribute("open") is None and "综合" in raw.get_attribute("textContent")
    _scan(browser, "问答 with linked citations")

    marker.click()
    mark = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-article-view #zq-target mark")))
    assert "169" in mark.text and _selected_tab(browser) == "文章"
    params = parse_qs(urlparse(browser.current_url).query)
    assert params["article"] and int(params["end"][0]) > int(params["start"][0])  # the address is the view
    _shot(browser, tmp_path, "screenshot-citations.png")

    browser.get(browser.current_url)  # the same address in a fresh page shows the same quote
    mark = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-article-view #zq-target mark")))
    assert "169" in mark.text and _selected_tab(browser) == "文章"


def test_a_section_link_restores_the_article_and_section_and_the_toc_updates_the_address(browser, ui_server):
    By, EC, _ = _ui()
    art = next(a for a in ui_server.pipeline.catalogue.articles if sum(1 for s in a.sections if s.heading) >= 3)
    second = next(i for i, s in enumerate(art.sections) if s.heading and i > 1)
    wait, _ = _open(browser, f"{ui_server.url}?article={art.id}&section={second}")
    focus = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#zq-article-view #zq-focus")))
    assert focus.text == art.sections[second].heading and _selected_tab(browser) == "文章"
    assert art.title in browser.find_element(By.ID, "zq-article-view").text

    toc = browser.find_elements(By.CSS_SELECTOR, "#zq-article-view .zq-toc a")
    toc[0].click()  # the first headed section, opened in place
    wait.until(lambda d: parse_qs(urlparse(d.current_url).query).get("section") not in (None, [str(second)]))
    first = next(i for i, s in enumerate(art.sections) if s.heading)
    assert parse_qs(urlparse(browser.current_url).query)["section"] == [str(first)]
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#zq-article-view #zq-focus").text
               == art.sections[first].heading)

    browser.back()  # the browser's back button returns to the previous section
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#zq-article-view #zq-focus").text
               == art.sections[second].heading)


def test_a_question_link_asks_it_and_the_reader_search_finds_titles_and_authors(browser, ui_server):
    By, EC, _ = _ui()
    wait, _ = _open(browser, f"{ui_server.url}?q={quote(FIVE_POWERS)}")
    wait.until(lambda d: "吹哨调度权" in _chat(d))
    assert FIVE_POWERS in _chat(browser) and _selected_tab(browser) == "问答"

    _tab(browser, wait, "文章")
    author_article = next(a for a in ui_server.pipeline.catalogue.articles if a.authors)
    search = browser.find_element(By.CSS_SELECTOR, "#zq-reader-search textarea, #zq-reader-search input")
    search.send_keys(author_article.authors[0])
    others = [a.title for a in ui_server.pipeline.catalogue.articles if author_article.authors[0] not in a.authors]
    wait.until(lambda d: author_article.title in d.find_element(By.ID, "zq-table").text
               and others[0] not in d.find_element(By.ID, "zq-table").text)
    row = next(td for td in browser.find_elements(By.CSS_SELECTOR, "#zq-table [role=gridcell]")
               if _flat(td.text) == _flat(author_article.title))
    row.click()  # opened at its top: the title carries the focus
    title = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#zq-article-view h2#zq-focus")))
    assert _flat(title.text) == _flat(author_article.title)
    assert parse_qs(urlparse(browser.current_url).query) == {"article": [author_article.id]}


def test_a_refusal_links_its_suggested_articles_to_the_reader(browser, ui_server):
    By, EC, _ = _ui()
    wait, box = _open(browser, ui_server.url)
    _ask(browser, wait, box, "2030年奥运会在哪里举办？", "可以先读读这些文章")
    link = browser.find_element(By.CSS_SELECTOR, "#zq-chat a.zq-suggest")
    title = link.text.strip("《》")
    link.click()
    heading = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#zq-article-view h2#zq-focus")))
    assert _flat(heading.text) == _flat(title) and _selected_tab(browser) == "文章"


def test_a_follow_up_shows_how_it_was_understood_and_suggests_questions_that_ask(browser, ui_server, tmp_path):
    By, EC, _ = _ui()
    wait, box = _open(browser, ui_server.url)
    _ask(browser, wait, box, FIVE_POWERS, "吹哨调度权")
    assert not browser.find_elements(By.CSS_SELECTOR, "#zq-chat .zq-rewritten"), "a first question is not rewritten"
    _ask(browser, wait, box, FOLLOW_UP, "引用来源")
    note = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-chat .zq-rewritten")))
    assert note.text.startswith("按上下文理解为：") and "五权" in note.text
    follow = [b for b in browser.find_elements(By.CSS_SELECTOR, ".zq-followup") if b.is_displayed()]
    assert 2 <= len(follow) <= 3 and all("一节讲了什么" in b.text for b in follow)
    _shot(browser, tmp_path, "screenshot-chat.png")

    question = follow[0].text
    follow[0].click()  # asks it
    wait.until(lambda d: question in _chat(d) and "引用来源" in _chat(d).split(question)[-1] and _idle(d))
    assert "未作答" not in _chat(browser).split(question)[-1]


def test_the_counter_warns_at_the_question_length_limit(browser, ui_server):
    By, _, _ = _ui()
    wait, box = _open(browser, ui_server.url)
    browser.find_element(By.ID, "zq-regenerate").click()  # nothing to regenerate yet: said, nothing asked
    wait.until(lambda d: "还没有可以重新生成的回答" in d.find_element(By.ID, "zq-chat-error").text)
    assert "正在检索" not in _chat(browser)
    limit = ui_server.settings.max_question_chars
    box.send_keys("问" * 20)
    wait.until(lambda d: d.find_element(By.ID, "zq-count").text == f"20 / {limit}")
    box.send_keys("问" * (limit + 10 - 20))  # typing stops at the limit
    wait.until(lambda d: "已达上限" in d.find_element(By.ID, "zq-count").text)
    assert browser.find_element(By.ID, "zq-count").text.startswith(f"{limit} / {limit}")


class SlowPipeline:
    """The real pipeline with a pause before each streamed event, so a stop click lands mid-answer."""

    def __init__(self, pipeline, pause_s: float):
        self._pipeline, self._pause = pipeline, pause_s

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def stream(self, *args, **kwargs):
        for event in self._pipeline.stream(*args, **kwargs):
            time.sleep(self._pause)
            yield event


@pytest.fixture(scope="module")
def slow_server(ui_server):
    from conftest import free_port

    from zhibu_qa.app.ui import build_app, launch

    settings = ui_server.settings.replace(port=free_port())
    pipe = SlowPipeline(ui_server.pipeline, 1.5)
    demo = build_app(pipe, settings, ui_server.startup, ui_server.work_dir, ui_server.answers)
    server = launch(demo, settings, ui_server.work_dir, pipeline=pipe, startup=ui_server.startup,
                    answers=ui_server.answers, block=False)
    yield SimpleNamespace(url=server.url)
    server.close()


def test_stop_puts_the_question_back_and_regenerate_replaces_the_last_answer(browser, slow_server):
    By, EC, _ = _ui()
    wait, box = _open(browser, slow_server.url)
    _ask(browser, wait, box, HEDONG, "169")
    box.send_keys(FIVE_POWERS)
    browser.find_element(By.ID, "zq-send").click()
    wait.until(EC.element_to_be_clickable((By.ID, "zq-stop"))).click()
    wait.until(lambda d: "已停止" in d.find_element(By.ID, "zq-chat-error").text and _idle(d))
    assert box.get_attribute("value") == FIVE_POWERS
    time.sleep(2 * 1.5)  # a cancelled answer must not arrive late
    assert FIVE_POWERS not in _chat(browser) and "169" in _chat(browser)

    box.clear()
    browser.find_element(By.ID, "zq-regenerate").click()  # the last answer again, not a new turn
    assert "还没有" not in browser.find_element(By.ID, "zq-chat-error").text
    wait.until(lambda d: not _idle(d))
    wait.until(lambda d: _idle(d) and "169" in _chat(d))
    assert _chat(browser).count(HEDONG) == 1 and _chat(browser).count("引用来源") == 1


def test_editing_the_last_question_answers_the_edited_one(browser, ui_server):
    By, EC, _ = _ui()
    wait, box = _open(browser, ui_server.url)
    _ask(browser, wait, box, HEDONG, "169")
    edit = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#zq-chat button")
                if b.get_attribute("aria-label") == "编辑")
    edit.click()
    field = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-chat textarea")))
    field.clear()
    field.send_keys("编辑部电话是多少？")
    confirm = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#zq-chat button")
                   if b.get_attribute("aria-label") == "发送")
    confirm.click()
    wait.until(lambda d: "022-23020102" in _chat(d) and _idle(d))
    assert HEDONG not in _chat(browser), "the edited question replaces the old turn"

    undo = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#zq-chat button")
                if b.get_attribute("aria-label") == "撤销")
    undo.click()  # the turn is taken back and its question returns to the box
    wait.until(lambda d: "022-23020102" not in _chat(d))
    assert box.get_attribute("value") == "编辑部电话是多少？"


def test_gradio_own_strings_are_chinese_in_an_english_browser(english_browser, ui_server):
    By, _, _ = _ui()
    assert english_browser.execute_script("return navigator.language").startswith("en")
    wait, box = _open(english_browser, ui_server.url)
    _ask(english_browser, wait, box, HEDONG, "169")
    labels = {b.get_attribute("aria-label") for b in english_browser.find_elements(By.CSS_SELECTOR, "#zq-chat button")}
    assert {"重试", "撤销", "编辑"} <= labels, labels
    assert not {"Retry", "Undo", "Edit"} & labels
