"""The Gradio web chat: streamed answers, clickable citation chips, a section viewer and a TOC browser."""

from __future__ import annotations

import html
import re

import gradio as gr

from ingest.settings import Settings

from .answer import Answer, Answerer
from .index import IndexHandle, IndexMissing

EXAMPLES = [
    "COOL RLHF 的条件奖励模型是怎么训练的？",
    "InternEvo 在 1024 张 GPU 上的 MFU 是多少？",
    "InternLM2 为什么采用 GQA？",
    "What learning rate did SFT use?",
    "How long is the context window of InternLM2?",
    "InternLM2-Chat-20B 在 GSM8K 上的得分？",
]
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
CHIP = re.compile(r"\[§([0-9A](?:\.\d+)*)\]")

CSS = """
.hidden-bridge { display: none !important; }
a.cite-chip { display: inline-block; margin: 2px 4px 2px 0; padding: 1px 8px; border-radius: 12px;
  background: #eef2ff; color: #3730a3 !important; font-size: 0.85em; text-decoration: none !important;
  border: 1px solid #c7d2fe; cursor: pointer; }
a.cite-chip:hover { background: #e0e7ff; }
#section-panel { max-height: 70vh; overflow-y: auto; }
#section-panel mark { background: #fef08a; padding: 0 2px; }
#notice p { color: #b45309; }
#status p { font-size: 0.85em; color: #4b5563; }
"""

# A click on a citation chip inside a chat message opens that section: the chip's section number
# goes into a hidden textbox and a hidden button fires the Python handler.
JS_HEAD = """
<script>
document.addEventListener('click', function (ev) {
  const chip = ev.target.closest && ev.target.closest('a.cite-chip');
  if (!chip) return;
  ev.preventDefault();
  const num = (chip.getAttribute('href') || '').replace('#sec-', '');
  const box = document.querySelector('#chip-target textarea, #chip-target input');
  const btn = document.querySelector('#chip-open');
  if (!box || !btn) return;
  box.value = num + '|' + Date.now();
  box.dispatchEvent(new Event('input', { bubbles: true }));
  setTimeout(function () { btn.click(); }, 50);
}, true);
</script>
"""


def _chips(answer: Answer) -> str:
    used = [c for c in answer.citations if c.used] or answer.citations[:1]
    return " ".join(f'<a class="cite-chip" href="#sec-{c.section}" title="{html.escape(c.snippet[:120])}">'
                    f"§{c.section} {html.escape(c.title)}</a>" for c in used)


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
    return (f"检索 Retrieval：{retrieval} · 回答 Answers：{generation} · 索引版本 Index {m.version} · "
            f"{m.chunk_count} 个片段 chunks{extra}")


def _section_markdown(handle: IndexHandle, number: str, quote: str = "") -> str:
    try:
        s = handle.get().sections.get(number)
    except IndexMissing:
        return "还没有索引。No index yet."
    if s is None:
        return f"没有第 {number} 节。No section {number}."
    text = s["text"]
    if quote:
        if quote.lstrip().startswith("|"):  # a table row: mark every cell
            cells = quote.strip().strip("|").split("|")
            marked = "| " + " | ".join(f"<mark>{c.strip()}</mark>" if c.strip() else "" for c in cells) + " |"
            text = text.replace(quote, marked, 1)
        elif quote in text:
            text = text.replace(quote, f"<mark>{quote}</mark>", 1)
    crumbs = s["path"]
    return f"### §{s['number']} {s['title_zh']}（{s['title_en']}）\n\n<small>{html.escape(crumbs)} · {s['file']}:{s['line']}</small>\n\n{text}"


def build_ui(settings: Settings, handle: IndexHandle, answerer: Answerer) -> gr.Blocks:
    def toc_choices():
        try:
            return [(f"{'　' * (s['level'] - 1)}§{n} {s['title_zh']}（{s['title_en']}）", n)
                    for n, s in handle.get().sections.items()]
        except IndexMissing:
            return []

    with gr.Blocks(title="InternLM2 技术报告问答 · report-qa", analytics_enabled=False) as demo:
        quotes = gr.State({})  # section → passage that supported the latest answer
        turns = gr.State([])  # plain-text history sent to the answerer
        gr.Markdown("## 《InternLM2 技术报告》中文译文问答 · InternLM2 Technical Report Q&A\n"
                    "用中文或英文提问，答案标注章节出处；点击 §章节 标签查看原文。"
                    "Ask in Chinese or English; click a § chip to read the section.")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="对话 Chat", elem_id="chat", height=520, latex_delimiters=LATEX,
                                     sanitize_html=False, buttons=["copy"], feedback_options=None,
                                     placeholder="例如：COOL RLHF 的条件奖励模型是怎么训练的？")
                notice = gr.Markdown(elem_id="notice")
                with gr.Row():
                    box = gr.Textbox(show_label=False, placeholder="输入问题，回车发送 · Ask a question, press Enter",
                                     scale=6, elem_id="question", autofocus=True)
                    send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
                    clear = gr.Button("清空 Clear", scale=1, elem_id="clear")
                gr.Examples(EXAMPLES, inputs=box, label="示例问题 Examples")
            with gr.Column(scale=2):
                toc = gr.Dropdown(label="目录 Contents（45 节）", choices=toc_choices(), elem_id="toc",
                                  filterable=True)
                panel = gr.Markdown("点击回答下方的 §章节 标签，或在目录中选择一节。"
                                    "Click a § chip under an answer, or pick a section.",
                                    elem_id="section-panel", latex_delimiters=LATEX)
        chip_target = gr.Textbox(elem_id="chip-target", elem_classes=["hidden-bridge"], show_label=False)
        chip_open = gr.Button("open", elem_id="chip-open", elem_classes=["hidden-bridge"])

        def respond(question, chat, history, _quotes):
            question = (question or "").strip()
            chat = list(chat or [])
            if not question:
                yield chat, history, _quotes, "请输入问题。Please type a question.", gr.update(), gr.update()
                return
            if len(question) > 2000:
                yield chat, history, _quotes, "问题太长（最多 2000 字）。The question is too long (max 2000).", \
                    gr.update(), gr.update()
                return
            chat += [{"role": "user", "content": question}, {"role": "assistant", "content": "…"}]
            yield chat, history, _quotes, "", gr.update(value=""), gr.update()
            text, answer = "", None
            try:
                for ev in answerer.stream(question, history):
                    if ev["type"] == "delta":
                        text += ev["text"]
                        chat[-1] = {"role": "assistant", "content": text}
                        yield chat, history, _quotes, "", gr.update(), gr.update()
                    elif ev["type"] == "reset":
                        text = ""
                    elif ev["type"] == "done":
                        answer = ev["answer"]
            except IndexMissing:
                chat[-1] = {"role": "assistant", "content": "还没有索引：请先运行 `report-qa ingest`。No index yet."}
                yield chat, history, _quotes, "", gr.update(), gr.update()
                return
            except Exception as exc:
                chat[-1] = {"role": "assistant",
                            "content": f"出错了，请重试。Something went wrong ({type(exc).__name__}); please retry."}
                yield chat, history, _quotes, "", gr.update(), gr.update()
                return
            body = CHIP.sub(lambda m: f"<sup>§{m.group(1)}</sup>", answer.answer)
            notes = []
            if not answer.answerable:
                notes.append("ℹ️ 报告未涉及这个问题。The report does not cover this question.")
            if answer.notice:
                notes.append(f"⚠️ {answer.notice}")
            content = body + ("\n\n" + _chips(answer) if answer.answerable and answer.citations else "")
            chat[-1] = {"role": "assistant", "content": content}
            history = [*history, {"role": "user", "content": question},
                       {"role": "assistant", "content": answer.answer}][-12:]
            new_quotes = {c.section: c.quote for c in answer.citations if c.quote}
            yield chat, history, new_quotes, "\n\n".join(notes), gr.update(), _status(handle, answerer, settings)

        outputs = [chatbot, turns, quotes, notice, box, status]
        box.submit(respond, [box, chatbot, turns, quotes], outputs)
        send.click(respond, [box, chatbot, turns, quotes], outputs)
        clear.click(lambda: ([], [], {}, "", ""), None, [chatbot, turns, quotes, notice, box])

        def open_chip(value, _quotes):
            number = (value or "").split("|")[0]
            return _section_markdown(handle, number, (_quotes or {}).get(number, ""))

        chip_open.click(open_chip, [chip_target, quotes], panel)
        toc.change(lambda n, q: _section_markdown(handle, n, (q or {}).get(n, "")) if n else gr.update(),
                   [toc, quotes], panel)
        demo.load(lambda: (_status(handle, answerer, settings), gr.update(choices=toc_choices())), None,
                  [status, toc])
    return demo


def theme():
    fonts = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    return gr.themes.Default(font=fonts, font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"])
