"""Which sections answer the question: the fused chunk ranking re-ranked per section.

A section's features are its best chunk's place in the fused (RRF), BM25 and dense rankings; how
much of the question its best chunk, best sentence or row and title hold; how close the dense model
puts its best unit; and what kind of section it is — an overview (abstract, introduction,
conclusion, a chapter's opening) mentions everything briefly, while "how" and "why" questions want
the section that explains. The features are combined with weights fitted on the development
questions (benchmarks/fit_sections.py writes section_weights.json beside this file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ingest.keywords import tokenize

from .index import LoadedIndex, derived

WEIGHTS_FILE = Path(__file__).with_name("section_weights.json")
FEATURES = ["rrf", "bm25", "dense", "chunk_cov", "unit_dense", "unit_dense_own", "unit_lex", "unit_lex_own",
            "title_cov", "fused_top", "overview", "how_x_overview", "why_x_overview", "num_x_overview", "depth"]
OVERVIEW_TITLES = {"abstract", "introduction", "conclusion"}
RRF_K = 60  # reciprocal rank fusion: a hit at rank r scores 1 / (RRF_K + r + 1) (app/retrieval.py)


@dataclass(frozen=True)
class SectionInfo:
    """What a section is, whatever the question: computed once per index."""
    numbers: list[str]
    overview: np.ndarray
    depth: np.ndarray
    title_tokens: list[frozenset]
    units: list[np.ndarray]  # indices into LoadedIndex.units
    any_chunk: list[int]  # a chunk of the section, for a section found by its units alone


def section_info(index: LoadedIndex) -> SectionInfo:
    return derived(index, "_section_info", lambda: _section_info(index))


def _section_info(index: LoadedIndex) -> SectionInfo:
    """Per section of the index: its number, whether it is an overview, its depth, its title's tokens,
    its units and a chunk of it."""
    first: dict[str, int] = {}
    for i, c in enumerate(index.chunks):
        first.setdefault(c["section"], i)
    numbers = list(first)
    overview, depth, titles, units = [], [], [], []
    for n in numbers:
        c = index.chunks[first[n]]
        has_children = any(m.startswith(n + ".") for m in numbers)
        overview.append(float(has_children or c["title_en"].strip().lower() in OVERVIEW_TITLES))
        depth.append(float(n.count(".") + 1))
        titles.append(frozenset(tokenize(f"{c['path']} {c['title_en']}")))
        units.append(np.asarray(index.units_by_section.get(n, []), dtype=int))
    return SectionInfo(numbers, np.array(overview), np.array(depth), titles, units, [first[n] for n in numbers])


@lru_cache(maxsize=1)
def load_weights(path: str = str(WEIGHTS_FILE)) -> dict | None:
    """{"hybrid": {feature: weight}, "keyword": {...}, "fitted_on": [...]}; None before any fit."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def question_kind(query: str) -> tuple[bool, bool, bool]:
    """(how, why, how many) — the question types that decide between an overview and its details."""
    from .selection import QuestionType  # noqa: PLC0415 (selection imports retrieval, which imports this)

    qt = QuestionType.of(query)
    return qt.how, qt.why, qt.numeric


def postings(index: LoadedIndex, own: bool) -> dict[str, list[int]]:
    """token → the units holding it (with their context, or alone), built once per index."""
    def build() -> dict[str, list[int]]:
        post: dict[str, list[int]] = {}
        for i, toks in enumerate(index.unit_own_tokens if own else index.unit_tokens):
            for t in toks:
                post.setdefault(t, []).append(i)
        return post

    return derived(index, "_postings_own" if own else "_postings", build)


def _unit_coverage(index: LoadedIndex, cover, terms: set[str], own: bool) -> np.ndarray:
    """The question's coverage of every unit; only units sharing a term with it are scored (the rest hold 0)."""
    tokens = index.unit_own_tokens if own else index.unit_tokens
    out = np.zeros(len(tokens))
    post = postings(index, own)
    for i in {i for t in terms for i in post.get(t, ())}:
        out[i] = cover(tokens[i])
    return out


def section_features(index: LoadedIndex, fused: dict[str, dict], cover, vec: np.ndarray | None,
                     query: str, terms: set[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(section numbers, feature matrix, best unit per section) for every section of the index.

    `fused` maps a section with chunk hits to {"rrf", "bm25_rank", "dense_rank", "coverage", "rank"};
    `cover(tokens)` is the question's weighted coverage of a token set; `terms`, every token of its
    groups: only the units holding one are scored (any other covers nothing)."""
    info = section_info(index)
    n = len(info.numbers)
    X = np.zeros((n, len(FEATURES)))
    col = {f: k for k, f in enumerate(FEATURES)}
    lex = _unit_coverage(index, cover, terms, own=False)
    lex_own = _unit_coverage(index, cover, terms, own=True)
    dense = own = None
    if vec is not None and index.unit_vectors is not None and len(index.unit_vectors):
        dense = index.unit_vectors @ vec
        own = index.unit_own_vectors @ vec if index.unit_own_vectors is not None else dense
    how, why, numeric = question_kind(query)
    best_unit = np.full(n, -1)
    for j, number in enumerate(info.numbers):
        f = fused.get(number)
        if f is not None:
            # RRF terms times RRF_K, so that rank 0 scores RRF_K / (RRF_K + 1)
            X[j, col["rrf"]] = f["rrf"] * RRF_K
            X[j, col["bm25"]] = RRF_K / (RRF_K + 1 + f["bm25_rank"]) if f["bm25_rank"] is not None else 0.0
            X[j, col["dense"]] = RRF_K / (RRF_K + 1 + f["dense_rank"]) if f["dense_rank"] is not None else 0.0
            X[j, col["chunk_cov"]] = f["coverage"]
            X[j, col["fused_top"]] = 1.0 / (1 + f["rank"])
        ids = info.units[j]
        if len(ids):
            X[j, col["unit_lex"]] = lex[ids].max()
            X[j, col["unit_lex_own"]] = lex_own[ids].max()
            best_unit[j] = ids[int(np.argmax(lex[ids] + (dense[ids] if dense is not None else 0)))]
        X[j, col["title_cov"]] = cover(info.title_tokens[j])
        ov = info.overview[j]
        X[j, col["overview"]] = ov
        X[j, col["how_x_overview"]] = ov * how
        X[j, col["why_x_overview"]] = ov * why
        X[j, col["num_x_overview"]] = ov * numeric
        X[j, col["depth"]] = info.depth[j]
    if dense is not None:
        # by rank, not by value: how far apart similarities lie depends on the model
        for name, sims in (("unit_dense", dense), ("unit_dense_own", own)):
            best = np.array([sims[ids].max() if len(ids) else -np.inf for ids in info.units])
            order = np.argsort(-best, kind="stable")
            X[order, col[name]] = 1.0 / (1.0 + np.arange(n))
    return info.numbers, X, best_unit


def section_scores(X: np.ndarray, mode: str) -> np.ndarray:
    """Fitted scores; before any fit, the fused (RRF) order."""
    weights = load_weights()
    if not weights or mode not in weights:
        return X[:, FEATURES.index("rrf")]
    w = np.array([weights[mode].get(f, 0.0) for f in FEATURES])
    return X @ w
