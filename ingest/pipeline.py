"""`report-qa ingest`: corpus → validated sections → chunks → (embeddings) → a new index version.

Crash-safe: everything is written into a fresh version (directory or server collection); only
then is the manifest switched atomically. Incremental: unchanged chunks reuse cached vectors.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .chunking import Chunk, chunk_corpus
from .corpus import Corpus, load_corpus
from .embeddings import CachedEmbeddings, EmbeddingStatus, load_embeddings
from .glossary import source_words_fingerprint
from .keywords import tokenize, tokenizer_fingerprint
from .lexicon import LEXICON_VERSION, build_lexicon
from .settings import Settings
from .units import UNITS_VERSION, corpus_units, write_units
from .store import (Manifest, ManifestUnreadable, chroma_client, collect_garbage, ingest_lock, is_disk_full,
                    new_version, read_chunks, read_manifest, version_dir, write_manifest, write_version_files)

EMBED_BATCH = 32


@dataclass
class IngestReport:
    version: str
    sections: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    embedded: int
    reused: int
    seconds: float
    retrieval_mode: str
    embedding_model: str | None
    index_changed: bool
    missing: list[str] = field(default_factory=list)
    message: str = ""
    notes: list[str] = field(default_factory=list)  # what was wrong with the old index and what was done

    def to_json(self) -> dict:
        return asdict(self)


class IngestDiskFull(Exception):
    """The disk filled up while writing a new version; the partial version was removed."""

    def __init__(self, data_dir: Path):
        super().__init__(f"磁盘已满：新索引未能写完，已删除未完成的部分，索引保持原样；请释放磁盘空间后重新运行 ingest。"
                         f"Disk full: the new index version could not be written and was removed, the index is "
                         f"unchanged; free space on the disk holding {data_dir} and run `report-qa ingest` again.")


def _diff(old: list[dict], new: list[Chunk]) -> tuple[int, int, int, int]:
    """(added, updated, removed, unchanged) chunk counts; 'updated' = new chunks of a section
    that existed before, 'added' = chunks of sections that are new."""
    old_ids = {c["id"] for c in old}
    old_sections = {c["section"] for c in old}
    new_ids = {c.id for c in new}
    fresh = [c for c in new if c.id not in old_ids]
    updated = sum(1 for c in fresh if c.section in old_sections)
    return len(fresh) - updated, updated, len(old_ids - new_ids), len(new_ids & old_ids)


def _section_records(corpus: Corpus) -> list[dict]:
    return [{**asdict(s), "parents": list(s.parents), "path": corpus.path(s.number)} for s in corpus.sections]


def _fingerprint(settings: Settings, status: EmbeddingStatus, chunks: list[Chunk]) -> str:
    """What an index version was built from: retrieval mode, model, Chroma target, lexicon, units,
    tokenizer, chunk ids."""
    return hashlib.sha256("\n".join(
        [_mode(status), status.model_id or "", str(sorted(_chroma_target(settings).items())), LEXICON_VERSION,
         UNITS_VERSION, tokenizer_fingerprint(), source_words_fingerprint(),
         *(c.id for c in chunks)]
    ).encode()).hexdigest()


def _mode(status: EmbeddingStatus) -> str:
    return "hybrid" if status.available else "keyword"


def _chroma_target(settings: Settings) -> dict:
    return ({"mode": "server", "host": settings.chroma_host, "port": settings.chroma_port}
            if settings.chroma_host else {"mode": "embedded"})


def read_manifest_version(data_dir: Path) -> str | None:
    try:
        m = read_manifest(data_dir)
    except ManifestUnreadable:
        return None
    return m.version if m else None


def _close(client) -> None:
    """Release a Chroma client's files (embedded mode) or connections."""
    if client is not None and hasattr(client, "close"):
        try:
            client.close()
        except Exception:
            pass


def _remove_version(data_dir: Path, version: str, client, collection: str) -> None:
    shutil.rmtree(version_dir(data_dir, version), ignore_errors=True)
    if client is not None:  # a Chroma server keeps the collection elsewhere
        try:
            if any((c if isinstance(c, str) else c.name) == collection for c in client.list_collections()):
                client.delete_collection(collection)
        except Exception:  # the server is unreachable: the next ingest's collect_garbage removes it
            pass


def _collect_debris(settings: Settings, keep: list[str]) -> None:
    client = chroma_client(settings.data_dir, keep[0], settings.chroma_host, settings.chroma_port) \
        if settings.chroma_host else None
    try:
        collect_garbage(settings.data_dir, keep, client)
    finally:
        _close(client)


def index_is_current(settings: Settings, status: EmbeddingStatus, allow_missing: bool = True) -> bool:
    """True when the index exists and was built from the current corpus with this model."""
    try:
        manifest = read_manifest(settings.data_dir)
    except ManifestUnreadable:
        return False
    if manifest is None or not version_dir(settings.data_dir, manifest.version).is_dir():
        return False
    corpus = load_corpus(Path(settings.corpus_dir), allow_missing=allow_missing)
    chunks = chunk_corpus(corpus, settings.chunk_size, settings.chunk_overlap)
    return manifest.corpus_hash == _fingerprint(settings, status, chunks)


def run_ingest(settings: Settings, corpus_dir: Path | None = None, rebuild: bool = False,
               allow_missing: bool = False, progress: Callable[[int, int], None] | None = None,
               embeddings: EmbeddingStatus | None = None, lock_wait: float = 0.0) -> IngestReport:
    t0 = time.perf_counter()
    corpus = load_corpus(Path(corpus_dir or settings.corpus_dir), allow_missing=allow_missing)
    chunks = chunk_corpus(corpus, settings.chunk_size, settings.chunk_overlap)
    status = embeddings or load_embeddings(settings.embedding_model, settings.query_instruction,
                                           settings.embedding_load_timeout)
    mode = _mode(status)
    fingerprint = _fingerprint(settings, status, chunks)
    data_dir = Path(settings.data_dir)

    with ingest_lock(data_dir, wait=lock_wait):
        notes: list[str] = []
        try:
            old = read_manifest(data_dir)
        except ManifestUnreadable as exc:
            old = None
            notes.append(f"索引清单无法读取，已从头重建索引。The manifest was unreadable ({exc}): rebuilt the index "
                         "from scratch.")
        old_vdir = version_dir(data_dir, old.version) if old else None
        if old and not old_vdir.is_dir():
            notes.append(f"当前索引版本的目录不见了，已重建。The directory of the current version {old.version} "
                         "was missing: rebuilt the index.")
        try:
            old_chunks = read_chunks(old_vdir) if old_vdir and (old_vdir / "chunks.jsonl").exists() else []
        except (OSError, ValueError):  # a damaged old version only loses the added/updated counts
            old_chunks = []
        added, updated, removed, unchanged = _diff(old_chunks, chunks)
        if old and not rebuild and old.corpus_hash == fingerprint and old_vdir.is_dir():
            _collect_debris(settings, [old.version, *old.previous])  # e.g. a version left by a killed ingest
            return IngestReport(old.version, len(corpus.sections), len(chunks), 0, 0, 0, len(chunks), 0, 0,
                                round(time.perf_counter() - t0, 3), mode, status.model_id, False,
                                corpus.missing, status.message, notes)

        version = new_version()
        vdir = version_dir(data_dir, version)
        manifest = Manifest(version, time.time(), mode, status.model_id, len(chunks), len(corpus.sections),
                            corpus.missing, _chroma_target(settings), fingerprint)
        embedded = reused = 0
        client = None
        try:
            if status.available:
                from langchain_chroma import Chroma

                cached = CachedEmbeddings(status.embeddings, status.model_id, data_dir / "embedding-cache.sqlite",
                                          refresh=rebuild)
                client = chroma_client(data_dir, version, settings.chroma_host, settings.chroma_port)
                store = Chroma(client=client, collection_name=manifest.collection, embedding_function=cached,
                               collection_metadata={"hnsw:space": "cosine"})
                for i in range(0, len(chunks), EMBED_BATCH):
                    batch = chunks[i : i + EMBED_BATCH]
                    store.add_texts([c.embed_text for c in batch], [c.metadata() for c in batch],
                                    ids=[c.id for c in batch])
                    if progress:
                        progress(min(i + EMBED_BATCH, len(chunks)), len(chunks))
                embedded, reused = cached.misses, cached.hits

            from rank_bm25 import BM25Okapi

            bm25 = BM25Okapi([tokenize(c.embed_text) or ["∅"] for c in chunks])
            records = [{"id": c.id, **c.metadata(), "text": c.text} for c in chunks]
            lexicon = build_lexicon("\n".join(c.embed_text for c in chunks))
            write_version_files(vdir, records, _section_records(corpus), bm25, lexicon)
            # the sentences and rows an answer can quote: tokenized, and embedded (cached) with a model
            units = corpus_units(records)
            unit_vectors = own_vectors = None
            if status.available:
                unit_vectors = cached.embed_documents([u.embed_text for u in units])
                own_vectors = cached.embed_documents([u.own_text for u in units])
            write_units(vdir, units, [tokenize(u.match_text) for u in units], [tokenize(u.own_match_text) for u in units],
                        unit_vectors, own_vectors)

            previous = ([old.version] + old.previous if old else [])[: max(0, settings.keep_versions - 1)]
            manifest.previous = previous
            write_manifest(data_dir, manifest)
            collect_garbage(data_dir, [version, *previous], client)
        except BaseException as exc:  # disk full, interrupted, failed: no partial version is left behind
            if read_manifest_version(data_dir) != version:
                _remove_version(data_dir, version, client if settings.chroma_host else None, manifest.collection)
            if isinstance(exc, Exception) and is_disk_full(exc):
                raise IngestDiskFull(data_dir) from exc
            raise
        finally:
            _close(client)
        return IngestReport(version, len(corpus.sections), len(chunks), added, updated, removed, unchanged,
                            embedded, reused, round(time.perf_counter() - t0, 3), mode, status.model_id, True,
                            corpus.missing, status.message, notes)
