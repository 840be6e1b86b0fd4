"""Real-model tests for the encoders (bundled MiniLM and multilingual USE)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from embeddings import (
    BlendEncoder,
    Encoder,
    HashingEncoder,
    SentenceTransformerEncoder,
    UniversalSentenceEncoder,
    build_encoder,
)

BRANDING = "I coach executives on building a personal brand on LinkedIn and writing posts that get noticed."
KUBERNETES = "I run Kubernetes clusters and maintain CI pipelines for backend microservices."


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def _assert_unit_float32(vectors: np.ndarray, dim: int, n: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (n, dim)
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_import_is_cheap() -> None:
    code = "import sys, embeddings; assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_construction_does_not_load_model() -> None:
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    assert not encoder.loaded
    assert encoder.dimension == 384  # known for the bundled model without loading
    assert encoder.config == "st:all-MiniLM-L6-v2"
    assert not encoder.loaded
    assert not UniversalSentenceEncoder().loaded


def test_bundled_aliases_share_config() -> None:
    assert SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2").config == "st:all-MiniLM-L6-v2"


def test_minilm_semantics(minilm: Encoder) -> None:
    query, branding, kube = minilm.encode(["LinkedIn personal branding", BRANDING, KUBERNETES])
    assert _cos(query, branding) > _cos(query, kube) + 0.2


def test_minilm_shape_dtype_norm(minilm: Encoder) -> None:
    vectors = minilm.encode([BRANDING, KUBERNETES, ""])
    _assert_unit_float32(vectors, 384, 3)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_batched_equals_single(minilm: Encoder) -> None:
    texts = ["short", BRANDING, KUBERNETES, "A much longer text " * 20, "Führungskräfte lernen TikTok"]
    batched = minilm.encode(texts, batch_size=64)
    single = np.vstack([minilm.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_minilm_loaded_from_bundle(minilm: Encoder) -> None:
    assert isinstance(minilm, SentenceTransformerEncoder)
    assert minilm.loaded


def test_encode_rejects_bare_string(minilm: Encoder) -> None:
    with pytest.raises(TypeError):
        minilm.encode("not a list")  # type: ignore[arg-type]


def test_use_cross_lingual(use_encoder: Encoder) -> None:
    query, branding, kube = use_encoder.encode(
        ["Wie baue ich meine persönliche Marke auf LinkedIn auf?", BRANDING, KUBERNETES]
    )
    assert _cos(query, branding) > _cos(query, kube) + 0.1


def test_use_shape_and_batching(use_encoder: Encoder) -> None:
    texts = [f"Mentoring session number {i} about social media" for i in range(10)]
    calls: list[int] = []
    vectors = use_encoder.encode(texts, batch_size=4, progress=calls.append)
    _assert_unit_float32(vectors, 512, 10)
    assert calls == [4, 4, 2]
    np.testing.assert_allclose(vectors, use_encoder.encode(texts, batch_size=64), atol=1e-5)
    assert use_encoder.encode([]).shape == (0, 512)
    assert use_encoder.config == "use:multilingual-v3"


def test_blend_real_models(minilm: Encoder, use_encoder: Encoder) -> None:
    blend = build_encoder("blend:st:all-MiniLM-L6-v2=0.4,use=0.6")
    assert blend.dimension == 896
    assert blend.config == "blend(st:all-MiniLM-L6-v2*0.4+use:multilingual-v3*0.6)"
    assert isinstance(blend, BlendEncoder)
    assert blend.parts[0][0] is minilm and blend.parts[1][0] is use_encoder  # models shared, loaded once
    vectors = blend.encode([BRANDING, KUBERNETES])
    _assert_unit_float32(vectors, 896, 2)


def test_blend_cosine_is_weighted_mean() -> None:
    a, b = HashingEncoder(32), HashingEncoder(16)
    blend = BlendEncoder([(a, 2.0), (b, 3.0)])
    texts = ["mentor for tiktok and instagram", "instagram reels for bankers"]
    va, vb, vblend = a.encode(texts), b.encode(texts), blend.encode(texts)
    expected = 0.4 * _cos(va[0], va[1]) + 0.6 * _cos(vb[0], vb[1])
    assert _cos(vblend[0], vblend[1]) == pytest.approx(expected, abs=1e-6)
    assert blend.config == "blend(hashing:32*0.4+hashing:16*0.6)"


def test_blend_rejects_bad_weights() -> None:
    with pytest.raises(ValueError):
        BlendEncoder([(HashingEncoder(8), 0.0)])
    with pytest.raises(ValueError):
        BlendEncoder([])


def test_hashing_encoder_is_deterministic() -> None:
    encoder = HashingEncoder(64)
    first = encoder.encode(["Hello World", "hello   world!", "", "something else"])
    np.testing.assert_array_equal(first[0], first[1])
    assert not first[2].any()  # no words: zero vector (the one exception to unit rows)
    np.testing.assert_allclose(np.linalg.norm(first[[0, 1, 3]], axis=1), 1.0, atol=1e-6)
    again = HashingEncoder(64).encode(["Hello World"])
    np.testing.assert_array_equal(first[0], again[0])


def test_progress_and_batch_size_validation() -> None:
    encoder = HashingEncoder(8)
    seen: list[int] = []
    encoder.encode([str(i) for i in range(7)], batch_size=3, progress=seen.append)
    assert seen == [3, 3, 1]
    with pytest.raises(ValueError):
        encoder.encode(["x"], batch_size=0)
