"""Fit how app/ranking.py combines a section's features, on development questions only.

For each in-scope question of the training sets, every section of the index is a candidate, with
the expected sections as targets. The same conditional logit as fit_selection.py (softmax over a
question's candidates, L2) is fitted separately for hybrid and keyword retrieval. The sealed set is
never read. Refit fit_selection.py afterwards: its features include the section's rank.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fit_sections.py \\
        --hybrid-data data --keyword-data data/kw [--write]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.evaluation import _lang  # noqa: E402
from app.ranking import FEATURES, WEIGHTS_FILE, load_weights  # noqa: E402
from app.retrieval import retrieve  # noqa: E402
from benchmarks.fit_selection import L2, fit, fit_arguments, handle_for, set_cases  # noqa: E402


def collect(data_dir: Path, sets: list[str]) -> dict[str, list]:
    """Per set: (feature matrix over every section, targets, language) for each in-scope question."""
    handle = handle_for(data_dir)
    return {name: [row for case in set_cases(name) if not case.out_of_scope and case.sections
                   for row in [sample(handle, case)] if row[1].sum()]
            for name in sets}


def sample(handle, case) -> tuple[np.ndarray, np.ndarray, str]:
    """(features of every section, 1 for the expected ones, the question's language)."""
    r = retrieve(handle, case.question, None, 5)
    numbers = list(r.section_features)
    X = np.stack([r.section_features[n] for n in numbers])
    return X, np.array([float(n in case.sections) for n in numbers]), case.lang or _lang(case.question)


def ranks(w: np.ndarray, rows) -> dict:
    """recall@5 and MRR of the expected sections under weights w, overall and by language."""
    found: dict[str, list[int]] = {"all": [], "en": [], "zh": []}
    for X, y, lang in rows:
        order = np.argsort(-(X @ w), kind="stable")
        rank = next(k for k, j in enumerate(order) if y[j] > 0)
        found["all"].append(rank)
        found[lang].append(rank)
    return {k: f"R@5 {np.mean([r < 5 for r in v]):.3f} MRR {np.mean([1 / (r + 1) for r in v]):.3f}"
            for k, v in found.items() if v}


def main() -> None:
    args = fit_arguments(WEIGHTS_FILE).parse_args()
    sets = args.sets.split(",")
    result = {"features": FEATURES, "fitted_on": sets, "l2": L2, "fitted": time.strftime("%Y-%m-%d"),
              "method": "conditional logit over every section, L-BFGS"}
    fused = np.array([float(f == "rrf") for f in FEATURES])
    for mode, data_dir in (("hybrid", args.hybrid_data), ("keyword", args.keyword_data)):
        load_weights.cache_clear()
        per_set = collect(data_dir, sets)
        for held in sets:
            w = fit([(X, y) for s in sets if s != held for X, y, _ in per_set[s]])
            print(f"{mode:7s} {held:9s} fused: {ranks(fused, per_set[held])}")
            print(f"{mode:7s} {held:9s} fitted without it: {ranks(w, per_set[held])}")
        w = fit([(X, y) for s in sets for X, y, _ in per_set[s]])
        result[mode] = {k: round(float(v), 4) for k, v in zip(FEATURES, w)}
        print(mode, json.dumps(result[mode]))
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print("wrote", WEIGHTS_FILE)


if __name__ == "__main__":
    main()
