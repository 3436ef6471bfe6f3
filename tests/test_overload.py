"""Overload (issue 12.7): one bounded answer pool shared by the API and the web chat, 503 with
Retry-After beyond a short queue, the event loop never held by answering, and idle or slow
connections timed out."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
from fastapi import Request

from app.answer import Answer
from app.api import create_api
from app.workers import AnswerPool, Overloaded, shared_pool
from ingest.settings import Settings

from .conftest import free_port

MODE = {"retrieval": "keyword", "generation": "extractive"}


class GatedAnswerer:
    """Answers only when the test opens the gate; counts the questions being answered."""

    generation_mode = "extractive"

    def __init__(self):
        self.gate = threading.Event()
        self.running = 0

    def _wait(self) -> Answer:
        self.running += 1
        try:
            assert self.gate.wait(20), "the test never opened the gate"
        finally:
            self.running -= 1
        return Answer("好的 ok [§2.1]", True, [], MODE)

    def ask(self, question, history=None, top_k=None) -> Answer:
        return self._wait()

    def stream(self, question, history=None, top_k=None):
        yield {"type": "meta", "mode": MODE}
        answer = self._wait()
        yield {"type": "delta", "text": answer.answer}
        yield {"type": "done", "answer": answer}

    def warm_up(self):
        pass


def test_pool_admits_workers_plus_queue_then_refuses():
    pool = AnswerPool(workers=1, queue=1)
    with pool.admit(), pool.admit():
        with pytest.raises(Overloaded) as info:
            with pool.admit():
                pass
        assert info.value.retry_after >= 1 and "服务器正忙" in str(info.value) and "retry in" in str(info.value)
        assert pool.stats()["rejected"] == 1
    with pool.admit():  # free again
        assert pool.in_flight == 1
    assert pool.in_flight == 0


def test_iteration_holds_one_place_until_it_ends_fails_or_is_closed():
    pool = AnswerPool(workers=1, queue=0)
    names: list[str] = []

    def gen(fail=False):
        for i in range(3):
            names.append(threading.current_thread().name)
            if fail and i == 1:
                raise ValueError("boom")
            yield i

    steps = pool.iterate(gen())
    with pytest.raises(Overloaded):  # admission happens when the iteration is created
        pool.iterate(gen())
    assert list(steps) == [0, 1, 2] and pool.in_flight == 0
    assert all(n.startswith("answer") for n in names)  # every step ran on a pool worker
    with pytest.raises(ValueError):
        list(pool.iterate(gen(fail=True)))
    assert pool.in_flight == 0
    steps = pool.iterate(gen())
    next(steps)
    steps.close()
    assert pool.in_flight == 0
    steps = pool.iterate(gen())
    del steps  # dropped without being read: the place is given back
    assert pool.in_flight == 0


def test_async_stream_releases_its_place():
    pool = AnswerPool(workers=1, queue=0)

    async def main():
        got = [x async for x in pool.stream(iter(range(4)))]
        assert got == [0, 1, 2, 3] and pool.in_flight == 0
        assert await pool.run(sum, [1, 2]) == 3

    asyncio.run(main())
    assert pool.in_flight == 0 and pool.completed == 2


def test_shared_pool_is_one_per_bound_and_sized_from_the_cores():
    a = Settings(_env_file=None, answer_workers=0, answer_queue=16)
    pool = shared_pool(a)
    assert pool is shared_pool(a.model_copy()) and pool.workers >= 1 and pool.limit == pool.workers + 16
    assert shared_pool(Settings(_env_file=None, answer_workers=3, answer_queue=2)).limit == 5


@pytest.fixture
def gated(built_index):
    from app.index import IndexHandle

    settings = built_index.model_copy()
    answerer, pool = GatedAnswerer(), AnswerPool(workers=1, queue=1)
    return create_api(settings, IndexHandle(settings), answerer, pool=pool), answerer, pool


def test_api_answers_503_with_retry_after_beyond_the_queue_and_keeps_the_loop_free(gated):
    app, answerer, pool = gated

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            asks = [asyncio.create_task(client.post("/api/ask", json={"question": f"问题 {i}"})) for i in range(4)]
            for _ in range(200):  # the two admitted ones wait at the gate, the others are refused at once
                await asyncio.sleep(0.02)
                if sum(t.done() for t in asks) == 2 and answerer.running == 1:
                    break
            refused = [t.result() for t in asks if t.done()]
            assert len(refused) == 2 and pool.in_flight == 2
            for r in refused:
                assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
                assert "服务器正忙" in r.json()["error"] and "retry in" in r.json()["error"]
            # answering does not hold the event loop: other routes answer meanwhile
            t0 = time.perf_counter()
            assert (await client.get("/api/sections")).status_code == 200
            assert time.perf_counter() - t0 < 2
            # a stream is refused before it starts, as a 503, not a 200 with an error inside
            r = await client.post("/api/ask", json={"question": "流", "stream": True})
            assert r.status_code == 503 and "retry-after" in r.headers
            answerer.gate.set()
            done = await asyncio.gather(*[t for t in asks if not t.done()])
            assert [r.status_code for r in done] == [200, 200]
            r = await client.post("/api/ask", json={"question": "流", "stream": True})
            assert r.status_code == 200 and "event: done" in r.text

    asyncio.run(main())
    assert pool.in_flight == 0 and pool.rejected == 3


def test_the_web_chat_shares_the_bound_with_the_api(built_index):
    from app.index import IndexHandle
    from app.ui import build_ui

    settings = built_index.model_copy()
    answerer, pool = GatedAnswerer(), AnswerPool(workers=1, queue=0)
    answerer.gate.set()
    demo = build_ui(settings, IndexHandle(settings), answerer, pool)
    respond = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "respond"]
    assert respond and all(f.concurrency_limit is None for f in respond)  # no second, Gradio-only queue
    fn = respond[0].fn
    with pool.admit():  # an API request holds the only place
        last = list(fn("SFT 的学习率是多少？", [], [], {}))[-1]
    assert "服务器正忙" in last[0][-1]["content"]
    last = list(fn("SFT 的学习率是多少？", [], [], {}))[-1]
    assert "ok" in last[0][-1]["content"] and pool.in_flight == 0 and pool.completed == 2  # the API one + this


# --- connections ------------------------------------------------------------------------------------

def protocols():
    from uvicorn.protocols.http.h11_impl import H11Protocol

    out = [pytest.param(H11Protocol, id="h11")]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        out.append(pytest.param(HttpToolsProtocol, id="httptools"))
    except ImportError:
        pass
    return out


@pytest.fixture(params=protocols())
def small_server(request):
    import uvicorn
    from fastapi import FastAPI

    from app.connections import server_options

    app = FastAPI()

    @app.get("/ping")
    def ping():
        return {"ok": True}

    @app.post("/echo")
    async def echo(req: Request):
        return {"n": len(await req.body())}

    settings = Settings(_env_file=None, request_read_timeout=0.6, keep_alive_timeout=0.6)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           **server_options(settings, request.param)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def read_all(sock: socket.socket, limit: float = 4.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed."""
    t0, data = time.perf_counter(), b""
    sock.settimeout(limit)
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"the server kept the connection open for {limit} s") from None
        if not chunk:
            return data, time.perf_counter() - t0
        data += chunk


@pytest.mark.parametrize("sent", [b"", b"GET /ping HTTP/1.1\r\nHost: x\r\n",
                                  b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"],
                         ids=["silent", "slow-headers", "slow-body"])
def test_slow_clients_get_a_408_and_are_disconnected(small_server, sent):
    with socket.create_connection(("127.0.0.1", small_server)) as sock:
        sock.sendall(sent)
        data, took = read_all(sock)
    assert data.startswith(b"HTTP/1.1 408") and "too long to arrive".encode() in data
    assert 0.4 < took < 3


def test_idle_keep_alive_connections_are_closed_and_normal_requests_work(small_server):
    with socket.create_connection(("127.0.0.1", small_server)) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        data, took = read_all(sock)
    assert data.count(b"HTTP/1.1 200") == 2 and b'{"n":3}' in data and b"408" not in data
    assert took < 3  # closed by the keep-alive timeout, not left open
    with httpx.Client(base_url=f"http://127.0.0.1:{small_server}") as client:
        assert client.get("/ping").json() == {"ok": True}
        time.sleep(1.0)  # longer than either timeout while idle between requests: a new connection, fine
        assert client.get("/ping").json() == {"ok": True}
