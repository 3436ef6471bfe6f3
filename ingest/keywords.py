"""Keyword tokens for BM25: jieba for Chinese, whole technical terms for Latin text.

"InternLM2-Chat-20B" is kept whole (and also yields "internlm2", "chat", "20b"), multi-word
terms such as "COOL RLHF" or "Needle in a Haystack" become one token, numbers stay intact
("4e-5", "2.6T", "1024").
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)

# multi-word English terms that should match as one unit
PHRASES = [
    "cool rlhf", "online rlhf", "needle in a haystack", "reward model", "conditional reward model",
    "long context", "long-context", "code interpreter", "system prompt", "data contamination",
    "fast path", "slow path", "model flops utilization", "grouped-query attention",
    "supervised fine-tuning", "instruction following", "human feedback",
]
# the long forms the report abbreviates ("基于人类反馈的强化学习（RLHF）"): a text that writes only the long
# form ("4.2 COOL 基于人类反馈的强化学习") also yields the abbreviation ("cool_rlhf" there)
ABBREVIATIONS = {
    "基于人类反馈的强化学习": "RLHF", "reinforcement learning from human feedback": "RLHF", "监督微调": "SFT",
    "近端策略优化": "PPO", "proximal policy optimization": "PPO", "分组查询注意力": "GQA",
    "grouped-query attention": "GQA", "模型浮点运算利用率": "MFU", "model flops utilization": "MFU",
    "旋转位置编码": "RoPE", "rotary position embedding": "RoPE", "零冗余优化器": "ZeRO", "局部敏感哈希": "LSH",
    "检索增强生成": "RAG", "retrieval-augmented generation": "RAG", "通用人工智能": "AGI",
}
_LONG_FORM = re.compile("|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True)), re.IGNORECASE)


def with_abbreviations(text: str) -> str:
    """Each long form the report abbreviates, preceded by its abbreviation unless the text gives it."""
    def put(m: re.Match) -> str:
        short = ABBREVIATIONS[m.group(0).lower()]
        given = text[m.end():m.end() + len(short) + 3]
        return m.group(0) if short.lower() in given.lower() else f"{short} {m.group(0)}"
    return _LONG_FORM.sub(put, text)


# Chinese terms jieba should not cut
ZH_TERMS = [
    "一共", "总共", "多少", "为啥", "哪些", "哪几", "几个",
    "奖励模型", "条件奖励模型", "长上下文", "预训练", "监督微调", "大海捞针", "系统提示词", "提示词",
    "基座模型", "对话模型", "评论家模型", "参考模型", "策略模型", "分词器", "词表", "超参数", "学习率",
    "批大小", "消融实验", "数据污染", "主观评测", "指令遵循", "代码解释器", "工具调用", "智能体",
    "张量并行", "数据并行", "序列并行", "流水线并行", "去重", "奖励欺骗", "偏好数据", "排序损失",
    "惩罚项", "上下文窗口", "增强训练", "能力专项增强训练", "数据过滤", "质量过滤", "安全过滤",
    "显存", "星标", "星标数", "通信开销", "容错", "交互式训练", "模型结构", "分组查询注意力", "浮点运算利用率",
    "占比", "优化器", "长文本", "快速路径", "慢速路径", "上下文长度",
]
# a term inside a longer one: "条件奖励模型" is also a 奖励模型, "零冗余优化器" an 优化器 (jieba's search
# mode only yields the two- and three-character words inside a long one)
_INNER = {t: [u for u in ZH_TERMS if u != t and len(u) >= 3 and u in t] for t in ZH_TERMS}
STOPWORDS = set(
    "的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 从 以 为 于 之 其 这 那 中 上 下 个 吗 呢 吧 啊 呀 "
    "我们 你们 他们 它们 什么 多少 怎么 怎样 如何 哪些 哪个 为什么 是否 有没有 请问 请 一下 告诉 "
    "报告 论文 里 中的 使用 用 用了 了吗 是什么 有 有哪些 采用 通过 进行 可以 能 会 一个 一种 "
    "， 。 ？ ！ ： ； 、 （ ） “ ” ‘ ’ 《 》 【 】 "
    "a an the of to in on for and or is are was were be by with as at from that this which what "
    "how does do did use used uses many much why when where who whom whose it its their there "
    "about into than then so such can could would should will not no yes paper report "
    # question words: they say what is asked, not what it is about
    "多少 一共 总共 几 几个 几种 几轮 哪 哪些 哪几 哪几个 哪个 哪种 啥 为啥 咋 怎么样 多大 多长 多久 "
    "分别 大概 大约 具体 主要 用的 有何 么 吧 呀 还是 或者 其中 里面 时候 能够 需要 要 做 得到 达到 "
    # what kind of name is asked for: the report gives it in brackets ("COOL RLHF（条件在线 RLHF，…）")
    "全称 全名 英文全称 中文全称 简称 缩写 "
    "they their them theirs it's what's whats which's get gets got number value values kind "
    "called name named main mainly give given tell me please does did do done any some there "
    # common English function words and question phrasing
    "i you he she we us our your his her my mine its these those has have had having been being "
    "if but because while during before after above below up down out off over under again further "
    "once here all both each few more most other own same only very just also too s t don now "
    "exactly actually really basically roughly approximately around overall total specific specifically "
    "who's where's how's there's let's explain describe mean means meant stand stands happen happens happened "
    "go going goes make makes made take takes took run runs ran need needs needed want wants like one's "
    "one two three four five six seven eight nine ten first second third last next previous "
    "supposed able whether either neither also yet still even ever via per versus vs etc "
    "say says said show shows shown showed see seen look looks find found report's paper's "
    "thing things way ways kind sort type types part parts case cases".split()
)
# "Llama 3", "Claude 3": a name and its version are one thing (the report writes "Llama2")
NAME_VERSION = re.compile(r"\b([a-z][a-z]+)\s+(\d(?:\.\d)?)\b")
NOT_NAMES = {"table", "figure", "fig", "section", "sec", "eq", "equation", "top", "step", "phase", "round",
             "chapter", "stage", "level", "path", "part", "appendix", "rank", "version", "epoch", "layer"}

LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-_/∼~]*[A-Za-z0-9+]|[A-Za-z0-9]")
SEPARATORS = re.compile(r"[-_/+∼~]+")
RANGE = re.compile(r"(\d)\s*[∼~～〜–—]\s*(\d+(?:\.\d+)?[BKMT]\b)", re.IGNORECASE)  # a range of sizes ("13∼20B 模型")
NUMBERLIKE = re.compile(r"[\d.]+(?:e-?\d+)?[a-z%]*")
CJK = re.compile(r"[\u4e00-\u9fff]+")
# a symbol with a subscript, as the report writes it in LaTeX ($W_k$, $S_1$): readers type "Wk", "S1"
SUBSCRIPTED = re.compile(r"[a-z]{1,2}_[a-z0-9]{1,2}")


# bump when how text is cut changes beyond the patterns and lists below
TOKENIZER_RULES = "ranges-as-hyphens"


def tokenizer_fingerprint() -> str:
    """What tokenizing depends on besides jieba: the terms, stopwords and glossary. An index built
    with other ones must be rebuilt (its BM25 tokens and unit tokens would not match the questions')."""
    import hashlib

    from .glossary import GLOSSARY, ZH_HINTS

    parts = [TOKENIZER_RULES, RANGE.pattern, SUBSCRIPTED.pattern, sorted(ABBREVIATIONS.items()), PHRASES, ZH_TERMS, sorted(STOPWORDS), sorted(SINGLE_CHAR_TERMS), sorted(NOT_NAMES), sorted(GREEK.items()),
             sorted(GLOSSARY.items()), sorted(ZH_HINTS.items())]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def _init_jieba() -> None:
    for term in ZH_TERMS:
        jieba.add_word(term, freq=200000)
    jieba.initialize()


def _phrase_tokens(text: str) -> tuple[str, list[str]]:
    lowered = text.lower()
    found = []
    for p in sorted(PHRASES, key=len, reverse=True):
        if p in lowered:
            found.append(p.replace(" ", "_").replace("-", "_"))
            lowered = lowered.replace(p, " ")
    return lowered, found


def _term_tokens(term: str) -> list[str]:
    """A glossary term as index tokens: whole words only ("学习率", not also "学习")."""
    _init_jieba()
    if not CJK.search(term):
        # "n_{\mathrm{layers}}" is layers: not "n" and "mathrm", which every symbol header holds
        return [t for t in tokenize(term) if len(t) > 1 and t not in LATEX_WORDS]
    return [t for t in jieba.lcut(term) if t.strip() and t not in STOPWORDS]


LATEX_WORDS = {"mathrm", "mathbf", "mathit", "text", "textbf", "frac", "left", "right"}


def hint_tokens(text: str) -> list[str]:
    """Extra BM25 terms for Chinese question phrasing ("一共" → 总数/总计)."""
    from .glossary import ZH_HINTS

    return [t for key, terms in ZH_HINTS.items() if key in text for term in terms for t in _term_tokens(term)]


def query_groups(text: str) -> list[list[str]]:
    """Question tokens as groups of alternatives: an English word also matches the Chinese term
    the translation uses ("learning rate" → 学习率). A group is matched if any member is."""
    return [list(g) for g in _query_groups(text)]


@lru_cache(maxsize=4096)
def _query_groups(text: str) -> tuple[tuple[str, ...], ...]:
    """query_groups, computed once per text (answering asks for a question's groups several times)."""
    from .glossary import GLOSSARY

    lowered = text.lower()
    groups: list[list[str]] = []
    for m in list(NAME_VERSION.finditer(lowered)):
        if m.group(1) not in NOT_NAMES and m.group(1) not in STOPWORDS and m.group(1) not in GLOSSARY:
            groups.append([m.group(1) + m.group(2)])
            lowered = lowered.replace(m.group(0), " ")
    for phrase in sorted((k for k in GLOSSARY if " " in k), key=len, reverse=True):
        if re.search(rf"\b{re.escape(phrase)}\b", lowered):
            zh = [t for term in GLOSSARY[phrase] for t in _term_tokens(term)]
            groups.append([phrase.replace(" ", "_").replace("-", "_"), *zh])
            lowered = re.sub(rf"\b{re.escape(phrase)}\b", " ", lowered)
    by_head = {g[0]: g for g in groups}
    compound: list[str] | None = None
    # "多少条指令数据": the measure word only counts what follows (the report's "1000 万条" is one token);
    # "short for", "full name" only say a name is asked
    lowered = HOW_MEASURE.sub("how ", NAME_ASKED.sub(" ", PREPOSITIONS.sub(" ", COUNTED.sub(r"\1 ", lowered))))
    for tok in tokenize(lowered):
        if compound is not None and tok in compound[1:] and tok not in by_head:
            continue  # "pre-training" → "pre", "training": alternatives of the compound, not new terms
        if CJK.fullmatch(tok) and len(tok) >= 2 and tok[0] in "几多" and tok not in ZH_TERMS:
            tok = tok[1:]  # "几层" → "层", "多长" → "长"
        if tok in by_head:
            continue
        if CJK.fullmatch(tok) and len(tok) == 1 and tok not in SINGLE_CHAR_TERMS and not is_zh_noun(tok):
            continue  # stray single characters from jieba ("一共用了" → 一 / 共用); nouns (钱, 题) stay
        plural = by_head.get(tok + "s")
        if plural is not None:  # "tokens" then its folded "token": one group
            if tok not in plural:
                plural.append(tok)
            continue
        parts = compound_parts(tok)
        # the whole word's rendering when the glossary has one ("pre-training" → 预训练, not also the
        # 训练 of "training"); else its parts'
        # a phrase token ("long_context": the glossary's "long-context") also matches its words' renderings
        phrase = GLOSSARY.get(tok.replace("_", "-"), []) + GLOSSARY.get(tok.replace("_", " "), []) if "_" in tok else []
        zh = [t for term in GLOSSARY.get(tok) or [*phrase, *(x for p in parts for x in GLOSSARY.get(p, []))]
              for t in _term_tokens(term)]
        if tok.isalpha() and tok.isascii():  # and the words our translation renders it by, learned
            zh += learned_renderings(tok)
        by_head[tok] = [tok, *dict.fromkeys(z for z in zh if z != tok)]
        groups.append(by_head[tok])
        compound = [tok, *parts] if parts else None
    return tuple(tuple(g) for g in groups)


SINGLE_CHAR_TERMS = set("层头轮步批表图")
# "What is COOL RLHF short for?", "the full name of GQA": what kind of name is asked for (the report
# gives it in brackets), like 全称 and 缩写 (STOPWORDS); query side only
NAME_ASKED = re.compile(r"\b(?:short|stands?) for\b|\bfull (?:name|form)s?\b|\babbreviat\w*|\bacronyms?\b|"
                        r"\bwhat (?:do|does|did|would) (?:\w+ ){1,2}?call\b")  # "what do they call …": not 调用
# "How big is the SFT dataset?", "How long is the context window?": the adjective asks for a magnitude,
# like 多大 and 多长; it names nothing a passage holds ("big" → 大幅, "long" → every 长上下文)
HOW_MEASURE = re.compile(r"\bhow (?:big|large|small|long|short|high|low|fast|far|often|wide|deep|heavy)\b")
# English prepositions of several words: "built on top of" asks what it is based on, not for a top
# (best) result; "in terms of", "as well as" name nothing either (query side only)
PREPOSITIONS = re.compile(r"\b(?:on top of|in terms of|by means of|in front of|in spite of|as well as|with respect to|"
                          r"in addition to|on behalf of|by way of)\b")
# after "多少" or "几" a measure word only counts the noun that follows (query side only)
COUNTED = re.compile(r"(多少|几)[个条种项次位名篇份款家组类张道套支部台块件句段行]")


def learned_renderings(word: str) -> list[str]:
    """The Chinese words our translation renders an English word by, learned from the report in both
    languages (`benchmarks/fit_parallel_lexicon.py`): "coefficient" → 系数, "actor" → 策略模型."""
    from .glossary import learned_lexicon
    from .lexicon import lemma

    table = learned_lexicon()
    return table.get(lemma(word)) or table.get(word) or []


def compound_parts(term: str) -> list[str]:
    """"internlm2-chat-7b" → internlm2, chat, 7b; [] for a plain word or a number ("4e-5")."""
    return [p for p in SEPARATORS.split(term) if p] if SEPARATORS.search(term) and not NUMBERLIKE.fullmatch(term) else []


@lru_cache(maxsize=4096)
def is_zh_noun(char: str) -> bool:
    """jieba tags every part of it as a noun (钱, 小时, 天气)."""
    import jieba.posseg

    return all(p.flag.startswith("n") for p in jieba.posseg.lcut(char))


# a question types "γ", the corpus writes "$\gamma$": both become the token "gamma"
GREEK = {c: f" {name} " for c, name in zip(
    "αβγδεζηθικλμνξπρστυφχψωΔΘΛΣΦΨΩ",
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi "
    "psi omega delta theta lambda sigma phi psi omega".split())}


def tokenize(text: str) -> list[str]:
    """Tokens for BM25 (lower-cased, stopwords removed, duplicates kept)."""
    _init_jieba()
    text = RANGE.sub(r"\1-\2", text)  # "13∼20B" as a reader types it: "13-20B"
    text, tokens = _phrase_tokens(with_abbreviations(text.translate(str.maketrans(GREEK))))
    for m in re.finditer(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+", text):
        run = m.group(0)
        if CJK.fullmatch(run):
            for t in jieba.cut_for_search(run):
                if t.strip():
                    tokens.append(t)
                    tokens += _INNER.get(t, ())
            continue
        for tok in LATIN.findall(run.lower()):
            tok = tok.strip(".-_/")
            if not tok:
                continue
            tokens.append(tok)
            if SUBSCRIPTED.fullmatch(tok):
                tokens.append(tok.replace("_", ""))
            if not NUMBERLIKE.fullmatch(tok):
                parts = [p for p in SEPARATORS.split(tok) if p]
                if len(parts) > 1:
                    tokens += parts
            if tok.isalpha() and len(tok) > 3 and tok.endswith("s") and tok not in STOPWORDS:
                tokens.append(tok[:-1])  # crude plural folding: tokens -> token
    return [t for t in tokens if t not in STOPWORDS]
