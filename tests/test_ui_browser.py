"""The web chat, driven in Debian's Chromium as a person would use it, at 1366×900 and at 390×844.

Screenshots of each layout are written to the test's tmp dir (and on failure); the assertions check
what a person would see: the input on the first phone screen, the section opening where the user is
looking, inline citations that open sections, the reader's links, the TOC filter, streaming, copy
and share, script-injection payloads that stay text, and /docs with no network."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from ingest.pipeline import run_ingest
from ingest.settings import Settings

from .conftest import CORPUS, ROOT, free_port
from .fake_llm import FakeLLMServer

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
GOODBYE = "Server stopped. Goodbye."
PAYLOADS = ["<img src=x onerror=alert(1)>", "<details open ontoggle=alert(2)>", '<iframe srcdoc="<script>alert(3)</script>">',
            "[x](javascript:alert(5))"]
# what must never be in the chat after hostile input: live handlers, frames, scripts, script links
DANGEROUS_JS = """() => {
  const bad = [];
  document.querySelectorAll('#chat .message-content *').forEach(el => {
    for (const a of el.attributes) if (/^on/i.test(a.name)) bad.push(el.tagName + ' ' + a.name);
    if (/^(IFRAME|SCRIPT|OBJECT|EMBED|SVG)$/i.test(el.tagName)) bad.push(el.tagName);
    if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') bad.push('img x');
    if (el.tagName === 'DETAILS') bad.push('details');
    const href = (el.getAttribute('href') || '').replace(/\\s/g, '').toLowerCase();
    if (href.startsWith('javascript:') || href.startsWith('data:')) bad.push('href ' + href);
  });
  return bad;
}"""
# before any page script: record CSP violations and every length the latest answer goes through
INIT_JS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
window.__lens = [];
new MutationObserver(() => {
  const b = [...document.querySelectorAll("#chat [data-testid='bot']")].pop();
  if (b) { const n = b.innerText.length; if (window.__lens[window.__lens.length - 1] !== n) window.__lens.push(n); }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _start(root: Path, name: str, env_extra: dict) -> dict:
    corpus = root / "corpus"
    env = {**os.environ, "CORPUS_DIR": str(corpus), "DATA_DIR": str(root / "data"), "EMBEDDING_MODEL": "none",
           "GRADIO_ANALYTICS_ENABLED": "False", **env_extra}
    port = free_port()
    log = open(root / f"{name}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-ingest"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    return {"proc": proc, "url": f"http://127.0.0.1:{port}/", "log": root / f"{name}.log", "t0": time.perf_counter()}


def _wait(s: dict) -> None:
    while True:
        try:
            urllib.request.urlopen(s["url"], timeout=1).read()
            break
        except OSError:
            if s["proc"].poll() is not None or time.perf_counter() - s["t0"] > 60:
                s["proc"].kill()
                pytest.fail(f"serve did not start: {s['log'].read_text()}")
            time.sleep(0.2)
    s["startup"] = time.perf_counter() - s["t0"]


def _stop(s: dict) -> None:
    if s["proc"].poll() is None:
        s["proc"].terminate()
        try:
            s["proc"].wait(timeout=20)
        except subprocess.TimeoutExpired:
            s["proc"].kill()


_PW: dict = {}  # one Chromium for the module (tests/test_ui_chips_browser.py reuses these fixtures)


def _browser():
    if "browser" not in _PW:
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (bash .ci/run does)")
        from playwright.sync_api import sync_playwright

        _PW["pw"] = sync_playwright().start()
        _PW["browser"] = _PW["pw"].chromium.launch(executable_path=CHROMIUM, args=ARGS)
    return _PW["browser"]


def _close_browser() -> None:
    if "browser" in _PW:
        _PW.pop("browser").close()
        _PW.pop("pw").stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """`report-qa serve` on a free port, over its own copy of the corpus and index (extractive answers).
    In this module a second server in LLM mode starts once the first is up (see `llm_server`)."""
    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, data_dir=root / "data", embedding_model="none", _env_file=None)
    run_ingest(settings)
    s = _start(root, "serve", {})
    _wait(s)
    fake = llm = None
    if request.module.__name__ == __name__:  # it boots while the first tests run
        fake = FakeLLMServer(free_port()).__enter__()
        llm = _start(root, "serve-llm", {"LLM_BASE_URL": fake.url, "LLM_MODEL": "hostile", "LLM_API_KEY": "x"})
    yield {**s, "settings": settings, "corpus": corpus, "root": root, "llm": llm}
    _close_browser()
    _stop(s)
    if llm:
        _stop(llm)
        fake.__exit__(None, None, None)


@pytest.fixture
def llm_server(server):
    """A second server over the same index whose LLM (tests/fake_llm.py, model "hostile") answers
    with script-injection payloads around a valid citation."""
    _wait(server["llm"])
    return server["llm"]


def _new_page(viewport: dict, **kw):
    ctx = _browser().new_context(viewport=viewport, locale="zh-CN", **kw)
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    pg.add_init_script(INIT_JS)
    pg.external = []
    pg.dialogs = []
    pg.on("request", lambda r: pg.external.append(r.url)
          if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)

    def on_dialog(d):
        pg.dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    return pg


@pytest.fixture
def blank(server):
    """A desktop-sized page with nothing loaded yet."""
    pg = _new_page(DESKTOP)
    yield pg
    pg.context.close()


@pytest.fixture
def page(server):
    """The chat, freshly loaded at 1366×900."""
    pg = _new_page(DESKTOP)
    pg.goto(server["url"])
    pg.wait_for_selector("#question textarea")
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def chat(server):
    """One chat page shared by this module's desktop tests (a page load costs seconds); each test
    starts by clearing it."""
    pg = _new_page(DESKTOP)
    pg.goto(server["url"])
    pg.wait_for_selector("#question textarea")
    yield pg
    pg.context.close()


@pytest.fixture(autouse=True)
def _failure_screenshots(request, tmp_path):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "browser" in _PW:
        for i, ctx in enumerate(_PW["browser"].contexts):
            for j, pg in enumerate(ctx.pages):
                pg.screenshot(path=str(tmp_path / f"failure-{i}-{j}.png"), full_page=True)
        print(f"screenshots: {tmp_path}")


def fresh(page) -> None:
    """Clear the conversation and the TOC filter of the shared page."""
    page.click("#clear")
    page.wait_for_function("() => document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")
    page.locator("#toc-filter textarea, #toc-filter input").first.fill("")


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


def wait_done(page, quiet: float = 0.4) -> None:
    """Until the latest answer has stopped changing (a new question is ignored while one is running)."""
    last, since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < 20:
        text = last_bot_text(page)
        if text != last:
            last, since = text, time.monotonic()
        elif text.strip() not in ("", "…") and time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)
    pytest.fail(f"the answer did not settle: {last!r}")


def wait_for_panel(page, heading: str) -> None:
    page.wait_for_function("(h) => document.querySelector('#section-panel').innerText.includes(h)", arg=heading)


def wait_for_heading(page, heading: str) -> None:
    """Until the reader shows the section whose heading starts with `heading`."""
    page.wait_for_function(
        "(h) => { const e = document.querySelector('#section-panel h3'); return e && e.innerText.startsWith(h); }",
        arg=heading)


def toc_link(page, number: str):
    return page.locator(f'#toc a[href="#sec-{number}"]')


def shot(page, tmp_path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"))


def test_startup_is_fast(server):
    assert server["startup"] <= 15, f"startup took {server['startup']:.1f} s"


def test_csp_answer_streams_and_inline_citation_opens_section(chat, server, tmp_path):
    page = chat
    csp = urllib.request.urlopen(server["url"], timeout=5).headers["Content-Security-Policy"]
    script_src = csp.split("script-src")[1].split(";")[0]
    assert "'self' 'sha256-" in script_src and "unsafe-inline" not in script_src and "unsafe-eval" not in csp
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('索引版本')")
    assert page.evaluate("() => window.__csp") == []  # the page's own scripts all run under the policy
    fresh(page)
    page.evaluate("() => { window.__lens = []; }")
    ask(page, "InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
    c = chip(page, "2.1")
    assert "53%" in last_bot_text(page)
    # the extractive answer arrived in several steps, the first long before the whole
    lens = page.evaluate("() => window.__lens")
    assert len(lens) >= 4 and lens[1] < lens[-1] / 2, lens
    # the inline [§2.1] marker in the answer text is a link that opens the section
    inline = page.locator("#chat [data-testid='bot']").last.locator("a.cite-inline", has_text="§2.1")
    inline.first.click()
    panel = page.locator("#section-panel")
    wait_for_panel(page, "§2.1 InternEvo")
    marks = panel.locator("mark").all_inner_texts()  # the passage the answer quotes is highlighted
    answer = last_bot_text(page)
    assert any(m.strip()[:12] in answer for m in marks), (marks, answer)
    assert not re.search(r"\.md:\d+", panel.inner_text()), panel.inner_text()[:200]  # no file:line for readers
    # the TOC follows: §2.1 is marked current
    assert page.locator("#toc a.current").inner_text().strip().startswith("§2.1 ")
    shot(page, tmp_path, "desktop-1366")
    c.click()  # the chip opens it too
    wait_for_panel(page, "§2.1 InternEvo")
    assert page.external == [], page.external


def test_copy_as_markdown_and_share_link(chat, server):
    page = chat
    fresh(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server["url"].rstrip("/"))
    ask(page, "What learning rate did SFT use?")
    chip(page, "4.1")
    assert "4e-5" in last_bot_text(page)
    page.locator("#chat [aria-label='Copy message']").last.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "4e-5" in copied and "[§4.1]" in copied and "来源 Sources：§4.1" in copied, copied
    assert "<" not in copied, copied  # plain Markdown, no HTML
    share = page.locator("#chat [data-testid='bot']").last.locator("a.share-link")
    href = share.get_attribute("href")
    assert href.endswith("?q=" + quote("What learning rate did SFT use?")), href
    share.click()
    assert page.evaluate("() => navigator.clipboard.readText()") == href
    # the link opens the chat with the question in the box
    page.goto(href)
    page.wait_for_selector("#question textarea")
    page.wait_for_function("() => document.querySelector('#question textarea').value.includes('learning rate')")


def test_reader_links_toc_filter_tables_latex_code(chat, tmp_path):
    page = chat
    fresh(page)
    f = page.locator("#toc-filter textarea, #toc-filter input").first
    f.fill("RLHF")
    visible = [t.strip() for t in page.locator("#toc li:visible").all_inner_texts()]
    assert any(t.startswith("§4.2 ") for t in visible) and any(t.startswith("§4.2.2 ") for t in visible), visible
    assert not any(t.startswith("§5.2.4 ") for t in visible), visible
    f.fill("Downstream")  # the English title
    toc_link(page, "5.2").click()
    wait_for_heading(page, "§5.2 下游任务表现")
    panel = page.locator("#section-panel")
    subs = panel.locator("a[href^='#sec-5.2.']")
    assert subs.count() >= 7, panel.inner_text()[:300]  # the sub-sections are listed as links
    panel.locator("a[href='#sec-5.2.4']").first.click()
    wait_for_heading(page, "§5.2.4 代码")
    assert re.search(r"第 5 章\s*›\s*5\.2\s*›\s*5\.2\.4", panel.inner_text()), panel.inner_text()[:100]
    assert panel.locator("table").count() >= 1  # tables render as tables
    panel.locator("a", has_text="下一节").click()  # next
    wait_for_heading(page, "§5.2.5")
    panel.locator("a", has_text="上一节").click()  # previous
    wait_for_heading(page, "§5.2.4 代码")
    panel.locator("a[href='#sec-5.2']").first.click()  # the breadcrumb
    wait_for_heading(page, "§5.2 下游任务表现")
    f.fill("条件奖励")  # the Chinese title
    toc_link(page, "4.2.1").click()
    wait_for_heading(page, "§4.2.1 条件奖励模型")
    assert panel.locator(".katex").count() >= 1  # $$…$$ rendered by KaTeX
    f.fill("Model Structure")
    toc_link(page, "2.2").click()
    wait_for_heading(page, "§2.2 模型结构")
    assert panel.locator("pre code").count() >= 1  # fenced code
    shot(page, tmp_path, "desktop-reader")


def test_phone_layout_drawer(server, tmp_path):
    phone = _new_page(PHONE, is_mobile=True, has_touch=True)
    phone.goto(server["url"])
    box = phone.locator("#question textarea")
    box.wait_for()
    b = box.bounding_box()
    assert b["y"] + b["height"] <= PHONE["height"], b  # the input is on the first screen
    shot(phone, tmp_path, "phone-390-start")
    ask(phone, "InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
    chip(phone, "2.1")
    assert phone.locator("#reader-col").is_hidden()  # the reader is a drawer, closed
    phone.locator("#chat [data-testid='bot']").last.locator("a.cite-inline").first.tap()
    wait_for_panel(phone, "§2.1 InternEvo")
    heading = phone.locator("#section-panel h3").bounding_box()
    assert 0 <= heading["y"] < PHONE["height"] / 2, heading  # it opened where the user is looking
    assert phone.locator("#reader-back").is_visible()
    shot(phone, tmp_path, "phone-390-reader")
    phone.go_back()  # the phone's Back button closes the drawer, and the chat is still there
    phone.wait_for_function("() => !document.body.classList.contains('reader-open')")
    assert phone.locator("#reader-col").is_hidden() and phone.locator("#question textarea").is_visible()
    assert "53%" in last_bot_text(phone)
    phone.locator("#toc-button").tap()  # the contents, also in the drawer
    toc_link(phone, "3.2.1").tap()
    wait_for_heading(phone, "§3.2.1 分词")
    assert phone.locator("#section-panel").is_visible()
    phone.locator("#reader-back").tap()  # and the drawer's own way back
    assert phone.locator("#reader-col").is_hidden() and phone.locator("#question textarea").is_visible()
    assert phone.external == [] and phone.evaluate("() => window.__csp") == []


def test_hostile_questions_stay_text(chat):
    page = chat
    fresh(page)
    for payload in PAYLOADS:
        ask(page, payload)
        wait_done(page)
        user = page.locator("#chat [data-testid='user']").last
        user.wait_for()
        assert payload in user.inner_text(), (payload, user.inner_text())  # shown as typed
    time.sleep(0.5)
    assert page.dialogs == [], page.dialogs
    assert page.evaluate(DANGEROUS_JS) == []


def test_hostile_llm_output_stays_text(blank, llm_server, tmp_path):
    page = blank
    page.goto(llm_server["url"])
    page.wait_for_selector("#question textarea")
    ask(page, "InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
    chip(page, "2.1")
    text = last_bot_text(page)
    assert "HOSTILE" in text and "onerror=alert(1)" in text, text  # the payloads are visible as text
    shot(page, tmp_path, "desktop-hostile-llm")
    time.sleep(0.5)
    assert page.dialogs == [], page.dialogs
    assert page.evaluate(DANGEROUS_JS) == []


def test_docs_render_offline(blank, server):
    page = blank
    page.goto(server["url"] + "docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/ask" in p for p in paths), paths
    assert page.external == [], page.external
    assert page.evaluate("() => window.__csp") == []


def test_out_of_scope_notice_and_clear(chat):
    page = chat
    fresh(page)
    ask(page, "今天北京天气怎么样？")
    page.wait_for_function("() => document.querySelector('#notice').innerText.includes('报告未涉及')")
    assert page.locator("#chat [data-testid='bot']").last.locator("a.cite-chip").count() == 0
    page.click("#clear")
    page.wait_for_function("() => document.querySelectorAll(\"#chat [data-testid='bot']\").length === 0")


def test_status_line_and_live_index_switch(chat, server):
    page = chat
    fresh(page)
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


def test_request_log_and_clean_shutdown(server, llm_server):
    """One log line per request, without the question; Ctrl-C and SIGTERM end with a goodbye, status 0."""
    secret = "SECRETQUESTION"
    urllib.request.urlopen(server["url"] + "?q=" + secret, timeout=5).read()
    for s, sig in ((llm_server, signal.SIGINT), (server, signal.SIGTERM)):
        s["proc"].send_signal(sig)
        assert s["proc"].wait(timeout=20) == 0
    log = server["log"].read_text(encoding="utf-8")
    assert re.search(r"^\d\d:\d\d:\d\d GET / 200 \d+ ms$", log, re.M), log[-2000:]
    assert re.search(r"POST /gradio_api/\S+ 200 \d+ ms", log), log[-2000:]
    assert secret not in log and "InternEvo 在" not in log
    for s in (server, llm_server):
        text = s["log"].read_text(encoding="utf-8")
        assert text.rstrip().endswith(GOODBYE), text[-500:]
        assert "Traceback" not in text, text[-2000:]
