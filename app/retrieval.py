"""Hybrid retrieval: BM25 over jieba tokens + dense vectors from Chroma, fused by reciprocal rank,
grouped by section. Falls back to keyword-only when the index or app has no embedding model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.keywords import tokenize

from .index import IndexHandle, LoadedIndex

RRF_K = 60
CANDIDATES = 30
# follow-ups that lean on the previous question: "那 20B 的呢？", "what about the 7B model?"
ANAPHORA = re.compile(r"^(那|那么|它|它们|这个|那个|这些|其|还有|再|and |what about|how about|and the)|呢[？?]?$",
                      re.IGNORECASE)


@dataclass
class Hit:
    chunk: dict
    score: float  # fused RRF score
    bm25_rank: int | None = None
    dense_rank: int | None = None
    dense_score: float | None = None  # cosine similarity
    coverage: float = 0.0  # idf-weighted share of query tokens found in the chunk


@dataclass
class SectionHit:
    number: str
    title_zh: str
    title_en: str
    path: str
    score: float
    hits: list[Hit] = field(default_factory=list)

    @property
    def best(self) -> Hit:
        return self.hits[0]


@dataclass
class Retrieval:
    query: str  # what was searched (question, possibly with the previous turn)
    tokens: list[str]
    sections: list[SectionHit]
    mode: str  # "hybrid" | "keyword"
    evidence: float  # strength of the best match, 0..1, used for the out-of-scope decision
    notice: str = ""


def retrieval_query(question: str, history: list[dict] | None) -> str:
    """Add the previous user question when this one is a short follow-up."""
    if not history:
        return question
    prev = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not prev:
        return question
    content = [t for t in tokenize(question) if len(t) > 1 or t.isdigit()]
    if ANAPHORA.search(question.strip()) or len(content) <= 2:
        return f"{prev[-1]} {question}"
    return question


def coverage(tokens: list[str], chunk_tokens: set[str], idf: dict[str, float]) -> float:
    if not tokens:
        return 0.0
    unknown = max(idf.values(), default=1.0)
    weights = {t: idf.get(t, unknown) for t in set(tokens)}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in chunk_tokens) / total if total else 0.0


def retrieve(handle: IndexHandle, question: str, history: list[dict] | None = None,
             top_k: int = 5) -> Retrieval:
    index: LoadedIndex = handle.get()
    query = retrieval_query(question, history)
    tokens = tokenize(query)
    q_tokens = tokenize(question) or tokens  # coverage is judged on the question itself
    hits: dict[int, Hit] = {}

    if tokens:
        scores = np.asarray(index.bm25.get_scores(tokens))
        order = np.argsort(-scores)[:CANDIDATES]
        for rank, i in enumerate(order):
            if scores[i] <= 0:
                break
            hits[int(i)] = Hit(index.chunks[i], 1.0 / (RRF_K + rank + 1), bm25_rank=rank)

    notice = index.notice
    if index.collection is not None:
        try:
            vec = handle.query_vector(query)
            found = index.collection.similarity_search_by_vector_with_relevance_scores(vec.tolist(), k=CANDIDATES)
        except Exception as exc:  # a Chroma server going away must not break answering
            found, notice = [], f"dense retrieval failed ({type(exc).__name__}); keyword results only"
        for rank, (doc, distance) in enumerate(found):
            i = index.by_id.get(doc.id) if doc.id else None
            if i is None:
                continue
            h = hits.setdefault(i, Hit(index.chunks[i], 0.0))
            h.score += 1.0 / (RRF_K + rank + 1)
            h.dense_rank, h.dense_score = rank, 1.0 - float(distance)

    for i, h in hits.items():
        h.coverage = coverage(q_tokens, index.chunk_tokens[i], index.idf)
        # reward chunks that contain most of the question's rare terms (numbers, model names)
        h.score += 0.02 * h.coverage

    by_section: dict[str, SectionHit] = {}
    for h in sorted(hits.values(), key=lambda h: -h.score):
        c = h.chunk
        s = by_section.get(c["section"])
        if s is None:
            s = by_section[c["section"]] = SectionHit(c["section"], c["title_zh"], c["title_en"], c["path"],
                                                      h.score)
        s.hits.append(h)
    ranked = sorted(by_section.values(), key=lambda s: -(s.score + 0.1 * sum(h.score for h in s.hits[1:3])))
    ranked = ranked[:top_k]
    evidence = max((h.coverage for s in ranked for h in s.hits), default=0.0)
    mode = "hybrid" if index.collection is not None and not notice.startswith("dense retrieval failed") else "keyword"
    return Retrieval(query, tokens, ranked, mode, evidence, notice)
