"""One token guards every door. `protect(app, settings)` wraps the whole ASGI app — the JSON API,
the Gradio chat and its /gradio_api/* routes, the docs and any route or sub-app added later — so
nothing that answers, returns report text or stores anything is reachable without API_TOKEN.

* API clients send `Authorization: Bearer <token>` (scheme case-insensitive).
* The web chat signs in once at /signin; the cookie it gets (HttpOnly, SameSite=Strict) holds an
  HMAC of the token, not the token. Comparisons are constant-time.
* Open without a token: /healthz (status only, no report text) and the sign-in page itself.
* Gradio's upload, file and proxy routes are disabled for everyone: the chat needs none of them.
* Requests from another origin are refused unless CORS_ORIGINS lists that origin.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.settings import Settings

from .limits import BodyLimit, send_error

COOKIE = "report_qa_session"
SIGNIN, SIGNOUT = "/signin", "/signout"
OPEN_PATHS = frozenset({"/healthz", SIGNIN, SIGNOUT})
COOKIE_MAX_AGE = 30 * 24 * 3600
# Gradio routes that store or serve files, proxy URLs, or edit the app: none is needed by the chat.
DISABLED = re.compile(r"^/(?:gradio_api/)?(?:upload|upload_progress|file=|file/|proxy=|process_recording|stream/"
                      r"|vibe-|undo-vibe-edit|run-history|dev/)")

UNAUTHORIZED = ("缺少或错误的访问令牌。Missing or wrong API token: send 'Authorization: Bearer <API_TOKEN>', "
                "or sign in at /signin.")
DISABLED_MSG = "此服务不提供文件上传或下载。Uploads and file routes are disabled on this server."
CROSS_ORIGIN = ("不允许跨域请求。Cross-origin request refused: list the page's origin in CORS_ORIGINS "
                "to allow it.")


def session_value(token: str) -> str:
    """What the sign-in cookie holds: an HMAC of the token (the token itself never leaves the form)."""
    return hmac.new(token.encode("utf-8"), b"report-qa session v1", hashlib.sha256).hexdigest()


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer …` header, the scheme in any case."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential.strip() else None


def is_authorized(headers: Headers, token: str | None) -> bool:
    """True when no token is configured, or the request carries it (header or sign-in cookie)."""
    if not token:
        return True
    sent = bearer_token(headers.get("authorization"))
    if sent is not None and _equal(sent, token):
        return True
    try:
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
    except Exception:  # a malformed Cookie header is simply no cookie
        cookie = None
    return cookie is not None and _equal(cookie, session_value(token))


def _safe_next(value: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 200:
        return "/"
    return value if not any(c in value for c in "\r\n\x00") else "/"


def signin_page(next_path: str = "/", error: str = "") -> bytes:
    err = f'<p class="err" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Sign in · report-qa</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; background: #f8fafc; margin: 0; }}
main {{ max-width: 26rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 12px;
  border: 1px solid #e5e7eb; }}
h1 {{ font-size: 1.25rem; margin-top: 0; }} p {{ color: #374151; line-height: 1.5; }}
label {{ display: block; margin: 1rem 0 .4rem; font-weight: 600; }}
input[type=password] {{ width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem;
  border: 1px solid #cbd5e1; border-radius: 8px; }}
button {{ margin-top: 1rem; padding: .6rem 1.2rem; font-size: 1rem; border: 0; border-radius: 8px;
  background: #4f46e5; color: #fff; cursor: pointer; }}
.err {{ color: #b91c1c; }}
</style></head>
<body><main>
<h1>《InternLM2 技术报告》问答 · report-qa</h1>
<p>此服务需要访问令牌（API_TOKEN）。输入一次即可，浏览器会记住登录。<br>
This server requires its access token (API_TOKEN). Enter it once; the browser keeps you signed in.</p>
{err}
<form method="post" action="{SIGNIN}">
<input type="hidden" name="next" value="{html.escape(_safe_next(next_path))}">
<label for="token">访问令牌 Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">登录 Sign in</button>
</form>
</main></body></html>""".encode("utf-8")


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


HTML = ("content-type", "text/html; charset=utf-8")
NO_STORE = ("cache-control", "no-store")


class TokenGuard:
    """ASGI middleware: the token check, the sign-in page and the disabled Gradio routes."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if scope["type"] == "websocket":  # the app serves no websockets; refuse any without the token
            if not is_authorized(Headers(scope=scope), self.token) or DISABLED.match(path):
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        if DISABLED.match(path):
            await send_error(send, 404, DISABLED_MSG)
            return
        if path == SIGNIN:
            await self._signin(scope, receive, send)
            return
        if path == SIGNOUT:
            expired = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            await _send(send, 303, b"", [("location", SIGNIN if self.token else "/"), ("set-cookie", expired),
                                         NO_STORE])
            return
        headers = Headers(scope=scope)
        if path in OPEN_PATHS or is_authorized(headers, self.token):
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD") and "text/html" in headers.get("accept", ""):
            await _send(send, 401, signin_page(path), [HTML, NO_STORE])  # a browser: the sign-in form
            return
        await send_error(send, 401, UNAUTHORIZED, {"www-authenticate": "Bearer", "cache-control": "no-store"})

    async def _signin(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.token:  # nothing to sign in to
            await _send(send, 303, b"", [("location", "/")])
            return
        if scope["method"] in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            await _send(send, 200, signin_page(query.get("next", ["/"])[0]), [HTML, NO_STORE])
            return
        if scope["method"] != "POST":
            await send_error(send, 405, "登录页只接受 GET 与 POST。Method not allowed: /signin accepts GET and POST.",
                             {"allow": "GET, POST"})
            return
        body = b""
        while True:  # bounded by BodyLimit, which runs first
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        try:
            form = parse_qs(body.decode("utf-8"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            form = {}
        token, next_path = form.get("token", [""])[0], _safe_next(form.get("next", ["/"])[0])
        if not token or not _equal(token, self.token):
            await _send(send, 401, signin_page(next_path, "令牌不正确，请重试。Wrong token, please try again."),
                        [HTML, NO_STORE])
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = (f"{COOKIE}={session_value(self.token)}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; "
                  f"SameSite=Strict{secure}")
        await _send(send, 303, b"", [("location", next_path), ("set-cookie", cookie), NO_STORE])


class OriginGuard:
    """Refuses a request whose Origin is neither the server's own nor listed in CORS_ORIGINS (403)."""

    def __init__(self, app: ASGIApp, allowed: list[str]):
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and origin.rstrip("/") not in self.allowed:
                # same origin: the page's host[:port] is the one this request was sent to
                own = headers.get("host") or ""
                if urlsplit(origin).netloc.lower() != own.lower() or not own:
                    if scope["type"] == "websocket":
                        await send({"type": "websocket.close", "code": 1008})
                    else:
                        await send_error(send, 403, CROSS_ORIGIN)
                    return
        await self.app(scope, receive, send)


def protect(app, settings: Settings):
    """Install the guards on `app` (a FastAPI app, before it serves). Outermost first: the body limit,
    the origin check, CORS headers for listed origins (which also keeps Gradio from adding its own),
    then the token. Returns the app."""
    app.add_middleware(TokenGuard, token=settings.api_token)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(OriginGuard, allowed=settings.cors_origin_list)
    app.add_middleware(BodyLimit)
    return app
