"""Citation chips in the web chat, in Debian's Chromium: with two or more chips under one answer,
each chip links to the section its label names, and the second one opens that section."""

from __future__ import annotations

import re

import pytest

# the server and browser fixtures and the helpers of the main browser test
from .test_ui_browser import ask, last_bot_text, page, server, wait_for_panel  # noqa: F401

pytestmark = pytest.mark.slow

TWO_CHIPS_Q = "PPO 阶段要同时部署几个模型"  # cites §2.1 (InternEvo) and §4.2.3 (PPO)


def _opens(page, chip, label: str) -> None:
    """Click a chip and wait until the reader shows the section its label names."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    chip.click()
    try:
        wait_for_panel(page, label)
    except PlaywrightTimeout:
        pytest.fail(f"the chip {label!r} opened: {page.locator('#section-panel').inner_text()[:120]!r}")


def test_second_chip_opens_the_section_its_label_names(page):
    ask(page, TWO_CHIPS_Q)
    bot = page.locator("#chat [data-testid='bot']").last
    chips = bot.locator("a.cite-chip")
    page.wait_for_function(
        "() => { const b = [...document.querySelectorAll(\"#chat [data-testid='bot']\")].pop();"
        " return b && b.querySelectorAll('a.cite-chip').length >= 2; }")
    labels = [c.inner_text().strip() for c in chips.all()]
    hrefs = [c.get_attribute("href") for c in chips.all()]
    assert len(labels) >= 2, last_bot_text(page)
    numbers = [re.match(r"§([0-9A](?:\.\d+)*)\s", label).group(1) for label in labels]
    assert len(set(numbers)) == len(numbers), labels
    assert hrefs == [f"#sec-{n}" for n in numbers], (labels, hrefs)

    # the second chip opens its own section (its label's heading), not the first chip's
    _opens(page, chips.nth(1), labels[1])
    panel = page.locator("#section-panel")
    assert labels[0] not in panel.inner_text()
    # the passage the answer quotes from that section is highlighted
    marks = panel.locator("mark")
    assert marks.count() >= 1
    assert marks.first.inner_text().strip()[:12] in last_bot_text(page)

    # and the first chip opens the first section
    _opens(page, chips.nth(0), labels[0])
    assert labels[1] not in panel.inner_text()
    assert page.external == [], page.external
