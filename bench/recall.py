"""Recall@10 of the approximate (IVF) index against exact search, on real model vectors.

20,000 generated mentor profiles are embedded by the app's encoder (cached in bench/cache/, so a rerun
takes seconds); held-out generated goals are the queries. The index is built exactly as the app builds
it (`VectorIndex.build`, kind chosen by size, nprobe tuned), and compared with an exact flat search.
A second row does the same at 100,000 vectors, 80,000 of them synthesised from the real ones.

    .venv/bin/python bench/recall.py [--profiles 20000] [--queries 500] [--encoder SPEC]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from bench._common import (  # noqa: E402
    cached_encode,
    default_encoder,
    log,
    mentor_vectors,
    ms,
    percentile,
    real_mentor_vectors,
    report_targets,
    table,
)
from embeddings import VectorIndex, build_encoder  # noqa: E402


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, k)[1]


def single_query_ms(search, queries: np.ndarray, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        for q in queries:
            started = time.perf_counter()
            search(q.reshape(1, -1))
            times.append(ms(time.perf_counter() - started))
    return times


def measure(label: str, vectors: np.ndarray, queries: np.ndarray, k: int, note: str) -> list:
    config = build_encoder(default_encoder()).config
    ids = np.arange(len(vectors), dtype=np.int64)
    started = time.perf_counter()
    index = VectorIndex.build(ids, vectors, dimension=vectors.shape[1], config=config)
    build_s = time.perf_counter() - started
    truth = exact_top(vectors, queries, k)
    scores, found = index.search(queries, k)
    recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)]))
    flat = VectorIndex.build(ids, vectors, dimension=vectors.shape[1], config=config, kind="flat")
    approx_t = single_query_ms(lambda q: index.search(q, 50), queries[:200])
    exact_t = single_query_ms(lambda q: flat.search(q, 50), queries[:200])
    log(f"{label}: {index!r} nprobe={index.nprobe} recall@{k}={recall:.4f}")
    return [label, len(vectors), note, index.kind, index.nlist or "-", index.nprobe or "-", f"{recall:.4f}",
            f"{build_s:.1f}", f"{percentile(exact_t, 95):.2f}", f"{percentile(approx_t, 95):.2f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--large", type=int, default=100_000, help="size of the synthesised set (0: skip)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)

    gen, _, _, real = real_mentor_vectors(args.encoder, args.seed, args.profiles)
    queries, _ = cached_encode(args.encoder, [gen.goal_query(g) for g in gen.goal_entries(args.queries)],
                               f"goals-s{args.seed}")
    rows = [measure("real", real, queries, args.k, "all real model vectors")]
    if args.large > args.profiles:
        _, _, big, n_real = mentor_vectors(args.encoder, args.large, args.seed)
        rows.append(measure("100k", big, queries, args.k, f"{n_real:,} real + {len(big) - n_real:,} synthesised"))

    print(f"\n## Recall@{args.k}: approximate index vs exact search ({build_encoder(args.encoder).config}, "
          f"{len(queries)} held-out goal queries)\n")
    print(table(["set", "vectors", "vectors are", "kind", "nlist", "nprobe", f"recall@{args.k}", "build s",
                 "exact p95 ms", "index p95 ms"], rows))
    report_targets([{"target": f"recall@{args.k}, {row[1]:,} vectors ({row[2]})", "measured": row[6],
                     "baseline": "exact search = 1.0", "goal": ">= 0.95", "met": float(row[6]) >= 0.95}
                    for row in rows])
    print("\nTarget: recall@10 >= 0.95 on the real vectors. `exact`/`index` p95: one query, k=50 (the app's "
          "over-fetch), single thread of this process.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
