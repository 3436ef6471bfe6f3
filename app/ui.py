"""The Gradio web chat: streamed answers with clickable citations, a section reader and a filterable TOC.

Every string shown in the page goes through app.safe_text (the question as literal text; answers and
section Markdown sanitised). Citations stay plain text in the messages (`[§2.1]`, and a
"来源 Sources：§2.1 InternEvo · …" line), so the copy button copies clean Markdown; the page script
(static/ui.js, loaded from our own origin) turns them into links that open the section. On a narrow
screen the reader is a full-screen drawer with a way back to the chat.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import gradio as gr

from ingest.settings import Settings

from .answer import Answer, Answerer
from .index import IndexHandle, IndexMissing
from .safe_text import literal, safe_markdown
from .textstream import stream_pieces
from .workers import AnswerPool, Overloaded, shared_pool

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/ui-assets"
EXAMPLES = [
    "COOL RLHF 的条件奖励模型是怎么训练的？",
    "InternEvo 在 1024 张 GPU 上的 MFU 是多少？",
    "InternLM2 为什么采用 GQA？",
    "What learning rate did SFT use?",
    "How long is the context window of InternLM2?",
    "InternLM2-Chat-20B 在 GSM8K 上的得分？",
]
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
SOURCES_LABEL = "来源 Sources："
MAX_QUESTION = 2000
PANEL_HELP = ("点击回答里的 §章节，或在目录中选择一节，原文会显示在这里。\n\n"
              "Click a § citation in an answer, or pick a section in the contents, to read it here.")
# An extractive answer is ready at once; it is shown a few words at a time: the first pieces small
# (the first words appear at once), then larger, with pauses adding up to at most STREAM_BUDGET s.
STREAM_FIRST, STREAM_PIECE = 12, 40  # characters per piece: the first 4 pieces, then the rest
STREAM_DELAY, STREAM_BUDGET = 0.03, 0.5  # seconds between pieces, in all

# The page's stylesheet and script come from our own origin (static/): Gradio scopes `css=` under its
# container, which the drawer rules (on <body>) need to escape, and the CSP allows no inline script.
CSS = ".hidden-bridge { display: none !important; }"
JS_HEAD = f'<link rel="stylesheet" href="{ASSETS_PATH}/ui.css"><script src="{ASSETS_PATH}/ui.js"></script>'

_ACRONYM_SKIP = {"of", "on", "and", "the", "for", "from", "with", "in", "to", "a", "an", "before", "after"}
_DEFINED_ABBR = re.compile(r"[（(]([A-Z][A-Za-z0-9\-]*[A-Z][A-Za-z0-9\-]*)[）)]")


# ---------------------------------------------------------------------------------------- TOC
def toc_terms(section: dict) -> list[str]:
    """Abbreviations a reader may type to find a section: all-caps words of its English title, the
    initials of its runs of capitalised words ("Supervised Fine-Tuning" → SFT, "Reinforcement Learning
    from Human Feedback" → RLHF), and abbreviations its own text defines ("分组查询注意力（GQA）")."""
    terms: list[str] = []
    run: list[str] = []

    def close_run():
        for i in range(len(run)):
            if len(run) - i >= 3:
                terms.append("".join(w[0] for w in run[i:]).upper())
        run.clear()

    for word in re.split(r"[\s\-]+", section.get("title_en", "")):
        w = word.strip("():,")
        if not w:
            continue
        if w.lower() in _ACRONYM_SKIP:
            continue
        if len(w) >= 2 and w.isupper():
            terms.append(w)
            close_run()
        elif w[0].isupper():
            run.append(w)
        else:
            close_run()
    close_run()
    terms += _DEFINED_ABBR.findall(section.get("text", ""))
    seen: dict[str, None] = {}
    for t in terms:
        if len(t) >= 2 and t.lower() not in section.get("title_en", "").lower().split():
            seen.setdefault(t, None)
    return list(seen)[:12]


def toc_markdown(sections: dict[str, dict]) -> str:
    """The table of contents as a flat Markdown list of section links (the page script filters it)."""
    lines = []
    for n, s in sections.items():
        indent = "　" * (s["level"] - 1)  # inside the link: the link is a block
        label = indent + literal(f"§{n} {s['title_zh']}（{s['title_en']}）")
        terms = " ".join(toc_terms(s))
        title = f' "{terms}"' if terms else ""
        lines.append(f"- [{label}](#sec-{n}{title})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- reader
def _chapter_label(number: str) -> str:
    return {"0": "摘要", "A": "附录 A"}.get(number, f"第 {number} 章")


def _highlight(text: str, quote: str) -> str:
    if not quote:
        return text
    if quote.lstrip().startswith("|"):  # a table row: mark every cell
        cells = quote.strip().strip("|").split("|")
        marked = "| " + " | ".join(f"<mark>{c.strip()}</mark>" if c.strip() else "" for c in cells) + " |"
        return text.replace(quote, marked, 1)
    at = text.find(quote)
    if at < 0 or text.count("```", 0, at) % 2:  # inside a code block a mark would show as text
        return text
    return text[:at] + f"<mark>{quote}</mark>" + text[at + len(quote):]


def section_view(sections: dict[str, dict], number: str, quote: str = "") -> str:
    """One section as Markdown for the reader: clickable breadcrumbs, the text (the supporting passage
    highlighted), links to its sub-sections, and previous/next links."""
    s = sections.get(number)
    if s is None:
        return f"没有第 {literal(number)} 节。There is no section {literal(number)}; pick one in the contents."
    order = list(sections)
    crumbs = []
    for p in s["parents"]:
        ps = sections.get(p)
        label = _chapter_label(p) if "." not in p else p
        tip = f' "{literal(ps["title_zh"])}"' if ps else ""
        crumbs.append(f"[{label}](#sec-{p}{tip})")
    crumbs.append(_chapter_label(number) if not s["parents"] else number)
    parts = [" › ".join(crumbs),
             f"### §{number} {literal(s['title_zh'])}（{literal(s['title_en'])}）",
             safe_markdown(_highlight(s["text"], quote))]
    children = [c for c in sections.values() if c["parents"][-1:] == [number]]
    if children:
        parts.append("**本节包含 Sub-sections**\n\n" + "\n".join(
            f"- [§{c['number']} {literal(c['title_zh'])}（{literal(c['title_en'])}）](#sec-{c['number']})"
            for c in children))
    i = order.index(number)
    nav = []
    if i > 0:
        p = sections[order[i - 1]]
        nav.append(f"[← 上一节 §{p['number']} {literal(p['title_zh'])}](#sec-{p['number']})")
    if i + 1 < len(order):
        n = sections[order[i + 1]]
        nav.append(f"[下一节 §{n['number']} {literal(n['title_zh'])} →](#sec-{n['number']})")
    if nav:
        parts.append("---\n\n" + " · ".join(nav))
    return "\n\n".join(parts)


def _section_markdown(handle: IndexHandle, number: str, quote: str = "") -> str:
    try:
        sections = handle.get().sections
    except IndexMissing:
        return "还没有索引：请先运行 `report-qa ingest`。No index yet: run `report-qa ingest`."
    return section_view(sections, number, quote)


# ---------------------------------------------------------------------------------------- chat
def sources_line(answer: Answer) -> str:
    """The sections an answer relies on, as plain text the page script turns into chips."""
    used = [c for c in answer.citations if c.used] or answer.citations[:1]
    return SOURCES_LABEL + " · ".join(f"§{c.section} {literal(c.title)}" for c in used)


def chat_answer(answer: Answer) -> str:
    """The final assistant message: the sanitised answer, then its sources."""
    body = safe_markdown(answer.answer)
    if answer.answerable and answer.citations:
        body += "\n\n" + sources_line(answer)
    return body


def _status(handle: IndexHandle, answerer: Answerer, settings: Settings) -> str:
    try:
        index = handle.get()
    except IndexMissing:
        return "⚠️ 还没有索引：请运行 `report-qa ingest`。No index yet."
    m = index.manifest
    if index.retrieval_mode == "hybrid":
        retrieval = f"混合检索 hybrid（向量模型 {m.embedding_model.split('@')[0]} + BM25）"
    else:
        retrieval = "仅关键词检索 keyword only（BM25）"
    generation = (f"LLM 生成（{settings.llm_model}）" if answerer.generation_mode == "llm"
                  else "原文摘录 extractive")
    extra = f" · ⚠️ {index.notice}" if index.notice and index.retrieval_mode == "keyword" and m.retrieval_mode == "hybrid" else ""
    return safe_markdown(f"检索 Retrieval：{retrieval} · 回答 Answers：{generation} · 索引版本 Index {m.version} · "
                         f"{m.chunk_count} 个片段 chunks{extra}")


def build_ui(settings: Settings, handle: IndexHandle, answerer: Answerer,
             pool: AnswerPool | None = None) -> gr.Blocks:
    pool = pool or shared_pool(settings)  # the same bound as the API: neither queues behind the other

    def toc_value() -> str:
        try:
            return toc_markdown(handle.get().sections)
        except IndexMissing:
            return "还没有索引。No index yet."

    with gr.Blocks(title="InternLM2 技术报告问答 · report-qa", analytics_enabled=False) as demo:
        quotes = gr.State({})  # section → passage that supported the latest answer
        turns = gr.State([])  # plain-text history sent to the answerer
        with gr.Row(elem_id="topbar", equal_height=True):
            gr.Markdown("## 《InternLM2 技术报告》问答 · InternLM2 Report Q&A\n"
                        "用中文或英文提问，答案标注章节出处，点击 §章节 阅读原文。"
                        "Ask in Chinese or English; click a § citation to read the section.",
                        elem_id="header")
            gr.Button("☰ 目录 Contents", elem_id="toc-button", size="sm", scale=0, min_width=60)
        status = gr.Markdown(elem_id="status")
        with gr.Row(elem_id="main-row", equal_height=False):
            with gr.Column(scale=3, elem_id="chat-col", min_width=300):
                chatbot = gr.Chatbot(show_label=False, elem_id="chat", height="calc(100vh - 300px)", min_height=320,
                                     latex_delimiters=LATEX, sanitize_html=True, allow_tags=False,
                                     buttons=["copy"], feedback_options=None,
                                     placeholder="例如 e.g.：COOL RLHF 的条件奖励模型是怎么训练的？")
                notice = gr.Markdown(elem_id="notice")
                with gr.Row(elem_id="ask-row", equal_height=True):
                    box = gr.Textbox(show_label=False, placeholder="输入问题 · Ask a question",
                                     scale=10, min_width=160, lines=1, max_lines=4, max_length=MAX_QUESTION,
                                     elem_id="question", autofocus=True, container=False)
                    send = gr.Button("发送 Send", variant="primary", scale=0, min_width=84, elem_id="send")
                    clear = gr.Button("清空 Clear", scale=0, min_width=92, elem_id="clear")
                gr.Examples(EXAMPLES, inputs=box, label="示例问题 Examples", elem_id="examples")
            with gr.Column(scale=2, elem_id="reader-col", min_width=300):
                with gr.Row(elem_id="reader-bar"):
                    gr.Button("← 返回对话 Back to chat", elem_id="reader-back", size="sm", scale=0)
                    gr.Button("☰ 目录 Contents", elem_id="reader-toc", size="sm", scale=0)
                with gr.Group(elem_id="toc-box"):
                    gr.Textbox(show_label=False, placeholder="筛选目录 Filter: RLHF、奖励模型、Coding…",
                               elem_id="toc-filter", lines=1, max_lines=1, container=False)
                    toc = gr.Markdown(toc_value(), elem_id="toc")
                panel = gr.Markdown(PANEL_HELP, elem_id="section-panel", latex_delimiters=LATEX)
        chip_target = gr.Textbox(elem_id="chip-target", elem_classes=["hidden-bridge"], show_label=False)
        chip_open = gr.Button("open", elem_id="chip-open", elem_classes=["hidden-bridge"])

        def respond(question, chat, history, _quotes):
            question = (question or "").strip()
            chat = list(chat or [])
            if not question:
                yield chat, history, _quotes, "请输入问题。Please type a question.", gr.update(), gr.update()
                return
            if len(question) > MAX_QUESTION:
                yield chat, history, _quotes, f"问题太长（最多 {MAX_QUESTION} 字）。The question is too long " \
                    f"(at most {MAX_QUESTION} characters).", gr.update(), gr.update()
                return
            chat += [{"role": "user", "content": literal(question)}, {"role": "assistant", "content": "…"}]
            yield chat, history, _quotes, "", gr.update(value=""), gr.update()
            text, answer, extractive = "", None, answerer.generation_mode == "extractive"
            shown, slept = 0, 0.0  # pieces shown, seconds paused
            try:
                for ev in pool.iterate(answerer.stream(question, history)):
                    if ev["type"] == "meta":
                        extractive = ev["mode"].get("generation") == "extractive"
                    elif ev["type"] == "delta":
                        # an extractive answer is ready at once: show it a few words at a time
                        pieces = [ev["text"]]
                        if extractive:
                            head = stream_pieces(ev["text"], STREAM_FIRST)[:max(0, 4 - shown)]
                            rest = ev["text"][len("".join(head)):]
                            pieces = head + stream_pieces(rest, STREAM_PIECE)
                        for piece in pieces:
                            if extractive and shown and slept < STREAM_BUDGET:
                                time.sleep(STREAM_DELAY)
                                slept += STREAM_DELAY
                            shown += 1
                            text += piece
                            chat[-1] = {"role": "assistant", "content": safe_markdown(text)}
                            yield chat, history, _quotes, "", gr.update(), gr.update()
                    elif ev["type"] == "reset":
                        text, extractive = "", True
                    elif ev["type"] == "done":
                        answer = ev["answer"]
            except Overloaded as exc:
                chat[-1] = {"role": "assistant", "content": safe_markdown(str(exc))}
                yield chat, history, _quotes, "", gr.update(), gr.update()
                return
            except IndexMissing:
                chat[-1] = {"role": "assistant", "content": "还没有索引：请先运行 `report-qa ingest`。No index yet."}
                yield chat, history, _quotes, "", gr.update(), gr.update()
                return
            except Exception as exc:
                logging.getLogger("report_qa").exception("answering failed")
                chat[-1] = {"role": "assistant",
                            "content": f"出错了，请重试。Something went wrong ({type(exc).__name__}); please retry."}
                yield chat, history, _quotes, "", gr.update(), gr.update()
                return
            notes = []
            if not answer.answerable:
                notes.append("ℹ️ 报告未涉及这个问题。The report does not cover this question.")
            if answer.notice:
                notes.append(f"⚠️ {answer.notice}")
            chat[-1] = {"role": "assistant", "content": chat_answer(answer)}
            history = [*history, {"role": "user", "content": question},
                       {"role": "assistant", "content": answer.answer}][-12:]
            new_quotes = {c.section: c.quote for c in answer.citations if c.quote}
            yield (chat, history, new_quotes, safe_markdown("\n\n".join(notes)), gr.update(),
                   _status(handle, answerer, settings))

        outputs = [chatbot, turns, quotes, notice, box, status]
        # no Gradio queue limit of its own: the shared answer pool bounds the chat and the API together
        box.submit(respond, [box, chatbot, turns, quotes], outputs, concurrency_limit=None)
        send.click(respond, [box, chatbot, turns, quotes], outputs, concurrency_limit=None)
        clear.click(lambda: ([], [], {}, "", ""), None, [chatbot, turns, quotes, notice, box])
        chatbot.clear(lambda: ([], {}, ""), None, [turns, quotes, notice])

        def open_section(value, _quotes):
            number = (value or "").split("|")[0].strip().lstrip("§")
            return _section_markdown(handle, number, (_quotes or {}).get(number, ""))

        chip_open.click(open_section, [chip_target, quotes], panel, concurrency_limit=None)

        def on_load(request: gr.Request):
            q = ""
            if request is not None:
                q = (request.query_params.get("q") or "")[:MAX_QUESTION]
            return _status(handle, answerer, settings), toc_value(), gr.update(value=q) if q else gr.update()

        demo.load(on_load, None, [status, toc, box], concurrency_limit=None)
    return demo


def theme():
    fonts = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    return gr.themes.Default(font=fonts, font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"])
