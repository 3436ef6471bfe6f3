"""Tests that fail on regressions the rest of the suite once let through (issue 18): a manifest
switch that is not atomic, a refusal decision without the evidence threshold, fusion without the
dense ranking, a model change that does not re-embed. Chips whose link is not their label:
tests/test_ui_chips_browser.py."""

from __future__ import annotations

import builtins
import errno
import json
import pathlib

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import Embeddings

from app.answer import Answerer
from app.index import IndexHandle
from app.retrieval import RRF_K, never_together, retrieve, unknown_names
from app.server import create_app
from ingest.chunking import chunk_corpus
from ingest.embeddings import EmbeddingStatus, load_embeddings
from ingest.pipeline import index_is_current, run_ingest
from ingest.settings import Settings
from ingest.store import read_chunks, read_manifest, version_dir

from .conftest import CORPUS

MFU_Q = "InternEvo 在 1024 张 GPU 上的 MFU 是多少？"


def _edit(corpus: pathlib.Path, file: str, old: str, new: str) -> None:
    p = corpus / file
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- 1. the manifest switch is atomic ---------------------------------------------------------

class _DiskFull:
    """A file that takes `room` more characters, then writes part of the next piece and fails
    (an I/O error: the write stops halfway, as in a crash)."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, s):
        if len(s) > self.room:
            self.f.write(s[: self.room])
            self.f.flush()
            raise OSError(errno.EIO, "Input/output error (injected by the test)")
        self.room -= len(s)
        return self.f.write(s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        return False

    def __getattr__(self, name):
        return getattr(self.f, name)


def _fail_manifest_writes(monkeypatch, room: int) -> list[str]:
    """Every file named manifest* opened for writing (the manifest or its temporary file, by
    `open` in ingest/store.py or by Path.open/write_text) fails after `room` characters."""
    failed: list[str] = []
    real_path_open = pathlib.Path.open

    def wrap(name, mode, f):
        if any(m in mode for m in "wax") and pathlib.Path(name).name.startswith("manifest"):
            failed.append(pathlib.Path(name).name)
            return _DiskFull(f, room)
        return f

    def store_open(file, mode="r", *args, **kwargs):
        return wrap(file, mode, builtins.open(file, mode, *args, **kwargs))

    def path_open(self, mode="r", *args, **kwargs):
        return wrap(self, mode, real_path_open(self, mode, *args, **kwargs))

    monkeypatch.setattr("ingest.store.open", store_open, raising=False)
    monkeypatch.setattr(pathlib.Path, "open", path_open)
    return failed


def test_manifest_write_failing_halfway_keeps_the_previous_version_serving(make_settings, corpus_copy, monkeypatch):
    s = make_settings()
    old = run_ingest(s)
    manifest_path = s.data_dir / "manifest.json"
    app = TestClient(create_app(s, with_ui=False))  # a server that was running before the second ingest
    assert app.get("/healthz").json()["index_version"] == old.version

    _edit(corpus_copy, "02-infrastructure.md", "InternEvo", "InternEvo（SWITCHFAULT）")
    failed = _fail_manifest_writes(monkeypatch, room=len(manifest_path.read_text(encoding="utf-8")) // 2)
    with pytest.raises(OSError) as exc:
        run_ingest(s)
    assert exc.value.errno == errno.EIO and failed, "the fault was not injected into the manifest write"
    monkeypatch.undo()

    # the manifest still parses and names the previous, complete version
    assert json.loads(manifest_path.read_text(encoding="utf-8"))["version"] == old.version
    assert read_manifest(s.data_dir).version == old.version
    assert not list(s.data_dir.glob("manifest*.tmp*")), "the half-written temporary manifest was left behind"
    # the running server and a fresh one still answer from it
    for client in (app, TestClient(create_app(s, with_ui=False))):
        assert client.get("/healthz").json()["index_version"] == old.version
        r = client.post("/api/ask", json={"question": MFU_Q})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["answerable"] and "53%" in body["answer"] and body["citations"][0]["section"] == "2.1"
        assert "SWITCHFAULT" not in body["answer"]

    # the next ingest switches, and the running server follows it
    new = run_ingest(s)
    assert new.version != old.version and read_manifest(s.data_dir).version == new.version
    assert app.get("/healthz").json()["index_version"] == new.version
    assert {p.name for p in (s.data_dir / "versions").iterdir()} == {new.version, old.version}


# --- 2. the evidence threshold decides refusals -------------------------------------------------

GENERIC_REFUSAL = ("没有找到能回答这个问题的内容", "does not cover this question")

# common words, each of them in the report: only the weak evidence tells that it cannot answer
THRESHOLD_ONLY = [
    "给我写一首五言绝句",  # a poem
    "Write a short poem about the model",
    "上海今天多少度",  # the weather
    "How do I build a web page with HTML and CSS?",  # web programming
    "网页怎么用 CSS 设置字体颜色",
]


def _with_threshold(answerer: Answerer, threshold: float) -> Answerer:
    return Answerer(answerer.settings.model_copy(update={"answer_min_evidence": threshold}), answerer.handle)


@pytest.mark.parametrize("question", THRESHOLD_ONLY)
def test_unrelated_request_of_common_words_is_refused_by_the_evidence_threshold(answerer, question):
    index = answerer.handle.get()
    # no other rule refuses it: every name is in the report, nothing is "never together"
    assert unknown_names(question, index) == [] and never_together(question, index) == []
    a = answerer.ask(question)
    assert not a.answerable and a.citations == [], a.answer
    assert any(m in a.answer for m in GENERIC_REFUSAL), a.answer  # not "never mentions X" / "together"
    assert a.evidence < answerer.min_evidence
    # with the threshold at 0 the same question is answered: the threshold alone refused it
    assert _with_threshold(answerer, 0.0).ask(question).answerable


def test_one_question_answered_at_a_low_threshold_and_refused_at_a_high_one(answerer):
    question = "PPO 阶段要同时部署几个模型"
    e = answerer.ask(question).evidence
    assert 0.1 < e < 0.99, f"evidence {e}: pick a question whose evidence is neither weak nor certain"
    low = _with_threshold(answerer, e / 2).ask(question)
    high = _with_threshold(answerer, (e + 1) / 2).ask(question)
    assert low.answerable and low.citations and "§" in low.answer
    assert not high.answerable and high.citations == []
    assert any(m in high.answer for m in GENERIC_REFUSAL), high.answer


# --- 3. hybrid fusion uses the dense ranking -----------------------------------------------------

@pytest.fixture(scope="module")
def hybrid_index(tmp_path_factory, tiny_model):
    s = Settings(corpus_dir=CORPUS, data_dir=tmp_path_factory.mktemp("hybrid"), embedding_model=str(tiny_model),
                 _env_file=None)
    status = load_embeddings(s.embedding_model)
    assert status.available, status.message
    run_ingest(s, allow_missing=True, embeddings=status)
    return s, status


class _PinnedQuery(Embeddings):
    """The real model for documents; every query embeds to one fixed vector."""

    def __init__(self, inner: Embeddings, vector: list[float]):
        self.inner, self.vector = inner, vector

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return list(self.vector)


def _hits(r):
    return {h.chunk["id"]: h for s in r.sections for h in s.hits}


def test_a_dense_ranking_that_disagrees_with_bm25_reorders_the_fusion_as_rrf_says(hybrid_index):
    s, status = hybrid_index
    q = "以往的 LLM 技术报告在预训练数据处理这块写得怎么样？"  # its BM25 runner-up is near the top
    off = EmbeddingStatus(None, s.embedding_model, None, "dense retrieval off for this test")
    keyword = retrieve(IndexHandle(s, embeddings=off), q, top_k=100)
    assert keyword.mode == "keyword" and len(keyword.sections) >= 3
    kw = _hits(keyword)
    # the sections in their fused (here: BM25) order, before the fitted section model re-ranks them
    by_rrf = sorted(keyword.sections, key=lambda s: -s.best.score)
    assert [s.number for s in by_rrf if s.best.bm25_rank is not None] == keyword.fused
    top = by_rrf[0].best
    # the dense favourite: the best passage of a lower-ranked section that the first place of the
    # vector ranking must lift above BM25's best passage, whatever place the vector ranking gives that
    wins = [s.best for s in by_rrf[1:6]
            if s.best.score + 1 / (RRF_K + 1) > top.score + 1 / (RRF_K + 2) + 1e-6]
    assert wins, "no passage near enough to the top for one vector ranking to lift it: pick another question"
    target = wins[-1]
    assert target.score < top.score

    index = IndexHandle(s, embeddings=status).get()
    vector = index.collection.get(ids=[target.chunk["id"]], include=["embeddings"])["embeddings"][0]
    pinned = EmbeddingStatus(_PinnedQuery(status.embeddings, vector), status.model, status.model_id, status.message)
    fused = retrieve(IndexHandle(s, embeddings=pinned), q, top_k=100)
    assert fused.mode == "hybrid"
    fh = _hits(fused)
    assert fh[target.chunk["id"]].dense_rank == 0  # the vector ranking puts it first, BM25 did not

    # RRF: each chunk's fused score is its keyword score plus 1 / (k + dense rank)
    checked = 0
    for cid, h in fh.items():
        if cid in kw and kw[cid].bm25_rank is not None:  # not a section found by its sentences alone
            dense = 1.0 / (RRF_K + h.dense_rank + 1) if h.dense_rank is not None else 0.0
            assert h.score == pytest.approx(kw[cid].score + dense, abs=1e-9), h.chunk["section"]
            checked += 1
    assert checked >= 10
    # so the fused order changes (before the fitted section model re-ranks it, app/ranking.py): the
    # dense favourite's section comes first, ahead of BM25's first
    assert fused.fused[0] == target.chunk["section"] != top.chunk["section"]
    assert fh[target.chunk["id"]].score > fh[top.chunk["id"]].score
    order = fused.fused
    assert order.index(target.chunk["section"]) < order.index(top.chunk["section"])


class _FailingEmbeddings(Embeddings):
    """The real model for documents; embedding a query fails, as a Chroma server or a deleted version can."""

    def __init__(self, inner: Embeddings):
        self.inner = inner

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        raise RuntimeError("Failed to get segments")


def test_a_failing_dense_search_answers_from_keywords_and_says_so(hybrid_index):
    s, status = hybrid_index
    q = "COOL RLHF 的条件奖励模型是怎么训练的？"
    ok = retrieve(IndexHandle(s, embeddings=status), q)
    failing = EmbeddingStatus(_FailingEmbeddings(status.embeddings), status.model, status.model_id, status.message)
    r = retrieve(IndexHandle(s, embeddings=failing), q)
    assert ok.mode == "hybrid" and not ok.notice
    assert r.mode == "keyword" and r.notice == "dense retrieval failed (RuntimeError); keyword results only"
    assert r.vector is None and r.sections and r.sections[0].number == ok.sections[0].number


# --- 6. a new embedding model re-embeds every chunk ---------------------------------------------

@pytest.fixture(scope="module")
def second_model(tmp_path_factory, real_corpus):
    from ingest.static_model import build_static_model

    texts = [c.embed_text for c in chunk_corpus(real_corpus)]
    return build_static_model(texts, tmp_path_factory.mktemp("models") / "tiny-static-b", dim=32, seed=1)


def test_changing_the_embedding_model_reembeds_every_chunk_and_stays_hybrid(make_settings, tiny_model, second_model):
    first_settings = make_settings(embedding_model=str(tiny_model))
    first = run_ingest(first_settings)
    assert first.retrieval_mode == "hybrid" and first.embedded == first.chunks

    s = make_settings(embedding_model=str(second_model))
    status = load_embeddings(s.embedding_model)
    assert status.available and status.model_id != first.embedding_model
    assert not index_is_current(s, status), "an index embedded with another model counts as current"
    second = run_ingest(s, embeddings=status)
    assert second.index_changed and second.version != first.version
    assert (second.embedded, second.reused) == (second.chunks, 0)
    m = read_manifest(s.data_dir)
    assert m.version == second.version and m.embedding_model == status.model_id and m.retrieval_mode == "hybrid"

    # every chunk of the new version has a vector of the new model (32 dimensions, not 48)
    handle = IndexHandle(s, embeddings=status)
    index = handle.get()
    ids = [c["id"] for c in read_chunks(version_dir(s.data_dir, second.version))]
    stored = index.collection.get(ids=ids, include=["embeddings"])
    assert sorted(stored["ids"]) == sorted(ids)
    assert {len(v) for v in stored["embeddings"]} == {32}

    # and the app retrieves with both rankings, no fallback notice
    r = retrieve(handle, "COOL RLHF 的条件奖励模型是怎么训练的？")
    assert r.mode == "hybrid" and not r.notice, r.notice
    assert any(h.dense_rank is not None for sec in r.sections for h in sec.hits)
    a = Answerer(s, handle).ask(MFU_Q)
    assert a.mode["retrieval"] == "hybrid" and a.answerable and "53%" in a.answer
