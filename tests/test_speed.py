"""Speed work (issue 17): the int8 ONNX export and its loader, the question-vector LRU, and what the
CLI does not import. The model is a tiny BERT built here (random weights, a WordPiece vocabulary
trained on the corpus), laid out like the converted multilingual-e5-small (mean pooling, Normalize,
"query: " / "passage: " prompts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import chunk_corpus
from ingest.embeddings import QueryCache, load_embeddings, normalize_query
from ingest.onnx_export import EXPORT_INFO, ONNX_FILE, current_export, export_onnx, read_pipeline
from ingest.settings import Settings

from .conftest import CORPUS, ROOT

QUESTIONS = ["InternEvo 在 1024 张 GPU 上的 MFU 是多少？", "What learning rate did SFT use?",
             "COOL RLHF 的条件奖励模型是怎么训练的？", "How long is the context window of InternLM2?"]


def build_tiny_bert(out: Path, texts: list[str]) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st_models
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=3000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=128, max_position_embeddings=128))
    staging = out.with_name(out.name + "-transformer")
    bert.save_pretrained(staging)
    fast.save_pretrained(staging)
    modules = [st_models.Transformer(str(staging), max_seq_length=128), st_models.Pooling(64, pooling_mode="mean"),
               st_models.Normalize()]
    SentenceTransformer(modules=modules, prompts={"query": "query: ", "passage": "passage: "},
                        default_prompt_name="passage", device="cpu").save(str(out))
    shutil.rmtree(staging)
    return out


@pytest.fixture(scope="session")
def corpus_texts(real_corpus) -> list[str]:
    return [c.embed_text for c in chunk_corpus(real_corpus)]


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, corpus_texts) -> Path:
    """The tiny model without an ONNX export (tests copy it before exporting)."""
    return build_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert", corpus_texts)


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory, tiny_bert) -> Path:
    """The tiny model with its int8 export, made once."""
    d = tmp_path_factory.mktemp("bert-onnx") / "tiny-bert"
    shutil.copytree(tiny_bert, d)
    export_onnx(d, log=lambda *_: None)
    return d


def cos(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_the_pipeline_is_read_from_the_model_directory(tiny_bert, tiny_model):
    pipe = read_pipeline(tiny_bert)
    assert pipe is not None and (pipe.pooling, pipe.normalize, pipe.max_length) == ("mean", True, 128)
    assert pipe.default_prompt == "passage: " and pipe.prompts["query"] == "query: " and pipe.pad_token == "[PAD]"
    assert read_pipeline(tiny_model) is None  # a StaticEmbedding is not a transformer: it stays on torch


def test_export_writes_an_int8_model_beside_the_model_and_checks_it(tiny_onnx):
    onnx = tiny_onnx / ONNX_FILE
    assert onnx.is_file() and current_export(tiny_onnx) == (onnx, "")
    info = json.loads((tiny_onnx / EXPORT_INFO).read_text())
    assert info["quantization"] == "dynamic int8" and info["agreement"]["min"] >= 0.98
    assert not list(tiny_onnx.glob("onnx.tmp-*"))  # no staging left behind
    import onnx as onnx_lib

    ops = {n.op_type for n in onnx_lib.load(str(onnx)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} & ops  # really quantised, not a float copy


def test_onnx_vectors_agree_with_torch_on_the_corpus_and_questions(tiny_onnx, corpus_texts):
    onnx = load_embeddings(str(tiny_onnx))
    torch_ = load_embeddings(str(tiny_onnx), backend="torch")
    assert (onnx.backend, torch_.backend) == ("onnx-int8", "torch")
    assert "ONNX int8" in onnx.message and "torch" in torch_.message
    assert onnx.model_id != torch_.model_id  # an index embedded with one is not queried with the other
    docs = cos(onnx.embeddings.embed_documents(corpus_texts), torch_.embeddings.embed_documents(corpus_texts))
    queries = cos([onnx.embeddings.embed_query(q) for q in QUESTIONS],
                  [torch_.embeddings.embed_query(q) for q in QUESTIONS])
    assert docs.min() > 0.98 and queries.min() > 0.98, (docs.min(), queries.min())
    # prompts as sentence-transformers applies them: a question is not embedded like a passage
    assert cos(onnx.embeddings.embed_query(QUESTIONS[0]), onnx.embeddings.embed_documents([QUESTIONS[0]])[0]) < 0.9999


def test_an_onnx_vector_does_not_depend_on_the_texts_embedded_with_it(tiny_onnx, corpus_texts):
    # dynamic int8 quantization scales a batch's activations together: a text embedded beside
    # others would get another vector than alone, and an edit of one section would move them all
    emb = load_embeddings(str(tiny_onnx)).embeddings
    text = corpus_texts[3]
    alone = np.asarray(emb.embed_documents([text])[0])
    for others in (corpus_texts[40:80], corpus_texts[:2], [corpus_texts[100]]):
        assert np.array_equal(np.asarray(emb.embed_documents([*others, text])[-1]), alone)


def test_without_an_export_or_with_a_stale_one_torch_embeds(tiny_bert, tmp_path):
    status = load_embeddings(str(tiny_bert))
    assert status.backend == "torch" and "export-onnx" in status.message
    stale = tmp_path / "m"
    shutil.copytree(tiny_bert, stale)
    (stale / "onnx").mkdir()
    (stale / ONNX_FILE).write_bytes(b"old")
    (stale / EXPORT_INFO).write_text(json.dumps({"weights": "model.safetensors:1:1"}))
    onnx, why = current_export(stale)
    assert onnx is None and "older than the model" in why
    assert load_embeddings(str(stale)).backend == "torch"


def test_export_cli_refuses_a_model_it_cannot_reproduce(tiny_model):
    from click.testing import CliRunner

    from app.cli import cli

    res = CliRunner().invoke(cli, ["export-onnx", str(tiny_model)])
    assert res.exit_code != 0 and "stays on torch" in res.output and "Traceback" not in res.output
    assert not (tiny_model / "onnx").exists()


class Counting:
    def __init__(self):
        self.calls: list[str] = []

    def embed_query(self, text):
        self.calls.append(text)
        return [float(len(text)), 1.0]

    def embed_documents(self, texts):
        return [[0.0, 0.0] for _ in texts]


def test_question_vectors_are_cached_by_the_normalised_question():
    inner = Counting()
    cache = QueryCache(inner, size=2)
    a = cache.embed_query("SFT 的学习率是多少？")
    assert cache.embed_query("  SFT  的学习率是多少？ ") == a  # same question, other spacing
    assert cache.embed_query("ＳＦＴ 的学习率是多少？") == a  # full-width letters (NFKC)
    # what is embedded is the normalised question (NFKC: "？" → "?", as the e5 tokenizer would read it)
    assert inner.calls == ["SFT 的学习率是多少?"] and (cache.hits, cache.misses) == (2, 1)
    cache.embed_query("b")
    cache.embed_query("c")  # evicts the least recently used: the first question
    cache.embed_query("SFT 的学习率是多少？")
    assert len(inner.calls) == 4
    a[0] = -1.0  # callers get copies
    assert cache.embed_query("SFT 的学习率是多少？")[0] != -1.0
    assert normalize_query(" a\u3000 b\n") == "a b"


def test_cache_off_still_embeds():
    inner = Counting()
    cache = QueryCache(inner, size=0)
    cache.embed_query("x")
    cache.embed_query("x")
    assert inner.calls == ["x", "x"]


def test_loaded_embeddings_cache_questions(tiny_onnx):
    status = load_embeddings(str(tiny_onnx), query_cache=8)
    first = status.embeddings.embed_query(QUESTIONS[1])
    assert status.embeddings.embed_query(QUESTIONS[1] + " ") == first and status.embeddings.hits == 1


PROBE = """
import json, sys
from app.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
heavy = ("torch", "gradio", "sentence_transformers", "transformers", "langchain_huggingface")
print("MODULES " + json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def loaded_modules(args: list[str], env: dict) -> tuple[list[str], str]:
    res = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    line = [x for x in res.stdout.splitlines() if x.startswith("MODULES ")]
    assert line, res.stdout + res.stderr
    return json.loads(line[-1][8:]), res.stdout + res.stderr


def test_help_search_and_unchanged_ingest_import_neither_torch_nor_gradio(built_index, tiny_onnx, tmp_path):
    keyword = {"DATA_DIR": str(built_index.data_dir), "EMBEDDING_MODEL": "none", "CORPUS_DIR": str(CORPUS)}
    mods, out = loaded_modules(["--help"], keyword)
    assert mods == [] and "Usage" in out
    mods, out = loaded_modules(["search", "InternEvo MFU"], keyword)
    assert mods == [] and "§2.1" in out
    mods, out = loaded_modules(["ingest", "--allow-missing"], keyword)
    assert mods == [] and "(no change)" in out
    # hybrid with the ONNX export: an ingest with nothing to embed loads neither torch nor the session
    from ingest.pipeline import run_ingest

    data = tmp_path / "data"
    settings = Settings(corpus_dir=CORPUS, data_dir=data, embedding_model=str(tiny_onnx), _env_file=None)
    assert run_ingest(settings, allow_missing=True).retrieval_mode == "hybrid"
    mods, out = loaded_modules(["ingest", "--allow-missing"], {"DATA_DIR": str(data), "EMBEDDING_MODEL": str(tiny_onnx),
                                                               "CORPUS_DIR": str(CORPUS)})
    assert mods == [] and "(no change)" in out and "ONNX int8" in out, out
