"""The saved-index file format: a checked header and a checksummed FAISS payload, written atomically.

Layout: magic, header length, JSON header, FAISS payload, trailer (payload length, CRC32, end magic).
The header says what the vectors are (encoder config, dimension, kind, count, version, the caller's
metadata), so a stale or foreign file is refused before FAISS parses a byte, and truncation or bit rot
is detected by the trailer. Loading reads the file once: the payload is memory-mapped, its CRC checked, and
FAISS parses it from the same mapping (page cache, no second read, no private copy). The CRC comes first
because FAISS trusts the lengths it reads: a flipped bit in one made it allocate 15 GB before failing.
``embeddings.index.VectorIndex`` is the only caller.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import faiss

__all__ = ["IndexFileError", "IndexLoadError", "IndexMismatchError", "read_index_file", "write_index_file"]

_MAGIC = b"TNDMVIX1"
_TRAILER_MAGIC = b"TNDMEND1"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sI")  # magic, header length
_TRAILER = struct.Struct("<QI8s")  # payload length, crc32, end magic
_CHUNK = 1 << 20
KINDS = ("flat", "ivf")


class IndexLoadError(Exception):
    """Base of both load failures, so a caller can ``except`` once and rebuild."""


class IndexMismatchError(IndexLoadError, ValueError):
    """A saved index does not match what the caller expects; rebuild it."""


class IndexFileError(IndexLoadError, OSError):
    """A saved index is missing, truncated or corrupt; rebuild it."""


def write_index_file(path: str | os.PathLike[str], header: dict[str, Any], raw: Any) -> None:
    """Write ``header`` and the FAISS index ``raw`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        encoded = json.dumps({"format": FORMAT_VERSION, **header}, sort_keys=True).encode("utf-8")
    except TypeError as exc:
        raise ValueError(f"index metadata is not JSON-serialisable: {exc}") from None
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_PREFIX.pack(_MAGIC, len(encoded)))
            fh.write(encoded)
            state = {"crc": 0, "size": 0}

            def write(chunk: bytes) -> None:
                state["crc"] = zlib.crc32(chunk, state["crc"])
                state["size"] += len(chunk)
                fh.write(chunk)

            faiss.write_index(raw, faiss.PyCallbackIOWriter(write, _CHUNK))
            fh.write(_TRAILER.pack(state["size"], state["crc"], _TRAILER_MAGIC))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def read_index_file(
    path: str | os.PathLike[str],
    expected_config: str,
    expected_dimension: int | None = None,
    expected_metadata: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """``(header, FAISS index)`` of a saved file, refusing one built for something else.

    Raises ``IndexFileError`` if the file is missing or corrupt, and ``IndexMismatchError`` naming what
    differs (config, dimension, or a metadata key such as the database id).
    """
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            header = _read_header(fh, name)
            _check_expected(header, name, expected_config, expected_dimension, expected_metadata)
            size, expected_crc = _read_trailer(fh, name)
            raw = _parse_verified(fh, fh.tell(), size, expected_crc, name)
    except FileNotFoundError:
        raise IndexFileError(f"index file {name!r} does not exist") from None
    except IndexLoadError:
        raise
    except OSError as exc:
        raise IndexFileError(f"cannot read index file {name!r}: {exc}") from exc
    if raw.d != header["dimension"] or raw.ntotal != header["count"]:
        raise IndexFileError(f"index file {name!r}: payload does not match its header")
    return header, raw


def _read_header(fh: BinaryIO, name: str) -> dict[str, Any]:
    prefix = fh.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        raise IndexFileError(f"index file {name!r} is truncated")
    magic, length = _PREFIX.unpack(prefix)
    if magic != _MAGIC:
        raise IndexFileError(f"{name!r} is not a Tandem vector index file")
    if length > 64 << 20:
        raise IndexFileError(f"index file {name!r} has an implausible header length")
    raw = fh.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IndexFileError(f"index file {name!r} has a corrupt header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        raise IndexFileError(f"index file {name!r} has an unsupported format")
    required = {"dimension": int, "config": str, "kind": str, "count": int}
    for key, typ in required.items():
        if not isinstance(header.get(key), typ):
            raise IndexFileError(f"index file {name!r} header lacks {key!r}")
    if header["kind"] not in KINDS:
        raise IndexFileError(f"index file {name!r} has unknown kind {header['kind']!r}")
    return header


def _parse_verified(fh: BinaryIO, start: int, size: int, expected_crc: int, name: str) -> Any:
    """The FAISS index in ``size`` bytes at ``start``, parsed only once their CRC matches."""
    if size == 0:
        raise IndexFileError(f"index file {name!r} has an empty FAISS payload")
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        payload = memoryview(mapped)[start : start + size]
        try:
            if zlib.crc32(payload) != expected_crc:
                raise IndexFileError(f"index file {name!r} is corrupt (checksum mismatch)")
            position = 0

            def read(n: int) -> bytes:
                nonlocal position
                chunk = payload[position : position + n].tobytes()
                position += len(chunk)
                return chunk

            try:
                return faiss.read_index(faiss.PyCallbackIOReader(read, _CHUNK))
            except RuntimeError as exc:
                raise IndexFileError(f"index file {name!r} has an unreadable FAISS payload: {exc}") from None
        finally:
            payload.release()


def _read_trailer(fh: BinaryIO, name: str) -> tuple[int, int]:
    """The payload's recorded length and CRC, checked against the file's size; leaves ``fh`` at the payload."""
    start = fh.tell()
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    if end - start < _TRAILER.size:
        raise IndexFileError(f"index file {name!r} is truncated")
    fh.seek(end - _TRAILER.size)
    size, crc, magic = _TRAILER.unpack(fh.read(_TRAILER.size))
    if magic != _TRAILER_MAGIC or size != end - start - _TRAILER.size:
        raise IndexFileError(f"index file {name!r} is truncated or has trailing garbage")
    fh.seek(start)
    return size, crc


def _check_expected(
    header: dict[str, Any],
    name: str,
    expected_config: str,
    expected_dimension: int | None,
    expected_metadata: dict[str, Any] | None,
) -> None:
    problems = []
    if header["config"] != expected_config:
        problems.append(f"config is {header['config']!r}, expected {expected_config!r}")
    if expected_dimension is not None and header["dimension"] != expected_dimension:
        problems.append(f"dimension is {header['dimension']}, expected {expected_dimension}")
    stored = header.get("metadata") or {}
    for key, want in (expected_metadata or {}).items():
        if key not in stored:
            problems.append(f"metadata {key!r} is missing, expected {want!r}")
        elif stored[key] != want:
            problems.append(f"metadata {key!r} is {stored[key]!r}, expected {want!r}")
    if problems:
        raise IndexMismatchError(f"index file {name!r} does not match: " + "; ".join(problems) + " (rebuild it)")
