"""Hybrid retrieval: BM25 over jieba tokens + dense vectors from Chroma, fused by reciprocal rank,
grouped by section. Falls back to keyword-only when the index or app has no embedding model."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ingest.keywords import (CJK, SINGLE_CHAR_TERMS, STOPWORDS, compound_parts, hint_tokens, is_zh_noun, query_groups,
                             tokenize)
from ingest.glossary import source_vocabulary
from ingest.lexicon import lemma, uncovered, variants
from ingest.units import ROW_IMPLIED

from .index import IndexHandle, LoadedIndex, derived
from .ranking import RRF_K, section_features, section_info, section_scores

CANDIDATES = 30
# follow-ups that lean on the previous question: "那 20B 的呢？", "what about the 7B model?"
ANAPHORA = re.compile(r"^(那|那么|它|它们|这个|那个|这些|其|还有|再|and |what about|how about|and the)|呢[？?]?$",
                      re.IGNORECASE)


# a model size as the report writes it ("7B", "1.8B", "20 B"; not the "7B" of "8x7B"); group 1 is the number
MODEL_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?[Bb](?![A-Za-z])")


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
    evidence: float  # strength of the best match, 0..1
    notice: str = ""
    keyword_sections: list[SectionHit] | None = None  # the BM25 ranking alone (same as sections in keyword mode)
    vector: np.ndarray | None = None  # the query's embedding (hybrid mode), reused to rank answer units
    fused: list[str] = field(default_factory=list)  # sections in the fused (RRF) order, before re-ranking
    groups: list[list[str]] = field(default_factory=list)  # the query's term groups, as widened for this index
    section_features: dict[str, np.ndarray] = field(default_factory=dict)  # app/ranking.py, for fitting


def retrieval_query(question: str, history: list[dict] | None) -> str:
    """With the previous user question when this one is a follow-up: it points back ("那 20B 的呢？",
    "Why does InternLM2 use it?") or asks one bare thing ("用了多少数据？"). A follow-up that only swaps
    a size or a count ("那 7B 的呢？", "And with 8 GPUs?") asks the previous question with it swapped."""
    if not history:
        return question
    prev = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not prev:
        return question
    if len(prev) > 1:  # the previous question as it was understood: "MATH 呢？" after "那 7B 的呢？"
        prev = [retrieval_query(prev[-1], [{"role": "user", "content": p} for p in prev[-4:-1]])]
    groups = query_groups(question)
    bare = len(groups) <= 1 and not ENTITY.search(question)
    if not (ANAPHORA.search(question.strip()) or POINTS_BACK_EN.search(question) or bare):
        return question
    previous = swapped(prev[-1], question)
    if previous != prev[-1]:
        said = set(tokenize(previous))
        if all(any(t in said for t in g) for g in groups):
            return previous  # nothing asked beyond the swap
    return f"{previous} {question}"


# a pronoun anywhere that stands for what the previous question named (not "they": the authors)
POINTS_BACK_EN = re.compile(r"\b(?:it|its|this|these|those)\b", re.IGNORECASE)
# a count and what it counts: "1024 张 GPU", "8 GPUs", "7B"
COUNT = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s?([A-Za-z]+|[\u4e00-\u9fff])")


def swapped(previous: str, question: str) -> str:
    """The previous question with the follow-up's count put in place of the one of the same kind:
    "InternLM2-Chat-7B 在 GSM8K 上…" + "那 20B 的呢？"; "… on 1024 GPUs?" + "And with 8 GPUs?"."""
    sizes = [m.group(0) for m in MODEL_SIZE.finditer(question)]
    if len(sizes) == 1:
        return MODEL_SIZE.sub(sizes[0], previous)
    counts = [(m.group(1), m.group(2).lower().rstrip("s")) for m in COUNT.finditer(question)]
    if len(counts) == 1:
        number, unit = counts[0]
        return COUNT.sub(lambda m: f"{number} {m.group(2)}" if m.group(2).lower().rstrip("s") == unit else m.group(0),
                         previous)
    return previous


ENTITY = re.compile(r"[A-Za-z][A-Za-z0-9.\-]*\d[A-Za-z0-9.\-]*|[A-Za-z]*[A-Z][a-z]*[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)*")
_FOLD = re.compile(r"[-_.\s]")
ADJECTIVE_TAILS = {"based", "like", "style", "type", "level", "wise", "only", "free", "aware", "specific", "related",
                   "oriented", "scale", "sized", "size", "series", "family", "compatible"}


# a name's variant the report may not name ("BERT-large" of BERT), a metric at k ("pass@10"); not a
# name made an adjective ("RLHF-trained", "SFT-tuned"; "-based", "-like": ADJECTIVE_TAILS)
VARIANT = re.compile(r"\b[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?:-(?![a-z]+(?:ed|ing)\b)[a-z][a-z0-9]*)+\b|\b[a-z]+@\d+\b")


def names_in(question: str) -> list[str]:
    """The names a question writes: models, acronyms, versioned things ("Qwen2-7B", "SFT", "BERT-large")."""
    return [m.group(0) for m in ENTITY.finditer(question)] + [m.group(0) for m in VARIANT.finditer(question)]


def split_unknown(question: str, unknown: list[str]) -> tuple[list[str], list[str]]:
    """unknown_names(question) as (names: "Qwen2-7B", "LoRA"; plain words: "dropout", "小时")."""
    names = set(names_in(question))
    return [u for u in unknown if u in names], [u for u in unknown if u not in names]


EXAMPLE_AFTER = re.compile(r"^[^，。？?；;]{0,12}?(?:这类|这样的|之类|一类|等)")
EXAMPLE_BEFORE = re.compile(r"(?:such as|like|e\.g\.,?|例如|比如|像|诸如)\s*(?:[\w.\-]+\s*[,、/]\s*)*$", re.IGNORECASE)


def given_as_example(name: str, question: str) -> bool:
    """"README、文档这类非代码文件", "files such as README": an example of what is asked about, which the
    report may not name while it answers (it says "Markdown 文件和其他文档")."""
    at = question.find(name)
    return at >= 0 and bool(EXAMPLE_AFTER.match(question[at + len(name):]) or EXAMPLE_BEFORE.search(question[:at]))


def _variant_parts(index: LoadedIndex) -> frozenset[str]:
    """What the report's model names add to its subject ("InternLM2-Chat-20B-SFT": chat, 20b, sft) and
    the model sizes it names ("1.8B 模型"): "InternLM2-Math" is no model of the report's."""
    def build() -> frozenset[str]:
        named = {_FOLD.sub("", p) for t in index.idf for s in SUBJECT if t.startswith(s + "-") for p in t.split("-")[1:]}
        sizes = {_FOLD.sub("", t) for t in index.idf if MODEL_SIZE.fullmatch(t)}
        # the stage its chat models are named after, as §1 names it ("RLHF 前后两个阶段的模型")
        return frozenset(named | sizes | {"rlhf"})

    return derived(index, "_variant_parts", build)


def unknown_names(question: str, index: LoadedIndex) -> list[str]:
    """Names in the question (models, acronyms, versioned things: "Qwen2-7B", "LoRA", "Llama 3")
    that the report never mentions, and nouns it has no word for: English ones with no translation
    in it ("dropout"), Chinese ones whose meanings it never renders ("小时"), see ingest/lexicon.py.
    If the report never names it, it cannot answer about it."""
    if index.folded_vocab is None:
        vocab = set()
        for t in index.idf:
            parts = [p for p in re.split(r"[-_./]", t) if p]
            # every run of consecutive parts: "internlm2-chat-7b" also covers "chat-7b"
            for i in range(len(parts)):
                for j in range(i + 1, len(parts) + 1):
                    vocab.add("".join(parts[i:j]))
        index.folded_vocab = vocab
    from ingest.glossary import GLOSSARY

    out = []
    groups = query_groups(question)
    candidates = names_in(question)
    candidates += [g[0] for g in groups if re.fullmatch(r"[a-z]+\d(?:\.\d)?", g[0])]
    seen: set[str] = set()
    for name in candidates:
        key = _FOLD.sub("", name.lower()).rstrip("s")
        if len(key) < 2 or key.isdigit() or key in seen or given_as_example(name, question):
            continue
        seen.add(key)
        if key in index.folded_vocab or key + "s" in index.folded_vocab:
            continue
        # "InternLM2-1.8B", "InternLM2-Chat-1.8B": the report's subject in a variant whose every part
        # it names ("1.8B 模型") is one of its models, whether or not it writes the whole name
        subject, _, variant = name.lower().partition("-")
        if subject in SUBJECT and variant and all(_FOLD.sub("", p) in _variant_parts(index) for p in variant.split("-")):
            continue
        # "cl100k-based", "LLaMA-like": a known name made an adjective is not a new name
        head, _, tail = name.lower().rpartition("-")
        if head and tail in ADJECTIVE_TAILS and _FOLD.sub("", head) in index.folded_vocab:
            continue
        # an abbreviation the glossary explains ("RM" → 奖励模型) is not an unknown name
        if any(t in index.idf for term in GLOSSARY.get(name.lower(), []) for t in tokenize(term)):
            continue
        out.append(name)
    # a plain English noun none of whose dictionary translations occurs in the report
    # ("dropout", "license", "bread"), and that the English report never uses either ("libraries" is
    # in it, rendered 库); words the dictionary does not know are left to the evidence score
    vocabulary = source_vocabulary()
    verbs = question_verbs(question)
    for g in groups:
        word = g[0]
        if (re.fullmatch(r"[a-z][a-z\-]{2,}", word) and not any(t in index.idf for t in g)
                and not is_phrasing(word) and word not in verbs and lemma(word) not in vocabulary
                and uncovered(word, index.lexicon, index.phrase_only)
                and not any(_FOLD.sub("", word) in _FOLD.sub("", n.lower()) for n in out)):
            out.append(word)
        # a Chinese noun the report never uses, none of whose meanings it renders (小时, 钱, 天气)
        elif CJK.fullmatch(word) and word in index.chinese_uncovered and not any(t in index.idf for t in g) \
                and is_zh_noun(word):
            out.append(word)
    return out


NAME_TOKEN = re.compile(r"^(?=.*[a-z])(?=.*\d)")  # "gpt-4", "1.8b", "qwen-14b", "gsm8k", "32k"
# words that say what kind of answer is wanted ("difference", "区别"), not what it is about
ASKS_FOR = set("区别 差别 差异 不同 对比 比较 相比 异同 关系 之间 difference differences compare comparison "
               "compared versus between".split()) | set(ROW_IMPLIED.split())  # a result is what a passage naming them gives


def _has_name(name: str, parts: list[str], tokens: set[str]) -> bool:
    """"internlm2-7b" is in a table row "7B" captioned InternLM2 (its parts), but "qwen-14b" is not in
    a passage that only has "qwen-14b-chat", another model."""
    if name in tokens:
        return True
    return bool(parts) and all(p in tokens for p in parts) and not any(t.startswith(name + "-") for t in tokens)


def content_groups(question: str, index: LoadedIndex) -> list[list[str]]:
    """The question's term groups that say what it is about: known to the report, neither phrasing
    ("reach") nor the kind of answer it wants ("区别")."""
    return [g for g in query_groups(question)
            if any(t in index.idf for t in g) and not is_phrasing(g[0]) and g[0] not in ASKS_FOR]


VERSION = re.compile(r"v\d+(?:\.\d+)*")


def never_together(question: str, index: LoadedIndex) -> list[str]:
    """Terms of the question that no passage of the report has together: its names ("1.8B" +
    "GSM8K"), or its names with everything else it asks ("GPT-4" + "参数"). Each is in the report,
    the combination is not, so neither is the answer. [] when some passage has them."""
    groups = content_groups(question, index)
    anchors: list[tuple[str, list[str]]] = []
    targets: list[tuple[str, set[str]]] = []
    for g in groups:
        if g[0] in SUBJECT:  # every passage is about the report's subject, named or not (§3.2.1's 词表)
            continue
        if VERSION.fullmatch(g[0]):  # "AlpacaEval v2": a version qualifies the name before it
            continue
        if NAME_TOKEN.match(g[0]):
            parts = compound_parts(g[0])  # not "gpt" + "4": every part must itself be a name
            anchors.append((g[0], parts if all(len(p) >= 2 and re.search(r"[a-z]", p) for p in parts) else []))
        else:  # "gaokao-bench" is also the header "GAOKAO"
            targets.append((g[0], {*g, *(p for t in g for p in compound_parts(t) if len(p) >= 4 and p in index.idf)}))
    if not anchors or not targets:
        return []
    sizes = [a for a in anchors if MODEL_SIZE.fullmatch(a[0])]
    if len(sizes) > 1:  # "1.8B、7B、20B 在 GSM8K 上各是多少": each size is asked on its own (a row each)
        others = [a for a in anchors if a not in sizes]
        if any(not _apart([*others, size], targets, index) for size in sizes):
            return []
    return _apart(anchors, targets, index)


def _apart(anchors: list[tuple[str, list[str]]], targets: list[tuple[str, set[str]]], index: LoadedIndex) -> list[str]:
    with_names = [toks for toks in index.chunk_tokens if all(_has_name(n, parts, toks) for n, parts in anchors)]
    if not with_names and len(anchors) > 1:
        return [n for n, _ in anchors]
    if any(alts & toks for toks in with_names for _, alts in targets):
        return []
    return [n for n, _ in anchors] + [n for n, _ in targets]


def group_weight(group: list[str], idf: dict[str, float], top: float | None = None) -> float:
    """A group weighs as its rarest known member. A term the report never uses weighs like the
    rarest term (it is likely what the question is about: "dropout", "天气"), unless it only
    phrases the question ("reach", "反而"), which weighs less."""
    known = [idf[t] for t in group if t in idf]
    if known:  # "What MFU does InternEvo reach?": the verb of a result says nothing of what it is
        return max(known) * (PHRASING_WEIGHT if group[0] in RESULT_VERBS else 1.0)
    top = top if top is not None else max(idf.values(), default=1.0)
    return top * (PHRASING_WEIGHT if is_phrasing(group[0]) else 1.0)


# the report's subject: every passage is about it unless it names another model ("InternLM2-7B" is
# a name; "InternLM2" alone tells no passage from another)
SUBJECT = {"internlm2"}
RESULT_VERBS = set("reach reaches reached achieve achieves achieved attain attains attained get gets got "
                   "obtain obtains obtained".split())
PHRASING_WEIGHT = 0.3  # measured: raises the weakest in-scope evidence, leaves out-of-scope scores as they were
EN_PHRASING = re.compile(r"^[a-z]+(ed|ing|ly|est)$")
ZH_PHRASING_POS = ("v", "d", "p", "c", "u", "r", "m", "q", "f", "t", "a", "z", "y", "e", "o")


def is_phrasing(term: str) -> bool:
    """An unknown word that only phrases the question (a verb, adverb, particle: "reach", "converted",
    "只训", "反而") rather than naming its topic (a noun: "dropout", "license", "天气")."""
    if CJK.search(term):
        import jieba.posseg  # noqa: PLC0415 (loaded on first unknown Chinese word only)

        tags = [p.flag for p in jieba.posseg.lcut(term)]
        return bool(tags) and all(f.startswith(ZH_PHRASING_POS) for f in tags)
    return bool(EN_PHRASING.match(term)) or term in EN_PHRASING_WORDS


# "deal with", "cope with", "struggle with", "come up with": a word that can be a verb, before its particle
PHRASAL = re.compile(r"\b([a-z]+)\s+(?:with|up|out|off|away|through)\b", re.IGNORECASE)
# "How does InternLM2 fare on …", "What does the license say?", "does the code interpreter hurt
# InternLM2's performance": after the auxiliary and its subject (one to four words), the bare verb,
# just before a preposition, its object (a determiner or a name) or the end of the clause
AFTER_AUX = re.compile(r"\b(?i:does|do|did|can|could|will|would|should)\s+((?:[\w.\-]+\s+){1,4}?)([A-Za-z]+)"
                       r"(?=\s+(?i:on|in|at|against|for|to|by|under|over|across|from|into|versus|vs|the|a|an|its|their)\b"
                       r"|\s+[A-Z]|\s*(?:[?？.!,;]|$))")
DETERMINERS = {"a", "an", "the", "this", "that", "these", "those", "its", "their", "any", "some", "each", "every"}


def question_verbs(question: str) -> set[str]:
    """Words the question uses as its verb ("How does COOL RLHF deal with reward hacking?", "How does
    InternLM2 fare on long-context benchmarks?"): they phrase the question, whether or not the
    dictionary also has them as nouns ("a deal", "the fare")."""
    from lemminflect import getAllLemmas  # noqa: PLC0415

    verbs = {w for w in (m.group(1).lower() for m in PHRASAL.finditer(question)) if "VERB" in getAllLemmas(w)}
    for m in AFTER_AUX.finditer(question):
        before, word = m.group(1).split(), m.group(2).lower()
        if before[-1].lower() not in DETERMINERS and word in getAllLemmas(word).get("VERB", ()):
            verbs.add(word)  # the bare form: "does … fare", not "does … the fare"
    return verbs


EN_PHRASING_WORDS = set(
    "reach reaches beat beats put puts went come comes go add adds set sets get gets use make take give "
    "keep show tell mean need want try call pass fit fix lower higher larger smaller bigger longer shorter "
    "better worse best worst most least much many more less new old same different initial final exact "
    "besides instead roughly about around overall total main core whole entire actual real "
    # where in the report the answer stands, or what kind of thing it is, not what it is about
    "column columns row rows cell cells caption chart bucket buckets vanilla plain "
    # who is asked about, as "who" asks it
    "person persons people someone anyone everyone everybody".split())


@dataclass(frozen=True)
class Weighted:
    """A question's term groups with their weights, computed once per question."""
    groups: list[list[str]]
    weights: list[float]

    @property
    def total(self) -> float:
        return self._total

    def __post_init__(self):
        # token → the groups it belongs to, so a coverage is one set intersection
        where: dict[str, list[int]] = {}
        for k, g in enumerate(self.groups):
            for t in g:
                where.setdefault(t, []).append(k)
        object.__setattr__(self, "_where", where)
        object.__setattr__(self, "_terms", frozenset(where))
        object.__setattr__(self, "_total", math.fsum(self.weights))

    def without(self, drop: Callable[[list[str]], bool]) -> "Weighted":
        """The same groups with their weights, less those `drop(group)` holds for."""
        keep = [(g, w) for g, w in zip(self.groups, self.weights) if not drop(g)]
        return Weighted([g for g, _ in keep], [w for _, w in keep])

    @classmethod
    def of(cls, groups: list[list[str]], idf: dict[str, float]) -> "Weighted":
        top = max(idf.values(), default=1.0)
        about_more = any(g[0] not in SUBJECT for g in groups)  # "InternLM2 是什么？" is about the subject
        return cls(groups, [0.0 if about_more and g[0] in SUBJECT else group_weight(g, idf, top) for g in groups])


def coverage(q: Weighted, chunk_tokens: set[str]) -> float:
    """Share of the question's (idf-weighted) term groups that occur in a chunk or sentence."""
    if not q._total:
        return 0.0
    found = q._terms & chunk_tokens if len(chunk_tokens) > len(q._terms) else chunk_tokens & q._terms
    hit = {k for t in found for k in q._where[t]}
    # fsum: the same value whatever order the set gives (string hashing differs between processes,
    # and a last-bit difference between two equal coverages changed which unit ranked first)
    return math.fsum(q.weights[k] for k in hit) / q._total


def retrieve(handle: IndexHandle, question: str, history: list[dict] | None = None,
             top_k: int = 5) -> Retrieval:
    index: LoadedIndex = handle.get()
    query = retrieval_query(question, history)
    groups = term_groups(query, index)
    # BM25 also gets the parts of compounds ("internlm2-chat-7b" → "chat", "7b")
    tokens = list(dict.fromkeys([*tokenize(query), *(t for g in groups for t in g), *hint_tokens(query)]))
    # coverage is judged on the question itself (with the previous one for a follow-up): `groups`
    hits: dict[int, Hit] = {}

    if tokens:
        scores = np.asarray(index.bm25.get_scores(tokens))
        order = np.argsort(-scores)[:CANDIDATES]
        for rank, i in enumerate(order):
            if scores[i] <= 0:
                break
            hits[int(i)] = Hit(index.chunks[i], 1.0 / (RRF_K + rank + 1), bm25_rank=rank)

    # keyword-only by design is reported by the status line; a notice here means degradation
    notice = index.notice if index.manifest.retrieval_mode == "hybrid" else ""
    vec = None
    if index.collection is not None:
        try:
            vec = handle.query_vector(dense_query(query, groups))
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

    q_weighted = Weighted.of(groups, index.idf)
    for i, h in hits.items():
        h.coverage = coverage(q_weighted, index.chunk_tokens[i])
        # reward chunks that contain most of the question's rare terms (numbers, model names)
        h.score += 0.02 * h.coverage

    mode = "hybrid" if index.collection is not None and not notice.startswith("dense retrieval failed") else "keyword"
    fused = _by_section(hits.values(), len(hits))
    ranked, features = _rerank(index, fused, q_weighted, vec if mode == "hybrid" else None, query, mode, top_k)
    # the keyword ranking alone, for the out-of-scope decision: lexical evidence is judged on the
    # passages the question's words find, so the calibrated threshold holds whatever the dense model
    keyword = _by_section(
        [Hit(h.chunk, 1.0 / (RRF_K + h.bm25_rank + 1) + 0.02 * h.coverage, h.bm25_rank, coverage=h.coverage)
         for h in hits.values() if h.bm25_rank is not None], top_k)
    evidence = max((h.coverage for s in ranked for h in s.hits), default=0.0)
    return Retrieval(query, tokens, ranked, mode, evidence, notice, keyword, vec if mode == "hybrid" else None,
                     fused=[s.number for s in fused], section_features=features, groups=groups)


def term_groups(text: str, index: LoadedIndex, asked: str | None = None) -> list[list[str]]:
    """The terms of `text` (a question, or one part of it) as groups of alternatives: each word with
    the renderings the glossary and lexicon give it, a dictionary's for English words nothing else
    renders (when `asked`, the whole question, is English), the words a single character stands for,
    and the known parts of terms the index never saw."""
    groups = with_dictionary(query_groups(text), index.lexicon, asked or text)
    return sizes_as_one(with_known_parts(widen_single_characters(groups, index.idf), index))


def sizes_as_one(groups: list[list[str]]) -> list[list[str]]:
    """"1.8B、7B、20B 在 GSM8K 上各是多少": the sizes are alternatives, one slot of the question (a row
    names one), not three terms a sentence naming all three ("1.8B、7B 和 20B 模型预训练…") holds."""
    at = [k for k, g in enumerate(groups) if MODEL_SIZE.fullmatch(g[0])]
    if len(at) < 2:
        return groups
    merged = list(dict.fromkeys(t for k in at for t in groups[k]))
    return [merged if k == at[0] else g for k, g in enumerate(groups) if k == at[0] or k not in at]


def dense_query(query: str, groups: list[list[str]]) -> str:
    """The text the dense model embeds: an English question with the Chinese terms the report uses
    for its words ("reward model" → 奖励模型), so it meets the Chinese text halfway."""
    if CJK.search(query):
        return query
    zh = list(dict.fromkeys(t for g in groups for t in g[1:] if CJK.fullmatch(t)))
    return f"{query} ({' '.join(zh)})" if zh else query


def with_dictionary(groups: list[list[str]], lexicon: dict[str, list[str]], question: str) -> list[list[str]]:
    """In an English question, a word that neither the glossary nor the learned lexicon renders
    ("weighting") also matches the first translations a general dictionary gives for it that the
    report uses (加权). Not in a Chinese one: its Latin words are names and terms ("token")."""
    if CJK.search(question):
        return groups
    out = []
    for g in groups:
        if len(g) == 1 and g[0].isascii() and g[0].isalpha():
            found = next((lexicon[v] for v in variants(g[0]) if lexicon.get(v)), [])
            g = [*g, *found[:DICTIONARY_RENDERINGS]]
        out.append(g)
    return out


DICTIONARY_RENDERINGS = 2  # the longest two: 加权 and 权重 for "weighting", not every sense


CLASSIFIER = re.compile(r"^[道个条项种篇次每各该此]")


def with_known_parts(groups: list[list[str]], index: LoadedIndex) -> list[list[str]]:
    """A term the index has never seen also matches its parts that it has: "MT-Bench" → mtbench, "pre-RLHF" → rlhf,
    "绝对值" → 绝对, "道题" / "每题" → 题 (a classifier before the noun). Not a word whose meanings
    the report never renders (天气 stays unknown: 天 is not the weather)."""
    idf = index.idf
    out = []
    for g in groups:
        head = g[0]
        if any(t in idf for t in g) or head in index.chinese_uncovered:
            out.append(g)
            continue
        parts: list[str] = []
        if CJK.fullmatch(head) and len(head) >= 2:
            rest = CLASSIFIER.sub("", head)
            if rest != head and rest in idf:
                parts = [rest]
            else:  # the longest known pieces of two or more characters
                for n in range(len(head) - 1, 1, -1):
                    parts = [head[i:i + n] for i in range(len(head) - n + 1) if head[i:i + n] in idf]
                    if parts:
                        break
        elif re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", head):
            joined = head.replace("-", "")
            if joined in idf:  # "MT-Bench" is the report's MTBench: that term, written as the report does
                out.append([joined, *g])
                continue
            parts = [p for p in compound_parts(head) if len(p) >= 3 and p in idf and p not in STOPWORDS]
        out.append([*g, *parts] if parts else g)
    return out


def widen_single_characters(groups: list[list[str]], idf: dict[str, float]) -> list[list[str]]:
    """"几层" asks for 层, which the report writes inside words (层数 $n_{layers}$): a one-character
    term also matches the report's two-character words that begin with it."""
    out = []
    for g in groups:
        if len(g) == 1 and len(g[0]) == 1 and g[0] in SINGLE_CHAR_TERMS:
            words = sorted((t for t in idf if len(t) == 2 and t[0] == g[0] and CJK.fullmatch(t)), key=lambda t: idf[t])
            g = [*g, *words[:WIDEN]]
        out.append(g)
    return out


WIDEN = 3  # the most frequent ones: 层数, not every rare compound


def _rerank(index: LoadedIndex, fused: list[SectionHit], q: Weighted, vec: np.ndarray | None, query: str,
            mode: str, top_k: int) -> tuple[list[SectionHit], dict[str, np.ndarray]]:
    """Every section scored by the fitted section model (app/ranking.py); the top_k, best first. A
    section none of whose chunks was retrieved can still rank by its sentences and title."""
    seen = {s.number: {"rrf": s.score, "rank": k, "coverage": max(h.coverage for h in s.hits),
                       "bm25_rank": min((h.bm25_rank for h in s.hits if h.bm25_rank is not None), default=None),
                       "dense_rank": min((h.dense_rank for h in s.hits if h.dense_rank is not None), default=None)}
            for k, s in enumerate(fused)}
    numbers, X, best_unit = section_features(index, seen, lambda toks: coverage(q, toks), vec, query,
                                             {t for g in q.groups for t in g})
    scores = section_scores(X, mode)
    by_number = {s.number: s for s in fused}
    out = []
    for j in np.argsort(-scores, kind="stable")[:top_k]:
        s = by_number.get(numbers[j])
        if s is None:
            u = best_unit[j]
            ci = index.by_id.get(index.units[u].chunk) if u >= 0 else None
            ci = ci if ci is not None else section_info(index).any_chunk[j]
            c = index.chunks[ci]
            s = SectionHit(numbers[j], c["title_zh"], c["title_en"], c["path"], 0.0,
                           [Hit(c, 0.0, coverage=coverage(q, index.chunk_tokens[ci]))])
        s.score = float(scores[j])
        out.append(s)
    return out, dict(zip(numbers, X))


def _by_section(hits, top_k: int) -> list[SectionHit]:
    """Group chunk hits by section; a section ranks by its best chunk (measured: adding its other
    chunks' scores, or preferring deeper sections, lowered MRR on both question sets)."""
    by_section: dict[str, SectionHit] = {}
    for h in sorted(hits, key=lambda h: -h.score):
        c = h.chunk
        s = by_section.get(c["section"])
        if s is None:
            s = by_section[c["section"]] = SectionHit(c["section"], c["title_zh"], c["title_en"], c["path"],
                                                      h.score)
        s.hits.append(h)
    return sorted(by_section.values(), key=lambda s: -s.score)[:top_k]
