"""Questions a table answers as a whole: the extreme row of the asked column (app/tables.py)."""

from __future__ import annotations

import pytest

from app.evaluation import first_line
from app.tables import ModelTables, extreme_asked, extreme_row
from ingest.units import chunk_units

from .refusals import assert_refused

TABLE = {"id": "t", "section": "9.9", "part": 0, "kind": "table", "path": "9 测试 > 9.9 测试", "title_en": "Test",
         "text": "表 7：模型比较。\n| 模型（Models） | GSM8K | MATH |\n|---|---|---|\n| **≤ 7B 模型** | | |\n"
                 "| Qwen-7B | 51.7 | **11.6** |\n| ChatGLM3-6B | 60.7 | 8.0 |\n| **13∼20B 模型** | | |\n"
                 "| Qwen-14B | **60.7** | 5.0 |\n| Llama2-13B | 28.7 | - |"}
ROWS = chunk_units(TABLE)


def _sentences(text: str) -> list:
    """A paragraph of section 9.9 as units."""
    return chunk_units({**TABLE, "id": "p", "kind": "text", "text": text}) if text else []


@pytest.mark.parametrize("question, direction", [
    ("Which model is best on GSM8K?", 1), ("哪个模型 MATH 最高", 1), ("which model scores lowest on MATH?", -1),
    ("谁的 GSM8K 最差", -1), ("What is the best learning rate?", 0),  # not "which": no table question
    ("InternLM2 的 GSM8K 是多少", 0),
    # the verbs that say "best", and "what is the top … score"
    ("Which base model tops HellaSwag?", 1), ("Among the 7B base models, which one leads on CMMLU?", 1),
    ("Which base model comes first on MBPP-CN?", 1), ("What is the top C3 score among the chat models?", 1),
    ("哪个模型在 GSM8K 上排第一", 1), ("Which model comes last on MATH?", -1),
    ("Which stage leads to better results?", 0),  # "leads to" is not "leads on"
])
def test_which_questions_with_a_superlative_ask_for_an_extreme(question, direction):
    assert extreme_asked(question) == direction


def test_the_extreme_row_of_the_asked_column_with_ties_and_missing_values():
    e = extreme_row(ROWS, [(["gsm8k"], 3.0)], 1)
    assert [u.cells[0] for u in e.rows] == ["ChatGLM3-6B", "Qwen-14B"] and e.value == "60.7" and e.compared == 4
    e = extreme_row(ROWS, [(["math"], 3.0)], -1)  # "-" is no value: 3 rows compared
    assert [u.cells[0] for u in e.rows] == ["Qwen-14B"] and e.value == "5.0" and e.compared == 3
    assert e.column == "MATH"


def test_the_question_narrows_the_rows_by_name_or_group():
    # "7B" names the group row "≤ 7B 模型": ChatGLM3-6B is in it although its name has no 7B
    e = extreme_row(ROWS, [(["7b"], 2.0), (["gsm8k"], 3.0)], 1)
    assert [u.cells[0] for u in e.rows] == ["ChatGLM3-6B"] and e.compared == 2


def test_a_range_as_a_reader_types_it_narrows_to_its_group():
    from ingest.keywords import query_groups

    (group,) = [g for g in query_groups("Which model is worst on GSM8K among the 13-20B models?") if "13-20b" in g]
    e = extreme_row(chunk_units(TABLE), [(group, 2.0), (["gsm8k"], 3.0)], -1)  # the table writes 13∼20B
    assert [u.cells[0] for u in e.rows] == ["Llama2-13B"] and e.compared == 2


def test_what_the_caption_says_of_every_row_does_not_narrow_and_a_total_row_is_no_candidate():
    table = {**TABLE, "text": "表 4：增强训练的数据详情。\n| 类别 | 占比（%） |\n|---|---|\n| 检索得到的 STEM 数据 | 65 |\n"
                                "| 精选高质量数据 | 26 |\n| 预训练代码 | 9 |\n| 总计（Total） | 100 |"}
    rows = chunk_units(table)
    # "数据" is in the caption: every row is data, whether or not its name says so
    e = extreme_row(rows, [(["数据"], 1.0), (["占比"], 3.0)], -1)
    assert [u.cells[0] for u in e.rows] == ["预训练代码"] and e.compared == 3
    e = extreme_row(rows, [(["占比"], 3.0)], 1)
    assert [u.cells[0] for u in e.rows] == ["检索得到的 STEM 数据"]  # not the total


def test_a_chinese_question_finds_the_column_as_the_rows_do():
    """总分/平均分 name an "Avg." column, and a Chinese word inside a header's names it (层 in 层数)."""
    table = {**TABLE, "text": "表 8：测试。\n| 模型 | 层数 | Avg. |\n|---|---|---|\n| A-7B | 32 | 50.1 |\n"
                                "| B-7B | 48 | 61.0 |\n| C-7B | 24 | 40.2 |"}
    rows = chunk_units(table)
    e = extreme_row(rows, [(["平均分"], 2.0)], 1)
    assert e is not None and e.column == "Avg." and [u.cells[0] for u in e.rows] == ["B-7B"]
    e = extreme_row(rows, [(["层"], 2.0)], -1)
    assert e is not None and e.column == "层数" and e.value == "24"


def test_overall_asks_for_the_average_column_of_equals():
    table = {**TABLE, "text": "表 9：测试。\n| 模型 | L-Eval Close | L-Eval Avg. |\n|---|---|---|\n| A | 70.0 | 40.0 |\n"
                                "| B | 60.0 | 50.0 |"}
    rows = chunk_units(table)
    e = extreme_row(rows, [(["l-eval"], 2.0)], 1, "Which model does best on L-Eval overall?")
    assert e.column == "L-Eval Avg." and [u.cells[0] for u in e.rows] == ["B"]
    e = extreme_row(rows, [(["l-eval"], 2.0)], 1, "Which model does best on L-Eval?")
    assert e.column == "L-Eval Close"  # not asked: the first column the question names


def test_no_extreme_without_an_asked_column():
    assert extreme_row(ROWS, [(["mmlu"], 3.0)], 1) is None


@pytest.mark.parametrize("question, facts", [
    ("Which model gets the best L-Eval average?", ["InternLM2-Chat-20B-SFT", "49.4", "§5.2.6"]),
    ("哪个 7B 对话模型在 MATH 上最高", ["InternLM2-Chat-7B", "23.6", "表 11", "7 行"]),
])
def test_which_model_is_best_is_answered_from_the_whole_table(answerer, question, facts):
    line = first_line(answerer.ask(question).answer)
    for fact in facts:
        assert fact in line, line


@pytest.mark.parametrize("question", ["表 4 中哪一类增强数据占比最大？", "Which data category has the largest share in Table 4?"])
def test_the_share_column_is_found_in_chinese_and_english(answerer, question):
    # 占比 was cut into two dropped characters, and "share" did not name the 占比 column
    line = first_line(answerer.ask(question).answer)
    assert "STEM" in line and "65" in line and "§3.3.3" in line, line


def test_a_symbol_headers_glossary_term_does_not_name_every_symbol_column():
    """"layers" is also n_{\\mathrm{layers}}: its query tokens are layers, not "n" and "mathrm", which
    every symbol header of Table 3 holds (so "几层，隐藏维度多少" is two columns, not one)."""
    from ingest.keywords import query_groups, tokenize
    from app.tables import names_column

    layers = next(g for g in query_groups("How many layers does it have?") if g[0] == "layers")
    assert "mathrm" not in layers and "n" not in layers
    dim = frozenset(tokenize("隐藏维度 $n_{\\mathrm{dim}}$"))
    assert not names_column(dim, set(layers))
    assert names_column(frozenset(tokenize("层数 $n_{\\mathrm{layers}}$")), set(layers))


@pytest.mark.parametrize("question, missing", [
    ("Llama2-13B 的 MATH 多少分", ("Llama2-13B", "MATH", True)),  # its cell is "-"
    ("What GSM8K score does Qwen1.5-7B-Chat get?", ("Qwen1.5-7B-Chat", "GSM8K", False)),  # no row
    ("GPT-4 和 Qwen-7B 的 GSM8K 分别是多少", ("GPT-4", "GSM8K", False)),  # one of two models has none
])
def test_a_models_result_no_table_gives_is_missing(question, missing):
    from app.tables import missing_cell

    m = missing_cell(question, ModelTables.of(ROWS))
    assert m is not None and (m.model, m.benchmark, m.empty) == missing and m.caption.startswith("表 7")


@pytest.mark.parametrize("question, said", [
    ("Qwen-7B 的 GSM8K 多少分", ""),  # a value
    ("Qwen-7B 在 MATH 上呢", ""),
    ("Qwen 的 MATH 多少分", ""),  # no model named by size or version: nothing to look up
    ("Qwen-7B 的 HumanEval 多少分", ""),  # no such column here: other rules decide
    ("Qwen-14B 的 MATH 多少分", ""),
    ("14B 的 GSM8K", ""),
    # a shortened name stands for the rows whose names hold it
    ("GLM3-6B 的 GSM8K 多少分", ""),
    # a section's text may state it (made up for the test)
    ("Llama2-13B 的 MATH 多少分", "Llama2-13B 在 MATH 上仅得 3.0 分。"),
    ("Llama2-13B 的 MATH 多少分", "本节比较 MATH。Llama2-13B 仅得 3.0 分。"),  # a sentence on the model, in the section
])
def test_a_stated_or_unnamed_result_is_not_missing(question, said):
    from app.tables import missing_cell

    assert missing_cell(question, ModelTables.of(ROWS + _sentences(said))) is None


def test_a_sentence_naming_the_model_without_a_value_states_no_result():
    from app.tables import missing_cell

    said = _sentences("本节比较 MATH。图 16 显示，Llama2-13B 的表现可与 Qwen-14B (Bai et al., 2023) 相媲美。")
    m = missing_cell("Llama2-13B 的 MATH 多少分", ModelTables.of(ROWS + said))
    assert m is not None and m.empty


def test_a_table_of_data_not_of_models_has_no_results():
    from app.tables import missing_cell

    table = {**TABLE, "text": "表 4：数据详情。\n| 类别 | Token 数（B） |\n|---|---|\n| 检索得到的 STEM 数据 | 15.97 |"}
    assert missing_cell("Qwen-14B 预训练用了多少 token", ModelTables.of(chunk_units(table))) is None


@pytest.mark.parametrize("question, message", [
    ("What MTBench score did ChatGLM3-6B get?", "Table 17 has no MTBench result for ChatGLM3-6B (its cell is “-”)"),
    ("Mistral-7B-Instruct-v0.2 的 AlignBench 得分是多少", "表 17 中 Mistral-7B-Instruct-v0.2 的 AlignBench 一栏是“-”"),
    ("Qwen1.5-7B-Chat 的 GSM8K 成绩是多少", "报告的表格中没有 Qwen1.5-7B-Chat 在 GSM8K 上的结果（表 10 列出的是其他模型）"),
    ("What's GPT-3.5's T-Eval score?", "No table of the report gives GPT-3.5's T-Eval result (Table 16 lists other models)"),
    # a model as a row names it; the column the question names most exactly, not every "Anthropic …" one
    ("What accuracy does QwenRM reach on Anthropic Harmless-base?",
     "Table 19 has no Anthropic Harmless-base result for QwenRM (its cell is “-”)"),
    # §5.3.2 names GPT4-Turbo as the judge and says InternLM2's win rates "可与 GPT4-Turbo 相媲美": no value
    ("GPT4-Turbo 在 CompassArena 上的胜率具体是多少？", "报告的表格中没有 GPT4-Turbo 在 CompassArena 上的结果"),
])
def test_a_result_no_table_gives_is_refused_by_name(answerer, question, message):
    assert_refused(answerer, question, message)


@pytest.mark.parametrize("question, fact", [
    ("InternLM2-Chat-20B 的 MTBench 多少分", "7.9"),
    ("ChatGLM3-6B 的 CompassArena 胜率", "17.2"),
    ("What AlpacaEval win rate did InternLM2-20B reach?", "21.8"),  # §5.3.1's text calls the chat model so
])
def test_a_result_a_table_or_the_text_gives_is_answered(answerer, question, fact):
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


@pytest.mark.parametrize("question, message", [
    ("What's InternLM2-Chat-20B's win rate in the Math category of CompassArena?",
     "Table 17 gives only InternLM2-Chat-20B's overall CompassArena result; the report does not break out its Math part"),
    ("InternLM2-20B 在 MMLU 的 STEM 子类上得了多少分？", "表 5 只给出了 InternLM2-20B 在 MMLU 上的总体结果，报告没有单列“STEM”这一部分"),
    ("How did InternLM2-Chat-7B do on the Java part of HumanEval-X?", "Table 13 gives only InternLM2-Chat-7B's overall HumanEval-X"),
    ("What BLEU does InternLM2-Chat-20B get on English-to-Chinese translation in FLORES?",
     "Table 8 gives only InternLM2-Chat-20B's overall FLORES result; the report does not break out its English-to-Chinese part"),
])
def test_a_part_of_a_benchmark_no_table_breaks_out_is_refused(answerer, question, message):
    assert_refused(answerer, question, message)


@pytest.mark.parametrize("question, fact", [
    ("InternLM2-Chat-20B 在 AlignBench 的数学类上多少分？", "5.38"),  # Table 18, whose caption names AlignBench
    ("InternLM2-Chat-20B 在 L-Eval 封闭式部分的分数是多少", "68.6"),  # the caption's legend: Close → 封闭式
    ("What is InternLM2-Chat-20B-SFT's score on the synthetic tasks category of LongBench?", "Syn"),
    ("What did InternLM2-Chat-7B get on the Chinese part of T-Eval?", "65.4"),
])
def test_a_part_a_table_breaks_out_is_answered(answerer, question, fact):
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


@pytest.mark.parametrize("question", ["How does InternLM2-Chat-20B do on translation in FLORES?",
                                      "How does InternLM2-7B perform on the translation in FLORES?"])
def test_a_question_naming_no_part_asks_for_none(answerer, question):
    from app.answer import _model_tables
    from app.tables import missing_cell

    assert missing_cell(question, _model_tables(answerer.handle.get())) is None  # "do on" is no part
    assert answerer.ask(question).answerable


CONTAMINATION = {**TABLE, "text": "表 20：基座模型在 GSM8K 上的数据污染评测。\n| 模型（Models） | 测试集损失 $L_{test}$ | 训练集损失 "
                                  "$L_{train}$ |\n|---|---|---|\n| Qwen-14B | 1.11 | 0.88 |"}


@pytest.mark.parametrize("question, other", [
    ("What is Qwen-14B's test loss on MATH?", ("MATH", "GSM8K")),
    ("Qwen-14B 在 HumanEval 上的测试集损失", ("HumanEval", "GSM8K")),
    ("Qwen-14B 在 GSM8K 上的测试集损失", None),  # the caption's benchmark
    ("What is Qwen-14B's test loss in math?", None),  # a lower-case word is no name
    ("Qwen-14B 在 MATH 和 HumanEval 上的测试集损失", None),  # two benchmarks: not this rule's to judge
])
def test_a_row_of_a_table_on_another_benchmark_does_not_answer(question, other):
    from app.tables import other_benchmark

    rows = chunk_units(CONTAMINATION)
    # Table 7's columns make GSM8K and MATH known benchmarks, and its copy's HumanEval
    tables = ModelTables.of(ROWS + rows + chunk_units({**TABLE, "text": TABLE["text"].replace("MATH", "HumanEval")}))
    assert other_benchmark(question, rows[-1], tables) == other
    # a table whose caption names no benchmark is about what its columns say
    assert other_benchmark(question, ROWS[-1], tables) is None


def test_a_result_only_a_table_on_another_benchmark_gives_is_refused_by_name(answerer):
    # Table 20 gives language-modelling losses on GSM8K only; Table 10 has InternLM2-20B's MATH score
    assert_refused(answerer, "InternLM2-20B 在 MATH 上的测试集损失是多少？",
                   "表 20 只给出了 GSM8K 上的结果，报告没有给出 MATH 上的这一结果")
    a = answerer.ask("InternLM2-20B 在 GSM8K 上的测试集损失是多少？")
    assert a.answerable and "1.52" in a.answer, a.answer
