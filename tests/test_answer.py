"""Extractive answers on real questions; refusals; follow-ups; the citation filter."""

from __future__ import annotations

import re

import pytest

from app.answer import CitationFilter, is_chinese
from app.retrieval import retrieval_query
from app.evaluation import first_line

from .refusals import assert_refused


@pytest.mark.parametrize("question, section, facts", [
    ("InternEvo 在 1024 张 GPU 上的 MFU 是多少？", "2.1", ["53%"]),
    ("SFT 的学习率是多少？", "4.1", ["4e-5"]),
    ("What learning rate did SFT use?", "4.1", ["4e-5"]),
    ("奖励模型的 ranking loss 里 γ 取多少", "4.2.1", ["默认设为 2"]),  # the question's γ is the corpus's $\gamma$
    ("InternLM2 预训练的 token 总数是多少？", "3.3", ["2.6T"]),
    ("InternLM2 预训练用了多少 token？", "3.3", ["2.6T"]),
    ("What is the KL divergence coefficient in PPO?", "4.2.3", ["0.01"]),
    ("InternLM2-Chat-20B 在 GSM8K 上的得分？", "5.2.3", ["79.6"]),
    # three sentences of §3.1.1 name the toxicity classifier equally: the two best are both quoted
    ("毒性分类器是拿什么数据训出来的", "3.1.1", ["Toxic Comment Classification Challenge"]),
    # both rows of the table the question names
    ("HumanEval-X scores of InternLM2-Chat-20B vs InternLM2-Chat-7B?", "5.2.4", ["InternLM2-Chat-20B", "InternLM2-Chat-7B"]),
])
def test_extractive_answers_cite_the_right_section(answerer, question, section, facts):
    a = answerer.ask(question)
    assert a.answerable, a.answer
    assert a.mode == {"retrieval": "keyword", "generation": "extractive"}
    cited = [c.section for c in a.citations]
    assert section in cited[:5]
    assert f"[§{section}]" in a.answer or any(c.used and c.section == section for c in a.citations)
    for fact in facts:
        assert fact in a.answer, a.answer
    # every [§x] in the text is one of the returned citations
    assert set(re.findall(r"\[§([0-9A.]+)\]", a.answer)) <= set(cited)


def test_sentences_that_are_not_adjacent_are_joined_with_an_ellipsis(answerer):
    from app.answer import extractive_answer
    from app.retrieval import retrieve

    q = "毒性分类器是拿什么数据训出来的"
    a = answerer.ask(q)
    body = a.answer.split("[§")[0].split("：", 1)[1].strip()
    ex = extractive_answer(retrieve(answerer.handle, q, None, 5), q, answerer.handle.get())
    units = sorted((c.unit for c in ex.chosen if c.section.number == ex.chosen[0].section.number),
                   key=lambda u: u.order)
    gaps = sum(not (p.order[:2] == u.order[:2] and u.order[2] - p.order[2] == 1) for p, u in zip(units, units[1:]))
    # sentences from different paragraphs: each join is an ellipsis, none starts or ends the quote
    assert gaps >= 1 and body.count("……") == gaps and "Toxic Comment" in body.split("……", 1)[1]
    assert not body.startswith("……") and not body.endswith("……")


def test_answer_language_follows_question(answerer):
    zh = answerer.ask("InternEvo 的 MFU 是多少？")
    en = answerer.ask("What MFU does InternEvo reach with 1024 GPUs?")
    assert zh.answer.startswith("根据报告")
    assert not en.answer.startswith("根据报告") and ("According to" in en.answer or "In Table" in en.answer)


@pytest.mark.parametrize("question", ["今天北京天气怎么样？", "How do I bake sourdough bread?",
                                      "Qwen2-7B 的 MMLU 多少分", "When was InternLM2.5 released?"])
def test_out_of_scope_questions_are_refused(answerer, question):
    a = answerer.ask(question)
    assert not a.answerable and a.citations == []
    assert ("报告" in a.answer) if is_chinese(question) else ("report" in a.answer)


def test_unknown_name_is_named_in_the_refusal(answerer):
    a = answerer.ask("Qwen2-7B 的 MMLU 多少分")
    assert "Qwen2-7B" in a.answer


@pytest.mark.parametrize("question, names", [
    # a variant of a name the report uses ("BERT"), a metric at k: the report names neither
    ("广告分类器和流畅度分类器用的是 BERT-base 还是 BERT-large", "“BERT-base”和“BERT-large”"),
    ("HumanEval 报告的是 pass@1 还是 pass@10？", "“pass@1”和“pass@10”"),
])
def test_an_unnamed_variant_or_metric_is_named_in_the_refusal(answerer, question, names):
    assert_refused(answerer, question, f"报告中没有提到{names}")


@pytest.mark.parametrize("question", ["According to the text, which models does the COOL RLHF-trained "
                                      "InternLM2-Chat-20B outperform?", "Is InternLM2 a LLaMA-like architecture?"])
def test_a_name_made_an_adjective_is_no_variant(answerer, question):
    from app.retrieval import unknown_names

    assert unknown_names(question, answerer.handle.get()) == []


def test_follow_up_uses_history(answerer):
    history = [{"role": "user", "content": "InternLM2-Chat-7B 在 GSM8K 上得分多少？"},
               {"role": "assistant", "content": "……"}]
    # the size in the follow-up replaces the one in the previous question
    assert retrieval_query("那 20B 的呢？", history).startswith("InternLM2-Chat-20B 在 GSM8K")
    assert retrieval_query("What is GQA?", history) == "What is GQA?"
    # one size pattern for both the follow-up and the size rule: "8x7B" is not a 7B model, "20 B" is 20B
    about_20b = [{"role": "user", "content": "InternLM2-Chat-20B 在 GSM8K 上得分多少？"}]
    assert retrieval_query("那 Mixtral-8x7B 呢？", about_20b).startswith("InternLM2-Chat-20B 在 GSM8K")
    assert retrieval_query("那 20 B 的呢？", history).startswith("InternLM2-Chat-20 B 在 GSM8K")
    a = answerer.ask("那 20B 的呢？", history)
    assert a.answerable and a.citations[0].section == "5.2.3" and "79.6" in a.answer


def test_a_follow_up_that_swaps_a_count_asks_the_previous_question_with_it():
    def user(*qs):
        return [m for q in qs for m in ({"role": "user", "content": q}, {"role": "assistant", "content": "……"})]

    # only the swap: the previous question, swapped, and nothing else to weigh
    assert retrieval_query("那 7B 的呢？", user("InternLM2-Chat-20B 在 GSM8K 上的得分？")) == "InternLM2-Chat-7B 在 GSM8K 上的得分？"
    assert retrieval_query("And with 8 GPUs?", user("What is the MFU of InternEvo on 1024 GPUs?")) == \
        "What is the MFU of InternEvo on 8 GPUs?"
    assert retrieval_query("那 8 张 GPU 呢？", user("InternEvo 在 1024 张 GPU 上的 MFU 是多少？")) == "InternEvo 在 8 张 GPU 上的 MFU 是多少？"
    # a chain: the previous question as it was understood
    assert retrieval_query("MATH 呢？", user("InternLM2-Chat-20B 在 GSM8K 上的得分？", "那 7B 的呢？")) == \
        "InternLM2-Chat-7B 在 GSM8K 上的得分？ MATH 呢？"
    # one bare thing asked, or a pronoun for what the previous question named; not "they" (the authors)
    assert retrieval_query("用了多少数据？", user("COOL RLHF 的条件奖励模型是怎么训练的？")).startswith("COOL RLHF")
    assert retrieval_query("Why does InternLM2 use it?", user("What is GQA?")).startswith("What is GQA?")
    assert retrieval_query("What batch size did they use for SFT?", user("What is GQA?")) == \
        "What batch size did they use for SFT?"
    assert retrieval_query("预训练用了多少数据？", user("COOL RLHF 的条件奖励模型是怎么训练的？")) == "预训练用了多少数据？"


def test_and_with_8_gpus_answers_the_8_gpu_figure(answerer):
    history = [{"role": "user", "content": "What is the MFU of InternEvo on 1024 GPUs?"},
               {"role": "assistant", "content": "……53%……"}]
    a = answerer.ask("And with 8 GPUs?", history)
    assert "64%" in a.answer.splitlines()[0], a.answer


def test_citation_filter_drops_invented_sections_across_chunk_boundaries():
    f = CitationFilter({"4.1", "2.1"})
    stream = ["学习率为 4e-5 [", "§4.", "1]，MFU 见 [§2.1]", "，另见 [§9.9] 与 [注1] 和 [§", "A.3]。"]
    out = "".join(f.feed(s) for s in stream) + f.flush()
    assert out == "学习率为 4e-5 [§4.1]，MFU 见 [§2.1]，另见  与 [注1] 和 。"
    assert f.cited == ["4.1", "2.1"]
    unfinished = CitationFilter({"4.1"})
    assert unfinished.feed("见 [§4.1] 与 [§9.") + unfinished.flush() == "见 [§4.1] 与 "


def test_top_k_limits_citations(answerer):
    a = answerer.ask("条件奖励模型", top_k=2)
    assert 1 <= len(a.citations) <= 2


@pytest.mark.parametrize("question, message", [
    ("GPT-4 有多少参数", "报告中没有哪一段同时讲到“GPT-4”和“参数”"),
    ("1.8B 的模型在 GSM8K 上多少分", "报告中没有哪一段同时讲到“1.8B”和“GSM8K”"),  # not "模型": the names never meet
    ("What is Qwen-14B's AlpacaEval win rate?", "No passage of the report mentions Qwen-14B, win rate and AlpacaEval"),
])
def test_names_the_report_never_puts_together_are_refused(answerer, question, message):
    assert_refused(answerer, question, message)


@pytest.mark.parametrize("question, section", [
    ("How many KV heads does InternLM2-7B have?", "3.2.2"),  # the table row says "7B", its caption InternLM2
    ("InternLM2-Chat-20B 在 GAOKAO-Bench 上多少分", "5.2.1"),  # the table header says "GAOKAO"
    ("InternLM2-7B-Base 和 InternLM2-7B 有什么区别", "5.2.5"),  # "区别" asks for a comparison
    ("How does InternLM2-7B's GSM8k result compare to InternLM2-7B-Base?", "5.2.3"),  # "result" is what is asked
    # "v2" qualifies AlpacaEval (§5.3.1 writes "AlpacaEval(v2)"); it is no name of its own
    ("What win rate did InternLM2-Chat-20B get on AlpacaEval v2?", "5.3"),
])
def test_names_found_together_are_answered(answerer, question, section):
    from app.retrieval import never_together

    assert never_together(question, answerer.handle.get()) == []
    a = answerer.ask(question)
    assert a.answerable, a.answer
    assert section in [c.section for c in a.citations]


def test_refusal_is_decided_the_same_with_or_without_the_dense_model(make_settings, tiny_model, answerer):
    """The evidence threshold is calibrated on what the question's words find; a dense model may
    change which passages answer a question, not whether the report covers it."""
    from app.answer import Answerer
    from app.index import IndexHandle
    from ingest.pipeline import run_ingest

    s = make_settings(embedding_model=str(tiny_model))
    run_ingest(s)
    hybrid = Answerer(s, IndexHandle(s))
    for q in ["GPT-4 有多少参数", "How do I bake sourdough bread?", "InternEvo 在 1024 张 GPU 上的 MFU 是多少？",
              "InternLM2-20B 预训练总共花了多少 GPU 小时", "In the MTBench judge prompt, what format must the rating use?"]:
        h, k = hybrid.ask(q), answerer.ask(q)
        assert h.mode["retrieval"] == "hybrid" and k.mode["retrieval"] == "keyword"
        assert (h.answerable, round(h.evidence, 6)) == (k.answerable, round(k.evidence, 6)), q


def test_a_second_sentence_is_quoted_when_it_says_what_the_best_one_lacks():
    from types import SimpleNamespace

    from app.answer import extractive_answer
    from app.retrieval import Hit, Retrieval, SectionHit
    from ingest.keywords import tokenize
    from ingest.units import chunk_units

    text = ("DeepSpeed 的吞吐量为每秒 100 个样本，这一结果来自八张 GPU 的实验。\n\n"
            "本节其余部分介绍实验设置。\n\n"
            "Megatron 在同样设置下每秒只处理 80 个样本。")
    chunk = {"id": "c", "kind": "text", "text": text, "section": "9.9", "title_zh": "测试", "title_en": "Test",
             "path": "9.9 测试"}
    units = chunk_units(chunk)
    index = SimpleNamespace(
        chunks=[chunk], units=units, unit_tokens=[frozenset(tokenize(u.match_text)) for u in units],
        unit_own_tokens=[frozenset(tokenize(u.own_match_text)) for u in units], unit_vectors=None,
        unit_own_vectors=None, units_by_section={"9.9": list(range(len(units)))},
        idf={"deepspeed": 3.0, "megatron": 3.0, "吞吐量": 2.0, "吞吐": 2.0, "速度": 1.0, "样本": 0.5})
    sec = SectionHit("9.9", "测试", "Test", "9.9 测试", 1.0, [Hit(chunk, 1.0)])
    question = "DeepSpeed 和 Megatron 的吞吐量分别是多少"
    r = Retrieval(question, [], [sec], "keyword", 1.0)
    answer = extractive_answer(r, question, index).text.splitlines()[0]
    assert "100" in answer and "80" in answer and "……" in answer
    assert "实验设置" not in answer

def test_a_chosen_sentence_ending_in_a_colon_brings_what_it_introduces():
    from app.answer import with_introduced
    from app.retrieval import SectionHit
    from app.selection import Candidate
    from ingest.units import chunk_units

    text = ("关于阈值设定，我们总结了两条经验：\n\n- 针对每个领域定制阈值。各领域不同。\n- 只关注边界样本。\n\n"
            "总体而言，损失函数为：\n\n$$ L = L_{a} + L_{b} $$\n\n后记：这不是列表。\n\n另一段。")
    chunk = {"id": "c", "kind": "text", "section": "9.9", "title_zh": "测试", "title_en": "Test", "path": "9.9 测试",
             "text": text}
    units = chunk_units(chunk)
    sec = SectionHit("9.9", "测试", "Test", "9.9 测试", 1.0)
    cands = [Candidate(i, u, sec, 0, frozenset(), 0.0, None) for i, u in enumerate(units)]
    by_text = {c.unit.text: c for c in cands}
    out, added = with_introduced([by_text["关于阈值设定，我们总结了两条经验："]], cands)
    # each item's first sentence, not its later ones
    assert [c.unit.text for c in out] == ["关于阈值设定，我们总结了两条经验：", "- 针对每个领域定制阈值。", "- 只关注边界样本。"]
    assert added == {c.unit.id: c.unit.text.removeprefix("- ") for c in out[1:]}  # as the answer states each
    out, _ = with_introduced([by_text["总体而言，损失函数为："]], cands)
    assert [c.unit.raw for c in out][1] == "$$ L = L_{a} + L_{b} $$"
    out, added = with_introduced([by_text["后记：这不是列表。"]], cands)  # no colon at its end
    assert len(out) == 1 and not added
    # a prompt's line: the lines after it (past one blank line) up to the next blank one
    code = {**chunk, "id": "k", "kind": "code",
            "text": "```text\nTo use a tool, use this format:\n\nThought: think\nAction: the tool\n\nResponse: later\n```"}
    lines = chunk_units(code)
    cands = [Candidate(i, u, sec, 0, frozenset(), 0.0, None) for i, u in enumerate(lines)]
    out, added = with_introduced([cands[0]], cands)
    assert [c.unit.text for c in out] == ["To use a tool, use this format:", "Thought: think", "Action: the tool"]


@pytest.mark.parametrize("question, fact", [
    ("Which datasets are averaged to get the QA capability score in Figure 12?", "HellaSwag"),
])
def test_a_list_announced_by_the_chosen_sentence_is_on_the_first_line(answerer, question, fact):
    from app.evaluation import first_line

    line = first_line(answerer.ask(question).answer)
    assert fact in line and "- " not in line, line


def test_the_best_units_run_opens_the_answer():
    from app.answer import best_run_first
    from app.retrieval import SectionHit
    from app.selection import Candidate
    from ingest.units import chunk_units

    text = "奖励模型从 SFT 模型初始化。\n\n损失函数如下。\n\n它的上下文很长。最大上下文长度设为 8192。"
    chunk = {"id": "c", "kind": "text", "section": "9.9", "title_zh": "测试", "title_en": "Test", "path": "9.9 测试",
             "text": text}
    units = chunk_units(chunk)
    sec = SectionHit("9.9", "测试", "Test", "9.9 测试", 1.0)
    init, loss, before, best = [Candidate(i, u, sec, 0, frozenset(), 0.0, None) for i, u in enumerate(units)]
    # the best unit and the sentence before it in its paragraph first, then the rest in reading order
    assert best_run_first([init, best, before], best) == [before, best, init]
    assert best_run_first([init, loss], init) == [init, loss]  # neighbouring paragraphs: one run


def test_a_chosen_sentence_that_points_back_brings_the_sentence_it_points_to():
    from app.answer import with_antecedents
    from app.retrieval import SectionHit
    from app.selection import Candidate
    from ingest.units import chunk_units

    chunk = {"id": "c", "kind": "text", "section": "9.9", "title_zh": "测试", "title_en": "Test", "path": "9.9 测试",
             "text": "RLHF 有两个问题：偏好冲突和奖励欺骗。\n\n为了解决这些问题，我们提出了 COOL RLHF。COOL RLHF 分三轮进行。"}
    units = chunk_units(chunk)
    sec = SectionHit("9.9", "测试", "Test", "9.9 测试", 1.0)
    cands = [Candidate(i, u, sec, 0, frozenset(), 0.0, None) for i, u in enumerate(units)]
    pointing, plain = cands[1], cands[2]
    assert [c.unit.text for c in with_antecedents([pointing], cands)] == [pointing.unit.text, cands[0].unit.text]
    assert with_antecedents([plain], cands) == [plain]  # it names what it speaks of
    # ingest: a sentence that points back within its paragraph matches the words of the one before it
    follow = chunk_units({**chunk, "text": "参数 λ 是一个加权系数。我们将其默认值设为 0.02。"})
    assert "加权系数" in follow[1].context and "加权系数" not in follow[0].context


def test_a_table_row_answer_names_every_column_asked_for_even_by_part_of_its_header(answerer):
    from app.evaluation import first_line

    line = first_line(answerer.ask("20B 模型有几层，隐藏维度多大").answer)  # 几层 → 层数 $n_{layers}$
    assert "48" in line and "6144" in line and "§3.2.2" in line, line


@pytest.mark.parametrize("question, fact", [
    # a plain word the report has no rendering for ("cutoff", "star") in a question whose other,
    # specific terms the report has together: a paraphrase, answered
    ("what's the length cutoff for the first stage of the long-text filtering pipeline?", "32K"),
    ("What star threshold was used when collecting GitHub repos for long-context code data?", "10,000"),
])
def test_an_unknown_plain_word_in_an_otherwise_specific_question_is_a_paraphrase(answerer, question, fact):
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


@pytest.mark.parametrize("question, word", [
    ("What dropout rate does InternLM2 use?", "dropout"),  # little else: the unknown word is the topic
    ("What license is InternLM2 released under?", "license"),
    ("how many warmup steps were used in the pretraining learning rate schedule?", "warmup"),
])
def test_an_unknown_plain_word_that_is_the_topic_is_still_refused(answerer, question, word):
    a = answerer.ask(question)
    assert not a.answerable and word in a.answer, a.answer


@pytest.mark.parametrize("question, fact", [
    # the question's verb ("deal with", "cope with", "does … fare on") phrases it even where the
    # dictionary also has it as a noun ("a deal", "a cope") with no rendering in the report
    ("How does COOL RLHF deal with reward hacking?", "奖励欺骗"),
    ("How did they deal with duplicated documents?", "去重"),
    ("How does COOL RLHF cope with reward hacking?", "奖励欺骗"),
    ("How does InternLM2 fare on long-context benchmarks?", "§5.2.6"),
    # "between" relates the names compared; no passage need hold the word with them
    ("What's the difference between InternLM2-Chat-7B-SFT and InternLM2-Chat-7B?", "RLHF"),
    # the report's MTBench, written with a hyphen
    ("What does InternLM2-Chat-20B score on MT-Bench?", "7.9"),
    # the report's subject is what every passage is about, named there or not (§3.2.1 says "InternLM")
    ("InternLM2 的词表有多大？", "§3.2.1"),
    # one of its models by a name the report never writes whole (it says "1.8B" in Table 3)
    ("InternLM2-1.8B 的学习率", "3e-4"),
    ("COOL RLHF 的全称是什么？", "条件在线 RLHF"),
])
def test_how_a_question_is_phrased_or_spelled_is_no_reason_to_refuse(answerer, question, fact):
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


def test_question_verbs():
    from app.retrieval import question_verbs

    assert question_verbs("How does COOL RLHF deal with reward hacking?") == {"deal"}
    assert question_verbs("Which benchmark does InternLM2 struggle with?") == {"struggle"}
    assert question_verbs("How does InternLM2 fare on long-context benchmarks?") == {"fare"}
    assert question_verbs("How does the reward model fare?") == {"fare"}
    assert question_verbs("What dropout rate does InternLM2 use?") == {"use"}
    assert question_verbs("Which dropout with AdamW?") == set()  # "dropout" is only a noun
    assert "license" not in question_verbs("Does InternLM2 use a license?")  # after "a": a noun
    assert "license" not in question_verbs("What license is InternLM2 released under?")


@pytest.mark.parametrize("question, fact", [
    # where the answer stands ("column") or what kind of thing it is ("vanilla"): never what is asked about
    ("Which model tops the LongBench summarization column?", "Table 15 (§5.2.6)"),
    ("What two practical problems with vanilla RLHF is COOL RLHF designed to tackle?", "奖励欺骗"),
    ("How many gigabytes of code ended up in the low-quality bucket?", "83.85"),  # Table 2 says GB
])
def test_words_that_only_say_where_the_answer_stands_are_no_reason_to_refuse(answerer, question, fact):
    a = answerer.ask(question)
    assert a.answerable and fact in a.answer, a.answer


def test_a_column_named_by_the_captions_expansion_of_its_abbreviation(answerer):
    # Table 15's header says "LongBench Summ"; its caption says "Summ → 摘要（summarization）"
    line = first_line(answerer.ask("Which model tops the LongBench summarization column?").answer)
    assert "LongBench Summ" in line and "26.5" in line, line


def test_a_row_answer_shows_the_column_that_names_most_of_what_is_asked(answerer):
    from app.evaluation import first_line

    en = first_line(answerer.ask("what's the LongBench average for InternLM2-Chat-7B-SFT?").answer)
    assert "LongBench Avg.: 48.1" in en and "LongBench Single" not in en, en
    zh = first_line(answerer.ask("LongBench 上 InternLM2-Chat-7B-SFT 总分多少").answer)  # 总分 → Avg.
    assert "LongBench Avg. 为 48.1" in zh and "LongBench Single" not in zh, zh


def test_a_question_about_a_model_size_the_answering_passage_does_not_name_is_refused_with_the_sizes(answerer):
    a = answerer.ask("1.8B 的对话模型做 SFT 时学习率设的是多少？")  # §4.1 gives it for 7B and 20B only
    assert not a.answerable and a.citations == []
    assert "1.8B" in a.answer and "7B" in a.answer and "20B" in a.answer and "§4.1" in a.answer, a.answer
    # the same question about a size the passage names is answered from it
    b = answerer.ask("7B 的对话模型做 SFT 时学习率设的是多少？")
    assert b.answerable and "4e-5" in first_line(b.answer), b.answer


def test_a_question_about_one_size_prefers_the_row_of_that_size(answerer):
    line = first_line(answerer.ask("what's the LongBench average for InternLM2-Chat-7B-SFT?").answer)
    assert "InternLM2-Chat-7B-SFT" in line and "20B" not in line, line


@pytest.mark.parametrize("question, parts", [
    ("AlignBench 上 20B 对话模型拿了几分？GPT-3.5 呢？", ["AlignBench 上 20B 对话模型拿了几分？", "GPT-3.5 呢？"]),
    ("who judges AlignBench, and what final score did InternLM2-Chat-20B get?",
     ["who judges AlignBench", "what final score did InternLM2-Chat-20B get?"]),
    ("在线 RLHF 的慢速路径和快速路径主要区别在哪？整个在线 RLHF 迭代了几轮？",
     ["在线 RLHF 的慢速路径和快速路径主要区别在哪？", "整个在线 RLHF 迭代了几轮？"]),
    ("InternEvo 在 1024 张 GPU 上的 MFU 是多少？", ["InternEvo 在 1024 张 GPU 上的 MFU 是多少？"]),
    ("What sharding options and overlap does InternEvo use?", ["What sharding options and overlap does InternEvo use?"]),
    # the same thing asked of two
    ("How many questions are in WinoGrande and in HellaSwag?",
     ["How many questions are in WinoGrande", "How many questions are in HellaSwag?"]),
    ("网页正文抽取和语言识别分别用的什么工具", ["网页正文抽取用的什么工具", "语言识别用的什么工具"]),
    ("What are the KL coefficient and the λ in PPO?", ["What are the KL coefficient and the λ in PPO?"]),
    ("慢速路径和快速路径有什么区别", ["慢速路径和快速路径有什么区别"]),  # a comparison, not each of two
])
def test_a_question_asking_several_things_splits_into_its_parts(question, parts):
    from app.answer import question_parts

    assert question_parts(question) == parts


def test_each_part_of_a_two_part_question_is_answered(answerer):
    # asked as one, the coefficient's sentence loses to the reason's; asked part by part, both come
    line = first_line(answerer.ask("PPO 阶段为什么要混进预训练 loss？它的系数设的多少？").answer)
    assert "0.5" in line and "§4.2.3" in line, line


def test_a_size_whose_unit_misses_the_rest_of_the_question_is_refused_with_where_the_report_says_it(answerer):
    # Table 3 has a 1.8B learning rate (pre-training); SFT's is given for 7B and 20B only (§4.1)
    a = answerer.ask("What learning rate did the 1.8B model use in SFT?")
    assert not a.answerable and "1.8B" in a.answer and "§4.1" in a.answer, a.answer
    b = answerer.ask("1.8B 模型预训练的学习率是多少")  # Table 3's row answers this one
    assert b.answerable and "3e-4" in first_line(b.answer), b.answer


def test_a_one_character_term_matches_the_words_the_report_writes_it_in(answerer):
    line = first_line(answerer.ask("20B 模型有几层").answer)  # 层 → 层数 $n_{layers}$
    assert "48" in line and "§3.2.2" in line, line


def test_a_subscripted_symbol_matches_as_readers_type_it(answerer):
    from ingest.keywords import tokenize

    assert {"wk", "s1"} <= set(tokenize("合并 $W_k$、$W_q$；$S_1$ 与 $S_2$")) and "topp" not in tokenize("top_p")
    a = answerer.ask("把 Wk Wq Wv 合成一个矩阵能带来多少训练加速")
    assert a.answerable and "5%" in first_line(a.answer), a.answer


def test_the_size_rule_refuses_a_one_model_question_but_not_a_comparison():
    from app.answer import _asked_size
    from app.retrieval import SectionHit, Weighted
    from app.selection import Candidate
    from ingest.units import chunk_units

    chunk = {"id": "c", "kind": "text", "section": "9.9", "title_zh": "测试", "title_en": "Test", "path": "9.9 测试",
             "text": "20B 模型另有说明。\n\n7B 模型在 MATH 上的 SFT 学习率为 4e-5。"}
    units = chunk_units(chunk)
    sec = SectionHit("9.9", "测试", "Test", "9.9 测试", 1.0)
    toks = [frozenset({"20b", "模型"}), frozenset({"7b", "模型", "math", "sft", "学习率"})]
    cands = [Candidate(i, u, sec, 0, t, 0.0, None) for i, (u, t) in enumerate(zip(units, toks))]
    w = Weighted([["20b"], ["math"], ["sft"], ["学习率"]], [1.0, 1.0, 1.0, 1.0])
    _, mismatch = _asked_size("20B 模型 MATH 上 SFT 的学习率是多少？", cands, [cands[0]], w)
    assert mismatch == (["20B"], ["7B"], "9.9")  # the 7B sentence holds the rest: not said for 20B
    _, mismatch = _asked_size("How does InternLM2-Chat-20B compare with GPT-3.5 on MATH SFT learning rate?",
                              cands, [cands[0]], w)
    assert mismatch is None  # a comparison: its other names are what the rest holds


def test_the_quotation_shows_more_of_the_paragraph_up_to_a_limit():
    from types import SimpleNamespace

    from app.answer import QUOTE_CHARS, _context
    from ingest.units import UnitRecord

    units = [UnitRecord(f"u{k}", "9.9", "c", "sentence", f"第{k}句。" + "字" * 40, "", (0, 1, k), "")
             for k in range(12)]
    index = SimpleNamespace(units=units, units_by_section={"9.9": list(range(12))})
    best = SimpleNamespace(unit=units[5])
    shown = [u.id for u in _context(index, best)]
    # the sentences before and after, then more of the paragraph (the next ones first), within the limit
    assert {"u4", "u5", "u6", "u7"} <= set(shown) and shown == sorted(shown, key=lambda i: int(i[1:]))
    assert sum(len(units[int(i[1:])].text) for i in shown) <= QUOTE_CHARS < len(units[0].text) * (len(shown) + 1)


def test_reciprocal_ranks_share_ties_and_start_at_one():
    import numpy as np

    from app.selection import reciprocal_ranks

    assert reciprocal_ranks(np.array([0.5, 0.9, 0.5, 0.1, 0.9])).tolist() == [1 / 3, 1.0, 1 / 3, 1 / 5, 1.0]


def test_a_question_about_several_sizes_gets_the_row_of_each_in_its_order(answerer):
    # was: 20B-SFT 5.3, 20B 6.8 and Baichuan2-13B-Chat 5.3, without the 7B's 6.1
    line = first_line(answerer.ask("AlignBench 上 7B 和 20B 的 chat 模型各拿了几分").answer)
    assert "InternLM2-Chat-7B 的 AlignBench (0-10 Score) 为 6.1" in line, line
    assert "InternLM2-Chat-20B 的 AlignBench (0-10 Score) 为 6.8" in line, line
    assert "SFT" not in line and "Baichuan" not in line and line.index("6.1") < line.index("6.8"), line
    # a family the question does not name is no row for its size ("Llama2-7B" for "7B 和 20B")
    line = first_line(answerer.ask("7B 和 20B 基座模型的 MMLU 分别是多少？").answer)
    assert "InternLM2-7B" in line and "InternLM2-20B" in line and "Llama" not in line, line


def test_a_row_name_counts_the_parts_the_question_does_not_say():
    from app.answer import _name_extra

    said = {"alignbench", "7b", "20b", "chat", "模型"}
    assert _name_extra("InternLM2-Chat-20B", said) == 0
    assert _name_extra("InternLM2-Chat-20B-SFT", said) == 1
    assert _name_extra("Llama2-7B", said) == 1


def test_sizes_asked_together_are_answered_for_those_the_table_has_and_the_others_named(answerer):
    # was refused: "no passage mentions 1.8B, 7B, 20B and GSM8K together" — each row has one size
    a = answerer.ask("1.8B、7B、20B 三个基座模型在 GSM8K 上各是多少？")
    line = first_line(a.answer)
    assert a.answerable and "表 10（§5.2.3）" in line and "表 20" not in line, line  # the table with a GSM8K column
    assert "InternLM2-7B" in line and "InternLM2-20B" in line and "表 10 中没有 1.8B 模型的结果" in line, line
    en = first_line(answerer.ask("What are the GSM8K scores of the 1.8B, 7B and 20B base models?").answer)
    assert "Table 10 has no result for a 1.8B model" in en, en


def test_a_list_too_long_to_quote_is_given_by_its_items_bold_leads(answerer):
    # "…全面方法。要点如下：" then four contributions, each a long paragraph under a bold lead
    line = first_line(answerer.ask("报告的主要贡献有哪些？").answer)
    for lead in ("开源性能卓越的 InternLM2", "为 200k 上下文窗口而设计", "全面的数据准备指南", "创新的 RLHF 训练技术"):
        assert lead in line, line


def test_table_1_rows_are_found_by_the_english_words_for_them(answerer):
    # Table 1 names its rows en-webpages, zh-books …: "English web pages" was answered with en-books
    line = first_line(answerer.ask("How many GB of English web pages are in the pre-training data?").answer)
    assert "en-webpages" in line and "9129.39" in line, line


def test_each_part_of_a_question_is_judged_by_its_own_dense_vector(make_settings, tiny_model):
    # the whole question's vector favoured what its first part asks ("where does most web data come from")
    from app.answer import Answerer
    from app.index import IndexHandle
    from ingest.pipeline import run_ingest

    s = make_settings(embedding_model=str(tiny_model))
    run_ingest(s)
    handle = IndexHandle(s)
    embedded: list[str] = []
    real = handle.query_vector
    handle.query_vector = lambda text: (embedded.append(text), real(text))[1]
    a = Answerer(s, handle).ask("Where does most of the web data come from, and what tool extracts the main text from HTML?")
    assert a.mode["retrieval"] == "hybrid" and a.answerable
    assert any(t.startswith("what tool extracts the main text from HTML?") for t in embedded), embedded
    # a one-part question embeds once
    embedded.clear()
    Answerer(s, handle).ask("What is the MFU of InternEvo when training on 1024 GPUs?")
    assert len(embedded) == 1, embedded


def test_an_english_header_is_matched_by_its_chinese_term(answerer):
    # "AlpacaEval (WinRate)": 胜率 matched no row, and the size rule refused ("§5.3.1 说的是 20B，没有讲到 7B")
    a = answerer.ask("InternLM2-Chat-7B 在 AlpacaEval 上的胜率？")
    assert a.answerable and "InternLM2-Chat-7B 的 AlpacaEval (WinRate) 为 11.3" in first_line(a.answer), a.answer


def test_which_is_best_reads_the_table_whose_column_names_most_of_the_question(answerer):
    line = first_line(answerer.ask("Which model gets the best L-Eval average?").answer)
    assert "L-Eval Avg.: 49.4" in line and "InternLM2-Chat-20B-SFT" in line, line


@pytest.mark.parametrize("question, zh", [
    ("InternLM2-Chat-7B 的 HumanEval 分数？", True),  # was answered in English: long names, three Chinese characters
    ("internlm2 的 mfu", True),
    ("How does InternLM2-Chat-20B score on GSM8K?", False),
    ("InternLM2-Chat-20B vs GPT-3.5 on MATH？", False),
])
def test_the_answer_language_follows_the_question_s_own_words(question, zh):
    assert is_chinese(question) is zh


@pytest.mark.parametrize("question, fact", [
    ("in the CIBench system prompt, what's the name of the tool the model can call?", "IPythonInterpreter"),
    ("MTBench 裁判打分时要考虑哪些方面？", "helpfulness"),
    ("CIBench 的用户提示词里要填哪些占位内容？", "{modules}"),
])
def test_a_question_about_a_named_prompt_is_answered_by_its_lines(answerer, question, fact):
    # every prompt in §A.2 has a system prompt, a tool or a judge: the named one's lines answer
    line = first_line(answerer.ask(question).answer)
    assert fact in line, line


def test_a_term_inside_a_longer_one_matches_it(answerer):
    from ingest.keywords import query_groups, tokenize

    # "条件奖励模型" is also a 奖励模型, "零冗余优化器" an 优化器: a question's shorter term finds them
    assert "奖励模型" in tokenize("条件奖励模型的训练使用了") and "优化器" in tokenize("零冗余优化器")
    # a phrase token is also its glossary rendering: the report writes long-context data as 长文本
    assert {"长文本", "长上下文"} <= set(query_groups("long-context data")[0])
    a = answerer.ask("how many preference pairs was the reward model trained on?")
    assert a.answerable and "240 万" in first_line(a.answer), a.answer
    b = answerer.ask("SFT 用的什么优化器？")
    assert "AdamW" in first_line(b.answer) and "§4.1" in first_line(b.answer), b.answer


def test_an_enumeration_split_at_its_semicolons_is_answered_whole(answerer):
    # "共包括三个阶段：a）…；b）…；c）…。" is one sentence; units split it at the semicolons
    a = answerer.ask("长文本数据的过滤有哪几步")
    line = first_line(a.answer)
    assert all(s in line for s in ("长度筛选", "统计过滤器", "困惑度过滤器")) and "§3.1.3" in line, a.answer
    quote = a.answer.split("> ", 1)[-1]  # the passage reads on from the enumeration, not from its first item
    assert "32K 字节的数据样本；需要注意" not in quote, a.answer


def test_what_they_call_something_asks_its_name_not_a_call():
    from ingest.keywords import query_groups

    groups = query_groups("what do they call the released checkpoints from before RLHF vs after?")
    assert not any("调用" in g for g in groups) and ["rlhf"] in groups
    assert any("调用" in g for g in query_groups("What does function calling data look like?"))
    assert ["toolkit", "工具包"] in query_groups("which eval toolkit was used?")  # not every 工具 (tool use)


def test_a_phrase_is_its_whole_rendering_not_any_of_its_words(answerer):
    from ingest.keywords import query_groups

    assert query_groups("data contamination") == [["data_contamination", "数据污染"]]  # not every 数据
    assert query_groups("fast path") == [["fast_path", "快速路径"]]  # not every 快速
    # a context length is also the context window §1 gives (200k), not only "4k 上下文长度的文本"
    assert query_groups("context length") == [["context_length", "上下文长度", "上下文窗口"]]
    a = answerer.ask("How did they detect data contamination?")
    assert a.answerable and "§5.4" in first_line(a.answer), a.answer


def test_a_table_of_one_row_of_figures_names_no_row(answerer):
    line = first_line(answerer.ask("代码数据里高质量数据占多少？").answer)
    assert "16.8%" in line and "105.6 的" not in line, line  # Table 2's first cell is a figure, not a name



def test_a_tokenizer_is_also_the_report_s_tokenization(answerer):
    line = first_line(answerer.ask("What tokenizer does InternLM2 use?").answer)
    assert "§3.2.1" in line and "GPT-4" in line, line  # 分词方法 (§3.2.1), not the needle test's GPT-4 分词器



def test_a_list_introduced_after_the_chosen_sentence_is_given_to_a_question_asking_its_items(answerer):
    from app.answer import best_run_first, question_groups, with_introduced, with_list_intro
    from app.retrieval import Weighted, retrieve
    from app.selection import candidates

    q = "What two lessons did they learn about choosing thresholds for the long-text filters?"
    r = retrieve(answerer.handle, q, None, 5)
    index = answerer.handle.get()
    ranked = candidates(index, r, Weighted.of(question_groups(r), index.idf), r.vector)
    hard = next(c for c in ranked if c.unit.text.startswith("由于我们构建了大量过滤器"))
    other = next(c for c in ranked if c.unit.text.startswith("需要注意的是，长上下文训练所选用的全部数据"))
    chosen, introduced = with_introduced(with_list_intro([hard, other], ranked, q), ranked)
    texts = [c.unit.text for c in best_run_first(chosen, hard)]
    # "…这一挑战变得更加严峻。关于阈值设定，我们总结了两条经验：" then its two items (the next chunk), then the rest
    assert texts[1] == "关于阈值设定，我们总结了两条经验：" and len(introduced) == 2, texts
    assert "每个领域" in texts[2] and "边界样本" in texts[3] and texts[4].startswith("需要注意的是"), texts
    # a question that asks for no list gets no list
    assert with_list_intro([hard], ranked, "Why is choosing thresholds hard?") == [hard]


@pytest.mark.parametrize("question, size, other", [
    ("How many layers does the biggest InternLM2 model have?", "20B", "1.8B"),
    ("How many layers does the smallest InternLM2 model have?", "1.8B", "20B"),
])
def test_the_biggest_model_is_the_row_of_the_largest_size(answerer, question, size, other):
    line = first_line(answerer.ask(question).answer)
    assert f"{size} " in line and f"{other} " not in line and "§3.2.2" in line, line


def test_a_sentence_about_another_system_gives_way_to_one_about_the_asked_one(answerer):
    from app.answer import _asked_name, question_groups
    from app.retrieval import Weighted, retrieve
    from app.selection import candidates

    q = "What MFU does InternEvo reach?"
    r = retrieve(answerer.handle, q, None, 5)
    index = answerer.handle.get()
    w = Weighted.of(question_groups(r), index.idf)
    ranked = candidates(index, r, w, r.vector)
    # "DeepSpeed-Ulysses 和 Megatron-LM 只能达到约 65% 的 MFU" has InternEvo only from §2.1's title
    other = next(c for c in ranked if c.unit.text.startswith("相比之下，DeepSpeed-Ulysses 和 Megatron-LM"))
    out = _asked_name(q, index, ranked, [other], w)
    assert "InternEvo" in out[0].unit.text and "MFU" in out[0].unit.text and other in out, out[0].unit.text
    # the other system asked: its own sentence stays
    assert _asked_name("What MFU does Megatron-LM reach?", index, ranked, [other], w) == [other]
    # a sentence that points back to the asked name ("它" is CompassArena) is about it
    r2 = retrieve(answerer.handle, "CompassArena 是什么？", None, 5)
    w2 = Weighted.of(question_groups(r2), index.idf)
    ranked2 = candidates(index, r2, w2, r2.vector)
    it = next(c for c in ranked2 if c.unit.text.startswith("与 AlpacaEval 类似，它由 GPT4-Turbo"))
    assert _asked_name("CompassArena 是什么？", index, ranked2, [it], w2) == [it]


def test_a_list_in_a_refusal_reads_as_the_report_writes_it():
    from app.answer import _and

    assert _and(["7B", "20B"], True) == "7B 和 20B"  # a space beside Latin letters and digits
    assert _and(["“GPT-4”", "“参数”"], True) == "“GPT-4”和“参数”"
    assert _and(["1.8B", "7B", "20B"], False) == "1.8B, 7B and 20B"


def test_a_model_no_table_row_names_is_refused_rather_than_answered_with_another_models_row(answerer):
    # Table 6 has GPT-3.5, not GPT-4 (the report's judge): quoting GPT-3.5's MMLU would mislead
    a = answerer.ask("what MMLU score does GPT-4 get in their comparison tables?")
    assert not a.answerable and a.citations == []
    assert a.answer.startswith("No table of the report has a row for GPT-4 (Table"), a.answer
    b = answerer.ask("What does GPT-3.5 get on MMLU?")  # a row names it
    assert b.answerable and "GPT-3.5" in b.answer and "69.1" in b.answer, b.answer


def test_the_missing_row_refusal_names_the_model_and_the_table_in_the_questions_language():
    from app.answer import refusal_message

    hard = ("rows", ("GPT-4", "表 6：对话模型在综合考试上的比较。"))
    assert refusal_message(hard, [], "表 6 里 GPT-4 的 MMLU 是多少？", "", True) == \
        "报告的表格中没有 GPT-4 的结果（表 6 列出的是其他模型），因此无法据此回答这个问题。"
    assert refusal_message(hard, [], "GPT-4 MMLU?", "", False).startswith("No table of the report has a row for GPT-4 (Table 6")
