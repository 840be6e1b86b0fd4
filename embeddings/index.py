"""FAISS vector index keyed by database ids (its saved-file format: ``embeddings.index_file``).

Vectors are expected L2-normalised, so the inner-product metric is cosine.
Small collections use an exact flat index; large ones an IVF index whose
``nprobe`` is tuned at build time for recall@10 on query-like vectors (``query_like``). Only the FAISS
index holds the vectors (no numpy copy), plus a sorted numpy array of the ids for ``in`` checks (no
per-id Python objects: loading a million ids costs one sort).

FAISS parallelises batch searches with OpenMP. ``faiss.omp_set_num_threads``
is deliberately left alone: it is process-wide, and the app (e.g. gunicorn
workers on a 2-core box) is the one that knows how many threads to give it.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import faiss
import numpy as np

from embeddings.index_file import (
    IndexFileError,
    IndexLoadError,
    IndexMismatchError,
    read_index_file,
    write_index_file,
)

__all__ = ["IndexFileError", "IndexLoadError", "IndexMismatchError", "VectorIndex", "query_like"]

_KINDS = ("auto", "flat", "ivf")


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("ids must be a 1-D sequence of integers")
    arr = arr.astype(np.int64, copy=False)
    if (arr < 0).any():
        raise ValueError("ids must be >= 0 (-1 marks padding in search results)")
    return np.ascontiguousarray(arr)


def query_like(vectors: np.ndarray, count: int = 300, seed: int = 1) -> np.ndarray:
    """``count`` normalised midpoints of two random stored rows: the vectors ``nprobe`` is tuned on.

    A search query is not a stored row: a stored row sits inside its own list and finds its neighbours
    at a few lists scanned, where a fresh query needs several times more (1M mentors: nprobe 4 gave
    recall@10 0.94 on stored rows but 0.74 on real goal queries). A midpoint lies between two profiles,
    usually in different lists, and its recall curve tracks real goal queries (1M, nprobe 4/8/16/24/32:
    0.749/0.874/0.939/0.962/0.974 for midpoints, 0.742/0.860/0.938/0.960/0.971 for 300 embedded goals;
    bench/million.py).
    """
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(vectors), (2, count))
    mid = np.asarray(vectors[a], dtype=np.float32) + np.asarray(vectors[b], dtype=np.float32)
    norms = np.linalg.norm(mid, axis=1, keepdims=True)
    return np.ascontiguousarray(mid[norms[:, 0] > 1e-6] / norms[norms[:, 0] > 1e-6])


def _nlist_for(n: int) -> int:
    """~2*sqrt(n) lists, at most 1,024, and at least 39 training points per list (FAISS minimum).

    k-means training costs ~nlist squared (64 points per list): at 100,000 vectors 632 lists train in a
    quarter of the time of 4*sqrt(n) = 1,264, for a search that scans ~1.3x more at the same recall
    (bench/recall.py, bench/scaling.py). Past 262,144 vectors the cap keeps a build within minutes on 2
    cores (1M: 1,024 lists of ~1,000 8-bit codes; bench/million.py).
    """
    return max(1, min(int(2 * math.sqrt(n)), n // 39, 1024))


class VectorIndex:
    """Upsertable, searchable, persistable set of (id, vector) pairs.

    ``version`` (an opaque int) and ``metadata`` (a JSON-able dict, e.g. the
    database identity) are set by the caller and saved with the file, so a
    stale or foreign index can be detected at load time. All methods hold one
    lock, which makes the index safe to share between gunicorn threads.
    """

    FLAT_THRESHOLD = 20_000
    # recall@10 on query-like vectors (``query_like``) the build tunes nprobe for: a margin over the 0.95
    # the product needs against exact search, for the noise of a 300-query sample and for real queries
    # landing a little below midpoints (1M: 0.959 for goal queries where midpoints tuned to ~0.96).
    DEFAULT_TARGET_RECALL = 0.97
    # From this size IVF lists hold 8-bit scalar-quantised codes instead of float32 vectors: a quarter of
    # the memory (1M x 512 dims: 0.5 GB instead of 2 GB per worker) at recall@10 >= 0.95 (bench/million.py).
    SQ8_THRESHOLD = 200_000

    def __init__(
        self,
        dimension: int,
        config: str,
        kind: str = "auto",
        *,
        flat_threshold: int | None = None,
        nprobe: int | None = None,
    ) -> None:
        """Create an empty index.

        ``kind="auto"`` or ``"flat"`` start exact; ``"ivf"`` is trained on the
        vectors of the first ``add``. Use ``build`` to let the size decide.
        """
        if dimension < 1:
            raise ValueError("dimension must be >= 1")
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        self._dimension = int(dimension)
        self._config = config
        self._requested_kind = kind
        self.flat_threshold = int(flat_threshold if flat_threshold is not None else self.FLAT_THRESHOLD)
        self.version: int = 0
        self.metadata: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._ids = np.zeros(0, dtype=np.int64)  # sorted, unique
        self._trained_on = 0
        self._nprobe = nprobe
        self._index: Any = None if kind == "ivf" else self._new_flat()

    # ----- construction -------------------------------------------------

    def _new_flat(self) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self._dimension))

    def _new_ivf(self, train: np.ndarray) -> Any:
        nlist = _nlist_for(len(train))
        codes = "SQ8" if len(train) >= self.SQ8_THRESHOLD else "Flat"
        index = faiss.index_factory(self._dimension, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
        if len(train) > 64 * nlist:  # plenty for k-means; bounds build time at 100k+
            rows = np.random.default_rng(0).choice(len(train), 64 * nlist, replace=False)
            train = train[np.sort(rows)]
        index.train(train)
        # A hash direct map finds a database id's list entry without scanning every list (remove, upsert).
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = min(self._nprobe or max(1, nlist // 8), nlist)
        self._trained_on = len(train)
        return index

    @classmethod
    def build(
        cls,
        ids: Iterable[int] | np.ndarray,
        vectors: np.ndarray,
        dimension: int,
        config: str,
        kind: str = "auto",
        *,
        flat_threshold: int | None = None,
        target_recall: float = DEFAULT_TARGET_RECALL,
    ) -> VectorIndex:
        """Index all ``vectors`` at once, choosing flat vs IVF by size.

        For IVF the quantizer is trained on ``vectors`` and ``nprobe`` is tuned (``tune_for``) to reach
        ``target_recall`` at k=10 on query-like vectors made from them, against exact search.
        """
        index = cls(dimension, config, kind, flat_threshold=flat_threshold)
        id_arr = _as_ids(ids)
        vecs = index._as_vectors(vectors)
        if len(id_arr) != len(vecs):
            raise ValueError(f"{len(id_arr)} ids but {len(vecs)} vectors")
        use_ivf = kind == "ivf" or (kind == "auto" and len(vecs) >= index.flat_threshold)
        if use_ivf and len(vecs):
            index._index = index._new_ivf(vecs)
        elif use_ivf:
            index._index = None  # trained on the first add
        index.add(id_arr, vecs)
        if index.kind == "ivf" and len(vecs):
            index.tune_for(id_arr, vecs, target_recall=target_recall)
        return index

    def tune_for(
        self,
        ids: Iterable[int] | np.ndarray,
        vectors: np.ndarray,
        *,
        target_recall: float = DEFAULT_TARGET_RECALL,
        queries: int = 300,
    ) -> int | None:
        """Tune ``nprobe`` on ``query_like`` midpoints of ``vectors`` (all indexed rows, with their ``ids``),
        against an exact search over them; returns the chosen nprobe (None for flat)."""
        if self.kind != "ivf" or not len(vectors):
            return None
        return self.tune_nprobe(query_like(vectors, queries), target_recall=target_recall,
                                exact_over=(_as_ids(ids), vectors))

    # ----- properties ---------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def config(self) -> str:
        return self._config

    @property
    def kind(self) -> str:
        """Actual structure: "flat" (exact) or "ivf" (approximate)."""
        if self._index is None:
            return "ivf"
        return "flat" if isinstance(self._index, faiss.IndexIDMap2) else "ivf"

    @property
    def nlist(self) -> int | None:
        """Number of IVF lists, or None for a flat (or not yet trained) index."""
        return int(self._index.nlist) if self.kind == "ivf" and self._index is not None else None

    @property
    def nprobe(self) -> int | None:
        """IVF lists scanned per query (None for flat); more = better recall, slower."""
        if self.kind != "ivf":
            return None
        return int(self._index.nprobe) if self._index is not None else self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if value < 1:
            raise ValueError("nprobe must be >= 1")
        with self._lock:
            self._nprobe = int(value)
            if self.kind == "ivf" and self._index is not None:
                self._index.nprobe = min(int(value), int(self._index.nlist))

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, (int, np.integer)) and bool(self._present(np.array([int(item)]))[0])

    def _present(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are indexed (a binary search in the sorted id array)."""
        if not len(self._ids):
            return np.zeros(len(ids), dtype=bool)
        pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return self._ids[pos] == ids

    @property
    def codes(self) -> str:
        """How vectors are stored: "float32", or "sq8" (8 bits a component) in a large IVF index."""
        return "sq8" if isinstance(self._index, faiss.IndexIVFScalarQuantizer) else "float32"

    def __repr__(self) -> str:
        return (f"<VectorIndex {self.kind} n={len(self)} dim={self._dimension} codes={self.codes} "
                f"config={self._config!r}>")

    # ----- mutation -----------------------------------------------------

    def _as_vectors(self, vectors: np.ndarray) -> np.ndarray:
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.size == 0:
            return np.zeros((0, self._dimension), dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self._dimension:
            raise ValueError(f"expected vectors of shape (n, {self._dimension}), got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("vectors contain NaN or infinity")
        return np.ascontiguousarray(arr)

    def _remove_array(self, ids: np.ndarray) -> int:
        if not len(ids) or self._index is None:
            return 0
        # the IVF hash direct map only accepts an id array
        selector = faiss.IDSelectorArray(ids) if self.kind == "ivf" else faiss.IDSelectorBatch(ids)
        return int(self._index.remove_ids(selector))

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: an id already present gets the new vector.

        If an id repeats within one call, its last vector wins.
        """
        id_arr = _as_ids(ids)
        vecs = self._as_vectors(vectors)
        if len(id_arr) != len(vecs):
            raise ValueError(f"{len(id_arr)} ids but {len(vecs)} vectors")
        if not len(id_arr):
            return
        if len(np.unique(id_arr)) != len(id_arr):
            _, last_from_end = np.unique(id_arr[::-1], return_index=True)
            keep = np.sort(len(id_arr) - 1 - last_from_end)
            id_arr, vecs = id_arr[keep], vecs[keep]
        with self._lock:
            if self._index is None:
                self._index = self._new_ivf(vecs)
            if self.kind == "ivf" and self._index.ntotal == 0:
                self._fill_empty_ivf(id_arr, vecs)
            else:
                known = self._present(id_arr)
                self._remove_array(id_arr[known])
                self._index.add_with_ids(vecs, id_arr)
                id_arr = id_arr[~known]
            new = np.sort(id_arr)
            self._ids = np.insert(self._ids, np.searchsorted(self._ids, new), new) if len(self._ids) else new

    def _fill_empty_ivf(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        """Bulk-load an empty IVF with each inverted list allocated exactly once.

        Plain ``add_with_ids`` grows the lists one vector at a time, and the
        vectors' geometric growth leaves ~30% slack; reserving each list's final
        size first keeps memory at ~1.05x the raw vectors.
        """
        index = self._index
        block = 65_536
        assign = np.empty(len(vecs), dtype=np.int64)
        for start in range(0, len(vecs), block):
            assign[start : start + block] = index.quantizer.assign(vecs[start : start + block], 1).ravel()
        invlists = faiss.downcast_InvertedLists(index.invlists)
        counts = np.bincount(assign, minlength=int(index.nlist))
        for list_no in np.flatnonzero(counts).tolist():
            invlists.resize(list_no, int(counts[list_no]))  # sets capacity...
            invlists.resize(list_no, 0)  # ...and keeps it while emptying
        for start in range(0, len(vecs), block):
            end = min(start + block, len(vecs))
            index.add_core(
                end - start,
                faiss.swig_ptr(vecs[start:end]),
                faiss.swig_ptr(ids[start:end]),
                faiss.swig_ptr(assign[start:end]),
            )

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Delete ids (unknown ones are ignored); returns how many were removed."""
        id_arr = np.unique(_as_ids(ids))
        with self._lock:
            present = id_arr[self._present(id_arr)]
            removed = self._remove_array(present)
            self._ids = np.delete(self._ids, np.searchsorted(self._ids, present))
            return removed

    # ----- search -------------------------------------------------------

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` neighbours for each query row, best first.

        Returns ``(scores, ids)``, both shaped (n_queries, min(k, len(self))).
        Where fewer hits exist (IVF lists exhausted), the row is padded with
        id ``-1`` and score ``-inf``.
        """
        queries = self._as_vectors(query_vectors)
        if k < 1:
            raise ValueError("k must be >= 1")
        with self._lock:
            k_eff = min(int(k), len(self._ids))
            if k_eff == 0 or len(queries) == 0:
                return (
                    np.zeros((len(queries), k_eff), dtype=np.float32),
                    np.full((len(queries), k_eff), -1, dtype=np.int64),
                )
            scores, ids = self._index.search(queries, k_eff)
        scores[ids < 0] = -np.inf
        return scores, ids

    def search_one(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """``(id, score)`` pairs for one query vector, best first, no padding."""
        arr = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        scores, ids = self.search(arr, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_one_with_vectors(self, vector: np.ndarray, k: int) -> tuple[list[tuple[int, float]], np.ndarray]:
        """``search_one`` and the hits' stored vectors (``vectors_of``) under one lock: a change applied by
        another thread in between could otherwise remove a hit before its vector is read."""
        with self._lock:
            hits = self.search_one(vector, k)
            return hits, self.vectors_of([i for i, _ in hits])

    def vectors_of(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` (each must be present), in that order: exact for float32 codes,
        decoded (within ~1e-3 a component) for sq8. ~10 us for 50 ids (flat or IVF): cheaper than a read."""
        id_arr = _as_ids(ids)
        with self._lock:
            if not len(id_arr):
                return np.zeros((0, self._dimension), dtype=np.float32)
            if not self._present(id_arr).all():
                raise KeyError("ids not in the index")
            return self._index.reconstruct_batch(id_arr)

    def tune_nprobe(
        self,
        queries: np.ndarray,
        *,
        query_ids: Iterable[int] | np.ndarray | None = None,
        k: int = 10,
        target_recall: float = DEFAULT_TARGET_RECALL,
        exact_over: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> int | None:
        """Set the smallest nprobe whose recall@k on ``queries`` reaches the target.

        Ground truth is an exact search over ``exact_over`` (ids and vectors of
        everything indexed) when given, otherwise an exhaustive IVF scan (nprobe = nlist),
        which needs no copy of the vectors but is ~10x slower. ``query_ids`` (when
        queries are stored rows) drops each query's own id from both result lists.
        Returns the chosen nprobe, or None for a flat index.
        """
        if self.kind != "ivf" or self._index is None or len(self) == 0:
            return None
        qs = self._as_vectors(queries)
        own = _as_ids(query_ids) if query_ids is not None else None
        with self._lock:
            index = self._index
            nlist = int(index.nlist)
            kk = min(k + (1 if own is not None else 0), len(self._ids))  # room for the query's own id

            def top(nprobe: int) -> list[set[int]]:
                index.nprobe = nprobe
                return _top_k_sets(index.search(qs, kk)[1], k, own)

            if exact_over is not None:
                all_ids, all_vectors = exact_over
                _, positions = faiss.knn(qs, self._as_vectors(all_vectors), kk, metric=faiss.METRIC_INNER_PRODUCT)
                truth = _top_k_sets(np.where(positions >= 0, _as_ids(all_ids)[positions], -1), k, own)
            else:
                truth = top(nlist)

            def recall(nprobe: int) -> float:
                got = top(nprobe)
                total = sum(len(t) for t in truth)
                return sum(len(g & t) for g, t in zip(got, truth, strict=True)) / max(total, 1)

            if exact_over is not None and self.codes != "float32":
                # 8-bit codes rank a few near-ties differently from the float vectors even when every list is
                # scanned: aim at the share of that ceiling, or tuning would end at a scan of everything.
                target_recall *= recall(nlist)
            chosen = _smallest_reaching(recall, target_recall, nlist)
            index.nprobe = chosen
            self._nprobe = chosen
            return chosen

    # ----- persistence (the file format: embeddings.index_file) ------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically with a checked header and a checksummed payload (``index_file``)."""
        with self._lock:
            if self._index is None:
                raise ValueError("an untrained IVF index has nothing to save; add vectors first")
            write_index_file(path, self._header(), self._index)

    def _header(self) -> dict[str, Any]:
        return {
            "dimension": self._dimension,
            "config": self._config,
            "kind": self.kind,
            "requested_kind": self._requested_kind,
            "flat_threshold": self.flat_threshold,
            "nprobe": self.nprobe,
            "trained_on": self._trained_on,
            "version": int(self.version),
            "metadata": self.metadata,
            "count": len(self._ids),
        }

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        expected_config: str,
        expected_dimension: int | None = None,
        expected_metadata: dict[str, Any] | None = None,
    ) -> VectorIndex:
        """Load a saved index, refusing one built for something else.

        Raises ``IndexFileError`` if the file is missing or corrupt, and
        ``IndexMismatchError`` naming what differs (config, dimension, or a
        metadata key such as the database id). The caller answers by rebuilding.
        """
        header, raw = read_index_file(path, expected_config, expected_dimension, expected_metadata)
        name = os.fspath(path)
        kind = header["kind"]
        if kind == "flat" and not isinstance(raw, faiss.IndexIDMap2):
            raise IndexFileError(f"index file {name!r}: header says flat but payload is {type(raw).__name__}")
        if kind == "ivf" and not isinstance(raw, faiss.IndexIVF):
            raise IndexFileError(f"index file {name!r}: header says ivf but payload is {type(raw).__name__}")
        index = cls(
            header["dimension"],
            header["config"],
            header.get("requested_kind", kind),
            flat_threshold=header.get("flat_threshold"),
            nprobe=header.get("nprobe"),
        )
        index._index = raw
        if kind == "ivf" and header.get("nprobe"):
            raw.nprobe = min(int(header["nprobe"]), int(raw.nlist))
        index._trained_on = int(header.get("trained_on", 0))
        index.version = int(header.get("version", 0))
        index.metadata = dict(header.get("metadata") or {})
        stored = np.sort(faiss.vector_to_array(raw.id_map) if kind == "flat" else _ivf_ids(raw))
        if len(stored) != raw.ntotal or (len(stored) > 1 and bool((stored[1:] == stored[:-1]).any())):
            raise IndexFileError(f"index file {name!r} contains duplicate ids")
        index._ids = stored
        return index


def _top_k_sets(found: np.ndarray, k: int, own: np.ndarray | None) -> list[set[int]]:
    """Each query's first ``k`` ids found (a search's id rows, -1 padded) as a set, without the query's own id."""
    rows = []
    for r, row in enumerate(found.tolist()):
        hits = [i for i in row if i >= 0 and (own is None or i != own[r])]
        rows.append(set(hits[:k]))
    return rows


def _smallest_reaching(recall: Callable[[int], float], target: float, nlist: int) -> int:
    """The smallest nprobe in 1..nlist whose recall reaches ``target`` (nlist when none does): doubling, then
    bisecting, as recall only grows with nprobe."""
    lo, hi = 0, 1  # recall(lo) < target (lo=0 is a sentinel), recall(hi) unknown
    while hi < nlist and recall(hi) < target:
        lo, hi = hi, min(hi * 2, nlist)
    while hi - lo > 1:  # bisect between a failing and a passing nprobe
        mid = (lo + hi) // 2
        if recall(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _ivf_ids(index: Any) -> np.ndarray:
    """All ids stored in an IVF index's inverted lists."""
    invlists = index.invlists
    parts = []
    for list_no in range(index.nlist):
        size = invlists.list_size(list_no)
        if size:
            ptr = invlists.get_ids(list_no)
            parts.append(faiss.rev_swig_ptr(ptr, size).copy())
            invlists.release_ids(list_no, ptr)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
