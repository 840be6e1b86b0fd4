"""build_encoder spec parsing, canonicalisation, caching and errors."""

from __future__ import annotations

import pytest

from embeddings import (
    BlendEncoder,
    HashingEncoder,
    OnnxInt8Encoder,
    SentenceTransformerEncoder,
    UniversalSentenceEncoder,
    build_encoder,
)


@pytest.mark.parametrize(
    ("spec", "cls", "config"),
    [
        ("all-MiniLM-L6-v2", SentenceTransformerEncoder, "st:all-MiniLM-L6-v2"),
        ("sentence-transformers/all-MiniLM-L6-v2", SentenceTransformerEncoder, "st:all-MiniLM-L6-v2"),
        ("st:all-MiniLM-L6-v2", SentenceTransformerEncoder, "st:all-MiniLM-L6-v2"),
        ("st:some-org/other-model", SentenceTransformerEncoder, "st:some-org/other-model"),
        ("onnx-int8:all-MiniLM-L6-v2", OnnxInt8Encoder, "onnx-int8:all-MiniLM-L6-v2"),
        ("onnx-int8:sentence-transformers/all-MiniLM-L6-v2", OnnxInt8Encoder, "onnx-int8:all-MiniLM-L6-v2"),
        ("use", UniversalSentenceEncoder, "use:multilingual-v3"),
        (" use:multilingual-v3 ", UniversalSentenceEncoder, "use:multilingual-v3"),
        ("hashing", HashingEncoder, "hashing:64"),
        ("hashing:16", HashingEncoder, "hashing:16"),
        ("blend:hashing:8=1, hashing:4=3", BlendEncoder, "blend(hashing:8*0.25+hashing:4*0.75)"),
    ],
)
def test_valid_specs(spec: str, cls: type, config: str) -> None:
    encoder = build_encoder(spec)
    assert isinstance(encoder, cls)
    assert encoder.config == config


def test_specs_are_cached_and_aliases_shared() -> None:
    assert build_encoder("hashing:16") is build_encoder("hashing:16")
    assert build_encoder("all-MiniLM-L6-v2") is build_encoder("st:sentence-transformers/all-MiniLM-L6-v2")
    assert build_encoder("use") is build_encoder("use:multilingual-v3")
    blend = build_encoder("blend:hashing:8=0.5,use=0.5")
    assert isinstance(blend, BlendEncoder)
    assert blend.parts[0][0] is build_encoder("hashing:8")
    assert blend.dimension == 8 + 512


def test_local_path_spec(tmp_path) -> None:
    encoder = build_encoder(f"st:{tmp_path}")
    assert encoder.config == f"st:{tmp_path}"
    assert not encoder.loaded  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("minilm", "unknown encoder spec"),
        ("paraphrase-multilingual-MiniLM-L12-v2", "unknown encoder spec"),
        ("st:", "needs a model name or path"),
        ("st:/definitely/not/here", "does not exist"),
        ("use:v4", "multilingual-v3"),
        ("onnx-int8:", "local sentence-transformers model directory"),
        ("onnx-int8:some-org/hub-model", "exported from local files"),
        ("hashing:0", "positive integer"),
        ("hashing:abc", "positive integer"),
        ("blend:use=1", "at least two parts"),
        ("blend:use,hashing=1", "expected '<spec>=<weight>'"),
        ("blend:use=abc,hashing=1", "invalid blend weight"),
        ("blend:use=0,hashing=1", "must be > 0"),
        ("blend:use=nan,hashing=1", "must be > 0"),
        ("blend:blend:use=1,use=1", "cannot be nested"),
        ("blend:bogus=1,use=1", "unknown encoder spec"),
    ],
)
def test_invalid_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_encoder(spec)


def test_non_string_spec() -> None:
    with pytest.raises(TypeError):
        build_encoder(None)  # type: ignore[arg-type]


def test_canonical_spec_parses_without_loading_a_model() -> None:
    from embeddings.spec import canonical_spec

    assert canonical_spec(" sentence-transformers/all-MiniLM-L6-v2 ") == "st:all-MiniLM-L6-v2"
    assert canonical_spec("blend:use=1,hashing:8=3") == "blend:use:multilingual-v3=1.0,hashing:8=3.0"
    with pytest.raises(ValueError, match="nested"):
        canonical_spec("blend:use=1,blend:hashing=1")
