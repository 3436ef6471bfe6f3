"""HTTP API: POST /api/ask (JSON or SSE), GET /api/sections, GET /api/sections/{number}, GET /healthz."""

from __future__ import annotations

import json
import re
from typing import Iterator, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.settings import Settings

from .answer import Answer, Answerer
from .auth import UNAUTHORIZED, is_authorized
from .index import IndexHandle, IndexMissing, IndexUnreadable, LoadedIndex
from .textstream import stream_pieces
from .weblayer import add_offline_docs
from .workers import AnswerPool, Overloaded, overloaded_response, shared_pool

MAX_QUESTION = 2000
# control and format characters (NUL, zero-width spaces, BOM, direction marks), except tab and newlines
INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
SECTION_NUMBER = re.compile(r"§?\s*(?:\d+|A)(?:\.\d+)*")


def _no_surrogates(v: str) -> str:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains invalid characters (lone surrogates)") from None
    return v


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: StrictStr = Field(max_length=20000)

    _valid_text = field_validator("content")(_no_surrogates)


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
        v = INVISIBLE.sub("", _no_surrogates(v)).strip()
        if not v:
            raise ValueError("question is empty")
        return v


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


def _error(status: int, zh: str, en: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": f"{zh} {en}", **extra}, status_code=status, headers=headers)


def _clean(x: object, limit: int = 40) -> str:
    """A field name or message, short and encodable (never the submitted value itself)."""
    text = str(x).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def _details(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors:
        loc = [_clean(x) for x in e.get("loc", ())]
        if e.get("type") == "extra_forbidden" and loc:  # the name is the client's, not ours: not echoed
            loc[-1] = "(unknown field)"
        out.append({"loc": loc, "type": _clean(e.get("type", "")),
                    "msg": _clean(e.get("msg", ""), 200).removeprefix("Value error, ")})
    return out


# Starlette's own client errors (routing, body parsing) in our words
HTTP_SENTENCES = {
    400: ("请求体无法解析。", "The request body could not be parsed: send UTF-8 JSON."),
    401: ("缺少或错误的访问令牌。", UNAUTHORIZED.split("。", 1)[1]),
    404: ("没有这个地址。", "Not found: see /docs for the API."),
    405: ("不支持该请求方法。", "Method not allowed for this path: see /docs (POST /api/ask, GET /api/sections)."),
    413: ("请求体过大。", "Request body too large."),
    415: ("请求类型不受支持。", "Unsupported content type: send application/json."),
}


def _describe(errors: list[dict]) -> str:
    parts = []
    for e in _details(errors):
        loc = ".".join(x for x in e["loc"] if x != "body")
        if e.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        msg = e["msg"] or "invalid"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def add_api_fallbacks(app: FastAPI) -> None:
    """Unknown /api/* paths and wrong methods get our 404/405 sentences. Call after every /api route is
    registered and before the Gradio mount at "/" (which would otherwise answer them)."""
    api_paths = [r for r in app.routes if getattr(r, "path", "").startswith("/api/")]

    @app.api_route("/api/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                   include_in_schema=False)
    def api_fallback(rest: str, request: Request):
        scope = {"type": "http", "path": request.url.path, "method": request.method}
        allowed = sorted({m for r in api_paths if r.matches(scope)[0].name != "NONE"
                          for m in (getattr(r, "methods", None) or ())})
        if allowed:
            return _error(405, *HTTP_SENTENCES[405], headers={"Allow": ", ".join(allowed)})
        return _error(404, *HTTP_SENTENCES[404])


def create_api(settings: Settings, handle: IndexHandle, answerer: Answerer | None = None,
               pool: AnswerPool | None = None) -> FastAPI:
    answerer = answerer or Answerer(settings, handle)
    pool = pool or shared_pool(settings)  # the bound shared with the web chat and other answering routes
    app = FastAPI(title="report-qa", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Questions and answers, with cited sections, over the Chinese translation of "
                              "the InternLM2 Technical Report.《InternLM2 技术报告》中文译文问答。")
    add_offline_docs(app, "report-qa")  # Swagger UI from local assets: /docs renders with no network
    app.state.settings, app.state.handle, app.state.answerer = settings, handle, answerer
    app.state.pool = pool

    async def require_token(request: Request):
        # app/auth.py guards the whole app; this keeps the API closed if it is ever served alone
        if not is_authorized(request.headers, settings.api_token):
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # never the submitted values: they may be huge, unprintable or not serialisable (NaN, surrogates)
        return _error(422, "请求有误：", f"Invalid request: {_describe(exc.errors())}.",
                      details=_details(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc.detail, str) and not exc.detail.isascii():  # raised by our code: already a sentence
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        zh, en = HTTP_SENTENCES.get(exc.status_code, ("请求有误。", "Invalid request."))
        return _error(exc.status_code, zh, en, headers=exc.headers)

    @app.exception_handler(Overloaded)
    async def busy(request: Request, exc: Overloaded):
        return overloaded_response(exc)

    @app.exception_handler(IndexMissing)
    async def no_index(request: Request, exc: IndexMissing):
        if isinstance(exc, IndexUnreadable):
            return _error(503, "索引无法读取，请运行 `report-qa ingest` 重建。", f"The index is unreadable: {exc}.")
        return _error(503, "索引尚未建立，请先运行 `report-qa ingest`。", "No index yet: run `report-qa ingest`.")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        return _error(500, "服务器内部错误，请稍后重试。", f"Internal error ({type(exc).__name__}); please retry.")

    @app.get("/healthz", tags=["meta"])
    def healthz(request: Request):
        """Index version, chunk count and the modes in use (only `status` without the API token)."""
        try:
            index = handle.get()
        except IndexMissing:
            return _error(503, "索引尚未建立或无法读取。", "No usable index: run `report-qa ingest`.", state="no-index")
        if not is_authorized(request.headers, settings.api_token):
            return {"status": "ok"}
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
                extractive = True
                for ev in answerer.stream(req.question, history, req.top_k):
                    kind = ev.pop("type")
                    if kind == "meta":
                        extractive = ev["mode"].get("generation") == "extractive"
                    if kind == "delta" and extractive:  # ready at once: sent a few words at a time
                        for piece in stream_pieces(ev["text"]):
                            yield f"event: delta\ndata: {json.dumps({'text': piece}, ensure_ascii=False)}\n\n"
                        continue
                    if kind == "reset":
                        extractive = True
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
            shown = number.strip() if SECTION_NUMBER.fullmatch(number.strip()) else "…"
            return _error(404, f"没有第 {shown} 节。", f"No section '{shown}'; GET /api/sections lists them.")
        return found

    return app
