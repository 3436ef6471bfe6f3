"""`make bench` end to end on three questions: the tiny local model, in-process ingest, no server."""

from __future__ import annotations

import json

from benchmarks import bench


def test_bench_runs_on_three_questions(tiny_model, tmp_path):
    out = tmp_path / "bench.json"
    res = bench.main(["--model", str(tiny_model), "--sets", "dev", "--questions", "3", "--requests", "8",
                      "--no-server", "--in-process", "--data-root", str(tmp_path / "data"), "--out", str(out),
                      "--quiet"])
    assert json.loads(out.read_text("utf-8"))["questions"] == 3
    assert SEALED_NOT_USED(res)
    dev = res["quality"]["dev"]["all"]
    for name in [*bench.OURS, *bench.RECIPES]:
        m = dev[name]
        assert m["in_scope"] == 3
        assert 0 <= m["recall_at_1"] <= m["recall_at_5"] <= 1 and 0 <= m["mrr"] <= 1
        assert res["retrieval"][name]["1"]["requests"] == 3 and res["retrieval"][name]["8"]["requests"] >= 3
    assert dev["ours-hybrid"]["answer_contains_rate"] is not None
    ing = res["ingest"]
    assert ing["ours-keyword"]["cold"]["embedded"] == 0
    assert ing["ours-hybrid"]["cold"]["embedded"] == ing["ours-hybrid"]["cold"]["chunks"] > 0
    assert ing["ours-hybrid"]["no_change"]["embedded"] == 0 and not ing["ours-hybrid"]["no_change"]["index_changed"]
    assert 1 <= ing["ours-hybrid"]["one_section_edit"]["embedded"] < ing["ours-hybrid"]["cold"]["chunks"]
    assert ing["recipe-a"]["cold"]["embedded"] == ing["recipe-a"]["cold"]["chunks"] > 0
    # every figure of ours stands next to each recipe's
    assert res["ratios"]["dev all (3) MRR"].keys() == {f"{o}/{r}" for o in bench.OURS for r in bench.RECIPES}
    table = bench.table(res)
    assert "hybrid vs (c)" in table and "dev zh" in table


def SEALED_NOT_USED(res: dict) -> bool:  # noqa: N802
    return bench.SEALED not in res["question_sets"] and all(bench.SEALED not in p.name for p in bench.question_sets())
