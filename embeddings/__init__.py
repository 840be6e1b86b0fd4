"""Embeddings for Tandem: text encoders, a FAISS vector index and text helpers.

Importing this package is cheap: models (torch, sentence-transformers, USE
weights) load on the first ``encode``. The package knows nothing of Flask or
the marketplace; the app passes texts and database ids in and gets vectors and
ids out.
"""

from embeddings.encoders import (
    BUNDLED_MINILM,
    BlendEncoder,
    Encoder,
    HashingEncoder,
    OnnxInt8Encoder,
    SentenceTransformerEncoder,
    UniversalSentenceEncoder,
    build_encoder,
    normalize_rows,
    set_compute_threads,
)
from embeddings.index import IndexFileError, IndexLoadError, IndexMismatchError, VectorIndex, query_like
from embeddings.text import STOP_WORDS, content_hash, highlight_phrases, normalize_text, term_coverage

__all__ = [
    "BUNDLED_MINILM",
    "STOP_WORDS",
    "BlendEncoder",
    "Encoder",
    "HashingEncoder",
    "IndexFileError",
    "IndexLoadError",
    "IndexMismatchError",
    "OnnxInt8Encoder",
    "SentenceTransformerEncoder",
    "UniversalSentenceEncoder",
    "VectorIndex",
    "build_encoder",
    "content_hash",
    "highlight_phrases",
    "term_coverage",
    "normalize_rows",
    "normalize_text",
    "query_like",
    "set_compute_threads",
]
