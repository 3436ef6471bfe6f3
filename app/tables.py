"""Questions a table answers as a whole: "which model is best on X", "哪个模型 GSM8K 最高".

The row that answers is not the one most like the question but the one with the highest (or
lowest) value in the asked column, among the rows the question narrows to ("7B", "base model").
Pure functions over the index's table-row units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ingest.keywords import CJK, tokenize
from ingest.units import UnitRecord, glossary_renderings

from .retrieval import _FOLD

# "which model is best", and the verbs that say so: "which model tops / leads / comes first on X"
HIGHEST = re.compile(r"最高|最好|最佳|最强|最大|最多|最优|第一|领先|夺冠|"
                     r"\b(?:best|highest|largest|biggest|greatest|strongest|top|tops|leads?(?!\s+to\b)|leading|"
                     r"(?:comes?|ranks?|places?) first|first place|wins?)\b", re.IGNORECASE)
LOWEST = re.compile(r"最低|最差|最小|最少|最弱|垫底|倒数第一|\b(?:lowest|worst|smallest|weakest|least|(?:comes?|ranks?) last)\b",
                    re.IGNORECASE)
# "which …", and "what is the top X score": the value asked is the extreme row's
WHICH = re.compile(r"哪|谁|which|who|what model|what(?:'s| is| was)? the (?:top|highest|lowest)\b",
                   re.IGNORECASE)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


# a caption's legend of the header's abbreviations: "Summ → 摘要（summarization）；FSL → 少样本学习（…）"
ABBREVIATION = re.compile(r"([A-Za-z][A-Za-z.\-]*)\s*→\s*([^；;。→]+)")


@lru_cache(maxsize=4096)
def header_tokens(header: str, caption: str = "") -> frozenset:
    """A column header's tokens, with what the table's caption says its abbreviations stand for
    ("LongBench Summ" also matches 摘要 and "summarization")."""
    # an English header's words also as the Chinese terms the report uses ("WinRate" → 胜率, "Acc" → 准确率)
    toks = set(tokenize(header)) | {t for zh in glossary_renderings(header) for t in tokenize(zh)}
    for abbr, expansion in ABBREVIATION.findall(caption):
        if abbr.lower() in toks:
            toks |= set(tokenize(expansion))
    return frozenset(toks)


def names_column(column: frozenset, question_tokens: set) -> bool:
    """The question asks about this column (its header_tokens): a shared token, or a Chinese word of
    the question inside one of the header's ("几层" → 层 in 层数, "多少参数" → 参数 in 参数量)."""
    if column & question_tokens or (column & AVG_HEADER and question_tokens & AVERAGE):
        return True
    zh = [q for q in question_tokens if CJK.fullmatch(q)]
    return any(q in h for q in zh for h in column if CJK.fullmatch(h))


AVG_HEADER = {"avg", "average"}  # an "Avg." column's header tokens
# what a question's terms call an "Avg." column: "平均分", "总分", "average"
AVERAGE = {"平均", "平均分", "总分", "均分", "平均值", "均值", "average", "mean"}


def extreme_asked(question: str) -> int:
    """+1 for "which … highest/best", -1 for "which … lowest/worst", 0 otherwise."""
    if not WHICH.search(question):
        return 0
    high, low = bool(HIGHEST.search(question)), bool(LOWEST.search(question))
    return 1 if high and not low else -1 if low and not high else 0


@dataclass
class Extreme:
    rows: list[UnitRecord]  # the row(s) holding the extreme value (ties: all of them)
    column: str
    value: str
    direction: int
    compared: int  # how many rows were compared


def _value(cell: str) -> float | None:
    m = NUMBER.search(cell.replace(",", ""))
    return float(m.group(0)) if m else None


# the same on the question's text: "overall" is a stopword, so never one of its terms
AVERAGE_ASKED = re.compile(r"平均|总分|均分|\b(?:overall|average|mean)\b", re.IGNORECASE)


TOTAL_ROW = re.compile(r"^\s*(?:总计|合计|总和|共计|total|sum)\b", re.IGNORECASE)


def extreme_row(table: list[UnitRecord], weighted_groups: list[tuple[list[str], float]], direction: int,
                question: str = "") -> Extreme | None:
    """The row with the extreme value in the column the question names best (by the weight of the
    question's terms in its header; of equals, the average one when it asks for "overall"), among the
    rows that the question's terms narrow to."""
    if not table or not direction:
        return None
    header = table[0].header
    best_col, best_w = None, 0.0
    average = bool(AVERAGE_ASKED.search(question))
    for j, h in enumerate(header[1:], 1):
        toks = header_tokens(h, table[0].caption)
        w = sum(weight for group, weight in weighted_groups if names_column(toks, set(group)))
        if w and average and toks & AVG_HEADER:
            w += 1e-6  # "L-Eval overall": L-Eval Avg., not the first L-Eval column
        if w > best_w:
            best_col, best_w = j, w
    if best_col is None:
        return None
    # a total row ("总计（Total）") sums the others: it is none of the things compared
    rows = [u for u in table if len(u.cells) > best_col and not TOTAL_ROW.match(u.cells[0])]
    # a row is its name and its group row ("∼7B 模型"): what its context holds beyond the table's place
    toks = {u.id: set(tokenize(f"{u.cells[0]} {u.context}")) for u in rows}
    common = set.intersection(*toks.values()) if toks else set()
    # narrow to the rows the question names ("7B", "Chat"), when it names some rows but not all; not
    # by what the caption says of every row ("base" in "the 13-20B base group" of 基座模型的比较)
    caption = set(tokenize(table[0].caption))
    for group, _ in weighted_groups:
        g = set(group)
        if g & caption:
            continue
        named = [u for u in rows if g & (toks[u.id] - common)]
        if 0 < len(named) < len(rows):
            rows = named
    valued = [(v, u) for u in rows if (v := _value(u.cells[best_col])) is not None]
    if len(valued) < 2:
        return None
    target = max(v for v, _ in valued) if direction > 0 else min(v for v, _ in valued)
    winners = [u for v, u in valued if v == target]
    return Extreme(winners, header[best_col], winners[0].cells[best_col], direction, len(valued))


def table_label(caption: str, zh: bool) -> str:
    """"表 11" / "Table 11" from a table's caption ("表" / "Table" without one)."""
    table = re.match(r"^(表\s*\d+)", caption)
    tname = table.group(1) if table else "表"
    return tname if zh else re.sub(r"^表\s*", "Table ", tname)


def extreme_sentence(e: Extreme, section: str, zh: bool) -> str:
    tname = table_label(e.rows[0].caption, zh)
    names = [u.cells[0] for u in e.rows]
    if zh:
        word = "最高" if e.direction > 0 else "最低"
        return f"{tname}（§{section}）的 {e.compared} 行中，{e.column} {word}的是 {'、'.join(names)}（{e.value}）。"
    word = "highest" if e.direction > 0 else "lowest"
    return (f"Among the {e.compared} rows of {tname} (§{section}), {' and '.join(names)} "
            f"{'has' if len(names) == 1 else 'have'} the {word} {e.column}: {e.value}.")


# --- a model's result on a benchmark: is it in a table? ---------------------------------------------

# a model named by its size or version ("Qwen1.5-7B-Chat", "GPT-3.5", "GPT4-Turbo"), as one word
MODEL_WORD = re.compile(r"(?<![\w.\-])([A-Za-z][A-Za-z0-9.]*(?:-[A-Za-z0-9.]+)*-\d+(?:\.\d+)?[Bb](?:-[A-Za-z0-9.]+)*"
                        r"|[Gg][Pp][Tt]-?\d(?:\.\d+)?(?:-[A-Za-z0-9.]+)*)")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9.\-]*")
EMPTY = {"", "-", "–", "—", "/", "n/a"}
VALUE = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?%?(?![\w\-])")  # a number standing alone, not inside a name
# numbers that are no values: "图 16", "表 17", "第 5.4 节", "(Bai et al., 2023a)"
NO_VALUE = re.compile(r"[图表]\s*\d+|\b(?:Figure|Table|Section)\s*\d+|第\s*[\d.]+\s*[节章]|§\s*[\dA][\d.]*|"
                      r"\([^)]*(?:19|20)\d\d[a-z]?[^)]*\)")


def _fold(s: str) -> str:
    return _FOLD.sub("", s.lower())


@lru_cache(maxsize=1024)
def column_names(header: str) -> frozenset[str]:
    """What a question calls a table column, folded: "MMLU (5-shot)" → mmlu; "T-Eval English" → teval,
    tevalenglish; "Anthropic Harmless-base" → anthropic, harmlessbase, anthropicharmlessbase."""
    words = re.sub(r"[（(][^）)]*[）)]", " ", header).split()
    if not words or not LATIN_WORD.fullmatch(words[0]):
        return frozenset()
    names = {_fold(words[0]), _fold(" ".join(words))}
    names |= {_fold(w) for w in words[1:] if "-" in w or any(c.isdigit() for c in w)}
    return frozenset(n for n in names if len(n) >= 3)


@dataclass(frozen=True)
class ModelTables:
    """What missing_cell reads, built once per index: the rows of the tables of models' results (not
    of data or settings: their first header is 模型/Models), each row's name folded, each section's
    sentences as one folded text, and each sentence folded with whether it states a value."""
    rows: list[UnitRecord]
    names: list[str]
    sections: list[str]
    sentences: list[tuple[str, bool, int]]  # folded, whether it states a value, its section (in sections)
    captions: list[str]  # each row's table caption, folded
    name_tokens: list[frozenset[str]]  # each row's name, tokenized
    benchmarks: frozenset[str]  # every column's names, folded (column_names)

    @classmethod
    def of(cls, units: list[UnitRecord]) -> "ModelTables":
        rows = [u for u in units if u.kind == "row" and u.cells and u.header
                and re.match(r"模型|models?\b", u.header[0], re.IGNORECASE)]
        # a figure's description gives its axes, never values; a prompt's lines are no findings
        said = [u for u in units if u.kind not in ("row", "code") and not u.figure]
        by_section: dict[str, list[str]] = {}
        for u in said:
            by_section.setdefault(u.section, []).append(u.text)
        at = {sec: k for k, sec in enumerate(by_section)}
        return cls(rows, [_fold(u.cells[0]) for u in rows], [_fold(" ".join(v)) for v in by_section.values()],
                   [(_fold(u.text), bool(VALUE.search(NO_VALUE.sub("", u.text))), at[u.section]) for u in said],
                   [_fold(u.caption) for u in rows], [frozenset(tokenize(u.cells[0])) for u in rows],
                   frozenset(n for u in rows for h in u.header[1:] for n in column_names(h)))


@dataclass(frozen=True)
class MissingCell:
    model: str  # as the question writes it
    benchmark: str  # the column as the table writes it
    caption: str  # the table that has the column (and, for an empty cell, the row)
    empty: bool  # the row is there, its cell is "-"
    part: str = ""  # the asked part of the benchmark that no table breaks out ("Math" of CompassArena)


# a part of a benchmark: "the Math category of CompassArena", "English-to-Chinese translation in FLORES",
# "HumanEval-X's Java part", "MMLU 的 STEM 子类" — as (pattern, the part's group, the benchmark's group).
# An English part follows "the" or is capitalized: "how does it do on translation in FLORES" asks for
# no part, "do on" is none
_PART_EN = r"(?:category|categories|part|subset|split|subtask|sub-task|direction|translation|track|level|dimension|domain|portion)"
_OF_BENCH = r"\s+" + _PART_EN + r"\s+(?:of|in|on)\s+(?:the\s+)?([A-Za-z][\w.\-]*)"
PART_OF = [(re.compile(r"\bthe\s+([A-Za-z][\w-]*(?:\s+[A-Za-z][\w-]*)?)" + _OF_BENCH, re.IGNORECASE), 1, 2),
           (re.compile(r"\b([A-Z][\w-]*(?:\s+[A-Za-z][\w-]*)?)" + _OF_BENCH), 1, 2),
           (re.compile(r"\b([A-Za-z][\w.\-]*?)(?:'s)?\s+([A-Za-z][\w-]*)\s+" + _PART_EN + r"\b", re.IGNORECASE), 2, 1),
           (re.compile(r"([A-Za-z][\w.\-]*)\s*(?:的|上的|里的|中的)?\s*([\u4e00-\u9fffA-Za-z\-]{1,8}?)\s*"
                       r"(?:子类|子集|类别|部分|方向|子任务|分项|维度|赛道|类)(?:上|里|中)?(?:的|得|拿|考|是|多少)"), 2, 1)]


def _asked_part(question: str, benches: set[str]) -> tuple[str, str] | None:
    """(the benchmark, the part of it) when the question asks about a part of an asked benchmark."""
    for rx, p, b in PART_OF:
        for m in rx.finditer(question):
            part, bench = m.group(p), m.group(b)
            if _fold(bench) in benches and _fold(part) != _fold(bench) and tokenize(part):
                return bench, part
    return None


def missing_cell(question: str, tables: ModelTables) -> MissingCell | None:
    """A question about a model's result on a benchmark that no table gives — the model has no row in
    any table with that column ("Qwen1.5-7B-Chat 的 GSM8K"), or its cell there is "-" ("ChatGLM3-6B 的
    MTBench") — and that no section naming both may state in its text: what is missing. None when a
    cell has a value, or the question names no model or no column. A shortened name ("Chat-7B")
    stands for every row whose name holds it. A question about a part of the benchmark ("the Math
    category of CompassArena") needs a table that breaks the part out, or a sentence stating a value
    for it."""
    words = [_fold(w) for w in LATIN_WORD.findall(question)]
    if not words:
        return None
    asked = set(words) | {a + b for a, b in zip(words, words[1:])}
    # a model named by its size or version, or as a row names it ("QwenRM")
    models = [m.group(1) for m in MODEL_WORD.finditer(question)]
    known = set(tables.names)
    models += [w for w, k in zip(LATIN_WORD.findall(question), words)
               if k in known and len(k) > 3 and not any(k in _fold(m) for m in models)]
    if not models:
        return None
    columns: dict[str, list[tuple[int, int]]] = {}  # caption → (a row, the asked column)
    for r, u in enumerate(tables.rows):
        # of a table's columns the question names, those it names most exactly: "Anthropic
        # Harmless-base" is that column, not every "Anthropic …" one
        named = {j: max(map(len, column_names(h) & asked), default=0) for j, h in enumerate(u.header[1:], 1)}
        top = max(named.values())
        if top:
            columns.setdefault(u.caption, []).extend((r, j) for j, n in named.items() if n == top)
    if not columns:
        return None
    rows = tables.rows
    benches = {n for pairs in columns.values() for r, j in pairs for n in column_names(rows[r].header[j]) & asked}
    part = _asked_part(question, benches)
    for model in models:
        key = _fold(model)
        named = [(rows[r], j) for pairs in columns.values() for r, j in pairs if key in tables.names[r]]
        if any(j < len(u.cells) and u.cells[j].strip().lower() not in EMPTY for u, j in named):
            if part and not _breaks_out(part, key, tables):
                u, j = next(((u, j) for u, j in named if _fold(part[0]) in column_names(u.header[j])), named[0])
                return MissingCell(model, part[0], u.caption, False, part[1])
            continue
        # a sentence naming the model states a value in a section on the benchmark: "如表 17 所示，
        # InternLM2-20B 取得了 21.8 的胜率" in §5.3.1, on AlpacaEval ("其胜率可与 GPT4-Turbo 相媲美" states none)
        if any(value and key in t and any(b in tables.sections[k] for b in benches) for t, value, k in tables.sentences):
            continue
        if named:
            u, j = named[0]
        else:  # the first table with the column
            r, j = next(iter(columns.values()))[0]
            u = rows[r]
        header = re.sub(r"\s*[（(][^）)]*[）)]", "", u.header[j])
        first = header.split()[0]  # "T-Eval" when the question says only that, not "T-Eval English"
        only_first = max(column_names(header) & asked, key=len, default="") == _fold(first)
        return MissingCell(model, first if only_first else header, u.caption, bool(named))
    return None


def other_benchmark(question: str, row: UnitRecord, tables: ModelTables) -> tuple[str, str] | None:
    """A question about one benchmark that a row of a table on another would answer: "What is
    InternLM2-20B's LM loss on the MATH test set in the contamination study?" finds Table 20's row, and
    Table 20 is on GSM8K only. (the benchmark as the question writes it, the table's) when the row's
    caption names benchmarks, the question names exactly one, and the row's table has it neither in its
    caption nor as a column; None otherwise. A lower-case word is no name ("in math")."""
    known = tables.benchmarks
    caption = LATIN_WORD.findall(row.caption)
    own = {_fold(w) for w in caption} & known
    if not own:
        return None
    own |= {n for h in row.header for n in column_names(h)}
    asked = {_fold(w): w for w in LATIN_WORD.findall(question)
             if _fold(w) in known and not re.fullmatch(r"[a-z]+", w)}
    if len(asked) != 1:
        return None
    key, name = next(iter(asked.items()))
    if key in own:
        return None
    said = next(w for w in caption if _fold(w) in own)
    return name, said


def _breaks_out(part: tuple[str, str], model: str, tables: ModelTables) -> bool:
    """Whether a table about the benchmark (it is a column, or the caption names it) has a column or
    row for the part ("数学 M" of Table 18, on AlignBench, for "AlignBench 的数学类"), or a sentence
    naming the model (folded), the benchmark and the part states a value."""
    bench, name = _fold(part[0]), part[1]
    wanted = set(tokenize(name)) | {t for zh in glossary_renderings(name) for t in tokenize(zh)}
    for u, caption, row_name in zip(tables.rows, tables.captions, tables.name_tokens):
        if not (bench in caption or any(bench in column_names(h) for h in u.header[1:])):
            continue
        if wanted & row_name or any(wanted & header_tokens(h, u.caption) for h in u.header[1:]):
            return True
    folded = _fold(name)
    return any(value and bench in t and folded in t and model in t for t, value, _ in tables.sentences)
