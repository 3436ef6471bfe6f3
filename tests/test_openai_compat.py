"""The OpenAI-compatible door (/v1) on a real uvicorn server of ours: the official `openai` client
(sync and streaming), LangChain's ChatOpenAI, the error objects, and API_TOKEN as the API key."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from app.server import create_app

from .live_server import LiveServer

pytestmark = pytest.mark.slow

TOKEN = "door-test-token"
SFT = "SFT 的学习率是多少？"


@pytest.fixture(scope="module")
def server(built_index):
    settings = built_index.model_copy(update={"api_token": TOKEN})
    with LiveServer(create_app(settings, with_ui=False)) as live:
        yield live


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0, timeout=30)


def api_ask(server, question: str, history: list[dict] | None = None) -> dict:
    """The same question through our own JSON API, to compare with."""
    r = httpx.post(f"{server.url}/api/ask", json={"question": question, "history": history or []},
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def raw_chat(server, body, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw = {"content": body} if isinstance(body, (bytes, str)) else {"json": body}
    return httpx.post(f"{server.url}/v1/chat/completions", headers={**headers, "content-type": "application/json"},
                      timeout=30, **kw)


def test_models_lists_report_qa(client):
    assert [m.id for m in client.models.list()] == ["report-qa"]


def test_sync_completion_is_the_api_answer_with_citations(server, client):
    r = client.chat.completions.create(model="report-qa", messages=[{"role": "user", "content": SFT}])
    text = r.choices[0].message.content
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "stop"
    assert "4e-5" in text and "[§4.1]" in text
    own = api_ask(server, SFT)
    assert text == own["answer"]  # one code path behind both doors
    extra = r.model_extra
    assert extra["answerable"] is True
    assert [c["section"] for c in extra["citations"]] == [c["section"] for c in own["citations"]]
    assert set(extra["citations"][0]) >= {"section", "title", "snippet"} and extra["citations"][0]["title"] == "监督微调"


def test_streaming_chunks_add_up_to_the_answer(server, client):
    stream = client.chat.completions.create(model="report-qa", stream=True,
                                            messages=[{"role": "user", "content": SFT}])
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks) and len(chunks) >= 3
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == api_ask(server, SFT)["answer"]
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and [c.choices[0].finish_reason for c in chunks[:-1]] == \
        [None] * (len(chunks) - 1)
    assert last.model_extra["citations"][0]["section"] == "4.1"


def test_stream_ends_with_done_marker(server):
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"},
                      json={"model": "report-qa", "stream": True, "messages": [{"role": "user", "content": SFT}]}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [b for b in r.read().decode().split("\n\n") if b.strip()]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert json.loads(events[-2].removeprefix("data: "))["choices"][0]["finish_reason"] == "stop"


def test_earlier_messages_are_the_history(server, client):
    history = [{"role": "user", "content": "InternLM2-Chat-7B 在 GSM8K 上得分多少？"},
               {"role": "assistant", "content": "79.6"}]
    r = client.chat.completions.create(model="report-qa", messages=[
        {"role": "system", "content": "You are a helpful assistant."}, *history,
        {"role": "user", "content": "那 20B 的呢？"}])
    own = api_ask(server, "那 20B 的呢？", history)
    assert r.choices[0].message.content == own["answer"] and "20B" in own["answer"]
    assert [c["section"] for c in r.model_extra["citations"]] == [c["section"] for c in own["citations"]]
    assert own["answer"] != api_ask(server, "那 20B 的呢？")["answer"]  # the history was used


def test_refusal_is_the_same_refusal(server, client):
    question = "Qwen2-7B 的 MMLU 多少分？"
    r = client.chat.completions.create(model="report-qa", messages=[{"role": "user", "content": question}])
    own = api_ask(server, question)
    assert own["answerable"] is False and r.choices[0].message.content == own["answer"]
    assert "Qwen2-7B" in own["answer"]
    assert r.model_extra["answerable"] is False and r.model_extra["citations"] == []


def test_unsupported_parameters_are_ignored(client):
    r = client.chat.completions.create(
        model="report-qa", messages=[{"role": "user", "content": [{"type": "text", "text": SFT}]}],
        temperature=0.3, top_p=0.9, max_tokens=16, n=1, seed=7, user="u1", presence_penalty=0.1,
        stop=["\n"], tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        extra_body={"frobnicate": True})
    assert "4e-5" in r.choices[0].message.content


def test_wrong_key_and_no_key_are_refused(server):
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="report-qa", messages=[{"role": "user", "content": SFT}])
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    r = raw_chat(server, {"model": "report-qa", "messages": [{"role": "user", "content": SFT}]}, token=None)
    assert r.status_code == 401 and "API_TOKEN" in r.text and "4e-5" not in r.text


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": SFT}]}, "model"),
    ({"model": "report-qa"}, "messages"),
    ({"model": "report-qa", "messages": []}, "messages"),
    ({"model": "report-qa", "messages": "hi"}, "messages"),
    ({"model": "report-qa", "messages": [{"role": "user", "content": SFT}, {"role": "assistant", "content": "x"}]},
     "messages"),
    ({"model": "report-qa", "messages": [{"role": "user", "content": "   "}]}, "messages"),
    ({"model": "report-qa", "messages": [{"role": "user", "content": "x" * 5000}]}, "messages"),
    ({"model": "report-qa", "messages": [{"role": "user", "content": 42}]}, "messages.[0].content"),
    ({"model": "report-qa", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages.[0].content"),
    ({"model": "report-qa", "messages": [{"role": "robot", "content": "x"}, {"role": "user", "content": SFT}]},
     "messages.[0].role"),
    ({"model": "report-qa", "messages": [{"content": SFT}]}, "messages.[0]"),
    ({"model": "report-qa", "stream": "yes", "messages": [{"role": "user", "content": SFT}]}, "stream"),
    ([1, 2], None),
])
def test_wrong_shapes_get_openai_error_400(server, body, param):
    r = raw_chat(server, body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param
    assert err["message"].startswith("请求有误") and "Invalid request" in err["message"]


def test_malformed_json_is_a_400(server):
    r = raw_chat(server, b'{"model": "report-qa", "messages": [')
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = raw_chat(server, b'{"model": "report-qa", "messages": [{"role": "user", "content": "MFU \\ud800"}]}')
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages.[0].content"
    assert "invalid characters" in r.json()["error"]["message"]


def test_openai_client_raises_bad_request(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="report-qa", messages=[{"role": "assistant", "content": "hi"}])
    assert "last message must be the user's question" in str(exc.value)


def test_langchain_chat_openai_uses_the_door(server):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, model="report-qa", max_retries=0, timeout=30)
    expected = api_ask(server, SFT)["answer"]
    assert llm.invoke(SFT).content == expected
    assert "".join(c.content for c in llm.stream(SFT)) == expected


def test_llm_mode_through_the_door(built_index):
    """In LLM mode the door shows what the answerer allows: no invented [§9.9]; when the LLM fails,
    the stream says so and the extractive answer follows."""
    from fastapi.testclient import TestClient

    from .conftest import free_port
    from .fake_llm import FakeLLMServer

    question = "COOL RLHF 的条件奖励模型是怎么训练的？"
    with FakeLLMServer(free_port()) as llm:
        def door(model: str) -> TestClient:
            s = built_index.model_copy(update={"llm_base_url": llm.url, "llm_model": model, "llm_api_key": "k"})
            return TestClient(create_app(s, with_ui=False))

        body = {"model": "report-qa", "messages": [{"role": "user", "content": question}]}
        grounded = door("grounded").post("/v1/chat/completions", json=body).json()
        text = grounded["choices"][0]["message"]["content"]
        assert "[§9.9]" not in text and "根据报告" in text
        assert "9.9" not in [c["section"] for c in grounded["citations"]]

        with door("broken").stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
            events = [e.removeprefix("data: ") for e in r.read().decode().split("\n\n") if e.strip()]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert streamed.startswith("（LLM 调用失败") and "[§" in streamed
        assert chunks[-1]["notice"] and chunks[-1]["citations"]
        plain = door("broken").post("/v1/chat/completions", json=body).json()
        assert streamed.endswith(plain["choices"][0]["message"]["content"])


def test_busy_pool_is_an_openai_503_with_retry_after(built_index):
    """/v1 answers in the pool shared with /api/ask: when it is full, a 503 the openai client retries."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.answer import Answerer
    from app.index import IndexHandle
    from app.openai_compat import openai_router
    from app.workers import AnswerPool

    pool = AnswerPool(workers=1, queue=0)
    handle = IndexHandle(built_index)
    app = FastAPI()
    app.include_router(openai_router(built_index, handle, Answerer(built_index, handle), pool))
    client = TestClient(app)
    body = {"model": "report-qa", "messages": [{"role": "user", "content": SFT}]}
    with pool.admit():  # the only place is taken
        for stream in (False, True):
            r = client.post("/v1/chat/completions", json={**body, "stream": stream})
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            assert r.json()["error"]["code"] == "overloaded" and "retry" in r.json()["error"]["message"]
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and "4e-5" in r.json()["choices"][0]["message"]["content"]
    assert pool.in_flight == 0 and pool.completed >= 1


def test_v1_served_alone_still_needs_the_key(built_index):
    """Without app/auth.py's middleware (the router mounted on its own), /v1 still checks API_TOKEN."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.answer import Answerer
    from app.index import IndexHandle
    from app.openai_compat import openai_router

    settings = built_index.model_copy(update={"api_token": TOKEN})
    handle = IndexHandle(settings)
    app = FastAPI()
    app.include_router(openai_router(settings, handle, Answerer(settings, handle)))
    client = TestClient(app)
    body = {"model": "report-qa", "messages": [{"role": "user", "content": SFT}]}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = client.post("/v1/chat/completions", json=body, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key" and "4e-5" not in r.text
        assert client.get("/v1/models", headers=headers).status_code == 401
    r = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "4e-5" in r.json()["choices"][0]["message"]["content"]
