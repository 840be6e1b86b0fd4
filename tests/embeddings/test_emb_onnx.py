"""The int8 ONNX encoder on the bundled MiniLM: exported locally, cached, close to the float model."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import Encoder, OnnxInt8Encoder
from embeddings.encoders import bundled_minilm_path, export_int8_onnx

BRANDING = "I coach executives on building a personal brand on LinkedIn and writing posts that get noticed."
KUBERNETES = "I run Kubernetes clusters and maintain CI pipelines for backend microservices."
TEXTS = ["LinkedIn personal branding", BRANDING, KUBERNETES, "Führung im Homeoffice", ""]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> object:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_minilm(onnx_cache, monkeypatch_module) -> Encoder:
    monkeypatch_module.setenv("TANDEM_ONNX_CACHE", str(onnx_cache))
    encoder = OnnxInt8Encoder("all-MiniLM-L6-v2")
    encoder.encode(["warm up"])
    return encoder


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_construction_loads_nothing() -> None:
    encoder = OnnxInt8Encoder("all-MiniLM-L6-v2")
    assert not encoder.loaded
    assert encoder.dimension == 384
    assert encoder.config == "onnx-int8:all-MiniLM-L6-v2"


def test_export_is_made_from_the_bundled_files_and_reused(onnx_minilm, onnx_cache) -> None:
    exported = list(onnx_cache.glob("*/model_qint8.onnx"))
    assert len(exported) == 1
    before = exported[0].stat().st_mtime_ns
    assert export_int8_onnx(bundled_minilm_path(), onnx_cache) == exported[0]
    assert exported[0].stat().st_mtime_ns == before  # not exported again


def test_vectors_are_unit_float32_and_close_to_the_float_model(onnx_minilm, minilm) -> None:
    quantised = onnx_minilm.encode(TEXTS)
    assert quantised.dtype == np.float32 and quantised.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    cosine = (quantised * minilm.encode(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.95


def test_ranking_semantics_survive_quantisation(onnx_minilm) -> None:
    query, branding, kube = onnx_minilm.encode(TEXTS[:3])
    assert float(query @ branding) > float(query @ kube) + 0.2


def test_a_batch_equals_single_encodes(onnx_minilm) -> None:
    batched = onnx_minilm.encode(TEXTS)
    single = np.vstack([onnx_minilm.encode([text]) for text in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-4)
