"""Which sentence or table row states the asked fact.

Every unit (sentence or table row, see ingest/units.py) of the top sections is a candidate. Each gets
a few features — how much of the question it covers, how close the dense model puts it to the
question, where its section ranks, whether it is a row naming the asked model and column, whether
it has what the question type asks for (a number, a reason, a means, a list) — and the features are
combined, with the crosses of a few of them (CROSSED), by weights fitted on the development
questions (benchmarks/fit_selection.py writes selection_weights.json beside this file). No weight
here is set by hand.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ingest.keywords import tokenize
from ingest.units import LABEL_ONLY, UnitRecord

from .index import LoadedIndex, derived
from .ranking import section_info
from .retrieval import Retrieval, SectionHit, Weighted, coverage
from .tables import header_tokens, names_column

WEIGHTS_FILE = Path(__file__).with_name("selection_weights.json")
CANDIDATE_SECTIONS = 5

# what kind of answer the question asks for
Q_NUMERIC = re.compile(r"多少|几[个层种项次倍轮张类条]?|多大|多长|多高|比例|占比|得分|分数|准确率|数量|规模|"
                       r"how (many|much|long|large|big|high)|what (is|was|are|were)[^?？]*\b(rate|score|size|number|"
                       r"ratio|percentage|share|value|length|count|accuracy)|\bscores?\b|\bpercent", re.IGNORECASE)
Q_WHY = re.compile(r"为什么|为何|原因|目的|why\b|what for|purpose|reason", re.IGNORECASE)
Q_HOW = re.compile(r"怎么|怎样|如何|方法|方式|机制|策略|how (do|does|did|is|are|was|were|to)\b|in what way",
                   re.IGNORECASE)
Q_LIST = re.compile(r"哪些|哪几|有什么|包括|包含|分别|几个|几类|几种|which (ones|of)|what (are|were) the|list|kinds? of|"
                    r"types? of", re.IGNORECASE)
Q_WHICH = re.compile(r"哪个|哪一|哪种|哪款|什么|谁|叫什么|名字|which\b|what\b|who\b|name", re.IGNORECASE)
Q_COMPARE = re.compile(r"比较|相比|对比|区别|差异|高于|低于|更好|更高|还是|versus|\bvs\.?\b|compared?|differ|better|"
                       r"higher|lower|than\b", re.IGNORECASE)

HAS_NUMBER = re.compile(r"\d|[一二两三四五六七八九十百千万亿]+\s*[个轮层种项次倍类条张位名组阶段步]")
# numbers that only point somewhere: "图 7", "表 3", "第 4.2 节", "§4.2", a citation's year "(Bai et al., 2023a)"
REFERENCE = re.compile(r"[图表]\s*\d+|第\s*[\d.]+\s*[节章]|§\s*[\dA][\d.]*|\(\D*?et al\.,?\s*\d{4}[a-z]?(?:;[^)]*)?\)|"
                       r"\b(?:Figure|Table|Section)\s*\d+", re.IGNORECASE)
CAUSE = re.compile(r"因为|由于|为了|因此|所以|原因|旨在|以便|从而|使得|得益于|导致|以免|避免|目的是|这样")
MEANS = re.compile(r"通过|采用|使用|利用|方法|步骤|首先|然后|具体|将|借助|基于|引入")
ENUM = re.compile(r"、|；|以及|包括|分别|：")
# states a total ("该数据集总计包含 240 亿个 token", "token 总数在 2.0T 到 2.6T 之间", a "总计" row): what
# "how many" most often asks, rather than one of its parts
TOTAL = re.compile(r"总计|总数|总共|一共|共计|合计|总量|总规模|\btotal\b", re.IGNORECASE)
LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.\-]{2,}")
CODE_NAME = re.compile(r"\b(?:[A-Za-z]*[a-z][A-Z]\w*|[A-Za-z]+\d[\w.\-]*|[A-Z]{2,}\w*)")

# (a softmax over one question's candidates ignores anything constant per question: no "gap" features)
FEATURES = ["lex", "lex_own", "dense", "dense_own", "sec_rrf", "sec_top", "chunk_hit", "row", "row_name",
            "row_col", "row_name_col", "row_asked_number", "figure", "num_x_num", "why_x_cause", "how_x_means",
            "list_x_enum", "which_x_name", "cmp_x_multi", "title_cov", "novel", "first", "length",
            "caption_cov", "code", "overview", "how_x_overview", "why_x_overview", "why_x_row", "how_x_row",
            "lead_cov", "dense_rr", "dense_own_rr", "lex_rr", "label", "num_x_total"]


@dataclass
class Candidate:
    index: int  # position in LoadedIndex.units
    unit: UnitRecord
    section: SectionHit
    rank: int  # the section's rank
    tokens: frozenset
    coverage: float
    features: np.ndarray
    score: float = 0.0


@dataclass(frozen=True)
class QuestionType:
    numeric: bool
    why: bool
    how: bool
    list: bool
    which: bool
    compare: bool

    @classmethod
    def of(cls, question: str) -> "QuestionType":
        return cls(*(bool(p.search(question)) for p in (Q_NUMERIC, Q_WHY, Q_HOW, Q_LIST, Q_WHICH, Q_COMPARE)))


@lru_cache(maxsize=1)
def load_weights(path: str = str(WEIGHTS_FILE)) -> dict:
    """{"hybrid": {feature: weight}, "keyword": {...}, "select": {...}, "fitted_on": ...}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class UnitFacts:
    """What a unit offers whatever the question: computed once per unit and index."""
    name_tokens: frozenset  # a row's first cell
    header_tokens: tuple  # a row's column headers (after the first)
    caption_tokens: frozenset
    latin: frozenset  # Latin-script names in it
    has_number: bool
    cause: bool
    means: bool
    enum: bool
    many: bool  # two or more names or numbers: it can compare
    first: bool
    length: float
    context_tokens: frozenset  # where it stands: the section's path and title, a paragraph's bold lead
    label: bool  # a bold label alone
    total: bool


def unit_facts(index: LoadedIndex, i: int) -> UnitFacts:
    cache = derived(index, "_unit_facts", dict)
    f = cache.get(i)
    if f is None:
        u = index.units[i]
        row = u.kind == "row"
        body = " ".join(u.cells[1:]) if row else u.text
        # in a prompt's English every word is Latin: there a name is one that looks like one ("IPythonInterpreter")
        names = CODE_NAME if u.kind == "code" else LATIN_NAME
        latin = frozenset(m.group(0).lower() for m in names.finditer(u.text))
        f = cache[i] = UnitFacts(
            frozenset(tokenize(u.cells[0])) if row else frozenset(),
            tuple(header_tokens(h, u.caption) for h in u.header[1:]) if row else (),
            frozenset(tokenize(u.caption)) if row else frozenset(),
            # a figure's description never gives data points (corpus rule): its numbers are axis labels
            latin, bool(HAS_NUMBER.search(REFERENCE.sub(" ", body))) and not u.figure, bool(CAUSE.search(u.text)), bool(MEANS.search(u.text)),
            bool(ENUM.search(u.text)), len(latin) >= 2 or len(re.findall(r"\d+(?:\.\d+)?", body)) >= 2,
            u.order[1:] == (0, 0) or (row and u.order[2] == 0), math.log1p(len(u.text)) / 6,
            frozenset(tokenize(u.context)), u.kind == "sentence" and bool(LABEL_ONLY.fullmatch(u.raw)),
            bool(TOTAL.search(u.text)))
    return f


def title_tokens(index: LoadedIndex, sec: SectionHit) -> frozenset:
    """A section's path and English title, tokenized once per index."""
    cache = derived(index, "_title_tokens", dict)
    toks = cache.get(sec.number)
    if toks is None:
        toks = cache[sec.number] = frozenset(tokenize(f"{sec.path} {sec.title_en}"))
    return toks


def candidates(index: LoadedIndex, r: Retrieval, weighted: Weighted, q_vector: np.ndarray | None) -> list[Candidate]:
    """Every unit of the top sections, with its features (unscored)."""
    qt = QuestionType.of(r.query)  # with the previous question for a follow-up ("那 20B 的呢？")
    flat = {t for g in weighted.groups for t in g}
    q_latin = {m.group(0).lower() for m in LATIN_NAME.finditer(r.query)}
    out: list[Candidate] = []
    info = section_info(index)
    overviews = dict(zip(info.numbers, info.overview))
    for rank, sec in enumerate(r.sections[:CANDIDATE_SECTIONS]):
        hit_chunks = {h.chunk["id"] for h in sec.hits}
        sec_title = title_tokens(index, sec)
        title_cov = coverage(weighted, sec_title)
        overview = overviews.get(sec.number, 0.0)  # an overview mentions it; "how"/"why" want the details
        for i in index.units_by_section.get(sec.number, ()):
            u, toks, uf = index.units[i], index.unit_tokens[i], unit_facts(index, i)
            cov = coverage(weighted, toks)
            row = u.kind == "row"
            name = row and bool(uf.name_tokens & flat)
            col = row and any(names_column(h, flat) for h in uf.header_tokens)
            f = {
                "lex": cov, "lex_own": coverage(weighted, index.unit_own_tokens[i]), "sec_rrf": 1.0 / (1 + rank),
                "sec_top": float(rank == 0), "chunk_hit": float(u.chunk in hit_chunks), "row": float(row),
                "row_name": float(name), "row_col": float(col), "row_name_col": float(name and col),
                "row_asked_number": float(qt.numeric and name and col),
                "figure": float(u.figure), "num_x_num": float(qt.numeric and uf.has_number),
                "why_x_cause": float(qt.why and uf.cause), "how_x_means": float(qt.how and uf.means),
                "list_x_enum": float(qt.list and uf.enum), "which_x_name": float(qt.which and bool(uf.latin - q_latin)),
                "cmp_x_multi": float(qt.compare and uf.many), "title_cov": title_cov,
                "novel": math.log1p(len(index.unit_own_tokens[i] - flat)), "first": float(uf.first),
                "length": uf.length, "caption_cov": coverage(weighted, uf.caption_tokens) if row else 0.0,
                "code": float(u.kind == "code"), "overview": overview, "how_x_overview": overview * qt.how,
                "why_x_overview": overview * qt.why, "why_x_row": float(qt.why and row), "how_x_row": float(qt.how and row),
                # a paragraph's bold lead ("训练细节（Training Details）") says what its sentences are about
                "lead_cov": 0.0 if row else coverage(weighted, uf.context_tokens - sec_title),
                "label": float(uf.label), "num_x_total": float(qt.numeric and uf.total and uf.has_number),
            }
            out.append(Candidate(i, u, sec, rank, toks, cov, np.array([f.get(k, 0.0) for k in FEATURES])))
    if q_vector is not None and index.unit_vectors is not None:
        rows = [c.index for c in out]
        for name, vecs in (("dense", index.unit_vectors), ("dense_own", index.unit_own_vectors)):
            if vecs is not None:
                col = FEATURES.index(name)
                for c, d in zip(out, vecs[rows] @ q_vector):
                    c.features[col] = d
    # where each unit stands among the question's candidates (1 / rank; ties share the better rank):
    # a rank means the same whatever the model's similarity scale
    if out:
        F = np.stack([c.features for c in out])
        for name in ("dense", "dense_own", "lex"):
            for c, rr in zip(out, reciprocal_ranks(F[:, FEATURES.index(name)])):
                c.features[FEATURES.index(f"{name}_rr")] = rr
    return out


def reciprocal_ranks(values: np.ndarray) -> np.ndarray:
    """1 / (1 + the number of values greater than each): the best is 1, ties share a rank."""
    greater = len(values) - np.searchsorted(np.sort(values), values, side="right")
    return 1.0 / (1.0 + greater)


# the features whose effect depends on the others (a dense match counts differently in a table row):
# each is also crossed with every feature, and the crosses weighted like the rest
CROSSED = ["lex", "lex_own", "dense", "dense_own", "sec_rrf", "row", "num_x_num", "chunk_hit", "length"]
SCORED = FEATURES + [f"{a}*{b}" for a in CROSSED for b in FEATURES]
_CROSSED_AT = [FEATURES.index(a) for a in CROSSED]


def expand(X: np.ndarray) -> np.ndarray:
    """Candidates' features (rows) with their crosses, in SCORED order."""
    X = np.atleast_2d(X)
    return np.hstack([X, np.einsum("ij,ik->ijk", X[:, _CROSSED_AT], X).reshape(len(X), -1)])


def score(cands: list[Candidate], weights: dict[str, float]) -> list[Candidate]:
    """Scored, best first."""
    if not cands:
        return []
    w = np.array([weights.get(k, 0.0) for k in SCORED])
    for c, value in zip(cands, expand(np.stack([c.features for c in cands])) @ w):
        c.score = float(value)
    return sorted(cands, key=lambda c: -c.score)
