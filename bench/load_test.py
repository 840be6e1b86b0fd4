"""Load test: mixed API reads and writes through gunicorn on PostgreSQL; no 5xx, no lost write.

Set-up: its own PostgreSQL database (default `tandem_load`, dropped and created again, so its name must
contain "load"), filled through the real participants import (generated mentors and mentees, embedded by
the app), a community manager, one API token per person, both indexes built and saved. Then gunicorn
(-c gunicorn.conf.py, 4 workers) on 127.0.0.1:<free port>, and a warm-up of reads until every worker
has answered (the access log names the worker), so model loading stays out of the measured window.

The window: N client threads on loopback, each one request at a time, for --duration seconds and at
most --max-requests requests. Mostly reads (mentor search with free text, goal suggestions, own goals,
mentor profiles, tandems), and every write the API offers: mentees request tandems with suggested
mentors and withdraw requests, mentors accept and decline, partners end tandems, the manager creates
cohorts. Every acknowledged (2xx) write is kept with the text it sent.

Afterwards, with the server stopped, every acknowledged write is looked up in PostgreSQL with plain SQL
(a request's row and message, an acceptance's status and reply, ...): one not found is a lost write.
The two rules the app enforces under row locks (one running tandem per goal, no mentor over capacity)
are checked too. Exits 1 on any 5xx, transport error, lost write or broken rule.

    .venv/bin/python bench/load_test.py [--duration 60] [--clients 8] [--people 600] [--json bench/out/load.json]

The database server is reached for DROP/CREATE through BENCH_PG_ADMIN_URL (default: the local postgres db).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import requests  # noqa: E402

from bench._common import (  # noqa: E402
    MANAGER_EMAIL,
    PG_ADMIN_URL,
    database_url,
    default_encoder,
    gunicorn,
    init_schema,
    log,
    make_app,
    ms,
    percentile,
    recreate_database,
    table,
    wait_until_ready,
    worker_pids,
)
from bench.generate import Generator, to_csv  # noqa: E402
from bench.search_latency import queries  # noqa: E402

# gunicorn writes its access log (with the answering worker's pid) into the helper's log file.
ACCESS_LOG = "--access-logfile - --access-logformat '%(p)s %(s)s %(m)s %(U)s'"
ACCESS_LINE = re.compile(r"^<(\d+)> (\d{3}) ")
# One connection per request, as nginx talks to gunicorn by default: a kept-alive connection stays with the
# worker that accepted it, and a few clients would then load one worker and leave the others idle.
FRESH_CONNECTION = {"Connection": "close"}


# --- the data set -------------------------------------------------------------------------------


@dataclass
class Person:
    """A participant as the clients see them: their API token and what they own."""

    user_id: int
    token: str
    goal_ids: list[int] = field(default_factory=list)  # a mentee's goals
    profile_id: int | None = None  # a mentor's profile


@dataclass
class Dataset:
    mentees: list[Person]
    mentors: list[Person]
    manager: Person


def prepare(url: str, index_dir: Path, spec: str, people: int, seed: int) -> Dataset:
    """Schema, generated participants through the real import (embedded by the app), tokens, saved indexes."""
    from sqlalchemy import select

    from marketplace.extensions import db
    from marketplace.models import Goal, MentorProfile, User
    from marketplace.services import accounts
    from marketplace.services.cohorts import imports
    from marketplace.services.matching import vectors

    recreate_database(url)
    app = make_app(url, index_dir, spec)
    started = time.perf_counter()
    with app.app_context():
        init_schema(app)
        rows = Generator(seed).people_rows(people)
        result = imports.import_participants(to_csv(rows), invite=False)
        if not result.ok:
            raise RuntimeError(f"import failed: {result.errors[:5]}")
        manager = accounts.create_user(MANAGER_EMAIL, "Maren Manager", None, is_manager=True)
        tokens = {user.id: accounts.create_api_token(user, "load test") for user in db.session.scalars(select(User))}
        goals: dict[int, list[int]] = defaultdict(list)
        for goal_id, owner_id in db.session.execute(select(Goal.id, Goal.owner_id).order_by(Goal.id)):
            goals[owner_id].append(goal_id)
        profiles = dict(db.session.execute(select(MentorProfile.user_id, MentorProfile.id)).all())
        db.session.commit()
        for kind in (vectors.MENTOR, vectors.GOAL):
            vectors.live_index(kind).rebuild()  # saved: workers open the file instead of rebuilding
        dataset = Dataset(
            mentees=[Person(uid, tokens[uid], goal_ids=ids) for uid, ids in goals.items()],
            mentors=[Person(uid, tokens[uid], profile_id=pid) for uid, pid in profiles.items()],
            manager=Person(manager.id, tokens[manager.id]),
        )
        vectors.forget_live_indexes()
        db.session.remove()
        db.engine.dispose()
    log(f"data set: {len(rows)} import rows, {len(dataset.mentors)} mentors, {len(dataset.mentees)} mentees with "
        f"{sum(len(p.goal_ids) for p in dataset.mentees)} goals, in {time.perf_counter() - started:.0f}s")
    return dataset


def drop_database(url: str) -> None:
    """Drop the load test's database, closing any connection a killed worker left behind."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Sample:
    endpoint: str
    status: int  # 0: no HTTP answer (connection error or timeout)
    seconds: float
    code: str = ""  # the API's error code of a 4xx


@dataclass
class TandemRecord:
    """One tandem as the clients were told about it: what they sent and every acknowledged change."""

    id: int
    goal_id: int
    mentor: Person
    mentee: Person
    request_message: str
    answers: list[tuple[str, str]] = field(default_factory=list)  # (action, text sent), in order


class Workload:
    """The clients' shared picture: tandems they requested and may answer, suggestions seen, the ledger."""

    READS = {"search": 18, "suggestions": 14, "goal": 8, "goals": 6, "mentor": 10, "tandems": 6, "tandem": 4,
             "cohorts": 1}
    WRITES = {"request": 14, "accept": 6, "decline": 3, "withdraw": 3, "end": 3, "cohort": 1}

    def __init__(self, base: str, data: Dataset, texts: list[str], timeout: float, writes: bool) -> None:
        self.base = base
        self.data = data
        self.texts = texts
        self.timeout = timeout
        self.by_profile = {p.profile_id: p for p in data.mentors}
        self.owners = {goal_id: p for p in data.mentees for goal_id in p.goal_ids}
        mix = {**self.READS, **(self.WRITES if writes else {})}
        self.actions = [getattr(self, f"do_{name}") for name in mix]
        self.weights = list(mix.values())
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.tandems: dict[int, TandemRecord] = {}  # every acknowledged request
        self.open: dict[int, TandemRecord] = {}  # requested, no answer acknowledged yet
        self.running: dict[int, TandemRecord] = {}  # accepted, not ended yet
        self.suggested: dict[int, list[int]] = {}  # goal id -> mentor profile ids last suggested
        self.asked: set[tuple[int, int]] = set()  # (goal id, profile id) already requested
        self.matched: set[int] = set()  # goals with an acknowledged acceptance
        self.cohorts: list[tuple[int, str]] = []
        self.serial = itertools.count(1)
        self.run_id = f"{random.randrange(16**6):06x}"

    # --- plumbing ------------------------------------------------------------------------------

    def text(self, what: str) -> str:
        return f"load {self.run_id} {what} {next(self.serial)}"

    def send(self, session: requests.Session, endpoint: str, method: str, path: str, person: Person,
             body: dict | None = None) -> tuple[int, dict, str]:
        """One request, recorded; answers its status (0: none), JSON body and the API's error code."""
        started = time.perf_counter()
        try:
            response = session.request(method, self.base + path, json=body, timeout=self.timeout,
                                       headers={"Authorization": f"Bearer {person.token}", **FRESH_CONNECTION})
        except requests.RequestException:
            self.samples.append(Sample(endpoint, 0, time.perf_counter() - started))
            return 0, {}, ""
        elapsed = time.perf_counter() - started
        try:
            answer = response.json()
        except ValueError:  # a 5xx page of HTML, say
            answer = {}
        error = answer.get("error") if isinstance(answer, dict) else None
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        self.samples.append(Sample(endpoint, response.status_code, elapsed, code))
        return response.status_code, answer, code

    def run(self, clients: int, seconds: float, max_requests: int, seed: int) -> float:
        """`clients` threads until `seconds` pass or `max_requests` were sent; answers the elapsed seconds."""
        stop_at = time.perf_counter() + seconds
        budget = threading.Semaphore(max_requests)

        def client(n: int) -> None:
            rng = random.Random(seed * 1_000 + n)
            session = requests.Session()
            while time.perf_counter() < stop_at and budget.acquire(blocking=False):
                rng.choices(self.actions, self.weights)[0](session, rng)  # each action sends one request

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def _pick(self, pool: dict[int, TandemRecord], rng: random.Random) -> TandemRecord | None:
        """A tandem from `pool`, left there until answered: two clients may answer the same one at once,
        as a mentee withdrawing a request while the mentor accepts it would."""
        with self.lock:
            return pool[rng.choice(list(pool))] if pool else None

    # --- reads ---------------------------------------------------------------------------------

    def do_search(self, session: requests.Session, rng: random.Random) -> None:
        person = rng.choice(self.data.mentees + self.data.mentors)
        query = requests.utils.quote(rng.choice(self.texts))
        self.send(session, "GET /mentors/search", "GET", f"/api/v1/mentors/search?q={query}&k=10", person)

    def do_suggestions(self, session: requests.Session, rng: random.Random) -> None:
        mentee = rng.choice(self.data.mentees)
        goal_id = rng.choice(mentee.goal_ids)
        status, answer, _ = self.send(session, "GET /goals/{id}/suggestions", "GET",
                                      f"/api/v1/goals/{goal_id}/suggestions?k=5", mentee)
        if status == 200:
            with self.lock:
                self.suggested[goal_id] = [m["id"] for m in answer["results"]]

    def do_goal(self, session: requests.Session, rng: random.Random) -> None:
        mentee = rng.choice(self.data.mentees)
        self.send(session, "GET /goals/{id}", "GET", f"/api/v1/goals/{rng.choice(mentee.goal_ids)}", mentee)

    def do_goals(self, session: requests.Session, rng: random.Random) -> None:
        person = rng.choice(self.data.mentees + self.data.mentors)
        self.send(session, "GET /goals", "GET", "/api/v1/goals?per_page=20", person)

    def do_mentor(self, session: requests.Session, rng: random.Random) -> None:
        mentor = rng.choice(self.data.mentors)
        reader = mentor if rng.random() < 0.3 else rng.choice(self.data.mentees)  # own profile, or a mentee's look
        self.send(session, "GET /mentors/{id}", "GET", f"/api/v1/mentors/{mentor.profile_id}", reader)

    def do_tandems(self, session: requests.Session, rng: random.Random) -> None:
        person = rng.choice(self.data.mentees + self.data.mentors)
        self.send(session, "GET /tandems", "GET", "/api/v1/tandems", person)

    def do_tandem(self, session: requests.Session, rng: random.Random) -> None:
        with self.lock:
            known = rng.choice(list(self.tandems.values())) if self.tandems else None
        if known is None:
            self.do_tandems(session, rng)
            return
        reader = known.mentee if rng.random() < 0.5 else known.mentor
        self.send(session, "GET /tandems/{id}", "GET", f"/api/v1/tandems/{known.id}", reader)

    def do_cohorts(self, session: requests.Session, rng: random.Random) -> None:
        self.send(session, "GET /cohorts", "GET", "/api/v1/cohorts", self.data.manager)

    # --- writes --------------------------------------------------------------------------------

    def do_request(self, session: requests.Session, rng: random.Random) -> None:
        """A mentee asks a mentor that the suggestions offered for their goal (suggestions first if none left)."""
        with self.lock:
            choices = [(goal_id, m) for goal_id, suggested in self.suggested.items() if goal_id not in self.matched
                       for m in suggested if (goal_id, m) not in self.asked]
            if choices:
                goal_id, profile_id = rng.choice(choices)
                self.asked.add((goal_id, profile_id))
        if not choices:
            self.do_suggestions(session, rng)
            return
        mentee = self.owners[goal_id]
        message = self.text("request")
        status, answer, _ = self.send(session, "POST /tandems", "POST", "/api/v1/tandems", mentee,
                                      {"goal_id": goal_id, "mentor_id": profile_id, "message": message})
        if status == 201:
            record = TandemRecord(answer["id"], goal_id, self.by_profile[profile_id], mentee, message)
            with self.lock:
                self.tandems[record.id] = self.open[record.id] = record

    def _answer(self, session: requests.Session, rng: random.Random, action: str) -> None:
        record = self._pick(self.open, rng)
        if record is None:
            self.do_tandems(session, rng)
            return
        person = record.mentee if action == "withdraw" else record.mentor
        text = "" if action == "withdraw" else self.text(action)
        status, _, code = self.send(session, f"POST /tandems/{{id}}/{action}", "POST",
                                    f"/api/v1/tandems/{record.id}/{action}", person,
                                    {"message": text} if text else None)
        with self.lock:
            if code != "mentor_full":  # a full mentor leaves the request open: a decline or withdrawal may follow
                self.open.pop(record.id, None)
            if status == 200:
                record.answers.append((action, text))
                if action == "accept":
                    self.running[record.id] = record
                    self.matched.add(record.goal_id)
                    for other in [t for t in self.open.values() if t.goal_id == record.goal_id]:
                        del self.open[other.id]  # withdrawn by the acceptance

    def do_accept(self, session: requests.Session, rng: random.Random) -> None:
        self._answer(session, rng, "accept")

    def do_decline(self, session: requests.Session, rng: random.Random) -> None:
        self._answer(session, rng, "decline")

    def do_withdraw(self, session: requests.Session, rng: random.Random) -> None:
        self._answer(session, rng, "withdraw")

    def do_end(self, session: requests.Session, rng: random.Random) -> None:
        record = self._pick(self.running, rng)
        if record is None:
            self.do_tandems(session, rng)
            return
        person = record.mentee if rng.random() < 0.5 else record.mentor
        reason = self.text("end")
        status, _, _ = self.send(session, "POST /tandems/{id}/end", "POST", f"/api/v1/tandems/{record.id}/end",
                                 person, {"reason": reason})
        with self.lock:
            self.running.pop(record.id, None)
            if status == 200:
                record.answers.append(("end", reason))

    def do_cohort(self, session: requests.Session, rng: random.Random) -> None:
        name = self.text("cohort")
        status, answer, _ = self.send(session, "POST /cohorts", "POST", "/api/v1/cohorts", self.data.manager,
                                      {"name": name, "starts_on": "2027-03-01", "ends_on": "2027-08-31"})
        if status == 201:
            with self.lock:
                self.cohorts.append((answer["id"], name))


# --- after the run ------------------------------------------------------------------------------


def verify(url: str, load: Workload) -> dict:
    """Every acknowledged write looked up in PostgreSQL (plain SQL, not the app); answers counts and problems."""
    lost: list[str] = []
    ids = list(load.tandems)
    with psycopg.connect(url) as conn:
        rows = {row[0]: row for row in conn.execute(
            "SELECT id, goal_id, mentor_profile_id, mentee_user_id, status, request_message, response_message, "
            "end_reason FROM tandem WHERE id = ANY(%s)", (ids,))}
        goal_status = dict(conn.execute("SELECT id, status FROM goal"))
        cohorts = dict(conn.execute("SELECT id, name FROM cohort"))
        two_running = conn.execute(
            "SELECT goal_id FROM tandem WHERE status = 'active' GROUP BY goal_id HAVING count(*) > 1").fetchall()
        over_capacity = conn.execute(
            "SELECT m.id FROM mentor_profile m JOIN tandem t ON t.mentor_profile_id = m.id AND t.status = 'active' "
            "GROUP BY m.id, m.capacity HAVING count(*) > m.capacity").fetchall()
    writes = 0
    for record in load.tandems.values():
        writes += 1 + len(record.answers)
        row = rows.get(record.id)
        if row is None:
            lost.append(f"tandem {record.id}: requested (201) but not in the database")
            continue
        _, goal_id, mentor_id, mentee_id, status, request_message, response_message, end_reason = row
        if (goal_id, mentor_id, mentee_id, request_message) != (
                record.goal_id, record.mentor.profile_id, record.mentee.user_id, record.request_message):
            lost.append(f"tandem {record.id}: request stored as {row[1:4]} {request_message!r}")
        actions = [action for action, _ in record.answers]
        for action, text in record.answers:
            expected = {"accept": "ended" if "end" in actions else "active", "decline": "declined",
                        "withdraw": "withdrawn", "end": "ended"}[action]
            stored_text = {"accept": response_message, "decline": response_message, "end": end_reason}.get(action, "")
            if status != expected or stored_text != text:
                lost.append(f"tandem {record.id}: {action} acknowledged, the database has status {status!r}, "
                            f"text {stored_text!r}")
            # A running tandem holds its goal; one ended early re-opens it (services/rematching.py), and
            # another request on it may have been accepted since.
            allowed = ("open", "matched") if "end" in actions else ("matched",)
            if action == "accept" and goal_status.get(record.goal_id) not in allowed:
                lost.append(f"tandem {record.id}: accepted, its goal {record.goal_id} is "
                            f"{goal_status.get(record.goal_id)!r}")
    for cohort_id, name in load.cohorts:
        writes += 1
        if cohorts.get(cohort_id) != name:
            lost.append(f"cohort {cohort_id}: created as {name!r}, the database has {cohorts.get(cohort_id)!r}")
    broken = [f"goal {g} has several running tandems" for (g,) in two_running]
    broken += [f"mentor {m} has more running tandems than capacity" for (m,) in over_capacity]
    return {"acknowledged_writes": writes, "lost_writes": lost, "broken_rules": broken}


def workers_seen(log_path: str) -> Counter:
    """Answers per gunicorn worker pid, from the access log."""
    seen: Counter = Counter()
    for line in Path(log_path).read_text(errors="replace").splitlines():
        match = ACCESS_LINE.match(line)
        if match:
            seen[int(match.group(1))] += 1
    return seen


def warm_up(load: Workload, server: dict, workers: int, clients: int, deadline: float) -> None:
    """Reads until every worker has answered a few: each loads its models after fork, before it accepts."""
    while time.perf_counter() < deadline:
        load.run(clients, 3.0, 20 * clients, seed=0)
        pids = set(worker_pids(server["pid"]))
        seen = workers_seen(server["log"])
        if len(pids) >= workers and all(seen[pid] >= 3 for pid in pids):
            return
    raise TimeoutError("not every gunicorn worker answered during the warm-up")


def summarise(samples: list[Sample], seconds: float) -> tuple[list[list], dict]:
    """Table rows per endpoint (and overall) and the same as JSON."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.endpoint].append(sample)
    rows, out = [], {}
    for name, group in [*sorted(groups.items()), ("all", samples)]:
        latencies = [ms(s.seconds) for s in group]
        codes = Counter(f"{s.status} {s.code}".strip() for s in group if 400 <= s.status < 500)
        entry = {
            "requests": len(group), "rps": len(group) / seconds, "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "max_ms": max(latencies, default=float("nan")),
            "4xx": sum(codes.values()), "5xx": sum(s.status >= 500 for s in group),
            "no_answer": sum(s.status == 0 for s in group), "4xx_codes": dict(codes),
        }
        out[name] = entry
        codes_text = ", ".join(f"{code} x{n}" for code, n in codes.most_common()) or "-"
        rows.append([f"**{name}**" if name == "all" else f"`{name}`", entry["requests"], entry["rps"],
                     entry["p50_ms"], entry["p95_ms"], entry["max_ms"], entry["5xx"] + entry["no_answer"],
                     codes_text if name != "all" else entry["4xx"]])
    return rows, out


def server_errors(log_path: str, limit: int = 60) -> str:
    """The tracebacks in the server log (what explains a 5xx)."""
    lines = Path(log_path).read_text(errors="replace").splitlines()
    found = [i for i, line in enumerate(lines) if "Traceback" in line or "Exception on" in line]
    return "\n".join(lines[found[0]:found[0] + limit]) if found else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=database_url("postgresql", "tandem_load"),
                        help="postgresql://... of a database to (re)create; its name must contain 'load'")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=50_000, help="requests at most in the window")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients, one request at a time each")
    parser.add_argument("--people", type=int, default=600, help="generated participants (~60%% mentors)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a client waits for one answer")
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    name = args.database_url.rsplit("/", 1)[-1]
    if not args.database_url.startswith("postgresql://") or "load" not in name:
        parser.error("--database-url must be postgresql://.../<name with 'load'>: it is dropped and created")

    started = time.perf_counter()
    index_dir = Path(tempfile.mkdtemp(prefix="tandem-load-index-"))
    try:
        data = prepare(args.database_url, index_dir, args.encoder, args.people, args.seed)
        with gunicorn(args.database_url, index_dir, args.encoder, workers=args.workers, threads=args.threads,
                      extra_env={"GUNICORN_CMD_ARGS": ACCESS_LOG}) as server:
            probe = f"{server['base']}/api/v1/mentors/search?q=warm+up"
            wait_until_ready(requests.Session(), probe, {"Authorization": f"Bearer {data.manager.token}"},
                             server["proc"], time.perf_counter() + 600)
            texts = queries(200, args.seed)
            warm = Workload(server["base"], data, texts, args.timeout, writes=False)
            warm_up(warm, server, args.workers, args.clients, time.perf_counter() + 600)
            log(f"{args.workers} workers warm {time.perf_counter() - server['started']:.0f}s after spawn; "
                f"{args.duration:.0f}s of load with {args.clients} clients")
            load = Workload(server["base"], data, texts, args.timeout, writes=True)
            seconds = load.run(args.clients, args.duration, args.max_requests, args.seed)
            errors, server_log = server_errors(server["log"]), Path(server["log"])
        check = verify(args.database_url, load)
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
        if not args.keep:
            drop_database(args.database_url)

    rows, per_endpoint = summarise(load.samples, seconds)
    warm_failures = sum(s.status >= 500 or s.status == 0 for s in warm.samples)
    failures = per_endpoint["all"]["5xx"] + per_endpoint["all"]["no_answer"] + warm_failures
    lost, broken = check["lost_writes"], check["broken_rules"]
    writes = sum(n for endpoint, n in Counter(s.endpoint for s in load.samples).items() if endpoint.startswith("POST"))
    print(f"\n## Load test: {seconds:.0f}s, {args.clients} clients, gunicorn {args.workers} workers x {args.threads} "
          f"threads, PostgreSQL, {len(data.mentors)} mentors / {len(data.mentees)} mentees\n")
    print(table(["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "max ms", "5xx / no answer", "4xx"], rows))
    print(f"\nOverall: {per_endpoint['all']['requests']:,} requests ({writes:,} writes) in {seconds:.1f}s = "
          f"{per_endpoint['all']['rps']:.1f} req/s, p95 {per_endpoint['all']['p95_ms']:.0f} ms. "
          f"5xx or no answer: {failures} (warm-up: {warm_failures}). Acknowledged writes checked in the "
          f"database: {check['acknowledged_writes']:,}; lost writes: {len(lost)}; broken rules: {len(broken)}.")
    for problem in [*lost, *broken][:20]:
        print(f"- {problem}")
    if errors:
        print(f"\nFirst traceback in the server log ({server_log}):\n{errors}")
    result = {
        "duration_s": seconds, "clients": args.clients, "workers": args.workers, "threads": args.threads,
        "mentors": len(data.mentors), "mentees": len(data.mentees), "endpoints": per_endpoint,
        "writes_sent": writes, "acknowledged_writes": check["acknowledged_writes"], "failures": failures,
        "lost_writes": lost, "broken_rules": broken, "total_s": time.perf_counter() - started,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    log(f"done in {result['total_s']:.0f}s")
    if failures or lost or broken or not per_endpoint["all"]["requests"]:
        log(f"FAILED; the server log is {server_log}")
        return 1
    server_log.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
