"""Faults on disk (issue 12.3–12.5): a corrupt manifest, a deleted version directory, a non-UTF-8
corpus file, debris from killed ingests, a full disk, and file handles of deleted versions."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from app.cli import cli
from app.index import IndexHandle, IndexUnreadable
from app.retrieval import retrieve
from app.server import create_app
from ingest.pipeline import run_ingest
from ingest.settings import get_settings
from ingest.store import read_manifest, version_dir

QUESTION = "InternEvo 在 1024 张 GPU 上的 MFU 是多少？"
BROKEN_MANIFESTS = {"empty": b"", "garbage": b"\x00garbage{{", "object": b"{}", "list": b"[]",
                    "wrong-fields": b'{"version": "v", "colour": 1}', "escape": b'{"version": "../../etc"}',
                    "not-utf8": b'{"version": "\xff\xfe"}'}


@pytest.fixture
def indexed(make_settings, built_index, tmp_path):
    """A keyword index of its own: a copy of the session's index over a copy of the same corpus."""
    import shutil

    shutil.copytree(built_index.data_dir, tmp_path / "data")
    s = make_settings(data_dir=tmp_path / "data")
    assert not run_ingest(s).index_changed  # the copy is current for this corpus
    return s


@pytest.fixture
def run_cli(monkeypatch, indexed):
    """`report-qa …` in-process with the test's settings; uvicorn.run is replaced (serve returns at once)."""
    served = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: served.append(app))
    monkeypatch.setattr("uvicorn.Server.run", lambda self, *a, **kw: served.append(self.config.app))

    def run(*args: str, **env: str):
        for k, v in {"DATA_DIR": str(indexed.data_dir), "CORPUS_DIR": str(indexed.corpus_dir),
                     "EMBEDDING_MODEL": "none", "API_TOKEN": "", **env}.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
        finally:
            get_settings.cache_clear()
        assert "Traceback" not in result.output and not isinstance(result.exception, (OSError, ValueError,
                                                                                        TypeError, KeyError))
        result.served = served
        return result

    return run


def manifest_path(s) -> Path:
    return Path(s.data_dir) / "manifest.json"


# --- 12.3: a corrupt manifest -----------------------------------------------------------------------

def test_running_server_keeps_serving_through_a_corrupt_manifest(indexed):
    client = TestClient(create_app(indexed, with_ui=False))
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    for kind, content in BROKEN_MANIFESTS.items():
        manifest_path(indexed).write_bytes(content)
        for _ in range(2):
            r = client.post("/api/ask", json={"question": QUESTION})
            assert r.status_code == 200 and "53%" in r.json()["answer"], kind
        assert client.get("/api/sections/2.1").status_code == 200
        assert client.get("/healthz").json()["status"] == "ok"


def test_fresh_server_says_what_is_wrong_with_the_manifest(indexed):
    for kind in ("empty", "garbage", "object"):
        manifest_path(indexed).write_bytes(BROKEN_MANIFESTS[kind])
        client = TestClient(create_app(indexed, with_ui=False))
        r = client.post("/api/ask", json={"question": QUESTION})
        assert r.status_code == 503, kind
        err = r.json()["error"]
        assert "manifest.json" in err and "report-qa ingest" in err
        assert client.get("/healthz").status_code == 503


def test_ingest_rebuilds_over_an_unreadable_manifest_and_says_so(indexed):
    for kind in ("empty", "escape", "not-utf8"):
        manifest_path(indexed).write_bytes(BROKEN_MANIFESTS[kind])
        r = run_ingest(indexed)
        assert r.index_changed and read_manifest(indexed.data_dir).version == r.version, kind
        assert any("manifest" in n and "rebuilt" in n for n in r.notes), kind
    assert Path("/etc").is_dir()  # "../../etc" was never taken for a version directory
    r = TestClient(create_app(indexed, with_ui=False)).post("/api/ask", json={"question": QUESTION})
    assert "53%" in r.json()["answer"]


def test_cli_ingest_serve_and_ask_over_a_corrupt_manifest(indexed, run_cli):
    manifest_path(indexed).write_bytes(b"{}")
    ask = run_cli("ask", QUESTION)
    assert ask.exit_code == 1 and "manifest.json" in ask.output and "report-qa ingest" in ask.output
    serve = run_cli("serve", "--no-ingest")
    assert serve.exit_code == 0 and serve.served, serve.output
    assert "manifest.json" in serve.output and "report-qa ingest" in serve.output
    ingest = run_cli("ingest")
    assert ingest.exit_code == 0 and "unreadable" in ingest.output and "rebuilt" in ingest.output
    again = run_cli("ask", QUESTION)
    assert again.exit_code == 0 and "53%" in again.output


def test_serve_rebuilds_over_a_corrupt_manifest(indexed, run_cli):
    manifest_path(indexed).write_bytes(b"garbage")
    serve = run_cli("serve")
    assert serve.exit_code == 0 and serve.served and "ingesting" in serve.output
    assert read_manifest(indexed.data_dir) is not None


# --- 12.3: a deleted version directory --------------------------------------------------------------

def test_deleted_current_version(indexed, run_cli):
    import shutil

    client = TestClient(create_app(indexed, with_ui=False))
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    version = read_manifest(indexed.data_dir).version
    shutil.rmtree(version_dir(indexed.data_dir, version))
    os.utime(manifest_path(indexed))  # as a switch would: the server looks again
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200  # what it has in memory
    with pytest.raises(IndexUnreadable, match="is missing"):
        IndexHandle(indexed).get()
    fresh = TestClient(create_app(indexed, with_ui=False)).post("/api/ask", json={"question": QUESTION})
    assert fresh.status_code == 503 and "is missing" in fresh.json()["error"] and "report-qa ingest" in fresh.json()["error"]
    ask = run_cli("ask", QUESTION)
    assert ask.exit_code == 1 and "is missing" in ask.output and "report-qa ingest" in ask.output
    ingest = run_cli("ingest")
    assert ingest.exit_code == 0 and "was missing" in ingest.output
    assert run_cli("ask", QUESTION).exit_code == 0


# --- 12.3: a non-UTF-8 corpus file ------------------------------------------------------------------

def test_non_utf8_corpus_file_is_reported_at_file_and_line(indexed, run_cli):
    path = Path(indexed.corpus_dir) / "03-pre-train.md"
    lines = path.read_bytes().split(b"\n")
    lines[6] = lines[6] + " café".encode("latin-1")
    path.write_bytes(b"\n".join(lines))
    before = read_manifest(indexed.data_dir).version
    ingest = run_cli("ingest")
    assert ingest.exit_code == 1 and "03-pre-train.md:7: not valid UTF-8" in ingest.output
    assert read_manifest(indexed.data_dir).version == before
    serve = run_cli("serve")
    assert serve.exit_code == 0 and serve.served
    assert "03-pre-train.md:7" in serve.output and "Serving the existing index" in serve.output


# --- 12.4: debris -------------------------------------------------------------------------------------

def test_no_change_ingest_removes_debris(indexed, run_cli):
    first = read_manifest(indexed.data_dir).version
    second = run_ingest(indexed, rebuild=True).version
    vroot = Path(indexed.data_dir) / "versions"
    (vroot / "20990101T000000-dead00").mkdir()  # an ingest killed right after its switch…
    (vroot / "20990101T000000-dead00" / "chunks.jsonl").write_text("{}\n")
    (Path(indexed.data_dir) / "manifest.tmp-99999").write_text("{")  # …or during it
    out = run_cli("ingest")
    assert out.exit_code == 0 and "(no change)" in out.output
    assert sorted(p.name for p in vroot.iterdir()) == sorted([first, second])
    assert not list(Path(indexed.data_dir).glob("manifest.tmp-*"))


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["version-files", "manifest-switch"])
def test_full_disk_is_one_sentence_and_leaves_no_debris(indexed, run_cli, monkeypatch, where):
    import ingest.store as store

    vroot = Path(indexed.data_dir) / "versions"
    before = sorted(p.name for p in vroot.iterdir())
    manifest_before = manifest_path(indexed).read_bytes()
    if where == "version-files":
        real_dump = store.pickle.dump

        def dump_half(obj, f, *a, **kw):  # some bytes reach the disk, then it is full
            f.write(b"partial")
            _enospc()

        monkeypatch.setattr(store.pickle, "dump", dump_half)
        assert real_dump is not dump_half
    else:
        monkeypatch.setattr(store.os, "replace", _enospc)
    for _ in range(2):  # a retry leaves nothing either
        out = run_cli("ingest", "--rebuild")
        assert out.exit_code == 4, out.output
        lines = [line for line in out.output.splitlines() if line.strip() and not line.startswith("检索模式")]
        assert len(lines) == 1 and "Disk full" in lines[0] and "OSError" not in out.output and "Errno" not in out.output
    assert sorted(p.name for p in vroot.iterdir()) == before
    assert manifest_path(indexed).read_bytes() == manifest_before
    assert not list(Path(indexed.data_dir).glob("manifest.tmp-*"))


def test_full_disk_in_hybrid_mode_removes_the_partial_chroma_version(make_settings, tiny_model, monkeypatch):
    s = make_settings(embedding_model=str(tiny_model))
    run_ingest(s)
    vroot = Path(s.data_dir) / "versions"
    before = sorted(p.name for p in vroot.iterdir())
    import ingest.store as store
    from ingest.pipeline import IngestDiskFull

    monkeypatch.setattr(store, "write_version_files", _enospc)
    monkeypatch.setattr("ingest.pipeline.write_version_files", _enospc)
    with pytest.raises(IngestDiskFull, match="Disk full"):
        run_ingest(s, rebuild=True)
    assert sorted(p.name for p in vroot.iterdir()) == before


# --- 12.5: file handles of deleted versions -----------------------------------------------------------

def deleted_files_held(under: Path) -> list[str]:
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith(" (deleted)") and target.startswith(str(under)):
            held.append(target)
    return held


@pytest.mark.slow
def test_live_switches_close_the_old_versions_files(make_settings, tiny_model):
    s = make_settings(embedding_model=str(tiny_model))
    run_ingest(s)
    handle = IndexHandle(s)
    client = TestClient(create_app(s, handle=handle, with_ui=False))

    def ask():
        r = client.post("/api/ask", json={"question": "COOL RLHF 的条件奖励模型是怎么训练的？"})
        assert r.status_code == 200 and r.json()["mode"]["retrieval"] == "hybrid"

    ask()
    in_flight = handle.get()  # a request still using the first version during the switches
    run_ingest(s, rebuild=True)
    ask()
    # one switch later its version is still on disk (keep_versions=2): dense search still works
    assert in_flight.collection.similarity_search_by_vector(handle.query_vector("GQA").tolist(), k=2)
    for _ in range(9):
        run_ingest(s, rebuild=True)
        ask()
    # once its version is deleted, Chroma may or may not still read it (it opens files lazily);
    # either way the request answers: hybrid, or keyword results with a notice saying why
    pinned = SimpleNamespace(get=lambda: in_flight, query_vector=handle.query_vector)
    r = retrieve(pinned, "COOL RLHF 的条件奖励模型是怎么训练的？")
    assert r.sections and r.sections[0].number.startswith("4.2")
    assert r.mode == "hybrid" or r.notice.startswith("dense retrieval failed")
    del in_flight, pinned, r
    # … and once it is done, no file of a deleted version stays open
    assert deleted_files_held(Path(s.data_dir)) == []
    assert len(list((Path(s.data_dir) / "versions").iterdir())) == s.keep_versions
