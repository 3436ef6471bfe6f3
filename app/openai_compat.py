"""OpenAI-compatible chat API over the same Answerer: GET /v1/models, POST /v1/chat/completions.

The last user message is the question, earlier user/assistant messages are the history. The answer
text keeps its [§N] markers; responses also carry a top-level `citations` list (and `answerable`,
`notice`) that standard clients ignore. API_TOKEN is the API key: app/auth.py guards /v1 like every
route. Parameters we do not use (temperature, max_tokens, tools, …) are ignored; a body of the wrong
shape gets OpenAI's error object with a 400.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ingest.settings import Settings

from .answer import Answer, Answerer
from .auth import UNAUTHORIZED, is_authorized
from .api import MAX_QUESTION, answer_payload
from .index import IndexHandle, IndexMissing
from .workers import AnswerPool, Overloaded, shared_pool

MODEL_ID = "report-qa"
MAX_BODY = 512 * 1024  # bytes
MAX_MESSAGES = 100
MAX_CONTENT = 20000  # characters per earlier message, as /api/ask's history


class OpenAIError(Exception):
    """A request we refuse, reported as OpenAI's error object."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": self.type, "param": self.param,
                                       "code": self.code}}, status_code=self.status, headers=headers)


def _bad(param: str | None, zh: str, en: str) -> OpenAIError:
    return OpenAIError(400, f"请求有误：{zh} Invalid request: {en}", param=param)


@dataclass
class ChatRequest:
    question: str
    history: list[dict] = field(default_factory=list)
    stream: bool = False


def _checked(text: str, param: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON)
        raise _bad(param, "文本含有无效字符。", "the text contains invalid characters (lone surrogates).") from None
    return text


def _text(content: object, param: str) -> str:
    """A message's text: a string, or a list of {"type": "text", "text": …} parts."""
    if isinstance(content, str):
        return _checked(content, param)
    if isinstance(content, list):
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise _bad(param, "只支持文本内容。", "only text content parts are supported.")
            parts.append(part["text"])
        return _checked("\n".join(parts), param)
    if content is None:
        return ""
    raise _bad(param, "content 必须是字符串或文本片段列表。", "content must be a string or a list of text parts.")


def parse_chat_request(body: object) -> ChatRequest:
    """Validate a chat.completions body; unknown parameters are ignored."""
    if not isinstance(body, dict):
        raise _bad(None, "请求体必须是 JSON 对象。", "the body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("model", "缺少 model（用 report-qa）。", "'model' must be a string, e.g. 'report-qa'.")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "stream 必须是 true 或 false。", "'stream' must be a boolean.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "messages 必须是非空列表。", "'messages' must be a non-empty list.")
    if len(messages) > MAX_MESSAGES:
        raise _bad("messages", f"最多 {MAX_MESSAGES} 条消息。", f"at most {MAX_MESSAGES} messages are accepted.")
    turns: list[dict] = []
    for i, m in enumerate(messages):
        param = f"messages.[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _bad(param, "每条消息都要有 role 和 content。", "each message needs a 'role' and a 'content'.")
        text = _text(m.get("content"), f"{param}.content")
        if m["role"] in ("user", "assistant"):
            if len(text) > MAX_CONTENT:
                raise _bad(f"{param}.content", f"单条消息最多 {MAX_CONTENT} 个字符。",
                           f"a message may have at most {MAX_CONTENT} characters.")
            turns.append({"role": m["role"], "content": text})
        elif m["role"] not in ("system", "developer", "tool", "function"):
            raise _bad(f"{param}.role", "role 只能是 system、developer、user、assistant 或 tool。",
                       "role must be one of system, developer, user, assistant, tool.")
        # system/developer/tool messages are ignored: the answerer has its own instructions
    if not turns or turns[-1]["role"] != "user":
        raise _bad("messages", "最后一条消息必须来自 user，即要问的问题。",
                   "the last message must be the user's question.")
    question = turns[-1]["content"].strip()
    if not question:
        raise _bad("messages", "问题为空。", "the question (last user message) is empty.")
    if len(question) > MAX_QUESTION:
        raise _bad("messages", f"问题最多 {MAX_QUESTION} 个字符。",
                   f"the question may have at most {MAX_QUESTION} characters.")
    history = [t for t in turns[:-1] if t["content"].strip()]
    return ChatRequest(question, history, bool(stream))


def completion_payload(a: Answer, cid: str, created: int) -> dict:
    """A `chat.completion` object for one answer, plus our citations."""
    extra = answer_payload(a)
    return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": a.answer},
                         "finish_reason": "stop", "logprobs": None}],
            "citations": extra["citations"], "answerable": a.answerable, "notice": a.notice}


def _chunk(cid: str, created: int, delta: dict, finish: str | None = None, **extra) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def completion_chunks(answerer: Answerer, req: ChatRequest, cid: str, created: int) -> Iterator[str]:
    """The answerer's events as `chat.completion.chunk` SSE lines, ending with `data: [DONE]`."""
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    sent = False
    try:
        for ev in answerer.stream(req.question, req.history):
            if ev["type"] == "delta":
                sent = True
                yield _chunk(cid, created, {"content": ev["text"]})
            elif ev["type"] == "reset":
                # the LLM failed: streamed text cannot be taken back, so say so before the extractive answer
                yield _chunk(cid, created, {"content": f"{chr(10) * 2 if sent else ''}（{ev['notice']}）\n\n"})
            elif ev["type"] == "done":
                a: Answer = ev["answer"]
                yield _chunk(cid, created, {}, "stop", citations=answer_payload(a)["citations"],
                             answerable=a.answerable, notice=a.notice)
    except Exception as exc:  # never a half-open stream without an explanation
        err = {"message": f"回答失败，请重试。Answering failed ({type(exc).__name__}); please retry.",
               "type": "server_error", "param": None, "code": None}
        yield f"data: {json.dumps({'error': err}, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


async def _read_json(request: Request) -> object:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise _bad(None, "请求体过大。", f"the body is larger than {MAX_BODY // 1024} KB.")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_BODY:
            raise _bad(None, "请求体过大。", f"the body is larger than {MAX_BODY // 1024} KB.")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _bad(None, "请求体不是合法的 JSON。", "the body is not valid JSON.") from None


def openai_router(settings: Settings, handle: IndexHandle, answerer: Answerer,
                  pool: AnswerPool | None = None) -> APIRouter:
    """The /v1 routes; answers run in the answer pool shared with /api/ask and the web chat."""
    pool = pool or shared_pool(settings)
    router = APIRouter(prefix="/v1", tags=["openai"])

    def check_key(request: Request) -> None:
        # app/auth.py guards the whole app; this keeps /v1 closed (as OpenAI's 401) if it is ever served alone
        if not is_authorized(request.headers, settings.api_token):
            raise OpenAIError(401, UNAUTHORIZED, code="invalid_api_key")

    def no_index() -> OpenAIError:
        return OpenAIError(503, "索引尚未建立，请先运行 `report-qa ingest`。No index yet: run `report-qa ingest`.",
                           type_="server_error", code="no_index")

    @router.get("/models")
    def models(request: Request):
        """The one model this server answers as: `report-qa`."""
        try:
            check_key(request)
        except OpenAIError as exc:
            return exc.response()
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0,
                                            "owned_by": "report-qa"}]}

    @router.post("/chat/completions")
    async def chat_completions(request: Request):
        """OpenAI chat completions: the last user message is the question; `stream: true` sends
        `chat.completion.chunk` events and `data: [DONE]`. Responses add a top-level `citations` list."""
        try:
            check_key(request)
            req = parse_chat_request(await _read_json(request))
            cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
            if req.stream:
                await pool.run(handle.get)  # 503 before the stream starts if there is no index
                return StreamingResponse(pool.stream(completion_chunks(answerer, req, cid, created)),
                                         media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            a = await pool.run(answerer.ask, req.question, req.history)
            return completion_payload(a, cid, created)
        except OpenAIError as exc:
            return exc.response()
        except IndexMissing:
            return no_index().response()
        except Overloaded as exc:  # every answer worker busy and the queue full, as /api/ask
            return OpenAIError(503, str(exc), type_="server_error", code="overloaded").response(
                {"Retry-After": str(exc.retry_after)})

    return router
