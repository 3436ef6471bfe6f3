"""`report-qa ingest`: corpus → validated sections → chunks → (embeddings) → a new index version.

Crash-safe: everything is written into a fresh version (directory or server collection); only
then is the manifest switched atomically. Incremental: unchanged chunks reuse cached vectors.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .chunking import Chunk, chunk_corpus
from .corpus import Corpus, load_corpus
from .embeddings import CachedEmbeddings, EmbeddingStatus, load_embeddings
from .keywords import tokenize
from .lexicon import LEXICON_VERSION, build_lexicon
from .settings import Settings
from .store import (Manifest, chroma_client, collect_garbage, ingest_lock, new_version, read_chunks,
                    read_manifest, version_dir, write_manifest, write_version_files)

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

    def to_json(self) -> dict:
        return asdict(self)


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
    """What an index version was built from: retrieval mode, model, Chroma target, lexicon, chunk ids."""
    return hashlib.sha256("\n".join(
        [_mode(status), status.model_id or "", str(sorted(_chroma_target(settings).items())), LEXICON_VERSION,
         *(c.id for c in chunks)]
    ).encode()).hexdigest()


def _mode(status: EmbeddingStatus) -> str:
    return "hybrid" if status.available else "keyword"


def _chroma_target(settings: Settings) -> dict:
    return ({"mode": "server", "host": settings.chroma_host, "port": settings.chroma_port}
            if settings.chroma_host else {"mode": "embedded"})


def index_is_current(settings: Settings, status: EmbeddingStatus, allow_missing: bool = True) -> bool:
    """True when the index exists and was built from the current corpus with this model."""
    manifest = read_manifest(settings.data_dir)
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
        old = read_manifest(data_dir)
        old_vdir = version_dir(data_dir, old.version) if old else None
        old_chunks = read_chunks(old_vdir) if old_vdir and (old_vdir / "chunks.jsonl").exists() else []
        added, updated, removed, unchanged = _diff(old_chunks, chunks)
        if old and not rebuild and old.corpus_hash == fingerprint and old_vdir.is_dir():
            return IngestReport(old.version, len(corpus.sections), len(chunks), 0, 0, 0, len(chunks), 0, 0,
                                round(time.perf_counter() - t0, 3), mode, status.model_id, False,
                                corpus.missing, status.message)

        version = new_version()
        vdir = version_dir(data_dir, version)
        manifest = Manifest(version, time.time(), mode, status.model_id, len(chunks), len(corpus.sections),
                            corpus.missing, _chroma_target(settings), fingerprint)
        embedded = reused = 0
        client = None
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

        previous = ([old.version] + old.previous if old else [])[: max(0, settings.keep_versions - 1)]
        manifest.previous = previous
        write_manifest(data_dir, manifest)
        collect_garbage(data_dir, [version, *previous], client)
        return IngestReport(version, len(corpus.sections), len(chunks), added, updated, removed, unchanged,
                            embedded, reused, round(time.perf_counter() - t0, 3), mode, status.model_id, True,
                            corpus.missing, status.message)
