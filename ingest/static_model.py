"""Build a small sentence-transformers model offline from the corpus itself.

A BPE tokenizer trained on the corpus plus a `StaticEmbedding` whose token vectors come from a
truncated SVD of the token-by-chunk TF-IDF matrix (latent semantic analysis). It needs no
network and loads in milliseconds: the test suite uses it to exercise the real dense path, and
offline users can point EMBEDDING_MODEL at it. It is much weaker than a trained model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def build_static_model(texts: list[str], out_dir: Path, dim: int = 64, vocab_size: int = 3000,
                       seed: int = 0) -> Path:
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits()])
    tok.decoder = decoders.BPEDecoder()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]"], show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")

    v = tok.get_vocab_size()
    counts = np.zeros((v, len(texts)), dtype=np.float32)
    for j, enc in enumerate(tok.encode_batch(texts)):
        for i in enc.ids:
            counts[i, j] += 1.0
    df = (counts > 0).sum(axis=1)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    tfidf = np.log1p(counts) * idf[:, None]
    tfidf /= np.linalg.norm(tfidf, axis=0, keepdims=True) + 1e-9
    k = min(dim, min(tfidf.shape) - 1)
    u, s, _ = np.linalg.svd(tfidf, full_matrices=False)
    weights = (u[:, :k] * s[:k]).astype(np.float32)
    # weight each token by its idf so frequent particles contribute little to the mean
    weights *= (idf / idf.max())[:, None].astype(np.float32)
    weights[0] = 0.0  # padding
    rng = np.random.default_rng(seed)
    unseen = df == 0
    weights[unseen] = rng.normal(0, 1e-3, size=(int(unseen.sum()), k)).astype(np.float32)

    model = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_weights=weights)], device="cpu")
    out_dir = Path(out_dir)
    model.save(str(out_dir))
    return out_dir
