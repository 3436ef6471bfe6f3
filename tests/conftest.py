"""Shared fixtures. Tests never touch the network: the hub is forced offline and the dense path
runs on a tiny StaticEmbedding model built from the corpus."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import shutil
import socket
from pathlib import Path

import pytest

from ingest.chunking import chunk_corpus
from ingest.corpus import load_corpus
from ingest.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def real_corpus():
    return load_corpus(CORPUS, allow_missing=True)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, real_corpus) -> Path:
    from ingest.static_model import build_static_model

    texts = [c.embed_text for c in chunk_corpus(real_corpus)]
    return build_static_model(texts, tmp_path_factory.mktemp("models") / "tiny-static", dim=48)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture
def make_settings(tmp_path, corpus_copy):
    def make(**kw) -> Settings:
        base = dict(corpus_dir=corpus_copy, data_dir=tmp_path / "data", embedding_model="none",
                    chroma_host=None, _env_file=None)
        base.update(kw)
        return Settings(**base)

    return make


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the test item (the browser test screenshots failures)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def built_index(tmp_path_factory):
    """A keyword-only index of the real corpus, built once per test session."""
    from ingest.pipeline import run_ingest

    data = tmp_path_factory.mktemp("index")
    settings = Settings(corpus_dir=CORPUS, data_dir=data, embedding_model="none", _env_file=None)
    run_ingest(settings, allow_missing=True)
    return settings


@pytest.fixture
def answerer(built_index):
    from app.answer import Answerer
    from app.index import IndexHandle

    settings = built_index.model_copy()
    return Answerer(settings, IndexHandle(settings))
