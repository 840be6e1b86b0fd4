"""Session fixtures: each real model loads once for the whole embeddings test run."""

from __future__ import annotations

import pytest

from embeddings import Encoder, build_encoder


@pytest.fixture(scope="session")
def minilm() -> Encoder:
    encoder = build_encoder("all-MiniLM-L6-v2")
    encoder.encode(["warm up"])
    return encoder


@pytest.fixture(scope="session")
def use_encoder() -> Encoder:
    encoder = build_encoder("use")
    encoder.encode(["warm up"])
    return encoder
