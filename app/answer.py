"""Grounded answers with section citations: extractive (default) or through an LLM.

Both modes refuse when the retrieved evidence is too weak, and every citation in the answer
refers to a section that was actually retrieved.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Iterator

from ingest.keywords import CJK, query_groups, tokenize
from ingest.settings import Settings
from ingest.units import LABEL_ONLY, PARA_LEAD, POINTS_BACK, UnitRecord, clean

from .index import IndexHandle, derived
from .retrieval import (_FOLD, ENTITY, MODEL_SIZE, RESULT_VERBS, SUBJECT, dense_query, Retrieval,
                        Weighted, coverage, is_phrasing, never_together, retrieve, split_unknown, term_groups,
                        unknown_names)
from .scope import (chart_only, in_scope_probability, missing_figure, signals, size_apart, unstated_count,
                    variant_stem)
from .scope import load_weights as load_scope_weights
from .selection import FEATURES, REFERENCE, Candidate, QuestionType, candidates, load_weights, score, title_tokens
from .tables import (MODEL_WORD, Extreme, ModelTables, extreme_asked, extreme_row, extreme_sentence, header_tokens,
                     missing_cell, names_column, other_benchmark, table_label)

CITE = re.compile(r"\[§\s*([0-9A](?:\.\d+)*)\s*\]")


@dataclass
class Citation:
    section: str
    title: str
    snippet: str
    score: float
    used: bool = True  # the answer text relies on it (False: retrieved, shown for reference)
    quote: str = ""  # the exact Markdown passage (sentence or table row) to highlight in the section


@dataclass
class Answer:
    answer: str
    answerable: bool
    citations: list[Citation]
    mode: dict  # {"retrieval": "hybrid"|"keyword", "generation": "llm"|"extractive"}
    notice: str | None = None
    evidence: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["evidence"] = round(self.evidence, 3)
        return d


# a Chinese sentence's own words and marks: "InternLM2-Chat-7B 的 HumanEval 分数？" is Chinese, however long
# its names
ZH_GRAMMAR = re.compile(r"[的了吗呢吧是在和与有用哪谁么？，。、]")


def is_chinese(text: str) -> bool:
    """Answer in Chinese unless the question is (nearly) all Latin script."""
    cjk = sum(len(run) for run in CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return cjk >= 4 or (cjk > 0 and (cjk * 6 >= latin or bool(ZH_GRAMMAR.search(text))))


def _and(items: list[str], zh: bool) -> str:
    """“A”、“B”和“C” / A, B and C"""
    if len(items) < 2:
        return "".join(items)
    # "7B 和 20B", but "“A”和“B”": a space beside Latin letters and digits, as the report writes
    latin = zh and re.search(r"[A-Za-z0-9]$", items[-2]) and re.match(r"[A-Za-z0-9]", items[-1])
    return ("、" if zh else ", ").join(items[:-1]) + (" 和 " if latin else "和" if zh else " and ") + items[-1]


def _or(items: list[str]) -> str:
    """“A”, “B” or “C”"""
    quoted = [f"“{t}”" for t in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _as_written(term: str, text: str) -> str:
    """A lower-cased query term as the user wrote it ("gpt-4" → "GPT-4")."""
    m = re.search(re.escape(term).replace("_", "[ _-]"), text, re.IGNORECASE)
    return m.group(0) if m else term


NOT_COVERED = {
    True: "报告中没有找到能回答这个问题的内容。《InternLM2 技术报告》没有涉及它，或者换个说法再问一次？",
    False: "The InternLM2 Technical Report does not cover this question (nothing in it answers it). "
           "Try rephrasing, or ask about something the report discusses.",
}


# --- extractive mode ---------------------------------------------------------------------------

FIGURE_CELL = re.compile(r"[\d.,]+\s*%?")


def _row_sentence(u: UnitRecord, section: str, groups: list[list[str]], zh: bool) -> str:
    """A table row as a sentence, with the columns the question asks about (all when it names none)."""
    # a table of one row of figures (Table 2: "105.6 | 16.8% | …") names no row: every cell is a value
    unnamed = bool(FIGURE_CELL.fullmatch(u.cells[0]))
    pairs = [(h, v) for h, v in zip(u.header[0 if unnamed else 1:], u.cells[0 if unnamed else 1:]) if v]
    # the columns naming the most of what is asked: "LongBench average" is the one column
    # "LongBench Avg.", not every LongBench column; "几层，隐藏维度" is two; "LongBench 总分" all
    named = [{k for k, g in enumerate(groups) if names_column(header_tokens(h, u.caption), set(g))} for h, _ in pairs]
    shown = [p for p, n in zip(pairs, named) if n and not any(n < other for other in named)] or pairs
    tname = table_label(u.caption, zh)
    group = u.context.rsplit(" ", 1)[-1] if u.context and "模型" in u.context.rsplit(" ", 1)[-1] else ""
    if zh:
        values = "、".join(f"{h} 为 {v}" for h, v in shown)
        if unnamed:
            return f"{tname}（§{section}）中，{values}。"
        return f"{tname}（§{section}）中，{u.cells[0]}{'（' + group + '）' if group else ''} 的 {values}。"
    values = ", ".join(f"{h}: {v}" for h, v in shown)
    if unnamed:
        return f"In {tname} (§{section}): {values}."
    return f"In {tname} (§{section}), {u.cells[0]} has {values}."  # a score or a setting (Table 3)


@dataclass
class Extract:
    """What extractive mode found: the answer text, the citations, the chosen candidates, and the
    question's weighted term groups it judged them by."""
    text: str
    citations: list[Citation]
    chosen: list[Candidate]
    weighted: Weighted
    # (asked, given, section): the question names a model size that the answering passage does not,
    # while it names others ("1.8B" asked, "7B", "20B" given, §4.1) and no passage that does answers as well
    size_mismatch: tuple[list[str], list[str], str] | None = None
    rendered: dict[str, str] = field(default_factory=dict)  # unit id → as the first line states it
    # (the model as the question writes it, the table's caption): the question asks about a model no
    # row of the report names, and the answer would be another model's row
    absent_model: tuple[str, str] | None = None
    context: list[UnitRecord] = field(default_factory=list)  # the sentences around the best one, quoted


def choose(ranked: list[Candidate], weighted: Weighted, select: dict) -> list[Candidate]:
    """The best unit, plus up to two more that the fitted model rates nearly as likely (a tie) or that
    say what the best one lacks (part of a question that asks several things)."""
    best = ranked[0]
    chosen = [best]
    seen_tokens = set(best.tokens)
    tie, partial, adds = select.get("tie", 0.6), select.get("partial", 0.15), select.get("adds", 0.1)
    for c in ranked[1:12]:
        if len(chosen) == select.get("max_units", 3):
            break
        ratio = math.exp(c.score - best.score)
        gain = coverage(weighted, frozenset(seen_tokens | c.tokens)) - coverage(weighted, frozenset(seen_tokens))
        same_table = (c.unit.kind == best.unit.kind == "row" and c.unit.chunk == best.unit.chunk
                      and c.features[FEATURES.index("row_name")] and best.features[FEATURES.index("row_name")])
        if ratio >= tie or (ratio >= partial and gain >= adds) or same_table:
            chosen.append(c)
            seen_tokens |= c.tokens
    return chosen


def with_antecedents(chosen: list[Candidate], ranked: list[Candidate]) -> list[Candidate]:
    """Each chosen sentence that points back ("为了解决这些问题，…", "我们将其默认值设为 0.02") gets the
    sentence before it, in its paragraph or the one above; and the next sentence of its paragraph joins
    it when that one points back to it."""
    sentences = sorted((c for c in ranked if c.unit.kind == "sentence"), key=lambda c: (c.section.number, c.unit.order))
    pairs = [(p, c) for p, c in zip(sentences, sentences[1:]) if p.section.number == c.section.number]
    before = {c.unit.id: p for p, c in pairs}
    after = {p.unit.id: c for p, c in pairs if p.unit.order[:2] == c.unit.order[:2]}  # in its paragraph
    have = {c.unit.id for c in chosen}
    out = list(chosen)
    # the sentence after a chosen one that goes on about it ("参数 λ 是一个加权系数…" → "我们将其默认值设为 0.02")
    for c in chosen:
        n = after.get(c.unit.id)  # sentences only
        if n is not None and n.unit.id not in have and POINTS_BACK.match(n.unit.text):
            out.append(n)
            have.add(n.unit.id)
    for c in chosen:
        for _ in range(2):  # "为了解决这些问题" after "这会导致…": back to the sentence that names them
            if c.unit.kind != "sentence" or not POINTS_BACK.match(c.unit.text):
                break
            c = before.get(c.unit.id)  # the sentence before it, in its paragraph or the one above
            if c is None or c.unit.id in have:
                break
            out.append(c)
            have.add(c.unit.id)
    return out


# a paragraph a sentence ending in a colon can introduce: a list item or a displayed formula
LIST_MARK = re.compile(r"^\s*(?:[-*]|\d+\.|[a-z]\))\s+")
INTRODUCED = re.compile(rf"{LIST_MARK.pattern}|^\s*\$\$")
INTRODUCES = ("：", ":")
MAX_INTRODUCED, INTRODUCED_CHARS = 6, 400  # a list longer than that is the passage's, not the answer's
ITEM_LEAD = re.compile(r"^\s*(?:[-*]|\d+\.)?\s*\*\*([^*\n]{2,120})\*\*")  # a list item's bold lead, with its English


def _reading_order(ranked: list[Candidate], kinds: tuple[str, ...]) -> tuple[list[Candidate], dict[str, int]]:
    """The candidates of those kinds in reading order (section, then place), and each one's position."""
    ordered = sorted((c for c in ranked if c.unit.kind in kinds), key=lambda c: (c.section.number, c.unit.order))
    return ordered, {c.unit.id: k for k, c in enumerate(ordered)}


def with_introduced(chosen: list[Candidate], ranked: list[Candidate]) -> tuple[list[Candidate], dict[str, str]]:
    """A chosen sentence that ends in a colon ("关于阈值设定，我们总结了两条经验：", "奖励模型的损失函数
    为：") gets what it introduces: the first sentence of each list item or the formula after it (each
    item's bold lead alone when those are too long: "要点如下：" before four contributions); a
    prompt's line that does ("To use a tool, please response with the following format:"), the lines
    after it up to the next blank one. Returns the units and, for those it added, how the answer
    states each (without its list mark)."""
    ordered, at = _reading_order(ranked, ("sentence", "code"))
    have = {c.unit.id for c in chosen}
    out, added = list(chosen), {}
    for c in chosen:
        if not c.unit.text.endswith(INTRODUCES) or c.unit.id not in at:
            continue
        items, size, last = [], 0, c
        for n in ordered[at[c.unit.id] + 1:]:
            if n.section.number != c.section.number or len(items) == MAX_INTRODUCED:
                break
            if c.unit.kind == "code":  # the next lines of its block (after a blank one), up to a blank line
                step = n.unit.order[2] - last.unit.order[2]
                if n.unit.kind != "code" or n.unit.chunk != c.unit.chunk or step > (2 if not items else 1):
                    break
            elif n.unit.kind != "sentence" or n.unit.order[:2] == c.unit.order[:2]:
                break
            elif n.unit.order[2] != 0:  # an item's later sentences
                continue
            elif not INTRODUCED.match(n.unit.raw):
                break
            items.append(n)
            size, last = size + len(n.unit.text), n
        said = [LIST_MARK.sub("", n.unit.text) for n in items]
        if size > INTRODUCED_CHARS:  # the items' bold leads ("开源性能卓越的 InternLM2（…）"), when each has one
            leads = [ITEM_LEAD.match(n.unit.raw) for n in items]
            said = [clean(m.group(1)) for m in leads] if all(leads) else []
        if items and said and sum(map(len, said)) <= INTRODUCED_CHARS:
            for n, text in zip(items, said):
                if n.unit.id not in have:
                    out.append(n)
                    have.add(n.unit.id)
                    added[n.unit.id] = text
    return out, added


# "共包括三个阶段：a）长度筛选…；b）统计过滤器…；c）困惑度过滤器…。" is one sentence that units split at
# its semicolons: the unit that opens the enumeration stands for all of it
OPENS_ITEMS = re.compile(r"[：:]\s*(?:[（(]?[a-z1-9][）)]|[①-⑨])")
NEXT_ITEM = re.compile(r"^\s*(?:[（(]?[a-z1-9][）)]|[①-⑨])")
ITEM_ENDS = ("；", ";")


# "预训练过程分为三个不同的阶段。第一阶段，…。第二阶段，…。第三阶段，…。": a count announced, then
# each item in a sentence of its own that an ordinal opens
ANNOUNCES_ITEMS = re.compile(r"(?:分为|分成|包括|包含|共有|有)[一二两三四五六七八九]\s*(?:个|类|种|条|项|步|部分)[^。；]{0,8}"
                             r"(?:阶段|步骤|部分|方面|类|种|路径|维度)?[。：:]$")
ORDINAL = re.compile(r"^(?:第[一二三四五六七八九]|首先|其次|再次|然后|最后|其[一二三])[，,、]?")


def with_enumeration(chosen: list[Candidate], ranked: list[Candidate]) -> list[Candidate]:
    """A chosen sentence that opens an enumeration its semicolons split ("…三个阶段：a）…；") gets the
    enumeration's other items, the units after it in its paragraph, while the whole stays short; so
    does one that announces a count its next sentences give by ordinals ("分为三个不同的阶段。第一阶段，…")."""
    ordered, at = _reading_order(ranked, ("sentence",))
    have = {c.unit.id for c in chosen}
    out = list(chosen)
    for c in chosen:
        split = c.unit.text.endswith(ITEM_ENDS) and bool(OPENS_ITEMS.search(c.unit.text))
        if c.unit.id not in at or not (split or ANNOUNCES_ITEMS.search(c.unit.text)):
            continue
        items, last, size = [], c, len(c.unit.text)
        for n in ordered[at[c.unit.id] + 1:]:
            if (n.section.number != c.section.number or n.unit.order[:2] != c.unit.order[:2]
                    or n.unit.order[2] != last.unit.order[2] + 1
                    or not (NEXT_ITEM if split else ORDINAL).match(n.unit.text)):
                break
            items.append(n)
            size, last = size + len(n.unit.text), n
            if split and not n.unit.text.endswith(ITEM_ENDS):
                break
        if items and size <= INTRODUCED_CHARS:
            out += [n for n in items if n.unit.id not in have]
            have |= {n.unit.id for n in items}
    return out


# "What two lessons …", "哪两条经验", "有哪几步": a question that asks for the items of a list
ASKS_ITEMS = re.compile(r"\b(?:what|which)\s+(?:two|three|four|five|six)\b|[哪几两三四五六][条点个项类种步]|哪些|哪几|"
                        r"\blist\b|what (?:are|were) the", re.IGNORECASE)


def with_list_intro(chosen: list[Candidate], ranked: list[Candidate], question: str) -> list[Candidate]:
    """For a question asking for a list's items, a chosen sentence whose paragraph ends, one or two
    sentences later, in one that introduces a list ("…这一挑战变得更加严峻。关于阈值设定，我们总结了两条经验：")
    gets that sentence too, and with it (with_introduced) the items."""
    if not ASKS_ITEMS.search(question):
        return chosen
    have = {c.unit.id for c in chosen}
    out = list(chosen)
    for c in chosen:
        if c.unit.kind != "sentence" or c.unit.text.endswith(INTRODUCES):
            continue
        after = sorted((n for n in ranked if n.unit.kind == "sentence" and n.section.number == c.section.number
                        and n.unit.order[:2] == c.unit.order[:2] and 0 < n.unit.order[2] - c.unit.order[2] <= 2),
                       key=lambda n: n.unit.order)
        intro = next((n for n in after if n.unit.text.endswith(INTRODUCES)), None)
        if intro is not None and intro is after[-1] and intro.unit.id not in have:
            out.append(intro)
            have.add(intro.unit.id)
    return out


# where a question asking two things splits: "…？GPT-3.5 呢？", "…, and what does DeepSpeed get?"
PART_BREAK = re.compile(r"(?<=[？?；;])\s*(?=\S)|[，,]\s*(?:以及|还有|另外|同时|并且)|,?\s+and\s+(?=(?:what|how|which|who|why|when)\b)",
                        re.IGNORECASE)


# the same thing asked of two: "网页正文抽取和语言识别分别用的什么工具", "How many questions are in
# WinoGrande and in HellaSwag?"
BOTH_ZH = re.compile(r"^(.*?)([^\s，,。？?和与及、的]{2,12})\s*(?:和|与|及)\s*([^\s，,。？?和与及、的]{2,12})\s*分别(.*)$")
BOTH_EN = re.compile(r"^(.*\b(in|on|for|of))\s+(\S+(?:\s\S+)?)\s+and\s+\2\s+(\S+(?:\s\S+)?)\s*([?？]?)$", re.IGNORECASE)


def _each_of_both(part: str) -> list[str]:
    """A part asking the same thing of two, as two parts; [part] otherwise."""
    m = BOTH_ZH.match(part)
    if m:
        head, a, b, tail = m.groups()
        return [f"{head}{a}{tail}", f"{head}{b}{tail}"]
    m = BOTH_EN.match(part)
    if m:
        head, _, a, b, mark = m.groups()
        return [f"{head} {a}{mark}", f"{head} {b}{mark}"]
    return [part]


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks several things; [question] when it asks one."""
    parts = [p.strip(" ，,") for p in PART_BREAK.split(question) if p and p.strip(" ，,？?")]
    parts = [q for p in parts for q in _each_of_both(p)]
    return parts if len(parts) > 1 else [question]


OTHER_PARTS = 0.25  # measured on the development sets against 0.5: two more first lines state the facts, none fewer


def _each_part(r: Retrieval, question: str, index, chosen: list[Candidate], weighted: Weighted, weights: dict,
               embed=None) -> list[Candidate]:
    """A question asking several things gets, for each part, the unit that best answers that part
    (scored as if it were asked alone, over the same sections), unless the answer already has one."""
    parts = question_parts(question)
    if len(parts) < 2:
        return chosen
    out = list(chosen)
    have = {c.unit.id for c in out}
    for part in parts:
        groups = term_groups(part, index, question)
        if not groups:
            continue
        own = Weighted.of(groups, index.idf)
        # the other parts' words count a little: "GPT-3.5 呢？" still asks about AlignBench
        heads = {g[0] for g in groups}
        rest = [(g, wt * OTHER_PARTS) for g, wt in zip(weighted.groups, weighted.weights) if g[0] not in heads]
        w = Weighted([*own.groups, *(g for g, _ in rest)], [*own.weights, *(wt for _, wt in rest)])
        # the previous part's words stay in the query type ("…多少分？GPT-3.5 呢？" asks a score too)
        # the dense model judges the part too ("what tool extracts the main text from HTML?"), not the whole
        vec = embed(dense_query(part, groups)) if embed is not None and r.vector is not None else r.vector
        ranked = score(candidates(index, replace(r, query=part if part == parts[0] else f"{parts[0]} {part}"), w,
                                  vec), weights)
        if ranked and ranked[0].unit.id not in have:
            out.append(ranked[0])
            have.add(ranked[0].unit.id)
    return out


# how much of the best sentence's paragraph the quotation shows (characters): the neighbours of the
# chosen sentence often carry the rest of the answer (dev sets: 300 → answers +2.3 points, 500 → +2.6)
QUOTE_CHARS = 300


def paragraph_units(index, u: UnitRecord) -> list[UnitRecord]:
    """The sentences of `u`'s paragraph, in reading order."""
    return sorted((index.units[i] for i in index.units_by_section.get(u.section, ())
                   if index.units[i].kind == "sentence" and index.units[i].order[:2] == u.order[:2]),
                  key=lambda x: x.order)


def _context(index, best: Candidate) -> list[UnitRecord]:
    """The sentences around the best one in its paragraph: the longer quotation. At least the one
    before and after; then more of the paragraph, the next sentence first, up to QUOTE_CHARS."""
    u = best.unit
    if u.kind != "sentence":
        return []
    para = paragraph_units(index, u)
    at = next((k for k, x in enumerate(para) if x.id == u.id), 0)
    lo, hi = max(0, at - 1), min(len(para), at + 2)
    size = sum(len(x.text) for x in para[lo:hi])
    while True:
        if hi < len(para) and size + len(para[hi].text) <= QUOTE_CHARS:
            size, hi = size + len(para[hi].text), hi + 1
        elif lo > 0 and size + len(para[lo - 1].text) <= QUOTE_CHARS:
            size, lo = size + len(para[lo - 1].text), lo - 1
        else:
            return para[lo:hi]


OUTLINE_TITLE_COVERAGE = 0.5  # the question is about what the section's title names


def outline(index, section: str, chosen: list[Candidate], ranked: list[Candidate] | None = None
            ) -> list[tuple[str, UnitRecord]]:
    """The aspects a section treats in paragraphs of their own ("**数据构成** …", "**损失函数** …",
    "**训练细节** …"): (the bold lead, the paragraph's sentence that `ranked` puts first, else its
    first sentence) for each paragraph that none of the chosen units is in; [] for a section with
    fewer than two."""
    firsts = [index.units[i] for i in index.units_by_section.get(section, ())
              if index.units[i].kind == "sentence" and index.units[i].order[2] == 0]
    led = [(m.group(1).strip(" ：:"), u) for u in sorted(firsts, key=lambda u: u.order)
           if (m := PARA_LEAD.match(u.raw)) and not LABEL_ONLY.fullmatch(u.raw) and not u.figure]
    if len(led) < 2:
        return []
    have = {c.unit.order[:2] for c in chosen if c.unit.section == section}
    best: dict[tuple, UnitRecord] = {}
    for c in ranked or []:
        if c.unit.section == section and c.unit.kind == "sentence":
            best.setdefault(c.unit.order[:2], c.unit)
    return [(lead, best.get(u.order[:2], u)) for lead, u in led if u.order[:2] not in have]


def best_run_first(cs: list[Candidate], best: Candidate) -> list[Candidate]:
    """One section's chosen units in reading order, split into runs of neighbours (the same or the
    next paragraph: a sentence and the one it points back to, a colon and its list), with the best
    unit's run first: the asked fact opens the answer, not a weaker unit that stands before it."""
    cs = sorted(cs, key=lambda c: c.unit.order)
    runs: list[list[Candidate]] = []
    for c in cs:
        prev = runs[-1][-1].unit.order if runs else None
        near = prev is not None and c.unit.order[0] == prev[0] and c.unit.order[1] - prev[1] <= 1 \
            and not (c.unit.kind == "row" and c.unit.order[1] == 0 and c.unit.order[2] - prev[2] > 1)
        # a list the chunking put in the next chunk stays with the colon that introduces it
        near = near or (prev is not None and runs[-1][-1].unit.text.endswith(INTRODUCES)
                        and c.unit.order[0] == prev[0] + 1 and c.unit.order[1] == 0)
        if near:
            runs[-1].append(c)
        else:
            runs.append([c])
    runs.sort(key=lambda run: best not in run)  # stable: the rest stay in reading order
    return [c for run in runs for c in run]


def introduced_text(u: UnitRecord, ranked: list[Candidate]) -> str:
    """What a sentence ending in a colon introduces (with_introduced over the question's candidates,
    which hold every unit of its section), its items joined as the first line joins them."""
    me = next((c for c in ranked if c.unit.id == u.id), None)
    if me is None:
        return ""
    out, added = with_introduced([me], ranked)
    items = [added[c.unit.id].rstrip("。.；;") for c in out if c.unit.id in added]
    return "；".join(items)


ASPECT_CHARS = 500  # the paragraph of the asked aspect, up to this much


def paragraph_text(index, u: UnitRecord) -> str:
    """The sentences of `u`'s paragraph in order, from its first, up to ASPECT_CHARS."""
    out = ""
    for x in paragraph_units(index, u):
        if out and len(out) + len(x.text) > ASPECT_CHARS:
            break
        out += x.text
    return out or u.text


PROMPT_ASKED = re.compile(r"prompt|提示词|提示", re.IGNORECASE)


def _prompt_of_named(ranked: list[Candidate], question: str) -> tuple[list[Candidate], Candidate | None]:
    """A question about the prompt of a benchmark it names ("in the CIBench system prompt, …") is
    answered by that prompt's lines, not another's (every prompt has "System Prompt:", a tool, a judge).
    Returns the candidates without the other prompts' lines, and the likeliest line of the named one."""
    names = {m.group(0).lower() for m in ENTITY.finditer(question)}  # "CIBench", "MTBench", "GSM8K": not "prompt"
    owners = {n for c in ranked if c.unit.kind == "code" for n in names if n in c.unit.caption.lower()}
    if not owners or not PROMPT_ASKED.search(question):
        return ranked, None
    ranked = [c for c in ranked if c.unit.kind != "code" or any(n in c.unit.caption.lower() for n in owners)]
    return ranked, next((c for c in ranked if c.unit.kind == "code"), None)


def extractive_answer(r: Retrieval, question: str, index, embed=None) -> Extract:
    """The answer first (the sentences or rows that state the asked fact, cited), then the passage
    around the best one as a quotation."""
    zh = is_chinese(question)
    groups = question_groups(r)
    weighted = Weighted.of(groups, index.idf)
    cands = candidates(index, r, weighted, r.vector)
    if not cands:
        return Extract("", [], [], weighted)
    hybrid = r.vector is not None and index.unit_vectors is not None
    weights = load_weights()
    mode = "hybrid" if hybrid else "keyword"
    ranked, prompt_line = _prompt_of_named(score(cands, weights[mode]), r.query)
    chosen = choose(ranked, weighted, weights["select"][mode])
    if prompt_line is not None and all(c.unit.kind != "code" for c in chosen):
        chosen.append(prompt_line)  # the figure's caption describes the prompt; a line of it is what it says
    chosen = with_antecedents(_each_part(r, question, index, chosen, weighted, weights[mode], embed), ranked)
    chosen, introduced = with_introduced(with_list_intro(with_enumeration(chosen, ranked), ranked, question), ranked)
    chosen = _asked_name(question, index, ranked, chosen, weighted)
    chosen, other_sizes = _asked_size(question, ranked, chosen, weighted)
    chosen, absent = _each_size(r.query, ranked, chosen)
    chosen = _largest_model(r.query, ranked, chosen)
    extreme = _table_extreme(index, question, ranked, weighted)
    if extreme is not None:  # "which model is best on X": the table's extreme row, not the likeliest row
        chosen = [extreme[0]]
    best = chosen[0]

    def render(c: Candidate) -> str:
        if extreme is not None and c is extreme[0]:
            return extreme_sentence(extreme[1], c.section.number, zh)
        return _row_sentence(c.unit, c.section.number, groups, zh) if c.unit.kind == "row" else c.unit.text

    # the first line: every chosen unit, in reading order per section, each section cited once
    by_section: dict[str, list[Candidate]] = {}
    for c in chosen:
        by_section.setdefault(c.section.number, []).append(c)
    parts = []
    stated: dict[str, str] = {}  # each table row as the first line states it (the LLM gets it so too)
    for number, cs in by_section.items():
        cs = best_run_first(cs, best)
        body = ""
        for prev, c in zip([None, *cs], cs):
            if prev is not None:
                adjacent = (prev.unit.kind == c.unit.kind == "sentence" and prev.unit.order[:2] == c.unit.order[:2]
                            and c.unit.order[2] - prev.unit.order[2] == 1)
                if c.unit.id in introduced:  # after its colon, or after the item before it
                    body = body if prev.unit.text.endswith(INTRODUCES) else body.rstrip("。.；;") + ("；" if zh or c.unit.kind == "sentence" else "; ")  # the report's punctuation
                    body += " " if body.endswith(INTRODUCES) and c.unit.raw.lstrip().startswith("$$") else ""
                else:
                    body += ("" if zh else " ") if adjacent else ("……" if zh else " … ")
            said = introduced.get(c.unit.id) or render(c)
            if c.unit.kind == "row":
                stated[c.unit.id] = said
            body += said
        # an English answer quotes the report's sentences; a row is already our own sentence
        rows_only = all(c.unit.kind == "row" for c in cs)
        parts.append(f"{body} [§{number}]" if zh or rows_only else f"“{body}” [§{number}]")
    sec = best.section
    if zh:
        first = f"根据报告第 {sec.number} 节（{sec.title_zh}）：{parts[0]}" + "".join(f"；另见 {p}" for p in parts[1:])
    else:
        first = (f"According to §{sec.number} ({sec.title_en}): {parts[0]}"
                 + "".join(f"; see also {p}" for p in parts[1:]))
    if absent:  # "1.8B、7B、20B 各是多少" answered by a table without a 1.8B row
        tname = table_label(chosen[0].unit.caption, zh)
        first += (f"（{tname} 中没有 {_and(absent, zh)} 模型的结果。）" if zh
                  else f" ({tname} has no result for a {_and(absent, zh).replace(' and ', ' or ')} model.)")
    text = first
    # "how does <what the section is about> work" is answered by every aspect the section treats:
    # the other aspects, each by its best-rated sentence
    about_section = best.features[FEATURES.index("title_cov")] >= OUTLINE_TITLE_COVERAGE
    if QuestionType.of(r.query).how and best.unit.kind == "sentence" and about_section:
        asked = {t for g in weighted.groups for t in g} - title_tokens(index, sec)
        items = []
        for lead, u in outline(index, sec.number, chosen, ranked):
            said = u.text
            if asked & set(tokenize(lead)):  # the aspect the question asks about ("训练细节" for "怎么训练的"): all of it
                said = paragraph_text(index, u)
            elif said.endswith(INTRODUCES):  # "焦点排序损失的形式如下：" and its formula
                said = f"{said} {introduced_text(u, ranked)}".strip()
            items.append(f"**{lead}**：{(said[len(lead):] if said.startswith(lead) else said).strip(' ：:。；;')}")
        if items:
            text += (f"\n\n§{sec.number} 还讲到：" + "；".join(items) + "。" if zh
                     else f"\n\n§{sec.number} also covers: " + "; ".join(items) + ".")
    # the paragraph around the best unit as it reads (the chosen units in it too: without them it
    # would jump, "…a）…；需要注意的是…"), when it adds to what the first line says
    context = _context(index, best)
    around = {u.id: u for u in [*context, best.unit]}
    if set(around) - {c.unit.id for c in chosen}:
        quote = "".join(u.text for u in sorted(around.values(), key=lambda u: u.order))  # Chinese text
        label = f"原文（§{sec.number} {sec.title_zh}）" if zh else f"The passage (§{sec.number} {sec.title_en})"
        text += f"\n\n> {label}：{quote.strip()}" if zh else f"\n\n> {label}: {quote.strip()}"

    used = {c.section.number: c for c in reversed(chosen)}
    best_per_section: dict[str, Candidate] = {}
    for c in ranked:
        best_per_section.setdefault(c.section.number, c)
    citations = []
    for s in r.sections:
        c = used.get(s.number) or best_per_section.get(s.number)
        snippet = render(c) if c else clean(s.best.chunk["text"])[:200]
        citations.append(Citation(s.number, s.title_zh, snippet, round(s.score, 5), s.number in used,
                                  c.unit.raw if c else ""))
    # the sections the answer quotes first, in the order it quotes them (the first line's first), then
    # the others as retrieved
    order = {n: k for k, n in enumerate(dict.fromkeys(CITE.findall(first)))}
    citations.sort(key=lambda c: (not c.used, order.get(c.section, len(order))))
    return Extract(text, citations, chosen, weighted, other_sizes, stated, _absent_model(r.query, index, chosen),
                   context)


SIBLINGS, SIBLING_MARGIN = 10, 0.15  # chosen on the development sets: look at the top 10, 0.15 more coverage


def _sizes(c: Candidate) -> set[str]:
    """The model sizes a unit is about: a row's by its name and group, else by its table's caption
    (Table 19's "本文模型" rows are "我们…训练的 7B 奖励模型"); a sentence's by its text."""
    u = c.unit
    if u.kind != "row":
        return set(MODEL_SIZE.findall(u.text))
    return set(MODEL_SIZE.findall(f"{u.cells[0]} {u.context}")) or set(MODEL_SIZE.findall(REFERENCE.sub("", u.caption)))


def _asked_size(question: str, ranked: list[Candidate], chosen: list[Candidate], weighted: Weighted
                ) -> tuple[list[Candidate], tuple[list[str], list[str], str] | None]:
    """A question about one model size ("1.8B 的 SFT 学习率") answered by a passage about others
    ("7B 和 20B … 4e-5"): the best unit that names the asked size and holds as much of the rest of
    the question instead; with none, the mismatch (the report does not say it for that size)."""
    asked = set(MODEL_SIZE.findall(question))
    if not asked:
        return chosen, None
    rest = weighted.without(lambda g: bool(MODEL_SIZE.fullmatch(g[0])))
    # a first unit naming no size (MMLU's description) answers for the sizes the units after it name
    given = _sizes(chosen[0]) or set().union(*(_sizes(c) for c in chosen[1:]))
    if asked <= given:
        # what else is quoted is about the asked size too, not the table's other rows (the 20B beside the 7B)
        chosen = [chosen[0], *(c for c in chosen[1:] if not _sizes(c) or asked & _sizes(c))]
        # the asked size's unit holds much less of the rest than a unit about other sizes: the report
        # says it for those ("7B 和 20B … SFT … 4e-5"), not for the asked one (Table 3's 1.8B row)
        have = coverage(rest, chosen[0].tokens)
        # not for a comparison ("InternLM2-Chat-20B vs GPT-3.5"): its other names are what the rest holds
        models = {m.group(0).lower() for m in ENTITY.finditer(question)
                  if re.search(r"\d", m.group(0)) and not MODEL_SIZE.fullmatch(m.group(0))}
        if len(models) > 1 or QuestionType.of(question).compare:
            return chosen, None
        sibling = next((c for c in ranked[:SIBLINGS] if _sizes(c) - asked and not asked & _sizes(c)
                        and coverage(rest, c.tokens) >= have + SIBLING_MARGIN), None)
        return chosen, None if sibling is None else _mismatch(asked, _sizes(sibling), sibling)
    # "from 7B to 20B": a question about several sizes compares them; one passage need not name them all
    if not given - asked or len(asked) > 1:
        return chosen, None
    need = coverage(rest, chosen[0].tokens)
    for c in ranked:
        if asked <= _sizes(c) and coverage(rest, c.tokens) >= need - 1e-9:
            return [c, *(x for x in chosen[1:] if x is not c and asked <= _sizes(x))], None
    return chosen, _mismatch(asked, given, chosen[0])


def _system_names(text: str) -> set[str]:
    """The systems and models a text names ("InternEvo", "DeepSpeed-Ulysses", "Qwen-7B"): not an
    acronym of a term ("MFU", "RLHF"), not a size, not the report's subject."""
    return {m.group(0).lower() for m in ENTITY.finditer(text)
            if not m.group(0).isupper() and not MODEL_SIZE.fullmatch(m.group(0))} - SUBJECT


def _asked_name(question: str, index, ranked: list[Candidate], chosen: list[Candidate], weighted: Weighted
                ) -> list[Candidate]:
    """A question about one named system ("What MFU does InternEvo reach?") whose best unit names
    others in its own words but not it — "DeepSpeed-Ulysses 和 Megatron-LM 只能达到约 65% 的 MFU", which
    has InternEvo only from its section's title — is answered by the best-ranked unit that names it
    and holds as much of what else the question is about; the other system's unit stays behind it."""
    asked = _system_names(question)
    best = chosen[0]
    # a row is about its model; the benchmark a question names is its table's (the caption's), not the row's
    if len(asked) != 1 or QuestionType.of(question).compare or best.unit.kind != "sentence":
        return chosen
    name = next(iter(asked))
    before = {(c.section.number, c.unit.order): c.unit.text for c in ranked if c.unit.kind == "sentence"}

    def names_it(c: Candidate) -> bool:
        # in its own words, its bold lead included ("CompassArena 包含 520 道…"), or in the sentence before
        # it that it points back to ("与 AlpacaEval 类似，它由 GPT4-Turbo 进行评判": 它 is CompassArena)
        o = c.unit.order
        prev = before.get((c.section.number, (o[0], o[1], o[2] - 1)), "")
        return name in tokenize(c.unit.text) or (bool(POINTS_BACK.match(c.unit.text)) and name in tokenize(prev))

    if names_it(best) or not _system_names(best.unit.text) - asked:
        return chosen
    # what else the question is about: not the name, not the words that only phrase it ("reach")
    rest = weighted.without(lambda g: g[0] == name or g[0] in RESULT_VERBS or is_phrasing(g[0]))
    need = coverage(rest, best.tokens)
    for c in ranked[:SIBLINGS]:
        if c is not best and c.unit.kind == "sentence" and names_it(c) and coverage(rest, c.tokens) >= need - 1e-9:
            return [c, *(x for x in chosen if x is not c)]
    return chosen


NAME_PARTS = re.compile(r"[-_\s/]+")
SUBJECT_PARTS = {"internlm2", "internlm"}  # the report's own models: a name part no question needs to say


def _name_extra(name: str, asked: set[str]) -> int:
    """How many parts of a row's model name the question does not say: "InternLM2-Chat-20B-SFT" has
    one ("sft") for "20B 的 chat 模型", "Llama2-7B" one ("llama2"), "InternLM2-Chat-20B" none."""
    parts = {p for p in NAME_PARTS.split(name.lower()) if p}
    return len({p for p in parts if p not in asked and p not in SUBJECT_PARTS and not MODEL_SIZE.fullmatch(p)})


def _each_size(question: str, ranked: list[Candidate], chosen: list[Candidate]) -> tuple[list[Candidate], list[str]]:
    """A question about several model sizes answered by a table ("AlignBench 上 7B 和 20B 的 chat 模型
    各拿了几分"): for each asked size, in the question's order, the row of that table whose model name
    has it and adds the fewest name parts the question does not say (not "…-20B-SFT" for "20B 的 chat
    模型", not "Llama2-7B"), the likeliest of those; the other chosen units after them. Also the asked
    sizes the table has no row for ("1.8B": Table 10 has none)."""
    asked = list(dict.fromkeys(MODEL_SIZE.findall(question)))
    col = FEATURES.index("row_col")
    best = chosen[0]
    # only when a row answers best: a sentence may state them all, or the reason asked for ("为什么 20B … 低")
    if len(asked) < 2 or best.unit.kind != "row":
        return chosen, []
    said = {p for t in tokenize(question) for p in [t, *NAME_PARTS.split(t)] if p}
    # the table with a column the question names (GSM8K's Table 10, not Table 20 captioned "…在 GSM8K 上")
    chunk = next((c.unit.chunk for c in ranked[:SIBLINGS] if c.unit.kind == "row" and c.features[col]), best.unit.chunk)
    rows: list[Candidate] = []
    missing = []
    for size in asked:
        table = [(_name_extra(c.unit.cells[0], said), k, c) for k, c in enumerate(ranked)
                 if c.unit.kind == "row" and c.unit.chunk == chunk and c not in rows
                 and size in MODEL_SIZE.findall(c.unit.cells[0])]
        if table:
            rows.append(min(table, key=lambda x: x[:2])[2])
        else:
            missing.append(f"{size}B")
    if not rows:
        return chosen, []
    return [*rows, *(c for c in chosen if c.unit.kind != "row")], missing


def _mismatch(asked: set[str], given: set[str], where: Candidate) -> tuple[list[str], list[str], str]:
    """(asked sizes, the sizes the report gives it for, the section that gives it)."""
    def sizes(xs):
        return [f"{x}B" for x in sorted(xs, key=float)]

    return sizes(asked), sizes(given - asked), where.section.number


def _table_extreme(index, question: str, ranked: list[Candidate], weighted: Weighted
                   ) -> tuple[Candidate, Extreme] | None:
    """For "which … highest/lowest" questions: the extreme row of the table whose row (naming an asked
    column) ranks best, with the candidate to cite it by."""
    direction = extreme_asked(question)
    if not direction:
        return None
    col = FEATURES.index("row_col")
    rows = [c for c in ranked if c.unit.kind == "row" and c.features[col]][:SIBLINGS]
    if not rows:
        return None

    def named(c: Candidate) -> int:  # the most question groups one of its columns names ("L-Eval" and "average")
        return max(sum(names_column(header_tokens(h, c.unit.caption), set(g)) for g in weighted.groups)
                   for h in c.unit.header[1:])

    top = max(rows, key=named)  # the first of the best: the likeliest row of the table that names most
    table = [index.units[i] for i in index.units_by_section.get(top.section.number, ())
             if index.units[i].kind == "row" and index.units[i].caption == top.unit.caption]
    e = extreme_row(table, list(zip(weighted.groups, weighted.weights)), direction, question)
    if e is None:
        return None
    winner = next((c for c in ranked if c.unit.id == e.rows[0].id), top)
    return winner, e


# "the biggest InternLM2", "最大的模型": the model of the largest size, not a size the question names
LARGEST = re.compile(r"\b(?:biggest|largest)\b|最大的(?:\s*InternLM2)?\s*(?:模型|版本|那个)|最大(?:的)?(?:那个)?(?:模型|版本)", re.IGNORECASE)
SMALLEST = re.compile(r"\bsmallest\b|最小的(?:\s*InternLM2)?\s*(?:模型|版本|那个)|最小(?:的)?(?:那个)?(?:模型|版本)", re.IGNORECASE)


def _largest_model(question: str, ranked: list[Candidate], chosen: list[Candidate]) -> list[Candidate]:
    """A question about the biggest (smallest) model, answered by rows named by model sizes (Table 3:
    1.8B, 7B, 20B), gets the row of the largest (smallest) size of the table of its first chosen row."""
    big, small = bool(LARGEST.search(question)), bool(SMALLEST.search(question))
    first = chosen[0]
    if big == small or MODEL_SIZE.findall(question) or first.unit.kind != "row" \
            or not MODEL_SIZE.fullmatch(first.unit.cells[0]):
        return chosen
    table = [c for c in ranked if c.unit.kind == "row" and c.unit.caption == first.unit.caption
             and MODEL_SIZE.fullmatch(c.unit.cells[0])]
    pick = (max if big else min)(table, key=lambda c: float(MODEL_SIZE.fullmatch(c.unit.cells[0]).group(1)))
    return [pick, *(c for c in chosen if c.unit.kind != "row" or c.unit.caption != first.unit.caption)]


def _model_tables(index) -> ModelTables:
    return derived(index, "_model_tables", lambda: ModelTables.of(index.units))


def _absent_model(question: str, index, chosen: list[Candidate]) -> tuple[str, str] | None:
    """A question about a model that no row of the report names, answered by another model's row
    ("综合考试表里 Llama2-70B 的 MMLU 是多少？" got Llama2-7B's; "what MMLU score does GPT-4 get in
    their comparison tables?" got GPT-3.5's): (the model as written, the row's table caption). The
    report's own models are a closed set checked elsewhere; a model a chosen sentence names is answered."""
    if not chosen or chosen[0].unit.kind != "row":
        return None
    for m in ENTITY.finditer(question):
        name = m.group(0)
        key = _FOLD.sub("", name.lower())
        if not MODEL_WORD.fullmatch(name) or key.startswith("internlm"):
            continue
        # the rows of the tables of models' results, folded (the other tables' rows are data and settings)
        if (any(key in r for r in _model_tables(index).names)
                or any(key in _FOLD.sub("", c.unit.text.lower()) for c in chosen)):
            continue
        return name, chosen[0].unit.caption
    return None


def hard_refusal(r: Retrieval, index, ex: Extract, names: list[str]) -> tuple[str, object] | None:
    """A reason the report certainly cannot answer, whatever the evidence: ("names", the question's
    names it never mentions), ("apart", names, or a name and a size, no passage has together),
    ("sizes", (asked, given, section)), ("rows", (a model no row names, the answering row's caption)),
    ("cells", a MissingCell: no table gives the model's result on the asked benchmark), ("bench", (the
    asked benchmark, the one the answering row's table is on, its caption)), ("chart", (terms only a
    chart names, its label)), ("variant", (the asked variant of a name, the stem the answering sentence
    names, its section)), ("figure", (the asked quantities, the rest)) or ("count", [the counted noun in
    English, or nothing]); None."""
    if names:
        return "names", names
    apart = never_together(r.query, index)
    if apart:
        return "apart", apart
    if ex.size_mismatch:
        return "sizes", ex.size_mismatch
    if ex.absent_model:
        return "rows", ex.absent_model
    cell = missing_cell(r.query, _model_tables(index))
    if cell:
        return "cells", cell
    parts = question_parts(r.query)
    if len(parts) == 1 and ex.chosen and ex.chosen[0].unit.kind == "row":
        other = other_benchmark(r.query, ex.chosen[0].unit, _model_tables(index))
        if other:
            return "bench", (*other, ex.chosen[0].unit.caption)
    variant = variant_stem(r.query, ex.chosen[0].unit, index) if ex.chosen else None
    if variant:
        return "variant", (*variant, ex.chosen[0].section.number)
    chart = chart_only(parts, index)
    if chart:
        return "chart", chart
    apart = size_apart(parts, index)
    if apart:
        return "apart", apart
    missing = missing_figure(parts, index)
    if missing:
        return "figure", missing
    count = unstated_count(parts, [c.unit for c in ex.chosen], ex.context, index)
    if count is not None:
        return "count", count
    return None


def refusal_message(hard: tuple[str, object] | None, plain_unknown: list[str], question: str, query: str,
                    zh: bool) -> str:
    """What the user reads when the report does not answer: the reason, when there is one to name."""
    kind, what = hard or ("words" if plain_unknown else "", plain_unknown)
    if kind == "rows":
        name, caption = what
        table = table_label(caption, zh)
        return (f"报告的表格中没有 {name} 的结果（{table} 列出的是其他模型），因此无法据此回答这个问题。" if zh
                else f"No table of the report has a row for {name} ({table} lists other models), so it cannot "
                "answer this question.")
    if kind == "cells":
        table = table_label(what.caption, zh)
        if what.part:
            return (f"{table} 只给出了 {what.model} 在 {what.benchmark} 上的总体结果，报告没有单列“{what.part}”这一部分的"
                    "结果，因此无法据此回答这个问题。" if zh else f"{table} gives only {what.model}'s overall {what.benchmark} "
                    f"result; the report does not break out its {what.part} part, so it cannot answer this question.")
        if what.empty:
            return (f"{table} 中 {what.model} 的 {what.benchmark} 一栏是“-”：报告没有给出这个结果，因此无法据此回答这个问题。"
                    if zh else f"{table} has no {what.benchmark} result for {what.model} (its cell is “-”), so the "
                    "report cannot answer this question.")
        return (f"报告的表格中没有 {what.model} 在 {what.benchmark} 上的结果（{table} 列出的是其他模型），因此无法据此回答这个问题。"
                if zh else f"No table of the report gives {what.model}'s {what.benchmark} result ({table} lists "
                "other models), so it cannot answer this question.")
    if kind == "bench":
        asked, said, caption = what
        table = table_label(caption, zh)
        return (f"{table} 只给出了 {said} 上的结果，报告没有给出 {asked} 上的这一结果，因此无法据此回答这个问题。" if zh
                else f"{table} is about {said} only; the report gives no such result for {asked}, so it cannot "
                "answer this question.")
    if kind in ("figure", "count") and plain_unknown:  # "clip ratio": that the report never says "clip" tells more
        kind, what = "words", plain_unknown
    if kind == "sizes":
        asked, given, cited = what
        return (f"报告中讲到这一点的段落（§{cited}）说的是 {_and(given, zh)}，没有讲到 {_and(asked, zh)}，"
                "因此无法据此回答这个问题。" if zh else f"The passage of the report on this (§{cited}) is about "
                f"{_and(given, zh)}, not {_and(asked, zh)}, so it cannot answer this question.")
    if kind in ("names", "words"):
        # the missing names or words as the user wrote them ("Capital", "France"), in a sentence
        terms = [_as_written(x, question) for x in what]
        return (f"报告中没有提到{_and(['“' + t + '”' for t in terms], zh)}，因此无法据此回答这个问题。" if zh
                else f"The report does not mention {_or(terms)}, so it cannot answer this question.")
    if kind == "chart":
        terms, label = what
        terms = [_as_written(t, query) for t in terms]
        return (f"报告只在{label} 中以图形展示了{_and(['“' + t + '”' for t in terms], zh)}的结果，正文没有给出具体数值，"
                "因此无法据此回答这个问题。" if zh else f"The report shows {_and(['“' + t + '”' for t in terms], zh)} only "
                f"in {label.replace('图', 'Figure')} as a chart; its text gives no value for it, so it cannot answer "
                "this question.")
    if kind == "figure":
        asked = [_as_written(x, query) for x in what[0]]
        return (f"报告讲到了这个话题，但没有给出所问的{_and(['“' + t + '”' for t in asked], zh)}的具体数值，"
                "因此无法据此回答这个问题。" if zh else f"The report discusses this but gives no figure for the asked "
                f"{_and(asked, zh)}, so it cannot answer this question.")
    if kind == "variant":
        asked, stem, cited = what
        return (f"报告中回答这一点的句子（§{cited}）讲的是 {stem}，不是 {asked}，因此无法据此回答这个问题。" if zh
                else f"The sentence of the report that would answer this (§{cited}) is about {stem}, not {asked}, "
                "so it cannot answer this question.")
    if kind == "count":
        # what was searched: the passages found, and the report for a count beside the question's names
        return ("报告讲到了这个话题，但找到的段落都没有说明所问的数量是多少，因此无法据此回答这个问题。" if zh
                else f"The report discusses this, but none of the passages found says how many "
                f"{what[0] if what else 'there are'}, so it cannot answer this question.")
    if kind == "apart":
        terms = [_as_written(x, query) for x in what]
        return (f"报告中没有哪一段同时讲到{_and(['“' + t + '”' for t in terms], zh)}，因此无法据此回答这个问题。"
                if zh else f"No passage of the report mentions {_and(terms, zh)} together, "
                "so it cannot answer this question.")
    return NOT_COVERED[zh]


def question_groups(r: Retrieval) -> list[list[str]]:
    return r.groups or query_groups(r.query) or [[t] for t in r.tokens]


# --- LLM mode ----------------------------------------------------------------------------------

SYSTEM_PROMPT = """你是《InternLM2 技术报告》（InternLM2 Technical Report）中文译文的问答助手。
只依据下面给出的报告章节回答，不要使用章节以外的知识。
- 用提问所用的语言回答（中文问题用中文，英文问题用英文）。
- 每个事实后面用 [§章节号] 标注出处，例如 [§4.2.1]；只能引用下面给出的章节号。
- 数字、模型名、评测分数必须与章节原文完全一致。
- 如果这些章节不足以回答问题，只回答：报告中没有涉及这个问题。（英文问题回答：The report does not cover this.）
You answer questions about the InternLM2 Technical Report using only the sections below, citing them as [§N]."""

REFUSAL = re.compile(r"报告中没有涉及|does not cover this", re.IGNORECASE)


def context_block(r: Retrieval, allowed: set[str] | None = None, limit: int = 7000) -> str:
    parts, used = [], 0
    for s in r.sections:
        if allowed is not None and s.number not in allowed:
            continue
        text = "\n".join(h.chunk["text"] for h in s.hits[:3])
        block = f"[§{s.number}] {s.path}（{s.title_en}）\n{text}"
        if used + len(block) > limit and parts:
            break
        parts.append(block)
        used += len(block)
    return "\n\n---\n\n".join(parts)


def llm_messages(question: str, history: list[dict] | None, r: Retrieval, allowed: set[str] | None = None,
                 chosen: list[Candidate] | None = None, rendered: dict[str, str] | None = None) -> list:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    key = ""
    if chosen:  # the sentences or rows that extractive mode found to state the asked fact come first
        # a row as the sentence naming its columns, a "which is best" row with the comparison made
        key = "# 最相关的原文（Most relevant passages）\n\n" + "\n".join(
            f"- [§{c.section.number}] {(rendered or {}).get(c.unit.id, c.unit.raw.strip())}" for c in chosen) + "\n\n"
    msgs = [SystemMessage(SYSTEM_PROMPT + "\n\n" + key + "# 报告章节（Report sections）\n\n" + context_block(r, allowed))]
    for m in (history or [])[-6:]:
        msgs.append(HumanMessage(m["content"]) if m.get("role") == "user" else AIMessage(m["content"]))
    msgs.append(HumanMessage(question))
    return msgs


def make_llm(settings: Settings):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "not-needed",
                      model=settings.llm_model, timeout=settings.llm_timeout, max_retries=0, temperature=0.1,
                      streaming=True)


class CitationFilter:
    """Streams text through, holding back '[§…]' markers until they can be checked; markers that
    name a section that was not retrieved are dropped, so an invented number never reaches the user."""

    def __init__(self, allowed: set[str]):
        self.allowed, self.buf, self.cited = allowed, "", []

    def feed(self, text: str) -> str:
        self.buf += text
        out = ""
        while self.buf:
            i = self.buf.find("[")
            if i < 0:
                out, self.buf = out + self.buf, ""
                break
            out, self.buf = out + self.buf[:i], self.buf[i:]
            j = self.buf.find("]")
            if j < 0:
                if len(self.buf) > 24 or (len(self.buf) > 1 and not "[§".startswith(self.buf[:2])):
                    out, self.buf = out + self.buf[0], self.buf[1:]
                    continue
                break  # wait for more text
            marker = self.buf[: j + 1]
            m = CITE.fullmatch(marker)
            if m:
                if m.group(1) in self.allowed:
                    out += f"[§{m.group(1)}]"
                    if m.group(1) not in self.cited:
                        self.cited.append(m.group(1))
            else:
                out += marker
            self.buf = self.buf[j + 1 :]
        return out

    def flush(self) -> str:
        """The held-back tail; an unfinished "[§…" marker cannot be checked, so it is dropped."""
        rest, self.buf = self.buf, ""
        return "" if rest.startswith("[§") else rest


# --- the entry point ---------------------------------------------------------------------------

class Answerer:
    def __init__(self, settings: Settings, handle: IndexHandle, llm=None):
        self.settings, self.handle = settings, handle
        self._llm = llm

    @property
    def llm(self):
        if self._llm is None and self.settings.llm_enabled:
            self._llm = make_llm(self.settings)
        return self._llm

    @property
    def min_evidence(self) -> float:
        """ANSWER_MIN_EVIDENCE, or the threshold fitted with the scope model when it is unset."""
        t = self.settings.answer_min_evidence
        return load_scope_weights()["threshold"] if t is None else t

    @property
    def generation_mode(self) -> str:
        return "llm" if self.settings.llm_enabled or self._llm is not None else "extractive"

    def warm_up(self) -> None:
        """Load lazily initialised pieces (jieba's dictionaries, the index) before the first user."""
        self.ask("InternLM2 的 MFU 反而是多少")

    def ask(self, question: str, history: list[dict] | None = None, top_k: int | None = None) -> Answer:
        result = None
        for event in self.stream(question, history, top_k):
            if event["type"] == "done":
                result = event["answer"]
        return result

    def stream(self, question: str, history: list[dict] | None = None, top_k: int | None = None
               ) -> Iterator[dict]:
        """Events: {"type": "meta"}, {"type": "delta", "text"}, then {"type": "done", "answer": Answer}."""
        top_k = top_k or self.settings.top_k
        # look at a few more sections than will be cited: the best passage may rank 3rd–5th
        r = retrieve(self.handle, question, history, max(top_k, 5))
        index = self.handle.get()
        zh = is_chinese(question)
        notices = [r.notice] if r.notice else []
        gen = self.generation_mode
        ex = extractive_answer(r, question, index, self.handle.query_vector)
        text, citations = ex.text, ex.citations[:top_k]
        # whether the report covers the question is judged on what its words find (the keyword
        # ranking), as fitted; the dense model only changes which passages answer it
        judged = r.keyword_sections if r.keyword_sections is not None else r.sections
        mode = {"retrieval": r.mode, "generation": gen}
        yield {"type": "meta", "mode": mode, "sections": [s.number for s in r.sections]}
        names, plain = split_unknown(question, unknown_names(question, index))
        hard = hard_refusal(r, index, ex, names)
        # the model's judgement is reported even when a hard rule refuses: the same in either retrieval mode
        evidence = in_scope_probability(signals(index, question, judged, ex.weighted, plain)) if citations else 0.0
        if hard or evidence < self.min_evidence or not citations:
            msg = refusal_message(hard, plain, question, r.query, zh)
            yield {"type": "delta", "text": msg}
            yield {"type": "done", "answer": Answer(msg, False, [], mode, "; ".join(notices) or None, evidence)}
            return

        if gen == "llm":
            allowed = {c.section for c in citations}
            filt = CitationFilter(allowed)
            parts: list[str] = []
            try:
                for chunk in self.llm.stream(llm_messages(question, history, r, allowed, ex.chosen, ex.rendered)):
                    piece = filt.feed(chunk.content if isinstance(chunk.content, str) else "")
                    if piece:
                        parts.append(piece)
                        yield {"type": "delta", "text": piece}
                tail = filt.flush()
                if tail:
                    parts.append(tail)
                    yield {"type": "delta", "text": tail}
                answer = "".join(parts).strip()
                if not answer:
                    raise RuntimeError("empty answer")
                by_num = {c.section: c for c in citations}
                cited = [by_num[n] for n in filt.cited if n in by_num]
                for c in citations:
                    c.used = c.section in filt.cited
                refused = bool(REFUSAL.search(answer)) and not cited
                out = [*cited, *[c for c in citations if c.section not in filt.cited]]
                yield {"type": "done", "answer": Answer(answer, not refused, [] if refused else out, mode,
                                                        "; ".join(notices) or None, evidence)}
                return
            except Exception as exc:  # timeout, connection refused, bad response: fall back
                reason = type(exc).__name__
                notices.append(("LLM 调用失败（" + reason + "），已改用原文摘录回答。") if zh else
                               f"The LLM call failed ({reason}); this answer is extracted from the report instead.")
                mode = {"retrieval": r.mode, "generation": "extractive"}
                yield {"type": "reset", "notice": notices[-1], "mode": mode}

        for piece in re.split(r"(?<=[。！？\n])", text):
            if piece:
                yield {"type": "delta", "text": piece}
        yield {"type": "done", "answer": Answer(text, True, citations, mode, "; ".join(notices) or None, evidence)}
