"""A LangChain retriever over the current index: `from app.langchain import ReportRetriever`.

The same hybrid, section-grouped retrieval as the answerer (app/retrieval.py): one Document per
section, holding that section's best passages, with `section`, `title`, `path` and `score` metadata.
It follows the live index: a new `report-qa ingest` is picked up on the next query.

    retriever = ReportRetriever(top_k=3)
    docs = retriever.invoke("InternEvo 在 1024 张 GPU 上的 MFU 是多少？")
"""

from __future__ import annotations

from pathlib import Path

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from ingest.settings import get_settings

from .index import IndexHandle
from .retrieval import Retrieval, retrieve


def _default_handle() -> IndexHandle:
    return IndexHandle(get_settings())


def section_documents(r: Retrieval, passages: int = 3) -> list[Document]:
    """One Document per retrieved section, best first; its text is the section's best passages."""
    return [Document(id=f"§{s.number}",
                     page_content="\n\n".join(h.chunk["text"] for h in s.hits[:passages]),
                     metadata={"section": s.number, "title": s.title_zh, "title_en": s.title_en, "path": s.path,
                               "score": round(s.score, 5), "chunk_ids": [h.chunk["id"] for h in s.hits[:passages]],
                               "retrieval": r.mode})
            for s in r.sections]


class ReportRetriever(BaseRetriever):
    """Hybrid (BM25 + vectors when the index has them), section-aware retrieval over the report."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    handle: IndexHandle = Field(default_factory=_default_handle,
                                description="The index to search; default: the one DATA_DIR/.env point to.")
    top_k: int = Field(5, ge=1, le=20, description="Sections to return.")
    passages: int = Field(3, ge=1, le=10, description="Best passages of each section to include.")

    @classmethod
    def from_data_dir(cls, data_dir: str | Path, **kw) -> "ReportRetriever":
        """A retriever over the index in `data_dir` (other settings from the environment)."""
        settings = get_settings().model_copy(update={"data_dir": Path(data_dir)})
        return cls(handle=IndexHandle(settings), **kw)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if not query.strip():
            return []
        return section_documents(retrieve(self.handle, query, top_k=self.top_k), self.passages)
