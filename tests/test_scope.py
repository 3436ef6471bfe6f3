"""Whether the report answers a question at all (app/scope.py) and the hard rules beside it."""

from __future__ import annotations

import pytest

from app.retrieval import unknown_names
from app.scope import FEATURES, REQUEST, ScopeSignals, in_scope_probability, load_weights

from .refusals import assert_refused


@pytest.mark.parametrize("question, asks", [
    ("帮我用 Python 写一个快速排序。", True), ("给我写一首五言绝句", True), ("推荐几本入门深度学习的书吧", True),
    ("Write me a Python function that reverses a linked list.", True), ("Can you write a haiku?", True),
    ("帮我总结一下 COOL RLHF 的思路", False), ("What does Table 3 suggest?", False), ("请问 GQA 是什么", False),
    ("How does InternEvo reduce GPU memory?", False), ("How do I build a web page with HTML and CSS?", True),
])
def test_a_request_to_produce_something_is_told_from_a_question(question, asks):
    assert bool(REQUEST.search(question)) is asks


def test_the_fitted_model_is_complete_and_monotone():
    w = load_weights()
    assert set(w["weights"]) == {"bias", *FEATURES} and 0 < w["threshold"] < 1
    base = ScopeSignals(evidence=0.5, unknown_share=0.0, request=False)
    # more of the question found: more likely answered; unknown words or a request: less
    assert in_scope_probability(ScopeSignals(0.9, 0.0, False)) > in_scope_probability(base)
    assert in_scope_probability(ScopeSignals(0.5, 0.3, False)) < in_scope_probability(base)
    assert in_scope_probability(ScopeSignals(0.5, 0.0, True)) < in_scope_probability(base)


@pytest.mark.parametrize("question", ["帮我用 Python 写一个快速排序。", "Write me a Python function that reverses a linked list.",
                                      "推荐几本入门深度学习的书吧"])
def test_requests_to_produce_something_are_refused(answerer, question):
    a = answerer.ask(question)
    assert not a.answerable and a.citations == [] and a.evidence < answerer.min_evidence, a.answer


def test_an_unknown_plain_word_counts_by_its_share_of_the_question(answerer):
    # (one unknown word among many specific ones found together is a paraphrase, answered: see
    # test_answer.py's "length cutoff") the unknown word is most of the question: refused, naming it
    a = answerer.ask("What dropout rate does InternLM2 use?")
    assert not a.answerable and "dropout" in a.answer
    assert a.evidence < answerer.ask("what's the length cutoff for the first stage of the long-text filtering pipeline?").evidence


def test_a_known_name_made_an_adjective_is_not_an_unknown_name(answerer):
    index = answerer.handle.get()
    assert unknown_names("What was the point of mixing Chinese tokens into the cl100k-based vocabulary?", index) == []
    assert unknown_names("How does a Qwen2-style tokenizer differ?", index) == ["Qwen2-style"]


def test_a_question_comparing_two_sizes_is_not_refused_by_the_size_rule(answerer):
    a = answerer.ask("Does going from 7B to 20B make InternLM2 much better at long-context tasks?")
    assert "没有讲到" not in a.answer and "is about" not in a.answer, a.answer


def test_the_threshold_refuses_no_more_in_scope_questions_than_it_must():
    """Of the thresholds that decide the most questions right within the false-refusal cap, the one
    halfway between the last out-of-scope question refused and the nearest in-scope one above it —
    not the highest, nor the middle of the range, which both refuse in-scope ones for nothing."""
    import numpy as np

    from benchmarks.fit_scope import threshold

    w = np.array([0.0, 1.0])  # p = sigmoid(x)
    x = {p: float(np.log(p / (1 - p))) for p in (0.2, 0.3, 0.42, 0.6, 0.9, 0.95)}
    inscope = [(np.array([x[p]]), True) for p in [0.42, 0.6, *([0.9] * 98)]]  # 100 in scope
    oos = [(np.array([x[p]]), False) for p in (0.2, 0.3, 0.95)]
    t = threshold(w, inscope + oos)
    # 0.95 cannot be refused within 2.5 % false refusals; 0.2 and 0.3 can, by any threshold from just
    # above 0.3 (no false refusal) to just above 0.6 (two); halfway between 0.3 and 0.42 refuses none
    assert 0.3 < t < 0.42 and round(t, 2) == 0.36
    # one more out-of-scope question (0.91) refused for twelve in-scope ones (1.2 %, under the cap):
    # not worth it
    x[0.91] = float(np.log(0.91 / 0.09))
    many = [(np.array([x[p]]), True) for p in [0.42, 0.6, *([0.9] * 10), *([0.95] * 988)]]
    t = threshold(w, many + [(np.array([x[p]]), False) for p in (0.2, 0.3, 0.91)])
    assert 0.3 < t < 0.42, t


def test_a_term_the_index_never_saw_matches_its_known_parts():
    from types import SimpleNamespace

    from app.retrieval import with_known_parts

    index = SimpleNamespace(idf={"rlhf": 2.0, "题": 3.0, "绝对": 1.5, "天": 1.0}, chinese_uncovered=frozenset({"天气"}))
    got = with_known_parts([["pre-rlhf"], ["道题"], ["绝对值"], ["天气"], ["rlhf"], ["bread"]], index)
    assert got == [["pre-rlhf", "rlhf"], ["道题", "题"], ["绝对值", "绝对"], ["天气"], ["rlhf"], ["bread"]]


def test_coverage_is_the_same_whatever_order_the_terms_come_in():
    # a sum in set order differed in the last bit between processes (string hashing), and two units of
    # equal coverage then swapped ranks: the same question got a different answer after a restart
    from itertools import permutations

    from app.retrieval import Weighted, coverage

    weights = [0.1, 0.2, 0.3, 0.7]
    values = set()
    for order in permutations(range(4)):
        w = Weighted([[f"t{k}"] for k in order], [weights[k] for k in order])
        assert coverage(w, {"t0", "t1", "t2", "t3"}) == 1.0
        values.add(coverage(w, {"t0", "t1", "t2"}))
    assert len(values) == 1


def test_sizes_listed_together_are_one_slot_of_the_question_and_never_apart_alone(built_index):
    from app.index import IndexHandle
    from app.retrieval import never_together, sizes_as_one

    assert sizes_as_one([["1.8b"], ["7b"], ["gsm8k"], ["20b"]]) == [["1.8b", "7b", "20b"], ["gsm8k"]]
    assert sizes_as_one([["7b"], ["gsm8k"]]) == [["7b"], ["gsm8k"]]
    index = IndexHandle(built_index).get()
    # Table 10 has 7B and 20B rows with GSM8K; no passage has 1.8B with GSM8K (nor all three with it)
    assert never_together("1.8B、7B、20B 三个基座模型在 GSM8K 上各是多少？", index) == []
    assert never_together("1.8B 的模型 GSM8K 能跑多少分", index) != []


def test_a_plain_english_word_the_glossary_renders_is_no_reason_to_refuse(answerer):
    # "stand-in" weighed most and matched nothing: the report says 代理 (RLHF's reward model is a proxy)
    a = answerer.ask("According to the report, what is a reward model a stand-in for in RLHF?")
    assert a.answerable and "人类偏好的代理" in a.answer, a.answer


def test_a_name_given_as_an_example_is_no_reason_to_refuse(answerer):
    # "README" is not in the report, which answers: "Markdown 文件和其他文档…放在…第一个代码文件之前"
    from app.retrieval import given_as_example

    a = answerer.ask("做依赖排序时，README、文档这类非代码文件被放在什么位置？")
    assert a.answerable and "第一个代码文件之前" in a.answer, a.answer
    assert given_as_example("README", "Where do non-code files such as README go?")
    assert not given_as_example("Qwen2-7B", "Qwen2-7B 的 MMLU 多少分")  # the asked model itself
    assert not answerer.ask("Qwen2-7B 的 MMLU 多少分").answerable


@pytest.mark.parametrize("question, message", [
    # §4.3 says long-context data is mixed into SFT, never how much of it
    ("SFT 阶段混进去的长上下文数据占全部 SFT 数据的比例是多少？", "报告讲到了这个话题，但没有给出所问的“比例”的具体数值"),
    # §3.1.1 trains the two classifiers and reports no accuracy (分类 inside 分类器 counts once, so
    # Table 2's code-quality classifiers no longer cover the question)
    ("广告分类器和流畅度分类器的准确率分别是多少？", "报告讲到了这个话题，但没有给出所问的“准确率”的具体数值"),
    # §4.2.2 says each round refined the reward model, never how accurate it was
    ("每一轮在线 RLHF 之后，奖励模型在内部测试集上的准确率分别是多少？", "报告讲到了这个话题，但没有给出所问的“准确率”的具体数值"),
    # §4.1 lists code generation among SFT's topics; Figure 7's shares are not in the text
    ("What percentage of the SFT data is code generation?", "The report discusses this but gives no figure for the asked percentage"),
    # "滤除得分低于阈值的数据": a threshold, no figure ("二次过滤" is no figure either)
    ("What score thresholds were used for the toxicity and pornography classifiers?",
     "The report discusses this but gives no figure for the asked thresholds"),
    # §2.1 saves checkpoints "按预设的时间间隔", never how often
    ("How often are checkpoints saved by the asynchronous saving mechanism?",
     "The report discusses this but gives no figure for the asked frequency"),
    ("InternEvo 每隔多久保存一次检查点？", "报告讲到了这个话题，但没有给出所问的“频率”的具体数值"),
    # Table 4's token counts are no learning rate: a row states its header's quantities only
    ("What exact learning rate and batch size were used in the capability-specific enhancement stage?",
     "The report discusses this but gives no figure for the asked learning rate and batch size"),
    # §3.1.3 says the filters cut "很大一部分" of Common Crawl, never how much
    ("长文本过滤之后 Common Crawl 数据被删掉了百分之多少", "报告讲到了这个话题，但没有给出所问的“百分比”的具体数值"),
    ("What fraction of the web data got removed by the MinHash dedup step?",
     "The report discusses this but gives no figure for the asked fraction"),
    # §4.1's "InternLM2-Chat-7B-SFT" and "1000 万条" name a model and count samples, no batch
    ("what global batch size did they use for SFT?", "The report discusses this but gives no figure for the asked"),
    # §4.2.1's 16,384-token batches are the reward model's; its paragraph names SFT only in passing
    ("what batch size did they use for SFT?", "The report discusses this but gives no figure for the asked batch size"),
    ("PPO 的 batch size 是多少？", "报告讲到了这个话题，但没有给出所问的“batch size”的具体数值"),
    # … also when the question names more than SFT: the rarest name it writes must be in the unit or
    # its section (§2.1's "序列长度、模型规模和批大小" and "100 万 token" are InternEvo's, not SFT's)
    ("What batch size and max sequence length did SFT use?", "The report discusses this but gives no figure for the asked batch size"),
    ("监督微调（SFT）时每个 batch 有多少 token？", "报告讲到了这个话题，但没有给出所问的“batch”的具体数值"),
    # §3.1.2 names GitHub among the code data's sources; Table 2's shares are of quality levels, and
    # Figure 4's label list ("10k+", ">32k?") states no share of anything
    ("What proportion of the code data comes from GitHub?", "The report discusses this but gives no figure for the asked proportion"),
    ("代码数据中直接从 GitHub 抓取的部分占多大比例？", "报告讲到了这个话题，但没有给出所问的“比例”的具体数值"),
])
def test_a_figure_the_report_never_states_is_refused_by_name(answerer, question, message):
    assert_refused(answerer, question, message)


def assert_passes(rule, answerer, question: str, fact: str) -> None:
    """The refusal rule lets the question through, and the answer states the fact."""
    from app.answer import question_parts

    assert rule(question_parts(question), answerer.handle.get()) is None
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


@pytest.mark.parametrize("question, fact", [
    ("What is the reward model's batch size?", "16384"),  # §4.2.1 says 批次, not 批大小
    ("SFT 的学习率是多少？", "4e-5"),
    ("网页数据做模糊去重时 MinHash 用了几个哈希函数，阈值设的多少？", "0.7"),  # the paragraph is about dedup, not 网页
    ("代码数据里高质量的部分有多少 GB？占比多少？", "%"),  # each part on its own: "占比多少" asks nothing else
    # a share stated as a percentage without the word: "其中，来自网页的中英文数据占总量的 86.46%"
    ("网页数据占总量的比例", "86.46%"),
    ("长度不超过 4096 的数据占训练步数的比例", "90%"),
    # a score stated by a table row whose header does not say 准确率
    ("InternLM2-Chat-7B 在 HumanEval 上的准确率是多少？", "59.2"),
    # the figure beside every other word of the question: "取 top p = 0.9"
    ("top p 阈值设多少？", "0.9"),
    ("What top-p threshold is used during PPO sampling?", "0.9"),  # "top-p" is the report's "top p"
    # a threshold stated as a bound: "星标数超过 10,000 的仓库"
    ("What star threshold was used when collecting GitHub repos for long-context code data?", "10,000"),
    # the rarest name of the question is in the unit that states the figure (AdamW), or in its section's
    # path (§4.2's COOL RLHF)
    ("What learning rate does AdamW use for SFT?", "4e-5"),
    ("What batch size does the COOL RLHF reward model train with?", "16384"),
])
def test_a_stated_figure_is_not_refused(answerer, question, fact):
    from app.scope import missing_figure

    assert_passes(missing_figure, answerer, question, fact)


@pytest.mark.parametrize("question, message", [
    # 512 is only a tick of Figure 1's GPU axis: §2.1's text states the MFU at 8 and 1024 GPUs
    ("InternEvo 在 512 张卡上训 7B 的 MFU 是多少", "报告只在图 1 中以图形展示了“512”的结果，正文没有给出具体数值"),
    ("What MFU does InternEvo reach on 512 GPUs?", "The report shows “512” only in Figure 1 as a chart"),
    # Figure 15's bars: MathBench's parts appear in no table or sentence
    ("What accuracy does InternLM2-Chat-20B + ReAct get on MathBench Knowledge-English?",
     "The report shows “Knowledge-English” only in Figure 15 as a chart"),
    # Figure 13's heatmap is the only place the 200K model is named
    ("What exact retrieval accuracy does InternLM2-7B-200K reach at 200k tokens in the needle test?",
     "The report shows “InternLM2-7B-200K” only in Figure 13 as a chart"),
    # each name is in the text, but only Figure 14's bars have the model with GSM8K + ReAct
    ("InternLM2-Chat-7B 用代码解释器（GSM8K + ReAct）之后 GSM8K 具体是多少分？",
     "报告只在图 14 中以图形展示了“InternLM2-Chat-7B”、“GSM8K”和“ReAct”的结果"),
])
def test_a_value_only_a_chart_shows_is_refused_by_name(answerer, question, message):
    assert_refused(answerer, question, message)


@pytest.mark.parametrize("question, fact", [
    # 256K is a tick of Figure 1 and also §2.1's "256,000 token": the text states that MFU
    ("序列长度 256k 时 InternEvo 的 MFU 多少？", "88%"),
    ("What MFU does InternEvo keep at 1024 GPUs?", "53%"),
    # Figure 14 has these names too, and so does Table 11's row
    ("InternLM2-Chat-7B 在 GSM8K 上多少分？", "70.7"),
    # 128 is named by Figure 1's caption, which states a figure (4096)
    ("在 128 张 GPU 上测试不同序列长度时，另一组实验的序列长度是多少？", "4096"),
])
def test_a_value_the_text_states_beside_a_chart_is_answered(answerer, question, fact):
    from app.scope import chart_only

    assert_passes(chart_only, answerer, question, fact)


@pytest.mark.parametrize("question, message", [
    # §2.1 gives DeepSpeed's MFU at 1,024 GPUs and Megatron-LM's at 256K-token sequences, in two paragraphs
    ("What MFU does Megatron-LM reach on 1024 GPUs?", "No passage of the report mentions Megatron-LM and 1024 GPUs together"),
    ("Megatron-LM 在 1024 张卡上的 MFU 是多少？", "报告中没有哪一段同时讲到“Megatron-LM”和“1024 张卡”"),
])
def test_a_name_at_a_size_no_paragraph_gives_together_is_refused(answerer, question, message):
    assert_refused(answerer, question, message)


@pytest.mark.parametrize("question, fact", [
    ("What MFU does DeepSpeed reach on 1024 GPUs?", "36%"),
    ("What MFU do DeepSpeed-Ulysses and Megatron-LM reach at a 256K sequence length?", "65%"),
])
def test_a_name_at_a_size_its_paragraph_states_is_answered(answerer, question, fact):
    from app.scope import size_apart

    assert_passes(size_apart, answerer, question, fact)


def test_a_term_the_text_renders_in_chinese_is_not_chart_only(answerer):
    # only Figure 20 writes "Few-shot" in English, but Table 15's note renders it (少样本): a count of
    # few-shot examples is no value only a chart shows (the figure's part names have no such rendering)
    from app.answer import question_parts
    from app.scope import chart_only

    index = answerer.handle.get()
    question = "How many few-shot examples are used for GSM8K?"
    assert chart_only(question_parts(question), index) is None
    assert answerer.ask(question).answerable
    assert chart_only(["What accuracy does InternLM2-Chat-7B get on Application-Chinese?"], index) is not None
    # a bound is no configuration a chart plots: "above 60" (60 is only Figure 14's axis)
    assert chart_only(["Which models score above 60 on MMLU?"], index) is None


def test_a_figure_question_whose_word_the_report_never_uses_says_so(answerer):
    # "clip" is a word the report never uses: that says more than "no figure for the ratio"
    assert_refused(answerer, "PPO 训练时的裁剪系数 ε（clip ratio）设的是多少？", "报告中没有提到“clip”")


@pytest.mark.parametrize("question", ["InternLM2-1.8B 在 MMLU 上考了多少分？", "1.8B 模型 SFT 的时候 lr 设的多少"])
def test_a_size_the_quoted_rows_are_not_about_is_refused_even_after_a_sentence_naming_none(answerer, question):
    # MMLU's description names no size; the rows quoted after it are 7B's and 20B's, Table 5 has no 1.8B
    a = answerer.ask(question)
    assert not a.answerable and "没有讲到 1.8B" in a.answer, a.answer


def test_a_rows_size_is_its_tables_when_its_name_gives_none(answerer):
    # Table 19's own rows are "本文模型 …"; its caption says they are the 7B reward model
    a = answerer.ask("条件奖励模型 20B 版本在 Stanford SHP 上的精度是多少？")
    assert not a.answerable and "没有讲到 20B" in a.answer, a.answer
    a = answerer.ask("7B 奖励模型在 Stanford SHP 上用条件提示词的精度是多少")
    assert a.answerable and "75.76" in a.answer, a.answer


def test_a_citation_year_or_a_subscript_is_no_figure(built_index):
    from app.index import IndexHandle
    from app.scope import _figures

    index = IndexHandle(built_index).get()
    figures = set(_figures(index).figures)
    said = {u.text: i in figures for i, u in enumerate(index.units)}
    assert not any(d for t, d in said.items() if t.startswith("(2024)"))  # a citation split off its sentence
    assert not said["我们对其用法稍作改动，用它来估计两个文本片段之间的条件概率 $P(S_2 \\mid S_1)$，其中 $S_1$ 位于 $S_2$ 之前。"]
    assert said["最大上下文长度设为 8192。"]
    # a model's name or size states no figure; a figure's description gives its axes, not its values
    assert not any(d for t, d in said.items() if t.startswith("在 7B 和 20B 两个规模上，InternLM2 相比 InternLM2-Base"))
    assert not any(d for t, d in said.items() if t.startswith("图中为分组条形图，纵轴为胜率（WinRatio，0～70）"))
    assert any(d for t, d in said.items() if t.startswith("如表 17 所示，InternLM2 在 7B 版本（28.7）"))


@pytest.mark.parametrize("question, message", [
    # §4.4 names the Agent-FLAN corpus, §4.2.2 the annotators: neither says how many
    ("How many samples are in the Agent-FLAN corpus that InternLM2 was trained on?",
     "The report discusses this, but none of the passages found says how many samples"),
    ("How many professional annotators labeled the slow-path preference pairs?",
     "The report discusses this, but none of the passages found says how many professional annotators"),
    # §5.2.3: "划分为难度逐级递增的多个阶段" — several, not how many (its 3709 counts the problems)
    ("MathBench 一共分成几个难度阶段？", "报告讲到了这个话题，但找到的段落都没有说明所问的数量是多少"),
])
def test_a_count_the_report_never_gives_is_refused(answerer, question, message):
    assert_refused(answerer, question, message)


@pytest.mark.parametrize("question, fact", [
    ("在线 RLHF 一共迭代了几轮？", "三轮"),
    ("How many epochs was the reward model trained for?", "一个 epoch"),  # "一个" beside the counted noun
    ("PPO 阶段要部署几个模型？其中训练几个？", "四个"),
    ("MathBench 一共有多少道题目？", "3709"),
    ("How many dimensions are used to score fluency?", "四个维度"),
    ("预训练数据混合了几种语言？", "英文、中文和代码"),  # a complete list counts its items
])
def test_a_stated_count_is_answered(answerer, question, fact):
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


def _sentence(text: str):
    """A sentence of a made-up section, as ingest writes one."""
    from ingest.units import UnitRecord

    return UnitRecord("u", "9.9", "c", "sentence", text, text, (0, 1, 0), "")


@pytest.mark.parametrize("question, chosen, quoted, refused", [
    # no count at all: "一项" is an article, the year a citation's, InternLM2's 2 a name's
    ("代码预训练数据一共覆盖了多少种编程语言？", ["编程是大语言模型的一项关键能力。", "Groeneveld et al. (2024) 指出，InternLM2 …"], [], True),
    # several of the counted noun, beside a count of something else
    ("MathBench 一共分成几个难度阶段？", ["MathBench 共包含 3709 道题目，划分为难度逐级递增的多个阶段。"], [], True),
    ("MathBench 一共分成几个难度阶段？", ["MathBench 划分为难度逐级递增的 5 个阶段。"], [], False),
    ("在线 RLHF 中请了多少名标注员？", ["将 SFT 模型、早期 PPO 模型生成的回复两两组成比较对，再交由标注员标注。"], [], True),
    # "一个" beside the counted noun is a count
    ("奖励模型训练了几个 epoch？", ["为防止过拟合，模型只训练一个 epoch。"], [], False),
    # the count in the quoted passage, with the asked measure word
    ("标注流程迭代了几轮？", ["我们引入了一个迭代式标注流程。"], ["在实践中，我们经过三轮迭代最终确定了打分模型。"], False),
    # a complete list counts; one that ends in 等 does not, nor a list of other things beside the noun
    ("预训练数据混合了几种语言？", ["每个阶段中，我们都混合使用英文、中文和代码数据。"], [], False),
    ("用了几种系统提示词？", ["数据与有用性、无害性、代码、数学等不同的系统提示词组合。"], [], True),
    ("请了多少名标注员？", ["我们将 SFT 模型、早期 PPO 模型和后期 PPO 模型的回复交由标注员标注偏好。"], [], True),
    # not a count question: "这几个" is "these", "哪几类" asks which
    ("综合考试这几个基准里，哪些是 0-shot 评测的？", ["我们只评测了其中的客观题部分。"], [], False),
    ("预训练数据处理流程要准备哪几类数据？", ["本节介绍我们的数据处理流程。"], [], False),
])
def test_unstated_count_reads_the_chosen_sentences(built_index, question, chosen, quoted, refused):
    from app.answer import question_parts
    from app.index import IndexHandle
    from app.scope import unstated_count

    index = IndexHandle(built_index).get()
    got = unstated_count(question_parts(question), [_sentence(t) for t in chosen], [_sentence(t) for t in quoted], index)
    assert (got is not None) is refused, got


@pytest.mark.parametrize("question", [
    "InternLM2 一共在多少个 benchmark 上评的？分了几个维度", "20B 基座（增强训练后那个）NaturalQuestions 多少分",
    "COOL RLHF 的条件奖励模型是怎么训练的？", "What MFU does InternEvo reach?", "How long is the context window of InternLM2?",
])
def test_the_first_citation_is_the_one_the_first_line_quotes(answerer, question):
    import re

    a = answerer.ask(question)
    first = a.answer.split("\n")[0]
    quoted = re.findall(r"\[§([\dA][\d.]*)\]", first)
    assert a.answerable and quoted and a.citations[0].section == quoted[0], (first, [c.section for c in a.citations])
    assert [c.section for c in a.citations if c.used][:len(set(quoted))] == list(dict.fromkeys(quoted))


def test_a_sentence_about_a_names_stem_does_not_answer_for_its_variant(answerer, built_index):
    from app.index import IndexHandle
    from app.scope import variant_stem

    # §2.1 gives DeepSpeed's MFU at 1,024 GPUs; DeepSpeed-Ulysses's only at 256K-token sequences
    assert_refused(answerer, "What MFU does DeepSpeed-Ulysses reach on 1024 GPUs?",
                   "The sentence of the report that would answer this (§2.1) is about DeepSpeed, not DeepSpeed-Ulysses")
    a = answerer.ask("What MFU do DeepSpeed-Ulysses and Megatron-LM reach at a 256K sequence length?")
    assert a.answerable and "65%" in a.answer, a.answer
    index = IndexHandle(built_index).get()
    mbpp = _sentence("MBPP (Austin et al., 2021) 包含 974 道入门级程序员即可解决的编程任务。")
    assert variant_stem("How many problems are in the MBPP-CN set?", mbpp, index) == ("MBPP-CN", "MBPP")
    assert variant_stem("MBPP-CN 和 MBPP 各有多少道题？", mbpp, index) is None  # names both: compares them
    assert variant_stem("MBPP-CN 有多少道题？", _sentence("我们将评测扩展到 MBPP-CN（MBPP 的中文改编版）。"), index) is None
    # a size or a version is no variant, a one-letter stem no name, nor is a variant the report never names
    assert variant_stem("Qwen-14B 的 MMLU 多少", _sentence("Qwen 系列在 MMLU 上表现突出。"), index) is None
    assert variant_stem("MBPP-XL 有多少道题？", mbpp, index) is None
