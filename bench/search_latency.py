"""Search and suggestions at 100,000 mentors through a real server, against the raw work in the same run.

Set-up (reused on reruns): a PostgreSQL database `tandem_bench_100k` (SQLite if PostgreSQL is not
reachable) with 100,000 open mentor profiles. Their vectors are SYNTHESISED straight into the database:
20,000 are real model vectors of generated profiles (bench/cache), 80,000 are blends of two of those
plus noise; `vector_config` and `content_hash` match the app's own, so nothing is re-embedded.
200 goals are embedded by the app. The mentor index is built and saved by the app (`LiveIndex.rebuild`).

Then gunicorn (-c gunicorn.conf.py, several workers) on 127.0.0.1:<free port>, a token from
`flask tokens create`, and one client on loopback, one request at a time. Each request is paired with
the raw work done in this process on the same saved index, alternating: search = one encode of the text
the app embeds (the query plus the names of the topics it mentions) + one FAISS search; suggestions =
one FAISS search (k = 50, the app's over-fetch). A trivial authenticated endpoint
(`GET /api/v1/goals/<id>`) is measured too: the HTTP + auth + database floor. Throughput with 4
concurrent clients is measured separately. Bounded in requests and seconds. The raw side runs with the
torch/FAISS threads one gunicorn worker gets (gunicorn.conf.py).

    .venv/bin/python bench/search_latency.py [--mentors 100000] [--requests 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402

from bench._common import (  # noqa: E402
    MANAGER_EMAIL,
    OUT,
    VIEWER_EMAIL,
    build_mentor_database,
    choose_database,
    cli,
    database_url,
    default_encoder,
    gunicorn,
    log,
    make_app,
    ms,
    percentile,
    table,
    wait_until_ready,
)
from bench.generate import Generator  # noqa: E402


def prepare(args) -> dict:
    kind = choose_database(args.database)
    url = database_url(kind, f"tandem_bench_{args.mentors // 1000}k")
    index_dir = OUT / f"index-{args.mentors // 1000}k-{kind}"
    info = build_mentor_database(url, index_dir, args.encoder, args.mentors, reuse=not args.rebuild)
    info["kind_db"] = kind
    from marketplace.extensions import db
    from marketplace.models import Goal

    app = make_app(url, index_dir, args.encoder)
    with app.app_context():
        info["viewer_token"] = cli(app, "tokens", "create", VIEWER_EMAIL).strip()
        info["manager_token"] = cli(app, "tokens", "create", MANAGER_EMAIL).strip()
        info["goal_vectors"] = {
            goal_id: np.frombuffer(blob, dtype=np.float32)
            for goal_id, blob in db.session.execute(db.select(Goal.id, Goal.vector).order_by(Goal.id))
        }
        db.session.remove()
        db.engine.dispose()
    return info


def queries(count: int, seed: int) -> list[str]:
    """Short free-text topic queries in English and German (goal titles not stored in the database)."""
    gen = Generator(seed + 1)
    return [g["title"] for g in gen.goal_entries(count, offset=10_000)]


def embedded_queries(info: dict, spec: str, texts: list[str]) -> dict[str, str]:
    """Each query as the app hands it to the model (matching.expand_query: the query plus the names of the
    taxonomy topics it mentions), so the raw side encodes exactly the text the app encodes."""
    from marketplace.extensions import db
    from marketplace.services import matching, taxonomy

    app = make_app(info["url"], info["index_dir"], spec)
    with app.app_context():
        detect = taxonomy.TopicDetector()
        expanded = {t: matching.expand_query(t, {m.topic_id for m in detect(t)}) for t in texts}
        db.session.remove()
        db.engine.dispose()
    return expanded


def summarise(label: str, app_ms: list[float], raw_ms: list[float] | None, target: float | None) -> list:
    row = [label, len(app_ms), percentile(app_ms, 50), percentile(app_ms, 95)]
    if raw_ms is None:
        return row + ["-", "-", "-", "-"]
    ratio = percentile(app_ms, 95) / percentile(raw_ms, 95)
    verdict = "-" if target is None else ("met" if ratio <= target else "NOT met")
    return row + [percentile(raw_ms, 50), percentile(raw_ms, 95), f"{ratio:.2f}x", verdict]


def throughput(base: str, paths: list[str], headers: dict, clients: int, seconds: float, max_requests: int) -> dict:
    """Requests/s with `clients` threads, each one request at a time, bounded by time and count."""
    done: list[int] = [0] * clients
    errors: list[int] = [0] * clients
    stop_at = time.perf_counter() + seconds
    budget = threading.Semaphore(max_requests)

    def client(n: int) -> None:
        session = requests.Session()
        i = n
        while time.perf_counter() < stop_at and budget.acquire(blocking=False):
            response = session.get(base + paths[i % len(paths)], headers=headers, timeout=60)
            if response.status_code == 200:
                done[n] += 1
            else:
                errors[n] += 1
            i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"requests": sum(done), "errors": sum(errors), "seconds": elapsed, "rps": sum(done) / elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint, sequential")
    parser.add_argument("--seconds", type=float, default=90.0, help="time cap per endpoint, sequential")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--throughput-seconds", type=float, default=20.0)
    parser.add_argument("--database", choices=["auto", "postgresql", "sqlite"], default="auto")
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database even if it matches")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    info = prepare(args)
    from embeddings import VectorIndex, build_encoder, set_compute_threads

    encoder = build_encoder(args.encoder)
    encoder.encode(["warm up"])
    # The same threads as one gunicorn worker gets (gunicorn.conf.py): the same work, the same resources.
    set_compute_threads((os.cpu_count() or 1) // max(1, args.workers))
    raw_index = VectorIndex.load(Path(info["index_dir"]) / "mentors.faiss", expected_config=encoder.config)
    log(f"raw side: {raw_index!r} nprobe={raw_index.nprobe}")
    fetch = 50  # matching._candidates over-fetches max(k * 5, 50) for k=10

    texts = queries(100, args.seed)
    embedded = embedded_queries(info, args.encoder, texts)
    goal_ids = list(info["goal_vectors"])
    viewer = {"Authorization": f"Bearer {info['viewer_token']}"}
    manager = {"Authorization": f"Bearer {info['manager_token']}"}
    results: dict[str, dict[str, list[float]]] = {}

    with gunicorn(info["url"], info["index_dir"], args.encoder, workers=args.workers, threads=args.threads) as srv:
        session = requests.Session()
        base = srv["base"]
        ready = wait_until_ready(session, f"{base}/api/v1/mentors/search?q=warm+up", viewer, srv["proc"],
                                 time.perf_counter() + 300)
        log(f"server ready after {ready - srv['started']:.1f}s ({args.workers} workers) at {base}")
        # Every worker answers a few of each before timing (gunicorn spreads connections over workers).
        for i in range(4 * args.workers):
            requests.get(f"{base}/api/v1/mentors/search", params={"q": texts[i]}, headers=viewer, timeout=60)
            requests.get(f"{base}/api/v1/goals/{goal_ids[i]}/suggestions", headers=manager, timeout=60)

        def timed_get(path: str, headers: dict, params: dict | None = None) -> float:
            started = time.perf_counter()
            response = session.get(base + path, params=params, headers=headers, timeout=60)
            elapsed = ms(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
            return elapsed

        def raw_search(q: str) -> float:
            started = time.perf_counter()
            raw_index.search(encoder.encode([embedded[q]]), fetch)
            return ms(time.perf_counter() - started)

        def raw_suggest(goal_id: int) -> float:
            started = time.perf_counter()
            raw_index.search(info["goal_vectors"][goal_id].reshape(1, -1), fetch)
            return ms(time.perf_counter() - started)

        plans = {
            "search": (lambda i: timed_get("/api/v1/mentors/search", viewer, {"q": texts[i % len(texts)], "k": 10}),
                       lambda i: raw_search(texts[i % len(texts)])),
            "suggestions": (lambda i: timed_get(f"/api/v1/goals/{goal_ids[i % len(goal_ids)]}/suggestions",
                                                manager, {"k": 5}),
                            lambda i: raw_suggest(goal_ids[i % len(goal_ids)])),
            "floor": (lambda i: timed_get(f"/api/v1/goals/{goal_ids[i % len(goal_ids)]}", manager), None),
        }
        # The same goals again: what a mentee sees when reopening suggestions (per-worker caches warm).
        plans["suggestions again"] = plans["suggestions"]
        plans = {name: plans[name] for name in ("search", "suggestions", "suggestions again", "floor")}
        for name, (app_side, raw_side) in plans.items():
            app_ms: list[float] = []
            raw_ms: list[float] = []
            stop_at = time.perf_counter() + args.seconds
            for i in range(args.requests):
                if time.perf_counter() > stop_at:
                    break
                if raw_side is not None and i % 2:
                    raw_ms.append(raw_side(i))
                app_ms.append(app_side(i))
                if raw_side is not None and not i % 2:
                    raw_ms.append(raw_side(i))
            results[name] = {"app": app_ms, "raw": raw_ms}
            log(f"{name}: {len(app_ms)} requests, p95 {percentile(app_ms, 95):.1f} ms")

        search_paths = [f"/api/v1/mentors/search?q={requests.utils.quote(t)}&k=10" for t in texts]
        suggestion_paths = [f"/api/v1/goals/{g}/suggestions?k=5" for g in goal_ids]
        tp_search = throughput(base, search_paths, viewer, args.clients, args.throughput_seconds, 2000)
        tp_suggest = throughput(base, suggestion_paths, manager, args.clients, args.throughput_seconds, 4000)
        tp_search_1 = throughput(base, search_paths, viewer, 1, args.throughput_seconds / 2, 1000)

    print(f"\n## Search and suggestions at {args.mentors:,} mentors ({info['kind_db']}, {encoder.config}, "
          f"gunicorn {args.workers} workers x {args.threads} threads)\n")
    print(f"Vectors: {info.get('n_real', 0):,} real model vectors + {args.mentors - info.get('n_real', 0):,} "
          "synthesised directly into the database (blends of real ones plus noise). "
          f"Index: {raw_index.kind}, nlist {raw_index.nlist}, nprobe {raw_index.nprobe}. "
          "One client, one request at a time, loopback; raw = the same work in the benchmark process, "
          "alternating with the requests.\n")
    print(table(
        ["request", "n", "app p50 ms", "app p95 ms", "raw p50 ms", "raw p95 ms", "p95 app/raw", "target 1.5x"],
        [summarise("GET /api/v1/mentors/search (raw: encode the same text + FAISS)", results["search"]["app"],
                   results["search"]["raw"], 1.5),
         summarise("GET /api/v1/goals/<id>/suggestions, first view (raw: FAISS)", results["suggestions"]["app"],
                   results["suggestions"]["raw"], 1.5),
         summarise("GET /api/v1/goals/<id>/suggestions, same goals again (raw: FAISS)",
                   results["suggestions again"]["app"], results["suggestions again"]["raw"], 1.5),
         summarise("GET /api/v1/goals/<id> (floor: HTTP + token + 1 row)", results["floor"]["app"], None, None)],
    ))
    floor95 = percentile(results["floor"]["app"], 95)
    print(f"\nApp p95 minus the floor's p95: search {percentile(results['search']['app'], 95) - floor95:.1f} ms, "
          f"suggestions {percentile(results['suggestions']['app'], 95) - floor95:.1f} ms.\n")
    print(table(
        ["throughput", "clients", "requests", "errors", "seconds", "requests/s"],
        [["search", 1, tp_search_1["requests"], tp_search_1["errors"], tp_search_1["seconds"], tp_search_1["rps"]],
         ["search", args.clients, tp_search["requests"], tp_search["errors"], tp_search["seconds"], tp_search["rps"]],
         ["suggestions", args.clients, tp_suggest["requests"], tp_suggest["errors"], tp_suggest["seconds"],
          tp_suggest["rps"]]],
    ))
    print("\nOn 2 cores, concurrent clients measure capacity (queueing), not latency.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
