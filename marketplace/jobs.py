"""Background jobs on Huey: the worker (`flask --app wsgi worker`) and its periodic jobs.

Huey keeps the queue: SqliteHuey in a file under instance/ by default (nothing to install), RedisHuey when
REDIS_URL is set, so workers on many machines share it. Every worker's scheduler enqueues each periodic job
every TANDEM_JOB_INTERVAL_SECONDS; a lease row in the database (JobLease) lets exactly one run per period
go ahead, however many workers there are.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer, Scheduler
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import JobLease, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler runs by itself; `period` numbers the runs (None: not due yet)."""

    name: str
    run: Callable[[datetime], object]
    period: Callable[[datetime], int | None]


def _every_interval(now: datetime) -> int:
    return int(now.timestamp() // float(current_app.config["TANDEM_JOB_INTERVAL_SECONDS"]))


def _daily(now: datetime) -> int | None:
    """Once a day, from TANDEM_DIGEST_HOUR (UTC) on."""
    return now.date().toordinal() if now.hour >= int(current_app.config["TANDEM_DIGEST_HOUR"]) else None


def _send_mail(now: datetime) -> None:
    from .services import outbox

    outbox.send_due(now)


def _daily_digest(now: datetime) -> None:
    from .services import digests

    digests.send_held(now)
    digests.send_new_goals(now)


def _request_expiry(now: datetime) -> None:
    from .services import request_expiry

    request_expiry.remind_at_half_time(now)
    request_expiry.expire_due(now)


def _tandem_reminders(now: datetime) -> None:
    from .services import reminders

    reminders.nudge_quiet_tandems(now)
    reminders.remind_cohort_end(now)


def _meeting_reminders(now: datetime) -> None:
    from .services import meetings

    meetings.send_reminders(now)
    meetings.ask_outcomes(now)


def _pulse_checks(now: datetime) -> None:
    from .services import pulse

    pulse.ask_due(now)


def _resume_imports(now: datetime) -> None:
    from .services.cohorts import import_jobs

    import_jobs.resume_stale(now)


PERIODIC_JOBS = {
    job.name: job
    for job in (
        PeriodicJob("send_mail", _send_mail, _every_interval),
        PeriodicJob("daily_digest", _daily_digest, _daily),
        PeriodicJob("request_expiry", _request_expiry, _every_interval),
        PeriodicJob("tandem_reminders", _tandem_reminders, _daily),
        PeriodicJob("meeting_reminders", _meeting_reminders, _every_interval),
        PeriodicJob("pulse_checks", _pulse_checks, _daily),
        PeriodicJob("resume_imports", _resume_imports, _every_interval),
    )
}


def claim_period(name: str, period: int) -> bool:
    """Move the job's lease to `period`; only one worker's UPDATE can, so only that one runs it."""
    if db.session.get(JobLease, name) is None:
        try:
            db.session.add(JobLease(name=name, period=-1))
            db.session.commit()
        except IntegrityError:  # another worker created it first
            db.session.rollback()
    holder = f"{socket.gethostname()}:{os.getpid()}"
    won = db.session.execute(
        update(JobLease).where(JobLease.name == name, JobLease.period < period)
        .values(period=period, holder=holder, updated_at=utcnow())
    ).rowcount == 1
    db.session.commit()
    return won


def run_periodic(name: str, now: datetime | None = None) -> bool:
    """Run a periodic job if it is due and no other worker ran it this period; True when it ran."""
    job = PERIODIC_JOBS[name]
    now = now or utcnow()
    period = job.period(now)
    if period is None or not claim_period(name, period):
        return False
    log.info("Periodic job %s runs for period %d (pid %d).", name, period, os.getpid())
    job.run(now)
    return True


def _always(moment: datetime) -> bool:
    """Huey asks whether a periodic task is due; the lease decides, so the scheduler always enqueues."""
    return True


def _import_participants(job_id: int) -> None:
    from .services.cohorts import import_jobs

    import_jobs.run(job_id)


# Jobs a request enqueues (by name, with arguments), run by a worker; each runs in an app context.
TASKS: dict[str, Callable[..., None]] = {"import_participants": _import_participants}


def make_huey(app: Flask) -> Huey:
    """The queue for this app, with the periodic jobs and TASKS registered (each runs in an app context)."""
    return _queue(app)[0]


def _queue(app: Flask) -> tuple[Huey, dict[str, Callable[..., object]]]:
    """A new queue and the callables that enqueue each of TASKS on it.

    With TANDEM_JOBS_IMMEDIATE (the tests) Huey runs an enqueued task at once, in the enqueuing process.
    """
    redis_url = app.config.get("REDIS_URL")
    if app.config.get("TANDEM_JOBS_IMMEDIATE"):
        huey: Huey = Huey("tandem", immediate=True, results=False)
    elif redis_url:
        huey = RedisHuey("tandem", url=redis_url, results=False)
    else:
        path = Path(app.config["TANDEM_JOB_STORE"])
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey("tandem", filename=str(path), results=False)
    for name in PERIODIC_JOBS:
        huey.periodic_task(_always, name=name)(_in_app_context(app, name, lambda name=name: run_periodic(name)))
    tasks = {name: huey.task(name=name)(_in_app_context(app, name, function)) for name, function in TASKS.items()}
    return huey, tasks


def _in_app_context(app: Flask, name: str, function: Callable[..., object]) -> Callable[..., None]:
    def task(*args: object) -> None:
        with app.app_context():
            function(*args)

    task.__name__ = name
    return task


def enqueue(name: str, *args: object) -> None:
    """Queue one of TASKS for a worker (this app's queue, made once per app)."""
    app = current_app._get_current_object()
    if "tandem_jobs" not in app.extensions:
        app.extensions["tandem_jobs"] = _queue(app)
    app.extensions["tandem_jobs"][1][name](*args)


def run_worker(app: Flask) -> None:
    """Run one worker with the scheduler until SIGTERM (finishing the job at hand) or SIGINT."""
    interval = float(app.config["TANDEM_JOB_INTERVAL_SECONDS"])
    # Start, stop and errors stay in the log; not an enqueue line per job and second.
    for name, level in (("huey", logging.WARNING), ("huey.consumer", logging.INFO),
                        ("huey.consumer.Scheduler", logging.WARNING)):
        logging.getLogger(name).setLevel(level)
    # Huey checks periodic tasks once a minute; Tandem's interval is shorter (and configurable).
    scheduler = type("TandemScheduler", (Scheduler,), {"periodic_task_seconds": interval})
    consumer_class = type("TandemConsumer", (Consumer,), {"scheduler_class": scheduler})
    consumer = consumer_class(make_huey(app), workers=1, periodic=True, scheduler_interval=1,
                              graceful_signal="TERM", check_worker_health=True)
    consumer.run()
