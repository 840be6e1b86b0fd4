"""Shared helpers of the benchmarks: app and database set-up, the vector cache, the 100k database, a server.

Benchmarks are plain scripts (never tests). Each prints a markdown table; the machine is shared and
noisy, so every figure is measured next to its raw baseline in the same run and read as a ratio.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
OUT = ROOT / "bench" / "out"
for _key, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_key, _value)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REAL_VECTORS = 20_000  # profiles embedded by the real model; larger sets are synthesised from these


# --- output ------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table (what the README holds), with floats rounded for reading."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def print_targets(rows: Sequence[dict]) -> None:
    """One line per target, as run_all.py's summary reads them: target / measured / baseline / met."""
    print()
    for t in rows:
        print(f"target: {t['target']} / measured: {t['measured']} / baseline: {t['baseline']} / "
              f"{'met' if t['met'] else 'NOT met'}")


def stop_process_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the process's session (it may finish what it is doing for `grace` seconds), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def report_targets(rows: Sequence[dict]) -> None:
    """Hand this run's targets to bench/run_all.py's collected table (it sets TANDEM_BENCH_TARGETS to a file).

    Each row: {"target": what is measured, "measured": the app's figure, "baseline": the raw figure beside it
    (or "-"), "goal": the issue's bound, "met": bool}. A script run on its own prints its tables only."""
    import json

    path = os.environ.get("TANDEM_BENCH_TARGETS")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps([{**row, "met": bool(row["met"])} for row in rows], indent=2))


def percentile(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), p)) if len(values) else float("nan")


def ms(seconds: float) -> float:
    return seconds * 1000.0


def timed_ms(call: Callable[..., object], *args: object, **kwargs: object) -> float:
    """Milliseconds `call(*args, **kwargs)` takes (its answer is dropped)."""
    started = time.perf_counter()
    call(*args, **kwargs)
    return ms(time.perf_counter() - started)


def settle(quiet_ms: float = 0.5, window_ms: float = 5.0, limit_s: float = 0.25) -> None:
    """Wait, untimed, until this process stops using the CPU (at most `limit_s`).

    After a torch call on more than one thread, libgomp's worker threads busy-wait on a core before they
    sleep (GOMP_SPINCOUNT): measured here, about 10 ms of CPU in the 50 ms after each two-thread MiniLM
    encode. A request timed right after it, against a server on the same two cores, would pay for the
    baseline's leftover spinning; each timed call of a side-by-side run starts after this instead."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        used = time.process_time()
        time.sleep(window_ms / 1000)
        if ms(time.process_time() - used) < quiet_ms:
            return


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def default_encoder() -> str:
    from marketplace.config import DEFAULT_ENCODER

    return os.environ.get("TANDEM_EMBEDDING_MODEL", DEFAULT_ENCODER)


# --- databases and apps -----------------------------------------------------------------------------


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def database_url(kind: str, name: str) -> str:
    """URL of a benchmark database: a PostgreSQL database `name`, or a SQLite file under bench/out."""
    if kind == "postgresql":
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    OUT.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{OUT / (name + '.sqlite3')}"


def choose_database(requested: str) -> str:
    if requested == "auto":
        return "postgresql" if postgres_available() else "sqlite"
    return requested


def sized_paths(kind: str, prefix: str, n: int) -> tuple[str, Path]:
    """The database `<prefix>_<n>k` and its index folder bench/out/index-<prefix>-<n>k: scaling.py and million.py
    name them alike so that each reuses what the other built."""
    return database_url(kind, f"{prefix}_{n // 1000}k"), OUT / f"index-{prefix}-{n // 1000}k"


def recreate_database(url: str) -> None:
    """Drop and create the database behind `url` (PostgreSQL database or SQLite file)."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def make_app(url: str, index_dir: str | Path, encoder: str):
    """The real app factory on a benchmark database (CSRF and rate limits as in tests: irrelevant here)."""
    from marketplace import create_app

    return create_app({
        "SECRET_KEY": "bench-secret-key",
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
        "TANDEM_INDEX_DIR": str(index_dir),
        "TANDEM_EMBEDDING_MODEL": encoder,
        "MAIL_BACKEND": "locmem",
        "MAIL_SERVER": None,
        "RATELIMIT_ENABLED": False,
    })


def init_schema(app) -> None:
    """`flask init-db`, the real command (migrations and the taxonomy)."""
    result = app.test_cli_runner().invoke(args=["init-db"])
    if result.exit_code != 0:
        raise RuntimeError(f"init-db failed: {result.output}\n{result.exception!r}")


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    if result.exit_code != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed: {result.output}\n{result.exception!r}")
    return result.output


# --- the vector cache -------------------------------------------------------------------------------


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    from embeddings import normalize_rows as normalise

    return normalise(matrix)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def cached_encode(spec: str, texts: Sequence[str], name: str, batch_size: int = 64) -> tuple[np.ndarray, bool]:
    """Vectors of `texts` by the real encoder, cached in bench/cache (keyed by encoder and texts).

    Answers (vectors, came_from_cache).
    """
    from embeddings import BlendEncoder, build_encoder

    encoder = build_encoder(spec)
    if isinstance(encoder, BlendEncoder):
        # A blend is its parts' unit vectors scaled by sqrt(weight) and concatenated (unit length again):
        # assembled from the parts' caches, so a new blend of known models costs no encoding.
        blocks, hits = [], []
        for part, weight in encoder.parts:
            vectors, hit = cached_encode(part.config, texts, name, batch_size)
            blocks.append(vectors * np.float32(np.sqrt(weight)))
            hits.append(hit)
        return normalize_rows(np.concatenate(blocks, axis=1)), all(hits)
    digest = hashlib.sha256("\x00".join([encoder.config, *texts]).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{name}-{_slug(encoder.config)}-{len(texts)}-{digest}.npy"
    if path.exists():
        return np.load(path), True
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"encoding {len(texts):,} texts with {encoder.config} (cached afterwards in {path.name})")
    started = time.perf_counter()
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % (batch_size * 40) < n:
            rate = done[0] / (time.perf_counter() - started)
            log(f"  {done[0]:,}/{len(texts):,} ({rate:.0f} texts/s)")

    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths per batch: less padding
    with _threads_for_load():
        encoded = encoder.encode([texts[i] for i in order], batch_size=batch_size, progress=progress)
    vectors = np.empty_like(encoded)
    vectors[order] = encoded
    np.save(path, vectors)
    return vectors, False


@contextlib.contextmanager
def _threads_for_load() -> Iterator[None]:
    """One torch and one BLAS thread (USE runs on numpy) while the machine is busy: two threads that wait
    on each other's barriers are several times slower than one on a shared 2-core box. Vectors are the
    same either way."""
    import threadpoolctl
    import torch

    previous = torch.get_num_threads()
    busy = os.getloadavg()[0] >= (os.cpu_count() or 1)
    with threadpoolctl.threadpool_limits(limits=1 if busy else None):
        if busy:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def real_mentor_vectors(spec: str, seed: int = 7, count: int = REAL_VECTORS):
    """(generator, entries, texts, vectors) for `count` generated mentor profiles, embedded for real."""
    from bench.generate import Generator

    gen = Generator(seed)
    entries = gen.mentor_entries(count)
    texts = [gen.mentor_text(e) for e in entries]
    vectors, _ = cached_encode(spec, texts, f"mentors-s{seed}")
    return gen, entries, texts, vectors


def synthesise(real: np.ndarray, entries: Sequence[dict], n_real: int, seed: int = 11) -> np.ndarray:
    """Vectors for entries past the real ones: a blend of two real profiles on the same primary topic
    plus Gaussian noise, normalised. Keeps the clustered shape of real embeddings (not uniform noise)."""
    rng = np.random.default_rng(seed)
    dim = real.shape[1]
    by_topic: dict[str, np.ndarray] = {}
    primaries = np.array([e["primary"] for e in entries[:n_real]])
    for topic in set(primaries.tolist()):
        by_topic[topic] = np.flatnonzero(primaries == topic)
    out = np.empty((len(entries) - n_real, dim), dtype=np.float32)
    for row, entry in enumerate(entries[n_real:]):
        pool = by_topic[entry["primary"]]
        a, b = real[rng.choice(pool)], real[rng.choice(pool)]
        w = rng.uniform(0.55, 0.85)
        out[row] = w * a + (1 - w) * b + rng.standard_normal(dim).astype(np.float32) * (0.25 / np.sqrt(dim))
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def mentor_vectors(spec: str, n: int, seed: int = 7, real_count: int = REAL_VECTORS):
    """(generator, entries, vectors, n_real): `n` mentor profiles, the first min(n, real_count) embedded for
    real. The default shares one 20k cache between sizes; a smaller `real_count` spares a new encoder the
    20,000 encodes when only a small database is wanted."""
    gen, real_entries, _, real = real_mentor_vectors(spec, seed, real_count)
    if n <= len(real_entries):
        return gen, real_entries[:n], real[:n], n
    entries = real_entries + gen.mentor_entries(n - len(real_entries), offset=len(real_entries))
    return gen, entries, np.vstack([real, synthesise(real, entries, len(real_entries))]), len(real_entries)


# --- the large database ----------------------------------------------------------------------------

BENCH_SIGNATURE_KEY = "bench_signature"
VIEWER_EMAIL = "viewer@bench-mentee.example.com"
MANAGER_EMAIL = "manager@bench-manager.example.com"


def _set_sequences(conn, tables: Sequence[str]) -> None:
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return
    for name in tables:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                          f"(SELECT COALESCE(MAX(id), 1) FROM \"{name}\"))"))


def build_mentor_database(url: str, index_dir: Path, spec: str, n: int, goals: int = 200, seed: int = 7,
                          reuse: bool = True, real_count: int = REAL_VECTORS) -> dict:
    """A database with `n` open mentor profiles (vectors written directly, see `mentor_vectors`), `goals`
    goals embedded by the app, a mentee viewer and a community manager; the mentor index built and saved.

    Reused when the database already holds this exact set (signature in app_meta) and the index file exists.
    """
    from sqlalchemy import insert, select

    from embeddings import build_encoder, content_hash
    from marketplace.extensions import db
    from marketplace.models import AppMeta, Company, Goal, MentorProfile, Topic, User, mentor_topics
    from marketplace.services import accounts
    from marketplace.services.companies import company_key as norm
    from marketplace.services.matching import vectors

    encoder = build_encoder(spec)
    signature = f"n={n};goals={goals};seed={seed};config={encoder.config};v3"
    if real_count != REAL_VECTORS:
        signature += f";real={real_count}"
    info: dict = {"url": url, "index_dir": str(index_dir), "n": n, "spec": spec, "config": encoder.config}
    if reuse:
        with contextlib.suppress(Exception):
            app = make_app(url, index_dir, spec)
            with app.app_context():
                row = db.session.get(AppMeta, BENCH_SIGNATURE_KEY)
                if row is not None and row.value == signature and (Path(index_dir) / "mentors.faiss").exists():
                    info.update(reused=True, n_real=min(n, real_count), build_seconds=None,
                                goal_ids=list(db.session.scalars(select(Goal.id).order_by(Goal.id))))
                    db.session.remove()
                    db.engine.dispose()
                    return info
                db.session.remove()
                db.engine.dispose()
    gen, entries, matrix, n_real = mentor_vectors(spec, n, seed, real_count)
    log(f"building a database of {n:,} mentors at {url.split('@')[-1]}")
    recreate_database(url)
    shutil.rmtree(index_dir, ignore_errors=True)
    app = make_app(url, index_dir, spec)
    started = time.perf_counter()
    with app.app_context():
        init_schema(app)
        topic_ids = dict(db.session.execute(select(Topic.slug, Topic.id)).all())
        company_names = sorted({e["company"] for e in entries})
        rng = random.Random(seed)
        with db.engine.begin() as conn:
            # One company per key: "Adler AG" and "Adler GmbH" are one company to the app (companies.company_key).
            first_of_key = {}
            for name in company_names:
                first_of_key.setdefault(norm(name), name)
            key_id = {key: i + 1 for i, key in enumerate(first_of_key)}
            conn.execute(insert(Company), [
                {"id": key_id[key], "name": name, "normalised_name": key} for key, name in first_of_key.items()])
            company_id = {name: key_id[norm(name)] for name in company_names}
            for start in range(0, n, 10_000):
                chunk = entries[start:start + 10_000]
                conn.execute(insert(User), [{
                    "id": e["i"] + 1, "email": f"mentor{e['i']}@bench-{company_id[e['company']]}.example.com",
                    "name": e["name"], "company_id": company_id[e["company"]], "is_manager": False,
                } for e in chunk])
                conn.execute(insert(MentorProfile), [{
                    "id": e["i"] + 1, "user_id": e["i"] + 1, "headline": e["headline"], "teaching_text": e["text"],
                    "languages": ",".join(e["languages"]), "capacity": e["capacity"],
                    "meeting_format": rng.choice(["remote", "remote", "hybrid", "onsite"]), "is_open": True,
                    "vector": matrix[e["i"]].tobytes(), "vector_config": encoder.config,
                    "content_hash": content_hash(gen.mentor_text(e), encoder.config),
                } for e in chunk])
                conn.execute(insert(mentor_topics), [
                    {"mentor_id": e["i"] + 1, "topic_id": topic_ids[slug]} for e in chunk for slug in e["topics"]])
            _set_sequences(conn, ["company", "user", "mentor_profile"])
        log(f"  inserted {n:,} mentors in {time.perf_counter() - started:.1f}s")
        # Goals, a mentee viewer and a manager through the app's own services (goals embedded for real).
        accounts.create_user(VIEWER_EMAIL, "Vera Viewer", None, company_name=company_names[0])
        accounts.create_user(MANAGER_EMAIL, "Maren Manager", None, is_manager=True)
        goal_entries = gen.goal_entries(goals)
        owners = []
        for e in goal_entries:
            owner = accounts.create_user(f"exec{e['i']}@bench-mentee-{e['i'] % 50}.example.com", f"Exec {e['i']}",
                                         None, company_name=f"Mentee Company {e['i'] % 50}")
            owners.append(owner)
            topics = [db.session.get(Topic, topic_ids[s]) for s in e["topics"]]
            db.session.add(Goal(owner=owner, title=e["title"], description=e["text"], topics=topics,
                                languages=",".join(e["languages"])))
        db.session.flush()
        vectors.embed_stale(vectors.GOAL)
        db.session.merge(AppMeta(key=BENCH_SIGNATURE_KEY, value=""))
        db.session.commit()
        # Must be 0: the written hashes match the app's texts. Checked on a sample past 100,000 mentors
        # (loading a million profiles as objects would take longer than the inserts).
        sample = None if n <= 100_000 else random.Random(seed).sample(range(1, n + 1), 5_000)
        stale = vectors.embed_stale(vectors.MENTOR, ids=sample)
        if stale:
            raise RuntimeError(f"{stale} synthesised mentors were re-embedded: content hashes do not match")
        build_started = time.perf_counter()
        index = vectors.live_index(vectors.MENTOR).rebuild()
        info["build_seconds"] = time.perf_counter() - build_started
        vectors.live_index(vectors.GOAL).rebuild()
        db.session.get(AppMeta, BENCH_SIGNATURE_KEY).value = signature
        db.session.commit()
        info.update(reused=False, n_real=n_real, kind=index.kind, nlist=index.nlist, nprobe=index.nprobe,
                    goal_ids=list(db.session.scalars(select(Goal.id).order_by(Goal.id))))
        vectors.forget_live_indexes()
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            # Planner statistics now, as autovacuum would give a live database later: without them a
            # ranking's one candidate query hash-joined all 170,000 topic rows (78 ms instead of 2 ms).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    log(f"  database ready in {time.perf_counter() - started:.1f}s")
    return info


def served_mentor_database(requested: str, name: str, index_name: str, spec: str, n: int, **build) -> dict:
    """`build_mentor_database` for the benches that serve it (search_latency.py, startup.py): the database `name`
    of the kind asked for ("auto": `choose_database`), its index in bench/out/index-<index_name>-<kind>; the
    answer adds the kind (`kind_db`) and a new API token of the mentee viewer (`viewer_token`)."""
    from marketplace.extensions import db

    kind = choose_database(requested)
    info = build_mentor_database(database_url(kind, name), OUT / f"index-{index_name}-{kind}", spec, n, **build)
    info["kind_db"] = kind
    app = make_app(info["url"], info["index_dir"], spec)
    with app.app_context():
        info["viewer_token"] = cli(app, "tokens", "create", VIEWER_EMAIL).strip()
        db.session.remove()
        db.engine.dispose()
    return info


# --- a real server ----------------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port: the first free one of BENCH_PORTS ("5160-5169") when set, else any."""
    first, _, last = os.environ.get("BENCH_PORTS", "").partition("-")
    for port in range(int(first), int(last or first) + 1) if first else ():
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(url: str, index_dir: Path | str, spec: str, workers: int = 2, threads: int = 4,
             timeout: float = 300.0, extra_env: dict | None = None, app: str = "wsgi:app",
             config: str | None = "gunicorn.conf.py") -> Iterator[dict]:
    """gunicorn -c gunicorn.conf.py on 127.0.0.1:<free port>; yields {"base", "pid", "started", "log"}; stops it.
    `app` and `config` (None: gunicorn's own lookup) serve something else, e.g. the raw baseline
    (bench/raw_server.py)."""
    port = free_port()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url, "TANDEM_INDEX_DIR": str(index_dir), "TANDEM_EMBEDDING_MODEL": spec,
        "SECRET_KEY": "bench-secret-key", "TANDEM_INSECURE_COOKIES": "1", "PYTHONUNBUFFERED": "1",
    })
    env.update(extra_env or {})
    log_file = tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    command = [str(Path(sys.executable).parent / "gunicorn"), *(["-c", config] if config else []),
               "--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
               "--timeout", "300", app]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True)
    server = {"base": f"http://127.0.0.1:{port}", "pid": proc.pid, "started": started, "log": log_file.name,
              "proc": proc}
    try:
        yield server
    finally:
        stop_process_group(proc, 30)
        log_file.close()


def worker_pids(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def wait_until_ready(session, url: str, headers: dict, proc, deadline: float) -> float:
    """Poll `url` until it answers 200 (every worker warm: gunicorn accepts only after post_worker_init)."""
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        with contextlib.suppress(Exception):
            if session.get(url, headers=headers, timeout=60).status_code == 200:
                return time.perf_counter()
        time.sleep(0.1)
    raise TimeoutError(f"the server did not answer {url} in time")
