"""ReportRetriever: a LangChain BaseRetriever over the current index, inside an LCEL chain."""

from __future__ import annotations

import shutil

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from app.index import IndexHandle
from app.langchain import ReportRetriever
from app.retrieval import retrieve

MFU = "InternEvo 在 1024 张 GPU 上的 MFU 是多少？"


@pytest.fixture
def retriever(built_index) -> ReportRetriever:
    return ReportRetriever(handle=IndexHandle(built_index), top_k=3)


def test_documents_carry_section_metadata(built_index, retriever):
    docs = retriever.invoke(MFU)
    assert isinstance(retriever, BaseRetriever) and all(isinstance(d, Document) for d in docs)
    assert len(docs) == 3 and docs[0].metadata["section"] == "2.1"
    for d in docs:
        assert set(d.metadata) >= {"section", "title", "path", "score"}
        assert isinstance(d.metadata["score"], float) and d.page_content
    assert docs[0].metadata["title"] == "InternEvo" and docs[0].metadata["path"].endswith("2.1 InternEvo")
    assert "53%" in docs[0].page_content
    # the same ranking as the answerer's retrieval, one document per section
    expected = [s.number for s in retrieve(IndexHandle(built_index), MFU, top_k=3).sections]
    assert [d.metadata["section"] for d in docs] == expected and len(set(expected)) == 3
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)


def test_top_k_and_empty_query(built_index):
    r = ReportRetriever(handle=IndexHandle(built_index), top_k=1, passages=1)
    docs = r.invoke("SFT 的学习率是多少？")
    assert [d.metadata["section"] for d in docs] == ["4.1"] and len(docs[0].metadata["chunk_ids"]) == 1
    assert r.invoke("   ") == []


def test_from_data_dir_and_hybrid_index(tmp_path, built_index, tiny_model):
    """Over an index with vectors, retrieval is hybrid and still section-aware."""
    from ingest.pipeline import run_ingest

    settings = built_index.model_copy(update={"data_dir": tmp_path / "data", "embedding_model": str(tiny_model)})
    run_ingest(settings, allow_missing=True)
    r = ReportRetriever(handle=IndexHandle(settings), top_k=3)
    docs = r.invoke(MFU)
    assert {d.metadata["retrieval"] for d in docs} == {"hybrid"} and docs[0].metadata["section"] == "2.1"
    plain = ReportRetriever.from_data_dir(built_index.data_dir, top_k=2)
    assert plain.invoke(MFU)[0].metadata["retrieval"] == "keyword"
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


def test_inside_an_lcel_chain_with_a_fake_chat_model(retriever):
    seen: list = []

    def context(docs: list[Document]) -> str:
        return "\n\n".join(f"[§{d.metadata['section']}] {d.metadata['title']}\n{d.page_content}" for d in docs)

    def record(prompt_value):
        seen.append(prompt_value.to_messages())
        return prompt_value

    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer only from these sections, citing them as [§N]:\n\n{context}"),
        ("human", "{question}")])
    model = FakeListChatModel(responses=["InternEvo 在 1024 张 GPU 上保持 53% 的 MFU [§2.1]"])
    chain = ({"context": retriever | context, "question": RunnablePassthrough()}
             | prompt | RunnableLambda(record) | model | StrOutputParser())
    assert chain.invoke(MFU).endswith("[§2.1]")
    system, human = seen[0]
    assert human.content == MFU
    order = [system.content.index(f"[§{d.metadata['section']}] ") for d in retriever.invoke(MFU)]
    assert order == sorted(order) and system.content.index("[§2.1] InternEvo") == order[0]
    assert "53%" in system.content
