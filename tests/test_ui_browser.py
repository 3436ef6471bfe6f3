"""The web chat, driven in Debian's Chromium as a person would use it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.pipeline import run_ingest
from ingest.settings import Settings

from .conftest import CORPUS, ROOT, free_port

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`report-qa serve` on a free port, over its own copy of the corpus and index."""
    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, data_dir=root / "data", embedding_model="none", _env_file=None)
    run_ingest(settings)
    port = free_port()
    env = {**os.environ, "CORPUS_DIR": str(corpus), "DATA_DIR": str(root / "data"), "EMBEDDING_MODEL": "none",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 60:
                proc.kill()
                pytest.fail(f"serve did not start: {proc.stdout.read()}")
            time.sleep(0.2)
    startup = time.perf_counter() - t0
    yield {"url": url, "startup": startup, "settings": settings, "corpus": corpus}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def page(server, tmp_path, request):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (bash .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        pg.set_default_timeout(20_000)
        external = []
        pg.on("request", lambda r: external.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        pg.goto(server["url"])
        pg.wait_for_selector("#question textarea")
        pg.external = external
        yield pg
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            pg.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"screenshot: {tmp_path / 'failure.png'}")
        browser.close()


def ask(page, question: str) -> None:
    before = page.locator("#chat .message-row, #chat [data-testid='bot']").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(n) => document.querySelectorAll(\"#chat .message-row, #chat [data-testid='bot']\").length > n", arg=before)


def last_bot_text(page) -> str:
    return page.locator("#chat [data-testid='bot']").last.inner_text()


def chip(page, section: str):
    """The citation chip for `section` under the latest answer, once it has appeared."""
    c = page.locator("#chat [data-testid='bot']").last.locator("a.cite-chip", has_text=f"§{section}")
    c.wait_for()
    return c


def wait_for_panel(page, heading: str) -> None:
    page.wait_for_function("(h) => document.querySelector('#section-panel').innerText.includes(h)", arg=heading)


def test_startup_is_fast(server):
    assert server["startup"] <= 15, f"startup took {server['startup']:.1f} s"


def test_chinese_question_chip_opens_section(page):
    ask(page, "InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
    c = chip(page, "2.1")
    assert "53%" in last_bot_text(page)
    c.click()
    panel = page.locator("#section-panel")
    wait_for_panel(page, "§2.1 InternEvo")
    assert panel.locator("mark").count() >= 1  # the supporting passage is highlighted
    assert "53%" in panel.locator("mark").first.inner_text()
    assert page.external == [], page.external


def test_english_question_and_toc(page):
    ask(page, "What learning rate did SFT use?")
    c = chip(page, "4.1")
    assert "4e-5" in last_bot_text(page)
    c.click()
    wait_for_panel(page, "§4.1 监督微调")
    # the table of contents opens any section in the same panel
    page.locator("#toc input").click()
    page.locator("[data-testid='dropdown-option']", has_text="§5.2.6").first.click()
    wait_for_panel(page, "§5.2.6 长上下文建模")
    assert page.locator("#section-panel table").count() >= 1  # Table 15 renders as a table


def test_out_of_scope_notice_and_clear(page):
    ask(page, "今天北京天气怎么样？")
    page.wait_for_function("() => document.querySelector('#notice').innerText.includes('报告未涉及')")
    assert page.locator("#chat [data-testid='bot']").last.locator("a.cite-chip").count() == 0
    page.click("#clear")
    page.wait_for_function("() => document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")


def test_status_line_and_live_index_switch(page, server):
    status = page.locator("#status")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('索引版本')")
    assert "仅关键词检索" in status.inner_text() and "原文摘录" in status.inner_text()
    old = status.inner_text()
    # rebuild the index while the page is open: the next answer uses the new version, no restart
    conclusion = server["corpus"] / "06-conclusion.md"
    conclusion.write_text(conclusion.read_text(encoding="utf-8") + "\n补充：LIVESWITCH 测试句。\n", encoding="utf-8")
    report = run_ingest(server["settings"])
    ask(page, "LIVESWITCH")
    page.wait_for_function("(v) => document.querySelector('#status').innerText.includes(v)", arg=report.version)
    assert report.version not in old
    chip(page, "6")
