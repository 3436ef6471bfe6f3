"""Load the sentence-transformers model without ever hanging on an unreachable hub,
and cache document embeddings so unchanged chunks are never embedded twice."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import struct
import threading
import unicodedata
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings

BACKENDS = ("auto", "onnx", "torch")


@dataclass
class EmbeddingStatus:
    embeddings: Embeddings | None
    model: str  # what was asked for
    model_id: str | None  # identity of what was loaded (name@revision or path fingerprint, + "+onnx-int8")
    message: str  # one sentence for users: what was loaded, or why not
    backend: str = ""  # "onnx-int8" | "torch" | "" (none loaded)

    @property
    def available(self) -> bool:
        return self.embeddings is not None


def _hub_reachable(timeout: float) -> bool:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        # resolve + connect in a thread so a hanging DNS lookup cannot block us past the timeout
        result: list[bool] = []

        def probe():
            try:
                socket.create_connection((url.hostname, port), timeout=timeout).close()
                result.append(True)
            except Exception:  # DNS failure, refused, unreachable, timeout
                result.append(False)

        t = threading.Thread(target=probe, daemon=True)
        t.start()
        t.join(timeout)
        return bool(result and result[0])
    except Exception:
        return False


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in {".json", ".safetensors", ".bin", ".txt", ".model"}:
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def resolve_model(name: str, timeout: float = 5.0) -> tuple[Path | None, str]:
    """Find the model on disk: a local directory, the Hugging Face cache, or a fresh download
    when the hub answers within `timeout` seconds. Returns (path or None, explanation)."""
    local = Path(name).expanduser()
    if local.is_dir():
        return local, f"local model directory {local}"
    # a hub id is "org/name"; anything else that looks like a path is a directory that is missing
    if local.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name:
        hint = " (run `make model` or `report-qa import-e5` to build it)" if "e5" in name.lower() else ""
        return None, f"model directory {name} does not exist{hint}"
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True)), f"{name} (cached)"
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return None, f"{name} is not in the local cache and HF_HUB_OFFLINE is set"
    if not _hub_reachable(timeout):
        return None, f"{name} is not cached and the Hugging Face hub is unreachable (checked for {timeout:g} s)"
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(int(timeout)))
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    try:
        return Path(snapshot_download(name)), f"{name} (downloaded)"
    except Exception as exc:  # network error, unknown repo, disk full
        return None, f"could not download {name}: {type(exc).__name__}"


def load_embeddings(model: str, query_instruction: str = "", timeout: float = 5.0, backend: str = "auto",
                    query_cache: int = 1024) -> EmbeddingStatus:
    """LangChain embeddings for `model`, or None with the reason. With backend "auto" (or "onnx") the
    int8 ONNX export beside a local model (ingest/onnx_export.py) runs on onnxruntime, without torch;
    where there is none, or with "torch", sentence-transformers on torch. Either way query vectors
    are kept in an LRU of `query_cache` normalised questions."""
    if model.strip().lower() in {"", "none", "off", "keyword"}:
        return EmbeddingStatus(None, model, None, "EMBEDDING_MODEL=none: keyword retrieval only")
    path, how = resolve_model(model, timeout)
    if path is None:
        return EmbeddingStatus(None, model, None, f"no embedding model: {how}; using keyword retrieval only")
    why_torch = "EMBEDDING_BACKEND=torch"
    if backend != "torch":
        from .onnx_export import current_export, read_pipeline

        onnx_file, why_torch = current_export(path)
        if onnx_file is not None:
            try:
                pipe = read_pipeline(path)
                prompt = query_instruction or pipe.prompts.get("query", pipe.default_prompt)
                emb = OnnxEmbeddings(path, onnx_file, pipe, prompt)
            except Exception as exc:  # a damaged file, an onnxruntime that cannot run it
                why_torch = f"the ONNX export failed to load ({type(exc).__name__}: {exc})"
            else:
                st = onnx_file.stat()
                model_id = f"{model}@{_fingerprint(path)}+onnx-int8-alone:{st.st_size}:{int(st.st_mtime)}"
                return EmbeddingStatus(QueryCache(emb, query_cache), model, model_id,
                                       f"embedding model {how}, ONNX int8 on onnxruntime", "onnx-int8")
    from langchain_huggingface import HuggingFaceEmbeddings

    try:
        emb = HuggingFaceEmbeddings(
            model_name=str(path),
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
            query_encode_kwargs={"normalize_embeddings": True,
                                 **({"prompt": query_instruction} if query_instruction else {})},
        )
    except Exception as exc:
        return EmbeddingStatus(None, model, None,
                               f"embedding model {model} failed to load ({type(exc).__name__}: {exc}); "
                               "using keyword retrieval only")
    prompts = getattr(getattr(emb, "_client", None), "prompts", None) or {}
    if not query_instruction and "query" in prompts:  # the model's own query prompt (e5: "query: ")
        emb.query_encode_kwargs = {**emb.query_encode_kwargs, "prompt_name": "query"}
    model_id = f"{model}@{_fingerprint(path)}"
    return EmbeddingStatus(QueryCache(emb, query_cache), model, model_id,
                           f"embedding model {how}, torch ({why_torch})", "torch")


def embeddings_for(settings) -> EmbeddingStatus:
    """load_embeddings with everything the settings say (model, prompt, hub wait, backend, query cache)."""
    return load_embeddings(settings.embedding_model, settings.query_instruction, settings.embedding_load_timeout,
                           backend=settings.embedding_backend, query_cache=settings.embedding_query_cache)


def normalize_query(text: str) -> str:
    """NFKC, runs of whitespace as one space, trimmed: the LRU key, and what is embedded."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class QueryCache(Embeddings):
    """Query vectors in an LRU keyed by the normalised question (repeated and follow-up questions cost
    nothing); documents pass through."""

    def __init__(self, inner: Embeddings, size: int = 1024):
        self.inner, self.size = inner, max(0, int(size))
        self._lru: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __getattr__(self, name: str):  # the wrapped embeddings' own attributes (prompts, kwargs)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        key = normalize_query(text)
        with self._lock:
            vec = self._lru.get(key)
            if vec is not None:
                self._lru.move_to_end(key)
                self.hits += 1
                return list(vec)
            self.misses += 1
        vec = tuple(self.inner.embed_query(key))
        if self.size:
            with self._lock:
                self._lru[key] = vec
                self._lru.move_to_end(key)
                while len(self._lru) > self.size:
                    self._lru.popitem(last=False)
        return list(vec)


class OnnxEmbeddings(Embeddings):
    """A sentence-transformers model's int8 ONNX export on onnxruntime: its tokenizer.json, the
    transformer, mean or CLS pooling, L2 normalisation, its prompts ("passage: " / "query: ").
    Each document is embedded alone; one session serves every thread."""

    # dynamic int8 quantization scales a batch's activations together, so a text embedded in a batch
    # gets a vector that depends on its companions (cosine to itself alone down to 0.993): an edit of
    # one section would move every unit's vector, and cached vectors would not match fresh ones.
    # Alone, a text always gets the same vector, and without padding it is faster (600 units of
    # the report: 2.1 s against 3.8 s in batches of 16, 2 cores)
    BATCH = 1

    def __init__(self, model_dir: Path, onnx_file: Path, pipeline, query_prompt: str = "", threads: int = 1):
        import onnxruntime  # noqa: F401  (fail here, at load, when it is missing)

        self.pipeline, self.query_prompt = pipeline, query_prompt
        self.model_dir, self.onnx_file, self.threads = Path(model_dir), Path(onnx_file), max(1, threads)
        # tokenizer and session are loaded on first use (or by preload()): an ingest with nothing to
        # embed never pays for them (a 250k-piece tokenizer alone takes seconds and ~300 MB)
        self._session = None
        self._lock = threading.Lock()

    def preload(self) -> threading.Thread:
        """Load the tokenizer and the session in the background (while the server starts)."""
        t = threading.Thread(target=lambda: self.session, name="onnx-preload", daemon=True)
        t.start()
        return t

    @property
    def session(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                    tokenizer.no_padding()
                    tokenizer.enable_truncation(max_length=self.pipeline.max_length)
                    pad_id = tokenizer.token_to_id(self.pipeline.pad_token)
                    opts = ort.SessionOptions()
                    # parallelism comes from the answer pool (a request per core); spinning threads would steal it
                    opts.intra_op_num_threads = self.threads
                    opts.inter_op_num_threads = 1
                    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    session = ort.InferenceSession(str(self.onnx_file), opts, providers=["CPUExecutionProvider"])
                    self.tokenizer, self.pad_id = tokenizer, 0 if pad_id is None else pad_id
                    self.inputs = {i.name for i in session.get_inputs()}
                    self._session = session
        return self._session

    def _encode(self, texts: list[str], shrink: bool = False):
        import numpy as np

        session = self.session
        if self.pipeline.lowercase:
            texts = [t.lower() for t in texts]
        encs = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        options = None
        if shrink:  # a batch of long passages: give the arena's peak back (else ~500 MB stay with the server)
            import onnxruntime as ort

            options = ort.RunOptions()
            options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        hidden = session.run(None, feed, options)[0]
        if self.pipeline.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        prefix = self.pipeline.default_prompt
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
        batches = [order[i : i + self.BATCH] for i in range(0, len(order), self.BATCH)]
        out: list[list[float] | None] = [None] * len(texts)

        def encode(idx: list[int]) -> None:
            for i, v in zip(idx, self._encode([prefix + texts[i] for i in idx], shrink=True)):
                out[i] = v.tolist()

        if len(batches) > 1:  # one single-threaded session, a batch per core (onnxruntime releases the GIL)
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(len(batches), os.cpu_count() or 1)) as ex:
                list(ex.map(encode, batches))
        elif batches:
            encode(batches[0])
        return out  # type: ignore[return-value]

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self.query_prompt + text])[0].tolist()


class CachedEmbeddings(Embeddings):
    """Document embeddings cached in SQLite by (model id, text hash); queries pass through."""

    def __init__(self, inner: Embeddings, model_id: str, path: Path, refresh: bool = False):
        self.inner, self.model_id, self.path, self.refresh = inner, model_id, Path(path), refresh
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self.hits = 0
        self.misses = 0

    @contextmanager
    def _db(self):
        """A connection that commits on success and is always closed."""
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_id}\n{text}".encode("utf-8")).hexdigest()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        keys = [self._key(t) for t in texts]
        found: dict[str, list[float]] = {}
        with self._db() as db:
            for i in range(0, len(keys) if not self.refresh else 0, 500):
                batch = keys[i : i + 500]
                q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(batch))})"
                for k, blob in db.execute(q, batch):
                    found[k] = list(struct.unpack(f"{len(blob) // 4}f", blob))
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            vecs = self.inner.embed_documents([texts[i] for i in todo])
            with self._db() as db:
                db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                               [(keys[i], struct.pack(f"{len(v)}f", *v)) for i, v in zip(todo, vecs)])
            for i, v in zip(todo, vecs):
                found[keys[i]] = list(v)
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        return [found[k] for k in keys]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)
