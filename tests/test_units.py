"""Answer units (sentences and table rows) and how the answer picks among them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.evaluation import first_line
from app.selection import FEATURES, SCORED, WEIGHTS_FILE, QuestionType
from ingest.units import chunk_units, corpus_units, read_units, write_units

TEXT_CHUNK = {"id": "c1", "section": "9.9", "part": 0, "kind": "text", "path": "9 测试 > 9.9 测试", "title_en": "Test",
              "text": "**数据格式化（Data Formatting）** 第一句话在这里。第二句话也在这里。\n\n图 3：一张图的说明文字。"}
TABLE_CHUNK = {"id": "c2", "section": "9.9", "part": 1, "kind": "table", "path": "9 测试 > 9.9 测试", "title_en": "Test",
               "text": "表 5：基座模型的比较。\n| 模型 | MMLU | GSM8K |\n|---|---|---|\n| ≤ 7B 模型 | | |\n"
                       "| InternLM2-7B | <u>65.8</u> | **70.8** |"}


def test_text_chunks_split_into_sentences_with_their_paragraph_lead_and_figure_flag():
    units = chunk_units(TEXT_CHUNK)
    assert [u.text for u in units] == ["数据格式化（Data Formatting） 第一句话在这里。", "第二句话也在这里。", "图 3：一张图的说明文字。"]
    assert all("数据格式化（Data Formatting）" in u.context for u in units[:2])
    assert [u.figure for u in units] == [False, False, True]
    assert units[0].order == (0, 0, 0) and units[1].order == (0, 0, 1) and units[2].order == (0, 1, 0)


def test_table_rows_carry_header_caption_group_and_no_markup():
    (row,) = chunk_units(TABLE_CHUNK)  # the group row "≤ 7B 模型" labels the row, it is no unit itself
    assert row.kind == "row" and row.cells == ["InternLM2-7B", "65.8", "70.8"]
    assert row.header == ["模型", "MMLU", "GSM8K"] and row.caption.startswith("表 5")
    assert row.context.endswith("≤ 7B 模型")
    assert "MMLU: 65.8" in row.embed_text and "<u>" not in row.own_text
    assert row.raw == "| InternLM2-7B | <u>65.8</u> | **70.8** |"  # highlighted as written


def test_a_table_captions_sentences_after_its_title_are_units():
    chunk = {**TABLE_CHUNK, "text": TABLE_CHUNK["text"].replace(
        "表 5：基座模型的比较。", "表 5：基座模型的比较。**粗体**表示最佳模型。所有结果均使用 OpenCompass 评测工具包得到。")}
    *notes, row = chunk_units(chunk)
    # the title only names what the rows hold; the notes state things ("which toolkit …?")
    assert [u.text for u in notes] == ["粗体表示最佳模型。", "所有结果均使用 OpenCompass 评测工具包得到。"]
    assert all(u.kind == "sentence" and u.figure and u.order[:2] == (1, -1) for u in notes)
    assert notes[0].raw == "**粗体**表示最佳模型。"  # highlighted as written
    assert row.kind == "row" and row.caption.startswith("表 5：基座模型的比较。")
    assert all(u.kind == "row" for u in chunk_units(TABLE_CHUNK))  # a caption that is only a title adds nothing


CODE_CHUNK = {"id": "c4", "section": "9.9", "part": 3, "kind": "code", "path": "9 测试 > 9.9 测试", "title_en": "Test",
              "text": "```text\nSystem Prompt:\nAction: one of IPythonInterpreter.\n\nok\n```"}


def test_code_block_lines_are_units_that_carry_the_caption_before_them():
    before = "前一段。\n\n图 19：CIBench 中使用的提示词。\n\n**CIBench 中的提示词（Prompt in CIBench）**"
    units = chunk_units(CODE_CHUNK, before)
    assert [u.text for u in units] == ["System Prompt:", "Action: one of IPythonInterpreter."]  # fences, short lines out
    # the figure caption right before the block says what it is (the lead under it may be the report's slip)
    assert all(u.kind == "code" and "图 19：CIBench 中使用的提示词" in u.context for u in units)
    assert "前一段" not in units[0].context  # only what stands right before the block
    # corpus_units hands each code chunk the text chunk before it in its section
    (first, *_) = [u for u in corpus_units([TEXT_CHUNK, CODE_CHUNK]) if u.kind == "code"]
    assert "图 3" in first.context


def test_a_prompt_line_carries_the_part_of_the_prompt_it_is_in():
    text = "```text\nSystem Prompt:\nYou are an assistant.\n\nUser Prompt:\n{Question}. Please use {modules} modules.\n```"
    units = chunk_units({**CODE_CHUNK, "text": text}, "图 19：CIBench 中使用的提示词。")
    by_text = {u.text: u for u in units}
    assert "System Prompt" in by_text["You are an assistant."].context
    user = by_text["{Question}. Please use {modules} modules."].context
    assert "User Prompt" in user and "用户提示词" in user and "System Prompt" not in user  # with its Chinese term


def test_a_sentence_opening_with_qizhong_points_back():
    chunk = {**TEXT_CHUNK, "text": "图 19：CIBench 中使用的提示词。其中包括系统提示词以及用户提示词。"}
    caption, rest = chunk_units(chunk)
    assert "CIBench" in rest.context and "CIBench" not in caption.context


def test_a_sentence_in_two_overlapping_chunks_is_one_unit():
    again = {**TEXT_CHUNK, "id": "c3", "part": 2}
    assert len(corpus_units([TEXT_CHUNK, again])) == len(chunk_units(TEXT_CHUNK))


def test_units_round_trip_through_the_version_directory(tmp_path):
    units = corpus_units([TEXT_CHUNK, TABLE_CHUNK])
    vecs = np.eye(len(units), 4, dtype=np.float32)
    write_units(tmp_path, units, [["a"]] * len(units), [["b"]] * len(units), vecs, vecs * 2)
    back, tokens, own, v, ov = read_units(tmp_path)
    assert [u.to_json() for u in back] == [u.to_json() for u in units]
    assert tokens[0] == {"a"} and own[0] == {"b"} and np.allclose(v, vecs) and np.allclose(ov, vecs * 2)
    assert read_units(tmp_path / "missing") is None


@pytest.mark.parametrize("question, kind", [
    ("InternEvo 在 1024 张 GPU 上的 MFU 是多少？", "numeric"), ("代码质量打分模型迭代了几轮", "numeric"),
    ("为什么要用 GQA", "why"), ("COOL RLHF 是怎么解决奖励黑客问题的？", "how"),
    ("长文本过滤有哪几步", "list"), ("How does InternLM2-Chat-20B compare with GPT-3.5 on BBH?", "compare"),
])
def test_question_types(question, kind):
    assert getattr(QuestionType.of(question), kind)


def test_the_weights_were_fitted_on_development_sets_only_and_cover_every_feature():
    w = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert "sealed" not in w["fitted_on"] and w["fitted_on"]
    for mode in ("hybrid", "keyword"):
        assert set(w[mode]) == set(SCORED) and set(FEATURES) < set(SCORED)
        assert {"tie", "partial", "adds", "max_units"} <= set(w["select"][mode])
    assert w["keyword"]["dense"] == 0 and w["keyword"]["dense_own"] == 0  # keyword mode has no vectors


@pytest.mark.parametrize("question, facts", [
    # two facts in two sentences: both reach the first line
    ("奖励模型 loss 里 γ 和 λ 默认取多少", ["默认设为 2", "0.02"]),
    ("What is the KL divergence coefficient in PPO?", ["0.01"]),
    ("在线 RLHF 一共跑了几轮", ["三轮"]),
    # "InternLM2" alone is the report's subject: §3.3's "1.8B、7B 和 20B 模型…" is about it too
    ("InternLM2 预训练用了多少 token？", ["2.0T"]),
    # the sentence stating the total, not one of Table 4's rows
    ("能力专项增强训练用的数据总共有多少个 token？", ["240 亿"]),
    # a line of a prompt in the appendix (a code block)
    ("In the MTBench judge prompt, what exact format must the rating be written in?", ["[[rating]]"]),
])
def test_the_first_line_states_the_asked_facts(answerer, question, facts):
    a = answerer.ask(question)
    assert a.answerable
    line = first_line(a.answer)
    for fact in facts:
        assert fact in line, a.answer
    assert "[§" in line  # cited on the same line


def test_an_index_without_units_still_answers(built_index, tmp_path):
    """Indexes written before units existed: the units are split at load, without vectors."""
    import shutil

    from app.answer import Answerer
    from app.index import IndexHandle

    data = tmp_path / "data"
    shutil.copytree(built_index.data_dir, data)
    manifest = json.loads((data / "manifest.json").read_text())
    (data / "versions" / manifest["version"] / "units.jsonl").unlink()
    s = built_index.model_copy(update={"data_dir": data})
    a = Answerer(s, IndexHandle(s)).ask("SFT 的学习率是多少？")
    assert a.answerable and "4e-5" in first_line(a.answer)


def test_section_weights_were_fitted_on_development_sets_and_cover_every_feature():
    from app.ranking import FEATURES as SECTION_FEATURES
    from app.ranking import WEIGHTS_FILE as SECTION_WEIGHTS

    w = json.loads(SECTION_WEIGHTS.read_text(encoding="utf-8"))
    assert "sealed" not in w["fitted_on"] and w["fitted_on"]
    for mode in ("hybrid", "keyword"):
        assert set(w[mode]) == set(SECTION_FEATURES)
    assert w["keyword"]["unit_dense"] == 0 and w["keyword"]["dense"] == 0


def test_without_fitted_section_weights_sections_keep_the_fused_order(answerer, monkeypatch):
    from app import ranking
    from app.retrieval import retrieve

    monkeypatch.setattr(ranking, "load_weights", lambda: None)
    r = retrieve(answerer.handle, "COOL RLHF 的条件奖励模型是怎么训练的？", None, 5)
    assert [s.number for s in r.sections] == r.fused[:5]


@pytest.mark.parametrize("question, section", [
    # the overviews (abstract, introduction, a chapter's opening) mention it; the section explains it
    ("InternLM2 为什么采用 GQA？", "2.2"),
    ("COOL RLHF 的条件奖励模型是怎么训练的？", "4.2.1"),
])
def test_a_how_or_why_question_ranks_the_explaining_section_first(answerer, question, section):
    from app.retrieval import retrieve

    r = retrieve(answerer.handle, question, None, 5)
    assert r.sections[0].number == section, [s.number for s in r.sections]


def test_a_bold_label_alone_is_marked_and_a_paragraph_lead_is_not():
    from ingest.units import LABEL_ONLY

    assert LABEL_ONLY.fullmatch("**CIBench 中的提示词（Prompt in CIBench）**")
    assert LABEL_ONLY.fullmatch("**推理数据集（Reasoning Datasets）：**")
    assert not LABEL_ONLY.fullmatch("**训练细节（Training Details）** 在实验中，我们使奖励模型的规模与策略模型保持一致。")


def test_how_the_conditional_reward_model_is_trained_is_answered_from_its_own_section(answerer):
    """Its sections sit under "4.2 COOL 基于人类反馈的强化学习": that heading is COOL RLHF too."""
    a = answerer.ask("COOL RLHF 的条件奖励模型是怎么训练的？")
    assert a.answerable
    assert "[§4.2.1]" in first_line(a.answer).split("；")[0], a.answer
    # and names the other aspects the section treats in paragraphs of their own, each with its sentence
    # that best answers the question
    assert "§4.2.1 还讲到：" in a.answer, a.answer
    # the aspect the question asks about ("训练细节" for "怎么训练的") whole: optimiser, schedule, epochs
    training = a.answer.split("**训练细节（Training Details）**：", 1)[1]
    assert "SFT 模型的权重初始化奖励模型" in training and "AdamW" in training and "一个 epoch" in training, a.answer
    # an aspect's sentence that ends in a colon brings its formula
    assert "焦点排序损失" not in a.answer or "L_{ranking}" in a.answer


def test_the_outline_lists_the_led_paragraphs_the_answer_does_not_quote(answerer):
    from app.answer import outline

    index = answerer.handle.get()
    leads = [lead for lead, _ in outline(index, "4.2.2", [])]
    assert leads == ["快速路径（Fast Path）", "慢速路径（Slow Path）", "实现（Implementation）"]
    assert outline(index, "4.1", []) == []  # no paragraph of its own per aspect


def test_a_chosen_sentence_brings_the_next_one_when_it_goes_on_about_it(answerer):
    """"参数 λ 是一个加权系数…" is followed by "…我们将其默认值设为 0.02": the value is in the next sentence."""
    from app.answer import question_groups, with_antecedents
    from app.retrieval import Weighted, retrieve
    from app.selection import candidates

    r = retrieve(answerer.handle, "奖励模型损失里 λ 是什么？", None, 5)
    index = answerer.handle.get()
    ranked = candidates(index, r, Weighted.of(question_groups(r), index.idf), r.vector)
    definition = next(c for c in ranked if c.unit.text.startswith("参数 $\\lambda$ 是一个加权系数"))
    texts = [c.unit.text for c in with_antecedents([definition], ranked)]
    assert len(texts) == 2 and "0.02" in texts[1], texts
    # a sentence that does not point back stays out
    first = next(c for c in ranked if c.unit.text.startswith("条件奖励模型是针对以往"))
    assert [c.unit.text for c in with_antecedents([first], ranked)] == [first.unit.text]


def test_the_reports_subject_weighs_nothing_beside_other_terms():
    from app.retrieval import Weighted

    idf = {"internlm2": 0.3, "token": 2.0, "预训练": 1.5}
    assert Weighted.of([["internlm2"], ["token"], ["预训练"]], idf).weights == [0.0, 2.0, 1.5]
    assert Weighted.of([["internlm2"]], idf).weights == [0.3]


@pytest.mark.parametrize("question", ["What is InternLM2?", "InternLM2 是什么？"])
def test_a_question_only_about_the_subject_is_still_answered(answerer, question):
    """"InternLM2" alone weighs nothing beside other terms; asked about alone, it is what is asked."""
    assert answerer.ask(question).answerable


def test_a_prompt_lines_names_are_the_words_that_look_like_names():
    from app.selection import CODE_NAME
    from ingest.units import LABEL_ONLY

    def names(t):
        return [m.group(0) for m in CODE_NAME.finditer(t)]

    assert names("Action: The tool name, should be one of IPythonInterpreter.") == ["IPythonInterpreter"]
    assert names("Action Input: The input to the tool that you want to use.") == []
    # a translator's note on a bold label is about the label: the line still states nothing
    assert LABEL_ONLY.fullmatch("**CIBench 中的提示词（Prompt in CIBench）** ［译注：原文小标题如此，下面是 MATH 中使用的提示词］")


def test_a_number_that_only_points_somewhere_is_no_number():
    from app.selection import HAS_NUMBER, REFERENCE

    def has_number(text):
        return bool(HAS_NUMBER.search(REFERENCE.sub(" ", text)))

    # "How big is the SFT dataset?" wants 1000 万, not "图 7 展示了 SFT 数据…"
    assert not has_number("图 7 展示了 SFT 数据主题的详细分布。")
    assert not has_number("参照以往的工作 (Bai et al., 2022)，其做法是覆盖最新模型的回复。")
    assert not has_number("具体做法见第 4.2 节。")
    assert has_number("如表 17 所示，分别为 7.7 和 7.9。") and has_number("开展三轮在线 RLHF")


def test_a_short_sentence_ending_in_a_colon_joins_the_sentence_before_it():
    # "要点如下：" is too short to be a unit; dropped, it took with it the colon that says the list follows
    from ingest.units import chunk_units

    chunk = {"id": "c", "kind": "text", "section": "9.9", "title_zh": "测试", "title_en": "Test", "path": "9.9 测试",
             "text": "我们的贡献体现在两个方面。要点如下：\n\n1. **第一点（First）** 说明。"}
    units = chunk_units(chunk)
    assert [u.text for u in units] == ["我们的贡献体现在两个方面。要点如下：", "1. 第一点（First） 说明。"]
    assert units[0].raw == "我们的贡献体现在两个方面。要点如下："  # still found verbatim in the section reader


def test_a_code_block_is_what_its_figure_caption_says_not_a_mislabelled_lead():
    # the report heads the MATH prompt "Prompt in CIBench"; Figure 20's caption says what it is
    from ingest.units import chunk_units

    before = "图 20：MATH 中使用的提示词。\n\n**CIBench 中的提示词（Prompt in CIBench）** ［译注：原文小标题如此］"
    code = {"id": "k", "kind": "code", "section": "9.9", "title_zh": "测试", "title_en": "Test", "path": "9.9 测试",
            "text": "```text\nSystem Prompt:\nYou are an assistant.\n```"}
    units = chunk_units(code, before)
    assert units and all("MATH" in u.caption and "CIBench" not in u.caption for u in units)
    # without a figure caption the bold lead still says it
    units = chunk_units(code, "**AlpacaEval 中的提示词（Prompt in AlpacaEval）**")
    assert all("AlpacaEval" in u.caption for u in units)


def test_the_verb_of_a_result_weighs_little():
    from app.retrieval import PHRASING_WEIGHT, Weighted

    idf = {"reach": 6.0, "mfu": 4.0, "internevo": 3.0}  # "reach" is rare: a few source sentences have it
    w = Weighted.of([["mfu"], ["internevo"], ["reach"]], idf).weights
    assert w == [4.0, 3.0, 6.0 * PHRASING_WEIGHT]


def test_a_count_announced_is_answered_with_its_items(answerer):
    from app.evaluation import first_line

    line = first_line(answerer.ask("预训练分为哪几个阶段？").answer)
    assert all(s in line for s in ("第一阶段", "第二阶段", "第三阶段", "能力专项增强数据")), line
