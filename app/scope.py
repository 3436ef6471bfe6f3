"""Whether the report answers a question at all: a logistic model over what retrieval found.

Three signals, none decisive alone, are combined by weights fitted on the development questions
(benchmarks/fit_scope.py writes scope_weights.json beside this file): how much of the question the
best-covering sentence or row holds; the plain words the report has no word for ("dropout",
"bother"); whether it asks to produce something ("帮我写一个快速排序"). The result is the
probability that the report answers it, which ANSWER_MIN_EVIDENCE thresholds.

Names the report never mentions ("Qwen2-7B"), names never found together, model sizes the
answering passage is not about, values only a chart shows (chart_only) and figures the report never
states (missing_figure) stay hard rules (app/answer.py): each is certain and names its reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np

from ingest.keywords import CJK, compound_parts

from .index import derived
from .ranking import postings
from .retrieval import SUBJECT, VERSION, SectionHit, Weighted, content_groups, coverage, names_in, query_groups
from .selection import CANDIDATE_SECTIONS, Q_NUMERIC, REFERENCE

WEIGHTS_FILE = Path(__file__).with_name("scope_weights.json")

# asks the bot to produce something, or how to do the user's own task, rather than what the report says
REQUEST = re.compile(r"^\s*(?:请|麻烦)?(?:你)?(?:帮我|给我|替我)?\s*(?:写|编|生成|推荐|翻译|画|讲个|来一?[首段个])|"
                     r"(?:帮我|给我|替我)[^，。？！?!]{0,12}?(?:写|编|生成|推荐|翻译|画)|"
                     r"^\s*(?:please\s+)?(?:write|generate|compose|draft|recommend|suggest|translate|draw|tell me a|"
                     r"create|make me|can you (?:write|make|recommend|generate))\b|"
                     # the user's own task, not the report: "How do I build a web page …", "我该怎么装 CUDA"
                     r"\bhow (?:do|can|should|would) i\b|我(?:该|要|应该|想)?(?:怎么|如何|怎样)", re.IGNORECASE)

# measured leave-one-set-out on the nine development sets: these three refuse as many out-of-scope
# questions (at the same false refusals) as these plus the number of unknown words, a number-holding
# unit's coverage, the weight of the known terms, the question's length, or whether its heaviest
# term is in the best unit; adding the share of words the report never uses lowers it (0.70 → 0.66)
FEATURES = ["evidence", "unknown_share", "request"]


@dataclass(frozen=True)
class ScopeSignals:
    evidence: float  # the best non-prompt unit's coverage of the question (0..1)
    # the share of the question's (idf-weighted) terms that are plain words none of whose
    # translations the report uses: "dropout" in "What dropout rate …" weighs more than "cutoff" in
    # "What length cutoff does the length-selection step use for long-context data?"
    unknown_share: float
    request: bool

    def vector(self) -> np.ndarray:
        return np.array([self.evidence, self.unknown_share, float(self.request)])


def signals(index, question: str, sections: list[SectionHit], weighted: Weighted, plain: list[str]) -> ScopeSignals:
    """What the sections retrieved for the question (its keyword ranking) say about its scope;
    `plain`: the question's plain words the report has no word for (retrieval.split_unknown)."""
    best = 0.0
    for sec in sections[:CANDIDATE_SECTIONS]:
        for i in index.units_by_section.get(sec.number, ()):
            # a prompt's lines are examples the report shows, not what it says: plain English words in
            # them ("short", "write") must not make an unrelated request look covered
            if index.units[i].kind != "code":
                best = max(best, coverage(weighted, index.unit_tokens[i]))
    missing = {u.lower() for u in plain}
    share = sum(w for g, w in zip(weighted.groups, weighted.weights) if g[0] in missing) / (weighted.total or 1.0)
    return ScopeSignals(best, share, bool(REQUEST.search(question)))


@lru_cache(maxsize=1)
def load_weights(path: str = str(WEIGHTS_FILE)) -> dict:
    """{"weights": {"bias": b, feature: w, ...}, "threshold": t, "fitted_on": [...], ...}. One model for
    both retrieval modes: every signal is lexical, judged on the keyword ranking."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def in_scope_probability(s: ScopeSignals) -> float:
    w = load_weights()["weights"]
    z = w["bias"] + float(np.array([w[f] for f in FEATURES]) @ s.vector())
    return 1.0 / (1.0 + math.exp(-z))


# what a question asking "how much" may want a figure of: a rate, a size, a share, a threshold …
QUANTITIES = frozenset("学习率 批大小 batch 阈值 准确率 精度 比例 占比 百分比 百分之 胜率 字节数 层数 频率 间隔".split())
SHARES = frozenset("比例 占比 百分比 百分之".split())  # stated as a percentage, whatever the word ("占总量的 86.46%")
SAID = {"百分之": "百分比"}  # what a refusal calls the asked quantity: "删掉了百分之多少" asks for a 百分比
SCORES = frozenset("准确率 精度 胜率".split())  # also what a table row or a percentage states
THRESHOLDS = frozenset(["阈值"])  # also a bound: "星标数超过 10,000 的仓库", "长度不超过 4k 的语料"
BOUND = re.compile(r"(?:超过|不超过|低于|高于|大于|小于|至少|不少于|不低于|达到)\s*[\d.,]+")
# the share of the rest of the question (idf-weighted) the paragraph of such a figure must be about.
# Measured on the nine development sets and 96 in-scope quantity questions of our own: the out-of-scope
# questions this refuses have 0–0.47 of it covered; the least-covered in-scope question 0.55 ("What
# global batch size was used for the GPU scaling experiment?": "experiment" is not in §2.1)
FIGURE_COVERAGE = 0.5
# "What accuracy does the fluency classifier reach?" asks for a figure too (selection.Q_NUMERIC wants "what is")
ASKS_FIGURE = re.compile(r"\bwhat\b[^?？]*\b(?:accuracy|rate|ratio|percentage|share|proportion|fraction|threshold|batch|layers)\b",
                         re.IGNORECASE)
DIGIT = re.compile(r"\d")
# no figures either: "$S_1$", "$L_{test}$" name things; "(2024)" and "Lv et al. (2024)" are citations
# nor are names and sizes: "InternLM2-Chat-7B-SFT", "GSM8K", "cl100k", "在 7B 和 20B 两个规模", "13∼20B 的模型"
NOT_FIGURES = re.compile(r"[_^](?:\{[^}]*\}|\w)|\(\s*(?:19|20)\d\d[a-z]?\s*[);]|(?:19|20)\d\d[a-z]?\s*\)|"
                         r"[A-Za-z][\w.]*(?:-[\w.]+)*\d[\w.]*(?:-[\w.]+)*|(?<![\w.])\d+(?:\.\d+)?B\b|\d+\s*∼\s*\d+B\b")
# a figure's description gives its axes, not its values: "纵轴为胜率（WinRatio，0～70）", "（刻度 0、21、42…）"
AXES = re.compile(r"（[^）]*）|\([^)]*\)|\d[\d.]*\s*[～~]\s*\d[\d.]*")
# "How often are checkpoints saved?" asks for a frequency or an interval
HOW_OFTEN = re.compile(r"\bhow often\b|多久一次|每隔多久|多长时间(?:一次|保存)", re.IGNORECASE)


@dataclass(frozen=True)
class _Figures:
    """Per unit of the index, built once: what missing_figure looks at."""
    paragraph: list[int]  # the unit's paragraph, an index into paragraphs
    paragraphs: list[frozenset[str]]  # each paragraph's tokens (with its section's title)
    words: list[frozenset[str]]  # the unit's tokens without its English source's words
    figures: list[int]  # the units that state a figure in digits (not a figure's, table's, section's number, a year)
    texts: dict[int, str]  # those units' _figure_text, lower-cased (what _near reads)
    percent: frozenset[int]
    row: frozenset[int]
    bound: frozenset[int]
    numbers: dict[float, frozenset[int]]  # each value a number may stand for (256K: 256,000, 262,144) → its units
    charts: dict[int, str]  # a chart's units that state no figure (its axes, what it compares) → "图 N"


def _figure_text(u) -> str:
    """A unit's text less what has digits but states no figure: references, citations, subscripts, axes."""
    return NOT_FIGURES.sub("", REFERENCE.sub("", AXES.sub("", u.text) if u.figure and u.kind != "row" else u.text))


def _figures(index) -> _Figures:
    return derived(index, "_figures", lambda: _build_figures(index))


def _build_figures(index) -> _Figures:
    keys: dict[tuple, int] = {}
    tokens: list[set[str]] = []
    para = []
    for u, toks in zip(index.units, index.unit_tokens):
        k = keys.setdefault((u.chunk, u.order[:2]), len(keys))
        if k == len(tokens):
            tokens.append(set())
        tokens[k] |= toks
        para.append(k)
    texts = {i: t.lower() for i, u in enumerate(index.units) if u.kind != "code" and DIGIT.search(t := _figure_text(u))}
    figures = list(texts)
    units = index.units
    numbers: dict[float, set[int]] = {}
    for i, u in enumerate(units):
        if u.kind != "code":
            for m in NUMBER.finditer(u.text):
                for v in _values(m):  # "32K" is also 32,768 tokens
                    numbers.setdefault(v, set()).add(i)
    labels = {(u.chunk, u.order[:2]): f"图 {m.group(1)}" for u in units if u.figure and (m := CHART_LABEL.match(u.text))}
    return _Figures(
        para, [frozenset(t) for t in tokens],
        # "10.1 percentage points" in §5.2.3's source names no share of anything: the translation's own
        # words say what the unit states ("高出 10.1 个百分点")
        [toks - set(u.source.lower().split()) if u.source else toks for u, toks in zip(units, index.unit_tokens)],
        figures, texts,
        frozenset(i for i in figures if "%" in units[i].text),
        frozenset(i for i in figures if units[i].kind == "row"),
        frozenset(i for i in figures if BOUND.search(units[i].text)),
        {n: frozenset(ii) for n, ii in numbers.items()},
        {i: labels[k] for i, u in enumerate(units) if u.figure and i not in texts and (k := (u.chunk, u.order[:2])) in labels})


# a number as the report and questions write it: "512", "256,000", "256K", "1.8" (not a size, "7B", nor part
# of a name, "GSM8K")
NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?([kKmM])?(?![\w.])")
COUNTED = re.compile(r"\s*(?:张|块|台|个|卡|GPUs?\b|tokens?\b)", re.IGNORECASE)
CHART_LABEL = re.compile(r"图\s*(\d+)")
# "What MFU does InternEvo reach on 512 GPUs?" asks for a value too
ASKS_RESULT = re.compile(r"\bwhat\b[^?？]*\b(?:do|does|did)\b[^?？]*\b(?:reach|get|achieve|attain|obtain|score)", re.IGNORECASE)
# a name as written: with a digit or a capital inside ("GSM8K", "ReAct", "InternLM2-Chat-7B")
CHART_NAME = re.compile(r"[A-Za-z][\w.]*(?:-[\w.]+)*(?<!\.)")
CHART_NAME_MARK = re.compile(r"\d|.[A-Z]")
# a term a chart may name: a number, or a name with a digit or a hyphen ("internlm2-7b-200k", "knowledge-english")
CHART_TERM = re.compile(r"^(?=.*\d)[\w.]+(?:-[\w.]+)*$|^[a-z]+(?:-[a-z]+)+$")


def _values(m: re.Match) -> tuple[float, ...]:
    """The values a number may stand for: "16K" is 16,000 or 16,384 (§4.2.1's "16384 个 token")."""
    n, unit = float(m.group(1).replace(",", "")), (m.group(2) or "").lower()
    return {"k": (n * 1e3, n * 1024), "m": (n * 1e6, n * 1024 ** 2)}.get(unit, (n,))


def _asks_value(part: str) -> bool:
    return bool(Q_NUMERIC.search(part) or ASKS_FIGURE.search(part) or ASKS_RESULT.search(part))


def _size_numbers(part: str, f: _Figures):
    """Each number of the question that is a size of something ("512 张卡", "512 GPUs", "144k tokens"),
    not a bound ("above 60"), with the non-code units that have it (by value: 256K is 256,000)."""
    for m in NUMBER.finditer(part):
        if m.group(2) or COUNTED.match(part, m.end()):
            yield m, frozenset().union(*(f.numbers.get(v, frozenset()) for v in _values(m)))


def _marked_names(part: str, post: dict[str, list[int]]) -> list[str]:
    """The question's names with a digit or an inner capital that the report has, lower-cased, in order."""
    return list(dict.fromkeys(n for m in CHART_NAME.finditer(part) if CHART_NAME_MARK.search(m.group(0))
                              and (n := m.group(0).lower()) in post))


def chart_only(parts: list[str], index) -> tuple[list[str], str] | None:
    """(the terms as the question writes them, the chart's label) when a part asks how much of something
    the report names only in a chart's description — an axis tick ("GPU 数量（8、32、128、512、1024）"),
    a bar's group ("Knowledge-English"), or names together only there (InternLM2-Chat-7B with GSM8K +
    ReAct, Figure 14's bars): the chart shows the value, the text never states it ("InternEvo 在 512
    张卡上训 7B 的 MFU 是多少"). None otherwise."""
    f = _figures(index)
    post = postings(index, own=False)

    def only_charts(units) -> bool:
        units = {i for i in units if index.units[i].kind != "code"}
        return bool(units) and all(i in f.charts for i in units)

    for part in parts:
        if not _asks_value(part):
            continue
        for m, units in _size_numbers(part, f):
            if only_charts(units):
                return [m.group(0).strip()], f.charts[min(units)]
        for g in query_groups(part):
            term = g[0]
            if term in SUBJECT or not CHART_TERM.match(term) or NUMBER.fullmatch(term):  # numbers: above
                continue
            if only_charts(post.get(term, ())) and not _rendered_outside_charts(term, g[1:], index, f):
                return [term], f.charts[min(i for i in post[term] if i in f.charts)]
        names = [n for n in _marked_names(part, post) if n not in SUBJECT]
        if len(names) > 1:
            together = set(post[names[0]]).intersection(*(post[n] for n in names[1:]))
            if only_charts(together):
                return names, f.charts[min(i for i in together if i in f.charts)]
    return None


# a size as the question writes it: "1024 张 GPU", "1024 GPUs", "256K tokens"
SIZE_WORDS = re.compile(r"\s*(?:[张块台个]\s*)?(?:卡|GPUs?\b|tokens?\b)", re.IGNORECASE)


def size_apart(parts: list[str], index) -> list[str] | None:
    """[the name, the size as the question writes them] when a part asks how much for something the
    report names (a name with a digit or an inner capital: "Megatron-LM") at a size it states ("1024
    张 GPU"), but no paragraph has both: §2.1 gives DeepSpeed's MFU at 1,024 GPUs and Megatron-LM's
    at 256K-token sequences, so "Megatron-LM 在 1024 张 GPU 上训练 InternLM-7B 的 MFU" is in neither.
    The report's own models are left out: its narrative is about them without naming them ("the 32K
    stage" is every size's). None otherwise."""
    f = _figures(index)
    post = postings(index, own=False)
    for part in parts:
        if not _asks_value(part):
            continue
        names = [n for n in _marked_names(part, post) if not n.startswith("internlm") and not NUMBER.fullmatch(n)]
        for m, units in _size_numbers(part, f):
            paragraphs = {f.paragraph[i] for i in units}
            for name in names:
                if paragraphs and not paragraphs & {f.paragraph[i] for i in post[name]}:
                    size = m.group(0) + (w.group(0) if (w := SIZE_WORDS.match(part, m.end())) else "")
                    return [name, size.strip()]
    return None


def _rendered_outside_charts(term: str, alternatives: list[str], index, f: _Figures) -> bool:
    """Whether the text outside charts renders the term in Chinese: a translation of the whole word,
    or, a compound, its parts' translations in a row ("few-shot" → 少, 样本: 少样本, which Table 15's
    note uses; Figure 20 alone writes "Few-shot"). "Knowledge-English" (知识, 英文) has no such rendering.
    Kept per index and term."""
    seen = derived(index, "_chart_renderings", dict)
    key = (term, tuple(alternatives))
    if key not in seen:
        zh = [a for a in alternatives if CJK.fullmatch(a)]
        # a compound: its parts' renderings, in the order of the parts
        phrases = ({"".join(c) for n in range(2, term.count("-") + 2) for c in combinations(zh, n)}
                   if "-" in term else set(zh))
        seen[key] = any(p in u.text for p in phrases for i, u in enumerate(index.units)
                        if u.kind != "code" and i not in f.charts)
    return seen[key]


NEAR = 6  # characters between a term and its figure: "top p = 0.9", "16384 个 token"


def _near(low: str, rest: list[tuple[set[str], float]]) -> bool:
    """Whether a figure stands next to one of the rest's terms, in the same clause (`low`: the unit's
    figure text, lower-cased)."""
    return any(re.search(re.escape(t) + rf"[^，。；,;]{{0,{NEAR}}}\d|\d[^，。；,;]{{0,{NEAR}}}" + re.escape(t), low)
               for g, _ in rest for t in g if len(t) > 1 or not t.isascii())


def _rarest_name(part: str, rest: list[tuple[set[str], float]]) -> set[str] | None:
    """The rarest of the rest's term groups that the question writes as a name ("SFT", "GitHub"; not a
    version, "v2"), or None."""
    named = {n.lower() for n in names_in(part)}
    found = [(g, w) for g, w in rest if named & g and not any(VERSION.fullmatch(t) for t in g)]
    return max(found, key=lambda x: x[1])[0] if found else None


def missing_figure(parts: list[str], index) -> tuple[list[str], list[str]] | None:
    """(the asked quantities, the rest) when a part of the question asks how much of a quantity and
    no sentence or row of the report states such a figure in a paragraph about the rest of that part:
    the report discusses it but does not give the figure ("SFT 阶段混进去的长上下文数据占全部 SFT 数据的
    比例是多少？", "What percentage of the SFT data is code generation?"). A unit states the figure when
    it has digits and names the quantity, or states it in its form (a share as a percentage, a score
    as a table row or a percentage, a threshold as a bound), or, a sentence, holds all of the rest itself
    ("取 top p = 0.9" for "top p 阈值设多少"). None otherwise."""
    f = _figures(index)
    for part in parts:
        often = HOW_OFTEN.search(part)
        if not (often or Q_NUMERIC.search(part) or ASKS_FIGURE.search(part)):
            continue
        # "accuracy" asks for a result, which content_groups leaves out: here it is the asked quantity
        asked = [g for g in query_groups(part) if QUANTITIES & set(g)]
        if often:  # named in the question's language in the refusal
            asked.append(["frequency" if often.group(0).isascii() else "频率", "频率", "间隔"])
        # a single character ("时") says nothing of the topic; the report's subject is every passage's;
        # a term inside a longer one of the question (分类 in 分类器) counts once, as the longer one
        groups = [g for g in content_groups(part, index) if g[0] not in SUBJECT and len(g[0]) > 1 and g not in asked]
        inner = {t for g in groups for t in g
                 if any(t != o and t in o for h in [*groups, *asked] if h is not g for o in h)}
        # "top-p" is also the report's "top p" (a phrase, "code_generation", stays whole: 代码生成)
        rest = [({*g, *(p for t in g if "-" in t for p in compound_parts(t) if len(p) > 1 and p in index.idf)},
                 max(index.idf.get(t, 0.0) for t in g)) for g in groups if not set(g) <= inner]
        total = sum(w for _, w in rest)
        if not asked or not total:
            continue
        words = {t for g in asked for t in g}
        forms = (f.percent if words & SHARES else frozenset()) | (f.row | f.percent if words & SCORES else frozenset()) \
            | (f.bound if words & THRESHOLDS else frozenset())
        covered: dict[int, bool] = {}  # per paragraph

        def about(k: int) -> bool:
            if k not in covered:
                covered[k] = sum(w for g, w in rest if g & f.paragraphs[k]) >= FIGURE_COVERAGE * total
            return covered[k]

        # a term may be mentioned in passing by a paragraph on something else ("SFT" in §4.2.1's
        # paragraph on the reward model's batches, "GitHub" in §3.1.2's before Table 2's quality shares):
        # the unit or its section must name the rest's only term, or the rarest name the question writes
        single = rest[0][0] if len(rest) == 1 else _rarest_name(part, rest)

        # a sentence holding every other word with the figure beside one ("取 top p = 0.9"); not a row (a
        # row's cells are figures of its header's quantities only: Table 4's "15.97" is no learning rate),
        # nor a figure's label list ("10k+", ">32k?")
        def holds_rest(i: int) -> bool:
            return (i not in f.row and not index.units[i].figure
                    and all(g & index.unit_tokens[i] for g, _ in rest) and _near(f.texts[i], rest))

        if not any((single is None or single & index.unit_tokens[i]) and about(f.paragraph[i])
                   and (i in forms or words & f.words[i] or holds_rest(i))
                   for i in f.figures):
            return [SAID.get(g[0], g[0]) for g in asked], [g[0] for g in groups]
    return None


# a count as the question asks it: "多少种编程语言", "几个难度阶段", "how many samples" (not "哪几类": which,
# nor "这几个基准": these)
MEASURES = "个种名位条道项类轮次张块台层款份篇组例步遍阶件家支部句段行"
ASKS_COUNT = re.compile(rf"(?<![哪这那前后])(?:多少|几)\s*(?P<measure>[{MEASURES}])\s*(?P<zh>[^，。？?、,；;]{{1,10}})|"
                        r"\bhow many\s+(?P<en>[^?？,;]+)", re.IGNORECASE)
# a count in words: "三轮", "两个", "数千张" (not "两两组成"); "一个" is mostly an article, and counts only
# beside the counted noun ("只训练一个 epoch")
COUNT_WORDS = re.compile(rf"(?<!两)[二两三四五六七八九十百千万亿]\s*[{MEASURES}千百万亿]")
ONE = re.compile(rf"一\s*[{MEASURES}]\s*(.{{0,6}})")
# an unstated count: "划分为难度逐级递增的多个阶段"
VAGUE = re.compile(rf"(?:多|数|若干)\s*[{MEASURES}]|若干|一些")
NUMERAL_ONLY = r"(?:\d|(?<!两)[二两三四五六七八九十百千万亿])\s*"
NUMERAL = re.compile(rf"{NUMERAL_ONLY}[{MEASURES}]?")
# a complete list, which counts its items: "混合使用英文、中文和代码数据" (not "有用性、无害性、代码、数学等")
LISTED = re.compile(r"[^，。；,;：:、]+(?:、[^，。；,;：:、]+)+(?:和|及|以及|与|或)[^，。；,;：:、等]+(?=[，。；,;]|$)")
EN_COUNTED = re.compile(r"\bhow many\s+((?:[\w-]+\s+){0,2}?[\w-]+s)\b", re.IGNORECASE)


def _lists_counted(u, nouns: list[str]) -> bool:
    """Whether a sentence lists the counted things in full: a list right after the noun ("多种规模的模型，
    包括 InternLM2-1.8B、InternLM2-7B 和 InternLM2-20B"), or anywhere when the noun goes by another name
    ("几种语言": "混合使用英文、中文和代码数据") — not a list of something else beside the noun ("将 SFT 模型、
    早期 PPO 模型和后期 PPO 模型生成的回复……交由人工标注员标注" by "标注员")."""
    text = REFERENCE.sub("", u.text).lower()
    named = [n for n in nouns if n in text]
    return any(not named or any(n in text[max(0, m.start() - 12):m.start()] for n in named)
               for m in LISTED.finditer(text))


def unstated_count(parts: list[str], chosen: list, shown: list, index) -> list[str] | None:
    """[the counted noun as the question writes it, or nothing] when a part asks how many of something
    and the sentences chosen to answer it state no count at all, or state only that there are several
    of the noun ("MathBench 一共分成几个难度阶段？": "划分为难度逐级递增的多个阶段"): the report discusses
    it but does not say how many ("慢速路径一共请了多少名人工标注员？", "How many samples are in the
    Agent-FLAN corpus?"). A number anywhere in them counts as stated, as does a count of the asked
    measure or noun in the passage the answer quotes (`shown`: "我们经过三轮迭代最终确定了打分模型"
    for "迭代了几轮"): the rule refuses only when the answer could not hold the count, and the report
    states no count of the noun beside the question's names anywhere. None otherwise."""
    if not chosen:
        return None
    low = [_figure_text(u).lower() for u in chosen]
    quoted = [_figure_text(u).lower() for u in shown]
    for part in parts:
        m = ASKS_COUNT.search(part)
        if not m:
            continue
        named = {n.lower() for n in names_in(part)}
        groups = [g for g in query_groups(m.group("zh") or m.group("en"))
                  if any(t in index.idf for t in g) and not named & set(g)]
        # "few-shot" is also counted as "4-shot"
        nouns = list(dict.fromkeys(p.lower() for g in groups[:2] for t in g
                                   for p in (t, *(compound_parts(t) if "-" in t else ()))
                                   if len(p) > 1 or not p.isascii()))
        measure = m.group("measure")

        def beside(pattern: re.Pattern, texts, gap: int) -> bool:
            """Whether a text has the pattern within `gap` characters before a counted noun, in one clause."""
            return any(re.search(f"(?:{pattern.pattern})[^，。；,;]{{0,{gap}}}?{re.escape(n)}", t)
                       for t in texts for n in nouns)

        stated = (any(DIGIT.search(t) or COUNT_WORDS.search(t) for t in low)
                  or any(any(n in o.group(1) for n in nouns) for t in low for o in ONE.finditer(t))
                  or beside(NUMERAL, quoted, NEAR)
                  or bool(measure) and any(re.search(NUMERAL_ONLY + re.escape(measure), t) for t in quoted))
        # several of the noun, counted by no number beside it, nor listed ("多种规模的模型，包括 …")
        vague = beside(VAGUE, low, 2) and not beside(NUMERAL, low, NEAR)
        if any(_lists_counted(u, nouns) for u in chosen) or stated and not vague:
            continue
        # the answer missed a count the report states elsewhere, beside every name the question writes
        # (Figure 14's caption "GSM8K（4-shot）" for "How many few-shot examples are used for GSM8K?"): a
        # poor answer, not a reason to refuse
        names = [n for n in named if n not in SUBJECT]
        # (not _figure_text: a chart's caption keeps its "（4-shot）")
        texts = (NOT_FIGURES.sub("", REFERENCE.sub("", u.text)).lower() for u in index.units
                 if u.kind != "code" and all(n in u.text.lower() for n in names))
        if not (names and beside(NUMERAL, texts, NEAR)):
            written = EN_COUNTED.search(part)
            return [written.group(1)] if written else []
    return None


# a variant of a name: its stem, a hyphen and a qualifier ("MBPP-CN", "DeepSpeed-Ulysses"; not a size or a
# version, "Qwen-14B", "GPT-3.5", nor a one-letter stem, "T-Eval")
VARIANT_NAME = re.compile(r"(?<![\w-])([A-Za-z][A-Za-z0-9.]+)-([A-Za-z0-9.]+)(?![\w-])")
NOT_QUALIFIER = re.compile(r"[\d.]+[BbMmKk]?|v[\d.]+", re.IGNORECASE)


def _whole_name_in(name: str, text: str) -> bool:
    """Whether `text` names `name` as a whole (MBPP in "MBPP 包含", not in "MBPP-CN")."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE) is not None


def variant_stem(question: str, unit, index) -> tuple[str, str] | None:
    """(the variant the question asks about, its stem) when the sentence answering it names the stem and
    not the variant, which the report also names: "How many problems are in the MBPP-CN set?" was
    answered with "MBPP 包含 974 道…", a different benchmark. A question naming the stem too compares
    them and is not refused; nor is one about the report's own models (InternLM2-Chat, sizes: rule 4)."""
    for m in VARIANT_NAME.finditer(question):
        variant, stem = m.group(0), m.group(1)
        if (stem.lower().startswith("internlm") or NOT_QUALIFIER.fullmatch(m.group(2))
                or _whole_name_in(stem, question) or not _whole_name_in(stem, unit.text)
                or _whole_name_in(variant, unit.text)):
            continue
        if any(_whole_name_in(variant, u.text) for u in index.units if u.kind != "code"):
            return variant, stem
    return None
