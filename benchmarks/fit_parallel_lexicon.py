"""Learn which Chinese words our translation uses for the English report's words.

English questions are matched against a Chinese index through `ingest/glossary.py` (hand-written)
and this table (learned). The report exists in both languages: each English sentence of the source
(../shared/reference) is paired with the Chinese sentence of the same section that the dense model
finds closest (both ways), and IBM Model 1 over those pairs gives, for each English word, the Chinese
words it is translated by. It also lists the words the English report uses at all (its vocabulary,
in dictionary form): a question word in it is something the report speaks of, even where no
rendering was learned. Only word pairs and words are kept, never sentences; the table is
`ingest/parallel_lexicon.json`, read by `keywords.query_groups` and `retrieval.unknown_names`.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_parallel_lexicon.py --data data/eval-default --write
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "reference" / "internlm2-technical-report.en.md"
OUT = ROOT / "ingest" / "parallel_lexicon.json"
# "#### 2.1 InternEvo", and the PDF conversion's list-item headings ("- 5.2.1 Comprehensive Examination …")
HEADING = re.compile(r"^(?:#+\s+([0-9A](?:\.\d+)*)\s+\S|-\s+([0-9A](?:\.\d+)*)\s+[A-Z])")
TOC_LEADER = re.compile(r"(?:\. ){3}")  # the table of contents' ". . . . 21"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(“\"])")
WORD = re.compile(r"[a-z][a-z\-]*[a-z]")
CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")


def english_sections(text: str, known: set[str]) -> dict[str, list[str]]:
    """Source sentences per section: a line belongs to the last numbered heading above it that names a
    section of our table of contents (the abstract is §0)."""
    out: dict[str, list[str]] = defaultdict(list)
    current = None
    for line in text.splitlines():
        if TOC_LEADER.search(line):
            continue
        m = HEADING.match(line)
        number = m and (m.group(1) or m.group(2))
        if number and number in known:
            current = number
            line = line.lstrip("#-").strip()[len(number):]
        elif line.startswith("### Abstract"):
            current = "0"
            continue
        elif line.startswith("### References"):
            current = None
        if current is None or line.startswith(("|", "- ", "#")) and len(line) < 40:
            continue
        for s in SENTENCE_END.split(line.strip("# ")):
            if len(WORD.findall(s.lower())) >= 4:
                out[current].append(s.strip())
    return out


def english_words(sentence: str, stop: set[str], parts: bool = False) -> list[str]:
    """Dictionary forms of the sentence's content words; with `parts`, a compound's parts too."""
    from ingest.keywords import compound_parts
    from ingest.lexicon import lemma

    words = WORD.findall(sentence.lower())
    if parts:
        words += [p for w in words for p in compound_parts(w)]
    return [lemma(w) for w in words if w not in stop and len(w) >= 3]


def aligned(sim: np.ndarray, mutual: float, one: float) -> set[tuple[int, int]]:
    """(source, translation) sentence pairs from their similarities (source × translation): each other's
    closest at `mutual` or more; or one side's closest at `one` or more (a sentence the translation
    split in two or merged with the next)."""
    best_zh, best_en = sim.argmax(1), sim.argmax(0)
    pairs = {(a, int(b)) for a, b in enumerate(best_zh)} | {(int(a), b) for b, a in enumerate(best_en)}
    return {(a, b) for a, b in pairs
            if (best_en[b] == a and best_zh[a] == b and sim[a, b] >= mutual) or sim[a, b] >= one}


def ibm1(pairs: list[tuple[list[str], list[str]]], rounds: int = 12) -> dict[str, dict[str, float]]:
    """t(target | source) by IBM Model 1 over (source words, target words) pairs, with a NULL source word."""
    t: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(lambda: 1.0))
    for _ in range(rounds):
        count: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        total: dict[str, float] = defaultdict(float)
        for en, zh in pairs:
            src = [*en, None]
            for c in zh:
                z = sum(t[e][c] for e in src)
                for e in src:
                    p = t[e][c] / z
                    count[e][c] += p
                    total[e] += p
        t = defaultdict(lambda: defaultdict(lambda: 1e-6))
        for e, cs in count.items():
            for c, v in cs.items():
                t[e][c] = v / total[e]
    return {e: dict(cs) for e, cs in t.items() if e is not None}


def main() -> None:
    import os
    import sys

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from app.index import IndexHandle
    from ingest.glossary import unit_key
    from ingest.keywords import STOPWORDS, tokenize
    from ingest.lexicon import load_cedict
    from ingest.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "eval-default")
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--min-sim", type=float, default=0.75)
    ap.add_argument("--min-one", type=float, default=0.83)
    ap.add_argument("--min-t", type=float, default=0.08)
    ap.add_argument("--dictionary-any", action="store_true")
    # a sentence's English words: each other's closest at this similarity, or one side's closest at --unit-one
    ap.add_argument("--unit-sim", type=float, default=0.80)
    ap.add_argument("--unit-one", type=float, default=0.88)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--show", default="")
    args = ap.parse_args()

    settings = Settings(data_dir=args.data, _env_file=None)
    handle = IndexHandle(settings)
    index = handle.get()
    if index.unit_own_vectors is None:
        sys.exit("this needs an index embedded with a model (hybrid)")
    en = english_sections(args.source.read_text(encoding="utf-8"), set(index.units_by_section))
    emb = handle.embeddings.embeddings
    pairs: list[tuple[list[str], list[str]]] = []
    sims = []
    unit_words: dict[str, set[str]] = defaultdict(set)  # Chinese sentence key → its source sentences' words
    for section, sentences in en.items():
        ids = [i for i in index.units_by_section.get(section, ()) if index.units[i].kind == "sentence"]
        if not ids or not sentences:
            continue
        ev = np.asarray(emb.embed_documents(sentences), dtype=np.float32)
        zv = index.unit_own_vectors[ids]
        sim = ev @ zv.T  # English × Chinese
        # the word pairs learn from close pairs; a sentence's source words come from closer ones still
        linked = aligned(sim, args.min_sim, args.min_one)
        for a, b in aligned(sim, args.unit_sim, args.unit_one):
            unit_words[unit_key(index.units[ids[b]].text)] |= set(english_words(sentences[a], STOPWORDS, parts=True))
        for a, b in sorted(linked):
            sims.append(float(sim[a, b]))
            # Latin words too, so that "PPO" aligns with the PPO in the translation (and is then left out)
            # (the sentence's own words: not the source words that ingest adds to its tokens)
            zh = [t for t in sorted(set(tokenize(index.units[ids[b]].text))) if CJK_WORD.match(t) or t.isalpha()]
            words = english_words(sentences[a], STOPWORDS)
            if zh and words:
                pairs.append((words, zh))
    print(f"{sum(map(len, en.values()))} source sentences in {len(en)} sections; {len(pairs)} aligned pairs "
          f"(similarity median {np.median(sims):.3f})")
    t = ibm1(pairs)  # t(zh | en)
    back = ibm1([(zh, en_words) for en_words, zh in pairs])  # t(en | zh)
    cedict = load_cedict().reverse
    n_en = Counter(w for en_words, _ in pairs for w in set(en_words))
    n_both = Counter((w, c) for en_words, zh in pairs for w in set(en_words) for c in set(zh))

    def kept(e: str, c: str, p: float) -> bool:
        # both directions agree (not "为了" for "annotation": 为了 is not mostly "annotation"), seen twice;
        # or seen once where the dictionary gives that rendering ("default" → 默认值)
        dictionary = any(h in c for h in cedict.get(e, ()) if len(h) >= 2)
        sure = p >= args.min_t and back.get(c, {}).get(e, 0.0) >= args.min_t
        return (sure and n_both[e, c] >= 2) or (dictionary and (sure or args.dictionary_any))

    lexicon = {}
    for e, cs in t.items():
        best = sorted(((p, c) for c, p in cs.items() if kept(e, c, p)), reverse=True)[:3]
        best = [(p, c) for p, c in best if CJK_WORD.match(c)]
        if best:
            lexicon[e] = [c for _, c in best]
    print(f"{len(lexicon)} English words with a learned rendering (of {len(n_en)} seen)")
    for w in args.show.split(","):
        if w:
            top = sorted(((p, c) for c, p in t.get(w, {}).items()), reverse=True)[:5]
            print(f"  {w} (n={n_en[w]}): {lexicon.get(w)}  ",
                  " ".join(f"{c}:{p:.2f}/{back.get(c, {}).get(w, 0):.2f}/{n_both[w, c]}" for p, c in top))
    words = sorted({w for ss in en.values() for s in ss for w in english_words(s, STOPWORDS)})
    print(f"{len(words)} words in the English report's vocabulary")
    units = {k: " ".join(sorted(ws)) for k, ws in sorted(unit_words.items()) if ws}
    print(f"{len(units)} Chinese sentences with their source's words")
    if args.write:
        table = {"renderings": dict(sorted(lexicon.items())), "vocabulary": words, "units": units}
        OUT.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
