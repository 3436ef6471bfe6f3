"""Our app served by a real uvicorn in a thread (its lifespan runs, as under `report-qa serve`)."""

from __future__ import annotations

import threading
import time

import uvicorn

from .conftest import free_port


class LiveServer:
    def __init__(self, app, start_timeout: float = 30, **config):
        """`config`: more uvicorn.Config options (e.g. `http=` a protocol class)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    lifespan="on", **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
