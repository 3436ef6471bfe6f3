"""`report-qa eval`: recall@k, MRR, out-of-scope rejection, false rejections, latency."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .answer import Answerer


@dataclass
class Case:
    question: str
    sections: list[str]
    out_of_scope: bool = False
    answer_contains: list[str] = field(default_factory=list)
    lang: str | None = None


class EvalFileError(ValueError):
    pass


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cases.append(Case(obj["question"], list(obj.get("sections", [])), bool(obj.get("out_of_scope", False)),
                              list(obj.get("answer_contains", [])), obj.get("lang")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{n}: not a valid question line ({type(exc).__name__}: {exc})") from None
    if not cases:
        raise EvalFileError(f"{path}: no questions")
    return cases


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s).lower()


def _lang(text: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def first_line(answer: str) -> str:
    """The answer's first non-empty line: what a reader sees before any quotation."""
    return next((ln for ln in answer.splitlines() if ln.strip()), "")


def _holds(ans, text: str, facts: list[str]) -> bool | None:
    """Does `text` (the answer itself, never the citation snippets) state every expected fact?"""
    if not facts:
        return None
    return ans.answerable and all(_norm(a) in _norm(text) for a in facts)


def _rate(rows: list[dict], key: str) -> float | None:
    judged = [r for r in rows if r[key] is not None]
    return round(sum(bool(r[key]) for r in judged) / len(judged), 3) if judged else None


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def evaluate(answerer: Answerer, cases: list[Case], k: int = 5) -> dict:
    rows = []
    for case in cases:
        t = time.perf_counter()
        ans = answerer.ask(case.question, top_k=k)
        ms = (time.perf_counter() - t) * 1000
        cited = [c.section for c in ans.citations][:k]
        rank = next((i + 1 for i, s in enumerate(cited) if s in case.sections), None)
        rows.append({"question": case.question, "expected": case.sections, "out_of_scope": case.out_of_scope,
                     "answerable": ans.answerable, "cited": cited, "rank": rank, "ms": round(ms, 1),
                     "evidence": round(ans.evidence, 3),
                     "lang": case.lang or _lang(case.question),
                     "correct": _holds(ans, ans.answer, case.answer_contains),
                     "first_line_correct": _holds(ans, first_line(ans.answer), case.answer_contains)})
    inscope = [r for r in rows if not r["out_of_scope"]]
    oos = [r for r in rows if r["out_of_scope"]]
    lat = [r["ms"] for r in rows]
    return {
        "questions": len(rows), "in_scope": len(inscope), "out_of_scope": len(oos), "k": k,
        "recall_at_k": round(sum(r["rank"] is not None for r in inscope) / len(inscope), 3) if inscope else None,
        "mrr": round(sum(1 / r["rank"] for r in inscope if r["rank"]) / len(inscope), 3) if inscope else None,
        "oos_rejection_rate": round(sum(not r["answerable"] for r in oos) / len(oos), 3) if oos else None,
        "false_rejection_rate": round(sum(not r["answerable"] for r in inscope) / len(inscope), 3) if inscope else None,
        "answer_contains_rate": _rate(inscope, "correct"),
        "first_line_contains_rate": _rate(inscope, "first_line_correct"),
        "by_lang": {lang: {"in_scope": len(sub),
                           "recall_at_k": round(sum(r["rank"] is not None for r in sub) / len(sub), 3),
                           "answer_contains_rate": _rate(sub, "correct"),
                           "first_line_contains_rate": _rate(sub, "first_line_correct")}
                    for lang in sorted({r["lang"] for r in inscope})
                    for sub in [[r for r in inscope if r["lang"] == lang]]},
        "latency_ms_p50": round(pct(lat, 0.5), 1), "latency_ms_p95": round(pct(lat, 0.95), 1),
        "retrieval_mode": answerer.handle.get().retrieval_mode, "generation_mode": answerer.generation_mode,
        "rows": rows,
    }


def calibrate(answerer: Answerer, cases: list[Case], max_false_rejection: float = 0.05) -> dict:
    """Pick the evidence threshold that rejects the most out-of-scope questions while keeping
    false rejections of in-scope questions at or below `max_false_rejection`."""
    saved = answerer.settings.answer_min_evidence
    answerer.settings.answer_min_evidence = -1.0
    try:
        ev = [(answerer.ask(c.question).evidence, c.out_of_scope) for c in cases]
    finally:
        answerer.settings.answer_min_evidence = saved
    inscope = sorted(e for e, oos in ev if not oos)
    oos = [e for e, o in ev if o]
    best = None
    for t in sorted({round(e + 0.005, 3) for e, _ in ev} | {0.0}):
        fr = sum(e < t for e in inscope) / max(1, len(inscope))
        rej = sum(e < t for e in oos) / max(1, len(oos))
        if fr <= max_false_rejection and (best is None or rej > best["oos_rejection_rate"]
                                          or (rej == best["oos_rejection_rate"] and t < best["threshold"])):
            best = {"threshold": t, "oos_rejection_rate": round(rej, 3), "false_rejection_rate": round(fr, 3)}
    best["in_scope_evidence_p10"] = round(pct(inscope, 0.1), 3)
    best["out_of_scope_evidence_max"] = round(max(oos), 3) if oos else None
    return best


def summary_lines(res: dict) -> list[str]:
    return [
        f"{res['questions']} questions ({res['in_scope']} in scope, {res['out_of_scope']} out of scope); "
        f"retrieval={res['retrieval_mode']}, generation={res['generation_mode']}",
        f"recall@{res['k']}: {res['recall_at_k']}   MRR: {res['mrr']}",
        f"out-of-scope rejected: {res['oos_rejection_rate']}   false rejections: {res['false_rejection_rate']}",
        f"answers containing the expected facts: {res['answer_contains_rate']}   "
        f"in the first line: {res['first_line_contains_rate']}",
        "by language: " + ", ".join(f"{lang} ({v['in_scope']}) recall {v['recall_at_k']} answer {v['answer_contains_rate']}"
                                    f" first line {v['first_line_contains_rate']}" for lang, v in res["by_lang"].items()),
        f"latency p50 {res['latency_ms_p50']} ms, p95 {res['latency_ms_p95']} ms",
    ]
