"""Hostile input (issue 12.6): every bad request is a 4xx with our sentence — never a 500, never a bare
400, never the input echoed back — and the body is bounded (64 KB) before anything parses it."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import anyio
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.limits import BAD_FRAMING, BAD_HTTP, MAX_BODY_BYTES, TOO_LARGE, http_protocol_class
from app.server import create_app

from .conftest import free_port

MARK = "ECHO-MARK-7f3a"  # planted in bad input: it must never come back
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def app(built_index):
    return create_app(built_index.model_copy())  # the whole app, Gradio mounted at "/" included


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app, raise_server_exceptions=False)


def ours(body: bytes) -> str:
    """The error sentence: JSON {"error": …}, Chinese first with English."""
    err = json.loads(body)["error"]
    assert CJK.search(err) and re.search(r"[A-Za-z]{3,}", err), err
    return err


def j(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=True).encode()


def deep(n: int) -> bytes:
    return b'{"question": ' + b"[" * n + b"]" * n + b"}"


JSON = {"content-type": "application/json"}
Q = '{"question": "GQA", '

# (id, method, path, body, extra headers, status, fragment of our sentence)
CASES = [
    ("empty", "POST", "/api/ask", j({"question": ""}), JSON, 422, "question is empty"),
    ("whitespace", "POST", "/api/ask", j({"question": " \n\t\u3000 "}), JSON, 422, "question is empty"),
    ("nul-only", "POST", "/api/ask", j({"question": "\x00\x00\x00"}), JSON, 422, "question is empty"),
    ("zero-width-only", "POST", "/api/ask", j({"question": "\u200b\u200c\u200d\u2060\ufeff"}), JSON, 422,
     "question is empty"),
    ("nul-and-zero-width", "POST", "/api/ask", j({"question": " \x00\u200b \x01\u200e\u202e "}), JSON, 422,
     "question is empty"),
    ("too-long", "POST", "/api/ask", j({"question": "长" * 2001}), JSON, 422, "at most 2000"),
    ("60kb-question", "POST", "/api/ask", j({"question": MARK + "x" * 60_000}), JSON, 422, "at most 2000"),
    ("50mb-question", "POST", "/api/ask", b'{"question": "' + b"x" * 50_000_000 + b'"}', JSON, 413, TOO_LARGE),
    ("65kb-json", "POST", "/api/ask", j({"question": "GQA", "history": [{"role": "user", "content": "y" * 19_000}] * 4}),
     JSON, 413, TOO_LARGE),
    ("question-int", "POST", "/api/ask", j({"question": 42}), JSON, 422, "question"),
    ("question-list", "POST", "/api/ask", j({"question": ["a"]}), JSON, 422, "question"),
    ("question-null", "POST", "/api/ask", j({"question": None}), JSON, 422, "question"),
    ("question-object", "POST", "/api/ask", j({"question": {"$gt": ""}}), JSON, 422, "question"),
    ("question-missing", "POST", "/api/ask", j({}), JSON, 422, "question"),
    ("top-k-string", "POST", "/api/ask", j({"question": "GQA", "top_k": "five"}), JSON, 422, "top_k"),
    ("top-k-zero", "POST", "/api/ask", j({"question": "GQA", "top_k": 0}), JSON, 422, "top_k"),
    ("top-k-negative", "POST", "/api/ask", j({"question": "GQA", "top_k": -1}), JSON, 422, "top_k"),
    ("top-k-huge", "POST", "/api/ask", j({"question": "GQA", "top_k": 500}), JSON, 422, "top_k"),
    ("top-k-float", "POST", "/api/ask", j({"question": "GQA", "top_k": 2.5}), JSON, 422, "top_k"),
    ("top-k-bool", "POST", "/api/ask", j({"question": "GQA", "top_k": True}), JSON, 422, "top_k"),
    ("top-k-nan", "POST", "/api/ask", (Q + '"top_k": NaN}').encode(), JSON, 422, "top_k"),
    ("top-k-infinity", "POST", "/api/ask", (Q + '"top_k": Infinity}').encode(), JSON, 422, "top_k"),
    ("top-k-1e400", "POST", "/api/ask", (Q + '"top_k": 1e400}').encode(), JSON, 422, "top_k"),
    ("top-k--1e400", "POST", "/api/ask", (Q + '"top_k": -1e400}').encode(), JSON, 422, "top_k"),
    ("top-k-bigint", "POST", "/api/ask", (Q + '"top_k": ' + "9" * 4000 + "}").encode(), JSON, 422, ""),
    ("stream-string", "POST", "/api/ask", j({"question": "GQA", "stream": "yes"}), JSON, 422, "stream"),
    ("history-string", "POST", "/api/ask", j({"question": "GQA", "history": "previous"}), JSON, 422, "history"),
    ("history-role", "POST", "/api/ask", j({"question": "GQA", "history": [{"role": "system", "content": "x"}]}),
     JSON, 422, "history"),
    ("history-too-many", "POST", "/api/ask",
     j({"question": "GQA", "history": [{"role": "user", "content": "x"}] * 41}), JSON, 422, "history"),
    ("history-content-int", "POST", "/api/ask", j({"question": "GQA", "history": [{"role": "user", "content": 1}]}),
     JSON, 422, "history"),
    ("history-extra-field", "POST", "/api/ask",
     j({"question": "GQA", "history": [{"role": "user", "content": "x", "name": "y"}]}), JSON, 422, "history"),
    ("history-surrogate", "POST", "/api/ask",
     b'{"question": "GQA", "history": [{"role": "user", "content": "a\\ud800b"}]}', JSON, 422, "history"),
    ("lone-high-surrogate", "POST", "/api/ask", b'{"question": "\\ud800"}', JSON, 422, "question"),
    ("lone-low-surrogate", "POST", "/api/ask", b'{"question": "GQA \\udfff"}', JSON, 422, "question"),
    ("unknown-field", "POST", "/api/ask", j({"question": "GQA", "unknown": 1}), JSON, 422, "unknown"),
    ("huge-unknown-key", "POST", "/api/ask", j({"question": "GQA", MARK + "k" * 5000: 1}), JSON, 422, "Extra inputs"),
    ("surrogate-key", "POST", "/api/ask", b'{"question": "GQA", "\\ud800": 1}', JSON, 422, "Invalid request"),
    ("malformed-json", "POST", "/api/ask", b'{"question": "hi"', JSON, 422, "not valid JSON"),
    ("trailing-garbage", "POST", "/api/ask", b'{"question": "hi"} xx', JSON, 422, "not valid JSON"),
    ("non-utf8-body", "POST", "/api/ask", b'{"question": "\xff\xfe\xfa GQA"}', JSON, 400, "UTF-8"),
    ("latin1-body", "POST", "/api/ask", '{"question": "café"}'.encode("latin-1"), JSON, 400, "UTF-8"),
    ("deep-json-1000", "POST", "/api/ask", deep(1000), JSON, 4, ""),
    ("deep-json-30000", "POST", "/api/ask", deep(30_000), JSON, 4, ""),
    ("json-array", "POST", "/api/ask", b"[]", JSON, 422, ""),
    ("json-string", "POST", "/api/ask", b'"GQA"', JSON, 422, ""),
    ("json-null", "POST", "/api/ask", b"null", JSON, 422, ""),
    ("empty-body", "POST", "/api/ask", b"", JSON, 422, ""),
    ("text-plain", "POST", "/api/ask", j({"question": "GQA"}), {"content-type": "text/plain"}, 422, ""),
    ("form-body", "POST", "/api/ask", b"question=GQA", {"content-type": "application/x-www-form-urlencoded"}, 422, ""),
    ("cl-and-te", "POST", "/api/ask", j({"question": "GQA"}), {**JSON, "transfer-encoding": "chunked"}, 400,
     BAD_FRAMING),
    ("two-content-lengths", "POST", "/api/ask", j({"question": "GQA"}), {**JSON, "content-length": ["17", "5"]},
     400, BAD_FRAMING),
    ("bad-content-length", "POST", "/api/ask", j({"question": "GQA"}), {**JSON, "content-length": "12abc"}, 400,
     BAD_FRAMING),
    ("negative-content-length", "POST", "/api/ask", j({"question": "GQA"}), {**JSON, "content-length": "-5"}, 400,
     BAD_FRAMING),
    ("get-ask", "GET", "/api/ask", b"", {}, 405, "Method not allowed"),
    ("put-ask", "PUT", "/api/ask", j({"question": "GQA"}), JSON, 405, "Method not allowed"),
    ("delete-sections", "DELETE", "/api/sections", b"", {}, 405, "Method not allowed"),
    ("post-section", "POST", "/api/sections/2.1", b"{}", JSON, 405, "Method not allowed"),
    ("unknown-api-path", "GET", "/api/nope", b"", {}, 404, "Not found"),
    ("unknown-section", "GET", "/api/sections/9.9", b"", {}, 404, "9.9"),
    ("script-section", "GET", "/api/sections/%3Cscript%3E" + MARK, b"", {}, 404, "No section"),
    ("invalid-utf8-path", "GET", "/api/sections/%ED%A0%80%FF", b"", {}, 404, "No section"),
    ("long-section", "GET", "/api/sections/" + MARK + "9" * 3000, b"", {}, 404, "No section"),
    ("cross-origin", "POST", "/api/ask", j({"question": "GQA"}), {**JSON, "origin": "http://localhost:9999"}, 403,
     "CORS_ORIGINS"),
]


async def _asgi(app, method: str, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
    """One request straight through the ASGI app: any header combination, the body in 16 KB pieces."""
    raw_path, _, query = path.partition("?")
    hdrs = [(b"host", b"testserver")]
    if "content-length" not in headers and body:
        hdrs.append((b"content-length", str(len(body)).encode()))
    for k, v in headers.items():
        for one in (v if isinstance(v, list) else [v]):
            hdrs.append((k.encode(), one.encode()))
    from urllib.parse import unquote_to_bytes

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape"),
             "raw_path": raw_path.encode(), "query_string": query.encode(), "root_path": "", "headers": hdrs,
             "client": ("127.0.0.1", 1234), "server": ("testserver", 80), "state": {}}
    pieces = [body[i:i + 16384] for i in range(0, len(body), 16384)] or [b""]
    sent = {"n": 0}

    async def receive():
        if sent["n"] < len(pieces):
            i = sent["n"]
            sent["n"] += 1
            return {"type": "http.request", "body": pieces[i], "more_body": i < len(pieces) - 1}
        await anyio.sleep(3600)
        return {"type": "http.disconnect"}

    out: dict = {"status": None, "headers": {}, "body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode("latin-1") for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    with anyio.fail_after(60):
        await app(scope, receive, send)
    return out["status"], out["headers"], out["body"]


def run(app, method, path, body=b"", headers=None):
    return anyio.run(_asgi, app, method, path, body, headers or {})


def test_at_least_forty_kinds():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name, method, path, body, headers, status, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_with_our_sentence(app, name, method, path, body, headers, status, fragment):
    t0 = time.perf_counter()
    code, _, raw = run(app, method, path, body, headers)
    if status == 4:  # any client error
        assert 400 <= code < 500, (code, raw[:300])
    else:
        assert code == status, (code, raw[:300])
    err = ours(raw)
    assert fragment in err, err
    assert MARK not in raw.decode("utf-8", "replace")  # the input never comes back
    assert len(raw) < 4096  # nor a copy of it under another name
    assert time.perf_counter() - t0 < 20


def _post_raw(app, headers: list[tuple[bytes, bytes]], receive) -> list[dict]:
    """POST /api/ask straight into the ASGI app with these extra headers; `receive` gives body pieces."""
    async def go():
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/ask", "raw_path": b"/api/ask", "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                                              *headers], "client": None, "server": None}
        out = []

        async def asgi_receive():
            return receive()

        async def send(message):
            out.append(message)

        await app(scope, asgi_receive, send)
        return out

    return anyio.run(go)


def test_the_50mb_body_is_refused_before_it_is_read(app):
    """Content-Length above the limit: 413 before a single body byte is received."""
    received = []

    def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    out = _post_raw(app, [(b"content-length", b"50000000")], receive)
    assert out[0]["status"] == 413 and not received
    assert json.loads(out[1]["body"])["error"] == TOO_LARGE


def test_a_chunked_body_is_cut_off_at_the_limit(app):
    """No Content-Length: reading stops as soon as the body passes 64 KB (not after 50 MB)."""
    pieces = {"n": 0}

    def receive():
        pieces["n"] += 1
        return {"type": "http.request", "body": b"x" * 16384, "more_body": True}

    out = _post_raw(app, [(b"transfer-encoding", b"chunked")], receive)
    assert out[0]["status"] == 413 and pieces["n"] == MAX_BODY_BYTES // 16384 + 1


def test_good_requests_still_work(client):
    r = client.post("/api/ask", json={"question": "\u200bInternEvo 在 1024 张 GPU 上的 MFU 是多少？\x00"})
    assert r.status_code == 200 and "53%" in r.json()["answer"]
    # a body just under the limit is read whole
    big = {"question": "GQA 是什么？", "history": [{"role": "user", "content": "y" * 15_000}] * 4}
    assert len(json.dumps(big)) < MAX_BODY_BYTES
    assert client.post("/api/ask", json=big).status_code == 200


def test_streamed_answer_survives_the_body_limit(client):
    with client.stream("POST", "/api/ask", json={"question": "SFT 的学习率是多少？", "stream": True}) as r:
        assert r.status_code == 200
        text = r.read().decode()
    assert "event: done" in text and "4e-5" in text


# --- a real server: framing the HTTP parser rejects before the app runs ---------------------------------

@pytest.fixture(scope="module")
def live(built_index):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(built_index.model_copy(), with_ui=False), host="127.0.0.1",
                                           port=port, log_level="critical", http=http_protocol_class()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


@pytest.mark.slow
@pytest.mark.parametrize("request_bytes", [
    b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n11\r\n{\"question\":\"GQA\"}\r\n0\r\n\r\n",
    b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 17\r\n\r\n{\"question\":\"GQA\"}",
    b"GARBAGE\x00\x01 / HTTP/1.1\r\n\r\n",
], ids=["cl-and-te", "two-content-lengths", "garbage-request-line"])
def test_unparsable_http_gets_our_sentence(live, request_bytes):
    reply = raw_http(live, request_bytes)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), reply[:200]
    assert json.loads(body)["error"] in (BAD_HTTP, BAD_FRAMING)


@pytest.mark.slow
def test_live_50mb_question_is_refused_without_reading_it(live):
    with socket.create_connection(("127.0.0.1", live), timeout=10) as s:
        s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 50000000\r\n\r\n" + b'{"question": "' + b"x" * 100_000)
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413") and TOO_LARGE.encode() in reply
