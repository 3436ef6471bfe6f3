"""`report-qa ingest`: modes, incremental updates, crash safety, locking, offline behaviour."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.index import IndexHandle
from app.retrieval import retrieve
from ingest.corpus import CorpusError
from ingest.embeddings import load_embeddings
from ingest.pipeline import run_ingest
from ingest.store import IngestBusy, ingest_lock, read_manifest

from .conftest import ROOT


def _edit(corpus: Path, file: str, old: str, new: str) -> None:
    p = corpus / file
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_keyword_only_index(make_settings):
    s = make_settings()
    r = run_ingest(s)
    assert r.retrieval_mode == "keyword" and r.embedding_model is None
    assert r.sections == 45 and r.chunks > 100 and r.embedded == 0 and r.added == r.chunks
    m = read_manifest(s.data_dir)
    assert m.version == r.version and m.retrieval_mode == "keyword"
    hit = retrieve(IndexHandle(s), "InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
    assert hit.mode == "keyword" and hit.sections[0].number == "2.1"


def test_hybrid_index_with_local_model(make_settings, tiny_model):
    s = make_settings(embedding_model=str(tiny_model))
    r = run_ingest(s)
    assert r.retrieval_mode == "hybrid" and r.embedded == r.chunks and r.reused == 0
    handle = IndexHandle(s)
    res = retrieve(handle, "COOL RLHF 的条件奖励模型是怎么训练的？")
    assert res.mode == "hybrid"
    assert any(h.dense_rank is not None for sec in res.sections for h in sec.hits)
    assert "4.2.1" in [sec.number for sec in res.sections[:3]]


def test_incremental_edit_reembeds_only_that_section(make_settings, tiny_model, corpus_copy):
    s = make_settings(embedding_model=str(tiny_model))
    first = run_ingest(s)
    again = run_ingest(s)
    assert (again.embedded, again.added, again.updated, again.removed) == (0, 0, 0, 0)
    assert again.unchanged == first.chunks and not again.index_changed and again.version == first.version

    _edit(corpus_copy, "04-alignment.md", "4e-5", "4e-5（编辑测试 EDITMARKER）")
    third = run_ingest(s)
    sft_chunks = [c for c in _chunks(s) if c["section"] == "4.1"]
    assert third.index_changed and third.version != first.version
    assert third.updated == 1 and third.removed == 1 and third.added == 0
    assert third.embedded == 1 and third.reused == third.chunks - 1
    assert any("EDITMARKER" in c["text"] for c in sft_chunks)
    res = retrieve(IndexHandle(s), "EDITMARKER")
    assert res.sections[0].number == "4.1"


def _chunks(s):
    from ingest.store import read_chunks, version_dir

    return read_chunks(version_dir(s.data_dir, read_manifest(s.data_dir).version))


def test_removed_section_content_disappears(make_settings, corpus_copy):
    s = make_settings()
    run_ingest(s)
    text = (corpus_copy / "06-conclusion.md").read_text(encoding="utf-8")
    (corpus_copy / "06-conclusion.md").write_text(text.split("\n")[0] + "\n\n结论被改写为一句话 REWRITTEN。\n",
                                                  encoding="utf-8")
    r = run_ingest(s)
    assert r.updated == 1 and r.removed >= 1
    texts = [c["text"] for c in _chunks(s) if c["section"] == "6"]
    assert texts == ["结论被改写为一句话 REWRITTEN。"]


def test_validation_error_leaves_index_untouched(make_settings, corpus_copy):
    s = make_settings()
    good = run_ingest(s)
    _edit(corpus_copy, "03-pre-train.md", "### 3.1.2 ", "### 3.1.9 ")
    with pytest.raises(CorpusError) as exc:
        run_ingest(s)
    assert any(p.file == "03-pre-train.md" and p.line > 0 and "3.1.9" in p.message for p in exc.value.problems)
    assert read_manifest(s.data_dir).version == good.version


def test_strict_by_default_allow_missing_lists(make_settings, corpus_copy):
    s = make_settings()
    (corpus_copy / "06-conclusion.md").unlink()
    with pytest.raises(CorpusError) as exc:
        run_ingest(s)
    assert [p.message for p in exc.value.problems] == ["section 6 (Conclusion) is missing"]
    assert read_manifest(s.data_dir) is None
    r = run_ingest(s, allow_missing=True)
    assert r.missing == ["6"] and r.sections == 44


def test_second_ingest_refused_while_first_runs(make_settings):
    s = make_settings()
    with ingest_lock(s.data_dir):
        t = time.perf_counter()
        with pytest.raises(IngestBusy) as exc:
            run_ingest(s, lock_wait=0.5)
        assert 0.4 < time.perf_counter() - t < 5
        assert exc.value.args[0] == str(os.getpid())


def test_unreachable_hub_fails_fast_and_falls_back(make_settings, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def hanging_connect(*args, **kwargs):  # a network that swallows packets: connect never returns
        time.sleep(30)

    monkeypatch.setattr("ingest.embeddings.socket.create_connection", hanging_connect)
    monkeypatch.setenv("HF_HOME", str(make_settings().data_dir / "hf-empty"))
    t = time.perf_counter()
    status = load_embeddings("BAAI/bge-small-zh-v1.5", timeout=2.0)
    took = time.perf_counter() - t
    assert not status.available and took < 6, took
    assert "unreachable" in status.message
    r = run_ingest(make_settings(embedding_model="BAAI/bge-small-zh-v1.5"), embeddings=status)
    assert r.retrieval_mode == "keyword"


def test_offline_mode_message_names_the_cause(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    status = load_embeddings("BAAI/bge-small-zh-v1.5")
    assert not status.available and "HF_HUB_OFFLINE" in status.message
    assert not load_embeddings(str(tmp_path / "nope")).available
    assert load_embeddings("none").message.startswith("EMBEDDING_MODEL=none")


def _cli(args, env_extra, cwd=ROOT, timeout=120):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_cli_json_summary(make_settings, tmp_path, corpus_copy):
    env = {"DATA_DIR": str(tmp_path / "d"), "EMBEDDING_MODEL": "none"}
    out = _cli(["ingest", "--corpus", str(corpus_copy), "--json"], env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert {"sections", "chunks", "embedded", "reused", "removed", "seconds", "retrieval_mode",
            "embedding_model"} <= set(summary)
    assert summary["retrieval_mode"] == "keyword" and summary["sections"] == 45
    search = _cli(["search", "条件奖励模型", "--json"], env)
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)["sections"][0]["section"] in {"4.2.1", "5.3.4"}


def test_cli_validation_error_is_a_sentence_not_a_traceback(tmp_path, corpus_copy):
    _edit(corpus_copy, "02-infrastructure.md", "## 2.2 ", "### 2.2 ")
    out = _cli(["ingest", "--corpus", str(corpus_copy)], {"DATA_DIR": str(tmp_path / "d"), "EMBEDDING_MODEL": "none"})
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "02-infrastructure.md:" in out.stderr and "level-2" in out.stderr and "索引未作任何改动" in out.stderr


KILLER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ingest.settings import Settings
    from ingest.pipeline import run_ingest
    s = Settings(corpus_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2]), embedding_model=sys.argv[3], _env_file=None)
    def progress(done, total):
        print("progress", done, total, flush=True)
        time.sleep(0.3)
    run_ingest(s, progress=progress, rebuild=True)
    print("finished", flush=True)
""")


@pytest.mark.parametrize("kill_after", [1, 3])
def test_kill_9_mid_ingest_keeps_old_index_serving(make_settings, tiny_model, corpus_copy, kill_after):
    s = make_settings(embedding_model=str(tiny_model))
    old = run_ingest(s)
    _edit(corpus_copy, "02-infrastructure.md", "InternEvo", "InternEvo（KILLTEST）")
    proc = subprocess.Popen([sys.executable, "-c", KILLER, str(corpus_copy), str(s.data_dir), str(tiny_model)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    seen = 0
    for line in proc.stdout:
        if line.startswith("progress"):
            seen += 1
            if seen == kill_after:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the manifest still points at the old, complete version and it still answers
    m = read_manifest(s.data_dir)
    assert m.version == old.version
    res = retrieve(IndexHandle(s), "InternEvo 的 MFU")
    assert res.mode == "hybrid" and res.sections[0].number == "2.1"
    assert "KILLTEST" not in res.sections[0].best.chunk["text"]
    # the next ingest succeeds and removes the half-built version
    new = run_ingest(s)
    versions = {p.name for p in (s.data_dir / "versions").iterdir()}
    assert versions == {new.version, old.version}
    assert "KILLTEST" in retrieve(IndexHandle(s), "KILLTEST").sections[0].best.chunk["text"]


def test_reader_follows_manifest_switch(make_settings, corpus_copy):
    s = make_settings()
    run_ingest(s)
    handle = IndexHandle(s)
    v1 = handle.get().manifest.version
    _edit(corpus_copy, "06-conclusion.md", "。", "。SWITCHTEST。")
    run_ingest(s)
    assert handle.get().manifest.version != v1
    assert retrieve(handle, "SWITCHTEST").sections[0].number == "6"


def test_a_new_tokenizer_term_rebuilds_the_index(make_settings, monkeypatch):
    """BM25 and unit tokens are built with the tokenizer's terms: an index built with other terms
    would not match the questions' tokens, so it is rebuilt, not reused."""
    from ingest import keywords

    s = make_settings()
    first = run_ingest(s)
    assert not run_ingest(s).index_changed
    monkeypatch.setattr(keywords, "ZH_TERMS", [*keywords.ZH_TERMS, "编辑测试术语"])
    again = run_ingest(s)
    assert again.index_changed and again.version != first.version
