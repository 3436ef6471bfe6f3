"""`report-qa eval` on a small file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.evaluation import EvalFileError, calibrate, evaluate, load_cases

from .conftest import ROOT

CASES = [
    {"question": "InternEvo 在 1024 张 GPU 上的 MFU 是多少？", "sections": ["2.1"], "answer_contains": ["53%"]},
    {"question": "What learning rate did SFT use?", "sections": ["4.1"], "answer_contains": ["4e-5"]},
    {"question": "条件奖励模型用了多少偏好数据对", "sections": ["4.2.1"]},
    {"question": "今天北京天气怎么样？", "sections": [], "out_of_scope": True},
    {"question": "How do I bake sourdough bread?", "sections": [], "out_of_scope": True},
]


@pytest.fixture
def eval_file(tmp_path):
    p = tmp_path / "small.jsonl"
    p.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CASES) + "\n", encoding="utf-8")
    return p


def test_metrics(answerer, eval_file):
    res = evaluate(answerer, load_cases(eval_file), k=5)
    assert res["questions"] == 5 and res["in_scope"] == 3 and res["out_of_scope"] == 2
    assert res["recall_at_k"] == 1.0 and res["mrr"] == 1.0
    assert res["oos_rejection_rate"] == 1.0 and res["false_rejection_rate"] == 0.0
    assert res["answer_contains_rate"] == 1.0
    assert 0 < res["latency_ms_p50"] <= res["latency_ms_p95"]
    assert [r["rank"] for r in res["rows"][:3]] == [1, 1, 1]


def test_recall_counts_misses(answerer, tmp_path):
    p = tmp_path / "wrong.jsonl"
    p.write_text(json.dumps({"question": "InternEvo 的 MFU", "sections": ["A.1"]}) + "\n", encoding="utf-8")
    res = evaluate(answerer, load_cases(p), k=5)
    assert res["recall_at_k"] == 0.0 and res["mrr"] == 0.0


def test_calibration_respects_false_rejection_budget(answerer, eval_file):
    saved = answerer.settings.answer_min_evidence
    cal = calibrate(answerer, load_cases(eval_file), max_false_rejection=0.0)
    assert cal["false_rejection_rate"] == 0.0 and cal["oos_rejection_rate"] == 1.0
    assert answerer.settings.answer_min_evidence == saved  # restored


def test_bad_eval_file(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"question": "ok", "sections": []}\nnot json\n', encoding="utf-8")
    with pytest.raises(EvalFileError, match="bad.jsonl:2"):
        load_cases(p)


def test_cli_eval_json(built_index, eval_file):
    env = {**os.environ, "DATA_DIR": str(built_index.data_dir), "EMBEDDING_MODEL": "none"}
    out = subprocess.run([sys.executable, "-m", "app.cli", "eval", str(eval_file), "--k", "3", "--json"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["k"] == 3 and res["recall_at_k"] == 1.0 and res["retrieval_mode"] == "keyword"
    human = subprocess.run([sys.executable, "-m", "app.cli", "eval", str(eval_file)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert "recall@5: 1.0" in human.stdout and "MRR: 1.0" in human.stdout
