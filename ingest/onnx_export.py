"""An int8 ONNX copy of a sentence-transformers model, written once beside it, for fast CPU embedding.

`report-qa export-onnx DIR` (and `report-qa import-e5`, after converting) writes
`DIR/onnx/model_qint8.onnx`: the transformer exported with torch.onnx and dynamically quantised to
int8 with onnxruntime (weights int8, activations quantised on the fly), plus `DIR/onnx/export.json`
saying what it was made from and how closely it agrees with the torch model. ingest/embeddings.py
loads it with onnxruntime and reproduces the model's tokenizer → pooling → normalisation, so neither
torch nor sentence-transformers is imported to embed.

Why not sentence-transformers' own `backend="onnx"` + `export_dynamic_quantized_onnx_model`: they
need optimum-onnx, whose releases require transformers < 4.58 while sentence-transformers 6 requires
transformers 5, so the two cannot be installed together. The file keeps their layout and names
(`onnx/…onnx`; inputs input_ids, attention_mask, token_type_ids; output last_hidden_state), so that
backend can load it (`model_kwargs={"file_name": "onnx/model_qint8.onnx"}`) once it installs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ONNX_FILE = "onnx/model_qint8.onnx"
EXPORT_INFO = "onnx/export.json"
MIN_AGREEMENT = 0.98  # cosine with the torch model below which an export is refused
_ST_TRANSFORMER = ("sentence_transformers.models.Transformer", "sentence_transformers.base.modules.transformer.Transformer")
_ST_POOLING = ("sentence_transformers.models.Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling")
_ST_NORMALIZE = ("sentence_transformers.models.Normalize", "sentence_transformers.base.modules.normalize.Normalize")
# texts the export is checked on (both languages, short and long)
CHECK_TEXTS = [
    "InternEvo 在 1024 张 GPU 上的 MFU 是多少？",
    "What learning rate did SFT use?",
    "我们将数据样本转换为 ChatML 格式，7B 和 20B 两个模型均使用 AdamW 优化器训练一个 epoch，初始学习率为 4e-5。",
    "COOL RLHF uses a conditional reward model to reconcile diverse preferences, and multi-round online "
    "RLHF to reduce reward hacking.",
    "上下文窗口",
]


class ExportError(Exception):
    """The model cannot be exported (str() says why and what to do)."""


@dataclass(frozen=True)
class Pipeline:
    """What sentence-transformers does around the transformer, as far as the ONNX path reproduces it."""
    pooling: str  # "mean" | "cls"
    normalize: bool
    max_length: int
    lowercase: bool
    prompts: dict
    default_prompt: str  # the prompt documents get (the model's default_prompt_name), "" if none
    pad_token: str


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_pipeline(model_dir: Path) -> Pipeline | None:
    """The model's pipeline if it is Transformer → mean or CLS pooling (prompt included) → optional
    Normalize with a tokenizer.json; None for anything else (a StaticEmbedding, Dense layers, …)."""
    d = Path(model_dir)
    modules = _json(d / "modules.json")
    if not isinstance(modules, list) or not (d / "tokenizer.json").is_file():
        return None
    types = [m.get("type", "") for m in modules]
    if len(types) not in (2, 3) or types[0] not in _ST_TRANSFORMER or types[1] not in _ST_POOLING:
        return None
    if len(types) == 3 and types[2] not in _ST_NORMALIZE:
        return None
    pool = _json(d / modules[1].get("path", "1_Pooling") / "config.json")
    mode = pool.get("pooling_mode")
    if mode is None:  # the older layout: one flag per mode
        flags = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                             "lasttoken") if pool.get(f"pooling_mode_{k}")]
        mode = {"cls_token": "cls", "mean_tokens": "mean"}.get(flags[0], "other") if len(flags) == 1 else "other"
    if mode not in ("mean", "cls") or pool.get("include_prompt", True) is False:
        return None
    sbert = _json(d / "sentence_bert_config.json")
    tok_cfg = _json(d / "tokenizer_config.json")
    cfg = _json(d / "config.json")
    limits = [sbert.get("max_seq_length"), tok_cfg.get("model_max_length"), cfg.get("max_position_embeddings")]
    limits = [int(x) for x in limits if isinstance(x, (int, float)) and 0 < x < 100_000]
    if cfg.get("model_type") in ("xlm-roberta", "roberta", "camembert") and cfg.get("max_position_embeddings"):
        limits.append(int(cfg["max_position_embeddings"]) - 2)  # RoBERTa-style position ids start at pad + 1
    st = _json(d / "config_sentence_transformers.json")
    prompts = st.get("prompts") or {}
    default_name = st.get("default_prompt_name")
    return Pipeline(pooling=mode, normalize=len(types) == 3, max_length=min(limits, default=512),
                    lowercase=bool(sbert.get("do_lower_case")), prompts=dict(prompts),
                    default_prompt=prompts.get(default_name, "") if default_name else "",
                    pad_token=str(tok_cfg.get("pad_token") or "[PAD]"))


def weights_fingerprint(model_dir: Path) -> str:
    """Size and mtime of the model's weight files: an export made from other weights is stale."""
    d = Path(model_dir)
    parts = [f"{f.name}:{f.stat().st_size}:{int(f.stat().st_mtime)}"
             for f in sorted(d.glob("*")) if f.is_file() and f.suffix in {".safetensors", ".bin"}]
    return ";".join(parts)


def current_export(model_dir: Path) -> tuple[Path | None, str]:
    """(the ONNX file, "") when a usable export sits beside the model, else (None, why not)."""
    d = Path(model_dir)
    onnx = d / ONNX_FILE
    if not onnx.is_file():
        return None, f"no ONNX export (make one with `report-qa export-onnx {d}`)"
    info = _json(d / EXPORT_INFO)
    if info.get("weights") != weights_fingerprint(d):
        return None, f"the ONNX export is older than the model's weights (re-run `report-qa export-onnx {d}`)"
    if read_pipeline(d) is None:
        return None, "the model's pipeline is not one the ONNX path reproduces"
    return onnx, ""


def _has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def export_onnx(model_dir: Path, check: bool = True, log=print) -> Path:
    """Write DIR/onnx/model_qint8.onnx (atomically) and DIR/onnx/export.json; returns the ONNX path.
    With `check`, the export is compared with the torch model on a few texts and refused below
    MIN_AGREEMENT cosine."""
    d = Path(model_dir)
    pipe = read_pipeline(d)
    if pipe is None:
        raise ExportError(f"{d} is not a sentence-transformers model of the form transformer + mean/CLS "
                          "pooling with a tokenizer.json; it stays on torch")
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel
    except ImportError as exc:
        raise ExportError(f"a package needed to export is missing ({exc.name}): run `make setup`") from None

    t0 = time.perf_counter()
    staging = d / f"onnx.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        model = AutoModel.from_pretrained(str(d), local_files_only=True).eval()

        class Encoder(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 9, 2, 1]], dtype=torch.long).clamp(max=model.config.vocab_size - 1)
        mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.long)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
        fp32 = staging / "model.onnx"
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings
            torch.onnx.export(Encoder(model), (ids, mask, torch.zeros_like(ids)), str(fp32), dynamo=False,
                              input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=17, do_constant_folding=True)
        del model
        vnni = _has_vnni()
        quantize_dynamic(str(fp32), str(staging / "model_qint8.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True, reduce_range=not vnni)
        fp32.unlink()
        info = {"file": ONNX_FILE, "weights": weights_fingerprint(d), "quantization": "dynamic int8",
                "weight_type": "QInt8", "per_channel": True, "reduce_range": not vnni,
                "exporter": f"torch {torch.__version__} (TorchScript), onnxruntime quantize_dynamic",
                "pipeline": asdict(pipe), "seconds": round(time.perf_counter() - t0, 1)}
        if check:
            info["agreement"] = _agreement(d, staging / "model_qint8.onnx")
            if info["agreement"]["min"] < MIN_AGREEMENT:
                raise ExportError(f"the int8 export agrees with the torch model only to cosine "
                                  f"{info['agreement']['min']:.4f} (< {MIN_AGREEMENT}); keeping torch")
        (staging / "export.json").write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        target = d / "onnx"
        target.mkdir(exist_ok=True)
        os.replace(staging / "model_qint8.onnx", d / ONNX_FILE)  # the model first: export.json vouches for it
        os.replace(staging / "export.json", d / EXPORT_INFO)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"ONNX int8 export {d / ONNX_FILE} ({(d / ONNX_FILE).stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t0:.0f} s" + (f"; cosine with torch: min {info['agreement']['min']:.4f}, "
                                                f"mean {info['agreement']['mean']:.4f}" if check else ""))
    return d / ONNX_FILE


def _agreement(model_dir: Path, onnx_file: Path) -> dict:
    """Cosine between the torch model's vectors and the ONNX file's on CHECK_TEXTS, as documents and queries."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from .embeddings import OnnxEmbeddings

    pipe = read_pipeline(model_dir)
    st = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    onnx = OnnxEmbeddings(model_dir, onnx_file, pipe, query_prompt=pipe.prompts.get("query", pipe.default_prompt))
    ref_docs = st.encode(CHECK_TEXTS, normalize_embeddings=True)
    ref_queries = st.encode(CHECK_TEXTS, prompt=onnx.query_prompt, normalize_embeddings=True)
    got_docs = np.asarray(onnx.embed_documents(CHECK_TEXTS))
    got_queries = np.asarray([onnx.embed_query(t) for t in CHECK_TEXTS])
    cos = np.concatenate([(ref_docs * got_docs).sum(1), (ref_queries * got_queries).sum(1)])
    return {"texts": len(CHECK_TEXTS) * 2, "min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
