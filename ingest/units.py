"""Answer units: the sentences and table rows an answer can quote.

Ingest splits every chunk into units once, tokenizes them and (with a model) embeds them, so that
answering only scores them. Pure functions; the I/O is in store.py.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

from .chunking import split_sentences
from .glossary import GLOSSARY, source_words

MD_NOISE = re.compile(r"\*\*|`|</?u>")
FIGURE_LINE = re.compile(r"^图\s*\d+")
PARA_LEAD = re.compile(r"^\s*(?:[-*]|\d+\.)?\s*\*\*([^*\n]{2,60})\*\*")
# a paragraph that is only a bold label ("**CIBench 中的提示词（Prompt in CIBench）**", "**评测结果**"):
# it names what follows and states nothing
LABEL_ONLY = re.compile(r"\s*\*\*[^*\n]+\*\*\s*[：:]?\s*(?:［译注：[^］]*］\s*)?")  # a translator's note on it too
# a sentence that points back near its start ("为了解决这些问题，…", "我们将其默认值设为 0.02"): what
# it speaks of is in the sentence before, which joins its context; so does "其中…" opening a sentence
# ("图 19：CIBench 中使用的提示词。其中包括系统提示词…")
POINTS_BACK = re.compile(r"^(?:其中|.{0,16}?(?:其(?!他|中|余|实)|它|该|此(?!外|时)|这[些一种类样是会]|上述))")
PROMPT_PART = re.compile(r"(?:[A-Z][\w\-]*\s+){0,2}Prompt\s*:")  # "System Prompt:", "Few-shot Prompt:"
PARAGRAPHS = re.compile(r"\n\n|\n(?=\s*(?:[-*]|\d+\.)\s)")  # blank lines; each list item is its own
# a table row *is* a score/result: words that ask for one are satisfied by the row itself
ROW_IMPLIED = "得分 分数 结果 成绩 表现 性能 分 score scores result results performance accuracy"


def glossary_renderings(text: str) -> list[str]:
    """The Chinese terms the translation uses for the English words and phrases of `text`."""
    lowered = text.lower()
    words = set(re.findall(r"[a-z][a-z\-]+", lowered))
    return list(dict.fromkeys(zh for key, terms in GLOSSARY.items()
                              if (key in words if " " not in key else re.search(rf"\b{re.escape(key)}\b", lowered))
                              for zh in terms))


def clean(text: str) -> str:
    return MD_NOISE.sub("", text).strip()


def split_row(row: str) -> list[str]:
    return [clean(x) for x in row.strip().strip("|").split("|")]


@dataclass
class UnitRecord:
    id: str
    section: str
    chunk: str  # id of the chunk it came from
    kind: str  # "sentence" | "row" | "code" (a line of a code or prompt block)
    text: str  # without Markdown marks
    raw: str  # exactly as in the Markdown (highlighted in the section reader)
    order: tuple  # (chunk part, paragraph or 0, sentence or row)
    context: str  # TOC path, English title, the paragraph's bold lead or the table's group row
    caption: str = ""
    header: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    figure: bool = False  # part of a figure caption or description
    # a sentence's English source words (glossary.source_words): English questions match them too
    source: str = ""

    @property
    def match_text(self) -> str:
        """What the question's words are matched against."""
        if self.kind == "row":
            return f"{self.context} {self.caption} {self.own_match_text}"
        return f"{self.context} {self.own_match_text}"

    @property
    def own_text(self) -> str:
        """The unit alone, without where it stands: what tells it from its neighbours."""
        return f"{' '.join(self.header)} {self.text}" if self.kind == "row" else self.text

    @property
    def own_match_text(self) -> str:
        """What the question's words are matched against in the unit alone (a row is a result)."""
        if self.kind == "code":  # a prompt is in English: a Chinese question matches its terms' renderings
            return f"{self.text} {' '.join(glossary_renderings(self.text))}"
        if self.kind == "row":  # English headers ("AlpacaEval (WinRate)") also as the Chinese terms (胜率)
            return f"{self.own_text} {' '.join(glossary_renderings(' '.join(self.header)))} {ROW_IMPLIED}"
        return f"{self.text} {self.source}" if self.source else self.text

    @property
    def embed_text(self) -> str:
        """What the dense model sees: where it stands, then the sentence, or a row as header: value pairs."""
        if self.kind == "row":
            pairs = "; ".join(f"{h}: {v}" for h, v in zip(self.header[1:], self.cells[1:]))
            return f"{self.caption}\n{self.cells[0]} — {pairs}"
        return f"{self.context}\n{self.text}"

    def to_json(self) -> dict:
        d = asdict(self)
        d["order"] = list(self.order)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "UnitRecord":
        return cls(**{**d, "order": tuple(d["order"])})


def _uid(section: str, raw: str) -> str:
    return hashlib.sha256(f"{section}\n{raw}".encode()).hexdigest()[:16]


def chunk_units(chunk: dict, before: str = "") -> list[UnitRecord]:
    """The units of one chunk (a dict as in chunks.jsonl). `before` is the text just before it in its
    section: a code block's figure caption and bold lead ("图 19：CIBench 中使用的提示词…") say what it is."""
    out: list[UnitRecord] = []
    section, part = chunk["section"], chunk.get("part", 0)
    context = f"{chunk['path']} {chunk['title_en']}"
    if chunk["kind"] == "table":
        lines = chunk["text"].splitlines()
        rows = [ln for ln in lines if ln.lstrip().startswith("|")]
        caption_raw = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("|")), "")
        caption = clean(caption_raw)
        if len(rows) < 3:
            return out
        # the sentences after a table's title state things too ("所有结果均使用 OpenCompass … 评测工具包得到。");
        # the title ("表 20：基座模型在 GSM8K 上的数据污染评测。") only names what the rows hold
        for si, sent in enumerate(split_sentences(caption_raw.strip())):
            if si and len(clean(sent)) >= 6:
                out.append(UnitRecord(_uid(section, sent), section, chunk["id"], "sentence", clean(sent), sent,
                                      (part, -1, si), context, figure=True, source=source_words(clean(sent))))
        header = split_row(rows[0])
        group = ""
        for ri, row in enumerate(rows[2:]):
            cells = split_row(row)
            if sum(1 for x in cells if x) < 2:  # a group row such as "≤ 7B 模型" labels the rows below it
                group = next((x for x in cells if x), "")
                continue
            out.append(UnitRecord(_uid(section, row), section, chunk["id"], "row", " | ".join(cells), row,
                                  (part, 0, ri), f"{context} {group}".strip(), caption, header, cells))
    elif chunk["kind"] == "text":
        for pi, para in enumerate(PARAGRAPHS.split(chunk["text"])):
            figure = bool(FIGURE_LINE.match(para.strip()))
            lead = PARA_LEAD.match(para)  # "**AlignBench** …": what the paragraph's sentences are about
            pcontext = f"{context} {lead.group(1)}" if lead else context
            prev = ""
            for si, sent in enumerate(split_sentences(para.replace("\n", " "))):
                if len(sent) < 6 and sent.rstrip().endswith(("：", ":")) and prev and out and out[-1].order[:2] == (part, pi):
                    # "要点如下：" is too short to be a unit, but it says the sentence before introduces the list
                    last = out[-1]
                    last.text, last.raw = clean(f"{last.text}{sent}"), f"{last.raw}{sent}"
                    continue
                if len(sent) >= 6:
                    ctx = f"{pcontext} {clean(prev)}" if prev and POINTS_BACK.match(clean(sent)) else pcontext
                    out.append(UnitRecord(_uid(section, sent), section, chunk["id"], "sentence", clean(sent), sent,
                                          (part, pi, si), ctx, figure=figure, source=source_words(clean(sent))))
                prev = sent
    elif chunk["kind"] == "code":
        paras = [p for p in PARAGRAPHS.split(before) if p.strip()][-2:]
        # the figure caption, when the block has one, says what it is: the bold lead above a prompt may
        # be the report's slip ("Prompt in CIBench" over the MATH and GSM8K prompts of Figures 20, 21)
        paras = [p for p in paras if FIGURE_LINE.match(p.strip())] or paras
        caption = " ".join(clean(p) for p in paras)[-300:]
        part_of = ""  # the prompt part a line is in ("System Prompt:", "User Prompt:"), with its Chinese terms
        for li, line in enumerate(chunk["text"].splitlines()):
            text = line.strip()
            if PROMPT_PART.fullmatch(text):
                part_of = f"{text.rstrip(':')} {' '.join(glossary_renderings(text))}"
            if len(text) >= 6 and not text.startswith(("```", "~~~")):
                out.append(UnitRecord(_uid(section, f"{chunk['id']}:{li}:{line}"), section, chunk["id"], "code",
                                      text, line, (part, 0, li), f"{context} {caption} {part_of}".strip(), caption))
    return out


def corpus_units(chunks: list[dict]) -> list[UnitRecord]:
    """Every unit of the index once (split paragraphs overlap: a sentence in two chunks counts once)."""
    seen: set[str] = set()
    out = []
    before: dict[str, str] = {}  # the last text chunk of each section so far
    for c in chunks:
        for u in chunk_units(c, before.get(c["section"], "")):
            if u.id not in seen:
                seen.add(u.id)
                out.append(u)
        if c["kind"] == "text":
            before[c["section"]] = c["text"]
    return out


# --- I/O: units.jsonl (+ units.npy with a model) in an index version ------------------------------

UNITS_FILE, VECTORS_FILE, OWN_VECTORS_FILE = "units.jsonl", "units.npy", "units-own.npy"
# bump when segmentation or what is embedded changes: the index fingerprint includes it
UNITS_VERSION = "units-12"


def write_units(vdir, units: list[UnitRecord], tokens: list[list[str]], own_tokens: list[list[str]],
                vectors=None, own_vectors=None) -> None:
    """Units with their tokens; with a model, two embeddings each: with its context (embed_text) and
    alone (own_text) — the second tells a sentence from its neighbours."""
    import json
    import os

    import numpy as np

    with open(vdir / UNITS_FILE, "w", encoding="utf-8") as f:
        for u, toks, own in zip(units, tokens, own_tokens):
            f.write(json.dumps({**u.to_json(), "tokens": sorted(set(toks)), "own_tokens": sorted(set(own))},
                               ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    for name, vecs in ((VECTORS_FILE, vectors), (OWN_VECTORS_FILE, own_vectors)):
        if vecs is not None:
            with open(vdir / name, "wb") as f:
                np.save(f, np.asarray(vecs, dtype=np.float32))
                f.flush()
                os.fsync(f.fileno())


def read_units(vdir) -> tuple | None:
    """(units, token sets with context, token sets of the unit alone, vectors, own vectors) — the
    vectors None without a model; None for an index built before units."""
    import json

    import numpy as np

    try:
        with open(vdir / UNITS_FILE, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return None
    tokens = [frozenset(r.pop("tokens")) for r in rows]
    own = [frozenset(r.pop("own_tokens")) for r in rows]
    units = [UnitRecord.from_json(r) for r in rows]
    def load(name):
        path = vdir / name
        vecs = np.load(path) if path.exists() else None
        return vecs if vecs is not None and len(vecs) == len(units) else None

    return units, tokens, own, load(VECTORS_FILE), load(OWN_VECTORS_FILE)
