"""Latency of the running server: startup to first page, and warm POST /api/ask.

    .venv/bin/python benchmarks/bench_api.py [--requests 200] [--questions benchmarks/dev-questions.jsonl]

Starts `report-qa serve` on a free port (using the current .env / environment and the existing
index), waits for the first page, sends the questions over HTTP one at a time, prints numbers."""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--questions", type=Path, default=ROOT / "benchmarks" / "dev-questions.jsonl")
    args = ap.parse_args()
    questions = [json.loads(l)["question"] for l in args.questions.read_text(encoding="utf-8").splitlines() if l.strip()]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            while True:
                try:
                    if client.get("/").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    sys.exit("server exited")
                time.sleep(0.1)
            startup = time.perf_counter() - t0
            health = client.get("/healthz").json()
            for q in questions[:5]:  # warm-up
                client.post("/api/ask", json={"question": q})
            times = []
            for i in range(args.requests):
                t = time.perf_counter()
                r = client.post("/api/ask", json={"question": questions[i % len(questions)]})
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    times.sort()
    print(f"retrieval={health['retrieval_mode']} generation={health['generation_mode']} "
          f"chunks={health['chunk_count']} cores={os.cpu_count()}")
    print(f"startup to first page: {startup:.2f} s")
    print(f"POST /api/ask x{len(times)}: p50 {statistics.median(times):.1f} ms, "
          f"p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
