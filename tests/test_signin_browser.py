"""With API_TOKEN set, a person signs in once in Chromium and then uses the chat (issue 12.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth import COOKIE
from app.server import create_app

from .live_server import LiveServer
from .test_ui_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow
TOKEN = "browser-token-17"


@pytest.fixture(scope="module")
def live(built_index):
    app = create_app(built_index.model_copy(update={"api_token": TOKEN}))
    with LiveServer(app, start_timeout=60) as server:
        yield server.url + "/"


def test_sign_in_once_then_chat(live):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (bash .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            first = page.goto(live)
            assert first.status == 401 and page.locator("input#token").is_visible()
            page.fill("input#token", "wrong")
            page.click("button[type=submit]")
            assert "Wrong token" in page.content()
            page.fill("input#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("textarea", timeout=60_000)  # the chat itself
            cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
            assert COOKIE not in page.evaluate("document.cookie")  # scripts cannot read it
            box = page.locator("textarea").first
            box.fill("InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
            box.press("Enter")
            page.get_by_text("53%").first.wait_for(timeout=60_000)
            # a second visit needs no sign-in
            again = page.goto(live)
            assert again.status == 200
        finally:
            browser.close()
