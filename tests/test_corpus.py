"""The translation in corpus/: structure, tables, and the parser's error reporting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.corpus import CorpusError, iter_headings, load_corpus, parse_file, validate
from ingest.toc import CORPUS_FILES, TOC

from .conftest import CORPUS

TABLE_CAPTION = re.compile(r"^表\s*(\d+)[^：:]*[：:]")


@pytest.mark.parametrize("entry", TOC, ids=lambda e: e.number)
def test_section_present(entry, real_corpus):
    """Each TOC section exists once, with a body; a missing one fails, naming itself."""
    assert entry.number not in real_corpus.missing, (f"section {entry.number} ({entry.title_en}) is missing "
                                                     f"from {entry.file}")
    (sec,) = [s for s in real_corpus.sections if s.number == entry.number]
    assert sec.file == entry.file
    assert sec.level == entry.depth
    assert sec.title_en.casefold() == entry.title_en.casefold()
    assert sec.title_zh.strip()  # Chinese title (a proper noun such as InternEvo may stay as is)
    if entry.number not in {"5", "A"}:  # in the paper these open directly with 5.1 / A.1
        assert re.search(r"[\u4e00-\u9fff].*[。：]", sec.text), f"section {entry.number} has no Chinese text"


def test_corpus_loads_strictly(real_corpus):
    assert real_corpus.missing == [], f"sections missing: {real_corpus.missing}"
    corpus = load_corpus(CORPUS)  # strict: raises on any problem
    assert [s.number for s in corpus.sections] == [e.number for e in TOC]


def test_no_stray_numbered_headings():
    for name in CORPUS_FILES:
        path = CORPUS / name
        assert path.exists(), f"corpus file {name} is missing"
        for h in iter_headings(path.read_text(encoding="utf-8")):
            assert h.number is not None, f"{name}:{h.line}: heading without section number: {h.title}"
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert "\r" not in line, f"{name}:{i}: CRLF line ending"


def _tables(text: str):
    """(caption line or None, header cells, body rows, line number) for every Markdown table."""
    lines = text.splitlines()
    i, in_fence = 0, False
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and lines[i].lstrip().startswith("|"):
            start = i
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines[start:i]]
            prev = [l for l in lines[max(0, start - 3) : start] if l.strip()]
            yield (prev[-1] if prev else None), rows[0], rows, start + 1
        i += 1


def test_tables_have_caption_and_rectangular_rows():
    count = 0
    for name in CORPUS_FILES:
        path = CORPUS / name
        assert path.exists(), f"corpus file {name} is missing"
        for caption, header, rows, line in _tables(path.read_text(encoding="utf-8")):
            count += 1
            assert caption and re.match(r"^(表|图)\s*\d+", caption), f"{name}:{line}: table without caption line"
            assert re.fullmatch(r"[\s:|-]+", "|".join(rows[1])), f"{name}:{line}: missing separator row"
            for k, row in enumerate(rows):
                assert len(row) == len(header), (f"{name}:{line + k}: {len(row)} cells, header has "
                                                 f"{len(header)}: {row}")
    assert count > 0


def test_numbered_tables_1_to_20_present_and_complete():
    found: dict[int, int] = {}
    for name in CORPUS_FILES:
        path = CORPUS / name
        assert path.exists(), f"corpus file {name} is missing"
        for caption, _header, rows, line in _tables(path.read_text(encoding="utf-8")):
            m = TABLE_CAPTION.match(caption or "")
            if m:
                found[int(m.group(1))] = found.get(int(m.group(1)), 0) + 1
                assert len(rows) >= 3, f"{name}:{line}: table {m.group(1)} has no body rows"
    for n in range(1, 21):
        assert n in found, f"table {n} is missing"
    assert found.get(9) == 2, "table 9 must be split into its base-model and chat-model halves"


def test_figure_captions_numbered_in_order():
    numbers = []
    for name in CORPUS_FILES:
        path = CORPUS / name
        if path.exists():
            numbers += [int(m) for m in re.findall(r"^图\s*(\d+)：", path.read_text(encoding="utf-8"), re.M)]
    assert numbers == sorted(numbers)
    assert len(numbers) == len(set(numbers))


def test_seed_machine_translation_error_absent():
    text = "".join((CORPUS / n).read_text(encoding="utf-8") for n in CORPUS_FILES if (CORPUS / n).exists())
    assert "法学硕士" not in text


# --- the parser's error reporting, on small synthetic corpora ---------------------------------

def _write(dir: Path, files: dict[str, str]) -> Path:
    dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (dir / name).write_text(text, encoding="utf-8")
    return dir


def _problems(tmp_path, files, allow_missing=True):
    with pytest.raises(CorpusError) as exc:
        load_corpus(_write(tmp_path / "c", files), allow_missing=allow_missing)
    return [str(p) for p in exc.value.problems]


def test_duplicate_section_names_both_places(tmp_path):
    probs = _problems(tmp_path, {"01-introduction.md": "# 1 引言（Introduction）\n正文\n\n# 1 引言（Introduction）\n再来\n"})
    assert any(p.startswith("01-introduction.md:4:") and "appears twice" in p and ":1" in p for p in probs)


def test_misnumbered_section(tmp_path):
    probs = _problems(tmp_path, {"02-infrastructure.md": "# 2 基础设施（Infrastructure）\n\n## 2.3 其他（Other）\n正文\n"})
    assert probs == ["02-infrastructure.md:3: section 2.3 is not in the table of contents"]


def test_wrong_level(tmp_path):
    probs = _problems(tmp_path, {"02-infrastructure.md": "# 2 基础设施（Infrastructure）\n\n### 2.1 InternEvo（InternEvo）\n正文\n"})
    assert probs == ["02-infrastructure.md:3: section 2.1 should be a level-2 heading (##), found level 3"]


def test_out_of_order(tmp_path):
    probs = _problems(tmp_path, {"02-infrastructure.md": "# 2 基础设施（Infrastructure）\n\n## 2.2 模型结构（Model Structure）\nx\n\n## 2.1 InternEvo（InternEvo）\ny\n"})
    assert any(p.startswith("02-infrastructure.md:6:") and "out of order" in p for p in probs)


def test_unnumbered_heading_and_wrong_file(tmp_path):
    probs = _problems(tmp_path, {"01-introduction.md": "# 1 引言（Introduction）\n\n## 数据格式化\nx\n\n## 2.1 InternEvo（InternEvo）\ny\n"})
    assert "01-introduction.md:3: heading without a section number" in probs[0]
    assert any(p.startswith("01-introduction.md:6: section 2.1 belongs in 02-infrastructure.md") for p in probs)


def test_title_format_and_english_title(tmp_path):
    probs = _problems(tmp_path, {"01-introduction.md": "# 1 引言 Introduction\nx\n",
                                 "00-abstract.md": "# 0 摘要（Summary）\nx\n"})
    assert any("00-abstract.md:1:" in p and "'Summary'" in p for p in probs)
    assert any("01-introduction.md:1:" in p and "中文标题（English Title）" in p for p in probs)


def test_missing_sections_are_errors_unless_allowed(tmp_path):
    files = {"01-introduction.md": "# 1 引言（Introduction）\n正文\n"}
    probs = _problems(tmp_path, files, allow_missing=False)
    # one problem per missing section, each naming it (file, number, English title)
    assert probs == [f"{e.file}:0: section {e.number} ({e.title_en}) is missing" for e in TOC if e.number != "1"]
    assert probs[0] == "00-abstract.md:0: section 0 (Abstract) is missing"
    corpus = load_corpus(tmp_path / "c", allow_missing=True)
    assert [s.number for s in corpus.sections] == ["1"]
    assert len(corpus.missing) == 44


def test_headings_inside_code_fences_are_ignored():
    text = "# 1 引言（Introduction）\n```text\n# 3 not a heading\n### User:\n```\n正文\n"
    secs, probs = parse_file("01-introduction.md", text)
    assert probs == [] and [s.number for s in secs] == ["1"]
    assert "# 3 not a heading" in secs[0].text


def test_section_path_and_parents(real_corpus):
    assert real_corpus.path("3.1.1") == "3 预训练 > 3.1 预训练数据 > 3.1.1 文本数据"


def test_validate_reports_unknown_file(tmp_path):
    probs = _problems(tmp_path, {"08-extra.md": "# 1 引言（Introduction）\n"})
    assert probs[0].startswith("08-extra.md:0: unexpected file")


def test_validate_pure_function():
    secs, _ = parse_file("01-introduction.md", "# 1 引言（Introduction）\nx\n")
    missing, probs = validate(secs, allow_missing=True)
    assert probs == [] and "0" in missing and "1" not in missing


# --- fidelity to the English source: its numbers survive translation ---------------------------

PARTS = [  # (source lines, corpus files); lines 13-80 are the paper's table of contents
    ("9:12,81:464", ["00-abstract.md", "01-introduction.md", "02-infrastructure.md", "03-pre-train.md"]),
    ("465:716", ["04-alignment.md"]),
    ("717:1369", ["05-evaluation.md", "06-conclusion.md"]),
]


@pytest.mark.parametrize("ranges, files", PARTS, ids=["part1", "part2", "part3"])
def test_translation_keeps_the_source_numbers(ranges, files):
    from benchmarks.number_coverage import SOURCE, coverage

    if not SOURCE.exists():
        pytest.skip(f"English source not found at {SOURCE}")
    absent = [f for f in files if not (CORPUS / f).exists()]
    assert not absent, f"corpus files missing: {absent}"
    share, missing, _ = coverage(SOURCE, ranges, [CORPUS / f for f in files])
    assert share >= 0.92, f"only {share:.1%} of the source numbers appear; missing: {missing}"
