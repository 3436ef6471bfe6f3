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
# Chinese terms jieba should not cut
ZH_TERMS = [
    "奖励模型", "条件奖励模型", "长上下文", "预训练", "监督微调", "大海捞针", "系统提示词", "提示词",
    "基座模型", "对话模型", "评论家模型", "参考模型", "策略模型", "分词器", "词表", "超参数", "学习率",
    "批大小", "消融实验", "数据污染", "主观评测", "指令遵循", "代码解释器", "工具调用", "智能体",
    "张量并行", "数据并行", "序列并行", "流水线并行", "去重", "奖励欺骗", "偏好数据", "排序损失",
    "惩罚项", "上下文窗口", "增强训练", "能力专项增强训练", "数据过滤", "质量过滤", "安全过滤",
    "显存", "通信开销", "容错", "交互式训练", "模型结构", "分组查询注意力", "浮点运算利用率",
]
STOPWORDS = set(
    "的 了 是 在 和 与 及 或 也 都 就 而 被 把 对 从 以 为 于 之 其 这 那 中 上 下 个 吗 呢 吧 啊 呀 "
    "我们 你们 他们 它们 什么 多少 怎么 怎样 如何 哪些 哪个 为什么 是否 有没有 请问 请 一下 告诉 "
    "报告 论文 里 中的 使用 用 用了 了吗 是什么 有 有哪些 采用 通过 进行 可以 能 会 一个 一种 "
    "， 。 ？ ！ ： ； 、 （ ） “ ” ‘ ’ 《 》 【 】 "
    "a an the of to in on for and or is are was were be by with as at from that this which what "
    "how does do did use used uses many much why when where who whom whose it its their there "
    "about into than then so such can could would should will not no yes paper report".split()
)

LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-_/∼~]*[A-Za-z0-9+]|[A-Za-z0-9]")
SEPARATORS = re.compile(r"[-_/+∼~]+")
NUMBERLIKE = re.compile(r"[\d.]+(?:e-?\d+)?[a-z%]*")
CJK = re.compile(r"[\u4e00-\u9fff]+")


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


def tokenize(text: str) -> list[str]:
    """Tokens for BM25 (lower-cased, stopwords removed, duplicates kept)."""
    _init_jieba()
    text, tokens = _phrase_tokens(text)
    for m in re.finditer(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+", text):
        run = m.group(0)
        if CJK.fullmatch(run):
            tokens += [t for t in jieba.cut_for_search(run) if t.strip()]
            continue
        for tok in LATIN.findall(run.lower()):
            tok = tok.strip(".-_/")
            if not tok:
                continue
            tokens.append(tok)
            if not NUMBERLIKE.fullmatch(tok):
                parts = [p for p in SEPARATORS.split(tok) if p]
                if len(parts) > 1:
                    tokens += parts
            if tok.isalpha() and len(tok) > 3 and tok.endswith("s") and tok not in STOPWORDS:
                tokens.append(tok[:-1])  # crude plural folding: tokens -> token
    return [t for t in tokens if t not in STOPWORDS]
