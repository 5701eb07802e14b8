"""A real headless Chromium drives the app: ask, watch the answer arrive, open a citation's quote.

The browser runs with the network cut off (every host but 127.0.0.1 resolves to nothing) and a
fresh profile, so the page must work offline; its request log must show no other host.
Skipped when Chromium or chromedriver is not installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
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
    assert "【1】" in browser.find_element(By.ID, "zq-chat").text  # numbered citations under the answer
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
    wait.until(lambda d: "未作答" in d.find_element(By.ID, "zq-chat").text)
    assert "可以先读读这些文章" in browser.find_element(By.ID, "zq-chat").text
