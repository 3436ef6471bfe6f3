"""`make bench`: this project against the standard LangChain recipes, in one run (issue 15).

    .venv/bin/python benchmarks/bench.py [--questions N] [--requests N] [--no-server] [--model DIR]

Systems, all over the same corpus files and the same sentence-transformers model:

* ours-keyword, ours-hybrid: this project (app.retrieval.retrieve / app.answer.Answerer in this
  process; `report-qa serve` for the HTTP figures), each with its own DATA_DIR under data/bench-*;
* recipe-a: RecursiveCharacterTextSplitter (500/50, Chinese separators) per section + Chroma +
  HuggingFaceEmbeddings (the e5 "passage: " / "query: " prompts, as our loader) + top-k similarity;
* recipe-b: the same chunks, BM25Retriever (langchain-community) over jieba tokens;
* recipe-c: EnsembleRetriever (langchain-classic) of a and b, equal weights.

Quality on every committed question set but the sealed one (never opened here), split by question
language: recall@1, recall@5 and MRR over distinct sections (recipes fetch 20 chunks and keep the
first 5 distinct sections); for ours also the answer-holds-the-facts shares and refusal rates
(app/evaluation.py's functions). Speed and memory: cold ingest, re-ingest with no change and after a
one-section edit (on a temporary corpus copy), embedded chunks; startup to first answer; warm
retrieval at 1 and 8 clients, question by question with the systems interleaved (rotating order);
POST /api/ask at 1 and 8 clients (both servers up, requests alternating); peak RSS (VmHWM / ru_maxrss).
Prints one table and writes benchmarks/results/bench-<UTC date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEALED = "sealed-questions.jsonl"  # measured by the lead developer only: never opened here
DEFAULT_MODEL = "data/models/multilingual-e5-small-q4"
RECIPE_CHUNK, RECIPE_OVERLAP, RECIPE_FETCH = 500, 50, 20
ZH_SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", "、", " ", ""]
K = 5
WARMUP = 5
WARMUP_QUESTIONS = ("InternLM2 的 MFU 是多少", "How long is the context window of InternLM2?")  # in no set
OURS = ("ours-keyword", "ours-hybrid")
RECIPES = ("recipe-a", "recipe-b", "recipe-c")
EDIT_LINE = "本句是基准测试对本节的一处修改，用来测量只改一节时重新 ingest 的代价。"


def question_sets(only: list[str] | None = None) -> list[Path]:
    """Every committed question set except the sealed one (by file name: its content is never read)."""
    sets = sorted(p for p in (ROOT / "benchmarks").glob("*-questions.jsonl") if p.name != SEALED)
    return [p for p in sets if not only or p.name.split("-questions")[0] in only]


def pct(values: list[float], p: float) -> float | None:
    from benchmarks.bench_api import pct as _pct

    return round(_pct(values, p), 1) if values else None


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def vm_hwm_mb(pid: int) -> float | None:
    """Peak RSS of a running process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


# --- the recipes -----------------------------------------------------------------------------------

def recipe_chunks(corpus_dir: Path):
    """LangChain Documents: each section's markdown (heading + body) split 500/50, labelled with it."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.corpus import load_corpus

    splitter = RecursiveCharacterTextSplitter(chunk_size=RECIPE_CHUNK, chunk_overlap=RECIPE_OVERLAP,
                                              separators=ZH_SEPARATORS)
    docs = []
    for s in load_corpus(Path(corpus_dir), allow_missing=True).sections:
        text = f"{'#' * s.level} {s.number} {s.title_zh}（{s.title_en}）\n\n{s.text}"
        docs += [Document(page_content=t, metadata={"section": s.number}) for t in splitter.split_text(text)]
    return docs


def recipe_embeddings(model: str):
    """HuggingFaceEmbeddings over the same model directory, with the model's own e5 prompts."""
    from langchain_huggingface import HuggingFaceEmbeddings

    emb = HuggingFaceEmbeddings(model_name=str(model), model_kwargs={"device": "cpu", "local_files_only": True},
                                encode_kwargs={"normalize_embeddings": True})
    prompts = getattr(emb._client, "prompts", None) or {}
    if "passage" in prompts:
        emb.encode_kwargs = {**emb.encode_kwargs, "prompt_name": "passage"}
    emb.query_encode_kwargs = {"normalize_embeddings": True, **({"prompt_name": "query"} if "query" in prompts else {})}
    return emb


def jieba_tokens(text: str) -> list[str]:
    import jieba

    return [w for w in jieba.lcut(text.lower()) if w.strip()]


def recipe_chroma(data_dir: Path, emb):
    from langchain_chroma import Chroma

    return Chroma(collection_name="recipe", embedding_function=emb, persist_directory=str(data_dir / "chroma"))


def load_recipe_docs(data_dir: Path):
    from langchain_core.documents import Document

    return [Document(**json.loads(line)) for line in (data_dir / "chunks.jsonl").read_text("utf-8").splitlines()]


def recipe_retrievers(data_dir: Path, model: str, which: tuple[str, ...] = RECIPES) -> dict:
    """The recipes as a user would start them: the persisted Chroma, BM25 rebuilt from the chunks."""
    out: dict = {}
    dense = bm25 = None
    if {"recipe-a", "recipe-c"} & set(which):
        dense = recipe_chroma(data_dir, recipe_embeddings(model)).as_retriever(search_kwargs={"k": RECIPE_FETCH})
    if {"recipe-b", "recipe-c"} & set(which):
        import warnings

        with warnings.catch_warnings():  # "langchain-community is being sunset": it is still the recipe
            warnings.simplefilter("ignore", DeprecationWarning)
            from langchain_community.retrievers import BM25Retriever

        bm25 = BM25Retriever.from_documents(load_recipe_docs(data_dir), preprocess_func=jieba_tokens, k=RECIPE_FETCH)
    if "recipe-a" in which:
        out["recipe-a"] = dense
    if "recipe-b" in which:
        out["recipe-b"] = bm25
    if "recipe-c" in which:
        from langchain_classic.retrievers import EnsembleRetriever

        out["recipe-c"] = EnsembleRetriever(retrievers=[dense, bm25], weights=[0.5, 0.5])
    return out


def distinct_sections(docs, k: int = K) -> list[str]:
    return list(dict.fromkeys(d.metadata["section"] for d in docs))[:k]


# --- child processes (own peak RSS, own cold start) ---------------------------------------------------

def child(spec: dict) -> dict:
    t0 = time.perf_counter()
    if spec["task"] == "ingest-ours":
        from ingest.pipeline import run_ingest
        from ingest.settings import Settings

        s = Settings(corpus_dir=spec["corpus"], data_dir=spec["data"], embedding_model=spec["model"], _env_file=None)
        r = run_ingest(s, allow_missing=True)
        return {"seconds": round(time.perf_counter() - t0, 2), "chunks": r.chunks, "embedded": r.embedded,
                "reused": r.reused, "index_changed": r.index_changed, "mode": r.retrieval_mode,
                "peak_rss_mb": peak_rss_mb()}
    if spec["task"] == "ingest-recipe":
        data = Path(spec["data"])
        docs = recipe_chunks(Path(spec["corpus"]))
        split_s = time.perf_counter() - t0
        (data / "chunks.jsonl").write_text("".join(json.dumps({"page_content": d.page_content, "metadata": d.metadata},
                                                              ensure_ascii=False) + "\n" for d in docs), "utf-8")
        split_rss = peak_rss_mb()
        recipe_chroma(data, recipe_embeddings(spec["model"])).add_documents(docs)
        return {"seconds": round(time.perf_counter() - t0, 2), "split_seconds": round(split_s, 2),
                "chunks": len(docs), "embedded": len(docs), "peak_rss_mb": peak_rss_mb(), "split_peak_rss_mb": split_rss}
    if spec["task"] == "start-recipe":
        r = recipe_retrievers(Path(spec["data"]), spec["model"], (spec["recipe"],))[spec["recipe"]]
        r.invoke(spec["question"])
        return {"seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": peak_rss_mb()}
    raise ValueError(spec["task"])


def run_child(spec: dict, in_process: bool = False) -> dict:
    """`child(spec)` in a fresh interpreter (cold start, own peak RSS); in this process for the smoke test."""
    if in_process:
        out = child(spec)
        return {**out, **{k: None for k in ("peak_rss_mb", "split_peak_rss_mb") if k in out}}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
           "TOKENIZERS_PARALLELISM": "false"}
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        sys.exit(f"bench child {spec['task']} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def edit_one_section(corpus: Path) -> str:
    """Add a sentence under one mid-corpus section's heading; returns its number."""
    from ingest.corpus import load_corpus

    sections = [s for s in load_corpus(corpus, allow_missing=True).sections if len(s.text) > 300]
    s = sections[len(sections) // 2]
    path = corpus / s.file
    lines = path.read_text("utf-8").splitlines(keepends=True)
    lines.insert(s.line, f"\n{EDIT_LINE}\n")
    path.write_text("".join(lines), "utf-8")
    return s.number


# --- quality and retrieval speed (in this process, interleaved) -------------------------------------

@dataclass
class System:
    name: str
    rank: Callable[[str], list[str]]  # question → distinct sections, best first
    answerer: object | None = None


def ours(name: str, data: Path, corpus: Path, model: str) -> System:
    from app.answer import Answerer
    from app.index import IndexHandle
    from app.retrieval import retrieve
    from ingest.settings import Settings

    s = Settings(corpus_dir=corpus, data_dir=data, embedding_model=model, llm_base_url=None, llm_model=None,
                 _env_file=None)
    handle = IndexHandle(s)
    return System(name, lambda q: [x.number for x in retrieve(handle, q, None, K).sections][:K], Answerer(s, handle))


def clear_query_cache(system: System) -> None:
    """Our question-vector LRU is cleared before each timed phase: every timed question is new to it."""
    if system.answerer is not None:
        emb = system.answerer.handle.embeddings.embeddings
        if emb is not None and hasattr(emb, "_lru"):
            with emb._lock:
                emb._lru.clear()


def load_all_cases(sets: list[Path], limit: int | None) -> list[tuple[str, object]]:
    from app.evaluation import load_cases

    out = []
    for p in sets:
        cases = load_cases(p)
        out += [(p.name.split("-questions")[0], c) for c in (cases[:limit] if limit else cases)]
    return out


def quality_pass(systems: list[System], cases: list) -> tuple[dict, dict]:
    """Each question through every system in rotating order: ranked sections and timings;
    for ours also the extractive answer, judged with app/evaluation.py's functions."""
    from app.evaluation import _holds, _lang, first_line

    for s in systems:
        clear_query_cache(s)
    rows: dict[str, list[dict]] = {s.name: [] for s in systems}
    times: dict[str, list[float]] = {s.name: [] for s in systems}
    timed: set[str] = set()
    for i, (set_name, case) in enumerate(cases):
        order = systems[i % len(systems):] + systems[: i % len(systems)]
        fresh = case.question not in timed  # a question in two sets is timed once (our LRU would hit)
        timed.add(case.question)
        for s in order:
            t = time.perf_counter()
            ranked = s.rank(case.question)
            ms = (time.perf_counter() - t) * 1000
            if fresh:
                times[s.name].append(ms)
            rank = next((j + 1 for j, x in enumerate(ranked) if x in case.sections), None)
            row = {"set": set_name, "lang": case.lang or _lang(case.question), "oos": case.out_of_scope,
                   "rank": rank}
            if s.answerer is not None:
                ans = s.answerer.ask(case.question, top_k=K)
                row.update(answerable=ans.answerable, correct=_holds(ans, ans.answer, case.answer_contains),
                           first_line_correct=_holds(ans, first_line(ans.answer), case.answer_contains),
                           cited_rank=next((j + 1 for j, c in enumerate(ans.citations[:K])
                                            if c.section in case.sections), None))
            rows[s.name].append(row)
    return rows, times


def concurrent(fn: Callable[[str], object], items: list[str], clients: int) -> tuple[list[float], float]:
    """`items` through `fn` from `clients` threads: per-call milliseconds and wall seconds."""
    out: list[float] = []
    lock = threading.Lock()

    def one(q: str) -> None:
        t = time.perf_counter()
        fn(q)
        with lock:
            out.append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(one, items))
    return out, time.perf_counter() - t0


def interleaved_load(fns: dict[str, Callable[[str], object]], questions: list[str], clients: int,
                     round_size: int = 16) -> dict:
    """Rounds of `round_size` questions, each through every system in rotating order at `clients` threads."""
    times = {n: [] for n in fns}
    wall = {n: 0.0 for n in fns}
    names = list(fns)
    for r, i in enumerate(range(0, len(questions), round_size)):
        batch = questions[i : i + round_size]
        for n in names[r % len(names):] + names[: r % len(names)]:
            ts, w = concurrent(fns[n], batch, clients)
            times[n] += ts
            wall[n] += w
    return {n: {"clients": clients, "requests": len(times[n]), "p50_ms": pct(times[n], 50),
                "p95_ms": pct(times[n], 95), "rps": round(len(times[n]) / wall[n], 1) if wall[n] else None}
            for n in fns}


def rate(rows: list[dict], key: str) -> float | None:
    judged = [r for r in rows if r.get(key) is not None]
    return round(sum(bool(r[key]) for r in judged) / len(judged), 3) if judged else None


def metrics(rows: list[dict], ours_: bool) -> dict:
    ins = [r for r in rows if not r["oos"]]
    oos = [r for r in rows if r["oos"]]
    m = {"in_scope": len(ins)}
    if ins:
        m.update(recall_at_1=round(sum(r["rank"] == 1 for r in ins) / len(ins), 3),
                 recall_at_5=round(sum(r["rank"] is not None for r in ins) / len(ins), 3),
                 mrr=round(sum(1 / r["rank"] for r in ins if r["rank"]) / len(ins), 3))
    if ours_:
        m.update(answer_contains_rate=rate(ins, "correct"), first_line_contains_rate=rate(ins, "first_line_correct"),
                 false_rejection_rate=round(sum(not r["answerable"] for r in ins) / len(ins), 3) if ins else None,
                 out_of_scope=len(oos),
                 oos_rejection_rate=round(sum(not r["answerable"] for r in oos) / len(oos), 3) if oos else None,
                 cited_recall_at_5=round(sum(r["cited_rank"] is not None for r in ins) / len(ins), 3) if ins else None)
    return m


def quality_table(rows: dict[str, list[dict]]) -> dict:
    """{set: {lang|"all": {system: metrics}}}"""
    out: dict = {}
    some = next(iter(rows.values()))
    for set_name in dict.fromkeys(r["set"] for r in some):
        out[set_name] = {}
        for lang in ["all", *sorted({r["lang"] for r in some if r["set"] == set_name})]:
            out[set_name][lang] = {
                name: metrics([r for r in rs if r["set"] == set_name and (lang == "all" or r["lang"] == lang)],
                              name.startswith("ours"))
                for name, rs in rows.items()}
    return out


# --- the servers ---------------------------------------------------------------------------------------

def server_phase(envs: dict[str, dict], questions: list[str], requests: int) -> dict:
    """Both servers up (started one after the other); requests alternate between them."""
    import httpx

    from benchmarks.bench_api import Server

    out: dict = {}
    servers: dict[str, Server] = {}
    try:
        for name, env in envs.items():
            srv = Server(env)
            servers[name] = srv
            page, first = srv.wait(questions[0])
            out[name] = {"startup_first_page_s": round(page, 2), "startup_first_answer_s": round(first, 2)}
        local = threading.local()

        def poster(base: str):
            def post(q: str) -> None:
                client = getattr(local, base, None)
                if client is None:
                    client = httpx.Client(base_url=base, timeout=60)
                    setattr(local, base, client)
                client.post("/api/ask", json={"question": q}).raise_for_status()
            return post

        fns = {n: poster(s.base) for n, s in servers.items()}
        for q in questions[-WARMUP:]:
            for f in fns.values():
                f(q)
        n1 = questions[1 : 1 + requests]
        one = interleaved_load(fns, n1, 1, round_size=1)
        rest = questions[1 + requests :] + questions[: 1 + requests]  # not yet asked: no cached question vectors
        eight = interleaved_load(fns, (rest * 4)[: requests * 2], 8, round_size=32)
        for n, srv in servers.items():
            out[n].update(ask_1=one[n], ask_8=eight[n], server_peak_rss_mb=vm_hwm_mb(srv.proc.pid))
    finally:
        for srv in servers.values():
            srv.stop()
    return out


# --- the run ------------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal:")), 0)
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem / 1024 / 1024, 1), "python": platform.python_version()}


def run(args) -> dict:
    t_start = time.perf_counter()
    model = str((ROOT / args.model) if not Path(args.model).is_absolute() else Path(args.model))
    if not (Path(model) / "modules.json").exists():
        sys.exit(f"the embedding model {model} is missing: run `make model` first")
    data_root = Path(args.data_root) if args.data_root else ROOT / "data"
    dirs = {"ours-keyword": data_root / "bench-keyword", "ours-hybrid": data_root / "bench-hybrid",
            "recipes": data_root / "bench-recipes"}
    sets = question_sets(args.sets)
    cases = load_all_cases(sets, args.questions)
    res: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                 "loadavg_before": [round(x, 2) for x in os.getloadavg()], "model": model,
                 "question_sets": [p.name for p in sets], "questions": len(cases),
                 "command": " ".join(["python", "benchmarks/bench.py", *sys.argv[1:]])}
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quiet else (lambda *a: None)
    spawn = lambda spec: run_child(spec, args.in_process)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        # ingest: cold, again with no change, then after a one-section edit (on copies of corpus and index)
        ingest: dict = {}
        for name, emb_model in (("ours-keyword", "none"), ("ours-hybrid", model)):
            shutil.rmtree(dirs[name], ignore_errors=True)
            spec = {"task": "ingest-ours", "corpus": str(corpus), "data": str(dirs[name]), "model": emb_model}
            log(f"ingest {name} (cold)…")
            cold = spawn(spec)
            again = spawn(spec)
            ingest[name] = {"cold": cold, "no_change": again}
        recipes = () if args.no_recipes else RECIPES
        if recipes:
            shutil.rmtree(dirs["recipes"], ignore_errors=True)
            dirs["recipes"].mkdir(parents=True)
            log("ingest recipes (cold)…")
            rcold = spawn({"task": "ingest-recipe", "corpus": str(corpus), "data": str(dirs["recipes"]),
                               "model": model})
        edited_corpus = Path(tmp) / "corpus-edited"
        shutil.copytree(corpus, edited_corpus)
        res["edited_section"] = edit_one_section(edited_corpus)
        for name in OURS:
            copy = Path(tmp) / f"data-{name}"
            shutil.copytree(dirs[name], copy)
            log(f"ingest {name} (one section edited)…")
            ingest[name]["one_section_edit"] = spawn({"task": "ingest-ours", "corpus": str(edited_corpus),
                                                         "data": str(copy),
                                                         "model": "none" if name == "ours-keyword" else model})
        # the recipes have no change detection: re-running them rebuilds everything (not re-timed)
        for name in recipes:
            if name == "recipe-b":
                b = {"seconds": rcold["split_seconds"], "chunks": rcold["chunks"], "embedded": 0,
                     "peak_rss_mb": rcold["split_peak_rss_mb"]}
                ingest[name] = {"cold": b, "no_change": b, "one_section_edit": b}
            else:
                ingest[name] = {"cold": rcold, "no_change": rcold, "one_section_edit": rcold}
        res["ingest"] = ingest
        res["recipe_reingest_note"] = ("the recipes have no change detection: a re-run is a full rebuild "
                                       "(same seconds and embedded chunks as cold, not re-timed)")

        # startup to first answer and peak RSS of each recipe in a fresh process
        startup: dict = {}
        for name in recipes:
            log(f"start {name}…")
            startup[name] = spawn({"task": "start-recipe", "recipe": name, "data": str(dirs["recipes"]),
                                       "model": model, "question": cases[0][1].question})

        # quality and warm retrieval, in this process
        log("quality and retrieval, interleaved…")
        systems = [ours("ours-keyword", dirs["ours-keyword"], corpus, "none"),
                   ours("ours-hybrid", dirs["ours-hybrid"], corpus, model)]
        rec = recipe_retrievers(dirs["recipes"], model, recipes) if recipes else {}
        systems += [System(n, (lambda r: lambda q: distinct_sections(r.invoke(q)))(rec[n])) for n in recipes]
        for s in systems:  # load lazily initialised parts (jieba, the model, Chroma) before timing
            for q in WARMUP_QUESTIONS:
                s.rank(q)
                if s.answerer:
                    s.answerer.ask(q)
        rows, times = quality_pass(systems, cases)
        res["quality"] = quality_table(rows)
        retrieval = {n: {"clients": 1, "requests": len(ts), "p50_ms": pct(ts, 50), "p95_ms": pct(ts, 95),
                         "rps": round(1000 / statistics.mean(ts), 1) if ts else None} for n, ts in times.items()}
        questions = list(dict.fromkeys(c.question for _, c in cases))
        for s in systems:
            clear_query_cache(s)
        eight = interleaved_load({s.name: s.rank for s in systems}, questions[: max(16, args.requests)], 8)
        res["retrieval"] = {n: {"1": retrieval[n], "8": eight[n]} for n in retrieval}
        res["bench_process_peak_rss_mb"] = peak_rss_mb()

        if not args.no_server:
            log("servers…")
            base_env = {"CORPUS_DIR": str(corpus), "LLM_BASE_URL": "", "LLM_MODEL": "", "API_TOKEN": "",
                        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
            envs = {"ours-keyword": {**base_env, "DATA_DIR": str(dirs["ours-keyword"]), "EMBEDDING_MODEL": "none"},
                    "ours-hybrid": {**base_env, "DATA_DIR": str(dirs["ours-hybrid"]), "EMBEDDING_MODEL": model}}
            res["server"] = server_phase(envs, questions, args.requests)
        res["startup_recipes"] = startup
    res["ratios"] = ratios(res)
    res["targets"] = targets(res)
    res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    return res


# --- ratios, targets, the table --------------------------------------------------------------------------

def figures(res: dict) -> list[tuple[str, str, dict[str, float | None], str]]:
    """(group, label, {system: value}, kind) for every figure; kind: "pts" (quality) or "x" (ratio)."""
    rows: list = []
    for set_name, langs in res["quality"].items():
        for lang, by in langs.items():
            n = by["ours-hybrid"]["in_scope"]
            for key, label in (("recall_at_1", "recall@1"), ("recall_at_5", "recall@5"), ("mrr", "MRR")):
                rows.append(("quality", f"{set_name} {lang} ({n}) {label}", {s: m.get(key) for s, m in by.items()}, "pts"))
            for key, label in (("answer_contains_rate", "answer holds the facts"),
                               ("first_line_contains_rate", "first line holds the facts"),
                               ("false_rejection_rate", "false refusals"),
                               ("oos_rejection_rate", "out-of-scope refused")):
                if lang == "all":
                    rows.append(("answer", f"{set_name} {label}", {s: by[s].get(key) for s in OURS}, "-"))
    ing = res["ingest"]
    for key, label in (("cold", "cold ingest"), ("no_change", "re-ingest, no change"),
                       ("one_section_edit", "re-ingest, one section edited")):
        rows.append(("ingest", f"{label} s", {s: ing[s][key]["seconds"] for s in ing}, "x"))
        rows.append(("ingest", f"{label}: chunks embedded", {s: ing[s][key]["embedded"] for s in ing}, "x"))
    rows.append(("memory", "ingest peak RSS MB", {s: ing[s]["cold"]["peak_rss_mb"] for s in ing}, "x"))
    start = {s: v["seconds"] for s, v in res["startup_recipes"].items()}
    rss = {s: v["peak_rss_mb"] for s, v in res["startup_recipes"].items()}
    if "server" in res:
        start.update({s: v["startup_first_answer_s"] for s, v in res["server"].items()})
        rss.update({s: v["server_peak_rss_mb"] for s, v in res["server"].items()})
    rows.append(("speed", "startup to first answer s", start, "x"))
    for c in ("1", "8"):
        for key, label in (("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("rps", "req/s")):
            rows.append(("speed", f"retrieval, {c} client{'s' if c != '1' else ''}: {label}",
                         {s: v[c][key] for s, v in res["retrieval"].items()}, "x"))
    if "server" in res:
        for c in ("1", "8"):
            for key, label in (("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("rps", "req/s")):
                rows.append(("speed", f"POST /api/ask, {c} client{'s' if c != '1' else ''}: {label}",
                             {s: v[f"ask_{c}"][key] for s, v in res["server"].items()}, "-"))
    rows.append(("memory", "server / retriever process peak RSS MB", rss, "x"))
    return rows


def ratios(res: dict) -> dict:
    """For every figure: ours (keyword, hybrid) against each recipe — points for quality, × otherwise."""
    out: dict = {}
    for group, label, vals, kind in figures(res):
        if kind == "-":
            continue
        for o in OURS:
            for r in RECIPES:
                a, b = vals.get(o), vals.get(r)
                if a is None or b is None:
                    v = None
                elif kind == "pts":
                    v = round((a - b) * 100, 1)
                else:
                    v = round(a / b, 2) if b else None
                out.setdefault(label, {})[f"{o}/{r}"] = v
    return out


def targets(res: dict) -> dict:
    t: dict = {}
    gaps = []
    for set_name, langs in res["quality"].items():
        by = langs["all"]
        if by["ours-hybrid"]["in_scope"] == 0 or not all(r in by for r in RECIPES):
            continue
        best5 = max(by[r]["recall_at_5"] for r in RECIPES)
        bestm = max(by[r]["mrr"] for r in RECIPES)
        gaps.append({"set": set_name, "recall_at_5_pts": round((by["ours-hybrid"]["recall_at_5"] - best5) * 100, 1),
                     "mrr_pts": round((by["ours-hybrid"]["mrr"] - bestm) * 100, 1)})
    t["quality_vs_best_recipe"] = gaps
    t["recall5_plus5_and_mrr_plus10_everywhere"] = bool(gaps) and all(g["recall_at_5_pts"] >= 5 and g["mrr_pts"] >= 10 for g in gaps)
    p50 = res["retrieval"]["ours-hybrid"]["1"]["p50_ms"]
    t["retrieval_p50_le_30ms"] = {"value": p50, "met": p50 is not None and p50 <= 30}
    if "server" in res:
        a = res["server"]["ours-hybrid"]["ask_1"]["p50_ms"]
        t["ask_p50_le_100ms_hybrid"] = {"value": a, "met": a is not None and a <= 100}
        r = res["server"]["ours-hybrid"]["server_peak_rss_mb"]
        t["server_rss_le_1536mb"] = {"value": r, "met": r is not None and r <= 1536}
    ing = res["ingest"]["ours-hybrid"]
    share = ing["one_section_edit"]["seconds"] / ing["cold"]["seconds"]
    t["one_section_reingest_le_10pct_of_cold"] = {"value": round(share, 3), "met": share <= 0.10}
    return t


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:,.1f}".replace(".0", "") if v < 100 else f"{v:,.0f}"
    return str(v)


def table(res: dict, keep: Callable[[str], bool] = lambda label: True) -> str:
    systems = [*OURS, *RECIPES]
    head = ["figure", "keyword", "hybrid (default)", "(a) Chroma", "(b) BM25", "(c) Ensemble",
            "hybrid vs (a)", "hybrid vs (b)", "hybrid vs (c)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rat = res["ratios"]
    for group, label, vals, kind in figures(res):
        if not keep(label):
            continue
        cells = [label, *(fmt(vals.get(s)) for s in systems)]
        for r in RECIPES:
            v = rat.get(label, {}).get(f"ours-hybrid/{r}") if kind != "-" else None
            cells.append("—" if v is None else (f"{v:+.1f} pts" if kind == "pts" else f"{v:g}×"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(res: dict) -> str:
    m = res["machine"]
    out = [f"{m['nproc']} cores, {m['cpu']}, {m['ram_gb']} GB RAM; load {res['loadavg_before']} → "
           f"{res['loadavg_after']}; {res['questions']} questions from {', '.join(res['question_sets'])}; "
           f"{res['seconds']} s", "", table(res), "", "targets:"]
    for k, v in res["targets"].items():
        out.append(f"  {k}: {json.dumps(v, ensure_ascii=False)}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--model", default=os.environ.get("BENCH_MODEL", DEFAULT_MODEL),
                    help="sentence-transformers directory every system uses (default: the project's default)")
    ap.add_argument("--questions", type=int, default=None, help="only the first N questions of each set")
    ap.add_argument("--sets", nargs="*", default=None, help="question sets by name (dev heldout …); default all")
    ap.add_argument("--requests", type=int, default=120, help="requests per system and HTTP phase")
    ap.add_argument("--no-server", action="store_true", help="skip the HTTP phase (report-qa serve)")
    ap.add_argument("--no-recipes", action="store_true", help="this project only (keyword and hybrid)")
    ap.add_argument("--in-process", action="store_true",
                    help="ingest and recipe starts in this process (fast, no per-process peak RSS: the smoke test)")
    ap.add_argument("--data-root", default=None, help="where data/bench-* go (default: data/)")
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/results/bench-<date>.json)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    res = run(args)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"bench-{res['date'][:10]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", "utf-8")
    if not args.quiet:
        print(summary(res))
        print(f"\nJSON: {out}")
    return res


if __name__ == "__main__":
    main()
