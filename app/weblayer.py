"""What wraps every HTTP response: a Content-Security-Policy, one log line per request, offline /docs.

* `SecurityHeaders` sends a CSP that allows scripts only from our own origin, plus — on an HTML page —
  the exact inline scripts that page itself carries (their SHA-256 hashes, computed from the body the
  server sends). A script injected later into the page (an `onerror=` attribute, a `<script>` in a
  message, a `javascript:` link) matches no hash and does not run. No `unsafe-inline`, no `unsafe-eval`.
* `AccessLog` logs `GET /api/ask 200 12 ms` per request; the query string (where `/?q=…` carries a
  question) only when LOG_QUESTIONS is on. Bodies are never logged.
* `add_offline_docs` serves Swagger UI from the assets of the `fastapi-offline` package, so /docs
  renders with no network.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import sys
import threading
import time
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "report_qa.access"
_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
_MAX_HTML = 4 * 1024 * 1024  # an HTML page larger than this is passed through with the strict policy

BASE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",  # Gradio, KaTeX and Swagger UI set inline styles
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "media-src": "'self' blob:",
    "worker-src": "'self' blob:",
    "frame-src": "'none'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}


def inline_script_hashes(body: bytes) -> list[str]:
    """CSP source expressions for each inline <script> of an HTML page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'"
            for m in _INLINE_SCRIPT.finditer(body)]


def content_security_policy(script_hashes: list[str] | None = None) -> str:
    policy = dict(BASE_POLICY)
    if script_hashes:
        policy["script-src"] = " ".join(["'self'", *dict.fromkeys(script_hashes)])
    return "; ".join(f"{k} {v}" for k, v in policy.items())


class SecurityHeaders:
    """ASGI middleware: CSP (with the page's own inline-script hashes on HTML) and nosniff on every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        accept = dict(scope["headers"]).get(b"accept", b"")
        if scope["method"] == "GET" and b"text/html" in accept:
            # a page's body is read here to hash its inline scripts: ask for it uncompressed
            # (scripts, styles and data, which do not ask for text/html, stay compressed)
            headers = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
            scope = {**scope, "headers": headers}
        start: Message | None = None
        chunks: list[bytes] = []

        def common(message: Message, policy: str) -> MutableHeaders:
            h = MutableHeaders(scope=message)
            h["Content-Security-Policy"] = policy
            h["X-Content-Type-Options"] = "nosniff"
            h["Referrer-Policy"] = "same-origin"
            return h

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if (h.get("content-type", "").startswith("text/html") and scope["method"] == "GET"
                        and "content-encoding" not in h):
                    start = message  # hold it until the body is known
                    return
                common(message, content_security_policy())
                return await send(message)
            if start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                size = sum(map(len, chunks))
                if message.get("more_body") and size <= _MAX_HTML:
                    return
                body = b"".join(chunks)
                chunks.clear()
                held, start = start, None
                common(held, content_security_policy(inline_script_hashes(body) if size <= _MAX_HTML else None))
                await send(held)
                return await send({"type": "http.response.body", "body": body,
                                   "more_body": message.get("more_body", False)})
            return await send(message)

        await self.app(scope, receive, wrapped)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test runner may swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_access_log() -> logging.Logger:
    """Send the access log, one line per request, to stderr."""
    log = logging.getLogger(ACCESS_LOGGER)
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO)
    return log


class AccessLog:
    """ASGI middleware: `METHOD /path STATUS N ms` once per request, after its last byte is sent."""

    def __init__(self, app: ASGIApp, log_questions: bool = False):
        self.app = app
        self.log_questions = log_questions
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500
        logged = False
        path = scope.get("root_path", "") + scope.get("path", "")
        if self.log_questions and scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        # never a control character in the log, whatever the path holds
        path = path.encode("unicode_escape").decode("ascii")

        def line() -> None:
            nonlocal logged
            if not logged:
                logged = True
                ms = (time.perf_counter() - t0) * 1000
                self.log.info("%s %s %d %.0f ms", scope["method"], path, status, ms)

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                line()

        try:
            await self.app(scope, receive, wrapped)
        finally:
            line()  # also when the client went away or the app raised


def add_offline_docs(app, title: str) -> None:
    """Swagger UI at /docs from local assets (no CDN): FastAPI's page with our URLs."""
    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=static), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} · API docs",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None})


GOODBYE = "已停止，再见。Server stopped. Goodbye."
SHUTTING_DOWN = threading.Event()


class DisconnectOnShutdown:
    """ASGI middleware: once the server is stopping, a request still waiting for its client (a
    server-sent-event stream such as the chat's queue) is told the client left, so it ends now
    instead of holding the shutdown until a timeout cancels it with a traceback."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def receive_or_stop() -> Message:
            if SHUTTING_DOWN.is_set():
                return {"type": "http.disconnect"}
            task = asyncio.ensure_future(receive())
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.5)
                if done:
                    return task.result()
                if SHUTTING_DOWN.is_set():
                    task.cancel()
                    return {"type": "http.disconnect"}

        await self.app(scope, receive_or_stop, send)


def serve_until_stopped(app, **uvicorn_kwargs) -> None:
    """Run uvicorn with the access log on; Ctrl-C or SIGTERM finishes the requests in flight (3 s at
    most), prints one goodbye line and returns — no re-raised signal, no traceback, exit status 0."""
    import uvicorn

    configure_access_log()

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            SHUTTING_DOWN.set()
            super().handle_exit(sig, frame)
            getattr(self, "_captured_signals", []).clear()  # uvicorn would re-raise it after shutdown

    uvicorn_kwargs.setdefault("timeout_graceful_shutdown", 3)
    server = Server(uvicorn.Config(app, **uvicorn_kwargs))
    try:
        server.run()
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        pass
    print(GOODBYE, flush=True)
