"""Fit how app/selection.py combines its features, on development questions only.

For each in-scope question of the training sets, every candidate unit (sentence or table row of the
top sections) is labelled with the share of the expected facts (`answer_contains`) it states, if it
belongs to an expected section. A conditional logit (softmax over a question's candidates, soft
targets, L2) is fitted separately for hybrid and keyword retrieval. The sealed set is never read.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_selection.py \
        --hybrid-data data/fit-hybrid --keyword-data data/fit-keyword [--write]

Each data directory must hold an index of the current corpus (hybrid: built with the default model).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.answer import question_groups  # noqa: E402
from app.evaluation import load_cases  # noqa: E402
from app.index import IndexHandle  # noqa: E402
from app.retrieval import Weighted, retrieve  # noqa: E402
from app.answer import choose  # noqa: E402
from app.selection import FEATURES, SCORED, WEIGHTS_FILE, candidates, expand  # noqa: E402
from ingest.settings import Settings  # noqa: E402

# development sets: fitted on, their misses read (heldout4 and the sealed set are neither)
TRAIN_SETS = ["dev", "heldout", "heldout2", "heldout3", "train1", "train2", "train3", "train4", "train5"]
L2 = 0.05


def norm(s: str) -> str:
    return re.sub(r"\s+|\*\*|</?u>", "", s).lower()


_RETRIEVED: dict = {}


def question_data(handle: IndexHandle, case):
    """(features, targets, candidates, weighted question, facts) or None."""
    key = (str(handle.settings.data_dir), case.question)
    r = _RETRIEVED.get(key) or _RETRIEVED.setdefault(key, retrieve(handle, case.question, None, 5))
    index = handle.get()
    weighted = Weighted.of(question_groups(r), index.idf)
    cands = candidates(index, r, weighted, r.vector)
    if not cands:
        return None
    facts = [norm(a) for a in case.answer_contains]
    y = np.array([sum(f in norm(c.unit.text) for f in facts) / len(facts) if c.section.number in case.sections
                  else 0.0 for c in cands])
    return expand(np.stack([c.features for c in cands])), y, cands, weighted, facts


def set_cases(name: str):
    """The questions of benchmarks/<name>-questions.jsonl."""
    return load_cases(ROOT / "benchmarks" / f"{name}-questions.jsonl")


def collect(data_dir: Path, sets: list[str]) -> dict[str, list]:
    handle = handle_for(data_dir)
    return {name: [question_data(handle, case) for case in set_cases(name) if not case.out_of_scope and case.answer_contains]
            for name in sets}


def trainable(rows) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(d[0], d[1]) for d in rows if d is not None and d[1].sum() > 0]


def loss_grad(w: np.ndarray, data: list[tuple[np.ndarray, np.ndarray]]):
    loss, grad = L2 * w @ w, 2 * L2 * w
    for X, y in data:
        s = X @ w
        s = s - s.max()
        p = np.exp(s)
        p /= p.sum()
        t = y / y.sum()
        loss -= float(t @ np.log(p + 1e-12))
        grad -= X.T @ (t - p)
    return loss / len(data), grad / len(data)


def fit(data) -> np.ndarray:
    """Weights of a conditional logit over (features, soft targets) pairs, one pair per question."""
    res = minimize(loss_grad, np.zeros(data[0][0].shape[1]), args=(data,), jac=True, method="L-BFGS-B")
    return res.x


def top1(w: np.ndarray, rows) -> dict:
    """Share of questions whose best candidate states every expected fact, and whose chosen units
    (the answer's first line) do; what one unit could at best."""
    full = oracle = 0
    for d in rows:
        if d is None:
            continue
        X, y = d[0], d[1]
        full += y[int(np.argmax(X @ w))] >= 0.999
        oracle += y.max() >= 0.999
    n = len(rows)
    return {"questions": n, "best_unit_states_all": round(full / n, 3), "one_unit_could": round(oracle / n, 3)}


def answered(w: np.ndarray, rows, select: dict) -> float:
    """Share of questions whose chosen units together state every expected fact (any section)."""
    ok = 0
    for d in rows:
        if d is None:
            continue
        X, y, cands, weighted, facts = d
        for c, s in zip(cands, X @ w):
            c.score = float(s)
        chosen = choose(sorted(cands, key=lambda c: -c.score), weighted, select)
        text = norm(" ".join(c.unit.text for c in chosen))
        ok += all(f in text for f in facts)
    return ok / len(rows)


GRID = {"tie": [0.3, 0.5, 0.7, 0.9], "partial": [0.02, 0.05, 0.1, 0.2], "adds": [0.05, 0.1, 0.15, 0.25],
        "max_units": [2, 3]}


def fit_select(w: np.ndarray, rows) -> tuple[dict, float]:
    import itertools

    best = None
    for values in itertools.product(*GRID.values()):
        sel = dict(zip(GRID, values))
        rate = answered(w, rows, sel)
        # ties go to the shorter answers: fewer units, stricter thresholds
        key = (round(rate, 4), -sel["max_units"], sel["tie"], sel["partial"], sel["adds"])
        if best is None or key > best[0]:
            best = (key, sel, rate)
    return best[1], best[2]


def fit_arguments(weights_file: Path) -> argparse.ArgumentParser:
    """The options both fitting scripts take: an index per mode, the sets, whether to write."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--hybrid-data", type=Path, required=True, help="an index of the corpus with the default model")
    ap.add_argument("--keyword-data", type=Path, required=True, help="an index of the corpus in keyword mode")
    ap.add_argument("--sets", default=",".join(TRAIN_SETS), help="development sets to fit on (never the sealed one)")
    ap.add_argument("--write", action="store_true", help=f"write {weights_file.name}")
    return ap


def handle_for(data_dir: Path) -> IndexHandle:
    """The index in data_dir, opened with the model it was built with (none in keyword mode)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    manifest = json.loads((data_dir / "manifest.json").read_text())
    model = manifest["embedding_model"].split("@")[0] if manifest["retrieval_mode"] == "hybrid" else "none"
    return IndexHandle(Settings(data_dir=data_dir, embedding_model=model, _env_file=None))


def main() -> None:
    ap = fit_arguments(WEIGHTS_FILE)
    ap.add_argument("--cache", type=Path, help="keep retrieval results here between runs (development only)")
    args = ap.parse_args()
    if args.cache and args.cache.exists():
        import pickle

        _RETRIEVED.update(pickle.loads(args.cache.read_bytes()))
    sets = args.sets.split(",")
    result = {"features": FEATURES, "crossed": SCORED[len(FEATURES):], "fitted_on": sets, "l2": L2,
              "fitted": time.strftime("%Y-%m-%d"), "method": "conditional logit, soft targets, L-BFGS"}
    for mode, data_dir in (("hybrid", args.hybrid_data), ("keyword", args.keyword_data)):
        per_set = collect(data_dir, sets)
        # leave-one-set-out: how well weights fitted on the other sets pick the unit
        for held in sets:
            w = fit([d for s in sets if s != held for d in trainable(per_set[s])])
            print(f"{mode:7s} fit without {held:9s} → {held}: {top1(w, per_set[held])}")
        w = fit([d for s in sets for d in trainable(per_set[s])])
        for s in sets:
            print(f"{mode:7s} fit on all          → {s}: {top1(w, per_set[s])}")
        result[mode] = {k: round(float(v), 4) for k, v in zip(SCORED, w)}
        largest = sorted(result[mode].items(), key=lambda kv: -abs(kv[1]))[:12]
        print(mode, f"{len(result[mode])} weights, the largest:", ", ".join(f"{k} {v:+.2f}" for k, v in largest))
        # how many units an answer quotes, on this mode's score scale
        sel, rate = fit_select(w, [d for s in sets for d in per_set[s]])
        result.setdefault("select", {})[mode] = sel
        print(mode, "select", sel, "answers state every fact:", round(rate, 3),
              {s: round(answered(w, per_set[s], sel), 3) for s in sets})
    if args.cache:
        import pickle

        args.cache.write_bytes(pickle.dumps(_RETRIEVED))
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print("wrote", WEIGHTS_FILE)


if __name__ == "__main__":
    main()
