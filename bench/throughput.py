"""Throughput: requests per second of a mixed read workload at 1, 2 and 4 workers, app against raw, side by side.

The workload (issue 17 point 4): each client thread sends, in turn, search, search, search, search,
suggestions, suggestions, page, page — one request at a time, a fresh connection per request (as nginx
talks to gunicorn: a kept-alive connection would pin a client to one worker). 8 clients by default.

* **App**: `gunicorn -c gunicorn.conf.py --workers W --threads 4` on the database of bench/search_latency.py
  (100,000 mentors by default, reused): `GET /api/v1/mentors/search?q=..&k=10`,
  `GET /api/v1/goals/<id>/suggestions?k=5`, and the HTML mentor profile page `GET /mentors/<id>` of a
  signed-in viewer.
* **Raw baseline** (what a user would build instead): `bench/raw_server.py` under gunicorn with the same
  workers and threads — plain sentence-transformers MiniLM encode + one exact FAISS search for a search, one
  exact FAISS search from a stored vector for suggestions, one SELECT of a row for the page. It runs twice
  per worker count: with the libraries' default threads, and with `OMP_NUM_THREADS=1` (one thread per
  worker, what a user sets when several workers share few cores); the faster of the two is the baseline,
  so an oversubscribed raw side never flatters the app.

Per window: requests answered, req/s, p50 / p95 per kind, the CPU seconds the server's processes used
(master and workers, /proc/<pid>/stat) — CPU ms per request is the figure least moved by other load on the
box — and the machine's load average. Before a window, reads run until every worker has answered a few
(gunicorn's access log names the worker), so model and index loading stay outside the window. The order
app / raw default / raw one-thread rotates between worker counts.

Targets (this bench's reading of point 4, which gives no bound of its own): app req/s at least 1/1.5 of the
raw baseline's at each worker count (point 1's search bound as a rate: search is half the mix), and the app
at 2 and 4 workers not below 0.9x its own 1-worker figure (more workers must not lose throughput).

    .venv/bin/python bench/throughput.py [--mentors 100000] [--workers 1 2 4] [--seconds 30] [--clients 8]
        [--db-prefix tandem_bench] [--real-vectors 20000] [--json bench/out/throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench._common import (  # noqa: E402
    OUT,
    REAL_VECTORS,
    VIEWER_EMAIL,
    default_encoder,
    gunicorn,
    log,
    ms,
    percentile,
    print_targets,
    report_targets,
    table,
    wait_until_ready,
    worker_pids,
)
from bench.load_test import ACCESS_LOG, workers_seen  # noqa: E402
from bench.search_latency import VIEWER_PASSWORD, prepare, queries  # noqa: E402

MIX = ("search", "search", "search", "search", "suggestions", "suggestions", "page", "page")
RATIO_TARGET = 1 / 1.5  # app req/s against the raw baseline's
SCALING_TARGET = 0.9  # app req/s at 2 and 4 workers against its own at 1
SIDES = {
    "app": {},
    "raw": {},  # the libraries' default threads (torch and FAISS: one per core, in every worker)
    "raw-1t": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def database_backends(name: str) -> list[int]:
    """PostgreSQL backend processes connected to database `name` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {name} " in title:
                found.append(int(entry.name))
    return found


def database_cpu(name: str) -> dict[int, float]:
    """CPU seconds so far of each backend on database `name`."""
    return {pid: cpu_seconds([pid]) for pid in database_backends(name)}


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def login(base: str) -> requests.cookies.RequestsCookieJar:
    """The viewer's browser session cookies, through the real login form (CSRF token included)."""
    session = requests.Session()
    form = session.get(f"{base}/auth/login", timeout=120).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = session.post(f"{base}/auth/login", data={"csrf_token": csrf, "email": VIEWER_EMAIL,
                                                       "password": VIEWER_PASSWORD}, timeout=120)
    if "/auth/login" in answer.url:
        raise RuntimeError("the bench viewer could not sign in")
    return session.cookies


class Workload:
    """The mixed reads of one side against one server, from `clients` threads."""

    def __init__(self, base: str, side: str, info: dict, texts: list[str]) -> None:
        self.base, self.raw, self.texts = base, side != "app", texts
        self.goal_ids, self.n = info["goal_ids"], info["n"]
        close = {"Connection": "close"}
        self.viewer = {**close, "Authorization": f"Bearer {info['viewer_token']}"}
        self.manager = {**close, "Authorization": f"Bearer {info['manager_token']}"}
        self.close = close
        self.cookies = None if self.raw else login(base)

    def request(self, session: requests.Session, kind: str, i: int) -> int:
        mentor_id = 1 + (i * 7919) % self.n
        if self.raw:
            path, params = {"search": ("/search", {"q": self.texts[i % len(self.texts)]}),
                            "suggestions": ("/suggest", {"i": i}), "page": ("/page", {"id": mentor_id})}[kind]
            return session.get(self.base + path, params=params, headers=self.close, timeout=120).status_code
        if kind == "search":
            return session.get(f"{self.base}/api/v1/mentors/search", params={"q": self.texts[i % len(self.texts)],
                               "k": 10}, headers=self.viewer, timeout=120).status_code
        if kind == "suggestions":
            return session.get(f"{self.base}/api/v1/goals/{self.goal_ids[i % len(self.goal_ids)]}/suggestions",
                               params={"k": 5}, headers=self.manager, timeout=120).status_code
        return session.get(f"{self.base}/mentors/{mentor_id}", headers=self.close, timeout=120).status_code

    def window(self, seconds: float, clients: int) -> dict:
        """`clients` threads for `seconds`; answers counts and latencies per kind."""
        latencies: dict[str, list[float]] = defaultdict(list)
        failed = [0] * clients
        stop_at = time.perf_counter() + seconds

        def client(number: int) -> None:
            session = requests.Session()
            if self.cookies is not None:
                session.cookies.update(self.cookies)
            i = number
            while time.perf_counter() < stop_at:
                kind = MIX[i % len(MIX)]
                started = time.perf_counter()
                try:
                    ok = self.request(session, kind, i) == 200
                except requests.RequestException:  # a timeout counts as failed, the client goes on
                    ok = False
                if ok:
                    latencies[kind].append(ms(time.perf_counter() - started))
                else:
                    failed[number] += 1
                i += clients

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        answered = sum(len(v) for v in latencies.values())
        return {"requests": answered, "failed": sum(failed), "seconds": elapsed, "rps": answered / elapsed,
                "kinds": {k: {"n": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95)}
                          for k, v in sorted(latencies.items())}}


def warm_up(load: Workload, server: dict, workers: int, clients: int, deadline: float) -> float:
    """Reads until every worker has answered at least three (each loads its model and index after fork,
    and accepts only once that is done); answers the seconds since the spawn."""
    while time.perf_counter() < deadline:
        load.window(3.0, clients)
        pids = worker_pids(server["pid"])
        seen = workers_seen(server["log"])
        if len(pids) >= workers and all(seen[pid] >= 3 for pid in pids):
            return time.perf_counter() - server["started"]
    raise TimeoutError("not every gunicorn worker answered during the warm-up")


def measure_side(args, info: dict, spec: str, side: str, workers: int, texts: list[str]) -> dict:
    """One server (app or raw), warmed up, then one measured window."""
    extra = {"GUNICORN_CMD_ARGS": ACCESS_LOG, **SIDES[side]}
    if side == "app":
        server = gunicorn(info["url"], info["index_dir"], spec, workers=workers, threads=args.threads,
                          extra_env=extra)
        probe, headers = "/api/v1/mentors/search?q=warm+up", {"Authorization": f"Bearer {info['viewer_token']}"}
    else:
        extra.update(RAW_MENTORS=str(info["n"]), RAW_DATABASE_URL=info["url"])
        server = gunicorn(info["url"], info["index_dir"], spec, workers=workers, threads=args.threads,
                          app="bench.raw_server:app", config="bench/raw_gunicorn.conf.py", extra_env=extra)
        probe, headers = "/search?q=warm+up", {}
    with server as srv:
        wait_until_ready(requests.Session(), srv["base"] + probe, headers, srv["proc"], time.perf_counter() + 900)
        load = Workload(srv["base"], side, info, texts)
        warm_s = warm_up(load, srv, workers, args.clients, time.perf_counter() + 900)
        pids = [srv["pid"], *worker_pids(srv["pid"])]
        database = info["url"].rsplit("/", 1)[1]
        cpu_before, db_before, (busy_before, total_before) = cpu_seconds(pids), database_cpu(database), machine_busy()
        load_before = os.getloadavg()[0]
        result = load.window(args.seconds, args.clients)
        cpu = cpu_seconds(pids) - cpu_before
        # A backend opened during the window counts from zero; one closed during it is lost (pools keep theirs).
        db_cpu = sum(after - db_before.get(pid, 0.0) for pid, after in database_cpu(database).items())
        busy_after, total_after = machine_busy()
        respawned = set(worker_pids(srv["pid"])) != set(pids[1:])
    result.update(side=side, workers=workers, warm_s=warm_s, server_cpu_s=cpu, database_cpu_s=db_cpu,
                  cpu_ms_per_request=ms(cpu) / max(1, result["requests"]),
                  database_cpu_ms_per_request=ms(db_cpu) / max(1, result["requests"]),
                  machine_busy=(busy_after - busy_before) / max(1, total_after - total_before),
                  load=(load_before, os.getloadavg()[0]), respawned=respawned)
    log(f"  {workers} worker(s), {side}: {result['rps']:.1f} req/s ({result['requests']} answered, "
        f"{result['failed']} failed), server CPU {cpu:.1f} s = {result['cpu_ms_per_request']:.0f} ms/request, "
        f"PostgreSQL {result['database_cpu_ms_per_request']:.1f} ms/request, "
        f"machine busy {100 * result['machine_busy']:.0f} %, load {load_before:.1f} -> {os.getloadavg()[0]:.1f}, "
        f"warm after {warm_s:.0f} s")
    return result


def measure(args) -> dict:
    spec = args.encoder
    info = prepare(args, args.mentors, spec)
    info["n"] = args.mentors
    texts = queries(100, args.seed)
    runs: dict[int, dict[str, dict]] = {}
    order = list(SIDES)
    for position, workers in enumerate(args.workers):
        runs[workers] = {}
        rotated = order[position % len(order):] + order[:position % len(order)]
        for side in rotated:
            runs[workers][side] = measure_side(args, info, spec, side, workers, texts)
    return {"mentors": args.mentors, "encoder": spec, "clients": args.clients, "threads": args.threads,
            "seconds": args.seconds, "mix": list(MIX), "runs": {str(w): r for w, r in runs.items()}}


def best_raw(sides: dict) -> tuple[str, dict]:
    name = max(("raw", "raw-1t"), key=lambda s: sides[s]["rps"])
    return name, sides[name]


def targets(m: dict) -> list[dict]:
    found = []
    runs = m["runs"]
    for workers, sides in runs.items():
        raw_name, raw = best_raw(sides)
        value = sides["app"]["rps"] / raw["rps"] if raw["rps"] else float("inf")
        found.append({"target": f"mixed reads at {workers} worker(s) x {m['threads']}, {m['mentors']:,} mentors: "
                                f"app req/s >= 1/1.5 of raw",
                      "measured": f"{sides['app']['rps']:.1f} req/s = {value:.2f}x raw",
                      "baseline": f"{raw['rps']:.1f} req/s ({raw_name})", "goal": ">= 0.67x",
                      "met": value >= RATIO_TARGET})
    one = runs.get("1", {}).get("app")
    for workers, sides in runs.items():
        if workers == "1" or one is None or not one["rps"]:
            continue
        value = sides["app"]["rps"] / one["rps"]
        found.append({"target": f"app req/s at {workers} workers against 1 worker (more workers lose nothing)",
                      "measured": f"{sides['app']['rps']:.1f} req/s = {value:.2f}x",
                      "baseline": f"{one['rps']:.1f} req/s at 1 worker", "goal": f">= {SCALING_TARGET}x",
                      "met": value >= SCALING_TARGET})
    return found


def report(m: dict) -> list[dict]:
    print(f"\n## Throughput: mixed reads ({', '.join(m['mix'])} in turn), {m['mentors']:,} mentors, "
          f"{m['clients']} clients, one request at a time each, {m['seconds']:.0f} s per window\n")
    rows = []
    for workers, sides in m["runs"].items():
        raw_name, raw = best_raw(sides)
        app = sides["app"]
        rows.append([f"{workers} x {m['threads']}", app["requests"], app["rps"], sides["raw"]["rps"],
                     sides["raw-1t"]["rps"], f"{app['rps'] / raw['rps']:.2f}x" if raw["rps"] else "-",
                     f"{app['cpu_ms_per_request']:.1f} + {app['database_cpu_ms_per_request']:.1f}",
                     f"{raw['cpu_ms_per_request']:.1f} + {raw['database_cpu_ms_per_request']:.1f}",
                     sum(s["failed"] for s in sides.values()),
                     " / ".join(f"{s['load'][0]:.1f}" for s in sides.values())])
    print(table(["workers x threads", "app requests", "app req/s", "raw req/s (default threads)",
                 "raw req/s (1 thread)", "app / best raw", "app CPU ms/request (server + PostgreSQL)",
                 "best raw CPU ms/request", "failed", "load avg (app / raw / raw 1t)"], rows))
    print("\nPer kind, p50 / p95 ms (app | raw default | raw 1 thread):\n")
    kind_rows = []
    for workers, sides in m["runs"].items():
        for kind in ("search", "suggestions", "page"):
            kind_rows.append([f"{workers} x {m['threads']}", kind] + [
                f"{s['kinds'][kind]['p50']:.0f} / {s['kinds'][kind]['p95']:.0f}" if kind in s["kinds"] else "-"
                for s in sides.values()])
    print(table(["workers", "kind", "app", "raw", "raw 1t"], kind_rows))
    found = targets(m)
    print_targets(found)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (production: 4)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured window")
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--database", choices=["auto", "postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--db-prefix", default="tandem_bench", help="database <prefix>_<n>k, as search_latency.py")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--real-vectors", type=int, default=REAL_VECTORS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=OUT / "throughput.json")
    args = parser.parse_args(argv)
    args.real_vectors = min(args.real_vectors, args.mentors)
    m = measure(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(m, indent=2))
    report_targets(report(m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
