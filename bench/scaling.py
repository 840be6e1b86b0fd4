"""Scaling: index build time, search p95 and memory at 1k, 10k and 100k mentors.

For each size, a database like bench/search_latency.py's (reused when it matches; 1k and 10k hold only
real model vectors, 100k adds synthesised ones) and, in the same run:
- index build: `LiveIndex.rebuild()` (read the vectors from the database + `VectorIndex.build` + save);
- memory: resident growth of a fresh process loading the saved index, against the raw vectors;
- search p95: the app's `matching.search_mentors` in-process (query encode, FAISS, hard rules, explanation)
  and, alternating with it, the raw work (one encode + one FAISS search, k = 50).

    .venv/bin/python bench/scaling.py [--sizes 1000 10000 100000] [--queries 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    OUT,
    REAL_VECTORS,
    VIEWER_EMAIL,
    build_mentor_database,
    choose_database,
    default_encoder,
    log,
    make_app,
    percentile,
    report_targets,
    sized_paths,
    table,
    timed_ms,
)
from bench.search_latency import embedded_queries, queries  # noqa: E402
from bench.startup import run_child  # noqa: E402


def app_search(args, n: int, kind: str, texts: list[str]) -> dict:
    from embeddings import VectorIndex, build_encoder
    from marketplace.extensions import db
    from marketplace.models import User
    from marketplace.services.matching import search as matching
    from marketplace.services.matching import vectors

    url, index_dir = sized_paths(kind, args.db_prefix, n)
    info = build_mentor_database(url, index_dir, args.encoder, n, real_count=args.real)
    embedded = embedded_queries(info, args.encoder, texts)  # what the app hands the model for each query
    app = make_app(url, index_dir, args.encoder)
    encoder = build_encoder(args.encoder)
    encoder.encode(["warm up"])
    with app.app_context():
        vectors.forget_live_indexes()
        started = time.perf_counter()
        live = vectors.live_index(vectors.MENTOR)
        live.rebuild(save=True)
        build_s = time.perf_counter() - started
        index = live.current()
        raw_index = VectorIndex.load(live.path(), expected_config=encoder.config)
        viewer = db.session.scalar(db.select(User).where(User.email == VIEWER_EMAIL))
        for q in texts[:3]:
            matching.search_mentors(q, viewer, k=10)
        app_ms, raw_ms, faiss_ms = [], [], []

        def raw(q: str) -> None:  # what a user would build instead: one encode + one FAISS search
            raw_index.search(encoder.encode([embedded[q]]), 50)

        for i, q in enumerate(texts):
            if i % 2:
                raw_ms.append(timed_ms(raw, q))
            app_ms.append(timed_ms(matching.search_mentors, q, viewer, k=10))
            if not i % 2:
                raw_ms.append(timed_ms(raw, q))
            vector = encoder.encode([q])
            faiss_ms.append(timed_ms(raw_index.search, vector, 50))
            db.session.remove()
        memory = run_child("load", info, args.encoder)  # a fresh process loading the saved index
        result = {
            "n": len(index), "kind": index.kind, "nlist": index.nlist or "-", "nprobe": index.nprobe or "-",
            "build_s": build_s, "load_s": memory["seconds"], "mem_mb": memory["rss_mb"],
            "raw_mb": len(index) * index.dimension * 4 / 2**20, "faiss_p95": percentile(faiss_ms, 95),
            "faiss_p50": percentile(faiss_ms, 50), "app_p50": percentile(app_ms, 50), "raw_p50": percentile(raw_ms, 50),
            "raw_p95": percentile(raw_ms, 95), "app_p95": percentile(app_ms, 95), "n_real": info.get("n_real"),
        }
        vectors.forget_live_indexes()
        db.session.remove()
        db.engine.dispose()
    log(f"{n:,}: {result}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--database", choices=["auto", "postgresql", "sqlite"], default="auto")
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db-prefix", default="tandem_bench", help="databases <prefix>_<n>k, shared with million.py")
    parser.add_argument("--real", type=int, default=REAL_VECTORS, help="profiles embedded for real")
    parser.add_argument("--json", default=str(OUT / "scaling.json"), help="figures for bench/plots.py")
    args = parser.parse_args(argv)
    kind = choose_database(args.database)
    texts = queries(args.queries, args.seed)
    from embeddings import set_compute_threads

    # As a gunicorn worker of `make run` (2 workers on 2 cores, gunicorn.conf.py): one thread each.
    set_compute_threads(1)
    results = [app_search(args, n, kind, texts) for n in args.sizes]
    report_targets([{"target": f"index memory at {r['n']:,} ({r['kind']})", "measured": f"{r['mem_mb']:.0f} MiB",
                     "baseline": f"{r['raw_mb']:.0f} MiB raw vectors = {r['mem_mb'] / r['raw_mb']:.2f}x",
                     "goal": "<= 1.2x (from 10,000)", "met": r["n"] < 10_000 or r["mem_mb"] / r["raw_mb"] <= 1.2}
                    for r in results])
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"database": kind, "real": args.real, "sizes": results}, indent=2))
    print(f"\n## Scaling ({kind}, {default_encoder() if args.encoder is None else args.encoder}; "
          f"{args.queries} queries per size)\n")
    print(table(
        ["mentors", "index", "nlist/nprobe", "build s", "file load s", "index MiB", "raw vectors MiB", "mem/raw",
         "FAISS p50/p95 ms", "raw encode+FAISS p50/p95 ms", "app search p50/p95 ms", "p95 app/raw"],
        [[r["n"], r["kind"], f"{r['nlist']}/{r['nprobe']}", r["build_s"], r["load_s"], r["mem_mb"], r["raw_mb"],
          f"{r['mem_mb'] / r['raw_mb']:.2f}x", f"{r['faiss_p50']:.2f} / {r['faiss_p95']:.2f}",
          f"{r['raw_p50']:.0f} / {r['raw_p95']:.0f}", f"{r['app_p50']:.0f} / {r['app_p95']:.0f}",
          f"{r['app_p95'] / r['raw_p95']:.2f}x"] for r in results],
    ))
    print("\nbuild = LiveIndex.rebuild(): read every vector from the database, build (IVF: train + tune nprobe), "
          "save. index MiB = resident growth of a fresh process loading the saved file. app search = "
          "matching.search_mentors in-process (no HTTP). Vectors past 20,000 are synthesised.\n")
    print("Past one machine: README.md \"Scaling out\" (the machine count is worked out from these figures and "
          "bench/million.py's).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
