"""The current index version, loaded once and swapped when `report-qa ingest` switches the manifest."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from ingest.embeddings import EmbeddingStatus, embeddings_for
from ingest.settings import Settings
from ingest.units import UnitRecord, corpus_units, read_units
from ingest.store import (Manifest, ManifestUnreadable, chroma_client, read_bm25, read_chunks, read_lexicon,
                          read_manifest, read_sections, version_dir)

log = logging.getLogger(__name__)


class IndexMissing(Exception):
    """No index has been built yet."""


class IndexUnreadable(IndexMissing):
    """There is an index on disk but it cannot be loaded (str() says what is wrong); nothing was loaded before."""


def _close_client(client) -> None:
    try:
        client.close()
    except Exception:  # closing is best effort: the process keeps serving either way
        log.debug("closing a Chroma client failed", exc_info=True)


T = TypeVar("T")


@dataclass
class LoadedIndex:
    manifest: Manifest
    chunks: list[dict]
    sections: dict[str, dict]
    bm25: object
    idf: dict[str, float]
    chunk_tokens: list[set[str]]
    collection: object | None = None  # LangChain Chroma store when dense retrieval is on
    notice: str = ""  # why dense retrieval is off, if it is
    by_id: dict[str, int] = field(default_factory=dict)
    folded_vocab: set[str] | None = None  # vocabulary without - _ . (filled on first use)
    lexicon: dict[str, list[str]] = field(default_factory=dict)  # English word → translations in the corpus
    chinese_uncovered: frozenset[str] = frozenset()  # Chinese words whose meanings the report never renders
    phrase_only: frozenset[str] = frozenset()  # English words it renders only in phrases ("day": 日益)
    units: list[UnitRecord] = field(default_factory=list)  # sentences and table rows an answer can quote
    unit_tokens: list[frozenset[str]] = field(default_factory=list)  # with the section's path and title
    unit_own_tokens: list[frozenset[str]] = field(default_factory=list)  # the unit alone
    unit_vectors: np.ndarray | None = None  # embedded at ingest with the index's model (hybrid only)
    unit_own_vectors: np.ndarray | None = None  # the same, each unit without its context
    units_by_section: dict[str, list[int]] = field(default_factory=dict)

    @property
    def retrieval_mode(self) -> str:
        return "hybrid" if self.collection is not None else "keyword"


def derived(index, key: str, build: Callable[[], T]) -> T:
    """What is computed from an index once and kept with it (postings, section facts, the figure and
    table summaries the refusal rules read): build() on first use. Any object with a __dict__ serves
    (the tests' small stand-ins too)."""
    value = index.__dict__.get(key)
    if value is None:
        value = index.__dict__[key] = build()
    return value


def _load(settings: Settings, manifest: Manifest, emb: EmbeddingStatus) -> LoadedIndex:
    vdir = version_dir(settings.data_dir, manifest.version)
    if not vdir.is_dir():
        raise IndexUnreadable(f"the directory of index version {manifest.version} ({vdir}) is missing")
    chunks = read_chunks(vdir)
    sections = {s["number"]: s for s in read_sections(vdir)}
    bm25 = read_bm25(vdir)
    # the token set of each chunk, as ingest tokenized it for BM25 (no second tokenization)
    chunk_tokens = [set(freqs) for freqs in bm25.doc_freqs]
    idf = {t: float(v) for t, v in bm25.idf.items()}
    lexicon = read_lexicon(vdir)
    collection, notice = None, ""
    if manifest.retrieval_mode == "hybrid":
        if not emb.available:
            notice = emb.message
        elif emb.model_id != manifest.embedding_model:
            notice = (f"the index was embedded with {manifest.embedding_model} but the app loaded "
                      f"{emb.model_id}; re-run `report-qa ingest` — using keyword retrieval only")
        else:
            client = chroma_client(settings.data_dir, manifest.version, manifest.chroma.get("host"),
                                   manifest.chroma.get("port", settings.chroma_port))
            from langchain_chroma import Chroma

            collection = Chroma(client=client, collection_name=manifest.collection,
                                embedding_function=emb.embeddings, create_collection_if_not_exists=False)
    else:
        notice = "the index was built without an embedding model: keyword retrieval only"
    stored = read_units(vdir)
    if stored is None:  # an index built before units: split and tokenize them now, no vectors
        from ingest.keywords import tokenize

        units = corpus_units(chunks)
        stored = (units, [frozenset(tokenize(u.match_text)) for u in units],
                  [frozenset(tokenize(u.own_match_text)) for u in units], None, None)
    units, unit_tokens, unit_own_tokens, unit_vectors, unit_own_vectors = stored
    by_section: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_section.setdefault(u.section, []).append(i)
    loaded = LoadedIndex(manifest, chunks, sections, bm25, idf, chunk_tokens, collection, notice,
                         {c["id"]: i for i, c in enumerate(chunks)}, lexicon=lexicon.get("english", {}),
                         chinese_uncovered=frozenset(lexicon.get("chinese_uncovered", ())),
                         phrase_only=frozenset(lexicon.get("phrase_only", ())),
                         units=units, unit_tokens=unit_tokens, unit_own_tokens=unit_own_tokens,
                         unit_vectors=unit_vectors if collection is not None else None,
                         unit_own_vectors=unit_own_vectors if collection is not None else None,
                         units_by_section=by_section)
    if collection is not None:
        # After a live switch the old version's Chroma files must not stay open: the client is closed
        # when the last request still using this index lets go of it.
        weakref.finalize(loaded, _close_client, client)
    return loaded


class IndexHandle:
    """Thread-safe access to the current index; checks the manifest on every `get()` (one stat)."""

    def __init__(self, settings: Settings, embeddings: EmbeddingStatus | None = None):
        self.settings = settings
        self._emb = embeddings
        self._lock = threading.Lock()
        self._current: LoadedIndex | None = None
        self._stamp: tuple | None = None

    @property
    def embeddings(self) -> EmbeddingStatus:
        if self._emb is None:
            self._emb = embeddings_for(self.settings)  # once per process: ONNX (or torch) and the query LRU
        return self._emb

    def get(self) -> LoadedIndex:
        """The current index. A manifest or version that cannot be loaded leaves the one already in memory
        serving (logged once); with nothing in memory it raises IndexUnreadable saying what is wrong."""
        path = Path(self.settings.data_dir) / "manifest.json"
        try:
            st = path.stat()
        except FileNotFoundError:
            if self._current is not None:
                return self._current
            raise IndexMissing(f"no index in {self.settings.data_dir}: run `report-qa ingest` first") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._current is not None and stamp == self._stamp:
            return self._current
        with self._lock:
            if self._current is None or stamp != self._stamp:
                try:
                    self._switch(stamp)
                except IndexUnreadable as exc:
                    if self._current is None:
                        raise
                    if self._stamp != stamp:
                        log.warning("keeping index version %s: %s", self._current.manifest.version, exc)
                    self._stamp = stamp  # do not retry until the manifest changes again
        return self._current

    def _switch(self, stamp: tuple) -> None:
        try:
            manifest = read_manifest(self.settings.data_dir)
        except ManifestUnreadable as exc:
            raise IndexUnreadable(str(exc)) from None
        if manifest is None:
            raise IndexUnreadable("manifest.json disappeared")
        if self._current is None or manifest.version != self._current.manifest.version:
            emb = self.embeddings if manifest.retrieval_mode == "hybrid" else EmbeddingStatus(None, "", None, "")
            try:
                loaded = _load(self.settings, manifest, emb)
            except IndexUnreadable:
                raise
            except Exception as exc:  # a damaged version directory
                raise IndexUnreadable(f"index version {manifest.version} cannot be loaded "
                                      f"({type(exc).__name__}: {str(exc)[:120]})") from None
            self._current = loaded  # the old index is released when its in-flight requests end
        self._stamp = stamp

    def query_vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embeddings.embeddings.embed_query(text), dtype=np.float32)
