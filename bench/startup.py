"""Start-up at 100,000 mentors: a worker serving its first search from the saved index file, and index memory.

Uses the database of bench/search_latency.py (built and reused the same way). Measured:
- a real gunicorn worker (1 worker, -c gunicorn.conf.py): seconds from spawning the server to the first
  answered search, with the saved index file (the normal start) and without it (rebuild from the database);
- in fresh child processes: loading the encoder, loading the saved index (`VectorIndex.load`), opening it the
  app's way (`LiveIndex.current()`: file + version check), and rebuilding it from the database;
- memory: resident-set growth of a fresh process loading the saved index, against the raw vectors
  (n x dimension x 4 bytes). Target: within 1.2x.

    .venv/bin/python bench/startup.py [--mentors 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench._common import (  # noqa: E402
    OUT,
    default_encoder,
    gunicorn,
    log,
    make_app,
    report_targets,
    rss_mb,
    served_mentor_database,
    table,
    wait_until_ready,
)


def child(mode: str, url: str, index_dir: str, spec: str) -> dict:
    """One measurement in this (fresh) process; answers seconds and resident-memory growth."""
    started = time.perf_counter()
    import faiss  # noqa: F401  (libraries in memory before the baseline)
    import numpy as np  # noqa: F401

    from embeddings import VectorIndex, build_encoder

    encoder = build_encoder(spec)
    imported = time.perf_counter() - started  # what a worker pays importing the libraries
    if mode == "encoder":
        before = rss_mb()
        started = time.perf_counter()
        encoder.encode(["first query"])
        return {"seconds": time.perf_counter() - started, "rss_mb": rss_mb() - before}
    if mode == "load":
        before = rss_mb()
        started = time.perf_counter()
        index = VectorIndex.load(Path(index_dir) / "mentors.faiss", expected_config=encoder.config)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "rss_mb": rss_mb() - before, "n": len(index), "dim": index.dimension,
                "kind": index.kind}
    from marketplace.extensions import db
    from marketplace.services.matching import vectors

    if mode == "warm":  # a worker's whole warm-up (vectors.warm_up's parts), timed from a cold process
        started = time.perf_counter()
        encoder.encode(["first query"])
        app = make_app(url, index_dir, spec)
        with app.app_context():
            db.session.execute(db.text("SELECT 1"))
            before, index_started = rss_mb(), time.perf_counter()
            index = vectors.live_index(vectors.MENTOR).current()
            index_s, index_rss = time.perf_counter() - index_started, rss_mb() - before
            vectors.live_index(vectors.GOAL).current()
            return {"seconds": time.perf_counter() - started + imported, "index_s": index_s,
                    "index_rss_mb": index_rss, "n": len(index), "codes": index.codes}
    app = make_app(url, index_dir, spec)
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))  # connection pool up before the baseline
        before = rss_mb()
        started = time.perf_counter()
        live = vectors.live_index(vectors.MENTOR)
        index = live.current() if mode == "open" else live.rebuild(save=False)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "rss_mb": rss_mb() - before, "n": len(index)}


def run_child(mode: str, info: dict, spec: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", info["url"], "--index-dir", info["index_dir"],
         "--encoder", spec], check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def first_search(info: dict, index_dir: str, spec: str, token: str) -> float:
    """Seconds from spawning gunicorn (1 worker) to the first answered search."""
    with gunicorn(info["url"], index_dir, spec, workers=1, threads=1) as srv:
        ready = wait_until_ready(requests.Session(), f"{srv['base']}/api/v1/mentors/search?q=Fehlerkultur",
                                 {"Authorization": f"Bearer {token}"}, srv["proc"], time.perf_counter() + 500)
        return ready - srv["started"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--database", choices=["auto", "postgresql", "sqlite"], default="auto")
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.url, args.index_dir, args.encoder)))
        return 0

    size = f"{args.mentors // 1000}k"
    info = served_mentor_database(args.database, f"tandem_bench_{size}", size, args.encoder, args.mentors)
    kind, index_dir, token = info["kind_db"], info["index_dir"], info["viewer_token"]

    log("child processes: encoder, index file, LiveIndex open, rebuild from the database")
    measured = {mode: run_child(mode, info, args.encoder) for mode in ("encoder", "load", "open", "rebuild")}
    log("gunicorn, 1 worker, with the saved index file")
    with_file = first_search(info, index_dir, args.encoder, token)
    # Same database, an index folder holding only the goals' file: the worker must rebuild mentors.
    bare = OUT / f"index-{size}-{kind}-nofile"
    shutil.rmtree(bare, ignore_errors=True)
    bare.mkdir(parents=True)
    shutil.copy(Path(index_dir) / "goals.faiss", bare / "goals.faiss")
    log("gunicorn, 1 worker, without the mentor index file")
    without_file = first_search(info, str(bare), args.encoder, token)
    shutil.rmtree(bare, ignore_errors=True)

    load = measured["load"]
    raw_mb = load["n"] * load["dim"] * 4 / 2**20
    print(f"\n## Start-up and index memory at {load['n']:,} mentors ({kind}, {load['kind']} index, "
          f"{load['dim']}-dim vectors)\n")
    print(table(
        ["step", "seconds", "memory growth MiB"],
        [["gunicorn spawn -> first search answered, saved index file", with_file, "-"],
         ["gunicorn spawn -> first search answered, no file (rebuild from DB)", without_file, "-"],
         ["  load the encoder + first encode (child process)", measured["encoder"]["seconds"],
          measured["encoder"]["rss_mb"]],
         ["  VectorIndex.load(saved file) (child process)", load["seconds"], load["rss_mb"]],
         ["  LiveIndex.current(): file + version check (child process)", measured["open"]["seconds"],
          measured["open"]["rss_mb"]],
         ["  LiveIndex.rebuild() from the database (child process)", measured["rebuild"]["seconds"],
          measured["rebuild"]["rss_mb"]]],
    ))
    ratio = load["rss_mb"] / raw_mb
    report_targets([
        {"target": f"index memory at {load['n']:,} (fresh process)", "measured": f"{load['rss_mb']:.0f} MiB",
         "baseline": f"{raw_mb:.0f} MiB raw vectors = {ratio:.2f}x", "goal": "<= 1.2x", "met": ratio <= 1.2},
        {"target": f"gunicorn spawn -> first search at {load['n']:,}, saved file", "measured": f"{with_file:.1f} s",
         "baseline": f"{without_file:.1f} s rebuilding from the database", "goal": "< 10 s", "met": with_file < 10},
    ])
    print(f"\nIndex memory: {load['rss_mb']:.0f} MiB resident for {raw_mb:.0f} MiB of raw vectors = {ratio:.2f}x "
          f"(target 1.2x: {'met' if ratio <= 1.2 else 'NOT met'}). Start-up with the file reads no vector from "
          "the database; each gunicorn worker pays it once, in post_worker_init, before it accepts requests.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
