"""What the web chat shows, without a browser: sanitised Markdown, the reader's view of a section, the
TOC's abbreviations, streaming pieces; and the HTTP layer: CSP, access log, offline /docs, SSE deltas."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from app.answer import Answer, Citation
from app.safe_text import literal, safe_markdown, unsafe_url
from app.textstream import stream_pieces
from app.ui import chat_answer, section_view, toc_markdown, toc_terms
from app.weblayer import ACCESS_LOGGER, content_security_policy, inline_script_hashes

HOSTILE = ["<img src=x onerror=alert(1)>", "<details open ontoggle=alert(2)>x</details>",
           '<iframe srcdoc="<script>alert(3)</script>"></iframe>', "[x](javascript:alert(5))",
           "[x](JaVaScRiPt&#58;alert(5))", "[x](<javascript:alert(1)>)", "[x](java\\script:alert(1))",
           "[x](data:text/html;base64,PHNjcmlwdD4=)", "[r]: javascript:alert(1)\n\n[r]", "![p](http://evil.test/t.png)",
           '<a href="javascript:alert(6)">y</a>', "<svg onload=alert(8)>", "<script>alert(9)</script>",
           "<u onclick=alert(10)>u</u>", "$<img src=x onerror=alert(11)>$", "<!-- <img src=x onerror=alert(12)> -->"]


def render(md: str) -> str:
    """CommonMark with raw HTML on and no link checks of its own: only our sanitising protects."""
    r = MarkdownIt("commonmark", {"html": True}).enable("table")
    r.validateLink = lambda url: True
    return r.render(md)


def live_html(html: str) -> list[str]:
    bad = re.findall(r"<(?:img|iframe|script|svg|details|object|embed)\b", html, re.I)
    bad += re.findall(r"<[a-z][^>]*\son\w+\s*=", html, re.I)
    bad += [h for h in re.findall(r'(?:href|src)="([^"]*)"', html) if unsafe_url(h) or h.startswith("http://evil")]
    return bad


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_markdown_renders_no_live_html(payload):
    assert live_html(render(payload)) or payload.startswith(("[r]", "![p]", "[x](java\\")), \
        "the payload must be live without our sanitising, or the test proves nothing"
    assert live_html(render(safe_markdown(payload))) == []
    assert live_html(render(literal(payload))) == []


@pytest.mark.parametrize("question", HOSTILE + ["*not bold* `x` $y$ # not a heading", "1. not a list\n- nor this"])
def test_literal_question_renders_as_typed(question):
    html = render(literal(question))
    text = unescape(re.sub(r"<[^>]+>", "", html))
    assert " ".join(text.split()) == " ".join(question.split())
    assert "<em>" not in html and "<code>" not in html and "<h1>" not in html and "<ol>" not in html


def test_corpus_markup_survives():
    md = ("| 模型 | **分数** |\n|---|---|\n| A | <u>72.5</u> |\n\n公式 $a<b$ 与 $$x>y$$\n\n"
          "```python\nif a < b: print('<ok>')\n```\n\n[§2.1](#sec-2.1) [site](https://example.org)")
    out = safe_markdown(md)
    html = render(out)
    assert "<u>72.5</u>" in html and "<strong>分数</strong>" in html and "<table>" in html
    assert r"$a\lt b$" in out and r"$$x\gt y$$" in out
    assert "if a &lt; b: print(&#x27;&lt;ok&gt;&#x27;)" in html or "if a &lt; b: print('&lt;ok&gt;')" in html
    assert 'href="#sec-2.1"' in html and 'href="https://example.org"' in html


def test_stream_pieces_keep_markers_and_formulas_whole():
    text = "根据报告第 2.1 节（InternEvo）：在 1024 张 GPU 上 $x_1<y$ 达到 53% 的 MFU。 [§2.1] 另见 [§4.2.3]。"
    pieces = stream_pieces(text, 8)
    assert "".join(pieces) == text and len(pieces) >= 5
    assert any("[§2.1]" in p for p in pieces) and any("[§4.2.3]" in p for p in pieces)
    assert any("$x_1<y$" in p for p in pieces)


@pytest.fixture(scope="module")
def sections(built_index):
    from app.index import IndexHandle

    return IndexHandle(built_index).get().sections


def test_toc_terms_find_sections_by_abbreviation(sections):
    assert "RLHF" in toc_terms(sections["4.2"])  # "COOL Reinforcement Learning from Human Feedback"
    assert "SFT" in toc_terms(sections["4.1"])  # "Supervised Fine-Tuning"
    assert "GQA" in toc_terms(sections["2.2"])  # "分组查询注意力（GQA）" in its text
    toc = toc_markdown(sections)
    rlhf = [line for line in toc.splitlines() if "RLHF" in line]
    assert any("#sec-4.2 " in x for x in rlhf) and any("#sec-4.2.2" in x for x in rlhf)
    assert "#sec-0" in toc and len(toc.splitlines()) == len(sections)


def test_section_view_links_subsections_breadcrumbs_and_neighbours(sections):
    view = section_view(sections, "5.2")
    for n in ("5.2.1", "5.2.2", "5.2.3", "5.2.4", "5.2.5", "5.2.6", "5.2.7"):
        assert f"(#sec-{n})" in view, n
    assert view.startswith("[第 5 章](#sec-5 ")
    assert "(#sec-5.1)" in view and "上一节" in view and "下一节" in view
    leaf = section_view(sections, "5.2.4")
    assert re.match(r"\[第 5 章\]\(#sec-5 [^)]*\) › \[5\.2\]\(#sec-5\.2 [^)]*\) › 5\.2\.4", leaf), leaf[:120]
    assert "本节包含" not in leaf
    assert not re.search(r"\.md\b|:\d+\b.*\.md", view + leaf)  # no file names or line numbers
    assert "没有第" in section_view(sections, "9.9")
    assert "上一节" not in section_view(sections, "0") and "下一节" not in section_view(sections, "A.2")


def test_section_view_highlights_the_quote(sections):
    s = sections["2.1"]
    quote = next(line for line in s["text"].split("。") if "53%" in line)
    assert f"<mark>{quote}</mark>" in section_view(sections, "2.1", quote)


def test_chat_answer_keeps_citations_as_plain_markdown():
    a = Answer("答案 <img src=x onerror=alert(1)> [§2.1]", True,
               [Citation("2.1", "InternEvo", "s", 0.5, True), Citation("4.1", "监督微调", "s", 0.4, False)],
               {"retrieval": "keyword", "generation": "extractive"})
    out = chat_answer(a)
    assert out.endswith("\n\n来源 Sources：§2.1 InternEvo") and "[§2.1]" in out
    assert live_html(render(out)) == []


def test_inline_script_hashes_and_policy():
    page = b"<html><script>window.a = 1;</script><script src='/x.js'></script><SCRIPT type=module>b()</SCRIPT>"
    hashes = inline_script_hashes(page)
    want = "'sha256-" + base64.b64encode(hashlib.sha256(b"window.a = 1;").digest()).decode() + "'"
    assert hashes[0] == want and len(hashes) == 2
    policy = content_security_policy(hashes)
    script = policy.split("script-src ")[1].split(";")[0]
    assert script.startswith("'self' 'sha256-") and "unsafe" not in script
    assert "object-src 'none'" in policy and "frame-src 'none'" in policy


@pytest.fixture
def client(built_index):
    from app.server import create_app

    return TestClient(create_app(built_index.model_copy(), with_ui=False))


def test_docs_are_offline_with_csp(client):
    r = client.get("/docs", headers={"accept": "text/html", "accept-encoding": "br, gzip"})
    assert r.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in r.text and "cdn." not in r.text and "https://" not in r.text
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    csp = r.headers["content-security-policy"]
    for code in inline:
        assert "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'" in csp
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self';" in client.get("/healthz").headers["content-security-policy"]


def test_extractive_answer_streams_as_several_deltas(client):
    r = client.post("/api/ask", json={"question": "InternEvo 在 1024 张 GPU 上的 MFU 是多少？", "stream": True})
    events = re.findall(r"event: (\w+)\ndata: (.*)\n\n", r.text)
    deltas = [json.loads(d)["text"] for k, d in events if k == "delta"]
    done = json.loads(next(d for k, d in events if k == "done"))
    assert len(deltas) >= 5, deltas
    assert "".join(deltas) == done["answer"]
    assert [k for k, _ in events][0] == "meta" and [k for k, _ in events][-1] == "done"


@pytest.mark.parametrize("log_questions", [False, True])
def test_access_log_one_line_per_request_without_the_question(built_index, log_questions):
    from app.server import create_app

    settings = built_index.model_copy(update={"log_questions": log_questions})
    c = TestClient(create_app(settings, with_ui=False))
    # the records the access logger emits, whatever other handlers earlier tests left on it
    records: list[logging.LogRecord] = []
    catch = logging.Handler(logging.INFO)
    catch.emit = records.append
    log = logging.getLogger(ACCESS_LOGGER)
    # setLevel, not assigning .level: the logger caches isEnabledFor(), and an earlier request in
    # this process (at the default WARNING level) left INFO cached as off
    old_level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(catch)
    try:
        c.get("/healthz?q=SECRETQ")
        c.post("/api/ask", json={"question": "SECRET 学习率"})
        c.get("/api/sections/9.9")
    finally:
        log.removeHandler(catch)
        log.setLevel(old_level)
    lines = [r.getMessage() for r in records]
    assert len(lines) == 3, lines
    assert re.fullmatch(r"POST /api/ask 200 \d+ ms", lines[1]), lines
    assert re.fullmatch(r"GET /api/sections/9\.9 404 \d+ ms", lines[2]), lines
    assert not any("SECRET 学习率" in x for x in lines)
    assert ("SECRETQ" in lines[0]) == log_questions, lines


def test_a_quoted_line_of_a_code_block_is_not_marked(sections):
    """Inside a fenced block a <mark> would be shown as text: the prompt line is left as written."""
    s = sections["A.2"]
    line = next(ln for ln in s["text"].splitlines() if "IPythonInterpreter:" in ln)
    view = section_view(sections, "A.2", line)
    assert "<mark>" not in view and line in view
