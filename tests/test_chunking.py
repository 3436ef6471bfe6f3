"""Chunking along the table of contents, on the real corpus and on synthetic sections."""

from __future__ import annotations

import re

from ingest.chunking import chunk_corpus, chunk_section, split_blocks, split_sentences
from ingest.corpus import Section


def test_chunks_never_cross_sections(real_corpus):
    by_num = {s.number: s for s in real_corpus.sections}
    chunks = chunk_corpus(real_corpus, size=400)
    assert {c.section for c in chunks} == set(by_num)
    for c in chunks:
        body = by_num[c.section].text
        if c.text == f"{c.title_zh}（{c.title_en}）":  # heading-only section
            continue
        # every line of the chunk comes from its own section
        for line in c.text.splitlines():
            assert line.strip() in body, f"{c.id}: line not from section {c.section}: {line[:60]}"


def test_chunk_metadata_path_and_order(real_corpus):
    chunks = chunk_corpus(real_corpus)
    assert [c.order for c in chunks] == list(range(len(chunks)))
    c = next(c for c in chunks if c.section == "3.1.1")
    assert c.path == "3 预训练 > 3.1 预训练数据 > 3.1.1 文本数据"
    assert c.embed_text.startswith("3 预训练 > 3.1 预训练数据 > 3.1.1 文本数据（Text Data）\n")
    md = c.metadata()
    assert md["section"] == "3.1.1" and md["file"] == "03-pre-train.md" and md["line"] > 0


def test_tables_stay_whole_with_caption(real_corpus):
    chunks = chunk_corpus(real_corpus, size=300)
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) >= 20
    for c in tables:
        assert re.match(r"^(表|图)\s*\d+", c.text), f"table chunk without caption: {c.text[:80]}"
        assert "|---" in c.text or "| ---" in c.text or "|:--" in c.text
    # no table row ever appears in a text chunk
    for c in chunks:
        if c.kind == "text":
            assert not any(l.lstrip().startswith("|") for l in c.text.splitlines())


def test_table5_chunk_is_complete(real_corpus):
    chunks = chunk_corpus(real_corpus)
    (t5,) = [c for c in chunks if c.kind == "table" and c.text.startswith("表 5：")]
    for model in ["Llama2-7B", "Qwen-14B", "InternLM2-20B-Base", "InternLM2-20B"]:
        assert model in t5.text


def _section(text: str) -> Section:
    return Section("9", "测试", "Test", 1, text, "x.md", 1)


def test_long_table_split_by_rows_with_header_repeated():
    rows = "\n".join(f"| model-{i} | {i}.0 | {i}.5 |" for i in range(200))
    text = f"表 99：很长的表。\n\n| 模型 | A | B |\n|---|---|---|\n{rows}\n"
    pieces = chunk_section(_section(text), "9 测试", size=200, table_limit=800)
    assert len(pieces) > 3
    seen = []
    for kind, p in pieces:
        assert kind == "table"
        lines = p.splitlines()
        assert lines[0] == "表 99：很长的表。" and lines[2] == "| 模型 | A | B |" and lines[3] == "|---|---|---|"
        assert len(p) <= 800
        seen += lines[4:]
    assert seen == rows.splitlines()


def test_long_paragraph_splits_at_sentence_ends():
    para = "".join(f"这是第 {i} 句话，用来测试切分。" for i in range(100))
    pieces = chunk_section(_section(para), "9 测试", size=120, overlap=30)
    assert len(pieces) > 5
    for _, p in pieces:
        assert len(p) <= 120
        assert p.endswith("。")
        assert p.startswith("这是第")


def test_sentences_chinese_and_english():
    assert split_sentences("第一句。第二句！Third one. Fourth? 第五句；") == [
        "第一句。", "第二句！", "Third one.", "Fourth?", "第五句；"]
    assert split_sentences("(Qin et al., 2023a;b; Schick et al., 2023)。") == [
        "(Qin et al., 2023a;b; Schick et al., 2023)。"]
    assert split_sentences("lr = 4e-5 and 0.95.") == ["lr = 4e-5 and 0.95."]


def test_blocks_keep_code_fences_and_captions():
    text = "段落一。\n\n图 2：示意。\n\n```python\nx = 1\n\ny = 2\n```\n\n表 3：超参数。\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    kinds = [(b.kind, b.text.splitlines()[0]) for b in split_blocks(text)]
    assert kinds == [("text", "段落一。"), ("text", "图 2：示意。"), ("code", "```python"), ("table", "表 3：超参数。")]


def test_ids_are_stable_and_content_derived(real_corpus):
    a = chunk_corpus(real_corpus)
    b = chunk_corpus(real_corpus)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    assert all(c.id.startswith(c.section + ":") for c in a)
