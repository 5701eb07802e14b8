"""Screenshots of the web UI tabs (docs/screenshot-*.png) and the time until the page is usable.

Launches the real app on 127.0.0.1, drives headless Chromium (network cut off) through 问答 (ask,
open a citation), 文章 (deep link from the citation), 备课 (an outline), 评测 (a small run) and
资料库 (the validation report of an upload, not confirmed: the index is left as it was), and saves
PNGs shrunk to a palette so each stays well under 300 KB.

    PYTHONPATH=src .venv/bin/python benchmarks/screenshots.py [--index-dir index] [--out docs]

Needs /usr/bin/chromium, /usr/bin/chromedriver and selenium (the dev extra).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "和平区下放给街道的“五权”是哪五项？"
MAX_BYTES = 300_000
QUESTION_BOX = "#zq-question textarea, #zq-question input"


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1366,1300", "--lang=zh-CN",
                f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    # Gradio's own labels (upload box, buttons) follow the browser language
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def save(driver, path: Path) -> None:
    """Save a screenshot, re-encoded as a 256-colour PNG when it would be over MAX_BYTES."""
    from PIL import Image

    driver.save_screenshot(str(path))
    if path.stat().st_size > MAX_BYTES:
        Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default=str(ROOT / "index"))
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--eval-limit", type=int, default=8)
    ap.add_argument("--startup-shot", help="also save the page as it looks while the index is built")
    args = ap.parse_args()

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from zhibu_qa.app.ui import create_app, launch
    from zhibu_qa.config import load_settings

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings(index_dir=args.index_dir, port=7871,
                             feedback_path=str(Path(tempfile.mkdtemp()) / "feedback.jsonl"))
    t0 = time.perf_counter()
    app = create_app(settings)
    startup = app.startup
    server = launch(app.demo, settings, app.work_dir, pipeline=app.pipeline, startup=startup, answers=app.answers,
                    block=False)
    url = server.url
    print(f"server up after {time.perf_counter() - t0:.1f} s")
    driver = browser(Path(tempfile.mkdtemp()) / "profile")
    wait = WebDriverWait(driver, 900)
    try:
        driver.get(url)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, QUESTION_BOX)))
        print(f"page loaded after {time.perf_counter() - t0:.1f} s; banner: "
              f"{driver.find_element(By.ID, 'zq-status').text.strip()[:60]!r}")
        if not startup.ready and args.startup_shot:
            save(driver, Path(args.startup_shot))
        wait.until(lambda d: startup.ready and d.find_element(By.ID, "zq-status").text.strip() == "")
        print(f"page usable after {time.perf_counter() - t0:.1f} s (startup {startup.seconds:.1f} s)")

        driver.find_element(By.CSS_SELECTOR, QUESTION_BOX).send_keys(QUESTION)
        driver.find_element(By.ID, "zq-send").click()
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-cites label"))).click()
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-passage mark")))
        driver.execute_script("document.getElementById('zq-chat').scrollIntoView({block: 'start'})")
        save(driver, out / "screenshot-chat.png")

        driver.find_element(By.ID, "zq-goto").click()
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#zq-article-view #zq-target")))
        time.sleep(1)
        driver.execute_script("window.scrollTo(0, 0)")
        save(driver, out / "screenshot-reader.png")

        driver.find_elements(By.CSS_SELECTOR, "[role=tab]")[2].click()
        topic = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-topic textarea, #zq-topic input")))
        topic.send_keys("为基层减负")
        driver.find_element(By.ID, "zq-make-lesson").click()
        wait.until(lambda d: "讨论题" in d.find_element(By.ID, "zq-outline").text)
        save(driver, out / "screenshot-lesson.png")

        driver.find_elements(By.CSS_SELECTOR, "[role=tab]")[3].click()
        limit = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#zq-eval-limit input")))
        limit.clear()
        limit.send_keys(str(args.eval_limit))
        driver.find_element(By.ID, "zq-run-eval").click()
        wait.until(lambda d: d.find_element(By.ID, "zq-eval-status").text.strip()
                   or d.find_elements(By.CSS_SELECTOR, "#zq-eval-error .zq-error"))
        time.sleep(1)
        driver.execute_script("document.getElementById('zq-run-eval').scrollIntoView({block: 'start'})")
        save(driver, out / "screenshot-eval.png")

        driver.find_elements(By.CSS_SELECTOR, "[role=tab]")[4].click()
        upload = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#zq-kb-upload input[type=file]")))
        upload.send_keys(str(ROOT / "tests" / "fixtures" / "branch-guide.md"))
        wait.until(lambda d: "branch" in d.find_element(By.ID, "zq-kb-upload").text)
        driver.find_element(By.ID, "zq-kb-check").click()
        wait.until(lambda d: "识别出的文章" in d.find_element(By.ID, "zq-kb-report").text)
        time.sleep(1)
        save(driver, out / "screenshot-library.png")
    finally:
        driver.quit()
        server.close()


if __name__ == "__main__":
    main()
