"""Speed of the running server (issue 17) and its behaviour under overload (issue 12.7).

    .venv/bin/python benchmarks/bench_api.py [--requests 200] [--overload] [--json]

Starts `report-qa serve` on a free loopback port (the current .env / environment and the existing
index), then measures:

* startup: to the first page, and to the first answer (POST /api/ask answered);
* POST /api/ask at 1 client: p50 / p95 over `--requests` questions, none repeated (cold question cache);
* requests/s at 1, 8 and 16 clients (`--requests` each, no errors expected);
* server RSS after warm-up and after at least 1,000 requests;
* the plain LangChain retriever (Chroma + HuggingFaceEmbeddings on torch, the same model and index,
  k=5) in this process after the server stops: its p50 per question, and our p50 as a ratio of it;
* with --overload: 200 requests at 16 clients and 1,000 at 64; status counts (only 200 and 503
  allowed), p50 / p95, RSS before and after.

Questions come from benchmarks/{dev,heldout,heldout2,heldout3}-questions.jsonl. Every phase is
bounded in count and time; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTION_SETS = ["dev", "heldout", "heldout2", "heldout3"]
PHASE_LIMIT = 300.0  # seconds any one phase may take


def load_questions() -> list[str]:
    out: list[str] = []
    for name in QUESTION_SETS:
        path = ROOT / "benchmarks" / f"{name}-questions.jsonl"
        out += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(out))


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)], cwd=ROOT,
                                     env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **env},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, question: str) -> tuple[float, float]:
        """Seconds from start to the first page and to the first answer."""
        page = answer = None
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while answer is None:
                if self.proc.poll() is not None:
                    sys.exit("the server exited during startup")
                if time.perf_counter() - self.t0 > PHASE_LIMIT:
                    sys.exit("the server did not answer within the time limit")
                try:
                    if page is None and client.get("/").status_code == 200:
                        page = time.perf_counter() - self.t0
                    if client.post("/api/ask", json={"question": question}).status_code == 200:
                        answer = time.perf_counter() - self.t0
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return page if page is not None else answer, answer

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def closed_loop(base: str, questions: list[str], clients: int, total: int) -> dict:
    """`total` requests from `clients` threads, each with its own keep-alive connection."""
    lock, next_i = threading.Lock(), [0]
    times: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + PHASE_LIMIT

    def worker():
        with httpx.Client(base_url=base, timeout=60) as client:
            while time.perf_counter() < deadline:
                with lock:
                    if next_i[0] >= total:
                        return
                    i = next_i[0]
                    next_i[0] += 1
                t = time.perf_counter()
                try:
                    code = client.post("/api/ask", json={"question": questions[i % len(questions)]}).status_code
                except httpx.HTTPError:
                    code = 0
                with lock:
                    times.append((time.perf_counter() - t) * 1000)
                    statuses[code] = statuses.get(code, 0) + 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        for _ in range(clients):
            ex.submit(worker)
    wall = time.perf_counter() - t0
    ok = statuses.get(200, 0)
    return {"clients": clients, "requests": len(times), "seconds": round(wall, 2), "rps": round(ok / wall, 1),
            "p50_ms": round(pct(times, 50), 1), "p95_ms": round(pct(times, 95), 1),
            "errors": sum(n for c, n in statuses.items() if c != 200), "statuses": statuses}


async def overload(base: str, questions: list[str], clients: int, total: int) -> dict:
    """`total` requests, at most `clients` at once (asyncio, one connection each)."""
    times: dict[int, list[float]] = {}
    retry_after: list[int] = []
    client_errors: dict[str, int] = {}
    sem = asyncio.Semaphore(clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def one(i: int):
            async with sem:
                t = time.perf_counter()
                try:
                    r = await client.post("/api/ask", json={"question": questions[i % len(questions)]})
                    code = r.status_code
                    if code == 503:
                        retry_after.append(int(r.headers.get("retry-after", "-1")))
                except httpx.HTTPError as exc:
                    code = 0
                    client_errors[type(exc).__name__] = client_errors.get(type(exc).__name__, 0) + 1
                times.setdefault(code, []).append((time.perf_counter() - t) * 1000)

        t0 = time.perf_counter()
        tasks = [asyncio.ensure_future(one(i)) for i in range(total)]
        await asyncio.wait(tasks, timeout=PHASE_LIMIT)
        for t in tasks:  # not answered within the phase's time: counted as errors (status 0)
            if not t.done():
                t.cancel()
                times.setdefault(0, []).append(PHASE_LIMIT * 1000)
        wall = time.perf_counter() - t0
    every = [t for ts in times.values() for t in ts]
    ok = times.get(200, [])
    return {"clients": clients, "requests": total, "seconds": round(wall, 2),
            "statuses": {c: len(ts) for c, ts in sorted(times.items())},
            "errors_other_than_503": sum(len(ts) for c, ts in times.items() if c not in (200, 503)),
            "p50_ms": round(pct(every, 50), 1), "p95_ms": round(pct(every, 95), 1),
            "ok_p50_ms": round(pct(ok, 50), 1), "ok_p95_ms": round(pct(ok, 95), 1),
            "ok_rps": round(len(ok) / wall, 1), "retry_after": sorted(set(retry_after)), "client_errors": client_errors}


def plain_langchain_p50(questions: list[str], n: int) -> dict | None:
    """The plain LangChain retriever over the same index with the same model on torch."""
    sys.path.insert(0, str(ROOT))
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from ingest.embeddings import resolve_model
    from ingest.settings import get_settings
    from ingest.store import chroma_client, read_manifest

    settings = get_settings()
    manifest = read_manifest(settings.data_dir)
    if manifest is None or manifest.retrieval_mode != "hybrid":
        return None
    path, _ = resolve_model(settings.embedding_model)
    if path is None:
        return None
    t0 = time.perf_counter()
    emb = HuggingFaceEmbeddings(model_name=str(path), model_kwargs={"device": "cpu", "local_files_only": True},
                                encode_kwargs={"normalize_embeddings": True},
                                query_encode_kwargs={"normalize_embeddings": True, "prompt_name": "query"}
                                if "e5" in str(path).lower() else {"normalize_embeddings": True})
    client = chroma_client(settings.data_dir, manifest.version, manifest.chroma.get("host"),
                           manifest.chroma.get("port", settings.chroma_port))
    retriever = Chroma(client=client, collection_name=manifest.collection, embedding_function=emb,
                       create_collection_if_not_exists=False).as_retriever(search_kwargs={"k": 5})
    load = time.perf_counter() - t0
    for q in questions[:5]:
        retriever.invoke(q)
    times = []
    for q in questions[5 : 5 + n]:
        t = time.perf_counter()
        retriever.invoke(q)
        times.append((time.perf_counter() - t) * 1000)
    return {"load_s": round(load, 2), "p50_ms": round(pct(times, 50), 1), "p95_ms": round(pct(times, 95), 1),
            "questions": len(times)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200, help="requests per measured phase")
    ap.add_argument("--overload", action="store_true", help="also the 16- and 64-client overload runs")
    ap.add_argument("--plain", type=int, default=50, help="questions for the plain LangChain retriever (0: skip)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    questions = load_questions()
    load = os.getloadavg()
    res: dict = {"cores": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load]}

    server = Server({})
    try:
        page, first = server.wait(questions[0])
        res["startup_first_page_s"], res["startup_first_answer_s"] = round(page, 2), round(first, 2)
        with httpx.Client(base_url=server.base, timeout=30) as client:
            health = client.get("/healthz").json()
            res["mode"] = {k: health.get(k) for k in ("retrieval_mode", "generation_mode", "embedding_model",
                                                      "chunk_count")}
            warm = questions[-20:]
            for q in warm:
                client.post("/api/ask", json={"question": q})
            res["rss_after_warmup_mb"] = round(rss_mb(server.proc.pid), 1)
            times, sent = [], 21
            for q in questions[1 : 1 + args.requests]:  # distinct questions: no question-cache hits
                t = time.perf_counter()
                r = client.post("/api/ask", json={"question": q})
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
                sent += 1
        res["one_client"] = {"requests": len(times), "p50_ms": round(pct(times, 50), 1),
                             "p95_ms": round(pct(times, 95), 1), "max_ms": round(max(times), 1)}
        res["throughput"] = []
        for clients in (1, 8, 16):
            r = closed_loop(server.base, questions, clients, args.requests)
            res["throughput"].append(r)
            sent += r["requests"]
        if sent < 1000:
            sent += closed_loop(server.base, questions, 8, 1000 - sent)["requests"]
        res["requests_sent"] = sent
        res["rss_after_1000_mb"] = round(rss_mb(server.proc.pid), 1)
        if args.overload:
            res["overload"] = []
            for clients, total in ((16, 200), (64, 1000)):
                before = rss_mb(server.proc.pid)
                r = asyncio.run(overload(server.base, questions, clients, total))
                r["rss_before_mb"], r["rss_after_mb"] = round(before, 1), round(rss_mb(server.proc.pid), 1)
                res["overload"].append(r)
    finally:
        server.stop()
    if args.plain:
        plain = plain_langchain_p50(questions, args.plain)
        if plain:
            plain["ours_over_plain_p50"] = round(res["one_client"]["p50_ms"] / plain["p50_ms"], 2)
        res["plain_langchain_retriever"] = plain
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=2))
        return
    m = res["mode"]
    print(f"retrieval={m['retrieval_mode']} generation={m['generation_mode']} chunks={m['chunk_count']} "
          f"model={m['embedding_model']} cores={res['cores']} load before={res['loadavg_before']} "
          f"after={res['loadavg_after']}")
    print(f"startup: first page {res['startup_first_page_s']:.2f} s, first answer {res['startup_first_answer_s']:.2f} s")
    o = res["one_client"]
    print(f"POST /api/ask, 1 client, {o['requests']} distinct questions: p50 {o['p50_ms']} ms, p95 {o['p95_ms']} ms, "
          f"max {o['max_ms']} ms")
    for t in res["throughput"]:
        print(f"  {t['clients']:>2} clients: {t['rps']} req/s, p50 {t['p50_ms']} ms, p95 {t['p95_ms']} ms, "
              f"errors {t['errors']} {t['statuses']}")
    print(f"RSS: {res['rss_after_warmup_mb']} MB after warm-up, {res['rss_after_1000_mb']} MB after "
          f"{res['requests_sent']} requests")
    for r in res.get("overload", []):
        print(f"overload {r['requests']} requests at {r['clients']} clients: {r['statuses']} (other errors "
              f"{r['errors_other_than_503']} {r['client_errors'] or ''}), p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms; answered: p50 "
              f"{r['ok_p50_ms']} ms, p95 {r['ok_p95_ms']} ms, {r['ok_rps']} req/s; Retry-After {r['retry_after']}; "
              f"RSS {r['rss_before_mb']} → {r['rss_after_mb']} MB")
    p = res.get("plain_langchain_retriever")
    if p:
        print(f"plain LangChain Chroma retriever (torch, k=5): p50 {p['p50_ms']} ms, p95 {p['p95_ms']} ms; "
              f"our /api/ask p50 is {p['ours_over_plain_p50']}x that")


if __name__ == "__main__":
    main()
