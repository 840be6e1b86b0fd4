"""VectorIndex: upsert/remove/search, persistence, mismatch/corruption, IVF recall."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from embeddings import (
    HashingEncoder,
    IndexFileError,
    IndexLoadError,
    IndexMismatchError,
    VectorIndex,
    query_like,
)

ENC = HashingEncoder(64)
DOCS = {
    10: "tiktok content strategy for brands",
    20: "kubernetes clusters and cloud infrastructure",
    30: "linkedin personal branding for executives",
    40: "gen z consumer trends and instagram",
}


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b, strict=True)]))


@pytest.fixture
def index() -> VectorIndex:
    idx = VectorIndex(ENC.dimension, ENC.config)
    idx.add(list(DOCS), ENC.encode(list(DOCS.values())))
    return idx


def test_search_finds_exact_text(index: VectorIndex) -> None:
    hits = index.search_one(ENC.encode([DOCS[30]])[0], k=2)
    assert hits[0][0] == 30
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(hits) == 2
    assert index.kind == "flat" and index.nprobe is None


def test_len_contains_ids(index: VectorIndex) -> None:
    assert len(index) == 4
    assert 20 in index and 99 not in index and "20" not in index


def test_upsert_replaces_vector(index: VectorIndex) -> None:
    index.add([10], ENC.encode(["golang backend services"]))
    assert len(index) == 4
    hits = index.search_one(ENC.encode(["golang backend services"])[0], k=1)
    assert hits == [(10, pytest.approx(1.0, abs=1e-5))]
    old = index.search_one(ENC.encode([DOCS[10]])[0], k=1)
    assert old[0][1] < 0.99  # the old text's vector is gone


def test_duplicate_ids_in_one_add_last_wins() -> None:
    idx = VectorIndex(ENC.dimension, ENC.config)
    idx.add([1, 2, 1], ENC.encode(["first", "second", "third"]))
    assert len(idx) == 2
    assert idx.search_one(ENC.encode(["third"])[0], 1)[0][0] == 1


def test_remove(index: VectorIndex) -> None:
    assert index.remove([20, 999]) == 1
    assert 20 not in index and len(index) == 3
    ids = [i for i, _ in index.search_one(ENC.encode([DOCS[20]])[0], k=10)]
    assert 20 not in ids and len(ids) == 3
    assert index.remove([]) == 0


def test_search_shapes_and_padding(index: VectorIndex) -> None:
    queries = ENC.encode(list(DOCS.values()))
    scores, ids = index.search(queries, k=10)  # k is clipped to len(index)
    assert scores.shape == ids.shape == (4, 4)
    assert ids[:, 0].tolist() == list(DOCS)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_empty_index() -> None:
    idx = VectorIndex(8, "hashing:8")
    scores, ids = idx.search(np.ones((2, 8), dtype=np.float32) / np.sqrt(8), k=5)
    assert scores.shape == ids.shape == (2, 0)
    assert idx.search_one(np.ones(8, dtype=np.float32), 3) == []
    assert idx.remove([1]) == 0 and len(idx) == 0


def test_empty_build_save_load(tmp_path) -> None:
    for empty in (np.zeros((0, 8), dtype=np.float32), np.zeros(0, dtype=np.float32), []):
        idx = VectorIndex.build(np.zeros(0, dtype=np.int64), empty, 8, "hashing:8")
        assert len(idx) == 0 and idx.kind == "flat"
    idx.save(tmp_path / "empty.bin")
    loaded = VectorIndex.load(tmp_path / "empty.bin", "hashing:8", 8)
    assert len(loaded) == 0 and loaded.search_one(np.ones(8, dtype=np.float32), 5) == []
    ivf = VectorIndex.build([], [], 8, "hashing:8", kind="ivf")
    with pytest.raises(ValueError, match="untrained"):
        ivf.save(tmp_path / "ivf.bin")


def test_input_validation(index: VectorIndex) -> None:
    with pytest.raises(ValueError, match="shape"):
        index.add([1], np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="ids"):
        index.add([1, 2], ENC.encode(["one"]))
    with pytest.raises(ValueError, match=">= 0"):
        index.add([-5], ENC.encode(["x"]))
    with pytest.raises(ValueError, match="NaN"):
        index.add([1], np.full((1, 64), np.nan, dtype=np.float32))
    with pytest.raises(ValueError):
        index.search(np.ones((1, 64), dtype=np.float32), k=0)
    with pytest.raises(ValueError):
        VectorIndex(8, "x", kind="hnsw")


def test_save_load_round_trip(index: VectorIndex, tmp_path) -> None:
    index.version = 7
    index.metadata = {"database_id": "prod-1", "rows": 4}
    path = tmp_path / "sub" / "mentors.faiss"
    index.save(path)
    assert os.listdir(path.parent) == ["mentors.faiss"]  # no temp file left behind
    loaded = VectorIndex.load(path, ENC.config, 64, {"database_id": "prod-1"})
    assert (loaded.version, loaded.metadata, loaded.config, loaded.dimension) == (7, index.metadata, ENC.config, 64)
    assert all(i in loaded for i in DOCS) and len(loaded) == len(index)
    queries = ENC.encode(list(DOCS.values()))
    for (s1, i1), (s2, i2) in [(index.search(queries, 4), loaded.search(queries, 4))]:
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_allclose(s1, s2)
    loaded.add([50], ENC.encode(["new"]))  # a loaded index stays mutable
    loaded.save(path)  # overwrite in place
    assert len(VectorIndex.load(path, ENC.config)) == 5


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"expected_config": "st:all-MiniLM-L6-v2"}, "config is 'hashing:64', expected 'st:all-MiniLM-L6-v2'"),
        ({"expected_config": "hashing:64", "expected_dimension": 384}, "dimension is 64, expected 384"),
        (
            {"expected_config": "hashing:64", "expected_metadata": {"database_id": "staging"}},
            "metadata 'database_id' is 'prod-1', expected 'staging'",
        ),
        (
            {"expected_config": "hashing:64", "expected_metadata": {"schema": 3}},
            "metadata 'schema' is missing",
        ),
    ],
)
def test_load_refuses_mismatch(index: VectorIndex, tmp_path, kwargs: dict, fragment: str) -> None:
    index.metadata = {"database_id": "prod-1"}
    path = tmp_path / "idx.bin"
    index.save(path)
    with pytest.raises(IndexMismatchError) as info:
        VectorIndex.load(path, **kwargs)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, IndexLoadError)


def test_load_missing_and_corrupt_files(index: VectorIndex, tmp_path) -> None:
    with pytest.raises(IndexFileError, match="does not exist"):
        VectorIndex.load(tmp_path / "nope.bin", ENC.config)
    with pytest.raises(IndexFileError):
        VectorIndex.load(tmp_path, ENC.config)  # a directory
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not an index at all")
    with pytest.raises(IndexFileError, match="not a Tandem vector index"):
        VectorIndex.load(garbage, ENC.config)

    path = tmp_path / "good.bin"
    index.save(path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexFileError):
        VectorIndex.load(truncated, ENC.config)
    flipped = bytearray(data)
    flipped[len(data) - 100] ^= 0xFF  # inside the FAISS payload
    bad = tmp_path / "flipped.bin"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(IndexFileError, match="checksum"):
        VectorIndex.load(bad, ENC.config)
    header_broken = bytearray(data)
    header_broken[14] ^= 0xFF
    bad.write_bytes(bytes(header_broken))
    with pytest.raises(IndexFileError):
        VectorIndex.load(bad, ENC.config)


def test_save_rejects_non_json_metadata(index: VectorIndex, tmp_path) -> None:
    index.metadata = {"when": object()}
    with pytest.raises(ValueError, match="JSON"):
        index.save(tmp_path / "x.bin")
    assert os.listdir(tmp_path) == []


def test_build_chooses_kind_by_size() -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 500, 16)
    assert VectorIndex.build(range(500), vectors, 16, "c").kind == "flat"
    ivf = VectorIndex.build(range(500), vectors, 16, "c", flat_threshold=400)
    assert ivf.kind == "ivf" and ivf.nlist is not None and 1 <= ivf.nprobe <= ivf.nlist
    assert VectorIndex.build(range(500), vectors, 16, "c", kind="flat", flat_threshold=10).kind == "flat"
    with pytest.raises(ValueError):
        VectorIndex.build(range(3), vectors, 16, "c")


def test_ivf_recall_and_persistence(tmp_path) -> None:
    rng = np.random.default_rng(0)
    n, d = 5000, 64
    vectors = _unit(rng, n, d)
    ids = np.arange(n, dtype=np.int64) * 2 + 1_000
    flat = VectorIndex.build(ids, vectors, d, "c", kind="flat")
    ivf = VectorIndex.build(ids, vectors, d, "c", kind="ivf")
    assert ivf.kind == "ivf" and ivf.nprobe < ivf.nlist
    queries = _unit(rng, 300, d)
    _, exact = flat.search(queries, 10)
    _, approx = ivf.search(queries, 10)
    assert _recall(approx, exact) >= 0.95

    # upsert and remove work on IVF, and survive a save/load
    ivf.add([ids[0]], vectors[1])
    assert ivf.remove([ids[2], ids[3]]) == 2
    ivf.nprobe = 40
    path = tmp_path / "ivf.bin"
    ivf.save(path)
    loaded = VectorIndex.load(path, "c", d)
    assert loaded.kind == "ivf" and loaded.nprobe == 40 and len(loaded) == n - 2
    assert ids[2] not in loaded and ids[4] in loaded
    assert loaded.search_one(vectors[1], 1)[0][0] in (ids[0], ids[1])  # the upserted vector is found
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], ivf.search(queries, 10)[1])


def test_tuning_against_exact_search_picks_the_same_nprobe_as_an_exhaustive_scan() -> None:
    rng = np.random.default_rng(8)
    n, d = 4000, 32
    vectors = _unit(rng, n, d)
    ids = np.arange(n, dtype=np.int64) * 3 + 7
    ivf = VectorIndex.build(ids, vectors, d, "c", kind="ivf")
    rows = rng.choice(n, 200, replace=False)

    from_scan = ivf.tune_nprobe(vectors[rows], query_ids=ids[rows], target_recall=0.95)
    from_exact = ivf.tune_nprobe(vectors[rows], query_ids=ids[rows], target_recall=0.95, exact_over=(ids, vectors))

    assert 1 < from_exact < ivf.nlist
    assert from_exact == from_scan


def test_ivf_constructor_trains_on_first_add() -> None:
    rng = np.random.default_rng(5)
    idx = VectorIndex(16, "c", kind="ivf")
    assert idx.kind == "ivf" and len(idx) == 0 and idx.search_one(np.ones(16), 3) == []
    vectors = _unit(rng, 800, 16)
    idx.add(range(800), vectors)
    assert idx.nlist == 800 // 39
    assert idx.search_one(vectors[7], 1)[0][0] == 7
    assert VectorIndex(16, "c").tune_nprobe(vectors[:5]) is None  # flat: nothing to tune


def test_a_large_ivf_index_stores_8_bit_codes_and_keeps_recall(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(VectorIndex, "SQ8_THRESHOLD", 3000)
    rng = np.random.default_rng(9)
    n, d = 6000, 64
    centres = _unit(rng, 40, d)
    vectors = centres[rng.integers(0, 40, n)] + 0.15 * rng.standard_normal((n, d)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64) + 500
    small = VectorIndex.build(ids[:2000], vectors[:2000], d, "c", kind="ivf")
    assert small.codes == "float32"
    sq8 = VectorIndex.build(ids, vectors, d, "c", kind="ivf")
    assert sq8.codes == "sq8" and "codes=sq8" in repr(sq8)
    flat = VectorIndex.build(ids, vectors, d, "c", kind="flat")
    queries = centres[rng.integers(0, 40, 200)] + 0.15 * rng.standard_normal((200, d)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert _recall(sq8.search(queries, 10)[1], flat.search(queries, 10)[1]) >= 0.95
    scores, _ = sq8.search(queries, 1)
    np.testing.assert_allclose(scores[:, 0], flat.search(queries, 1)[0][:, 0], atol=0.02)  # 8-bit scores

    sq8.remove([ids[0]])
    sq8.add([ids[1]], vectors[5])
    sq8.save(tmp_path / "sq8.bin")
    loaded = VectorIndex.load(tmp_path / "sq8.bin", "c", d)
    assert loaded.codes == "sq8" and len(loaded) == n - 1 and ids[0] not in loaded
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], sq8.search(queries, 10)[1])


def test_the_vectors_of_hits_are_the_stored_ones_in_every_kind_and_after_a_load(tmp_path, monkeypatch) -> None:
    """vectors_of: what a search ranks a hit by can be recomputed for another query vector (matching's floor)."""
    monkeypatch.setattr(VectorIndex, "SQ8_THRESHOLD", 3000)
    rng = np.random.default_rng(4)
    n, d = 3200, 32
    vectors = _unit(rng, n, d)
    ids = np.arange(n, dtype=np.int64) * 5 + 3
    pick = [7, 0, 3199, 42]
    for kind, tolerance in (("flat", 0.0), ("ivf", 0.01)):  # ivf at this size: sq8 codes, decoded
        index = VectorIndex.build(ids, vectors, d, "c", kind=kind)
        index.add([ids[42]], vectors[1])  # an upserted vector is the new one
        expected = vectors[pick].copy()
        expected[3] = vectors[1]
        index.save(tmp_path / f"{kind}.bin")
        for candidate in (index, VectorIndex.load(tmp_path / f"{kind}.bin", "c", d)):
            np.testing.assert_allclose(candidate.vectors_of(ids[pick]), expected, atol=tolerance)
            assert candidate.vectors_of([]).shape == (0, d)
            with pytest.raises(KeyError):
                candidate.vectors_of([ids[0], 2])


def test_concurrent_mutation_and_search() -> None:
    rng = np.random.default_rng(7)
    vectors = _unit(rng, 400, 32)
    idx = VectorIndex(32, "c")
    idx.add(range(200), vectors[:200])
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for i in range(100):
                idx.add([200 + offset + i], vectors[200 + offset + i])
                idx.remove([offset + i])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for i in range(200):
                idx.search(vectors[i : i + 1], 5)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (0, 100)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(idx) == 200 and all(i in idx for i in range(200, 400))


def test_compute_threads_are_set_for_torch_and_faiss() -> None:
    import faiss
    import threadpoolctl
    import torch

    from embeddings import set_compute_threads

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}

    before = torch.get_num_threads(), faiss.omp_get_max_threads(), threadpoolctl.threadpool_limits(limits=None)
    try:
        set_compute_threads(1)
        assert (torch.get_num_threads(), faiss.omp_get_max_threads(), blas_threads()) == (1, 1, {1})
        set_compute_threads(0)  # never fewer than one
        assert (torch.get_num_threads(), faiss.omp_get_max_threads(), blas_threads()) == (1, 1, {1})
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])
        before[2].restore_original_limits()


def _clustered(rng: np.random.Generator, n: int, d: int, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    centres = _unit(rng, clusters, d)
    vectors = centres[rng.integers(0, clusters, n)] + 0.08 * rng.standard_normal((n, d)).astype(np.float32)
    return centres, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_tuned_nprobe_reaches_the_target_on_queries_it_did_not_tune_on() -> None:
    rng = np.random.default_rng(11)
    n, d = 8000, 32
    centres, vectors = _clustered(rng, n, d, 80)
    ids = np.arange(n, dtype=np.int64) * 2 + 5
    ivf = VectorIndex.build(ids, vectors, d, "c", kind="ivf")
    exact = VectorIndex.build(ids, vectors, d, "c", kind="flat")
    held_out = query_like(vectors, 300, seed=99)  # the build tuned on seed 1's midpoints
    a, b = rng.integers(0, 80, (2, 300))
    w = rng.uniform(0.5, 0.8, (300, 1)).astype(np.float32)
    goals = w * centres[a] + (1 - w) * centres[b] + 0.08 * rng.standard_normal((300, d)).astype(np.float32)
    goals /= np.linalg.norm(goals, axis=1, keepdims=True)  # fresh texts: near topics, not stored rows

    assert 1 < ivf.nprobe < ivf.nlist
    for queries in (held_out, goals):
        assert _recall(ivf.search(queries, 10)[1], exact.search(queries, 10)[1]) >= 0.95

    # Tuning on stored rows (each inside its own list) stops too early for fresh queries.
    rows = rng.choice(n, 300, replace=False)
    on_rows = ivf.tune_nprobe(vectors[rows], query_ids=ids[rows], target_recall=0.97, exact_over=(ids, vectors))
    assert _recall(ivf.search(held_out, 10)[1], exact.search(held_out, 10)[1]) < 0.95
    assert on_rows < VectorIndex.build(ids, vectors, d, "c", kind="ivf").nprobe


def test_corruption_anywhere_in_the_payload_is_refused_before_faiss_parses_it(tmp_path) -> None:
    # FAISS trusts the lengths it reads (a flipped length made it allocate 15 GB), so the CRC comes first.
    rng = np.random.default_rng(4)
    ivf = VectorIndex.build(range(600), _unit(rng, 600, 16), 16, "c", kind="ivf")
    path = tmp_path / "ivf.bin"
    ivf.save(path)
    data = path.read_bytes()
    header_end = 12 + int.from_bytes(data[8:12], "little")
    bad = tmp_path / "bad.bin"
    for position in range(header_end, len(data) - 20, 97):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        with pytest.raises(IndexFileError, match="checksum"):
            VectorIndex.load(bad, "c")
    assert len(VectorIndex.load(path, "c")) == 600


def test_membership_follows_every_add_and_remove() -> None:
    rng = np.random.default_rng(12)
    for kind in ("flat", "ivf"):
        start = rng.choice(5000, 1500, replace=False)
        idx = VectorIndex.build(start, _unit(rng, 1500, 8), 8, "c", kind=kind)
        model = set(start.tolist())
        for _ in range(30):
            added = rng.integers(0, 5000, 40)
            idx.add(added, _unit(rng, 40, 8))
            model |= set(added.tolist())
            gone = rng.integers(0, 5000, 40)
            assert idx.remove(gone) == len(model & set(gone.tolist()))
            model -= set(gone.tolist())
        assert len(idx) == len(model)
        assert all((i in idx) == (i in model) for i in range(5000))
        assert 5000 not in idx and -1 not in idx and "3" not in idx


def test_hits_and_their_vectors_come_from_one_state_while_another_thread_changes_the_index() -> None:
    """A search and the read of its hits' vectors must not see a removal in between (a KeyError on the request)."""
    rng = np.random.default_rng(5)
    vectors = _unit(rng, 200, 16)
    idx = VectorIndex(16, "hashing:16")
    idx.add(np.arange(200), vectors)
    stop = threading.Event()

    def churn() -> None:  # what another request's catch-up does: remove and re-add profiles
        while not stop.is_set():
            chosen = rng.choice(200, size=20, replace=False)
            idx.remove(chosen)
            idx.add(chosen, vectors[chosen])

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for query in _unit(np.random.default_rng(6), 300, 16):
            hits, held = idx.search_one_with_vectors(query, 20)
            ids = [i for i, _ in hits]
            assert np.allclose(held, vectors[ids])
            assert np.allclose([s for _, s in hits], held @ query, atol=1e-5)
    finally:
        stop.set()
        worker.join()
