"""MCP server (official `mcp` SDK): tools ask / search / get_section and the TOC as a resource.

Over stdio as `report-qa mcp`, and over streamable HTTP at /mcp inside the web server (`mount_mcp`),
behind the same API_TOKEN (app/auth.py guards every route; /mcp checks it too). Every tool calls the
same Answerer, retrieval and section functions as /api/*, in the same answer pool.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field
from starlette.datastructures import Headers

from ingest.settings import Settings

from .answer import Answerer
from .api import MAX_QUESTION, answer_payload, section_payload, toc_payload
from .auth import UNAUTHORIZED, is_authorized
from .index import IndexHandle, IndexMissing
from .limits import send_error
from .retrieval import retrieve
from .workers import AnswerPool, Overloaded, shared_pool

if TYPE_CHECKING:
    from fastapi import FastAPI
    from mcp.server.mcpserver import MCPServer

SECTION_NUMBER = re.compile(r"§?\s*(?:\d{1,2}|A)(?:\.\d{1,2}){0,4}")
NO_INDEX = "还没有索引：请先运行 `report-qa ingest`。No index yet: run `report-qa ingest` first."
INSTRUCTIONS = ("Answers questions about the InternLM2 Technical Report (Chinese translation) with cited "
                "sections [§N]. Use `ask` for an answer, `search` for ranked passages, `get_section` for a "
                "section's full text, and the report://toc resource for the table of contents. "
                "《InternLM2 技术报告》中文译文问答：回答附带章节出处。")
TOOL_DOCS = {
    "ask": "回答一个关于《InternLM2 技术报告》的问题，附带章节出处 [§N]。Answer a question about the InternLM2 "
           "Technical Report, citing its sections as [§N]. Returns the answer, whether the report covers the "
           "question (`answerable`; false means the report does not answer it), and the citations.",
    "search": "检索最相关的章节与原文段落（不生成回答）。Search the report: the top_k most relevant sections "
              "(1-20) with their best passages, without composing an answer.",
    "get_section": "读取某一节的完整 Markdown 原文，如 \"2.1\" 或 \"§4.2.1\"。Read one section's full Markdown "
                   "text (without its sub-sections, which are listed), e.g. \"2.1\" or \"§4.2.1\".",
}

def search_payload(handle: IndexHandle, query: str, top_k: int) -> dict:
    """Ranked sections with their best passages (as `report-qa search --json`)."""
    r = retrieve(handle, query, top_k=top_k)
    return {"query": r.query, "mode": r.mode, "sections": [
        {"section": s.number, "title": s.title_zh, "title_en": s.title_en, "path": s.path,
         "score": round(s.score, 5), "passages": [h.chunk["text"] for h in s.hits[:2]]}
        for s in r.sections]}


def build_mcp(settings: Settings, handle: IndexHandle, answerer: Answerer | None = None,
              pool: AnswerPool | None = None) -> "MCPServer":
    """The MCP server; `ask` and `search` run in the answer pool shared with /api/ask and the web chat."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError

    answerer = answerer or Answerer(settings, handle)
    pool = pool or shared_pool(settings)

    def pooled(fn, *args):
        try:
            return pool.call(fn, *args)
        except Overloaded as exc:
            raise ToolError(str(exc)) from None

    # WARNING: the SDK configures the root logger at this level when none is set
    server = MCPServer("report-qa", instructions=INSTRUCTIONS, log_level="WARNING")

    def text_arg(value: str, what_zh: str, what_en: str) -> str:
        v = value.strip()
        if not v:
            raise ToolError(f"{what_zh}为空。The {what_en} is empty.")
        if len(v) > MAX_QUESTION:
            raise ToolError(f"{what_zh}最多 {MAX_QUESTION} 个字符。The {what_en} may have at most {MAX_QUESTION} characters.")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ToolError(f"{what_zh}含有无效字符。The {what_en} contains invalid characters.") from None
        return v

    def index_or_fail(error=ToolError):
        try:
            return handle.get()
        except IndexMissing:
            raise error(NO_INDEX) from None

    @server.tool(description=TOOL_DOCS["ask"])
    def ask(question: Annotated[str, Field(description="The question, in Chinese or English.")]) -> dict[str, Any]:
        q = text_arg(question, "问题", "question")
        index_or_fail()
        return answer_payload(pooled(answerer.ask, q))

    @server.tool(description=TOOL_DOCS["search"])
    def search(query: Annotated[str, Field(description="What to look for, in Chinese or English.")],
               top_k: Annotated[int, Field(description="How many sections, 1-20.")] = 5) -> dict[str, Any]:
        q = text_arg(query, "检索词", "query")
        if not 1 <= top_k <= 20:
            raise ToolError("top_k 必须在 1 到 20 之间。top_k must be between 1 and 20.")
        index_or_fail()
        return pooled(search_payload, handle, q, top_k)

    @server.tool(description=TOOL_DOCS["get_section"])
    def get_section(number: Annotated[str, Field(description='A section number such as "2.1".')]) -> dict[str, Any]:
        found = section_payload(index_or_fail(), number)
        if found is None:
            shown = number.strip() if SECTION_NUMBER.fullmatch(number.strip()) else "…"  # never echo anything else
            raise ToolError(f"没有第 {shown} 节；目录见资源 report://toc。"
                            f"No section '{shown}'; the report://toc resource lists them.")
        return found

    @server.resource("report://toc", name="toc", title="目录 Table of contents", mime_type="application/json",
                     description="《InternLM2 技术报告》的章节目录。Every section of the report, in reading order.")
    def toc() -> str:
        return json.dumps(toc_payload(index_or_fail(ResourceError)), ensure_ascii=False)

    return server


class _TokenGuard:
    """ASGI: app/auth.py guards the whole app; this keeps /mcp closed if it is ever served without it."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not is_authorized(Headers(scope=scope), self.token):
            await send_error(send, 401, UNAUTHORIZED, {"www-authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)


def mount_mcp(app: "FastAPI", settings: Settings, handle: IndexHandle, answerer: Answerer) -> "MCPServer":
    """Serve the MCP server over streamable HTTP at /mcp and run its session manager in the app's lifespan.

    Call before mounting Gradio at "/" (which would otherwise match /mcp first)."""
    from starlette.routing import Route

    server = build_mcp(settings, handle, answerer)
    # stateless: no per-client session to keep, plain JSON responses; the SDK's DNS-rebinding
    # protection stays on when bound to localhost
    sub = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                                     host=settings.host)
    endpoints = [r.endpoint for r in sub.routes if isinstance(r, Route) and r.path == "/mcp"]
    if len(endpoints) != 1:
        raise RuntimeError(f"the mcp SDK's streamable HTTP app has {len(endpoints)} /mcp routes, expected 1")
    app.router.routes.append(Route("/mcp", _TokenGuard(endpoints[0], settings.api_token), include_in_schema=False))
    previous = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a):
        async with server.session_manager.run():
            async with previous(a) as state:
                yield state

    app.router.lifespan_context = lifespan
    return server


def run_stdio(settings: Settings, handle: IndexHandle | None = None) -> None:
    """`report-qa mcp`: the MCP server over stdin/stdout."""
    build_mcp(settings, handle or IndexHandle(settings)).run("stdio")
