"""HTTP API: POST /api/ask (JSON or SSE), GET /api/sections, GET /api/sections/{number}, GET /healthz."""

from __future__ import annotations

import json
from typing import Iterator, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from ingest.settings import Settings

from .answer import Answer, Answerer
from .index import IndexHandle, IndexMissing, LoadedIndex
from .workers import AnswerPool, Overloaded, overloaded_response, shared_pool

MAX_QUESTION = 2000


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: StrictStr = Field(max_length=20000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: StrictStr = Field(description="The question, in Chinese or English.", max_length=MAX_QUESTION)
    history: list[Message] = Field(default_factory=list, max_length=40,
                                   description="Earlier turns, oldest first, for follow-up questions.")
    top_k: StrictInt | None = Field(None, ge=1, le=20, description="Sections to retrieve and cite.")
    stream: StrictBool = Field(False, description="Stream the answer as server-sent events.")

    @field_validator("question")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question is empty")
        return v.strip()


class CitationOut(BaseModel):
    section: str
    title: str
    snippet: str
    score: float
    used: bool


class AskResponse(BaseModel):
    answer: str
    answerable: bool
    citations: list[CitationOut]
    mode: dict[str, str]
    notice: str | None = None


def answer_payload(a: Answer) -> dict:
    d = a.to_json()
    d.pop("evidence", None)
    for c in d["citations"]:
        c.pop("quote", None)
    return d


def toc_payload(index: LoadedIndex) -> dict:
    """The table of contents (GET /api/sections, the MCP `report://toc` resource)."""
    return {"index_version": index.manifest.version, "missing": index.manifest.missing,
            "sections": [{"number": s["number"], "title_zh": s["title_zh"], "title_en": s["title_en"],
                          "level": s["level"], "parents": s["parents"], "path": s["path"]}
                         for s in index.sections.values()]}


def section_payload(index: LoadedIndex, number: str) -> dict | None:
    """One section's Markdown and place in the TOC, or None if there is no such section ("§2.1" or "2.1")."""
    s = index.sections.get(number.strip().lstrip("§").strip())
    if s is None:
        return None
    children = [x["number"] for x in index.sections.values() if x["parents"][-1:] == [s["number"]]]
    return {**{k: s[k] for k in ("number", "title_zh", "title_en", "level", "parents", "path", "file",
                                 "line", "text")}, "subsections": children}


def _error(status: int, zh: str, en: str, **extra) -> JSONResponse:
    return JSONResponse({"error": f"{zh} {en}", **extra}, status_code=status)


def _describe(errors: list[dict]) -> str:
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        if e.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        msg = e.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def create_api(settings: Settings, handle: IndexHandle, answerer: Answerer | None = None,
               pool: AnswerPool | None = None) -> FastAPI:
    answerer = answerer or Answerer(settings, handle)
    pool = pool or shared_pool(settings)  # the bound shared with the web chat and other answering routes
    app = FastAPI(title="report-qa", version="0.1.0",
                  description="Questions and answers, with cited sections, over the Chinese translation of "
                              "the InternLM2 Technical Report.《InternLM2 技术报告》中文译文问答。")
    app.state.settings, app.state.handle, app.state.answerer = settings, handle, answerer
    app.state.pool = pool

    async def require_token(authorization: str | None = Header(None)):
        if settings.api_token and authorization != f"Bearer {settings.api_token}":
            raise HTTPException(401, "缺少或错误的 API 令牌。Missing or wrong API token: send "
                                     "'Authorization: Bearer <API_TOKEN>'.")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return _error(422, "请求有误：", f"Invalid request: {_describe(exc.errors())}.",
                      details=json.loads(json.dumps(exc.errors(), default=str)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Overloaded)
    async def busy(request: Request, exc: Overloaded):
        return overloaded_response(exc)

    @app.exception_handler(IndexMissing)
    async def no_index(request: Request, exc: IndexMissing):
        return _error(503, "索引尚未建立，请先运行 `report-qa ingest`。", "No index yet: run `report-qa ingest`.")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        return _error(500, "服务器内部错误，请稍后重试。", f"Internal error ({type(exc).__name__}); please retry.")

    @app.get("/healthz", tags=["meta"])
    def healthz():
        """Index version, chunk count and the modes in use."""
        try:
            index = handle.get()
        except IndexMissing:
            return _error(503, "索引尚未建立。", "No index yet: run `report-qa ingest`.", state="no-index")
        m = index.manifest
        return {"status": "ok", "index_version": m.version, "chunk_count": m.chunk_count,
                "section_count": m.section_count, "missing_sections": m.missing,
                "retrieval_mode": index.retrieval_mode, "embedding_model": m.embedding_model,
                "generation_mode": answerer.generation_mode,
                "llm_model": settings.llm_model if answerer.generation_mode == "llm" else None,
                "notice": index.notice or None}

    @app.post("/api/ask", response_model=AskResponse, tags=["ask"], dependencies=[Depends(require_token)],
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "JSON answer, or SSE events meta/delta/reset/done when stream=true"}})
    async def ask(req: AskRequest):
        """Answer a question with cited sections. With `"stream": true`, server-sent events:
        `meta` (modes), `delta` (text), `reset` (LLM failed: discard text, extractive follows), `done` (full JSON).
        A 503 with Retry-After when every answer worker is busy and the queue is full."""
        history = [m.model_dump() for m in req.history]
        if not req.stream:  # answered in the shared pool: the event loop stays free
            return answer_payload(await pool.run(answerer.ask, req.question, history, req.top_k))
        await pool.run(handle.get)  # fail with 503 before the stream starts if there is no index

        def events() -> Iterator[str]:
            try:
                for ev in answerer.stream(req.question, history, req.top_k):
                    kind = ev.pop("type")
                    data = answer_payload(ev["answer"]) if kind == "done" else ev
                    yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            except Exception as exc:  # never a half-open stream without an explanation
                err = {"error": f"回答失败，请重试。Answering failed ({type(exc).__name__})."}
                yield f"event: error\ndata: {json.dumps(err, ensure_ascii=False)}\n\n"

        return StreamingResponse(pool.stream(events()), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/sections", tags=["sections"], dependencies=[Depends(require_token)])
    def sections():
        """The table of contents: every indexed section, in reading order."""
        return toc_payload(handle.get())

    @app.get("/api/sections/{number}", tags=["sections"], dependencies=[Depends(require_token)])
    def section(number: str):
        """One section's full Markdown text (without its sub-sections)."""
        found = section_payload(handle.get(), number)
        if found is None:
            return _error(404, f"没有第 {number} 节。", f"No section '{number}'; GET /api/sections lists them.")
        return found

    return app
