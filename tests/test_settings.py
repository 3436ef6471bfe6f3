"""Settings live in one place and every one is documented in .env.example."""

from __future__ import annotations

import re

from ingest.settings import Settings

from .conftest import ROOT


def test_every_setting_is_documented_in_env_example():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = {m.lower() for m in re.findall(r"^#?\s*([A-Z_]+)=", text, re.M)}
    assert set(Settings.model_fields) <= documented, set(Settings.model_fields) - documented


def test_env_example_parses_to_defaults(tmp_path, monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    s = Settings(_env_file=ROOT / ".env.example")
    assert s.embedding_model == "data/models/multilingual-e5-small-q4" and not s.chroma_host and not s.llm_enabled
    assert s.query_instruction == ""  # e5 brings its own "query: " prompt
    bge = Settings(_env_file=None, embedding_model="BAAI/bge-small-zh-v1.5")
    assert bge.query_instruction.startswith("为这个句子生成表示")
    assert not s.api_token and s.host == "127.0.0.1" and s.port == 7860


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("EMBEDDING_MODEL", "none")
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", "9000")
    s = Settings(_env_file=None)
    assert (s.embedding_model, s.chroma_host, s.chroma_port, s.query_instruction) == ("none", "127.0.0.1", 9000, "")
