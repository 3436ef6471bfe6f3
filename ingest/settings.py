"""All settings in one place, read from the environment and `.env` (see .env.example)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "BAAI/bge-small-zh-v1.5"
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
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chunk_size: int = Field(600, description="Target chunk length in characters.")
    chunk_overlap: int = Field(80, description="Characters of context repeated between split chunks.")
    keep_versions: int = Field(2, description="Index versions kept on disk (current + previous).")

    @property
    def query_instruction(self) -> str:
        if self.embedding_query_instruction is not None:
            return self.embedding_query_instruction
        name = self.embedding_model.lower()
        return BGE_ZH_QUERY_INSTRUCTION if "bge" in name and "zh" in name else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
