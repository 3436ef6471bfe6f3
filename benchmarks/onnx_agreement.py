"""How closely the int8 ONNX export agrees with the torch model it was made from.

    .venv/bin/python benchmarks/onnx_agreement.py [MODEL_DIR]

Embeds every corpus chunk (as a passage) and every question of the dev and held-out sets (as a
query) with both backends and prints the cosine between the two vectors of each text: min, mean,
and the share of questions whose top-5 chunks are the same. MODEL_DIR needs its ONNX export
(`report-qa export-onnx MODEL_DIR`); default: the EMBEDDING_MODEL setting.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUESTION_SETS = ["dev", "heldout", "heldout2", "heldout3"]


def main() -> None:
    from ingest.chunking import chunk_corpus
    from ingest.corpus import load_corpus
    from ingest.embeddings import load_embeddings
    from ingest.settings import get_settings

    settings = get_settings()
    model = sys.argv[1] if len(sys.argv) > 1 else settings.embedding_model
    chunks = [c.embed_text for c in chunk_corpus(load_corpus(settings.corpus_dir, allow_missing=True))]
    questions = [json.loads(line)["question"] for name in QUESTION_SETS
                 for line in (ROOT / "benchmarks" / f"{name}-questions.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    vectors = {}
    for backend in ("onnx", "torch"):
        status = load_embeddings(model, settings.query_instruction, backend=backend, query_cache=0)
        if status.backend != ("onnx-int8" if backend == "onnx" else "torch"):
            sys.exit(f"{backend}: {status.message}")
        t0 = time.perf_counter()
        docs = np.asarray(status.embeddings.embed_documents(chunks))
        t1 = time.perf_counter()
        queries = np.asarray([status.embeddings.embed_query(q) for q in questions])
        t2 = time.perf_counter()
        vectors[backend] = docs, queries
        print(f"{backend}: {len(chunks)} chunks in {t1 - t0:.1f} s, {len(questions)} questions one at a time "
              f"in {t2 - t1:.1f} s ({1000 * (t2 - t1) / len(questions):.1f} ms each)")
    (d_onnx, q_onnx), (d_torch, q_torch) = vectors["onnx"], vectors["torch"]
    cd, cq = (d_onnx * d_torch).sum(1), (q_onnx * q_torch).sum(1)
    top = lambda d, q: np.argsort(-(q @ d.T), axis=1)[:, :5]  # noqa: E731
    same = [set(a) == set(b) for a, b in zip(top(d_onnx, q_onnx), top(d_torch, q_torch))]
    first = (top(d_onnx, q_onnx)[:, 0] == top(d_torch, q_torch)[:, 0]).mean()
    print(f"cosine ONNX int8 vs torch: chunks min {cd.min():.4f} mean {cd.mean():.4f}; "
          f"questions min {cq.min():.4f} mean {cq.mean():.4f}")
    print(f"dense top-5 chunk set identical for {np.mean(same):.1%} of questions; same top-1 for {first:.1%}")


if __name__ == "__main__":
    main()
