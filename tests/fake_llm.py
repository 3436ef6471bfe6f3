"""A tiny OpenAI-compatible chat server for tests: behaviour chosen by the model name.

  grounded  cites the first section it was given, plus an invented [§9.9]
  refuse    says the report does not cover it
  broken    answers HTTP 500
  slow      waits 10 s before answering (for timeout tests)
  hostile   cites the first section, wrapped in script-injection payloads (for the web chat's escaping)
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


HOSTILE = ('<img src=x onerror=alert(1)> <details open ontoggle=alert(2)>d</details> '
           '<iframe srcdoc="<script>alert(3)</script>"></iframe> [x](javascript:alert(5)) '
           '<a href="javascript:alert(6)">y</a> [z](data:text/html,<script>alert(7)</script>) '
           '<svg onload=alert(8)></svg> <script>alert(9)</script>')


def _answer(model: str, messages: list[dict]) -> str:
    system = messages[0]["content"]
    sections = re.findall(r"^\[§([0-9A.]+)\]", system, re.M)
    if model == "refuse":
        return "报告中没有涉及这个问题。"
    first = sections[0] if sections else "1"
    if model == "hostile":
        return f"HOSTILE {HOSTILE} 见 [§{first}]。"
    return f"根据报告，答案见第 {first} 节 [§{first}]；另见 [§9.9]。Sections seen: {len(sections)}."


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        app.state.requests.append(body)
        model = body["model"]
        if model == "broken":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        if model == "slow":
            await asyncio.sleep(10)
        text = _answer(model, body["messages"])
        if not body.get("stream"):
            return {"id": "x", "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}]}

        def events():
            for i in range(0, len(text), 3):  # small pieces, so "[§4.1]" arrives split
                chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [{"index": 0, "delta": {"content": text[i : i + 3]}, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


class FakeLLMServer:
    def __init__(self, port: int):
        self.app = make_app()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}/v1"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.server.force_exit = True  # do not wait for a request still sleeping in "slow" mode
        self.thread.join(timeout=5)
