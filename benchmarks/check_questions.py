"""Check a question set (JSON lines) against the corpus before it is used for evaluation or fitting.

Each line: {"question", "sections": ["4.2.1", ...], "answer_contains": ["240 万", ...], "lang": "zh"|"en"}
or {"question", "sections": [], "out_of_scope": true, "lang": ...}. Every listed section must exist,
and every expected fact must appear (ignoring spaces, case and Markdown emphasis) in the text of one
of the listed sections: the extractive answer can only state what the report's text says.

    .venv/bin/python benchmarks/check_questions.py benchmarks/train1-questions.jsonl

Prints one line per problem and exits 1 if there is any. Prints no question's answer or rank.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.corpus import load_corpus  # noqa: E402


def norm(s: str) -> str:
    return re.sub(r"\s+|\*\*|</?u>", "", s).lower()


def problems(path: Path, texts: dict[str, str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append(f"{where}: not JSON ({exc})")
            continue
        if not isinstance(q, dict) or not isinstance(q.get("question"), str) or not q["question"].strip():
            out.append(f"{where}: no question")
            continue
        if norm(q["question"]) in seen:
            out.append(f"{where}: duplicate question")
        seen.add(norm(q["question"]))
        if q.get("lang") not in ("zh", "en"):
            out.append(f"{where}: lang must be \"zh\" or \"en\"")
        sections, facts = q.get("sections", []), q.get("answer_contains", [])
        if q.get("out_of_scope"):
            if sections or facts:
                out.append(f"{where}: an out-of-scope question lists no sections and no facts")
            continue
        if not sections or not all(isinstance(s, str) for s in sections):
            out.append(f"{where}: an in-scope question needs its sections, as strings")
            continue
        unknown = [s for s in sections if s not in texts]
        if unknown:
            out.append(f"{where}: no section {', '.join(unknown)} in the corpus")
            continue
        if not facts or not all(isinstance(f, str) and f.strip() for f in facts):
            out.append(f"{where}: an in-scope question needs at least one expected fact (answer_contains)")
            continue
        body = "".join(norm(texts[s]) for s in sections)
        for f in facts:
            if norm(f) not in body:
                out.append(f"{where}: {f!r} is not in the text of §{', §'.join(sections)}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = ap.parse_args(argv)
    corpus = load_corpus(args.corpus)
    texts = {s.number: f"{s.title_zh} {s.title_en}\n{s.text}" for s in corpus.sections}
    found = [p for f in args.files for p in problems(f, texts)]
    for p in found:
        print(p)
    counts = []
    for f in args.files:
        rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
        oos = sum(bool(r.get("out_of_scope")) for r in rows if isinstance(r, dict))
        en = sum(r.get("lang") == "en" for r in rows if isinstance(r, dict))
        counts.append(f"{f.name}: {len(rows)} questions, {oos} out of scope, {en} in English")
    print("\n".join(counts))
    print(f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
