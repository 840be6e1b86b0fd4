"""Search and suggestions through a real server, against what a user would build instead, in one run.

For each size (default 3,000 and 100,000 mentors) and each encoder spec asked for:

* **Set-up** (reused on reruns): a PostgreSQL database (SQLite if PostgreSQL is not reachable) with that many
  open mentor profiles, their vectors SYNTHESISED straight into the database (bench/_common.py: up to
  `--real-vectors` (20,000) real model vectors of generated profiles, the rest blends of two of those plus noise;
  `vector_config` and `content_hash` are the app's own, so nothing is re-embedded); 200 goals embedded by
  the app; the mentor index built and saved by the app.
* **App**: `gunicorn -c gunicorn.conf.py` with 1 worker x 4 threads (production), one client on loopback,
  one request at a time: `GET /api/v1/mentors/search?q=...&k=10`, `GET /api/v1/goals/<id>/suggestions?k=5`
  and the same server's cheapest authenticated one-row read `GET /api/v1/goals/<id>`.
* **Raw baseline** (what a user would build instead; never the app's path slowed to match): in this
  process, ONE plain `SentenceTransformer(<bundled all-MiniLM-L6-v2>).encode(raw query)` with the library's
  default threads, plus ONE exact `faiss.IndexFlatIP` search (k=10) over as many 384-dim unit vectors as
  the app has mentors (random unit vectors: an exact search costs the same whatever the values). The same
  is timed with one torch thread beside it, and the faster p95 of the two is the baseline ("raw threads").
  Each app request alternates with one raw search (which goes first alternates too), so both see the same
  machine load; the ratio of the p95s is the figure to read. Every timed call starts once this process has
  stopped using the CPU (`_common.settle`, untimed): torch's OpenMP threads busy-wait on a core for about
  10 ms after a two-thread encode, which the app's next request would otherwise pay for.

Targets (issue 17): search p95 within 1.5x of the raw baseline; suggestions p95 within 2x of the
one-row read. `--profile` then times `matching.search_mentors` in-process (a worker's threads) and
splits it into encode, FAISS, SQL and the rest (ranking, explanation, Python). `--encode-only` times just
each encoder's query encode beside the raw one, round-robin (what the encoder choice changes).

    .venv/bin/python bench/search_latency.py [--mentors 3000 100000] [--encoder SPEC ...] [--requests 200]
        [--db-prefix tandem_bench] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402

from bench._common import (  # noqa: E402
    MANAGER_EMAIL,
    REAL_VECTORS,
    VIEWER_EMAIL,
    cli,
    default_encoder,
    gunicorn,
    log,
    make_app,
    ms,
    percentile,
    print_targets,
    report_targets,
    served_mentor_database,
    settle,
    table,
    wait_until_ready,
)
from bench.generate import Generator  # noqa: E402

SEARCH_TARGET = 1.5
SUGGESTIONS_TARGET = 2.0
VIEWER_PASSWORD = "bench viewer walks the pages 7"


def database_name(prefix: str, n: int, spec: str) -> str:
    """`<prefix>_<n>k`, plus a short digest of the encoder when it is not the app default (one database per
    encoder: its vectors belong to it)."""
    name = f"{prefix}_{n // 1000}k"
    if spec != default_encoder():
        name += "_" + hashlib.sha256(spec.encode()).hexdigest()[:8]
    return name


def prepare(args, n: int, spec: str) -> dict:
    name = database_name(args.db_prefix, n, spec)
    info = served_mentor_database(args.database, name, name, spec, n, reuse=not args.rebuild,
                                  real_count=min(n, args.real_vectors))
    from marketplace.extensions import db
    from marketplace.models import Goal, User
    from marketplace.services import accounts

    app = make_app(info["url"], info["index_dir"], spec)
    with app.app_context():
        viewer = db.session.scalars(db.select(User).where(User.email == VIEWER_EMAIL)).one()
        if viewer.password_hash is None:  # the throughput run's pages need a signed-in browser session
            accounts.set_password(viewer, VIEWER_PASSWORD)
            db.session.commit()
        info["manager_token"] = cli(app, "tokens", "create", MANAGER_EMAIL).strip()
        info["goal_ids"] = list(db.session.scalars(db.select(Goal.id).order_by(Goal.id)))
        db.session.remove()
        db.engine.dispose()
    return info


def queries(count: int, seed: int) -> list[str]:
    """Short free-text topic queries in English and German (goal titles not stored in the database)."""
    gen = Generator(seed + 1)
    return [g["title"] for g in gen.goal_entries(count, offset=10_000)]


def embedded_queries(info: dict, spec: str, texts: list[str]) -> dict[str, str]:
    """Each query as the app hands it to the model (matching.expand_query: the query plus the names of the
    taxonomy topics it mentions)."""
    from marketplace.extensions import db
    from marketplace.services.matching import search as matching
    from marketplace.services.matching import taxonomy

    app = make_app(info["url"], info["index_dir"], spec)
    with app.app_context():
        detect = taxonomy.TopicDetector()
        expanded = {t: matching.expand_query(t, {m.topic_id for m in detect(t)}) for t in texts}
        db.session.remove()
        db.engine.dispose()
    return expanded


class RawBaseline:
    """What a user would build instead: plain sentence-transformers + one exact FAISS search, one process."""

    def __init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        from embeddings.encoders import bundled_minilm_path

        self.default_threads = torch.get_num_threads()
        self.model = SentenceTransformer(str(bundled_minilm_path()), device="cpu")
        self.model.encode(["warm up"])
        self.indexes: dict[int, object] = {}

    def index(self, n: int):
        import faiss

        if n not in self.indexes:
            rng = np.random.default_rng(n)
            vectors = rng.standard_normal((n, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            flat = faiss.IndexFlatIP(384)
            flat.add(vectors)
            self.indexes[n] = flat
        return self.indexes[n]

    def search(self, n: int, text: str, threads: int | None = None) -> float:
        """One encode + one exact search, in ms; `threads` None = torch's default (all cores)."""
        import torch

        index = self.index(n)
        torch.set_num_threads(threads or self.default_threads)
        started = time.perf_counter()
        vector = self.model.encode([text], normalize_embeddings=True)
        index.search(np.asarray(vector, dtype=np.float32), 10)
        return ms(time.perf_counter() - started)


def measure(args, n: int, spec: str, raw: RawBaseline, texts: list[str]) -> dict:
    """App search / suggestions / one-row read through gunicorn, each search paired with a raw search."""
    info = prepare(args, n, spec)
    raw.index(n)
    goal_ids = info["goal_ids"]
    viewer = {"Authorization": f"Bearer {info['viewer_token']}"}
    manager = {"Authorization": f"Bearer {info['manager_token']}"}
    results: dict[str, dict[str, list[float]]] = {}
    with gunicorn(info["url"], info["index_dir"], spec, workers=args.workers, threads=args.threads) as srv:
        session = requests.Session()
        base = srv["base"]
        ready = wait_until_ready(session, f"{base}/api/v1/mentors/search?q=warm+up", viewer, srv["proc"],
                                 time.perf_counter() + 600)
        log(f"{n:,} mentors, {spec}: server ready after {ready - srv['started']:.1f}s at {base}")
        for i in range(8):  # warm: first requests pay lazy imports and connection set-up
            session.get(f"{base}/api/v1/mentors/search", params={"q": texts[i]}, headers=viewer, timeout=60)
            session.get(f"{base}/api/v1/goals/{goal_ids[i]}/suggestions", headers=manager, timeout=60)
            session.get(f"{base}/api/v1/goals/{goal_ids[i]}", headers=manager, timeout=60)

        def timed_get(path: str, headers: dict, params: dict | None = None) -> float:
            started = time.perf_counter()
            response = session.get(base + path, params=params, headers=headers, timeout=60)
            elapsed = ms(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
            return elapsed

        single_ms: list[float] = []

        def raw_search(i: int) -> float:
            # Torch's default threads, as a user would run it, and one thread beside it: on a busy 2-core box
            # two threads spin on each other and are several times slower. The faster of the two is the
            # baseline, so a loaded machine never flatters the app.
            single_ms.append(raw.search(n, texts[i % len(texts)], threads=1))
            settle()
            return raw.search(n, texts[i % len(texts)])

        plans = {
            "search": (lambda i: timed_get("/api/v1/mentors/search", viewer, {"q": texts[i % len(texts)], "k": 10}),
                       raw_search),
            "suggestions": (lambda i: timed_get(f"/api/v1/goals/{goal_ids[i % len(goal_ids)]}/suggestions",
                                                manager, {"k": 5}),
                            lambda i: timed_get(f"/api/v1/goals/{goal_ids[i % len(goal_ids)]}", manager)),
        }
        for name, (app_side, base_side) in plans.items():
            results[name] = []
            for round_number in range(args.repeat):
                single_ms.clear()
                app_ms: list[float] = []
                base_ms: list[float] = []
                stop_at = time.perf_counter() + args.seconds
                for i in range(args.requests):
                    if time.perf_counter() > stop_at:
                        break
                    if i % 2:
                        settle()
                        base_ms.append(base_side(i))
                    settle()
                    app_ms.append(app_side(i))
                    if not i % 2:
                        settle()
                        base_ms.append(base_side(i))
                measured = {"app": app_ms, "base": base_ms, "raw_threads": "default"}
                if name == "search" and percentile(single_ms, 95) < percentile(base_ms, 95):
                    measured.update(base=list(single_ms), raw_threads="1")
                results[name].append(measured)
                log(f"  {name} round {round_number + 1}/{args.repeat}: {len(app_ms)} requests, app p95 "
                    f"{percentile(app_ms, 95):.1f} ms, baseline p95 {percentile(measured['base'], 95):.1f} ms")
    info["results"] = results
    if args.profile:
        info["profile"] = profile(info, spec, texts, args.workers, args.threads)
        for name, part in info["profile"].items():
            log(f"profile ms per {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in part.items()))
    return info


@contextlib.contextmanager
def timed_calls(owner, attribute: str, into: list[float]) -> Iterator[None]:
    """Adds the time of every call of owner.attribute to `into[0]` (an in-process profile, not a mock)."""
    original = getattr(owner, attribute)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[0] += time.perf_counter() - started

    setattr(owner, attribute, wrapper)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


def profile(info: dict, spec: str, texts: list[str], workers: int, threads: int, rounds: int = 60) -> dict:
    """Where a search's and a suggestion's time goes, in this process with a worker's threads: encode, FAISS, SQL,
    rest. A suggestion of a stored goal should encode nothing (issue 17 point 2): its encode column shows it."""
    import torch
    from sqlalchemy import event

    from embeddings import VectorIndex, build_encoder, set_compute_threads
    from marketplace.extensions import db
    from marketplace.models import Goal, User
    from marketplace.services.matching import search as matching

    default_threads = torch.get_num_threads()
    set_compute_threads((os.cpu_count() or 1) // max(1, workers * threads))
    app = make_app(info["url"], info["index_dir"], spec)
    encoder = build_encoder(spec)
    parts: dict[str, dict[str, float]] = {}
    starts: dict[int, float] = {}
    try:
        with app.app_context():
            viewer = db.session.scalars(db.select(User).where(User.email == VIEWER_EMAIL)).one()
            goal_ids = info["goal_ids"]
            calls = {
                "search": lambda i: matching.search_mentors(texts[i % len(texts)], viewer, k=10),
                "suggestions": lambda i: matching.suggestions_for_goal(
                    db.session.get(Goal, goal_ids[i % len(goal_ids)]), k=5),
            }
            for i in range(5):
                for call in calls.values():
                    call(i)

            def before(conn, cursor, statement, parameters, context, executemany):
                starts[id(cursor)] = time.perf_counter()

            def after(conn, cursor, statement, parameters, context, executemany):
                spent["sql"][0] += time.perf_counter() - starts.pop(id(cursor), time.perf_counter())

            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
            for name, call in calls.items():
                spent = {"encode": [0.0], "faiss": [0.0], "sql": [0.0]}
                total = 0.0
                with timed_calls(encoder, "encode", spent["encode"]), \
                        timed_calls(VectorIndex, "search_one_with_vectors", spent["faiss"]):
                    for i in range(rounds):
                        db.session.expire_all()  # each call reads its goal afresh, as a request does
                        started = time.perf_counter()
                        call(i)
                        total += time.perf_counter() - started
                part = {key: ms(value[0]) / rounds for key, value in spent.items()}
                part["total"] = ms(total) / rounds
                part["rest"] = part["total"] - part["encode"] - part["faiss"] - part["sql"]
                parts[name] = part
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)
            db.session.remove()
            db.engine.dispose()
    finally:
        set_compute_threads(default_threads)
    return parts


def encode_costs(specs: list[str], texts: list[str], raw: RawBaseline, rounds: int) -> list[list]:
    """Query encode alone, each candidate beside the raw sentence-transformers encode, round-robin per query
    (so every one sees the same machine load), at one thread and at the default threads."""
    import torch

    from bench.candidates import build_encoder
    from embeddings import set_compute_threads

    encoders = {spec: build_encoder(spec) for spec in specs}
    for encoder in encoders.values():
        encoder.encode(["warm up"])
    rows = []
    for threads in (1, raw.default_threads):
        set_compute_threads(threads)
        times: dict[str, list[float]] = {name: [] for name in ["raw sentence-transformers", *specs]}
        for i in range(rounds):
            text = texts[i % len(texts)]
            for name in times:
                settle()
                started = time.perf_counter()
                if name in encoders:
                    encoders[name].encode([text])
                else:
                    raw.model.encode([text], normalize_embeddings=True)
                times[name].append(ms(time.perf_counter() - started))
        base = percentile(times["raw sentence-transformers"], 95)
        rows += [[threads, name, percentile(t, 50), percentile(t, 95), f"{percentile(t, 95) / base:.2f}x"]
                 for name, t in times.items()]
    set_compute_threads(raw.default_threads)
    torch.set_num_threads(raw.default_threads)
    return rows


def ratio(measured: dict) -> float:
    return percentile(measured["app"], 95) / percentile(measured["base"], 95)


def median_round(rounds: list[dict]) -> tuple[dict, list[float]]:
    """The round with the median p95 ratio, and every round's ratio (the spread)."""
    ratios = [ratio(r) for r in rounds]
    order = sorted(range(len(rounds)), key=ratios.__getitem__)
    return rounds[order[len(order) // 2]], ratios


def spread(ratios: list[float]) -> str:
    return f"{min(ratios):.2f}–{max(ratios):.2f}x" if len(ratios) > 1 else "–"


def result_row(n: int, spec: str, info: dict) -> list:
    """One line of the results table (the median round): search against raw, suggestions against the read."""
    (search, search_ratios), (suggest, suggest_ratios) = (median_round(info["results"][name])
                                                          for name in ("search", "suggestions"))
    search_ratio, suggest_ratio = ratio(search), ratio(suggest)
    return [f"{n:,}", spec, len(search["app"]),
            percentile(search["app"], 50), percentile(search["app"], 95),
            percentile(search["base"], 50), percentile(search["base"], 95), search["raw_threads"],
            f"{search_ratio:.2f}x " + ("met" if search_ratio <= SEARCH_TARGET else "NOT met"), spread(search_ratios),
            percentile(suggest["app"], 50), percentile(suggest["app"], 95),
            percentile(suggest["base"], 50), percentile(suggest["base"], 95),
            f"{suggest_ratio:.2f}x " + ("met" if suggest_ratio <= SUGGESTIONS_TARGET else "NOT met"),
            spread(suggest_ratios)]


def targets(runs: list[tuple[int, str, dict]]) -> list[dict]:
    """Issue 17 points 1-2 as target / measured / met, one entry per size and encoder (median of rounds)."""
    found = []
    for n, spec, info in runs:
        for name, limit, against in (("search", SEARCH_TARGET, "raw MiniLM encode + exact FAISS"),
                                     ("suggestions", SUGGESTIONS_TARGET, "GET /api/v1/goals/<id>")):
            chosen, ratios = median_round(info["results"][name])
            value = ratio(chosen)
            found.append({
                "target": f"{name} p95 at {n:,} mentors ({spec}) <= {limit}x {against}",
                "measured": f"{percentile(chosen['app'], 95):.1f} ms = {value:.2f}x "
                            f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})",
                "baseline": f"{percentile(chosen['base'], 95):.1f} ms ({against})",
                "goal": f"<= {limit}x",
                "met": value <= limit,
            })
    return found


def run(argv: list[str] | None = None) -> list[dict]:
    """Measure as `main` does, print the tables, and answer the targets (for bench/run_all.py)."""
    return _measure_and_print(argv)


def print_latency(args, runs: list[tuple[int, str, dict]]) -> None:
    print(f"\n## Search and suggestions (gunicorn {args.workers} worker x {args.threads} threads, one client, "
          "one request at a time; raw = plain sentence-transformers all-MiniLM-L6-v2 encode of the query "
          "(default threads) + one exact FAISS IndexFlatIP search, k=10, over as many vectors)\n")
    rows = [result_row(n, spec, info) for n, spec, info in runs]
    print(table(["mentors", "encoder", "n", "search p50", "search p95", "raw p50", "raw p95", "raw threads",
                 f"search/raw p95 (≤ {SEARCH_TARGET}x)", "rounds", "suggest p50", "suggest p95", "1-row read p50",
                 "1-row read p95", f"suggest/read p95 (≤ {SUGGESTIONS_TARGET}x)", "rounds"], rows))
    print(f"\n(all times in ms; the median of {args.repeat} rounds, each side by side; 'rounds': the spread of "
          "the rounds' ratios)")
    if args.profile:
        print("\nIn-process `matching.search_mentors` (k=10) and `suggestions_for_goal` (k=5), one worker's threads, "
              "mean ms per call:\n")
        print(table(["mentors", "encoder", "call", "total", "encode", "FAISS and the hits' vectors", "SQL",
                     "rest (ranking, Python)"],
                    [[f"{n:,}", spec, name, p["total"], p["encode"], p["faiss"], p["sql"], p["rest"]]
                     for n, spec, info in runs for name, p in info["profile"].items()]))


def _measure_and_print(argv: list[str] | None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentors", type=int, nargs="*", default=[3_000, 100_000],
                        help="sizes of the latency run")
    parser.add_argument("--encoder", nargs="+", default=[default_encoder()], metavar="SPEC")
    parser.add_argument("--requests", type=int, default=200, help="per endpoint, sequential")
    parser.add_argument("--seconds", type=float, default=90.0, help="time cap per endpoint, sequential")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database", choices=["auto", "postgresql", "sqlite"], default="auto")
    parser.add_argument("--db-prefix", default="tandem_bench", help="database names: <prefix>_<n>k[_<encoder>]")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the databases even if they match")
    parser.add_argument("--profile", action="store_true", help="also split an in-process search into its parts")
    parser.add_argument("--real-vectors", type=int, default=REAL_VECTORS,
                        help="profiles embedded for real per database; the rest are synthesised from them")
    parser.add_argument("--encode-only", action="store_true",
                        help="only time each encoder's query encode beside the raw one (no server, no database)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per endpoint on the same server; the "
                        "median round's ratio is reported with the spread of all rounds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    texts = queries(100, args.seed)
    raw = RawBaseline()
    if args.encode_only:
        print(f"\n## Query encode alone ({args.requests} queries, round-robin, ms)\n")
        print(table(["threads", "encoder", "p50", "p95", "p95 / raw"],
                    encode_costs(args.encoder, texts, raw, args.requests)))
        return []
    runs = []
    for n in args.mentors:
        for spec in args.encoder:
            runs.append((n, spec, measure(args, n, spec, raw, texts)))
            log("row: " + " | ".join(str(cell) for cell in result_row(*runs[-1])))

    if runs:
        print_latency(args, runs)
    found = targets(runs)
    print_targets(found)
    report_targets(found)
    return found


def main(argv: list[str] | None = None) -> int:
    """The tables and target lines; exit 0 whether or not the targets are met (the lines say)."""
    _measure_and_print(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
