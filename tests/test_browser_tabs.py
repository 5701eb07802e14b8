"""The 评测 and 备课 tabs in a real headless Chromium: a long run stopped by 停止评测, a quick run
whose metrics include refusal and whose questions open in the drill-down, and a lesson on a barely
covered topic that says so.

Uses the browser fixture and helpers of test_browser.py; skipped without Chromium.
"""

from __future__ import annotations

import re

import pytest
from test_browser import QUESTION_BOX, WAIT_S, _tab, browser  # noqa: F401 (browser is a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.browser]


SCROLL_DOWN = """const root = document.getElementById(arguments[0]);
for (const el of root.querySelectorAll('*')) if (el.scrollHeight > el.clientHeight + 4) el.scrollTop = el.scrollHeight;"""


def _open_eval_tab(driver, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(url)
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    wait.until(lambda d: d.find_element(By.ID, "zq-status").text.strip() == "")
    _tab(driver, wait, "评测")
    return wait


def _set_limit(driver, wait, n: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC

    box = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-eval-limit input")))
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(n), Keys.TAB)


def test_stop_button_really_stops_a_long_run(browser, ui_server, monkeypatch):  # noqa: F811
    import time

    from selenium.webdriver.common.by import By

    ask = ui_server.pipeline.ask

    def slow_ask(*args, **kw):  # a warm pipeline answers the whole set in seconds: keep the run long
        time.sleep(0.3)
        return ask(*args, **kw)

    monkeypatch.setattr(ui_server.pipeline, "ask", slow_ask)

    wait = _open_eval_tab(browser, ui_server.url)
    browser.find_element(By.ID, "zq-cancel-eval").click()  # nothing running yet
    wait.until(lambda d: "没有进行中的评测" in d.find_element(By.ID, "zq-eval-status").text)
    _set_limit(browser, wait, 0)  # the whole dataset: minutes of work
    runs_before = set(ui_server.work_dir.glob("eval/*"))
    browser.find_element(By.ID, "zq-run-eval").click()
    wait.until(lambda d: re.search(r"\d+\s*/\s*185", d.find_element(By.TAG_NAME, "body").text))  # progress shown
    browser.find_element(By.ID, "zq-cancel-eval").click()
    wait.until(lambda d: "已停止" in d.find_element(By.ID, "zq-eval-status").text)
    status = browser.find_element(By.ID, "zq-eval-status").text
    done, total = map(int, re.search(r"答完 (\d+)/(\d+) 题", status).groups())
    assert total == 185 and done < total, status
    assert set(ui_server.work_dir.glob("eval/*")) == runs_before  # stopped before any report was written


def test_a_quick_run_measures_refusal_and_drills_into_each_question(browser, ui_server):  # noqa: F811
    from selenium.webdriver.common.by import By

    wait = _open_eval_tab(browser, ui_server.url)
    _set_limit(browser, wait, 8)  # one question of each of the 8 types
    browser.find_element(By.ID, "zq-run-eval").click()
    wait.until(lambda d: "完成" in d.find_element(By.ID, "zq-eval-status").text)
    assert "关键事实召回率 (key_fact_recall)" in browser.find_element(By.ID, "zq-eval-metrics").text
    browser.execute_script(SCROLL_DOWN, "zq-eval-metrics")  # the table renders only the rows in view
    wait.until(lambda d: "(false_refusal_rate)" in d.find_element(By.ID, "zq-eval-metrics").text)
    metrics = browser.find_element(By.ID, "zq-eval-metrics").text
    for key in ("refusal_recall", "false_refusal_rate"):  # measured: the sample holds unanswerable questions
        value = re.search(rf"\({key}\)\s+(\S+)", metrics).group(1)
        assert re.fullmatch(r"\d\.\d{3}", value), (key, value)
    detail = browser.find_element(By.ID, "zq-eval-detail")
    wait.until(lambda d: "关键事实" in detail.text)
    for label in ("问题", "参考答案", "回答", "引用", "问题所在"):
        assert label in detail.text
    assert browser.find_elements(By.CSS_SELECTOR, "#zq-eval-detail li.zq-hit, #zq-eval-detail li.zq-miss")
    first = detail.text
    grid = browser.find_element(By.CSS_SELECTOR, "#zq-eval-results [role=grid]")
    assert grid.get_attribute("aria-rowcount") == "9"  # a header and the 8 questions
    last = browser.find_element(By.CSS_SELECTOR, "#zq-eval-results [data-testid='cell-7-0']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", last)
    last_id = last.text.strip()
    last.click()  # another question opens in the drill-down
    wait.until(lambda d: d.find_element(By.ID, "zq-eval-detail").text != first)
    assert last_id and last_id in browser.find_element(By.ID, "zq-eval-detail").text


def test_lesson_tab_warns_when_the_topic_is_barely_covered(browser, ui_server):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(ui_server.url)
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, QUESTION_BOX)))
    _tab(browser, wait, "备课")
    topic = browser.find_element(By.CSS_SELECTOR, "#zq-topic textarea, #zq-topic input")
    topic.send_keys("海员培养")
    browser.find_element(By.ID, "zq-make-lesson").click()
    wait.until(lambda d: "备课提纲：海员培养" in d.find_element(By.ID, "zq-outline").text)
    assert "知识库中与该主题相关的内容较少" in browser.find_element(By.ID, "zq-lesson-notice").text
    assert "主题：海员培养" in browser.find_element(By.ID, "zq-outline").text
    assert browser.find_element(By.ID, "zq-lesson-docx").is_displayed()
    topic.clear()
    topic.send_keys("为基层减负")  # a well covered topic: the warning goes away
    browser.find_element(By.ID, "zq-make-lesson").click()
    wait.until(lambda d: "备课提纲：为基层减负" in d.find_element(By.ID, "zq-outline").text)
    assert browser.find_element(By.ID, "zq-lesson-notice").text.strip() == ""
