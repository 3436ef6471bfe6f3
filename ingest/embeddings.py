"""Load the sentence-transformers model without ever hanging on an unreachable hub,
and cache document embeddings so unchanged chunks are never embedded twice."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings


@dataclass
class EmbeddingStatus:
    embeddings: Embeddings | None
    model: str  # what was asked for
    model_id: str | None  # identity of what was loaded (name@revision or path fingerprint)
    message: str  # one sentence for users: what was loaded, or why not

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


def load_embeddings(model: str, query_instruction: str = "", timeout: float = 5.0) -> EmbeddingStatus:
    """LangChain embeddings over sentence-transformers, or None with the reason."""
    if model.strip().lower() in {"", "none", "off", "keyword"}:
        return EmbeddingStatus(None, model, None, "EMBEDDING_MODEL=none: keyword retrieval only")
    path, how = resolve_model(model, timeout)
    if path is None:
        return EmbeddingStatus(None, model, None, f"no embedding model: {how}; using keyword retrieval only")
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
    return EmbeddingStatus(emb, model, model_id, f"embedding model {how}")


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
