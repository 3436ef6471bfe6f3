"""Whether the report answers a question at all: a logistic model over what retrieval found.

Three signals, none decisive alone, are combined by weights fitted on the development questions
(benchmarks/fit_scope.py writes scope_weights.json beside this file): how much of the question the
best-covering sentence or row holds; the plain words the report has no word for ("dropout",
"bother"); whether it asks to produce something ("帮我写一个快速排序"). The result is the
probability that the report answers it, which ANSWER_MIN_EVIDENCE thresholds.

Names the report never mentions ("Qwen2-7B"), names never found together and model sizes the
answering passage is not about stay hard rules (app/answer.py): each is certain and names its reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .retrieval import SectionHit, Weighted, coverage
from .selection import CANDIDATE_SECTIONS

WEIGHTS_FILE = Path(__file__).with_name("scope_weights.json")

# asks the bot to produce something, or how to do the user's own task, rather than what the report says
REQUEST = re.compile(r"^\s*(?:请|麻烦)?(?:你)?(?:帮我|给我|替我)?\s*(?:写|编|生成|推荐|翻译|画|讲个|来一?[首段个])|"
                     r"(?:帮我|给我|替我)[^，。？！?!]{0,12}?(?:写|编|生成|推荐|翻译|画)|"
                     r"^\s*(?:please\s+)?(?:write|generate|compose|draft|recommend|suggest|translate|draw|tell me a|"
                     r"create|make me|can you (?:write|make|recommend|generate))\b|"
                     # the user's own task, not the report: "How do I build a web page …", "我该怎么装 CUDA"
                     r"\bhow (?:do|can|should|would) i\b|我(?:该|要|应该|想)?(?:怎么|如何|怎样)", re.IGNORECASE)

# measured leave-one-set-out on the nine development sets: these three refuse as many out-of-scope
# questions (at the same false refusals) as these plus the number of unknown words, a number-holding
# unit's coverage, the weight of the known terms, the question's length, or whether its heaviest
# term is in the best unit; adding the share of words the report never uses lowers it (0.70 → 0.66)
FEATURES = ["evidence", "unknown_share", "request"]


@dataclass(frozen=True)
class ScopeSignals:
    evidence: float  # the best non-prompt unit's coverage of the question (0..1)
    # the share of the question's (idf-weighted) terms that are plain words none of whose
    # translations the report uses: "dropout" in "What dropout rate …" weighs more than "cutoff" in
    # "What length cutoff does the length-selection step use for long-context data?"
    unknown_share: float
    request: bool

    def vector(self) -> np.ndarray:
        return np.array([self.evidence, self.unknown_share, float(self.request)])


def signals(index, question: str, sections: list[SectionHit], weighted: Weighted, plain: list[str]) -> ScopeSignals:
    """What the sections retrieved for the question (its keyword ranking) say about its scope;
    `plain`: the question's plain words the report has no word for (retrieval.split_unknown)."""
    best = 0.0
    for sec in sections[:CANDIDATE_SECTIONS]:
        for i in index.units_by_section.get(sec.number, ()):
            # a prompt's lines are examples the report shows, not what it says: plain English words in
            # them ("short", "write") must not make an unrelated request look covered
            if index.units[i].kind != "code":
                best = max(best, coverage(weighted, index.unit_tokens[i]))
    missing = {u.lower() for u in plain}
    share = sum(w for g, w in zip(weighted.groups, weighted.weights) if g[0] in missing) / (weighted.total or 1.0)
    return ScopeSignals(best, share, bool(REQUEST.search(question)))


@lru_cache(maxsize=1)
def load_weights(path: str = str(WEIGHTS_FILE)) -> dict:
    """{"weights": {"bias": b, feature: w, ...}, "threshold": t, "fitted_on": [...], ...}. One model for
    both retrieval modes: every signal is lexical, judged on the keyword ranking."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def in_scope_probability(s: ScopeSignals) -> float:
    w = load_weights()["weights"]
    z = w["bias"] + float(np.array([w[f] for f in FEATURES]) @ s.vector())
    return 1.0 / (1.0 + math.exp(-z))
