"""Bold and underline in the result tables follow from their numbers.

The captions of Tables 5–8, 10–13 and 15–17 say that bold marks the top performer and an
underline the leader within a parameter-size group. In every numeric column the highest score
of the whole table is **bold**; in each size group (“≤ 7B 模型”, “△ ∼7B 模型”, “13∼20B 模型” …)
the highest score is <u>underlined</u> unless it is already bold. Ties mark every tied cell.
The API group is a model type, not a size: it competes for bold but gets no underline. “-”
cells take no part. Tables whose captions describe no marks (Tables 1–4, 9, 14, 18–20) carry none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from ingest.chunking import chunk_corpus
from ingest.keywords import tokenize
from ingest.toc import CORPUS_FILES

from .conftest import CORPUS

CAPTION = re.compile(r"^表\s*(\d+)：")
BOLD = re.compile(r"^\*\*(.+)\*\*$")
UNDERLINE = re.compile(r"^<u>(.+)</u>$")
NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
MARKERS = ("**", "<u>", "</u>")
MARKED_TABLES = {5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17}


@dataclass
class Row:
    line: int
    cells: list[str]
    group: str | None = None  # the group this body row belongs to


@dataclass
class Table:
    file: str
    number: int
    caption: str
    line: int  # line of the header row
    header: list[str]
    rows: list[Row] = field(default_factory=list)  # body rows, group rows excluded
    groups: dict[str, bool] = field(default_factory=dict)  # group label → is a parameter-size group

    @property
    def marked(self) -> bool:
        """The caption says bold and underline carry a meaning."""
        return ("加粗" in self.caption or "粗体" in self.caption) and "下划线" in self.caption


def split_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_tables(name: str, text: str) -> list[Table]:
    """Every captioned table (“表 N：…” on the last non-blank line above it) outside code fences."""
    lines = text.splitlines()
    tables: list[Table] = []
    i, fence = 0, False
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            fence = not fence
        if fence or not lines[i].lstrip().startswith("|"):
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            i += 1
        above = [l for l in lines[max(0, start - 3):start] if l.strip()]
        m = CAPTION.match(above[-1]) if above else None
        if not m:
            continue
        table = Table(name, int(m.group(1)), above[-1], start + 1, split_cells(lines[start]))
        group = None
        for k in range(start + 2, i):  # after the header and separator rows
            cells = split_cells(lines[k])
            if BOLD.match(cells[0]) and not any(cells[1:]):
                group = BOLD.match(cells[0]).group(1)
                table.groups[group] = "API" not in group
                continue
            table.rows.append(Row(k + 1, cells, group))
        tables.append(table)
    return tables


def corpus_tables() -> list[Table]:
    return [t for name in CORPUS_FILES if (CORPUS / name).exists()
            for t in parse_tables(name, (CORPUS / name).read_text(encoding="utf-8"))]


def cell_mark(cell: str) -> tuple[str, str]:
    """("bold" | "underline" | "", the cell without its mark)."""
    if m := BOLD.match(cell):
        return "bold", m.group(1)
    if m := UNDERLINE.match(cell):
        return "underline", m.group(1)
    return "", cell


def expected_marks(table: Table) -> dict[tuple[int, int], str]:
    """(row index, column) → "bold" | "underline" for the cells the caption's rule marks."""
    marks: dict[tuple[int, int], str] = {}
    if not table.marked:
        return marks
    for col in range(1, len(table.header)):
        values = {}
        for r, row in enumerate(table.rows):
            plain = cell_mark(row.cells[col])[1]
            if NUMBER.match(plain):
                values[r] = float(plain)
        if not values:
            continue
        best = max(values.values())
        for r, v in values.items():
            if v == best:
                marks[(r, col)] = "bold"
        for group, by_size in table.groups.items():
            in_group = {r: v for r, v in values.items() if table.rows[r].group == group}
            if not by_size or not in_group:
                continue
            top = max(in_group.values())
            for r, v in in_group.items():
                if v == top and (r, col) not in marks:
                    marks[(r, col)] = "underline"
    return marks


def problems(table: Table) -> list[str]:
    """Every missing, extra, misplaced or malformed mark, as “file:line: …”."""
    want = expected_marks(table)
    out = []
    for r, row in enumerate(table.rows):
        for col, cell in enumerate(row.cells):
            mark, plain = cell_mark(cell)
            where = f"{table.file}:{row.line}: 表 {table.number} {row.cells[0]!r} / {table.header[col]!r}"
            if any(m in plain for m in MARKERS):
                out.append(f"{where}: malformed mark in {cell!r}")
                continue
            expected = want.get((r, col), "")
            if mark != expected:
                out.append(f"{where}: {cell!r} should be {expected or 'unmarked'}")
    return out


# --- the corpus ---------------------------------------------------------------------------------

def test_the_captions_that_describe_marks_are_tables_5_to_8_10_to_13_15_to_17():
    tables = corpus_tables()
    assert {t.number for t in tables} >= set(range(1, 21))
    assert {t.number for t in tables if t.marked} == MARKED_TABLES


@pytest.mark.parametrize("number", sorted(MARKED_TABLES))
def test_marked_table_follows_its_numbers(number):
    (table,) = [t for t in corpus_tables() if t.number == number]
    assert table.groups and all(row.group for row in table.rows), f"表 {number}: rows outside a group"
    assert any(table.groups.values()), f"表 {number}: no parameter-size group"
    assert problems(table) == []
    marks = expected_marks(table)
    numeric_columns = {col for (_r, col) in marks}
    assert {c for (_r, c), m in marks.items() if m == "bold"} == numeric_columns  # a bold in every column


def test_tables_without_a_marking_caption_carry_no_marks():
    for table in corpus_tables():
        if not table.marked:
            assert problems(table) == []


def test_marked_numbers_stay_keyword_tokens(real_corpus):
    """“**67.3**” and “<u>65.8</u>” are found by a keyword search for 67.3 / 65.8."""
    marked = {cell_mark(c)[1] for t in corpus_tables() if t.marked for row in t.rows for c in row.cells
              if cell_mark(c)[0]}
    assert len(marked) > 50
    tokens = {tok for c in chunk_corpus(real_corpus) if c.kind == "table" for tok in tokenize(c.embed_text)}
    assert marked <= tokens, sorted(marked - tokens)


# --- the checker itself, on a small synthetic table ------------------------------------------------

SYNTHETIC = """表 99：示例。加粗表示最佳，下划线表示组内最佳。

| 模型 | A | B |
|---|---|---|
| **API 模型** | | |
| GPT | {gpt_a} | - |
| **≤ 7B 模型** | | |
| x-7B | {x_a} | {x_b} |
| y-7B | {y_a} | {y_b} |
| **13∼20B 模型** | | |
| z-20B | {z_a} | {z_b} |
"""
RIGHT = dict(gpt_a="**9.0**", x_a="<u>5.0</u>", y_a="<u>5.0</u>", z_a="<u>7.0</u>",
             x_b="1.0", y_b="<u>2.0</u>", z_b="**3.0**")


def _synthetic(**changes) -> Table:
    (table,) = parse_tables("synthetic.md", SYNTHETIC.format(**{**RIGHT, **changes}))
    return table


def test_checker_accepts_the_right_marks():
    table = _synthetic()
    assert table.groups == {"API 模型": False, "≤ 7B 模型": True, "13∼20B 模型": True}
    assert problems(table) == []


@pytest.mark.parametrize("changes, message", [
    (dict(gpt_a="9.0"), "'9.0' should be bold"),  # missing bold
    (dict(x_a="5.0"), "'5.0' should be underline"),  # missing underline on one of two tied cells
    (dict(z_a="7.0"), "'7.0' should be underline"),  # a one-model group still has a leader
    (dict(x_b="<u>1.0</u>"), "'<u>1.0</u>' should be unmarked"),  # extra underline
    (dict(x_b="**1.0**"), "'**1.0**' should be unmarked"),  # bold on the wrong cell
    (dict(z_b="<u>3.0</u>"), "'<u>3.0</u>' should be bold"),  # underline where bold belongs
    (dict(y_b="**2.0"), "malformed mark"),
])
def test_checker_reports_wrong_marks(changes, message):
    found = problems(_synthetic(**changes))
    assert found and any(message in p for p in found), found


def test_checker_rejects_marks_where_the_caption_describes_none():
    text = SYNTHETIC.replace("加粗表示最佳，下划线表示组内最佳。", "")
    (table,) = parse_tables("synthetic.md", text.format(**RIGHT))
    assert not table.marked
    assert len(problems(table)) == 6
