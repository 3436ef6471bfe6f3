"""One bounded pool for the CPU-bound work of answering, shared by every route that answers.

The HTTP API, the web chat and any other answering route (e.g. /v1) run retrieval and answer
composition here rather than on the event loop or in an unbounded thread pool:

    pool = shared_pool(settings)
    answer = await pool.run(answerer.ask, question, history)      # from async code
    for event in pool.iterate(answerer.stream(question, history)): # from a sync worker thread
    async for event in pool.stream(answerer.stream(question, history)):  # async, event by event

At most `workers` questions run at once (ANSWER_WORKERS, default the core count) and at most
`queue` more wait (ANSWER_QUEUE); a question beyond that raises `Overloaded` at once, which routes
turn into a 503 with Retry-After and `busy_message()`.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """Every worker is busy and the queue is full; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(busy_message(retry_after))
        self.retry_after = retry_after


def busy_message(retry_after: int) -> str:
    return (f"服务器正忙，请 {retry_after} 秒后重试。"
            f"The server is busy answering other questions: please retry in {retry_after} s.")


def default_workers(llm: bool = False) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores) * (4 if llm else 1)  # an LLM answer mostly waits on the network


class AnswerPool:
    """`workers` threads; admission bounded to workers + queue questions in flight (running or waiting)."""

    def __init__(self, workers: int, queue: int):
        self.workers, self.queue = max(1, workers), max(0, queue)
        self.limit = self.workers + self.queue
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="answer")
        self._lock = threading.Lock()
        self.in_flight = 0
        self.rejected = 0
        self.completed = 0
        self._mean_seconds = 0.05  # moving average of one question's time, for Retry-After

    def retry_after(self) -> int:
        """Seconds until places are likely free again: the mean time a question spends admitted
        (waiting plus answering), so the questions now in flight will mostly have left."""
        return max(1, math.ceil(self._mean_seconds))

    def _acquire(self) -> float:
        with self._lock:
            if self.in_flight >= self.limit:
                self.rejected += 1
                raise Overloaded(self.retry_after())
            self.in_flight += 1
        return time.perf_counter()

    def _release(self, t0: float) -> None:
        spent = time.perf_counter() - t0
        with self._lock:
            self.in_flight -= 1
            self.completed += 1
            self._mean_seconds += 0.1 * (min(spent, 60.0) - self._mean_seconds)

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one place among the workers + queue for the duration, or raise Overloaded."""
        t0 = self._acquire()
        try:
            yield
        finally:
            self._release(t0)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """`fn(*args, **kwargs)` on a worker, awaited without holding the event loop."""
        with self.admit():
            return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args, **kwargs))

    def call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """The same from a thread that may block (a sync route or handler)."""
        with self.admit():
            return self._executor.submit(fn, *args, **kwargs).result()

    def iterate(self, events: Iterator[T]) -> "_Steps[T]":
        """A generator's items for a sync caller, each step computed on a worker. Admission happens
        here (Overloaded is raised now) and lasts until the items end, fail, or the iterator is closed."""
        return _Steps(self, events, self._acquire())

    def stream(self, events: Iterator[T]) -> "_Steps[T]":
        """The same for async code (`async for`), e.g. a server-sent-events response: call it before
        the response starts, so that Overloaded can still become a 503."""
        return _Steps(self, events, self._acquire())

    def stats(self) -> dict:
        return {"workers": self.workers, "queue": self.queue, "in_flight": self.in_flight,
                "rejected": self.rejected, "completed": self.completed}


class _Steps(Generic[T]):
    """Iterates a generator on the pool's workers (sync or async); releases its admission exactly once."""

    def __init__(self, pool: AnswerPool, events: Iterator[T], t0: float):
        self.pool, self.events, self.t0 = pool, events, t0
        self.open = True

    def _step(self):
        try:
            return False, next(self.events)
        except StopIteration:
            return True, None

    def close(self) -> None:
        if self.open:
            self.open = False
            self.pool._release(self.t0)
            try:
                getattr(self.events, "close", lambda: None)()
            except ValueError:  # still executing on a worker (the client left mid-step): it ends by itself
                pass

    def __iter__(self):
        return self

    def __next__(self) -> T:
        if not self.open:
            raise StopIteration
        try:
            done, item = self.pool._executor.submit(self._step).result()
        except BaseException:
            self.close()
            raise
        if done:
            self.close()
            raise StopIteration
        return item

    def __aiter__(self):
        return self

    async def __anext__(self) -> T:
        if not self.open:
            raise StopAsyncIteration
        try:
            done, item = await asyncio.get_running_loop().run_in_executor(self.pool._executor, self._step)
        except BaseException:
            self.close()
            raise
        if done:
            self.close()
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self.close()

    def __del__(self):
        self.close()


_pools: dict[tuple[int, int], AnswerPool] = {}
_pools_lock = threading.Lock()


def shared_pool(settings) -> AnswerPool:
    """The process's pool for these settings (ANSWER_WORKERS, ANSWER_QUEUE): every route that answers
    calls this and so shares one bound."""
    workers = settings.answer_workers or default_workers(settings.llm_enabled)
    key = (workers, settings.answer_queue)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = AnswerPool(*key)
        return pool


def overloaded_response(exc: Overloaded):
    """The 503 every HTTP route gives for Overloaded: our sentence and Retry-After."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})
