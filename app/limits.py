"""Request bounds for the whole app: the body is limited (64 KB) and read before any route parses it,
malformed framing gets our sentence, and uvicorn's own 400 for unparsable HTTP says the same."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024

TOO_LARGE = (f"请求体过大（上限 {MAX_BODY_BYTES // 1024} KB）。"
             f"Request body too large: at most {MAX_BODY_BYTES // 1024} KB.")
BAD_FRAMING = ("请求格式有误：Content-Length 与 Transfer-Encoding 冲突或无效。"
               "Malformed request: conflicting or invalid Content-Length / Transfer-Encoding.")
BAD_HTTP = "无法解析的 HTTP 请求。Malformed HTTP request: it could not be parsed."


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """A complete JSON error response {"error": message} (our sentence, never the input)."""
    body = error_body(message)
    raw = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Reads the whole request body (at most `max_bytes`) before the app sees it, then replays it.

    Content-Length above the limit is refused without reading; a chunked body is refused as soon as it
    passes the limit. Both Content-Length and Transfer-Encoding, several differing Content-Lengths or
    a non-numeric one are a 400."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        lengths = headers.getlist("content-length")
        if lengths and ("transfer-encoding" in headers or len(set(lengths)) > 1
                        or not lengths[0].strip().isdigit()):
            await send_error(send, 400, BAD_FRAMING, {"connection": "close"})
            return
        if lengths and int(lengths[0]) > self.max_bytes:
            await send_error(send, 413, TOO_LARGE, {"connection": "close"})
            return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await send_error(send, 413, TOO_LARGE, {"connection": "close"})
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        buffered: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)


def http_protocol_class():
    """uvicorn's HTTP protocol whose 400 for unparsable requests (e.g. Content-Length together with
    Transfer-Encoding, which the parser rejects before the app runs) carries our sentence."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class Protocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        def send_400_response(self, msg: str) -> None:
            body = error_body(BAD_HTTP)
            head = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n")
            self.transport.write(head + body)
            self.transport.close()

    return Protocol
