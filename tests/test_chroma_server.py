"""Server mode: the index lives in a real `chroma run` on 127.0.0.1 (CHROMA_HOST/CHROMA_PORT)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.index import IndexHandle
from app.retrieval import retrieve
from ingest.pipeline import run_ingest
from ingest.store import COLLECTION_PREFIX, read_manifest

from .conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "w")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    deadline = time.monotonic() + 60
    while True:
        try:
            client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False))
            client.heartbeat()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield "127.0.0.1", port, client
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_retrieve_against_chroma_server(make_settings, tiny_model, corpus_copy, chroma_server):
    host, port, client = chroma_server
    s = make_settings(embedding_model=str(tiny_model), chroma_host=host, chroma_port=port)
    first = run_ingest(s)
    m = read_manifest(s.data_dir)
    assert m.chroma == {"mode": "server", "host": host, "port": port}
    assert not (s.data_dir / "versions" / first.version / "chroma").exists()  # nothing embedded locally
    names = {c.name for c in client.list_collections()}
    assert m.collection in names
    assert client.get_collection(m.collection).count() == first.chunks

    res = retrieve(IndexHandle(s), "What MFU does InternEvo reach on 1024 GPUs?")
    assert res.mode == "hybrid" and res.sections[0].number == "2.1"

    # incremental against the server; the superseded-but-kept version stays, older ones are collected
    text = (corpus_copy / "06-conclusion.md").read_text(encoding="utf-8")
    (corpus_copy / "06-conclusion.md").write_text(text + "\nSERVERTEST 增补一句。\n", encoding="utf-8")
    second = run_ingest(s)
    assert second.embedded == 1 and second.reused == second.chunks - 1
    (corpus_copy / "06-conclusion.md").write_text(text + "\nSERVERTEST 再改一句。\n", encoding="utf-8")
    third = run_ingest(s)
    names = {c.name for c in client.list_collections() if c.name.startswith(COLLECTION_PREFIX)}
    assert names == {COLLECTION_PREFIX + third.version, COLLECTION_PREFIX + second.version}
    assert retrieve(IndexHandle(s), "SERVERTEST").sections[0].number == "6"
