"""One token guards every door (issue 12.1, 12.8, 18.4): every route the app registers — the API, the
Gradio chat and its /gradio_api/* routes, the docs, and any route added later — refuses a request
without API_TOKEN; the web chat signs in once with an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from app.auth import COOKIE, DISABLED, DISABLED_MSG, OPEN_PATHS, UNAUTHORIZED, session_value
from app.limits import http_protocol_class
from app.server import create_app

from .live_server import LiveServer

TOKEN = "s3cret-token-42"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = "InternEvo 在 1024 张 GPU 上的 MFU 是多少？"


@pytest.fixture(scope="module")
def settings(built_index):
    return built_index.model_copy(update={"api_token": TOKEN})


@pytest.fixture(scope="module")
def app(settings):
    return create_app(settings)  # with the Gradio UI mounted at /


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


def registered_routes(routes, prefix: str = ""):
    """(path template, methods) of every route of the app, into mounted sub-apps and included routers."""
    for r in routes:
        if isinstance(r, Mount):
            sub = getattr(r.app, "routes", None)
            if sub:
                yield from registered_routes(sub, prefix + r.path)
            else:  # a raw ASGI app (e.g. an MCP server): probe the mount point itself
                yield prefix + r.path + "/", {"GET", "POST"}
        elif hasattr(r, "original_router"):  # FastAPI's included router
            yield from registered_routes(r.original_router.routes, prefix + r.include_context.prefix)
        elif hasattr(r, "path"):
            yield prefix + r.path, set(getattr(r, "methods", None) or {"GET"})


def concrete(template: str) -> str:
    path = re.sub(r"\{[^}]*:path\}", "a/b.txt", template)
    return re.sub(r"\{[^}]*\}", "x", path) or "/"


def all_requests(app):
    seen = set()
    for template, methods in registered_routes(app.routes):
        for method in sorted(methods):
            key = (method, concrete(template))
            if key not in seen:
                seen.add(key)
                yield key


def test_enumeration_finds_the_doors(app):
    paths = {p for _, p in all_requests(app)}
    # the walk reaches the API, the docs, Gradio's page and its queue/call/upload routes
    assert {"/api/ask", "/api/sections/x", "/docs", "/openapi.json", "/", "/config",
            "/gradio_api/queue/join", "/gradio_api/call/x", "/gradio_api/upload", "/gradio_api/info"} <= paths
    assert len(paths) > 60


def test_every_route_refuses_a_request_without_the_token(app, client):
    """Issue 18.4: a route added later (/v1/*, /mcp, …) is covered without editing this test."""
    checked = 0
    for method, path in all_requests(app):
        if path in OPEN_PATHS:
            continue
        r = client.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
        if DISABLED.match(path):
            assert r.status_code == 404, (method, path, r.status_code)
            if method != "HEAD":
                assert r.json()["error"] == DISABLED_MSG, (method, path)
        else:
            assert r.status_code in (401, 403), (method, path, r.status_code, r.text[:200])
            if method != "HEAD":
                assert r.json()["error"] == UNAUTHORIZED, (method, path)
        checked += 1
    assert checked > 60


STREAMS = re.compile(r"^/gradio_api/(heartbeat|queue/data|call/)")  # endless event streams


def test_every_route_is_reachable_with_the_token(app):
    """The other half: the guard lets the token through everywhere (so the test above can fail)."""
    client = TestClient(app, raise_server_exceptions=False)  # Gradio's queue is not started in-process
    for method, path in all_requests(app):
        if method != "GET" or DISABLED.match(path) or path in OPEN_PATHS or STREAMS.match(path):
            continue
        r = client.get(path, headers=AUTH)
        assert r.status_code != 401, (path, r.text[:200])


@pytest.mark.parametrize("header, ok", [
    (f"Bearer {TOKEN}", True),
    (f"bearer {TOKEN}", True),
    (f"BEARER   {TOKEN}", True),
    ("Bearer wrong", False),
    (f"Bearer {TOKEN}x", False),
    (f"Bearer {TOKEN[:-1]}", False),
    (f"Basic {TOKEN}", False),
    (TOKEN, False),
    ("Bearer", False),
    ("", False),
])
def test_bearer_scheme_any_case_and_exact_token(client, header, ok):
    r = client.get("/api/sections", headers={"Authorization": header})
    assert r.status_code == (200 if ok else 401), r.text[:200]
    if not ok:
        assert r.json()["error"] == UNAUTHORIZED and r.headers["www-authenticate"] == "Bearer"


def test_token_is_compared_in_constant_time(client, monkeypatch):
    import app.auth as auth

    calls = []
    real = auth.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert client.get("/api/sections", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (b"nope", TOKEN.encode()) in calls


def test_healthz_is_open_but_says_nothing_without_the_token(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    full = client.get("/healthz", headers=AUTH).json()
    assert full["status"] == "ok" and full["chunk_count"] > 100


def test_browser_gets_the_sign_in_page_then_a_strict_http_only_cookie(settings):
    c = TestClient(create_app(settings), follow_redirects=False)
    page = c.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and 'action="/signin"' in page.text and "<script" not in page.text
    wrong = c.post("/signin", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 401 and "Wrong token" in wrong.text and COOKIE not in wrong.headers.get("set-cookie", "")
    ok = c.post("/signin", data={"token": TOKEN, "next": "/?x=1"})
    assert ok.status_code == 303 and ok.headers["location"] == "/?x=1"
    cookie = ok.headers["set-cookie"]
    assert f"{COOKIE}={session_value(TOKEN)}" in cookie and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    # the cookie opens every door: the page, the API, Gradio's config
    c.cookies.set(COOKIE, session_value(TOKEN))
    assert c.get("/", headers={"Accept": "text/html"}).status_code == 200
    assert c.get("/api/sections").status_code == 200
    assert c.get("/config").status_code == 200
    # a cookie holding the raw token, or another value, is no sign-in
    c.cookies.clear()
    c.cookies.set(COOKIE, TOKEN)
    assert c.get("/api/sections").status_code == 401
    out = c.get("/signout")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_sign_in_never_redirects_off_site(settings, target):
    c = TestClient(create_app(settings, with_ui=False), follow_redirects=False)
    r = c.post("/signin", data={"token": TOKEN, "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_sign_in_page_escapes_what_it_shows(settings):
    c = TestClient(create_app(settings, with_ui=False))
    r = c.get("/signin", params={"next": '/"><script>alert(1)</script>'})
    assert "<script>" not in r.text and r.status_code == 200


def test_uploads_and_files_are_disabled_even_with_the_token(client):
    r = client.post("/gradio_api/upload", headers=AUTH, files={"files": ("a.txt", b"hello")})
    assert r.status_code == 404 and r.json()["error"] == DISABLED_MSG
    for path in ("/gradio_api/file=/etc/passwd", "/gradio_api/file/a.txt", "/gradio_api/proxy=http://x/",
                 "/gradio_api/upload_progress", "/file=/etc/passwd", "/upload"):
        r = client.get(path, headers=AUTH)
        assert r.status_code == 404 and r.json()["error"] == DISABLED_MSG, path


def test_use_via_api_link_is_hidden(client):
    config = client.get("/config", headers=AUTH).json()
    assert "api" not in config["footer_links"] and "settings" in config["footer_links"]


# --- cross-origin use (issue 12.8) ------------------------------------------------------------------

def test_no_cross_origin_use_by_default(built_index):
    c = TestClient(create_app(built_index.model_copy(), with_ui=False))  # no token: only the origin counts
    for origin in ("http://localhost:9999", "http://127.0.0.1:8000", "null", "https://evil.example"):
        r = c.post("/api/ask", json={"question": "GQA"}, headers={"Origin": origin})
        assert r.status_code == 403 and "CORS_ORIGINS" in r.json()["error"], origin
        assert "access-control-allow-origin" not in r.headers
        pre = c.options("/api/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    # the page's own origin (what the Gradio frontend sends) is not cross-origin
    assert c.post("/api/ask", json={"question": "GQA"}, headers={"Origin": "http://testserver"}).status_code == 200


def test_cors_origins_allows_exactly_the_listed_origins(built_index):
    s = built_index.model_copy(update={"cors_origins": "https://ok.example, https://also.example/"})
    c = TestClient(create_app(s))
    pre = c.options("/api/ask", headers={"Origin": "https://ok.example", "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://ok.example"
    assert "access-control-allow-credentials" not in pre.headers  # cookies never cross origins
    r = c.post("/api/ask", json={"question": "GQA"}, headers={"Origin": "https://also.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://also.example"
    assert c.post("/api/ask", json={"question": "GQA"}, headers={"Origin": "https://evil.example"}).status_code == 403
    # Gradio's own localhost CORS reflection stays off
    g = c.options("/gradio_api/queue/join", headers={"Origin": "http://localhost:1234",
                                                     "Access-Control-Request-Method": "POST"})
    assert g.status_code == 403 and "access-control-allow-origin" not in g.headers


# --- a real server: raw HTTP and gradio_client ----------------------------------------------------------

@pytest.fixture(scope="module")
def live(app):
    with LiveServer(app, start_timeout=60, http=http_protocol_class()) as server:
        yield server.url


@pytest.mark.slow
def test_gradio_routes_over_raw_http(live):
    with httpx.Client(base_url=live, timeout=30) as h:
        r = h.post("/gradio_api/call/respond", json={"data": ["InternEvo 的 MFU 是多少？", [], [], {}]})
        assert r.status_code == 401 and r.json()["error"] == UNAUTHORIZED
        assert h.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}).status_code == 401
        assert h.get("/gradio_api/info").status_code == 401
        assert h.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code == 404
        r = h.post("/gradio_api/call/respond", json={"data": [QUESTION, [], [], {}]},
                   headers={"authorization": f"bearer {TOKEN}"})
        assert r.status_code == 200, r.text[:300]
        event_id = r.json()["event_id"]
        assert h.get(f"/gradio_api/call/respond/{event_id}").status_code == 401
        with h.stream("GET", f"/gradio_api/call/respond/{event_id}", headers=AUTH) as s:
            body = s.read().decode()
        assert "event: complete" in body and "53%" in body, body[-800:]


@pytest.mark.slow
def test_gradio_client_needs_the_token(live):
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(live + "/", verbose=False)
    client = Client(live + "/", headers=AUTH, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)
    params = api["named_endpoints"]["/respond"]["parameters"]
    args = [QUESTION] + [p.get("parameter_default") for p in params[1:]]
    result = client.predict(*args, api_name="/respond")
    assert "53%" in str(result)
    # the same call with a wrong token fails
    with pytest.raises(Exception):
        Client(live + "/", headers={"Authorization": "Bearer wrong"}, verbose=False)
