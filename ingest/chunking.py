"""Split sections into retrieval chunks. A chunk never crosses a section boundary.

Blocks (paragraphs, captioned tables, fenced code) are packed up to `size` characters.
Long paragraphs split at sentence ends (Chinese and English punctuation); long tables split
by rows with caption and header repeated; a table never loses its caption.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .corpus import Corpus, Section

SENTENCE_END = re.compile(r"(?<=[。！？；])|(?<=[!?])(?=\s)|(?<=[^\d\s.]\.)(?=\s)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")
CAPTION = re.compile(r"^(表|图)\s*\d+")


@dataclass(frozen=True)
class Block:
    kind: str  # "text" | "table" | "code"
    text: str


@dataclass(frozen=True)
class Chunk:
    id: str
    section: str
    title_zh: str
    title_en: str
    path: str  # "3 预训练 > 3.1 预训练数据 > 3.1.1 文本数据"
    order: int  # global position in reading order
    part: int  # position within the section
    kind: str
    text: str
    file: str
    line: int

    @property
    def embed_text(self) -> str:
        """What gets embedded and keyword-indexed: the TOC path, then the text."""
        return f"{self.path}（{self.title_en}）\n{self.text}"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()

    def metadata(self) -> dict:
        return {"section": self.section, "title_zh": self.title_zh, "title_en": self.title_en,
                "path": self.path, "order": self.order, "part": self.part, "kind": self.kind,
                "file": self.file, "line": self.line, "hash": self.content_hash}


def split_blocks(text: str) -> list[Block]:
    """Paragraph-level blocks; a caption line directly before a table joins the table."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    para: list[str] = []

    def flush():
        if para:
            blocks.append(Block("text", "\n".join(para).strip()))
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            flush()
            fence = line.lstrip()[:3]
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith(fence):
                j += 1
            blocks.append(Block("code", "\n".join(lines[i : j + 1])))
            i = j + 1
            continue
        if line.lstrip().startswith("|"):
            flush()
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            table = "\n".join(lines[i:j])
            # attach the caption: the previous text block if it is a "表 N：" line
            if blocks and blocks[-1].kind == "text" and CAPTION.match(blocks[-1].text.splitlines()[-1]):
                cap_block = blocks.pop().text.splitlines()
                caption = cap_block[-1]
                if cap_block[:-1]:
                    blocks.append(Block("text", "\n".join(cap_block[:-1]).strip()))
                table = caption + "\n\n" + table
            blocks.append(Block("table", table))
            i = j
            continue
        if not line.strip():
            flush()
        elif LIST_ITEM.match(line):  # each list item is its own block
            flush()
            para.append(line)
        else:
            para.append(line)
        i += 1
    flush()
    return [b for b in blocks if b.text.strip()]


def split_sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in SENTENCE_END.split(text)) if s]


def _split_long_text(text: str, size: int, overlap: int) -> list[str]:
    pieces: list[str] = []
    cur = ""
    for sent in split_sentences(text):
        while len(sent) > size:  # a single very long sentence: hard cut
            if cur:
                pieces.append(cur)
                cur = ""
            pieces.append(sent[:size])
            sent = sent[size:]
        if cur and len(cur) + len(sent) > size:
            pieces.append(cur)
            tail = cur[-overlap:] if overlap else ""
            # start the overlap at a sentence boundary when possible
            cut = max(tail.rfind(c) for c in "。！？；.!?;") if tail else -1
            cur = tail[cut + 1 :].lstrip() if cut >= 0 else ""
        cur = f"{cur}{sent}" if not cur or cur.endswith(tuple("。！？；")) else f"{cur} {sent}"
    if cur:
        pieces.append(cur)
    return pieces


def _split_table(table: str, size: int) -> list[str]:
    lines = table.splitlines()
    head_end = next(i for i, l in enumerate(lines) if l.lstrip().startswith("|"))
    prefix = lines[: head_end + 2]  # caption, blank, header row, separator row
    rows = lines[head_end + 2 :]
    pieces: list[str] = []
    cur: list[str] = []
    base = len("\n".join(prefix))
    for row in rows:
        if cur and base + sum(len(r) + 1 for r in cur) + len(row) > size:
            pieces.append("\n".join(prefix + cur))
            cur = []
        cur.append(row)
    if cur or not pieces:
        pieces.append("\n".join(prefix + cur))
    return pieces


def _split_code(code: str, size: int) -> list[str]:
    lines = code.splitlines()
    fence_open, fence_close, body = lines[0], lines[-1], lines[1:-1]
    pieces, cur = [], []
    for line in body:
        if cur and sum(len(l) + 1 for l in cur) + len(line) > size:
            pieces.append("\n".join([fence_open, *cur, fence_close]))
            cur = []
        cur.append(line)
    pieces.append("\n".join([fence_open, *cur, fence_close]))
    return pieces


def chunk_section(section: Section, path: str, size: int = 600, overlap: int = 80,
                  table_limit: int | None = None) -> list[tuple[str, str]]:
    """(kind, text) pieces for one section, in order. Tables stay whole up to table_limit."""
    table_limit = table_limit or size * 4
    out: list[tuple[str, str]] = []
    cur: list[str] = []

    def flush():
        if cur:
            out.append(("text", "\n\n".join(cur)))
            cur.clear()

    for block in split_blocks(section.text):
        if block.kind == "table":
            flush()
            pieces = [block.text] if len(block.text) <= table_limit else _split_table(block.text, table_limit)
            out += [("table", p) for p in pieces]
        elif block.kind == "code":
            flush()
            pieces = [block.text] if len(block.text) <= table_limit else _split_code(block.text, table_limit)
            out += [("code", p) for p in pieces]
        elif len(block.text) > size:
            flush()
            out += [("text", p) for p in _split_long_text(block.text, size, overlap)]
        else:
            if cur and sum(len(c) + 2 for c in cur) + len(block.text) > size:
                flush()
            cur.append(block.text)
    flush()
    if not out:  # a heading with no body of its own (e.g. "5 评测与分析" before 5.1)
        out.append(("text", f"{section.title_zh}（{section.title_en}）"))
    return out


def chunk_corpus(corpus: Corpus, size: int = 600, overlap: int = 80) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in corpus.sections:
        path = corpus.path(section.number)
        seen: dict[str, int] = {}
        for part, (kind, text) in enumerate(chunk_section(section, path, size, overlap)):
            digest = hashlib.sha256(f"{path}\n{text}".encode("utf-8")).hexdigest()[:16]
            n = seen.get(digest, 0)
            seen[digest] = n + 1
            cid = f"{section.number}:{digest}" + (f":{n}" if n else "")
            chunks.append(Chunk(cid, section.number, section.title_zh, section.title_en, path,
                                len(chunks), part, kind, text, section.file, section.line))
    return chunks
