"""The on-disk index: versions, the manifest that points at the current one, Chroma access.

DATA_DIR/
  manifest.json               current version (replaced atomically; readers follow it)
  versions/<version>/         chunks.jsonl, sections.json, bm25.pkl, lexicon.json, chroma/ (embedded mode)
  embedding-cache.sqlite      document vectors by (model, text hash)
  ingest.lock                 held while an ingest runs
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pickle
import secrets
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

COLLECTION_PREFIX = "report_qa_"


@dataclass
class Manifest:
    version: str
    created: float
    retrieval_mode: str  # "hybrid" | "keyword"
    embedding_model: str | None  # model id, None in keyword mode
    chunk_count: int
    section_count: int
    missing: list[str] = field(default_factory=list)
    chroma: dict = field(default_factory=dict)  # {"mode": "embedded"} | {"mode": "server", "host", "port"}
    corpus_hash: str = ""
    previous: list[str] = field(default_factory=list)  # older versions still on disk

    @property
    def collection(self) -> str:
        return COLLECTION_PREFIX + self.version


def new_version() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def version_dir(data_dir: Path, version: str) -> Path:
    return Path(data_dir) / "versions" / version


class ManifestUnreadable(Exception):
    """manifest.json exists but is not a manifest (empty, garbage, wrong fields); str() says why."""


def read_manifest(data_dir: Path) -> Manifest | None:
    """The current manifest, None if there is none; ManifestUnreadable if the file is broken."""
    path = Path(data_dir) / "manifest.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ManifestUnreadable(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        manifest = Manifest(**data)
        if not isinstance(manifest.version, str) or not manifest.version or "/" in manifest.version \
                or manifest.version.startswith("."):
            raise TypeError("no valid version")
        return manifest
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        what = "is empty" if not raw.strip() else f"is not a valid manifest ({type(exc).__name__}: {str(exc)[:80]})"
        raise ManifestUnreadable(f"{path} {what}") from None


def write_manifest(data_dir: Path, manifest: Manifest) -> None:
    """Atomic switch: write a temp file, fsync, rename over the old manifest."""
    path = Path(data_dir) / "manifest.json"
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(manifest), f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # disk full, interrupted: the old manifest stays, the half-written file goes
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class IngestBusy(Exception):
    pass


@contextmanager
def ingest_lock(data_dir: Path, wait: float = 0.0):
    """Exclusive lock for one ingest at a time; raises IngestBusy after `wait` seconds."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    path = Path(data_dir) / "ingest.lock"
    with open(path, "a+") as f:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    f.seek(0)
                    holder = f.read().strip() or "?"
                    raise IngestBusy(holder) from None
                time.sleep(0.2)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def chroma_client(data_dir: Path, version: str, host: str | None, port: int):
    """Embedded Chroma (one directory per version) or a Chroma server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, settings=settings)
    path = version_dir(data_dir, version) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def write_version_files(vdir: Path, chunks: list[dict], sections: list[dict], bm25, lexicon: dict) -> None:
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), encoding="utf-8")
    with open(vdir / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    (vdir / "sections.json").write_text(json.dumps(sections, ensure_ascii=False, indent=1), encoding="utf-8")
    with open(vdir / "bm25.pkl", "wb") as f:
        pickle.dump(bm25, f, protocol=pickle.HIGHEST_PROTOCOL)
    # fsync the files so a crash after the manifest switch cannot leave them empty
    for name in ("chunks.jsonl", "sections.json", "bm25.pkl", "lexicon.json"):
        fd = os.open(vdir / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_chunks(vdir: Path) -> list[dict]:
    with open(vdir / "chunks.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_sections(vdir: Path) -> list[dict]:
    return json.loads((vdir / "sections.json").read_text(encoding="utf-8"))


def read_lexicon(vdir: Path) -> dict:
    """{"english": word → translations found in the corpus, "chinese_uncovered": [...]} (see
    ingest/lexicon.py); {} for an index built before lexicons."""
    try:
        return json.loads((vdir / "lexicon.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def read_bm25(vdir: Path):
    with open(vdir / "bm25.pkl", "rb") as f:
        return pickle.load(f)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT, also as SQLite or Chroma report it."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk is full" in text


def collect_garbage(data_dir: Path, keep: list[str], client=None) -> list[str]:
    """Remove version directories (and server collections) not in `keep`, e.g. those of
    superseded versions or of an ingest that was killed half-way."""
    removed = []
    for tmp in Path(data_dir).glob("manifest.tmp-*"):  # left by an ingest killed while switching
        tmp.unlink(missing_ok=True)
        removed.append(tmp.name)
    vroot = Path(data_dir) / "versions"
    if vroot.is_dir():
        for d in vroot.iterdir():
            if d.is_dir() and d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
    if client is not None:
        keep_cols = {COLLECTION_PREFIX + v for v in keep}
        for col in client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith(COLLECTION_PREFIX) and name not in keep_cols:
                client.delete_collection(name)
                removed.append(name)
    return removed
