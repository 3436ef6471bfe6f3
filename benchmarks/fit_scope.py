"""Fit app/scope.py's model of whether the report answers a question, on development questions only.

Every question of the training sets that no hard rule refuses (a name the report never mentions,
names never found together, a model size the passage is not about) is a sample: its scope signals,
and whether it is in scope. A logistic regression (L2) gives the weights; the threshold is the one
that decides the most questions right (out-of-scope refused minus in-scope refused) while at most
MAX_FALSE_REFUSALS of the in-scope ones (hard rules included) are refused. The sealed set is never read.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_scope.py --data data/fit-keyword [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.answer import extractive_answer, hard_refusal  # noqa: E402
from app.retrieval import retrieve, split_unknown, unknown_names  # noqa: E402
from app.scope import FEATURES, WEIGHTS_FILE, signals  # noqa: E402
from benchmarks.fit_selection import TRAIN_SETS, handle_for, set_cases  # noqa: E402

L2 = 0.001
MAX_FALSE_REFUSALS = 0.025  # half the 5 % the product allows: room for new questions


def sample(handle, case) -> tuple[np.ndarray | None, bool]:
    """(the question's scope signals, or None when a hard rule refuses it; whether it is in scope)."""
    r = retrieve(handle, case.question, None, 5)
    index = handle.get()
    ex = extractive_answer(r, case.question, index, handle.query_vector)  # as Answerer.stream calls it
    judged = r.keyword_sections if r.keyword_sections is not None else r.sections
    names, plain = split_unknown(case.question, unknown_names(case.question, index))
    hard = hard_refusal(r, index, ex, names)
    vec = None if hard or not ex.citations else signals(index, case.question, judged, ex.weighted, plain).vector()
    return vec, not case.out_of_scope


def collect(data_dir: Path, sets: list[str]) -> dict[str, list]:
    """Per set: a sample for every question."""
    handle = handle_for(data_dir)
    return {name: [sample(handle, case) for case in set_cases(name)] for name in sets}


def fit(rows) -> np.ndarray:
    X = np.array([np.r_[1.0, v] for v, _ in rows if v is not None])
    y = np.array([float(ok) for v, ok in rows if v is not None])

    def loss_grad(w):
        z = X @ w
        p = 1 / (1 + np.exp(-z))
        reg = L2 * (w[1:] @ w[1:])
        loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + reg
        grad = X.T @ (p - y) / len(y) + np.r_[0.0, 2 * L2 * w[1:]]
        return loss, grad

    return minimize(loss_grad, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


def probabilities(w: np.ndarray, rows) -> list[float]:
    """P(in scope) per question; 0 where a hard rule refuses."""
    return [0.0 if v is None else float(1 / (1 + np.exp(-(w[0] + w[1:] @ v)))) for v, _ in rows]


def threshold(w: np.ndarray, rows) -> float:
    """Of the thresholds that refuse at most MAX_FALSE_REFUSALS of the in-scope questions, those
    that decide the most questions right (out-of-scope ones refused minus in-scope ones refused: a
    threshold that refuses one more out-of-scope question at the price of fifteen in-scope ones is
    not better); of those, the one halfway between the likeliest out-of-scope question refused and
    the in-scope question just above it (the widest margin on both sides)."""
    p = probabilities(w, rows)
    inscope = [q for q, (_, ok) in zip(p, rows) if ok]
    oos = [q for q, (_, ok) in zip(p, rows) if not ok]
    allowed = [t for t in sorted(set(round(q + 1e-4, 4) for q in p) | {0.0})
               if sum(q < t for q in inscope) / len(inscope) <= MAX_FALSE_REFUSALS]
    refused = {t: sum(q < t for q in oos) - sum(q < t for q in inscope) for t in allowed}
    most = max(refused.values())
    same = [t for t in allowed if refused[t] == most]
    low = min(same)  # just above the likeliest out-of-scope question still refused
    # the in-scope question closest above (no out-of-scope one lies between: refusing it too would
    # have decided one more question right)
    nearest = min((q for q in inscope if q >= low), default=low)
    return round((low + nearest) / 2, 4)


def rates(w: np.ndarray, t: float, rows) -> str:
    p = probabilities(w, rows)
    ins = [q for q, (_, ok) in zip(p, rows) if ok]
    oos = [q for q, (_, ok) in zip(p, rows) if not ok]
    return (f"out of scope refused {np.mean([q < t for q in oos]) if oos else float('nan'):.3f} ({len(oos)}), "
            f"false refusals {np.mean([q < t for q in ins]):.3f} ({len(ins)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="an index of the corpus (keyword or hybrid)")
    ap.add_argument("--sets", default=",".join(TRAIN_SETS), help="development sets to fit on (never the sealed one)")
    ap.add_argument("--write", action="store_true", help=f"write {WEIGHTS_FILE.name}")
    args = ap.parse_args()
    sets = args.sets.split(",")
    per_set = collect(args.data, sets)
    for held in sets:  # leave-one-set-out: weights and threshold from the other sets
        train = [x for s in sets if s != held for x in per_set[s]]
        w = fit(train)
        print(f"fit without {held:9s} → {held}: {rates(w, threshold(w, train), per_set[held])}")
    rows = [x for s in sets for x in per_set[s]]
    w = fit(rows)
    t = threshold(w, rows)
    for s in sets:
        print(f"fit on all          → {s}: {rates(w, t, per_set[s])}")
    print("all:", rates(w, t, rows), "threshold", round(t, 4))
    weights = {"bias": round(float(w[0]), 4), **{f: round(float(v), 4) for f, v in zip(FEATURES, w[1:])}}
    print(json.dumps(weights))
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps({"weights": weights, "threshold": round(t, 4), "features": FEATURES,
                                            "fitted_on": sets, "l2": L2, "max_false_refusals": MAX_FALSE_REFUSALS,
                                            "fitted": time.strftime("%Y-%m-%d"),
                                            "method": "logistic regression, L-BFGS"}, indent=1) + "\n",
                                encoding="utf-8")
        print("wrote", WEIGHTS_FILE)


if __name__ == "__main__":
    main()
