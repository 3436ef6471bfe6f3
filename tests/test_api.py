"""The HTTP API contract and its error cases."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.server import create_app


@pytest.fixture(scope="module")
def client(built_index):
    return TestClient(create_app(built_index.model_copy(), with_ui=False))


def test_ask_contract(client):
    r = client.post("/api/ask", json={"question": "InternEvo 在 1024 张 GPU 上的 MFU 是多少？"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"answer", "answerable", "citations", "mode"}
    assert body["answerable"] is True and "53%" in body["answer"]
    assert body["mode"] == {"retrieval": "keyword", "generation": "extractive"}
    c = body["citations"][0]
    assert set(c) >= {"section", "title", "snippet", "score"} and c["section"] == "2.1"
    assert isinstance(c["score"], float) and c["title"] == "InternEvo"


def test_ask_out_of_scope(client):
    body = client.post("/api/ask", json={"question": "今天北京天气怎么样？"}).json()
    assert body["answerable"] is False and body["citations"] == []


def test_ask_top_k_and_history(client):
    body = client.post("/api/ask", json={"question": "那 20B 的呢？", "top_k": 2, "history": [
        {"role": "user", "content": "InternLM2-Chat-7B 在 GSM8K 上得分多少？"},
        {"role": "assistant", "content": "79.6"}]}).json()
    assert len(body["citations"]) <= 2 and body["citations"][0]["section"] == "5.2.3"


def test_ask_streams_sse(client):
    with client.stream("POST", "/api/ask", json={"question": "SFT 的学习率是多少？", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [block for block in r.read().decode().split("\n\n") if block.strip()]
    kinds = [e.split("\n")[0].removeprefix("event: ") for e in events]
    assert kinds[0] == "meta" and kinds[-1] == "done" and "delta" in kinds
    deltas = "".join(json.loads(e.split("data: ", 1)[1])["text"] for e in events if e.startswith("event: delta"))
    done = json.loads(events[-1].split("data: ", 1)[1])
    assert deltas == done["answer"] and "4e-5" in done["answer"]


@pytest.mark.parametrize("payload, fragment", [
    ({"question": ""}, "question is empty"),
    ({"question": "   \n\t "}, "question is empty"),
    ({"question": "x" * 50_000}, "at most 2000 characters"),
    ({"question": 42}, "question"),
    ({"question": ["a"]}, "question"),
    ({}, "question"),
    ({"question": "ok", "top_k": "five"}, "top_k"),
    ({"question": "ok", "top_k": 0}, "top_k"),
    ({"question": "ok", "top_k": 500}, "top_k"),
    ({"question": "ok", "stream": "yes"}, "stream"),
    ({"question": "ok", "history": [{"role": "robot", "content": "x"}]}, "history"),
    ({"question": "ok", "history": "previous"}, "history"),
    ({"question": "ok", "unknown": 1}, "unknown"),
])
def test_bad_input_is_a_clear_4xx(client, payload, fragment):
    r = client.post("/api/ask", json=payload)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["error"]
    assert r.json()["error"].startswith("请求有误")


def test_malformed_json(client):
    r = client.post("/api/ask", content=b'{"question": "hi"', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]


def test_sections_toc_and_detail(client):
    toc = client.get("/api/sections").json()
    assert [s["number"] for s in toc["sections"]][:4] == ["0", "1", "2", "2.1"]
    assert len(toc["sections"]) == 45 and toc["missing"] == []
    s = client.get("/api/sections/4.2.1").json()
    assert s["title_zh"] == "条件奖励模型"
    assert "L_{ranking}" in s["text"].replace(" ", "")  # the ranking loss, equation (1)
    assert s["path"].startswith("4 对齐 > 4.2") and s["file"] == "04-alignment.md"
    assert client.get("/api/sections/4.2").json()["subsections"] == ["4.2.1", "4.2.2", "4.2.3"]


def test_unknown_section_is_404(client):
    r = client.get("/api/sections/9.9")
    assert r.status_code == 404 and "9.9" in r.json()["error"]


def test_healthz(client):
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["chunk_count"] > 100 and h["retrieval_mode"] == "keyword"
    assert h["generation_mode"] == "extractive" and h["index_version"]


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/ask" in spec["paths"] and "/api/sections/{number}" in spec["paths"]


def test_api_token(built_index):
    settings = built_index.model_copy(update={"api_token": "s3cret"})
    c = TestClient(create_app(settings, with_ui=False))
    assert c.post("/api/ask", json={"question": "GQA"}).status_code == 401
    assert c.get("/api/sections", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = c.get("/api/sections", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert c.get("/healthz").status_code == 200  # health stays open for monitors


def test_no_index_is_503(tmp_path):
    from ingest.settings import Settings

    c = TestClient(create_app(Settings(data_dir=tmp_path, embedding_model="none", _env_file=None), with_ui=False))
    r = c.post("/api/ask", json={"question": "GQA"})
    assert r.status_code == 503 and "report-qa ingest" in r.json()["error"]
    assert c.get("/healthz").status_code == 503
