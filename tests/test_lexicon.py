"""The English–Chinese lexicon: which English words the report has a translation for."""

from __future__ import annotations

import json

import numpy as np

import pytest

from ingest.lexicon import chinese_uncovered, english_coverage, lemma, parse_cedict, uncovered, variants

SAMPLE = """# CC-CEDICT sample
網頁 网页 [wang3 ye4] /web page/
頁 页 [ye4] /page/leaf/
丟棄 丢弃 [diu1 qi4] /to discard/to abandon/
輟學者 辍学者 [chuo4 xue2 zhe3] /dropout (student)/
星 星 [xing1] /star/heavenly body/
熱身 热身 [re4 shen1] /warm-up (exercise)/
姓 姓 [xing4] /surname/
某 某 [mou3] /used in transliteration of foreign names and other very long glosses/
"""


@pytest.fixture
def cedict():
    return parse_cedict(SAMPLE.splitlines())


@pytest.fixture
def rev(cedict):
    return cedict.reverse


def test_parse_reads_short_glosses_backwards(rev):
    assert rev["page"] == {"网页", "页"}
    assert rev["discard"] == {"丢弃"}
    assert rev["dropout"] == {"辍学者"}  # "(student)" is a note, not part of the gloss
    assert rev["warmup"] == rev["warm-up"] == {"热身"}
    assert "transliteration" not in rev  # long explanatory glosses are not translations
    assert "surname" not in rev


def test_coverage_keeps_translations_found_in_the_corpus(rev):
    cov = english_coverage(rev, "我们从网页中丢弃低质量文本。仓库的星标数超过一万。")
    assert cov["page"] == ["网页"]
    assert cov["discard"] == ["丢弃"]
    assert cov["dropout"] == []
    # a one-character translation would match inside unrelated words: 星 in 星标 is not "star"
    assert cov["star"] == []


def test_words_that_only_phrase_a_question_get_no_judgement():
    rev = parse_cedict(["留 留 [liu2] /kept/", "橫跨 横跨 [heng2 kua4] /across/",
                        "麵包 面包 [mian4 bao1] /bread/"]).reverse
    cov = english_coverage(rev, "没有相关的词")
    assert "kept" not in cov and "across" not in cov  # a verb form, an adverb
    assert cov["bread"] == []


def test_variants_and_uncovered(rev):
    cov = english_coverage(rev, "网页与丢弃")
    assert "page" in variants("pages") and "strategy" in variants("strategies")
    assert "warmup" in variants("warm-up")
    assert not uncovered("pages", cov)  # pages → page → 网页
    assert uncovered("dropout", cov)
    assert not uncovered("flexbox", cov)  # the dictionary does not know it: no judgement


def test_a_word_rendered_only_in_a_phrase_that_holds_it_is_not_rendered():
    from ingest.lexicon import build_lexicon

    ced = parse_cedict(["日益 日益 [ri4 yi4] /increasingly/more and more/day by day/",
                        "條件 条件 [tiao2 jian4] /condition; circumstance; term; factor/CL:個|个[ge4]/",
                        "白天 白天 [bai2 tian1] /daytime; during the day/"])
    assert "日益" in ced.reverse["day"] and "日益" not in ced.plain.get("day", ())  # "day by day" holds "day"
    assert ced.plain["condition"] == {"条件"}  # a clause of one word is a meaning ("condition; circumstance")
    assert ced.plain["daytime"] == {"白天"} and "day" not in ced.plain  # "during the day": three words
    lex = build_lexicon("模型的能力日益增强，条件奖励模型", ced)
    assert lex["english"]["day"] == ["日益"] and "day" in lex["phrase_only"]
    assert "condition" not in lex["phrase_only"]
    days = frozenset(lex["phrase_only"])
    assert uncovered("days", lex["english"], days)  # only 日益 renders it: the report never says "day"
    assert not uncovered("days", lex["english"])  # without that judgement, 日益 would cover it
    assert not uncovered("conditions", lex["english"], days)


def test_chinese_words_whose_meanings_the_report_never_renders(cedict):
    text = "我们从网页中丢弃低质量文本"
    cov = english_coverage(cedict.reverse, text)
    both = parse_cedict(SAMPLE.splitlines() + ["小時 小时 [xiao3 shi2] /hour/CL:個|个[ge4]/",
                                               "網站 网站 [wang3 zhan4] /website/web page/"])
    out = chinese_uncovered(both, english_coverage(both.reverse, text), text)
    assert "小时" in out  # "hour": nothing in the text says it
    assert "网站" not in out  # "web page" → 网页, which the text has
    assert "网页" not in out  # in the text itself
    assert cov["page"] == ["网页"]


def test_ingest_writes_the_lexicon_with_the_index(built_index):
    from ingest.store import read_manifest, version_dir

    manifest = read_manifest(built_index.data_dir)
    lex = json.loads((version_dir(built_index.data_dir, manifest.version) / "lexicon.json").read_text("utf-8"))
    assert "网页" in lex["english"]["webpage"] or "网页" in lex["english"]["page"]
    assert lex["english"]["dropout"] == []
    assert "小时" in lex["chinese_uncovered"] and "网页" not in lex["chinese_uncovered"]


@pytest.mark.parametrize("question, word", [
    ("What dropout rate does InternLM2 use?", "dropout"),
    ("What license is InternLM2 released under?", "license"),
    ("预训练时 dropout 比例设的多少？", "dropout"),
    ("InternLM2-20B 预训练一共用了多少 GPU 小时", "小时"),
    ("整个预训练大概花了多少钱", "钱"),
    # 试表 ("to take someone's temperature") is in "测试表现" only across two words: the report never
    # renders "temperature" (nor 气温's meanings)
    ("What sampling temperature was used when generating code for HumanEval?", "temperature"),
    ("明天气温多少度", "气温"),
    ("What is the InternLM2-Math model?", "InternLM2-Math"),  # its models are Base, Chat, SFT and sizes
    # the report says 日益 ("day by day"), never a day: how long training took is not in it
    ("How many days did it take to pretrain InternLM2-7B?", "days"),
])
def test_questions_about_words_the_report_never_uses_are_refused_by_name(answerer, question, word):
    a = answerer.ask(question)
    assert not a.answerable and a.citations == []
    assert word in a.answer


@pytest.mark.parametrize("question, section", [
    ("What percentage of pre-training bytes comes from English web pages?", "3.1.1"),
    ("Which inference engine speeds up the long-context evaluation?", "5.2.6"),
    # "hurt" is the verb before its object ("hurt InternLM2's performance"), not a topic
    ("In which cases does the code interpreter hurt InternLM2's performance?", "5.2.7"),
])
def test_english_words_with_a_translation_in_the_report_are_not_refused(answerer, question, section):
    a = answerer.ask(question)
    assert a.answerable, a.answer
    if section:
        assert section in [c.section for c in a.citations]


def test_an_index_built_before_lexicons_still_answers(make_settings):
    from app.answer import Answerer
    from app.index import IndexHandle
    from ingest.pipeline import run_ingest
    from ingest.store import read_manifest, version_dir

    s = make_settings()
    run_ingest(s)
    (version_dir(s.data_dir, read_manifest(s.data_dir).version) / "lexicon.json").unlink()
    a = Answerer(s, IndexHandle(s))
    assert a.handle.get().lexicon == {} and a.handle.get().chinese_uncovered == frozenset()
    assert a.ask("SFT 的学习率是多少？").answerable
    assert not a.ask("Qwen2-7B 的 MMLU 多少分").answerable  # names are still checked without it


# --- the lexicon learned from the report in both languages (benchmarks/fit_parallel_lexicon.py) ----

def test_dictionary_forms_and_plural_variants():
    assert lemma("gamed") == "game" and lemma("coefficients") == "coefficient"
    assert lemma("training") == "training"  # a noun keeps its own form
    assert "ancestors" in variants("ancestor")  # CC-CEDICT glosses 祖先 as "ancestors"
    assert "loop" in variants("loops")


def test_ibm1_learns_which_word_translates_which():
    from benchmarks.fit_parallel_lexicon import ibm1

    pairs = [(["reward", "model"], ["奖励", "模型"]), (["policy", "model"], ["策略", "模型"]),
             (["reward"], ["奖励"]), (["model", "size"], ["模型", "规模"])]
    t = ibm1(pairs)
    assert max(t["reward"], key=t["reward"].get) == "奖励"
    assert max(t["model"], key=t["model"].get) == "模型"
    assert t["policy"]["策略"] > t["policy"]["模型"]


def test_english_sections_follow_the_numbered_headings():
    from benchmarks.fit_parallel_lexicon import english_sections

    text = ("### Abstract\n\nThis paper introduces a large model for many tasks.\n\n"
            "#### 2.1 InternEvo\n\nInternEvo trains models on thousands of GPUs. It reaches a high MFU here.\n\n"
            "#### 9.9 Unknown heading\n\nThis line still belongs to section two point one.\n\n"
            "### References\n\nSomebody et al. wrote a paper about things.\n")
    got = english_sections(text, {"0", "2.1"})
    assert got["0"] == ["This paper introduces a large model for many tasks."]
    assert got["2.1"] == ["InternEvo trains models on thousands of GPUs.", "It reaches a high MFU here.",
                          "This line still belongs to section two point one."]
    assert "Somebody" not in repr(got)


def test_the_shipped_lexicon_renders_the_reports_words():
    from ingest.keywords import learned_renderings, query_groups

    assert "系数" in learned_renderings("coefficients")
    assert "策略模型" in learned_renderings("actor")
    assert "欺骗" in learned_renderings("hacking")
    groups = {g[0]: g for g in query_groups("What's the default value of the weighting coefficient?")}
    assert "默认值" in groups["default"] and "系数" in groups["coefficient"]
    assert learned_renderings("ppo") == []  # written the same in both languages: nothing to learn


def test_a_dictionary_rendering_for_words_nothing_else_renders():
    from app.retrieval import with_dictionary

    lexicon = {"weighting": ["加权", "权重", "衡量"], "bread": []}
    groups = [["weighting"], ["coefficient", "系数"], ["bread"], ["模型"]]
    got = with_dictionary(groups, lexicon, "What is the weighting coefficient of the bread model?")
    assert got == [["weighting", "加权", "权重"], ["coefficient", "系数"], ["bread"], ["模型"]]
    assert with_dictionary(groups, lexicon, "weighting 系数是多少") == groups  # a Chinese question's Latin words are terms



def test_sentences_align_when_each_is_the_others_closest_or_one_side_is_very_close():
    from benchmarks.fit_parallel_lexicon import aligned

    sim = np.array([[0.90, 0.70, 0.10],   # source 0 ↔ translation 0: each other's closest
                    [0.60, 0.82, 0.50],   # source 1 → translation 1, but translation 1's closest is source 2
                    [0.20, 0.86, 0.79]])  # source 2 ↔ translation 1 (mutual); translation 2's closest, too far
    assert aligned(sim, mutual=0.80, one=0.95) == {(0, 0), (2, 1)}
    assert aligned(sim, mutual=0.80, one=0.81) == {(0, 0), (1, 1), (2, 1)}  # one side's closest, close enough
    assert aligned(sim, mutual=0.88, one=0.95) == {(0, 0)}


def test_the_reports_sentences_carry_their_english_source_words():
    from ingest.glossary import source_words
    from ingest.units import chunk_units

    words = source_words("策略模型和评论家模型的学习率分别设为 1e-6 和 5e-6。").split()
    assert {"actor", "critic", "learning", "rate"} <= set(words)
    assert source_words("策略模型和评论家模型的学习率分别设为 2e-6 和 5e-6。") == ""  # edited: no longer the source's
    chunk = {"id": "c", "section": "4.2.3", "part": 0, "kind": "text", "path": "4 > 4.2.3", "title_en": "PPO",
             "text": "**超参数（Hyperparameters）** 我们将 KL 散度系数设为 0.01。策略模型和评论家模型的学习率分别设为 1e-6 和 5e-6。"}
    first, second = chunk_units(chunk)
    assert "actor" in second.source and "actor" in second.own_match_text and "actor" not in second.text
    assert "coefficient" in first.source


def test_an_english_question_finds_the_sentence_through_its_source_words(answerer):
    # the source words of §4's and §4.2.2's sentences (round, online, rlhf) lift the ones that say 三轮;
    # without them the answer quoted §1's "分多轮执行" (keyword mode, as the fixture's index)
    answer = answerer.ask("How many rounds of online RLHF did InternLM2 go through?")
    assert "三轮" in answer.answer.splitlines()[0]


@pytest.mark.parametrize("text, abbreviation", [
    ("4 对齐 > 4.2 COOL 基于人类反馈的强化学习 > 4.2.1 条件奖励模型", "cool_rlhf"),  # a heading path
    ("COOL Reinforcement Learning from Human Feedback", "cool_rlhf"),
    ("我们采用监督微调和", "sft"),
    ("通过近端策略优化使大语言模型对齐", "ppo"),
])
def test_a_long_form_the_report_abbreviates_also_yields_the_abbreviation(text, abbreviation):
    from ingest.keywords import tokenize

    assert abbreviation in tokenize(text)


def test_a_long_form_given_with_its_abbreviation_counts_it_once():
    from ingest.keywords import tokenize

    assert tokenize("基于人类反馈的强化学习（RLHF）阶段").count("rlhf") == 1
    assert tokenize("Grouped-Query Attention (GQA)").count("gqa") == 1


def test_stand_for_only_phrases_a_question():
    from ingest.keywords import query_groups

    assert query_groups("What does COOL stand for in COOL RLHF?") == [["cool_rlhf"]]


def test_a_preposition_of_several_words_is_no_term():
    from ingest.keywords import query_groups

    heads = [g[0] for g in query_groups("What is their RLHF framework built on top of?")]
    assert "top" not in heads and "framework" in heads and "built" in heads  # not 最佳/领先
    assert "top" in [g[0] for g in query_groups("Which model is top on MMLU?")]
    assert [g[0] for g in query_groups("How do they compare in terms of accuracy?")][-1] == "accuracy"
    assert "terms" not in [g[0] for g in query_groups("How do they compare in terms of accuracy?")]


def test_run_only_phrases_a_question():
    from ingest.keywords import query_groups

    # "were run" matched §1's "分多轮执行" (执行 = run) over §4.2.2's "共进行了三轮迭代"
    assert [g[0] for g in query_groups("How many rounds of online RLHF were run?")] == ["online_rlhf", "rounds"]


def test_a_measure_word_after_a_count_word_is_no_term():
    from ingest.keywords import query_groups

    # "多少条指令数据": 条 counts the data; the report writes "1000 万条", one token
    assert query_groups("SFT 用了多少条指令数据？") == [["sft", "监督微调"], ["指令"], ["数据"]]
    assert query_groups("20B 模型有几层") == [["20b"], ["模型"], ["层"]]  # 层 is what is asked: layers
    assert ["条件奖励模型"] in query_groups("条件奖励模型有多少条数据")  # 条件 is no measure word


def test_sft_data_count_is_answered_from_section_4_1(answerer):
    from app.evaluation import first_line

    line = first_line(answerer.ask("SFT 用了多少条指令数据？").answer)
    assert "1000 万" in line and "§4.1" in line, line


def test_asking_for_a_full_name_only_phrases_a_question():
    from ingest.keywords import query_groups

    # the report gives the full name in brackets and never says 全称: the word must not weigh most
    assert query_groups("COOL RLHF 的全称是什么？") == [["cool_rlhf"]]
    assert query_groups("What is COOL RLHF short for?") == [["cool_rlhf"]]
    assert query_groups("What is the full name of COOL RLHF?") == [["cool_rlhf"]]


def test_a_range_of_sizes_is_written_as_a_reader_types_it():
    from ingest.keywords import tokenize

    assert "13-20b" in tokenize("13∼20B 模型") and "13-20b" in tokenize("13~20B models")
    assert {"1e-5", "5e-6"} <= set(tokenize("学习率从 1e-5 ~ 5e-6"))  # numbers, not sizes: left alone


def test_conclude_is_rendered_as_the_conclusions_title():
    from ingest.keywords import query_groups

    assert ["conclude", "结论"] in query_groups("What does the report conclude?")  # §6 结论（Conclusion）


def test_the_abbreviations_people_type_in_a_chat():
    from ingest.keywords import query_groups

    groups = query_groups("what KL coeff and actor lr did they use for PPO?")
    assert any("系数" in g for g in groups) and any("学习率" in g for g in groups)
    assert any("最大" in g for g in query_groups("max ctx len of the reward model?"))


def test_a_compound_with_a_rendering_of_its_own_is_not_matched_by_its_parts():
    from ingest.keywords import query_groups

    # "pre-training" is 预训练; the 训练 of "training" alone matches every training sentence (§4.2.1's RM)
    assert ["pre-training", "预训练"] in query_groups("What learning rate schedule is used in pre-training?")


def test_the_adjective_of_a_how_question_is_no_term():
    from ingest.keywords import query_groups

    # "big" had the dictionary's 大幅 and weighed most; "long" matched every 长上下文
    assert query_groups("How big is the SFT dataset?") == [["sft", "监督微调"], ["dataset", "数据", "集"]]
    assert query_groups("How long is the context window?") == [["context_window", "上下文窗口"]]
    assert ["long", "长"] == query_groups("Which long documents are kept?")[0][:2]  # not after "how"


@pytest.mark.parametrize("question, rendering", [
    ("At what granularity is code deduplicated?", "粒度"),
    ("What two practical problems is COOL RLHF designed to tackle?", "解决"),
    ("What is a reward model a stand-in for?", "代理"),
    ("What two lessons did they learn about thresholds?", "经验"),
])
def test_plain_english_words_of_the_report_are_rendered(question, rendering):
    from ingest.keywords import query_groups

    assert any(rendering in g for g in query_groups(question)), query_groups(question)


def test_a_translation_counts_only_as_whole_words_of_the_corpus(rev):
    text = "我们对模型的测试表现进行了分析，准确率较高；将来自同一仓库的文件拼接。"
    found = english_coverage(rev, text, topic=lambda w: True)
    assert found["dropout"] == [] and found["star"] == []
    from ingest.lexicon import _in_corpus

    assert not _in_corpus("试表", text) and not _in_corpus("将来", text)  # across two words
    assert _in_corpus("测试", text) and _in_corpus("准确", text)  # a word, and a word inside a longer one


def test_who_is_asked_is_no_unknown_topic(answerer):
    a = answerer.ask("Who is the first person thanked in the acknowledgements?")
    assert a.answerable and "person" not in a.answer.split("\n")[0], a.answer


def test_a_question_about_rounds_that_were_run_is_answered_with_the_count(answerer):
    a = answerer.ask("How many rounds of online RLHF were run?")
    assert a.answerable and "三轮" in a.answer.splitlines()[0], a.answer
