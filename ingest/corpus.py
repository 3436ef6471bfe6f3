"""Parse corpus/*.md into sections and validate them against the table of contents.

Pure functions: text in, dataclasses (or CorpusError listing every problem) out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .toc import CORPUS_FILES, TOC, TOC_BY_NUMBER, TOC_ORDER

# "### 3.1.1 文本数据（Text Data）"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
NUMBERED = re.compile(r"^(\d+(?:\.\d+)*|A(?:\.\d+)*)\s+(.+)$")
TITLE = re.compile(r"^(?P<zh>.*?)（(?P<en>[^（）]+)）$")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Section:
    number: str
    title_zh: str
    title_en: str
    level: int
    text: str  # body below the heading, up to the next heading (no sub-sections)
    file: str
    line: int  # 1-based line of the heading
    parents: tuple[str, ...] = ()  # numbers of the ancestors, outermost first

    @property
    def label(self) -> str:
        return f"{self.number} {self.title_zh}"

    @property
    def content_hash(self) -> str:
        raw = f"{self.number}\n{self.title_zh}\n{self.title_en}\n{self.text}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class CorpusError(Exception):
    """The corpus does not match the table of contents; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Corpus:
    sections: list[Section]
    missing: list[str] = field(default_factory=list)  # TOC numbers not (yet) translated

    def path(self, number: str) -> str:
        """'3 预训练 > 3.1 预训练数据 > 3.1.1 文本数据'."""
        by_num = {s.number: s for s in self.sections}
        sec = by_num[number]
        parts = [by_num[p].label for p in sec.parents if p in by_num]
        return " > ".join(parts + [sec.label])


@dataclass(frozen=True)
class Heading:
    level: int
    number: str | None
    title: str
    line: int


def iter_headings(text: str) -> list[Heading]:
    """Markdown ATX headings outside fenced code blocks."""
    out: list[Heading] = []
    in_fence = False
    for i, raw in enumerate(text.splitlines(), start=1):
        if FENCE.match(raw):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = HEADING.match(raw)
        if not m or not raw.startswith("#"):
            continue
        body = m.group(2)
        num = NUMBERED.match(body)
        if num:
            out.append(Heading(len(m.group(1)), num.group(1), num.group(2), i))
        else:
            out.append(Heading(len(m.group(1)), None, body, i))
    return out


def parse_file(name: str, text: str) -> tuple[list[Section], list[Problem]]:
    """Split one chapter file into sections; report headings that break the format."""
    lines = text.splitlines()
    heads = iter_headings(text)
    sections: list[Section] = []
    problems: list[Problem] = []
    for idx, h in enumerate(heads):
        end = heads[idx + 1].line - 1 if idx + 1 < len(heads) else len(lines)
        body = "\n".join(lines[h.line : end]).strip()
        if h.number is None:
            problems.append(Problem(name, h.line, f"heading without a section number: '{h.title}' "
                                    "(only table-of-contents sections may be headings; use a bold lead-in)"))
            continue
        entry = TOC_BY_NUMBER.get(h.number)
        if entry is None:
            problems.append(Problem(name, h.line, f"section {h.number} is not in the table of contents"))
            continue
        if h.level != entry.depth:
            problems.append(Problem(name, h.line, f"section {h.number} should be a level-{entry.depth} "
                                    f"heading ({'#' * entry.depth}), found level {h.level}"))
        t = TITLE.match(h.title)
        if not t or not t.group("zh").strip():
            problems.append(Problem(name, h.line, f"section {h.number}: title must be "
                                    "'中文标题（English Title）', found '{h.title}'"))
            zh, en = h.title, ""
        else:
            zh, en = t.group("zh").strip(), t.group("en").strip()
            if en.casefold() != entry.title_en.casefold():
                problems.append(Problem(name, h.line, f"section {h.number}: English title '{en}' "
                                        f"does not match the report's '{entry.title_en}'"))
        parents: list[str] = []
        p = entry.parent
        while p:
            parents.insert(0, p)
            p = TOC_BY_NUMBER[p].parent
        sections.append(Section(h.number, zh, en, h.level, body, name, h.line, tuple(parents)))
    return sections, problems


def validate(sections: list[Section], allow_missing: bool = False) -> tuple[list[str], list[Problem]]:
    """Check sections against the TOC: each present once, right file, in order.

    Returns (missing numbers, problems). Missing sections are problems unless allow_missing.
    """
    problems: list[Problem] = []
    seen: dict[str, Section] = {}
    for s in sections:
        if s.number in seen:
            first = seen[s.number]
            problems.append(Problem(s.file, s.line, f"section {s.number} appears twice "
                                    f"(first at {first.file}:{first.line})"))
            continue
        seen[s.number] = s
        expected = TOC_BY_NUMBER[s.number].file
        if s.file != expected:
            problems.append(Problem(s.file, s.line, f"section {s.number} belongs in {expected}"))
    # order: by file order, then position in file, must follow the TOC order
    ordered = sorted(seen.values(), key=lambda s: (CORPUS_FILES.index(s.file)
                                                   if s.file in CORPUS_FILES else 99, s.line))
    last = None
    for s in ordered:
        if last is not None and TOC_ORDER[s.number] < TOC_ORDER[last.number]:
            problems.append(Problem(s.file, s.line, f"section {s.number} is out of order: "
                                    f"it comes after {last.number} ({last.file}:{last.line})"))
        last = s
    missing = [e.number for e in TOC if e.number not in seen]
    if missing and not allow_missing:
        for num in missing:
            problems.append(Problem(TOC_BY_NUMBER[num].file, 0,
                                    f"section {num} ({TOC_BY_NUMBER[num].title_en}) is missing"))
    return missing, problems


def load_corpus(corpus_dir: Path, allow_missing: bool = False) -> Corpus:
    """Read every corpus file, parse and validate. Raises CorpusError with all problems."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError([Problem(str(corpus_dir), 0, "corpus directory does not exist")])
    sections: list[Section] = []
    problems: list[Problem] = []
    for path in sorted(corpus_dir.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        if path.name not in CORPUS_FILES:
            problems.append(Problem(path.name, 0, "unexpected file: corpus files are "
                                    + ", ".join(CORPUS_FILES)))
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            problems.append(Problem(path.name, line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                                    f"{column}): save the file as UTF-8"))
            continue
        secs, probs = parse_file(path.name, text)
        sections += secs
        problems += probs
    missing, order_problems = validate(sections, allow_missing)
    problems += order_problems
    if problems:
        raise CorpusError(problems)
    sections.sort(key=lambda s: TOC_ORDER[s.number])
    return Corpus(sections, missing)
