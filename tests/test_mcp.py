"""The MCP door, through the SDK's own client: in-process, over stdio (`report-qa mcp`) and over
streamable HTTP at /mcp on a real uvicorn server of ours (with the Gradio chat mounted, behind API_TOKEN)."""

from __future__ import annotations

import json
import os
import sys

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from app.answer import Answerer
from app.index import IndexHandle
from app.mcp_server import build_mcp
from app.server import create_app

from .live_server import LiveServer

TOKEN = "mcp-door-token"
SFT = "SFT 的学习率是多少？"


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


async def exercise(client: Client) -> dict:
    """List the tools, call each one, a refusal, an unknown section, and read the TOC."""
    out = {"tools": {t.name: t for t in (await client.list_tools()).tools}}
    out["ask"] = await client.call_tool("ask", {"question": SFT})
    out["refusal"] = await client.call_tool("ask", {"question": "Qwen2-7B 的 MMLU 多少分？"})
    out["empty"] = await client.call_tool("ask", {"question": "   "})
    out["search"] = await client.call_tool("search", {"query": "InternEvo MFU", "top_k": 2})
    out["bad_top_k"] = await client.call_tool("search", {"query": "InternEvo", "top_k": 99})
    out["section"] = await client.call_tool("get_section", {"number": "§2.1"})
    out["unknown"] = await client.call_tool("get_section", {"number": "9.9"})
    out["garbage"] = await client.call_tool("get_section", {"number": "<img src=x onerror=alert(1)>"})
    out["resources"] = (await client.list_resources()).resources
    out["toc"] = await client.read_resource("report://toc")
    return out


def check(out: dict, own_answer: dict) -> None:
    tools = out["tools"]
    assert set(tools) == {"ask", "search", "get_section"}
    assert tools["search"].input_schema["properties"]["top_k"]["default"] == 5
    assert all(t.description and "\n" not in t.description for t in tools.values())

    ask = out["ask"]
    assert not ask.is_error
    assert ask.structured_content == own_answer  # the same answer as POST /api/ask
    assert "[§4.1]" in ask.structured_content["answer"] and "4e-5" in ask.content[0].text

    refusal = out["refusal"]
    assert not refusal.is_error and refusal.structured_content["answerable"] is False
    assert refusal.structured_content["citations"] == [] and "Qwen2-7B" in refusal.structured_content["answer"]
    assert out["empty"].is_error and "question is empty" in out["empty"].content[0].text

    search = out["search"].structured_content
    assert [s["section"] for s in search["sections"]][:1] == ["2.1"] and len(search["sections"]) == 2
    assert search["sections"][0]["passages"] and search["sections"][0]["title"] == "InternEvo"
    assert out["bad_top_k"].is_error and "between 1 and 20" in out["bad_top_k"].content[0].text

    section = out["section"].structured_content
    assert section["number"] == "2.1" and "InternEvo" in section["text"] and section["subsections"] == []
    unknown = out["unknown"]
    assert unknown.is_error and "No section '9.9'" in unknown.content[0].text
    garbage = out["garbage"]
    assert garbage.is_error and "No section '…'" in garbage.content[0].text and "<img" not in garbage.content[0].text

    assert [str(r.uri) for r in out["resources"]] == ["report://toc"]
    toc = json.loads(out["toc"].contents[0].text)
    assert len(toc["sections"]) == 45 and toc["sections"][0]["number"] == "0"


@pytest.fixture(scope="module")
def own_answer(built_index):
    from app.api import answer_payload

    return answer_payload(Answerer(built_index, IndexHandle(built_index)).ask(SFT))


def test_mcp_in_process(built_index, own_answer):
    server = build_mcp(built_index, IndexHandle(built_index))

    async def go():
        async with Client(server) as client:
            return await exercise(client)

    check(run(go), own_answer)


@pytest.mark.slow
def test_mcp_over_stdio(built_index, own_answer):
    env = {**os.environ, "DATA_DIR": str(built_index.data_dir), "CORPUS_DIR": str(built_index.corpus_dir),
           "EMBEDDING_MODEL": "none", "HF_HUB_OFFLINE": "1", "LLM_BASE_URL": "", "API_TOKEN": ""}
    params = StdioServerParameters(command=sys.executable, args=["-m", "app.cli", "mcp"], env=env,
                                   cwd=str(built_index.corpus_dir.parent))

    async def go():
        async with Client(params, read_timeout_seconds=60) as client:
            return await exercise(client)

    check(run(go), own_answer)


@pytest.fixture(scope="module")
def web(built_index):
    """The whole app as `report-qa serve` builds it (Gradio included), behind a token."""
    settings = built_index.model_copy(update={"api_token": TOKEN})
    with LiveServer(create_app(settings)) as live:
        yield live


@pytest.mark.slow
def test_mcp_over_http_with_token(web, own_answer):
    async def go():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        async with http, Client(streamable_http_client(f"{web.url}/mcp", http_client=http)) as client:
            return await exercise(client)

    check(run(go), own_answer)


@pytest.mark.slow
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_mcp_over_http_needs_the_token(web, headers):
    init = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "get_section", "arguments": {"number": "2.1"}}}
    r = httpx.post(f"{web.url}/mcp", json=init, timeout=10,
                   headers={**headers, "accept": "application/json, text/event-stream"})
    assert r.status_code == 401 and "API_TOKEN" in r.json()["error"] and "InternEvo" not in r.text

    async def go():
        http = httpx2.AsyncClient(headers=headers, timeout=30)
        async with http, Client(streamable_http_client(f"{web.url}/mcp", http_client=http)) as client:
            await client.list_tools()

    with pytest.raises(ExceptionGroup) as exc:  # the SDK gives up on the 401, inside its task group
        run(go)
    assert exc.group_contains(MCPError)


@pytest.mark.slow
def test_web_chat_and_api_still_served_beside_mcp(web):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{web.url}/", headers=auth, timeout=10).status_code == 200
    r = httpx.post(f"{web.url}/api/ask", json={"question": SFT}, headers=auth, timeout=30)
    assert r.status_code == 200 and "4e-5" in r.json()["answer"]


def test_mcp_ask_shares_the_busy_answer_pool(built_index):
    from app.workers import AnswerPool

    pool = AnswerPool(workers=1, queue=0)
    server = build_mcp(built_index, IndexHandle(built_index), pool=pool)

    async def go():
        async with Client(server) as client:
            with pool.admit():  # the only place is taken
                busy = await client.call_tool("ask", {"question": SFT})
            return busy, await client.call_tool("ask", {"question": SFT})

    busy, ok = run(go)
    assert busy.is_error and "retry" in busy.content[0].text
    assert not ok.is_error and "4e-5" in ok.structured_content["answer"]
    assert pool.completed == 2 and pool.in_flight == 0  # the place the test held, then the answer


def test_mcp_mounted_alone_still_needs_the_token(built_index):
    """Without app/auth.py's middleware, /mcp still checks API_TOKEN (and its lifespan runs in FastAPI's)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.mcp_server import mount_mcp

    settings = built_index.model_copy(update={"api_token": TOKEN})
    handle = IndexHandle(settings)
    app = FastAPI()
    mount_mcp(app, settings, handle, Answerer(settings, handle))
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"accept": "application/json, text/event-stream", "host": "127.0.0.1:8000"}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        r = client.post("/mcp", json=call, headers=accept)
        assert r.status_code == 401 and "API_TOKEN" in r.json()["error"]
        r = client.post("/mcp", json=call, headers={**accept, "Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and '"name":"get_section"' in r.text, r.text
