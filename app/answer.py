"""Grounded answers with section citations: extractive (default) or through an LLM.

Both modes refuse when the retrieved evidence is too weak, and every citation in the answer
refers to a section that was actually retrieved.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterator

from ingest.chunking import split_sentences
from ingest.keywords import CJK, query_groups, tokenize
from ingest.settings import Settings

from .index import IndexHandle
from .retrieval import Retrieval, SectionHit, Weighted, coverage, never_together, retrieve, unknown_names

CITE = re.compile(r"\[§\s*([0-9A](?:\.\d+)*)\s*\]")
MD_NOISE = re.compile(r"\*\*|`")
FIGURE_LINE = re.compile(r"^图\s*\d+")


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


def is_chinese(text: str) -> bool:
    """Answer in Chinese unless the question is (nearly) all Latin script."""
    cjk = sum(len(run) for run in CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return cjk >= 4 or (cjk > 0 and cjk * 6 >= latin)


def _and(items: list[str], zh: bool) -> str:
    """“A”、“B”和“C” / A, B and C"""
    if len(items) < 2:
        return "".join(items)
    return ("、" if zh else ", ").join(items[:-1]) + ("和" if zh else " and ") + items[-1]


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

@dataclass
class Unit:
    section: SectionHit
    kind: str  # "sentence" | "row"
    text: str
    score: float = 0.0
    coverage: float = 0.0
    caption: str = ""
    header: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    order: tuple = ()
    raw: str = ""  # the passage exactly as in the Markdown
    figure: bool = False  # part of a figure caption / description
    named: bool = False  # a table row whose model the question names
    tokens: frozenset = frozenset()  # what it is matched on (its text and context)
    context: str = ""  # the section's path and English title: part of what a sentence means


PARA_LEAD = re.compile(r"^\s*(?:[-*]|\d+\.)?\s*\*\*([^*\n]{2,60})\*\*")
PARAGRAPHS = re.compile(r"\n\n|\n(?=\s*(?:[-*]|\d+\.)\s)")  # blank lines; each list item is its own


def _clean(text: str) -> str:
    return MD_NOISE.sub("", text).strip()


def _units(sec: SectionHit, rank: int, max_chunks: int = 3) -> list[Unit]:
    out: list[Unit] = []
    context = f"{sec.path} {sec.title_en}"
    for ci, hit in enumerate(sec.hits[:max_chunks]):
        c = hit.chunk
        if c["kind"] == "table":
            lines = c["text"].splitlines()
            rows = [l for l in lines if l.lstrip().startswith("|")]
            caption = next((l for l in lines if l.strip() and not l.lstrip().startswith("|")), "")
            if len(rows) < 3:
                continue
            header = [_clean(x) for x in rows[0].strip().strip("|").split("|")]
            for ri, row in enumerate(rows[2:]):
                cells = [_clean(x) for x in row.strip().strip("|").split("|")]
                if sum(1 for x in cells if x) < 2:  # group rows such as "≤ 7B 模型"
                    continue
                out.append(Unit(sec, "row", " | ".join(cells), caption=_clean(caption), header=header,
                                cells=cells, order=(rank, ci, ri), context=context, raw=row))
        elif c["kind"] == "text":
            for pi, para in enumerate(PARAGRAPHS.split(c["text"])):
                figure = bool(FIGURE_LINE.match(para))
                # "**AlignBench** …": the paragraph's bold lead names what its sentences are about
                lead = PARA_LEAD.match(para)
                pcontext = f"{context} {lead.group(1)}" if lead else context
                for si, sent in enumerate(split_sentences(para.replace("\n", " "))):
                    if len(sent) >= 6:
                        out.append(Unit(sec, "sentence", _clean(sent), order=(rank, ci, pi, si), context=pcontext,
                                        raw=sent, figure=figure))
    return out


NUMERIC_Q = re.compile(r"多少|几|多大|多长|多高|比例|占比|得分|分数|how (many|much|long|large|big)|what (is|was|are)"
                       r"[^?？]*\b(rate|score|size|number|ratio|percentage|value|length)|\bscores?\b", re.IGNORECASE)
HAS_NUMBER = re.compile(r"\d")
# a table row *is* a score/result: words that ask for one are satisfied by the row itself
ROW_IMPLIED = "得分 分数 结果 成绩 表现 性能 分 score scores result results performance accuracy"


def _score_units(units: list[Unit], groups: list[list[str]], idf: dict[str, float], numeric: bool = False) -> None:
    flat = {t for g in groups for t in g}
    weighted = Weighted.of(groups, idf)
    for u in units:
        basis = (f"{u.context} {u.text}" if u.kind == "sentence"
                 else f"{u.context} {u.caption} {' '.join(u.header)} {u.text} {ROW_IMPLIED}")
        toks = set(tokenize(basis))
        u.tokens = frozenset(toks)
        u.coverage = coverage(weighted, toks)
        u.score = u.coverage
        if u.kind == "row":
            # a row is the answer when the question names both its model and one of its columns
            name_hit = u.named = bool(set(tokenize(u.cells[0])) & flat)
            col_hit = any(set(tokenize(h)) & flat for h in u.header[1:])
            u.score += 0.15 * name_hit + 0.1 * (name_hit and col_hit)
        elif u.figure:
            u.score -= 0.1  # a figure's description names things, it rarely states the answer
        if numeric and HAS_NUMBER.search(u.text if u.kind == "sentence" else " ".join(u.cells[1:])):
            u.score += 0.08  # "how many …" is answered by a sentence or row that has numbers
        u.score += 0.08 / (1 + u.order[0])  # prefer better-ranked sections


def _row_sentence(u: Unit, groups: list[list[str]], zh: bool) -> str:
    qs = {t for g in groups for t in g}
    pairs = list(zip(u.header[1:], u.cells[1:]))
    wanted = [(h, v) for h, v in pairs if set(tokenize(h)) & qs]
    shown = wanted or pairs
    values = "、".join(f"{h} {v}" for h, v in shown) if zh else ", ".join(f"{h}: {v}" for h, v in shown)
    table = re.match(r"^(表\s*\d+)", u.caption)
    tname = table.group(1).replace(" ", " ") if table else "表"
    if zh:
        return f"{tname}（§{u.section.number}）中，{u.cells[0]} 的结果为：{values}。"
    tnum = re.sub(r"^表\s*", "Table ", tname)
    return f"In {tnum} (§{u.section.number}), {u.cells[0]} scores {values}."


COMPLEMENT = 0.1  # share of the question a second sentence must add to be quoted too


def ranked_units(sections: list[SectionHit], q_tokens: list[list[str]], question: str,
                 idf: dict[str, float]) -> list[Unit]:
    """The sentences and table rows of the top sections, best first."""
    units = [u for rank, sec in enumerate(sections[:5]) for u in _units(sec, rank)]
    _score_units(units, q_tokens, idf, numeric=bool(NUMERIC_Q.search(question)))
    return sorted(units, key=lambda u: -u.score)


def question_groups(r: Retrieval) -> list[list[str]]:
    return query_groups(r.query) or [[t] for t in r.tokens]


def extractive_answer(r: Retrieval, question: str, idf: dict[str, float]) -> tuple[str, list[Citation], float]:
    """Compose an answer from the best sentences / table rows of the top sections."""
    zh = is_chinese(question)
    q_tokens = question_groups(r)
    units = ranked_units(r.sections, q_tokens, question, idf)
    if not units:
        return "", [], 0.0
    best = units[0]
    chosen = [best]
    weighted = Weighted.of(q_tokens, idf)

    def _adds(u: Unit) -> bool:
        """It covers at least COMPLEMENT of the question that the best unit does not."""
        return coverage(weighted, best.tokens | u.tokens) - best.coverage >= COMPLEMENT

    # more evidence: a neighbouring sentence, a tie, a sentence saying what the best lacks, the
    # table's other named rows, or another section's best
    for u in units[1:8]:
        if len(chosen) == 3:
            break
        same_section = u.section is best.section
        if u.kind == best.kind == "sentence" and same_section:
            adjacent = u.order[:3] == best.order[:3] and abs(u.order[3] - best.order[3]) == 1
            if adjacent and u.coverage >= 0.3 * best.coverage:
                chosen.append(u)
            elif len(chosen) < 2 and (u.score >= best.score - 0.01 or _adds(u)):
                # a tie (either may hold the answer), or it says what the best one lacks
                # ("InternEvo … 53%" beside "DeepSpeed … 36%")
                chosen.append(u)
        elif same_section and u.kind == "row" and u.score >= 0.85 * best.score:
            chosen.append(u)
        elif u.kind == best.kind == "row" and u.named and best.named and u.order[:2] == best.order[:2]:
            chosen.append(u)  # "InternLM2-Chat-20B vs GPT-3.5": both rows of the table
        elif not same_section and u.score >= 0.8 * best.score and len(chosen) < 2:
            chosen.append(u)
    same = [u for u in chosen if u.section is best.section]
    same.sort(key=lambda u: u.order)
    others = [u for u in chosen if u.section is not best.section]

    def render(u: Unit) -> str:
        return _row_sentence(u, q_tokens, zh) if u.kind == "row" else u.text

    sec = best.section
    body = ""
    for prev, u in zip([None, *same], same):
        gap = (prev is not None and prev.kind == u.kind == "sentence"
               and not (prev.order[:3] == u.order[:3] and u.order[3] - prev.order[3] == 1))
        body += ("……" if zh else " … ") if gap else ("" if zh or prev is None else " ")
        body += render(u)
    if zh:
        text = f"根据报告第 {sec.number} 节（{sec.title_zh}）：{body} [§{sec.number}]"
        for u in others:
            text += f"\n\n另见第 {u.section.number} 节（{u.section.title_zh}）：{render(u)} [§{u.section.number}]"
    else:
        lead = "" if best.kind == "row" else f"According to §{sec.number} ({sec.title_en}), the report says: "
        text = f"{lead}“{body}” [§{sec.number}]" if lead else f"{body} [§{sec.number}]"
        for u in others:
            text += (f"\n\nSee also §{u.section.number} ({u.section.title_en}): "
                     f"{render(u) if u.kind == 'row' else '“' + render(u) + '”'} [§{u.section.number}]")
    used: dict[str, Unit] = {}
    for u in chosen:
        used.setdefault(u.section.number, u)
    best_per_section: dict[str, Unit] = {}
    for u in units:  # units are sorted best first
        best_per_section.setdefault(u.section.number, u)
    citations = []
    for s in r.sections:
        u = used.get(s.number) or best_per_section.get(s.number)
        snippet = render(u) if u else _clean(s.best.chunk["text"])[:200]
        citations.append(Citation(s.number, s.title_zh, snippet, round(s.score, 5), s.number in used,
                                  u.raw if u else ""))
    citations.sort(key=lambda c: not c.used)
    return text, citations, best.coverage


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


def llm_messages(question: str, history: list[dict] | None, r: Retrieval, allowed: set[str] | None = None) -> list:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    msgs = [SystemMessage(SYSTEM_PROMPT + "\n\n# 报告章节（Report sections）\n\n" + context_block(r, allowed))]
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
        idf = self.handle.get().idf
        zh = is_chinese(question)
        notices = [r.notice] if r.notice else []
        gen = self.generation_mode
        text, citations, unit_score = extractive_answer(r, question, idf)
        citations = citations[:top_k]
        if r.keyword_sections is not None and r.keyword_sections is not r.sections:
            # whether the report covers the question is judged on what its words find (the keyword
            # ranking), as calibrated; the dense model only changes which passages answer it
            units = ranked_units(r.keyword_sections, question_groups(r), question, idf)
            unit_score = units[0].coverage if units else 0.0
        evidence = unit_score if citations else 0.0
        mode = {"retrieval": r.mode, "generation": gen}
        yield {"type": "meta", "mode": mode, "sections": [s.number for s in r.sections]}
        index = self.handle.get()
        unknown = unknown_names(question, index)
        apart = [] if unknown else never_together(r.query, index)
        if unknown or apart:
            evidence = 0.0

        if evidence < self.settings.answer_min_evidence or not citations:
            msg = NOT_COVERED[zh]
            if unknown:
                listed = "、".join(unknown) if zh else ", ".join(unknown)
                msg = (f"报告中没有提到 {listed}，因此无法据此回答这个问题。" if zh else
                       f"The report never mentions {listed}, so it cannot answer this question.")
            elif apart:
                terms = [_as_written(x, r.query) for x in apart]
                msg = (f"报告中没有哪一段同时讲到{_and(['“' + t + '”' for t in terms], zh)}，因此无法据此回答这个问题。"
                       if zh else f"No passage of the report mentions {_and(terms, zh)} together, "
                       "so it cannot answer this question.")
            yield {"type": "delta", "text": msg}
            yield {"type": "done", "answer": Answer(msg, False, [], mode, "; ".join(notices) or None, evidence)}
            return

        if gen == "llm":
            allowed = {c.section for c in citations}
            filt = CitationFilter(allowed)
            parts: list[str] = []
            try:
                for chunk in self.llm.stream(llm_messages(question, history, r, allowed)):
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
